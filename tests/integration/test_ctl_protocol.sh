#!/usr/bin/env bash
# test_ctl_protocol - the admin protocol on ctl.sock, request by request,
# as transcripts: every command's reply, its usage and error texts, which
# peers may send it, and the order the checks come in (a malformed line,
# then an unknown command, then a peer without change rights, then the
# arguments).  shmctl never sends most of these mistakes; a peer speaking
# the protocol by hand may.
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
DGID=$(id -g $DUSER)
ADMIN_GID=4242
READER=(setpriv --reuid=4001 --regid=4001 --groups="$DGID")
ADMIN=(setpriv --reuid=4002 --regid=4002 --groups="$DGID,$ADMIN_GID")
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# session SOCK PID - send stdin's lines on one connection, all at once,
# then end the sending side and print every reply line until the daemon
# closes.  A last line "@long" sends 8192 bytes with no '\n' instead and
# leaves the sending side open (what the daemon has not read when it
# closes would reset the connection).  Python escapes (\x01) in a line travel as the byte; the
# daemon's pid prints as <pid>.
SESSION='
import codecs, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
lines = sys.stdin.read().splitlines()
long = lines[-1:] == ["@long"]
if long:
    lines.pop()
s.sendall(b"".join(codecs.escape_decode(l.encode())[0] + b"\n" for l in lines))
if long:
    s.sendall(b"a" * 8192)
else:
    s.shutdown(socket.SHUT_WR)
buf = b""
while True:
    try:
        k = s.recv(65536)
    except ConnectionResetError:
        print("(reset)")
        break
    if not k:
        break
    buf += k
for l in buf.decode(errors="replace").splitlines():
    print("<pid>" if l == "OK " + sys.argv[2] else l)
'

new_dir D
check "mxcached starts as root with [daemon] user = $DUSER" daemon_start_as "$D" "$DUSER" "$ADMIN_GID"
PID=$(cat "$D/test.pid")
S=$D/ctl.sock

# transcript DESC WANT WHO... - a session as WHO (stdin: the requests)
# prints exactly WANT
transcript() {
	local desc=$1 want=$2 got
	shift 2
	got=$("$@" "$PY" -c "$SESSION" "$S" "$PID" 2>&1)
	[ "$got" = "$want" ]
	_result $? "$desc"
	[ "$got" = "$want" ] || diff <(echo "$want") <(echo "$got") | sed 's/^/#   /'
	return 0
}

NOPE="ERR EPERM only%20root,%20mxcached's%20own%20user%20and%20[ctl]%20admin_group%20may%20change%20the%20caches%20(mxcached%20runs%20as%20$DUSER;%20admin_group%20is%20$ADMIN_GID)"

# --- lines the daemon cannot read, and commands it does not know
transcript "malformed lines and unknown commands" "ERR EPROTO malformed%20line
ERR EPROTO malformed%20line
ERR EPROTO malformed%20line
ERR EPROTO malformed%20line
ERR EPROTO malformed%20line
ERR EPROTO unknown%20command
ERR EPROTO unknown%20command
ERR EPROTO unknown%20command
ERR EPROTO unknown%20command
<pid>
<pid>
OK" "${ADMIN[@]}" <<'EOF'

PING  PING
PING %1
PING a\x01b
1 2 3 4 5 6 7 8 9
FROB
ping
FED-BOGUS
STS-
PING
PING with words
QUIT
PING
EOF

# --- the overrides
transcript "SET and DEL" "ERR EPROTO usage:%20SET%20<key>%20<target>%20<comment>
ERR EPROTO usage:%20SET%20<key>%20<target>%20<comment>
OK set.ctl.test 192.0.2.1
OK set.ctl.test 192.0.2.1
ERR EPROTO usage:%20DEL%20<key>
ERR EPROTO usage:%20DEL%20<key>
OK set.ctl.test
NOTFOUND set.ctl.test
NOTFOUND nothere.ctl.test" "${ADMIN[@]}" <<'EOF'
SET set.ctl.test
SET set.ctl.test 192.0.2.1 a b
SET set.ctl.test 192.0.2.1 %-
SET SET.Ctl.Test. 192.0.2.1 a%20comment
DEL
DEL a b
DEL set.ctl.test
DEL set.ctl.test
DEL nothere.ctl.test
EOF
transcript "SET and DEL: what the key, target and comment may be" "ERR EINVAL key:%20empty
ERR EINVAL key%20'bad..ctl.test':%20not%20a%20domain%20or%20IP%20literal
ERR EINVAL target:%20empty
ERR EINVAL target%20'not%20a%20target':%20not%20a%20host%20name%20or%20IP%20address
ERR EINVAL key%20'bad..ctl.test':%20not%20a%20domain%20or%20IP%20literal
ERR EINVAL key:%20empty" "${ADMIN[@]}" <<'EOF'
SET %- 192.0.2.1 %-
SET bad..ctl.test 192.0.2.1 %-
SET t.ctl.test %- %-
SET t.ctl.test not%20a%20target %-
DEL bad..ctl.test
DEL %-
EOF
expect_rc 1 "  nothing stored" "$SHMCTL" -d "$D" resolve t.ctl.test

