#!/usr/bin/env bash
# tools/test.sh [--plain] [--asan] [--tsan] [--fuzz] [PATTERN]
#
# Builds and runs the tests; the last line is "N passed, N failed".
#
#   --plain  plain build (-Werror): unit, stress, integration  (make check)
#   --asan   ASan + UBSan build: the same tests, daemon included
#                                                         (make check-asan)
#   --tsan   TSan build: the in-process concurrency tests (make check-tsan)
#   --fuzz   a short pass of every libFuzzer target (FUZZ_TEST_SECONDS, 5)
#
# With no switch: all four (make test), unless a PATTERN is given, which
# means --plain.  PATTERN runs only the tests whose name (as printed, e.g.
# "plain/test_cli", "asan+ubsan/stress_rcu-kill", "fuzz/key") contains it;
# a PATTERN that names no test is one failure.  Examples:
#
#   tools/test.sh test_cli             # one integration test, plain build
#   tools/test.sh --asan test_region   # one unit test under ASan+UBSan
#   make check T=socketmap             # every test with socketmap in its name
#
# Each test prints TAP; a test that dies without a "not ok" line counts as
# one failure.  Logs: build*/test-logs/.  Nothing is installed: make test
# installs the packages first (tools/deps.sh).
#
# Tests remove the regions they create: a region file that appears in the
# tmpfs directory during a test and is still there after it is one more
# failure, named with the test and the file.
set -u
cd "$(dirname "$0")/.."

usage() {
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

want_plain=0 want_asan=0 want_tsan=0 want_fuzz=0 any=0 pattern=
while [ $# -gt 0 ]; do
	case $1 in
	--plain) want_plain=1 any=1 ;;
	--asan) want_asan=1 any=1 ;;
	--tsan) want_tsan=1 any=1 ;;
	--fuzz) want_fuzz=1 any=1 ;;
	-h | --help) usage ;;
	-*) echo "test.sh: unknown switch $1" >&2; usage ;;
	*)
		[ -z "$pattern" ] || { echo "test.sh: one PATTERN only" >&2; usage; }
		pattern=$1
		;;
	esac
	shift
done
if [ $any -eq 0 ]; then
	if [ -n "$pattern" ]; then
		want_plain=1
	else
		want_plain=1 want_asan=1 want_tsan=1 want_fuzz=1
	fi
fi

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
pass=0
fail=0
failed_names=()
ran=0

# picked NAME - whether NAME is one of the tests PATTERN asks for
picked() {
	[[ -z $pattern || $1 == *"$pattern"* ]]
}

# region files: the tmpfs directory the tests use, and the ones seen so
# far.  Unless MXCACHE_SHM_DIR names one, the run makes a directory of its
# own in /dev/shm (sticky and open to all, as /dev/shm is, for the tests
# that act as other users), so that the regions of another run on the
# same machine are not taken for this run's leftovers.
case ${MXCACHE_SHM_DIR:-} in
/*) SHM_DIR=$MXCACHE_SHM_DIR ;;
*)
	SHM_DIR=$(mktemp -d /dev/shm/mxc-tests.XXXXXX) && chmod 1777 "$SHM_DIR" || exit 1
	export MXCACHE_SHM_DIR=$SHM_DIR
	trap 'rm -rf "$SHM_DIR"' EXIT
	;;
esac
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
	picked "$name" || return 0
	ran=$((ran + 1))
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

if [ $want_plain -eq 1 ] && build; then
	suite build plain
fi

# ASan + UBSan: the same tests, daemon and tools instrumented too
if [ $want_asan -eq 1 ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	if build SANITIZER=address,undefined; then
		suite build-address-undefined asan+ubsan
	fi
	unset ASAN_OPTIONS UBSAN_OPTIONS
fi

# TSan: the writer and readers as threads of one process, where it can
# see every access; TSan cannot see across processes.
if [ $want_tsan -eq 1 ] && build SANITIZER=thread; then
	export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1}
	run_tap "tsan/stress_rcu-threads" build-thread/test-logs setarch "$(uname -m)" -R \
		build-thread/tests/stress/stress_rcu threads 3
	for t in test_region test_dns test_dane test_https test_sts_client test_wait; do
		run_tap "tsan/$t" build-thread/test-logs setarch "$(uname -m)" -R build-thread/tests/$t
	done
fi

# a short pass of the fuzz targets (make fuzz runs them longer)
if [ $want_fuzz -eq 1 ]; then
	targets=()
	for f in tests/fuzz/fuzz_*.c; do
		f=${f#tests/fuzz/fuzz_}
		picked "fuzz/${f%.c}" && targets+=("${f%.c}")
	done
	if [ ${#targets[@]} -eq 0 ]; then
		:
	elif command -v clang >/dev/null 2>&1; then
		# one TAP run for them all: the name matches whatever was picked
		pattern='' run_tap "fuzz/short" build-fuzz/test-logs \
			bash tools/fuzz.sh "${FUZZ_TEST_SECONDS:-5}" "${targets[@]}"
	else
		fail=$((fail + 1))
		failed_names+=("fuzz (clang missing)")
	fi
fi

if [ -n "$pattern" ] && [ $ran -eq 0 ]; then
	echo "no test's name contains \"$pattern\""
	fail=$((fail + 1))
	failed_names+=("pattern $pattern")
fi

if [ ${#failed_names[@]} -ne 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
