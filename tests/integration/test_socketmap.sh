#!/usr/bin/env bash
# test_socketmap - the Postfix socketmap service of a real mxcached: golden
# request/reply transcripts (tests/golden/socketmap/*.req -> *.rep, byte for
# byte), broken input, a client that stops reading, many connections, idle
# timeout, TCP, the server restarted after a crash, strict testing and
# TLSRPT attributes, and Postfix's own client (postmap).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

GOLDEN=tests/golden/socketmap
SMC="python3 tests/sm_client.py"
ns() { printf '%d:%s,' "${#1}" "$1"; }
new_dir D

TCP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
write_conf() { # extra lines...
	{
		echo "[dns]"
		echo "servers = 127.0.0.1:9"      # nothing answers: fetches fail fast
		echo "timeout_ms = 200"
		echo "retries = 0"
		echo "[socketmap]"
		echo "listen = ${LISTEN:-$TCP_PORT}"   # a bare port: loopback
		echo "idle_timeout_s = 2"
		local l
		for l in "$@"; do echo "$l"; done
	} >"$D/mxcached.conf"
}
write_conf

# --- state: overrides through shmctl, MTA-STS entries seeded in SQLite ---
check "mxcached starts" daemon_start "$D" -c "$D/mxcached.conf"
check "override example.org" "$SHMCTL" -d "$D" override set example.org 192.0.2.7
check "override [1.1.1.1]" "$SHMCTL" -d "$D" override set "[1.1.1.1]" mx.example.net
check "override an IPv6 key" "$SHMCTL" -d "$D" override set "[IPv6:2001:db8::1]" "2001:db8::25"
check "a federation rule (policy accept: a blocklist)" "$SHMCTL" -d "$D" federation rule add blocked.example
check "mxcached stops" daemon_stop "$D"
now=$(date +%s)
seed() { # domain kind mode mx valid_end [policy text, an SQL expression]
	echo "INSERT INTO sts(domain, kind, mode, max_age, flags, record_id, mx, inserted, valid_end, last_update," \
		"last_use, next_check, txt_checked, policy_text) VALUES('$1', $2, $3, 86400, 1, 'id1', '$4', $now, $5, $now," \
		"$now, $((now + 86400)), $now, ${6:-''});"
}
# as served: CRLF line ends and an extension line, kept byte for byte
CRLF="char(13, 10)"
TESTING_TEXT="'version: STSv1' || $CRLF || 'mode: testing' || $CRLF || 'mx: mx.testing.test' || $CRLF ||"
TESTING_TEXT="$TESTING_TEXT 'max_age: 86400' || $CRLF || 'x-note: {braces} are left out' || $CRLF || 'foo: bar' || $CRLF" 
{
	seed good.test 1 2 $'mail.good.test\n*.backup.good.test' $((now + 86400))
	seed testing.test 1 1 'mx.testing.test' $((now + 86400)) "$TESTING_TEXT"
	seed none.test 1 0 '' $((now + 86400))
	seed backoff.test 2 0 '' $((now + 300))
	seed expired.test 1 2 'mx.expired.test' $((now - 10))
	# DANE beside MTA-STS: usable TLSA and no policy; usable TLSA and an
	# enforce policy (DANE wins); only unusable TLSA; a DANE state whose
	# TTL ran out (MTA-STS again)
	seed dane.test 3 0 '' $((now + 86400))
	seed danests.test 1 2 'mx.danests.test' $((now + 86400))
	seed daneun.test 1 2 'mx.daneun.test' $((now + 86400))
	seed danegone.test 1 2 'mx.danegone.test' $((now + 86400))
	echo "UPDATE sts SET dane = 2, dane_flags = 5, dane_valid_end = $((now + 3600)) WHERE domain IN ('dane.test', 'danests.test');"
	echo "UPDATE sts SET dane = 3, dane_flags = 5, dane_valid_end = $((now + 3600)) WHERE domain = 'daneun.test';"
	echo "UPDATE sts SET dane = 2, dane_flags = 5, dane_valid_end = $((now - 1)) WHERE domain = 'danegone.test';"
} | sqlite3 "$D/mxcache.db"
check "MTA-STS entries seeded" test "$(sqlite3 "$D/mxcache.db" 'SELECT count(*) FROM sts')" -eq 9
check "mxcached restarts" daemon_start "$D" -c "$D/mxcached.conf"
SOCK=$D/socketmap.sock
check "socketmap.sock is there, mode 0660" test "$(stat -c %a "$SOCK")" = 660
check "the start line names the unix socket and the TCP address" \
	grep -q "socketmap: serving $SOCK and TCP 127.0.0.1:$TCP_PORT\$" "$D/daemon.log"
