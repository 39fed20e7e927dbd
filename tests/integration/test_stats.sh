#!/usr/bin/env bash
# test_stats - per-domain delivery stats through a real mxcached: events
# from several processes at once with an exact final count, the queue
# never below zero, overflow accounting while the daemon cannot drain, a
# client killed mid-submit, sorting, and persistence across restarts.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

POST=$TOOLS/stats_post
new_dir D
S() { "$SHMCTL" -d "$D" "$@"; }
jget() { # FIELD: from the JSON in /tmp/t.out.$$
	python3 -c "import json,sys; print(json.load(open('/tmp/t.out.$$'))[sys.argv[1]])" "$1"
}
# wait_count DOMAIN FIELD WANT: until shmctl stats shows it (the daemon
# aggregates within milliseconds), at most 5 s
wait_count() {
	local i
	for i in $(seq 1 100); do
		S stats "$1" --json >/tmp/t.out.$$ 2>/dev/null && [ "$(jget "$2")" = "$3" ] && return 0
		sleep 0.05
	done
	return 1
}

check "mxcached starts" daemon_start "$D"
expect_rc 1 "no events yet: not found" S stats example.org

# four processes, two threads each, at once: nothing may be lost
pids=()
for p in 1 2 3 4; do "$POST" "$D" example.org 5000 queue retry 2 >"$D/post$p.out" & pids+=($!); done
wait "${pids[@]}"   # not a bare wait: the daemon is a background job too
check "4 processes x 2 threads x 5000 queue events: exactly 40000" wait_count example.org queued_messages 40000
pids=()
for p in 1 2 3 4; do "$POST" "$D" EXAMPLE.org. 1000 success retry 1 >/dev/null & pids+=($!); done
wait "${pids[@]}"
check "successes from 4 processes, any spelling: 4000" wait_count example.org successful_deliveries 4000
check "per transport" wait_count example.org success_smtp 4000
check "latency summed" wait_count example.org total_latency_ms 40000
check "mean latency computed on read" wait_count example.org mean_latency_ms 10.0
"$POST" "$D" example.org 250 failure retry 1 >/dev/null
check "failures per transport" wait_count example.org failed_https 250

# the queue never goes below zero
# (events of one thread keep their order; across processes the daemon
# applies them as it takes them, so wait for the first batch)
"$POST" "$D" drain.example 3 queue retry 1 >/dev/null
check "3 queued" wait_count drain.example queued_messages 3
"$POST" "$D" drain.example 10 dequeue retry 1 >/dev/null
check "10 dequeues after 3 queues: 0, not -7" wait_count drain.example queued_messages 0

# a client killed mid-submit stalls nobody
"$POST" "$D" killed.example 50000000 queue retry 1 >/dev/null &
victim=$!
sleep 0.3
kill -9 "$victim" 2>/dev/null
wait "$victim" 2>/dev/null
"$POST" "$D" after.example 1000 queue retry 1 >/dev/null
check "after a client is killed mid-submit, others still count exactly" wait_count after.example queued_messages 1000
check "and the daemon is alive" S ping

# overflow: the daemon cannot drain (stopped), the ring fills, drops are counted
pid=$(cat "$D/test.pid")
before=$(S status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["events_dropped"])')
kill -STOP "$pid"
out=$("$POST" "$D" overflow.example 100 queue drop 1)
kill -CONT "$pid"
check "a full ring drops: 15 posted, 85 dropped ($out)" test "$out" = "posted 15 dropped 85"
# status reads the daemon's readers listing, rewritten once a second
for i in $(seq 1 40); do
	after=$(S status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["events_dropped"])')
	[ $((after - before)) -ge 85 ] && break
	sleep 0.1
done
check "shmctl status counts the drops" test $((after - before)) -ge 85
check "what fitted is counted, exactly" wait_count overflow.example queued_messages 15

# listing and sorting
expect_rc 0 "stats --sort failures --json" S stats --sort failures --json
check "sorted by failures, every field by its name" python3 -c "
import json; v=json.load(open('/tmp/t.out.$$'))
assert v[0]['domain']=='example.org' and v[0]['failed_https']==250, v[0]
for k in ('queued_messages','failed_http','failed_https','failed_smtp','success_http','success_https',
          'success_smtp','successful_deliveries','total_latency_ms','last_active','mean_latency_ms'):
    assert k in v[0], k"
expect_rc 2 "an unknown sort key: usage error" S stats --sort nonsense

# persistence: a clean restart, then a kill -9 after the 10 s flush
check "mxcached stops" daemon_stop "$D"
check "mxcached restarts" daemon_start "$D"
check "counts survive a restart" wait_count example.org queued_messages 40000
check "the clamped queue too" wait_count drain.example queued_messages 0
"$POST" "$D" late.example 7 queue retry 1 >/dev/null
check "new events after the restart" wait_count late.example queued_messages 7
check "mxcached stops cleanly" daemon_stop "$D"
check "mxcached restarts again" daemon_start "$D"
check "events counted just before a clean stop are kept (final flush)" wait_count late.example queued_messages 7
expect_rc 0 "verify" S verify
check "mxcached stops cleanly" daemon_stop "$D"
done_testing
