#!/usr/bin/env bash
# test_tls_pins - the operator's TLS pins through a real mxcached: shmctl
# tls set, get, list and del, what they print and their exit statuses;
# policies and domains refused on both sides (shmctl and ctl.sock);
# durability across a kill -9 right after a change is acknowledged; the
# region passing verify and counting the pins; and a peer without change
# rights refused.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

new_dir D
T() { "$SHMCTL" -d "$D" tls "$@"; }
# rows - the tls_pins rows, "domain|policy"
rows() { sqlite3 "$D/mxcache.db" "SELECT domain || '|' || policy FROM tls_pins ORDER BY domain"; }
# ctl LINE - one raw request on ctl.sock, its reply
ctl() {
	"$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    k = s.recv(65536)
    if not k:
        break
    buf += k
sys.stdout.write(buf.decode(errors="replace"))' "$D/ctl.sock" "$1"
}

# --- no daemon, no region
expect_rc 3 "get before mxcached ever ran: region unavailable (3)" T get example.com
expect_rc 3 "list too" T list
expect_rc 3 "set without mxcached: daemon unavailable (3)" T set example.com may
check "  said in plain words" grep -q "mxcached is not running" /tmp/t.err.$$

check "mxcached starts" daemon_start "$D"
expect_rc 0 "list with no pins" T list
check "  prints nothing" test ! -s /tmp/t.out.$$
expect_out "[
]" "list --json with no pins: an empty array" T list --json

# --- set, get, list, del
expect_out "example.com secure match=mx.example.net" "set: the policy as several words, joined by single spaces" \
	T set Example.COM. secure match=mx.example.net
expect_out "secure match=mx.example.net" "get finds it, any spelling" T get EXAMPLE.com.
expect_out "b.example dane-only" "set: one word" T set b.example dane-only
expect_out "c.example secure match=.c.example servername=hostname" "set: the policy as one quoted argument" \
	T set c.example "secure match=.c.example servername=hostname"
expect_out "b.example dane-only
c.example secure match=.c.example servername=hostname
example.com secure match=mx.example.net" "list: DOMAIN POLICY lines, by domain" T list
expect_out "b.example encrypt" "set again replaces the policy" T set b.example encrypt
expect_out "encrypt" "  which get shows at once" T get b.example
expect_rc 0 "list --json" T list --json
check "  an array of domain, policy, created and updated" "$PY" -c "
import json; v = json.load(open('/tmp/t.out.$$'))
assert [p['domain'] for p in v] == ['b.example', 'c.example', 'example.com'], v
assert v[0]['policy'] == 'encrypt' and v[2]['policy'] == 'secure match=mx.example.net', v
assert all(set(p) == {'domain', 'policy', 'created', 'updated'} for p in v), v
assert all(isinstance(p['created'], int) and p['created'] > 0 and p['updated'] >= p['created'] for p in v), v"
expect_rc 1 "get of a domain without a pin: 1" T get none.example
check "  said on stderr" grep -q "none.example: no TLS pin" /tmp/t.err.$$
expect_out "deleted the TLS pin of c.example" "del" T del C.Example
expect_rc 1 "get after del: 1" T get c.example
expect_rc 1 "del of a domain without a pin: 1" T del c.example
check "  said on stderr" grep -q "c.example: no TLS pin" /tmp/t.err.$$
expect_out "b.example|encrypt
example.com|secure match=mx.example.net" "SQLite holds what was acknowledged" rows

