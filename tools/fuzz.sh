#!/usr/bin/env bash
# tools/fuzz.sh [SECONDS] [TARGET...] - build the libFuzzer targets of
# tests/fuzz/ (make fuzz-bin: clang, ASan + UBSan, into build-fuzz/) and
# run each for SECONDS (default 60), starting from tests/fuzz/corpus/TARGET.
# TARGET is NAME of tests/fuzz/fuzz_NAME.c; none: all of them.  Prints a
# TAP line per target, so make test can run a short pass (tools/test.sh).
# What each target links is in the Makefile (FUZZ_NAME).
#
# The repository's corpus is only read: new inputs go to a scratch
# directory.  A crash leaves its input in build-fuzz/crashes/ (keep it in
# tests/fuzz/corpus/TARGET as a regression input once fixed).
set -u
cd "$(dirname "$0")/.." || exit 1
SECS=${1:-60}
shift 2>/dev/null || true
OUT=build-fuzz
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		f=${f#tests/fuzz/fuzz_}
		TARGETS+=("${f%.c}")
	done
fi

mkdir -p "$OUT/crashes"
n=0
fail=0
for t in "${TARGETS[@]}"; do
	n=$((n + 1))
	if ! make -s -j"$JOBS" FUZZ=1 BUILD="$OUT" "$OUT/fuzz/fuzz_$t" >"$OUT/fuzz_$t.build.log" 2>&1; then
		echo "not ok $n - fuzz $t: build failed"
		sed 's/^/#   /' "$OUT/fuzz_$t.build.log" | head -20
		fail=1
		continue
	fi
	work=$(mktemp -d /tmp/mxc-fuzz.XXXXXX)
	(cd "$work" && "$OLDPWD/$OUT/fuzz/fuzz_$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 "$work" "$OLDPWD/tests/fuzz/corpus/$t" >"$work/log" 2>&1)
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
	if [ $rc -eq 0 ]; then
		echo "ok $n - fuzz $t: ${runs:-?} inputs in ${SECS} s, no crash"
	else
		echo "not ok $n - fuzz $t: crashed (rc $rc)"
		grep -E "ERROR|SUMMARY|Test unit written" "$work/log" | head -5 | sed 's/^/#   /'
		cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$OUT/crashes/" 2>/dev/null
		fail=1
	fi
	rm -rf "$work"
done
echo "1..$n"
exit $fail
