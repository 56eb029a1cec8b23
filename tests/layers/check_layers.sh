#!/bin/sh
# The layers hold: no file includes a header of a layer above its own, and
# no two folders of one layer include each other. The order is the one in
# docs/architecture.md (and DESIGN.md, "Code layout and layers"):
#
#   core -> model, objstore -> json, bronze, lake, store, mqtt, auth, audit
#        -> stream, batch, ingest, fhir, sim, privacy, ml -> plugins (inputs) -> serve -> cli
#        -> the registries (src/main.c, src/modules.c)
#
# usage: check_layers.sh SOURCE_ROOT
set -eu
root=$1
cd "$root"

rank() {
	case $1 in
	core) echo 0 ;;
	model | objstore) echo 1 ;;
	json | bronze | lake | store | mqtt | auth | audit) echo 2 ;;
	stream | batch | ingest | fhir | sim | privacy | ml) echo 3 ;;
	plugins) echo 4 ;;
	serve) echo 5 ;;
	cli) echo 6 ;;
	top) echo 7 ;;
	*) echo "" ;;
	esac
}

# the layer a file belongs to
layer_of() {
	case $1 in
	src/*/*) d=${1#src/}; echo "${d%%/*}" ;;
	src/*) echo top ;;
	plugins/*) echo plugins ;;
	esac
}

bad=0
pairs=$(mktemp)
trap 'rm -f "$pairs"' EXIT
for f in $(find src plugins -name '*.[ch]' | sort); do
	from=$(layer_of "$f")
	fr=$(rank "$from")
	if [ -z "$fr" ]; then
		echo "layers: $f is in no layer (add its folder to check_layers.sh and docs/architecture.md)"
		bad=1
		continue
	fi
	# quoted includes only; a bare name is a file of the same folder
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
	while read -r inc; do
		case $inc in
		../*) inc=${inc#../} ;;
		*/*) ;;
		*) continue ;;
		esac
		case $inc in
		plugins/*) to=plugins ;;
		*) to=${inc%%/*} ;;
		esac
		tr=$(rank "$to")
		[ -n "$tr" ] || continue
		if [ "$tr" -gt "$fr" ]; then
			echo "layers: $f ($from, layer $fr) includes $inc ($to, layer $tr): a lower layer includes an upper one"
			echo x >> "$pairs.bad"
		elif [ "$tr" -eq "$fr" ] && [ "$to" != "$from" ]; then
			echo "$from $to $f $inc" >> "$pairs"
		fi
	done
done
if [ -e "$pairs.bad" ]; then
	rm -f "$pairs.bad"
	bad=1
fi
# folders of one layer that include each other
while read -r a b f inc; do
	if [ "$a" \< "$b" ] && grep -q "^$b $a " "$pairs"; then
		back=$(grep "^$b $a " "$pairs" | head -1 | awk '{print $3 " includes " $4}')
		echo "layers: $a and $b include each other: $f includes $inc; $back"
		bad=1
	fi
done < "$pairs"
if [ "$bad" != 0 ]; then
	exit 1
fi
echo "layers hold: $(find src plugins -name '*.[ch]' | wc -l) files"
