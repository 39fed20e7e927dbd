#!/usr/bin/env bash
# test_socketmap_limits - a peer cannot take the socketmap server from
# Postfix: a user in no group floods the TCP listener with 1,030
# connections kept busy with requests, and the members of the group are
# still answered on the unix socket; each listener has its own share of
# [socketmap] max_connections, each TCP peer address and each unix uid a
# limit of its own; refusals are counted and logged, not once per
# connection; a connection that only trickles bytes is closed at
# idle_timeout_s however often a byte comes.
#
# Needs root (to start the daemon as root and to act as other users with
# setpriv); otherwise every check is skipped.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

require_root_setpriv

# descriptors for the flood and for the server that takes it
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
DUSER=nobody
DGID=$(id -g $DUSER)
OTHER=(setpriv --reuid=4000 --regid=4000 --clear-groups)
READER=(setpriv --reuid=4001 --regid=4001 --groups="$DGID")
READER2=(setpriv --reuid=4003 --regid=4003 --groups="$DGID")
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
TCP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

counter() {
	"$SHMCTL" -d "$D" status --json 2>/dev/null | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
counter_above() { [ "$(counter "$1")" -gt "$2" ] 2>/dev/null; }

# FLOOD WHERE COUNT EVERY SECONDS: open COUNT connections to WHERE (a
# path, or HOST:PORT), then every EVERY seconds send a request on each
# still open and count those answered: "alive N" per round
FLOOD='
import selectors, socket, sys, time
where, count, every, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
REQ, WANT = b"21:transport example.org,", b"19:OK smtp:[192.0.2.7],"
def conn():
    if "/" in where:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(where)
        return s
    host, port = where.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=2)
socks = []
for i in range(count):
    try:
        socks.append(conn())
    except OSError:
        pass
print("connected", len(socks), flush=True)
end = time.time() + secs
while True:
    sel = selectors.DefaultSelector()
    got = {}
    for s in socks:
        try:
            s.setblocking(False)
            s.send(REQ)
            sel.register(s, selectors.EVENT_READ)
            got[s] = b""
        except OSError:
            pass
    deadline = time.time() + 2
    while sel.get_map() and time.time() < deadline:
        for k, _ in sel.select(0.1):
            s = k.fileobj
            try:
                b = s.recv(100)
            except OSError:
                b = b""
            got[s] += b
            if not b or len(got[s]) >= len(WANT):
                sel.unregister(s)
    socks = [s for s in got if got[s] == WANT]
    print("alive", len(socks), flush=True)
    if time.time() >= end:
        break
    time.sleep(every)
time.sleep(max(0, end - time.time()))
'
flood() { # OUT WHO... -- WHERE COUNT EVERY SECONDS
	local out=$1
	shift
	local who=()
	while [ "$1" != "--" ]; do who+=("$1"); shift; done
	shift
	"${who[@]}" "$PY" -c "$FLOOD" "$@" >"$out" 2>&1 &
	T_BG+=($!)
	local i
	for i in $(seq 1 200); do
		grep -q '^alive' "$out" && return 0
		sleep 0.1
	done
	return 1
}
alive() { sed -n 's/^alive //p' "$1" | head -1; }

# one transport query; prints the reply
QUERY='
import socket, sys
where = sys.argv[1]
if "/" in where:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(where)
else:
    h, p = where.rsplit(":", 1); s = socket.create_connection((h, int(p)))
s.settimeout(3)
s.sendall(b"21:transport example.org,")
out = b""
try:
    while not out.endswith(b","):
        b = s.recv(100)
        if not b:
            break
        out += b
except OSError as e:
    print("error:", e)
print(out.decode(errors="replace"))
'
query() { # WHERE WHO...
	local where=$1
	shift
	"$@" "$PY" -c "$QUERY" "$where"
}
WANT="19:OK smtp:[192.0.2.7],"

new_dir D
chmod 0755 "$D"
write_conf() { # extra [socketmap] lines...
	{
		echo "[daemon]"
		echo "user = $DUSER"
		echo "[socketmap]"
		echo "listen = 127.0.0.1:$TCP_PORT"
		echo "idle_timeout_s = 3"
		local l
		for l in "$@"; do echo "$l"; done
	} >"$D/mxcached.conf"
}
write_conf
check "mxcached starts as root with a TCP socketmap listener" daemon_start "$D" -c "$D/mxcached.conf"
check "override example.org" "$SHMCTL" -d "$D" override set example.org 192.0.2.7
SOCK=$D/socketmap.sock
# the server starts a moment after mxcached answers
answered() { [ "$(query "$1" "${READER[@]}" 2>/dev/null)" = "$WANT" ]; }
check "a group member is answered on the unix socket" wait_for answered "$SOCK"

