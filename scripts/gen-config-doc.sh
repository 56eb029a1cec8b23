#!/bin/sh
# Rewrites the reference block of docs/configuration.md from the binary's
# own `carelake config --reference` (the docs_config_reference test checks
# they match).   usage: scripts/gen-config-doc.sh [path/to/carelake]
set -eu
bin=${1:-build/carelake}
doc=docs/configuration.md
tmp=$(mktemp)
awk '{print} /^## Reference/{r=1} r&&/^```text$/{exit}' "$doc" > "$tmp"
"$bin" config --reference >> "$tmp"
echo '```' >> "$tmp"
mv "$tmp" "$doc"
