#!/bin/sh
# The role table in docs/access.md must be exactly what the binary prints
# (`carelake token roles`), so the documented permissions are the enforced ones.
#   check_access_roles.sh /path/to/carelake /path/to/docs/access.md
set -eu
bin=$1
doc=$2
want=$(mktemp)
got=$(mktemp)
trap 'rm -f "$want" "$got"' EXIT
"$bin" token roles > "$want"
# the table after "## Roles": its lines that start with '|'
awk '/^## Roles/{r=1;next} r&&/^## /{exit} r&&/^\|/' "$doc" > "$got"
[ -s "$want" ] || { echo "carelake token roles printed nothing" >&2; exit 1; }
if ! diff -u "$got" "$want"; then
	echo "docs/access.md is stale: paste the output of 'carelake token roles' under ## Roles" >&2
	exit 1
fi
echo "role table matches ($(grep -c '^| `' "$want") actions)"
