#!/usr/bin/env bash
# test_client_kills - client processes killed with SIGKILL at random
# points while they post events, hundreds of times, against a
# running mxcached: a steady client's every event still counts, the
# daemon keeps answering, no slot of the dead stays claimed once the
# writer has swept, and the region verifies.
#
# KILL_ROUNDS sets the number of clients killed (default 500; 150 under a
# sanitizer, where a process start is slower; make soak gives more).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

POST=$TOOLS/stats_post
ROUNDS=${KILL_ROUNDS:-$([ -n "$SAN" ] && echo 150 || echo 500)}

# dead - claimed slots whose owner is gone, as shmctl readers sees them
dead() { "$SHMCTL" -d "$D" readers --json 2>/dev/null | grep -c '"state":"dead"'; }
# others - claimed slots not held by shmctl itself
others() { "$SHMCTL" -d "$D" readers --json 2>/dev/null | grep -c '"state"'; }

new_dir D
check "mxcached starts" daemon_start "$D"
check "an override to look up" "$SHMCTL" -d "$D" override set kills.example 192.0.2.9

# the steady client posts, in small bursts, all through the kills
(
	for i in $(seq 1 40); do
		"$POST" "$D" steady.example 50 queue retry >/dev/null 2>&1 || exit 1
		sleep 0.05
	done
) &
steady=$!

killed=0
for i in $(seq 1 "$ROUNDS"); do
	# a client that posts without end (stress_rcu kill covers deaths
	# inside lookups by the thousand); lookups go on beside it
	"$POST" "$D" victim$((i % 7)).example 100000000 queue retry >/dev/null 2>&1 &
	victim=$!
	[ $((i % 3)) -eq 0 ] && "$SHMCTL" -d "$D" resolve kills.example >/dev/null 2>&1
	# anywhere from before mxc_open to deep inside the posting loop
	sleep "0.0$((RANDOM % 30))"
	kill -9 "$victim" 2>/dev/null && killed=$((killed + 1))
	wait "$victim" 2>/dev/null
done
check "clients killed with SIGKILL while posting ($killed)" test "$killed" -ge $((ROUNDS * 9 / 10))
wait "$steady"
check "the steady client posted all its events" test $? -eq 0
expect_out "192.0.2.9" "lookups still answer" "$SHMCTL" -d "$D" resolve kills.example

counted() { "$SHMCTL" -d "$D" stats steady.example --json 2>/dev/null | grep -q '"queued_messages": *2000'; }
for i in $(seq 1 100); do counted && break; sleep 0.1; done
check "every one of the steady client's 2000 events counted" counted

# a gone process's block is let go as soon as its last events are taken,
# and the listing is rewritten every second
for i in $(seq 1 120); do [ "$(dead)" -eq 0 ] && [ "$(others)" -le 2 ] && break; sleep 0.1; done
check "no slot of a dead client left claimed ($(dead) dead)" test "$(dead)" -eq 0
check "only live readers hold slots ($(others), shmctl's own and the socketmap server's at most)" \
	test "$(others)" -le 2
expect_rc 0 "verify passes" "$SHMCTL" -d "$D" verify
check "departures are in the log" grep -q "client processes gone" "$D/daemon.log"
# one summary line per 5 s at most, however many processes came and went
lines=$(grep -c "client processes gone" "$D/daemon.log")
check "as a summary, not a line per process ($lines lines for $killed kills)" test "$lines" -le $((SECONDS / 5 + 2))
check "mxcached stops cleanly" daemon_stop "$D"
done_testing
