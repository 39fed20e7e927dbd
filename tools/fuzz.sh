#!/usr/bin/env bash
# tools/fuzz.sh [SECONDS] [TARGET...] - build the libFuzzer targets of
# tests/fuzz/ with clang (ASan + UBSan) into build-fuzz/ and run each for
# SECONDS (default 60), starting from tests/fuzz/corpus/TARGET.  Prints a
# TAP line per target, so make test can run a short pass (tools/test.sh).
#
# The repository's corpus is only read: new inputs go to a scratch
# directory.  A crash leaves its input in build-fuzz/crashes/ (keep it in
# tests/fuzz/corpus/TARGET as a regression input once fixed).
set -u
cd "$(dirname "$0")/.." || exit 1
SECS=${1:-60}
shift 2>/dev/null || true
OUT=build-fuzz
CC_FUZZ=${CC_FUZZ:-clang}
FLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -I. -pthread -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"

# target: sources and libraries
declare -A SRC=(
	[sts_policy]="tests/fuzz/fuzz_sts_policy.c daemon/sts_parse.c"
	[key]="tests/fuzz/fuzz_key.c shm/key.c -lidn2"
	[ctl]="tests/fuzz/fuzz_ctl.c"
	[socketmap]="tests/fuzz/fuzz_socketmap.c client/sm_conn.c client/map.c client/slots.c client/events.c client/inspect.c client/tab_*.c client/rblock.c shm/key.c -lidn2"
	[config]="tests/fuzz/fuzz_config.c daemon/config.c daemon/log.c -linih -lurcu -lurcu-common"
	[region]="tests/fuzz/fuzz_region.c client/map.c client/slots.c client/events.c client/inspect.c client/tab_*.c client/rblock.c shm/key.c $(ls daemon/*.c | grep -v daemon/main.c | tr '\n' ' ') -lsqlite3 -lurcu -lurcu-cds -lurcu-common -lck -linih -lidn2 -lldns -lssl -lcrypto"
)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(sts_policy key ctl socketmap config region)

mkdir -p "$OUT/crashes"
n=0
fail=0
for t in "${TARGETS[@]}"; do
	n=$((n + 1))
	# shellcheck disable=SC2086  # SRC holds words on purpose
	if ! $CC_FUZZ $FLAGS -o "$OUT/fuzz_$t" ${SRC[$t]} >"$OUT/fuzz_$t.build.log" 2>&1; then
		echo "not ok $n - fuzz $t: build failed"
		sed 's/^/#   /' "$OUT/fuzz_$t.build.log" | head -20
		fail=1
		continue
	fi
	work=$(mktemp -d /tmp/mxc-fuzz.XXXXXX)
	(cd "$work" && "$OLDPWD/$OUT/fuzz_$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
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