# --- the attack: 1,030 TCP connections from one address, kept busy
check "a user in no group opens 1030 TCP connections and sends requests on them" \
	flood "$D/flood.out" "${OTHER[@]}" -- "127.0.0.1:$TCP_PORT" 1030 1 15
n=$(alive "$D/flood.out")
check "the server serves at most 256 of them, the per-address limit (${n:-?})" test "${n:-9999}" -le 256 -a "${n:-0}" -ge 1
expect_out "$WANT" "a group member is still answered on the unix socket" query "$SOCK" "${READER[@]}"
expect_out "$WANT" "  and another one" query "$SOCK" "${READER2[@]}"
check "refusals are counted" wait_for counter_above socketmap_peer_connections_refused_total 500
check "and logged, naming the limit" grep -q "socketmap: .*refused .*127.0.0.1.*max_connections_per_address" "$D/daemon.log"
n=$(grep -c "socketmap: .*refused" "$D/daemon.log")
check "not once per connection (${n} lines)" test "$n" -le 2
sleep 4
n=$(sed -n 's/^alive //p' "$D/flood.out" | tail -1)
check "connections busy with requests stay past idle_timeout_s (${n:-?})" test "${n:-0}" -ge 200
bg_stop

# --- trickling: a byte a second never completes a request in time
TRICKLE='
import socket, sys, time
h, p = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((h, int(p)))
s.settimeout(0.9)
t = time.time()
def closed():
    try:
        return s.recv(100) == b""
    except socket.timeout:
        return False
    except OSError:
        return True
if sys.argv[2] == "after-request":
    s.sendall(b"21:transport example.org,")
    s.recv(100)
for c in b"21:transport example.org," * 2:
    try:
        s.send(bytes([c]))
    except OSError:
        break
    if closed():
        break
print("closed after %.1f s" % (time.time() - t))
'
trickle() { "${OTHER[@]}" "$PY" -c "$TRICKLE" "127.0.0.1:$TCP_PORT" "$1" | sed -n 's/^closed after \([0-9]*\).*/\1/p'; }
n=$(trickle first)
check "a connection that sends a byte a second is closed at idle_timeout_s (${n:-?} s)" test "${n:-99}" -le 5
n=$(trickle after-request)
check "so is one that trickles its second request (${n:-?} s)" test "${n:-99}" -le 5
check "the closes are counted" wait_for counter_above socketmap_timeouts_total 1
check "mxcached stops" daemon_stop "$D"

# --- each listener its own share of max_connections; a uid its own limit
write_conf "max_connections = 40" "max_connections_per_address = 1000" "max_connections_per_uid = 10"
check "mxcached starts with max_connections = 40" daemon_start "$D" -c "$D/mxcached.conf"
check "override example.org" "$SHMCTL" -d "$D" override set example.org 192.0.2.7
check "the server answers" wait_for answered "$SOCK"
check "a flood of 100 TCP connections" flood "$D/tcp.out" "${OTHER[@]}" -- "127.0.0.1:$TCP_PORT" 100 1 10
n=$(alive "$D/tcp.out")
check "is served half of max_connections, the TCP listener's share (${n:-?})" test "${n:-99}" -eq 20
check "a group member opens 100 unix connections" flood "$D/unix.out" "${READER[@]}" -- "$SOCK" 100 1 10
n=$(alive "$D/unix.out")
check "and is served max_connections_per_uid of them (${n:-?})" test "${n:-99}" -eq 10
expect_out "$WANT" "another group member is answered on the unix socket" query "$SOCK" "${READER2[@]}"
check "the listener's limit is logged" grep -q "socketmap: .*refused .*TCP.*listen_max_connections" "$D/daemon.log"
check "the uid's limit is logged" grep -q "socketmap: .*refused .*uid 4001.*max_connections_per_uid" "$D/daemon.log"
bg_stop
check "mxcached stops" daemon_stop "$D"

# --- limits that do not fit are config errors
write_conf "max_connections = 100" "unix_max_connections = 60" "listen_max_connections = 60"
expect_rc 1 "listener limits that add up to more than max_connections: refused" \
	"$MXCACHED" -d "$D" -c "$D/mxcached.conf" --check-config
check "  saying why" grep -q "max_connections" /tmp/t.err.$$
done_testing
