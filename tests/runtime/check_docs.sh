#!/bin/sh
# The configuration reference in docs/ must be exactly what the binary
# prints, so the documentation cannot drift from the config table.
#   check_docs.sh /path/to/carelake /path/to/docs/configuration.md
set -eu
bin=$1
doc=$2
want=$(mktemp)
got=$(mktemp)
trap 'rm -f "$want" "$got"' EXIT
"$bin" config --reference > "$want"
# the text between "```text" and the closing "```" after "## Reference"
awk '/^## Reference/{r=1} r&&/^```text$/{p=1;next} p&&/^```$/{exit} p' "$doc" > "$got"
if ! diff -u "$got" "$want"; then
	echo "docs/configuration.md is stale: paste the output of 'carelake config --reference'" >&2
	exit 1
fi
echo "configuration reference matches ($(grep -c ' = ' "$want") settings)"