# --- MTA-STS and MX (no fetch: each request stops before the network)
transcript "STS-FETCH, STS-DEL and MX-FETCH: usage and names" "ERR EPROTO usage:%20STS-FETCH%20<domain>
ERR EINVAL not%20a%20domain%20name
ERR EINVAL not%20a%20domain%20name
ERR EPROTO usage:%20STS-DEL%20<domain>
ERR EINVAL not%20a%20domain%20name
NOTFOUND nothere.ctl.test
ERR EPROTO usage:%20MX-FETCH%20<domain>
ERR EPROTO usage:%20MX-FETCH%20<domain>
ERR EINVAL not%20a%20domain%20name
ERR EINVAL not%20a%20domain%20name" "${ADMIN[@]}" <<'EOF'
STS-FETCH
STS-FETCH [192.0.2.1]
STS-FETCH a..b
STS-DEL a b
STS-DEL user@ctl.test
STS-DEL NotHere.ctl.test.
MX-FETCH
MX-FETCH a b
MX-FETCH %-
MX-FETCH [192.0.2.1]
EOF

# --- federation
transcript "FED-*: every command, its usage and its replies" "ERR EPROTO usage:%20FED-POLICY%20accept|reject
ERR EPROTO usage:%20FED-POLICY%20accept|reject
ERR EPROTO usage:%20FED-POLICY%20accept|reject
OK REJECT 0
OK ACCEPT 0
ERR EPROTO usage:%20FED-LOCAL|FED-ADD|FED-DEL%20<domain>
ERR EPROTO usage:%20FED-LOCAL|FED-ADD|FED-DEL%20<domain>
ERR EPROTO usage:%20FED-LOCAL|FED-ADD|FED-DEL%20<domain>
ERR EINVAL not%20a%20domain%20name%20or%20IP%20literal
ERR EINVAL not%20a%20domain%20name%20or%20IP%20literal
OK local.ctl.test
OK %-
OK 1 added
OK 1 exists
OK 2 added
NOTFOUND 2
OK 1
ERR EPROTO usage:%20FED-FLUSH
OK 1
OK 0
ERR EPROTO unknown%20command" "${ADMIN[@]}" <<'EOF'
FED-POLICY
FED-POLICY maybe
FED-POLICY accept reject
FED-POLICY REJECT
FED-POLICY accept
FED-LOCAL
FED-ADD a b
FED-DEL
FED-ADD a..b
FED-DEL %-
FED-LOCAL Local.Ctl.Test.
FED-LOCAL %-
FED-ADD a.ctl.test
FED-ADD A.ctl.test
FED-ADD [192.0.2.7]
FED-DEL nothere.ctl.test
FED-DEL [192.0.2.7]
FED-FLUSH now
FED-FLUSH
FED-FLUSH
FED-POLICYX accept
EOF

# --- IMPORT
transcript "IMPORT: records, a bad one, END" "ERR EPROTO usage:%20IMPORT
BAD 2 expected%20REC%20<lineno>%20<key>%20<target>%20<comment>
OK 2 1
<pid>" "${ADMIN[@]}" <<'EOF'
IMPORT now
IMPORT
REC 1 a.import.ctl.test 192.0.2.1 %-
REC 2 b.import.ctl.test 192.0.2.2
REC 3 c.import.ctl.test 192.0.2.3 c
END 3
PING
EOF
expect_out "192.0.2.3" "  the records are in" "$SHMCTL" -d "$D" resolve c.import.ctl.test
transcript "IMPORT: anything but REC or END ends it, with the count so far" \
	"ERR EPROTO expected%20REC%20<lineno>%20<key>%20<target>%20<comment>%20or%20END%20<lines-read> 0" \
	"${ADMIN[@]}" <<'EOF'
IMPORT
REC 1 d.import.ctl.test 192.0.2.4 %-
PING
PING
EOF
expect_rc 1 "  the record being filled is dropped" "$SHMCTL" -d "$D" resolve d.import.ctl.test
transcript "IMPORT: REC with a bad line number ends it" \
	"ERR EPROTO expected%20REC%20<lineno>%20<key>%20<target>%20<comment>%20or%20END%20<lines-read> 0" \
	"${ADMIN[@]}" <<'EOF'
IMPORT
REC x e.import.ctl.test 192.0.2.5 %-
EOF
transcript "IMPORT: a client gone before END is answered nothing" "" "${ADMIN[@]}" <<'EOF'
IMPORT
REC 1 f.import.ctl.test 192.0.2.6 %-
EOF

# --- a line over the limit
transcript "an overlong line: one ERR, then the close" "ERR EPROTO line%20longer%20than%208192%20bytes" \
	"${ADMIN[@]}" <<<"@long"
transcript "an overlong line in an import: the count so far" \
	"ERR EPROTO line%20longer%20than%208192%20bytes 0" "${ADMIN[@]}" <<'EOF'
IMPORT
@long
EOF

# --- a peer that may read but not change
transcript "a reader: PING and QUIT, unknown commands; every change refused" "<pid>
ERR EPROTO malformed%20line
ERR EPROTO unknown%20command
$NOPE
$NOPE
$NOPE
$NOPE
$NOPE
$NOPE
$NOPE
$NOPE
$NOPE
$NOPE
$NOPE
$NOPE
OK" "${READER[@]}" <<'EOF'
PING
%
FROB
SET r.ctl.test 192.0.2.1 %-
SET
DEL r.ctl.test
IMPORT
IMPORT now
STS-FETCH ctl.test
STS-DEL ctl.test
MX-FETCH ctl.test
FED-POLICY reject
FED-FLUSH
FED-ADD a..b
FED-BOGUS
QUIT
PING
EOF
check "  none of it done" sh -c "! grep 'ctl: uid 4001 ' '$D/daemon.log' | grep -v 'may not change'"

check "mxcached stops cleanly" daemon_stop "$D"
done_testing
