#!/usr/bin/env bash
# test_completion - the bash completion script shmctl makes from its
# command table: sourced into bash, it completes commands, subcommands,
# options and the values the table names; and the build's copy is the
# program's own output.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

new_dir D
SCRIPT=$D/shmctl.bash
expect_rc 0 "shmctl completion bash" "$SHMCTL" completion bash
cp /tmp/t.out.$$ "$SCRIPT"
check "the script is valid bash" bash -n "$SCRIPT"
check "the build made the same script ($BUILD/shmctl.bash)" cmp -s "$SCRIPT" "$BUILD/shmctl.bash"
expect_rc 2 "another shell: usage error" "$SHMCTL" completion zsh
check "  naming what is offered" grep -q "only bash" /tmp/t.err.$$

# complete WORD... - what bash offers for the last word (the cursor's),
# sorted, on one line
complete_words() {
	bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_shmctl
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"' _ "$SCRIPT" "$@"
}

expect_out "override" "shmctl ov<TAB>" complete_words shmctl ov
expect_out "del export get import list set" "shmctl override <TAB>: every override subcommand" \
	complete_words shmctl override ""
expect_out "set" "shmctl override s<TAB>, after -d DIR" complete_words shmctl -d "$D" override s
expect_out "del fetch get list" "shmctl sts <TAB>" complete_words shmctl sts ""
expect_out "add del flush list" "shmctl federation rule <TAB>: the third word" \
	complete_words shmctl federation rule ""
expect_out "accept reject" "shmctl federation policy <TAB>: the values the table names" \
	complete_words shmctl federation policy ""
expect_out "latency" "shmctl stats --sort l<TAB>" complete_words shmctl stats --sort l
expect_out "--json" "shmctl status --j<TAB>" complete_words shmctl status --j
expect_out "--verbose" "shmctl status --v<TAB>" complete_words shmctl status --v
expect_out "" "shmctl ping --j<TAB>: ping has no --json" complete_words shmctl ping --j
expect_out "" "shmctl override set KEY <TAB>: no values to offer" complete_words shmctl override set example.org ""
mkdir "$D/sub.d"
touch "$D/overrides.csv"
expect_out "$D/overrides.csv" "shmctl override import <TAB>: file names" complete_words shmctl override import "$D/over"
expect_out "$D/sub.d" "shmctl -d <TAB>: directories" complete_words shmctl -d "$D/su"
first=$(complete_words shmctl "")
for c in status metrics verify readers resolve resolve-mx override sts federation stats servers ping unlink completion; do
	check "shmctl <TAB> offers $c" grep -qw -- "$c" <<<"$first"
done
# every command the usage names is one the completion reaches
"$SHMCTL" --help | grep '^  [a-z]' | cut -c3-38 >"$D/usage"
check "the usage lists commands" test -s "$D/usage"
bad=0
while read -r -a w; do
	prefix=()
	for x in "${w[@]}"; do
		[[ $x =~ ^[a-z-]+$ ]] || break
		got=$(complete_words shmctl "${prefix[@]}" "$x")
		[[ " $got " == *" $x "* ]] || { echo "#   '${prefix[*]} $x' not completed: $got"; bad=1; }
		prefix+=("$x")
	done
done <"$D/usage"
_result $bad "every command in the usage is reached word by word"
done_testing