# --- refused: shmctl names the mistake and sends nothing
expect_rc 4 "an unknown level: 4" T set x.example foo
check "  named" grep -q "unknown TLS security level" /tmp/t.err.$$
expect_rc 4 "a control character: 4" T set x.example "$(printf 'may\tx=y')"
check "  named" grep -q "control character or non-ASCII byte in the policy" /tmp/t.err.$$
expect_rc 4 "1025 bytes: 4" T set x.example "may x=$(head -c 1019 /dev/zero | tr '\0' a)"
check "  named" grep -q "policy longer than 1024 bytes" /tmp/t.err.$$
expect_rc 0 "1024 bytes are taken" T set x.example "may x=$(head -c 1018 /dev/zero | tr '\0' a)"
expect_rc 0 "  and deleted" T del x.example
expect_rc 4 "an empty policy: 4" T set x.example ""
check "  named" grep -q "empty policy" /tmp/t.err.$$
expect_rc 4 "an attribute without a value: 4" T set x.example secure match
expect_rc 4 "an IP literal: 4" T set 192.0.2.1 may
check "  told a pin is for a domain name" grep -q "domain '192.0.2.1': an IP literal; a TLS pin is set for a domain name" /tmp/t.err.$$
expect_rc 4 "an IP literal in brackets: 4" T set "[IPv6:2001:db8::1]" may
expect_rc 4 "get of an IP literal: 4" T get 192.0.2.1
expect_rc 4 "not a domain: 4" T set "not a domain" may
expect_rc 4 "an empty domain: 4" T set "" may
expect_rc 2 "set without a policy: usage (2)" T set x.example
expect_rc 2 "del without a domain: usage (2)" T del
expect_rc 2 "get --json is not offered: usage (2)" T get example.com --json
expect_out "b.example|encrypt
example.com|secure match=mx.example.net" "nothing refused reached SQLite" rows

# --- refused by mxcached itself, whoever sends it
expect_out "ERR EINVAL unknown%20TLS%20security%20level%20(none,%20may,%20encrypt,%20dane,%20dane-only,%20fingerprint,%20verify,%20secure)" \
	"ctl.sock: an unknown level" ctl "TLS-SET x.example foo"
expect_out "ERR EINVAL control%20character%20or%20non-ASCII%20byte%20in%20the%20policy" \
	"ctl.sock: a control character" ctl "TLS-SET x.example may%0Ax=y"
expect_out "ERR EINVAL policy%20longer%20than%201024%20bytes" "ctl.sock: 1025 bytes" \
	ctl "TLS-SET x.example may%20x=$(head -c 1019 /dev/zero | tr '\0' a)"
expect_out "ERR EINVAL empty%20policy" "ctl.sock: an empty policy" ctl "TLS-SET x.example %-"
expect_out "ERR EINVAL domain%20'192.0.2.1':%20an%20IP%20literal;%20a%20TLS%20pin%20is%20set%20for%20a%20domain%20name" \
	"ctl.sock: an IP literal" ctl "TLS-SET 192.0.2.1 may"
expect_out "ERR EPROTO usage:%20TLS-SET%20<domain>%20<policy>" "ctl.sock: TLS-SET without a policy" \
	ctl "TLS-SET x.example"
expect_out "NOTFOUND x.example" "ctl.sock: TLS-DEL of no pin" ctl "TLS-DEL X.EXAMPLE"
expect_out "b.example|encrypt
example.com|secure match=mx.example.net" "nothing refused reached SQLite" rows

# --- the region: verify and the entries metric
expect_out "ok" "verify passes with pins" "$SHMCTL" -d "$D" verify
expect_out '2' "the entries metric counts the pins" \
	sh -c "'$SHMCTL' -d '$D' metrics | awk '/^mxcache_entries\{table=\"tls_pins\"\}/ { print \$2 }'"

# --- durable: kill -9 right after a change is acknowledged
expect_out "d.example dane" "set d.example" T set d.example dane
daemon_stop "$D" KILL
[ $? -eq 137 ]
_result $? "killed with SIGKILL right after the set returned"
check "mxcached restarts" daemon_start "$D"
expect_out "dane" "the pin is in the rebuilt region" T get d.example
expect_out "b.example|encrypt
d.example|dane
example.com|secure match=mx.example.net" "and in SQLite" rows
check "the rebuild is logged" grep -q "main: rebuilt 3 TLS pins (0 skipped)" "$D/daemon.log"
expect_out "deleted the TLS pin of d.example" "del d.example" T del d.example
daemon_stop "$D" KILL
[ $? -eq 137 ]
_result $? "killed with SIGKILL right after the del returned"
check "mxcached restarts" daemon_start "$D"
expect_rc 1 "the deleted pin is gone from the region" T get d.example
expect_out "b.example|encrypt
example.com|secure match=mx.example.net" "and from SQLite" rows

