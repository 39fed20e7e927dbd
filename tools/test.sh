#!/usr/bin/env bash
# tools/test.sh - every test, three builds; the last line is "N passed, N failed".
#
#   plain build (-Werror):   unit, stress, integration
#   ASan + UBSan build:      unit, stress, integration (daemon included)
#   TSan build:              the in-process concurrency test
#
# Each test prints TAP; a test that dies without a "not ok" line counts as
# one failure.  Logs: build*/test-logs/.
#
# Tests remove the regions they create: a region file that appears in the
# tmpfs directory during a test and is still there after it is one more
# failure, named with the test and the file.
set -u
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
pass=0
fail=0
failed_names=()

# region files: the tmpfs directory the tests use, and the ones seen so far
SHM_DIR=${MXCACHE_SHM_DIR:-/dev/shm}
case $SHM_DIR in /*) ;; *) SHM_DIR=/dev/shm ;; esac
shm_seen=" "
shm_list() { (cd "$SHM_DIR" 2>/dev/null && for f in mxcache-*; do [ -e "$f" ] && echo "$f"; done); }
for f in $(shm_list); do shm_seen+="$f "; done

# shm_check NAME LOG - region files NAME left behind: one failure each
shm_check() {
	local name=$1 log=$2 f n=0
	for f in $(shm_list); do
		[[ $shm_seen == *" $f "* ]] && continue
		shm_seen+="$f "
		echo "not ok - $name left $SHM_DIR/$f" >>"$log"
		echo "    $name left $SHM_DIR/$f"
		n=$((n + 1))
	done
	if [ "$n" -ne 0 ]; then
		fail=$((fail + n))
		failed_names+=("$name (left $n region files)")
	fi
}

# run_tap NAME LOGDIR CMD... - run one TAP producer, add up its results
run_tap() {
	local name=$1 logdir=$2 log p f rc
	shift 2
	mkdir -p "$logdir"
	log="$logdir/${name//\//_}.log"
	timeout 600 "$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$f" -ne 0 ]; then
		failed_names+=("$name")
		printf '%-44s %4d passed, %d FAILED (log: %s)\n' "$name" "$p" "$f" "$log"
		grep -E '^not ok|^#' "$log" | head -20 | sed 's/^/    /'
		tail -5 "$log" | sed 's/^/    | /'
	else
		printf '%-44s %4d passed\n' "$name" "$p"
	fi
	shm_check "$name" "$log"
}

# suite BUILD LABEL STRESSARGS... - unit, stress and integration tests of one build
suite() {
	local b=$1 label=$2 t
	shift 2
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] && run_tap "$label/$(basename "$t")" "$b/test-logs" "$t"
	done
	for t in procs kill stall; do
		run_tap "$label/stress_rcu-$t" "$b/test-logs" "$b/tests/stress/stress_rcu" $t "$@"
	done
	for t in tests/integration/*.sh; do
		run_tap "$label/$(basename "$t" .sh)" "$b/test-logs" env BUILD="$b" bash "$t"
	done
}

build() {
	echo "== build: $*" >&2
	if ! make -s -j"$JOBS" WERROR=1 "$@" all tests-bin >/tmp/mxcache-build.$$.log 2>&1; then
		cat /tmp/mxcache-build.$$.log
		rm -f /tmp/mxcache-build.$$.log
		fail=$((fail + 1))
		failed_names+=("build $*")
		return 1
	fi
	rm -f /tmp/mxcache-build.$$.log
}

if build; then
	suite build plain
fi

# ASan + UBSan: the same tests, daemon and tools instrumented too
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if build SANITIZER=address,undefined; then
	suite build-address-undefined asan+ubsan
fi
unset ASAN_OPTIONS UBSAN_OPTIONS

# TSan: the writer and readers as threads of one process, where it can
# see every access; TSan cannot see across processes.
if build SANITIZER=thread; then
	export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1}
	run_tap "tsan/stress_rcu-threads" build-thread/test-logs setarch "$(uname -m)" -R \
		build-thread/tests/stress/stress_rcu threads 3
	run_tap "tsan/test_region" build-thread/test-logs setarch "$(uname -m)" -R build-thread/tests/test_region
	run_tap "tsan/test_dns" build-thread/test-logs setarch "$(uname -m)" -R build-thread/tests/test_dns
	run_tap "tsan/test_https" build-thread/test-logs setarch "$(uname -m)" -R build-thread/tests/test_https
fi

# a short pass of every fuzz target (make fuzz runs them longer)
if command -v clang >/dev/null 2>&1; then
	run_tap "fuzz/short" build-fuzz/test-logs bash tools/fuzz.sh "${FUZZ_TEST_SECONDS:-5}"
else
	fail=$((fail + 1))
	failed_names+=("fuzz (clang missing)")
fi

if [ ${#failed_names[@]} -ne 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
