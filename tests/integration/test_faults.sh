#!/usr/bin/env bash
# test_faults - mxcached killed with SIGKILL in the middle of work: single
# changes being acknowledged one by one while a bulk import grows the
# region.  Clients keep answering from the last published region while it
# is down; after a restart every acknowledged change is there, nothing
# half-written is served, and shmctl verify passes.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

new_dir D
ROUNDS=${FAULT_ROUNDS:-3}

check "mxcached starts" daemon_start "$D"
check "a first override" "$SHMCTL" -d "$D" override set before.fault.test 192.0.2.1
for round in $(seq 1 "$ROUNDS"); do
	: >"$D/acked"
	# one change at a time, each recorded only once acknowledged
	(
		i=0
		while "$SHMCTL" -d "$D" override set "r$round-k$i.fault.test" 192.0.2.2 >/dev/null 2>&1; do
			echo "r$round-k$i.fault.test" >>"$D/acked"
			i=$((i + 1))
		done
	) &
	setter=$!
	# and a bulk import that makes the region grow under it
	python3 -c "
import sys
print('key,target,comment')
for i in range(150000):
    print(f'bulk{i}.r$round.fault.test,10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256},')
" >"$D/bulk.csv"
	"$SHMCTL" -d "$D" override import "$D/bulk.csv" >/dev/null 2>&1 &
	importer=$!
	sleep "0.$((RANDOM % 9 + 4))"
	daemon_stop "$D" KILL
	wait "$setter" "$importer" 2>/dev/null
	n=$(wc -l <"$D/acked")
	check "round $round: changes were being acknowledged when it died ($n)" test "$n" -gt 0
	expect_out "192.0.2.1" "round $round: the daemon down, clients still answer" \
		"$SHMCTL" -d "$D" resolve before.fault.test
	check "round $round: mxcached restarts" daemon_start "$D"
	missing=0
	while read -r k; do
		"$SHMCTL" -d "$D" resolve "$k" >/dev/null 2>&1 || missing=$((missing + 1))
	done <"$D/acked"
	check "round $round: every acknowledged change is there ($n, $missing missing)" test "$missing" -eq 0
	expect_rc 0 "round $round: verify passes" "$SHMCTL" -d "$D" verify
done
check "mxcached stops cleanly" daemon_stop "$D"
done_testing
