#!/usr/bin/env bash
# tools/soak.sh SECONDS [BUILD] - the long fault runs (make soak).
#
# Cycles through the fault tests until SECONDS have passed, each run with
# more rounds than make test gives it, and adds up what happened: runs,
# checks passed and failed, faults injected (readers and daemons killed,
# acknowledged changes checked after a kill).  Logs of every run are kept
# in BUILD/soak/; the summary table is printed and written to
# BUILD/soak/report.md.  Exit status 1 if any check failed.
set -u
cd "$(dirname "$0")/.."

SECONDS_WANTED=${1:-600}
BUILD=${2:-build}
OUT=$BUILD/soak
mkdir -p "$OUT"
export BUILD

# name | command | what one run injects (a grep -o pattern over its log
# whose numbers are summed: the "(N)" in a TAP description)
RUNS=(
	"readers killed in lookups|$BUILD/tests/stress/stress_rcu kill 2000|readers killed with SIGKILL during lookups"
	"reader stopped in a read|$BUILD/tests/stress/stress_rcu stall|"
	"readers and writer, cross-process|$BUILD/tests/stress/stress_rcu procs 20|"
	"mxcached killed: import, growth, acks|env FAULT_ROUNDS=8 bash tests/integration/test_faults.sh|changes were being acknowledged when it died"
	"mxcached killed: MTA-STS refresh, final snapshot; stalled peers|env STS_FAULT_ROUNDS=8 bash tests/integration/test_sts_faults.sh|policies were being acknowledged when it died"
	"disk full, read-only disk, damaged database|bash tests/integration/test_disk.sh|"
	"clients killed while posting events|env KILL_ROUNDS=3000 bash tests/integration/test_client_kills.sh|clients killed with SIGKILL while posting"
)

declare -A n_runs n_ok n_fail n_faults secs
start=$(date +%s)
deadline=$((start + SECONDS_WANTED))
round=0
while [ "$(date +%s)" -lt "$deadline" ]; do
	round=$((round + 1))
	for entry in "${RUNS[@]}"; do
		[ "$(date +%s)" -lt "$deadline" ] || break
		IFS='|' read -r name cmd pat <<<"$entry"
		script=$(echo "$cmd" | grep -o 'tests/integration/[a-z_]*\.sh')
		if [ -n "$script" ] && [ ! -f "$script" ]; then
			continue
		fi
		log="$OUT/$(echo "$name" | tr -c 'a-z0-9\n' '_' | cut -c1-40).$round.log"
		t0=$(date +%s)
		# shellcheck disable=SC2086
		timeout 900 $cmd >"$log" 2>&1
		rc=$?
		ok=$(grep -c '^ok ' "$log")
		bad=$(grep -c '^not ok ' "$log")
		[ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
		faults=0
		if [ -n "$pat" ]; then
			# "(N)" in the description, else its first number
			faults=$(grep "$pat" "$log" | sed -E 's/^(not )?ok [0-9]+ - //' | awk '{
				if (match($0, /\([0-9]+\)/)) { s += substr($0, RSTART + 1, RLENGTH - 2) }
				else if (match($0, /[0-9]+ /)) { s += substr($0, RSTART, RLENGTH - 1) } } END { print s + 0 }')
		fi
		n_runs[$name]=$(( ${n_runs[$name]:-0} + 1 ))
		n_ok[$name]=$(( ${n_ok[$name]:-0} + ok ))
		n_fail[$name]=$(( ${n_fail[$name]:-0} + bad ))
		n_faults[$name]=$(( ${n_faults[$name]:-0} + ${faults:-0} ))
		secs[$name]=$(( ${secs[$name]:-0} + $(date +%s) - t0 ))
		printf 'soak: round %d: %-60s %4d ok %d failed (%ds)\n' "$round" "$name" "$ok" "$bad" \
			$(( $(date +%s) - t0 )) >&2
		if [ "$bad" -ne 0 ]; then
			grep '^not ok' "$log" | head -5 | sed 's/^/soak:   /' >&2
		fi
	done
done

total_fail=0
{
	echo "Soak: $(( $(date +%s) - start )) s on $(nproc) CPUs, $(date -u +%Y-%m-%d), build $BUILD"
	echo
	echo "| fault | runs | checks passed | checks failed | faults injected | seconds |"
	echo "| --- | --- | --- | --- | --- | --- |"
	for entry in "${RUNS[@]}"; do
		IFS='|' read -r name cmd pat <<<"$entry"
		[ -n "${n_runs[$name]:-}" ] || continue
		f=${n_faults[$name]}
		[ -n "$pat" ] || f="-"
		echo "| $name | ${n_runs[$name]} | ${n_ok[$name]} | ${n_fail[$name]} | $f | ${secs[$name]} |"
		total_fail=$((total_fail + n_fail[$name]))
	done
} | tee "$OUT/report.md"
echo "soak: logs in $OUT/" >&2
[ "$total_fail" -eq 0 ]