# --- a row edited by hand into a form no lookup finds is left out
check "mxcached stops" daemon_stop "$D"
sqlite3 "$D/mxcache.db" "INSERT INTO tls_pins VALUES('Bad.Example', 'may', 1, 1), ('e.example', 'bogus', 1, 1),
	('192.0.2.9', 'may', 1, 1)"
check "mxcached starts with hand-edited rows" daemon_start "$D"
check "  three rows skipped, logged" grep -q "main: rebuilt 2 TLS pins (3 skipped)" "$D/daemon.log"
expect_out "b.example encrypt
example.com secure match=mx.example.net" "  the good pins are served" T list
expect_out "ok" "verify passes" "$SHMCTL" -d "$D" verify

# --- SQLite refuses: nothing is published, the caller is told why
sqlite3 "$D/mxcache.db" "CREATE TRIGGER refuse BEFORE INSERT ON tls_pins BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
expect_rc 4 "a set SQLite refuses: 4" T set refused.example may
check "  told why" grep -q "store: change refused: refused by the test" /tmp/t.err.$$
expect_rc 1 "  and nothing was published" T get refused.example
sqlite3 "$D/mxcache.db" "DROP TRIGGER refuse"
expect_out "refused.example may" "once SQLite takes it again, the set goes through" T set refused.example may
check "mxcached stops cleanly" daemon_stop "$D"

# --- the database lost while the region serves pins: no start that would
# publish an empty table over them (a pin lost is a TLS policy weakened)
new_dir F
check "mxcached starts on a fresh directory" daemon_start "$F"
expect_rc 0 "a pin, the only data there" "$SHMCTL" -d "$F" tls set only.example secure
check "mxcached stops" daemon_stop "$F"
rm -f "$F/mxcache.db" "$F/mxcache.db-wal" "$F/mxcache.db-shm"
timeout 20 "$MXCACHED" -d "$F" -f >"$F/start.err" 2>&1
START_RC=$?
check "database missing, region holding a pin: the start is refused (exit 1)" test "$START_RC" -eq 1
check "  saying the region holds entries" grep -qE "mxcache.db is missing but the region .* holds 1 entries" "$F/start.err"
expect_out "secure" "  and clients keep the pin" "$SHMCTL" -d "$F" tls get only.example

# --- only root, mxcached's user and [ctl] admin_group may set a pin
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	DUSER=nobody
	DGID=$(id -g $DUSER)
	ADMIN_GID=4242
	READER=(setpriv --reuid=4001 --regid=4001 --groups="$DGID")
	ADMIN=(setpriv --reuid=4002 --regid=4002 --groups="$DGID,$ADMIN_GID")
	# a process that changed its uid is not dumpable: LeakSanitizer
	# cannot stop its threads at exit
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	new_dir E
	check "mxcached starts as root with [daemon] user = $DUSER" daemon_start_as "$E" "$DUSER" "$ADMIN_GID"
	expect_rc 4 "a member of the region's group only may not set a pin" \
		"${READER[@]}" "$SHMCTL" -d "$E" tls set reader.example may
	check "  and is told why" grep -q "admin_group may change" /tmp/t.err.$$
	expect_rc 1 "  nothing was set" "$SHMCTL" -d "$E" tls get reader.example
	expect_out "admin.example may" "a member of [ctl] admin_group may" \
		"${ADMIN[@]}" "$SHMCTL" -d "$E" tls set admin.example may
	expect_rc 4 "the reader may not delete it" "${READER[@]}" "$SHMCTL" -d "$E" tls del admin.example
	expect_out "may" "  which the reader still reads" "${READER[@]}" "$SHMCTL" -d "$E" tls get admin.example
	check "mxcached stops" daemon_stop "$E"
else
	echo "ok $((T_N + 1)) - # SKIP change rights: needs root and setpriv"
	T_N=$((T_N + 1))
fi
done_testing
