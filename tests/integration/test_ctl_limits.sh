#!/usr/bin/env bash
# test_ctl_limits - admin connections a peer without change rights cannot
# use up: a member of the region's group holds as many ctl.sock
# connections as it can and keeps them alive with PING; root, the daemon's
# user and [ctl] admin_group still get in and change the caches.  Each uid
# but root is capped, read-only peers share a smaller pool, and every
# refusal is answered EBUSY, counted and logged once.
#
# Needs root (to start the daemon as root and to act as other users with
# setpriv); otherwise every check is skipped.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

require_root_setpriv

# the system's python: a per-user install under /root is out of reach of
# the throwaway users
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
DUSER=nobody
DUID=$(id -u $DUSER)
DGID=$(id -g $DUSER)
ADMIN_GID=4242
READER=(setpriv --reuid=4001 --regid=4001 --groups="$DGID")
READER2=(setpriv --reuid=4003 --regid=4003 --groups="$DGID")
ADMIN=(setpriv --reuid=4002 --regid=4002 --groups="$DGID,$ADMIN_GID")
ASDAEMON=(setpriv --reuid="$DUID" --regid="$DGID" --clear-groups)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

counter() {
	"$SHMCTL" -d "$D" status --json 2>/dev/null | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
counter_above() { [ "$(counter "$1")" -gt "$2" ] 2>/dev/null; }

# hold WHO... - as WHO, open 32 connections to ctl.sock, PING on each, print
# "served N" (those answered OK), then PING on them every second, as the
# attack did every 30 s (ctl.sock's idle timeout is 60 s), for at most 30 s
HOLDER='
import socket, sys, time
conns, served = [], []
for i in range(32):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    conns.append(s)
for s in conns:
    s.settimeout(3)
    try:
        s.sendall(b"PING\n")
        if s.recv(200).startswith(b"OK"):
            served.append(s)
    except OSError:
        pass
print("served", len(served), flush=True)
end = time.time() + 30
while time.time() < end:
    time.sleep(1)
    for s in served:
        try:
            s.sendall(b"PING\n")
            s.recv(200)
        except OSError:
            pass
'
hold() { # OUTFILE WHO...
	local out=$1
	shift
	"$@" "$PY" -c "$HOLDER" "$D/ctl.sock" >"$out" 2>&1 &
	T_BG+=($!)
	wait_for grep -q '^served' "$out"
}
served() { sed -n 's/^served //p' "$1"; }

new_dir D
check "mxcached starts as root with [daemon] user = $DUSER" daemon_start_as "$D" "$DUSER" "$ADMIN_GID"

# --- the attack: a reader takes every admin connection it can
check "a reader opens 32 admin connections and pings on them" hold "$D/reader.out" "${READER[@]}"
n=$(served "$D/reader.out")
check "it is served at most 8 of them (${n:-?})" test "${n:-99}" -le 8 -a "${n:-0}" -ge 1
expect_rc 0 "root still changes the caches" "$SHMCTL" -d "$D" override set root.ctllim.test 192.0.2.1
expect_out "192.0.2.1" "  and the change is there" "$SHMCTL" -d "$D" resolve root.ctllim.test
expect_rc 0 "the daemon's user too" "${ASDAEMON[@]}" "$SHMCTL" -d "$D" override set self.ctllim.test 192.0.2.2
expect_rc 0 "and a member of [ctl] admin_group" "${ADMIN[@]}" "$SHMCTL" -d "$D" override set admin.ctllim.test 192.0.2.3
expect_rc 3 "another read-only peer finds the read-only pool full: EBUSY" "${READER2[@]}" "$SHMCTL" -d "$D" ping
check "  and is told why" grep -q "read-only" /tmp/t.err.$$
expect_rc 3 "the reader's next connection is refused: EBUSY" "${READER[@]}" "$SHMCTL" -d "$D" ping
check "  naming the per-uid limit" grep -q "from uid 4001" /tmp/t.err.$$

# --- a change-capable uid other than root is capped too
check "an admin opens 32 admin connections" hold "$D/admin.out" "${ADMIN[@]}"
n=$(served "$D/admin.out")
check "it is served at most 8 of them (${n:-?})" test "${n:-99}" -le 8 -a "${n:-0}" -ge 1
expect_rc 0 "root still changes the caches" "$SHMCTL" -d "$D" override set root2.ctllim.test 192.0.2.4
expect_rc 0 "and the daemon's user" "${ASDAEMON[@]}" "$SHMCTL" -d "$D" override del self.ctllim.test

# --- refusing costs the accept thread nothing: a reader that connects in a
# loop and never writes does not hold up the next admin
"${READER[@]}" "$PY" -c '
import socket, sys, time
conns = []
end = time.time() + 15
while time.time() < end and len(conns) < 400:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    conns.append(s)
print("connected", len(conns), flush=True)
time.sleep(15)
' "$D/ctl.sock" >"$D/loop.out" 2>&1 &
T_BG+=($!)
check "a reader makes 400 connections that never write" wait_for grep -q '^connected 400' "$D/loop.out"
t=$(date +%s%N)
expect_rc 0 "root changes the caches meanwhile" "$SHMCTL" -d "$D" override set root3.ctllim.test 192.0.2.5
ms=$((($(date +%s%N) - t) / 1000000))
check "  without waiting on the refused ones (${ms} ms)" test "$ms" -lt 2000

# --- counted and logged once each
check "refusals at the per-uid limit are counted" wait_for counter_above limit_ctl_uid_connections_total 40
check "refusals at the read-only pool are counted" wait_for counter_above limit_ctl_readonly_connections_total 0
check "the per-uid limit is logged once" \
	test "$(grep -c 'ctl: .*connections from uid' "$D/daemon.log")" -eq 1
check "the read-only pool once" test "$(grep -c 'ctl: .*read-only' "$D/daemon.log")" -eq 1

# --- the holders go: everyone is served again
bg_stop
ok=1
for i in $(seq 1 100); do
	"${READER2[@]}" "$SHMCTL" -d "$D" ping >/dev/null 2>&1 && { ok=0; break; }
	sleep 0.05
done
_result $ok "once the holders close, read-only peers are served again"
check "mxcached stops cleanly" daemon_stop "$D"
done_testing