STAMP='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z '
check "under -f, the socketmap server's lines come stamped as the daemon's" \
	wait_for grep -Eq "${STAMP}socketmap: serving 2 sockets, maps" "$D/daemon.log"
check "  every line of the log is" test "$(grep -cEv "$STAMP" "$D/daemon.log")" -eq 0

# --- golden transcripts ---
for req in "$GOLDEN"/*.req; do
	name=$(basename "$req" .req)
	$SMC "$SOCK" "$req" >"$D/$name.got" 2>"$D/$name.err"
	cmp -s "$D/$name.got" "$GOLDEN/$name.rep"
	_result $? "golden: $name"
	cmp -s "$D/$name.got" "$GOLDEN/$name.rep" || {
		echo "#   want: $(head -c 300 "$GOLDEN/$name.rep")"
		echo "#   got:  $(head -c 300 "$D/$name.got")"
	}
done

# broken framing closes the connection: the client sees EOF at once
t=$(date +%s%N)
SM_WAIT=5 $SMC "$SOCK" "$GOLDEN/bad_terminator.req" >/dev/null
ms=$((($(date +%s%N) - t) / 1000000))
check "a broken netstring: the server closes at once (${ms} ms)" test "$ms" -lt 2000

# the same over TCP
$SMC "127.0.0.1:$TCP_PORT" "$GOLDEN/pipelined.req" >"$D/tcp.got"
check "TCP listener: the same answers" cmp -s "$D/tcp.got" "$GOLDEN/pipelined.rep"

# --- a client that stops reading does not stall the others ---
python3 - "$SOCK" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
req = b"21:transport example.org," * 20000
s.setblocking(False)
sent = 0
end = time.time() + 3
while time.time() < end and sent < len(req):
    try:
        sent += s.send(req[sent:sent + 65536])
    except BlockingIOError:
        time.sleep(0.01)
time.sleep(3)
PY
STALLER=$!
sleep 0.5
$SMC "$SOCK" "$GOLDEN/transport.req" >"$D/during.got"
check "answers go on while another client does not read" cmp -s "$D/during.got" "$GOLDEN/transport.rep"
wait "$STALLER" 2>/dev/null

# --- a deep pipeline read slowly: more replies than SM_OUT_MAX wait at
# times, so reading stops and starts again; every reply comes, in order ---
python3 - "$SOCK" <<'PY'
import socket, sys, time
reqs = [b"21:transport example.org,", b"25:transport nothing.example,", b"16:mtasts good.test,",
        b"28:transport [IPv6:2001:DB8::1],", b"15:unknown-map key,"]
n = 30000
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(10)
data = b"".join(reqs[i % len(reqs)] for i in range(n))
sent, got, end = 0, b"", time.time() + 30
s.setblocking(False)
while time.time() < end:
    if sent < len(data):
        try:
            sent += s.send(data[sent:sent + 4096])
        except BlockingIOError:
            pass
    try:
        b = s.recv(1024)                # slowly: the server's output piles up
        if not b:
            break
        got += b
        time.sleep(0.0002)
    except BlockingIOError:
        time.sleep(0.001)
    if sent == len(data) and got.count(b",") >= n:
        break
replies, i = [], 0
while i < len(got):
    c = got.index(b":", i)
    ln = int(got[i:c])
    replies.append(got[c + 1:c + 1 + ln])
    i = c + 1 + ln + 1
want = [b"OK smtp:[192.0.2.7]", b"NOTFOUND ", None, b"OK smtp:[2001:db8::25]", None]
bad = [k for k, r in enumerate(replies) if want[k % 5] is not None and r != want[k % 5]]
bad += [k for k, r in enumerate(replies) if k % 5 == 2 and not r.startswith(b"OK secure match=")]
bad += [k for k, r in enumerate(replies) if k % 5 == 4 and not r.startswith(b"PERM unknown map")]
print(f"# {len(replies)} replies of {n}, {len(bad)} out of place")
sys.exit(0 if len(replies) == n and not bad else 1)
PY
check "a deep pipeline, read slowly: every reply, in order" test $? -eq 0

# --- many connections at once ---
python3 - "$SOCK" <<'PY'
import socket, sys
conns = []
for i in range(300):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); conns.append(s)
for s in conns:
    s.sendall(b"21:transport example.org,")
bad = 0
for s in conns:
    s.settimeout(5)
    want = b"19:OK smtp:[192.0.2.7],"
    got = b""
    while len(got) < len(want):
        b = s.recv(100)
        if not b:
            break
        got += b
    bad += got != want
sys.exit(1 if bad else 0)
PY
_result $? "300 connections at once, each answered"

# --- idle connections are closed ---
python3 - "$SOCK" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.settimeout(6)
t = time.time()
b = s.recv(10)
sys.exit(0 if b == b"" and 1 <= time.time() - t <= 5 else 1)
PY
_result $? "an idle connection is closed after idle_timeout_s"

# --- a key with no policy yet: the answer waits for the daemon's check ---
# (its DNS server does not answer: the check fails after timeout_ms, well
# within miss_wait_ms, and the answer is NOTFOUND; the request behind it
# on the same connection is answered after it, in order)
{ ns "mtasts fresh.example"; ns "transport example.org"; } >"$D/fresh.req"
SM_WAIT=5 $SMC "$SOCK" "$D/fresh.req" >"$D/fresh.got"
check "no policy yet: NOTFOUND once the check failed, then the next reply, in order" \
	grep -q "^9:NOTFOUND ,19:OK smtp:\[192.0.2.7\],$" "$D/fresh.got"
ok=1
for i in $(seq 1 50); do
	"$SHMCTL" -d "$D" sts list 2>/dev/null | grep -q "^fresh.example " && { ok=0; break; }
	sleep 0.1
done
_result $ok "and the daemon was asked to fetch it (an entry appears)"

# --- DANE first: RFC 8461 section 2 leaves a DANE domain to DANE ---
mkdir -p "$D/postfix" && : >"$D/postfix/main.cf"
for q in "dane.test dane-only" "danests.test dane-only" "daneun.test dane" \
	"danegone.test secure match=mx.danegone.test servername=hostname"; do
	set -- $q
	d=$1
	shift
	expect_out "$*" "mtasts $d: $*" postmap -c "$D/postfix" -q "$d" "socketmap:unix:$SOCK:mtasts"
done
expect_out "dane-only" "mtasts-tlsrpt: a DANE answer carries no MTA-STS attributes" \
	postmap -c "$D/postfix" -q danests.test "socketmap:unix:$SOCK:mtasts-tlsrpt"
expect_rc 0 "sts get shows the DANE state" "$SHMCTL" -d "$D" sts get danests.test
check "  dane: usable, until its TTL ends" grep -q "^dane: usable (until " /tmp/t.out.$$
check "  and the answer the map gives" grep -q "^tls_policy: dane-only (from dane)" /tmp/t.out.$$

# --- a waiting request holds up no other connection ---
# A asks about a domain whose check needs the DNS timeout (200 ms); B's
# request, sent after A's, is answered while A still waits, and A gets
# its answer afterwards
python3 - "$SOCK" <<'PY'
import socket, sys
def ns(s): return b"%d:%s," % (len(s), s)
a = socket.socket(socket.AF_UNIX); a.connect(sys.argv[1])
b = socket.socket(socket.AF_UNIX); b.connect(sys.argv[1])
a.sendall(ns(b"mtasts slow1.example"))
b.sendall(ns(b"transport example.org"))
b.settimeout(5)
got_b = b.recv(100)
a.setblocking(False)
try:
    early = a.recv(100)
except BlockingIOError:
    early = b""
a.settimeout(5)
got_a = early or a.recv(100)
ok = got_b == b"19:OK smtp:[192.0.2.7]," and early == b"" and got_a == b"9:NOTFOUND ,"
print("# b:", got_b, "a early:", early, "a:", got_a)
sys.exit(0 if ok else 1)
PY
_result $? "a waiting request holds up no other connection"

# --- the TLSRPT attributes: always on mtasts-tlsrpt, on mtasts only with tlsrpt = yes ---
{ ns "mtasts good.test"; ns "mtasts-tlsrpt good.test"; } >"$D/maps.req"
$SMC "$SOCK" "$D/maps.req" >"$D/maps.got"
check "mtasts without tlsrpt: the policy alone" \
	grep -q "^[0-9]*:OK secure match=mail.good.test:.backup.good.test servername=hostname," "$D/maps.got"
check "mtasts-tlsrpt: the policy and its TLSRPT attributes (no text kept: no policy_string)" \
	grep -q ",[0-9]*:OK secure match=mail.good.test:.backup.good.test servername=hostname policy_type=sts policy_domain=good.test mx_host_pattern=mail.good.test mx_host_pattern=\*.backup.good.test,$" "$D/maps.got"

# --- postmap, Postfix's own client ---
mkdir -p "$D/postfix" && : >"$D/postfix/main.cf"
if command -v postmap >/dev/null 2>&1; then
	expect_out "secure match=mail.good.test:.backup.good.test servername=hostname" "postmap -q mtasts" \
		postmap -c "$D/postfix" -q good.test "socketmap:unix:$SOCK:mtasts"
	expect_out "smtp:[192.0.2.7]" "postmap -q transport" \
		postmap -c "$D/postfix" -q example.org "socketmap:unix:$SOCK:transport"
	expect_rc 1 "postmap -q of a key without an answer: not found" \
		postmap -c "$D/postfix" -q none.test "socketmap:unix:$SOCK:mtasts"
	expect_out "smtp:[192.0.2.7]" "postmap over TCP" \
		postmap -c "$D/postfix" -q example.org "socketmap:inet:127.0.0.1:$TCP_PORT:transport"
else
	_result 1 "postmap is installed (make test installs postfix)"
fi

# --- the server is restarted by mxcached after a crash ---
pid=$(pgrep -f "mxcache-socketmap -d $D" | head -1)
check "the server runs as mxcached's child" test -n "$pid"
kill -9 "$pid" 2>/dev/null
ok=1
for i in $(seq 1 40); do
	sleep 0.1
	$SMC "$SOCK" "$GOLDEN/mtasts_enforce.req" 2>/dev/null | cmp -s - "$GOLDEN/mtasts_enforce.rep" && { ok=0; break; }
done
_result $ok "killed with SIGKILL: answering again within 4 s"
check "the crash is in the daemon's log" grep -q "socketmap: .* killed by signal 9" "$D/daemon.log"

# --- strict testing and TLSRPT attributes ---
check "mxcached stops" daemon_stop "$D"
check "no server left behind" sh -c "! pgrep -f '[m]xcache-socketmap -d $D' >/dev/null"
write_conf "strict_testing = yes" "tlsrpt = yes" "transport = relay"
check "mxcached starts with strict testing and TLSRPT" daemon_start "$D" -c "$D/mxcached.conf"
{ ns "mtasts testing.test"; ns "transport example.org"; } >"$D/strict.req"
$SMC "$SOCK" "$D/strict.req" >"$D/strict.got"
check "strict testing: a testing policy is enforced" grep -q "OK secure match=mx.testing.test servername=hostname" "$D/strict.got"
check "TLSRPT: policy_type and policy_domain" grep -q "policy_type=sts policy_domain=testing.test mx_host_pattern=mx.testing.test" "$D/strict.got"
check "TLSRPT: the policy lines as served" grep -q "{ policy_string = version: STSv1 } { policy_string = mode: testing } { policy_string = mx: mx.testing.test } { policy_string = max_age: 86400 } { policy_string = foo: bar }" "$D/strict.got"
check "TLSRPT: a line holding a brace is left out" sh -c "! grep -q 'braces' '$D/strict.got'"
# the mtasts-tlsrpt map has them whatever tlsrpt says; mtasts only with it
{ ns "mtasts-tlsrpt testing.test"; } >"$D/tlsrpt.req"
$SMC "$SOCK" "$D/tlsrpt.req" >"$D/tlsrpt.got"
check "mtasts-tlsrpt: the same answer with TLSRPT attributes" grep -q "OK secure match=mx.testing.test servername=hostname policy_type=sts policy_domain=testing.test mx_host_pattern=mx.testing.test { policy_string = version: STSv1 }" "$D/tlsrpt.got"
check "transport = relay" grep -q "OK relay:\[192.0.2.7\]" "$D/strict.got"

check "mxcached stops cleanly" daemon_stop "$D"
check "socketmap.sock removed at stop" test ! -e "$SOCK"

# --- a bad listen address fails the start, with the reason ---
LISTEN=192.0.2.123:25 write_conf
expect_rc 1 "an address not on this host: mxcached refuses to start" "$MXCACHED" -d "$D" -f -c "$D/mxcached.conf"
check "saying why" grep -q "socketmap: listen on 192.0.2.123:25" /tmp/t.err.$$
done_testing
