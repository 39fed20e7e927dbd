#!/usr/bin/env bash
# test_idle - each thread of mxcached carries a name that top -H, perf and
# /proc tell apart.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

new_dir D

check "mxcached starts" daemon_start "$D"
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

check "the daemon stops cleanly" daemon_stop "$D"
done_testing
