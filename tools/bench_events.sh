#!/usr/bin/env bash
# tools/bench_events.sh BUILD_DIR N - how many delivery events clients can
# hand to mxcached (mxc_queue_add through the event rings), with nothing
# lost: one client process, then 4 at once, each posting N events from one
# thread and retrying a full ring (MXC_EFULL) after 100 us.  Timed from the
# first post until the daemon's published count is exact.  Then one client
# without retrying, to show where the ring overflows and that every drop
# is counted.  CSV rows in make bench's layout on stdout:
#   events,N,-,<case>,mxcached,<metric>,<value>,<unit>
# Last, the cost of an idle mxcached once the events stopped: CPU time
# and wake-ups (context switches of all its threads) over IDLE_S seconds.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:?usage: tools/bench_events.sh BUILD_DIR N}
N=${2:?N}
. tests/lib.sh
POST=$PWD/$BUILD/tests/tools/stats_post
log() { echo "bench_events: $*" >&2; }
GIVEUP_S=60

new_dir D
# the throughput of the rings and the drain, not the per-client rate limit
# that guards them (20,000 events a second by default): lifted for the run
printf '[limits]\nclient_events_per_s = 100000000\n' >"$D/bench.conf"
daemon_start "$D" -c "$D/bench.conf" || { log "mxcached did not start"; exit 1; }
count() {
	"$SHMCTL" -d "$D" stats "$1" --json 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["queued_messages"])' 2>/dev/null || echo 0
}
# run CASE PROCS: post, wait for the exact count, print rows
run() {
	local name=$1 procs=$2 dom="ev-${1//_/-}.example" t0 ms want pids=() p
	want=$((N * procs))
	t0=$(date +%s%N)
	for p in $(seq 1 "$procs"); do "$POST" "$D" "$dom" "$N" queue retry 1 >/dev/null & pids+=($!); done
	wait "${pids[@]}"
	while [ "$(count "$dom")" != "$want" ]; do
		[ $((($(date +%s%N) - t0) / 1000000000)) -gt $GIVEUP_S ] && { log "$name: gave up at $(count "$dom") of $want"; return 1; }
		sleep 0.01
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	log "$name: $want events from $procs process(es) in $ms ms, all counted"
	echo "events,$N,-,$name,mxcached,events,$want,count"
	echo "events,$N,-,$name,mxcached,wall,$ms,ms"
	echo "events,$N,-,$name,mxcached,rate,$((want * 1000 / (ms > 0 ? ms : 1))),per_s"
}
run one_client 1 || exit 1
run four_clients 4 || exit 1
# no retry: a client posting flat out, the daemon draining every ms
out=$("$POST" "$D" ev-flat.example "$N" queue drop 1)
set -- $out
log "flat out without retry: $2 posted, $4 dropped (each counted in shmctl status)"
echo "events,$N,-,no_retry,mxcached,posted,$2,count"
echo "events,$N,-,no_retry,mxcached,dropped,$4,count"
# idle: nothing posted for IDLE_SETTLE_S, then IDLE_S measured
IDLE_SETTLE_S=2
IDLE_S=${IDLE_S:-10}
PID=$(cat "$D/test.pid")
HZ=$(getconf CLK_TCK)
sleep "$IDLE_SETTLE_S"
c0=$(proc_cpu "$PID") s0=$(proc_switches "$PID")
sleep "$IDLE_S"
c1=$(proc_cpu "$PID") s1=$(proc_switches "$PID")
log "idle for $IDLE_S s: $((c1 - c0)) CPU ticks ($HZ a second), $((s1 - s0)) wake-ups"
echo "events,$N,-,idle,mxcached,cpu,$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v s="$IDLE_S" 'BEGIN { printf "%.2f", 100 * t / hz / s }'),percent_of_a_core"
echo "events,$N,-,idle,mxcached,wakeups,$(((s1 - s0) / IDLE_S)),per_s"
daemon_stop "$D"
