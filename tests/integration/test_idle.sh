#!/usr/bin/env bash
# test_idle - an idle mxcached costs (next to) nothing: its threads sleep
# until a client rings, a periodic job is due or a second passes, instead
# of polling the clients' event rings every few milliseconds; events a
# client posts after a quiet spell still arrive at once, by the doorbell;
# a client that rings without cause costs the daemon less than it costs
# the client; and each thread carries a name that top -H and /proc tell
# apart.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

POST=$TOOLS/stats_post
HOSTILE=$TOOLS/hostile_reader
new_dir D
S() { "$SHMCTL" -d "$D" "$@"; }

# What an idle daemon may do in IDLE_S seconds: the writer's tick every
# 100 ms (heartbeat, counters, grace periods; the readers listing once a
# second), the listener's reaping and the event thread's periodic wake
# once a second each: some 12 wake-ups a second, the bound leaves room for
# a busy machine.  Polling the rings every 5 ms, as mxcached once did, is
# some 200 a second from the event thread alone.
IDLE_S=3
IDLE_MAX=$((40 * IDLE_S))

printf '[log]\nlevel = debug\n' >"$D/mxcached.conf"
check "mxcached starts" daemon_start "$D" -c "$D/mxcached.conf"
PID=$(cat "$D/test.pid")

# --- thread names (once every thread has started)
check "mxcached says it is ready" wait_for grep -q "main: mxcached .* ready" "$D/daemon.log"
names=$(cat /proc/"$PID"/task/*/comm | sort | uniq -c)
for want in writer events readers readers-intake ctl socketmap sts-worker-1 sts-worker-16; do
	check "a thread is named $want" grep -qw -- "$want" <<<"$names"
done
# (ThreadSanitizer adds a thread of its own, which keeps the process's name)
unnamed=1
[ "$SAN" = thread ] && unnamed=2
check "every thread but the main one has a name of its own" \
	test "$(grep -w mxcached <<<"$names" | awk '{ print $1 }')" = "$unnamed"

# --- the cost of doing nothing
sleep 1.5       # start-up over, the event thread asleep
a=$(proc_switches "$PID")
sleep "$IDLE_S"
b=$(proc_switches "$PID")
n=$((b - a))
check "idle for $IDLE_S s: $n context switches, at most $IDLE_MAX" test "$n" -le "$IDLE_MAX"

# --- a post after a quiet spell rings and is taken at once; the doorbell
# is not mistaken for the client letting go of its block, so the next
# quiet spell's post rings again
queued() { # N: shmctl stats shows N queued messages for idle.example
	"$SHMCTL" -d "$D" stats idle.example --json 2>/dev/null | grep -q "\"queued_messages\":$1,"
}
rang() { # N: the daemon logged N doorbells from the client
	[ "$(grep -c "readers: pid $cpid rang the doorbell" "$D/daemon.log")" -ge "$1" ]
}
"$POST" "$D" idle.example 3 queue retry 1 1500 5000 2 >"$D/post.out" &
cpid=$!
T_BG+=("$cpid")
check "events posted after 1.5 s of quiet arrive" wait_for queued 3
# (a ring may meet the event thread awake for its once-a-second work:
# both are logged, and either way the events arrive at once)
check "  the client rang its doorbell" wait_for rang 1
check "the same client's next post, after another quiet spell, arrives" wait_for queued 6
check "  by its doorbell again: the first one was no departure" wait_for rang 2
bg_stop

# --- a client that rings without pause, one byte and 4 KiB at a time,
# never waiting: the daemon reads a bounded number per wake-up, buffers
# nothing, keeps its registration (a doorbell is no departure), takes
# the other clients' events all along, and spends less time on it than
# the client spends ringing
# the daemon's threads that a doorbell wakes: the listener and the event thread
bell_cpu() {
	local t n=0
	for t in /proc/"$PID"/task/*; do
		case $(cat "$t/comm") in readers | events) n=$((n + $(proc_cpu "${t#/proc/}"))) ;; esac
	done
	echo "$n"
}
# the ringer runs BELLS_S; the CPU times are read 0.5 s and 2.5 s in, while
# it surely runs (read after it exits, its ticks are gone), and only then
# is the other client's delivery waited for
BELLS_S=8
"$HOSTILE" "$D" bells "$BELLS_S" >"$D/bells.out" 2>&1 &
bells=$!
T_BG+=("$bells")
sleep 0.5
d0=$(bell_cpu)
b0=$(proc_cpu "$bells")
"$POST" "$D" flood.example 5 queue retry 1 >/dev/null
sleep 2
d1=$(bell_cpu)
b1=$(proc_cpu "$bells")
check "the ringer was still ringing when its CPU time was read" test -n "$b0" -a -n "$b1"
check "while a client rings without pause, another one's events arrive" \
	wait_for sh -c "'$SHMCTL' -d '$D' stats flood.example --json | grep -q '\"queued_messages\":5,'"
wait "$bells"
brc=$?
check "the ringing client kept its registration throughout ($(cat "$D/bells.out"))" test "$brc" -eq 0
check "the threads it wakes spent less CPU time ($((d1 - d0)) ticks) than the client ringing ($((b1 - b0)))" \
	test $((d1 - d0)) -lt $((b1 - b0))
check "and is alive" "$SHMCTL" -d "$D" ping

check "the daemon stops cleanly" daemon_stop "$D"
done_testing
