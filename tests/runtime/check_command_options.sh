#!/bin/sh
# Every command's options, as its table declares them (the --help the
# binary prints from that table), against its page in docs/commands/:
# each option of the table is named on the page, and each option the
# page's synopsis (its first ``` block) shows is one the command takes.
#   check_command_options.sh /path/to/carelake /path/to/docs/commands
set -eu
bin=$1
docs=$2
fail=0
common='data|keys|config|set|log-level|help'
commands=$("$bin" --help | awk '/^commands:/{p=1;next} p&&/^  [a-z]/{print $1} p&&/^$/{exit}')
[ -n "$commands" ] || { echo "no commands in carelake --help" >&2; exit 1; }
for cmd in $commands; do
	page=$docs/$cmd.md
	[ -f "$page" ] || page=$(grep -l "^# carelake .*\b$cmd\b" "$docs"/*.md | head -n 1)
	if [ -z "$page" ] || [ ! -f "$page" ]; then
		echo "carelake $cmd: no page in $docs" >&2
		fail=1
		continue
	fi
	opts=$("$bin" "$cmd" --help | awk '/^options:/{p=1;next} p' |
		sed -n 's/^  \(-., \)\{0,1\}--\([a-z][a-z-]*\).*/\2/p')
	for o in $opts; do
		echo "$o" | grep -qxE "$common" && continue
		if ! grep -q -- "--$o\b" "$page"; then
			echo "carelake $cmd: --$o is in its option table but not in $page" >&2
			fail=1
		fi
	done
	# the synopsis lines of this command: "carelake CMD ..." and the
	# indented lines that continue it
	shown=$(awk -v c="$cmd" '/^```/{n++; next} n!=1{next}
		/^carelake /{on = ($2 == c)} on' "$page" | grep -o -- '--[a-z][a-z-]*' | sort -u)
	for s in $shown; do
		if ! echo "$opts" | grep -qx -- "${s#--}"; then
			echo "carelake $cmd: $page shows $s, which the command does not take" >&2
			fail=1
		fi
	done
	echo "carelake $cmd: $(echo "$opts" | wc -w) options, documented in $(basename "$page")"
done
exit $fail
