# tests/dnssec_env.sh - a signed DNS world on loopback for the DANE tests:
# a zone signed with ldns-signzone (KSK and ZSK from ldns-keygen, ECDSA
# P-256 SHA-256), served by a real authoritative server (nsd) together
# with an unsigned child zone delegated from it without a DS record, and
# a real validating resolver (unbound) in front, holding the zone's KSK
# as its trust anchor.  Answers for the signed zone carry the AD flag,
# answers from the unsigned child do not.  Source after tests/lib.sh and
# tests/sts_env.sh.
#
#   dnssec_env_missing           the programs missing here (empty: none)
#   dnssec_env_init DIR          keys, ports (NSD_PORT, UNBOUND_PORT; set
#                                them before to choose), zone names
#   zone_add RECORD...           records of the signed zone (DANE_ZONE)
#   child_add RECORD...          records of the unsigned child (DANE_CHILD)
#   zone_del NAME TYPE           drop NAME's records of TYPE (either zone)
#   dnssec_start                 sign, start nsd and unbound, wait for both
#   dnssec_reload                sign again and restart nsd (same port)
#   tlsa_311 CERT                the "3 1 1" TLSA data of CERT's key
#   dns_flags NAME TYPE          the header flags unbound answers with
#   dns_secure NAME TYPE         unbound answers NAME/TYPE with data and AD
#   dns_insecure NAME TYPE       with data, without AD
#   dnssec_env_cleanup           stop nsd and unbound
#
# Records are zone-file lines with absolute names, TTLs left out (the
# zone's is DNSSEC_TTL, 2 s, so that a changed record is seen within
# seconds; unbound caches nothing longer than 1 s).  UNBOUND_FORWARD
# (ADDR@PORT), set before dnssec_start, forwards every other name there.

DANE_ZONE=dane.test
DANE_CHILD=unsigned.dane.test
DNSSEC_TTL=2
NSD=${NSD:-/usr/sbin/nsd}
UNBOUND=${UNBOUND:-/usr/sbin/unbound}
NSD_PID=""
UNBOUND_PID=""
DNSSEC_SERIAL=1

dnssec_env_missing() {
	local p miss=""
	for p in "$NSD" "$UNBOUND" ldns-keygen ldns-signzone drill; do
		command -v "$p" >/dev/null 2>&1 || miss="$miss ${p##*/}"
	done
	echo "${miss# }"
}

# _free_tcp_udp_port - a port free for both UDP and TCP: both servers
# listen on both
_free_tcp_udp_port() {
	python3 -c '
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(p); break'
}

dnssec_env_init() {
	DNSSEC_DIR=$1/dnssec
	mkdir -p "$DNSSEC_DIR" || return 1
	: >"$DNSSEC_DIR/zone.rr"
	: >"$DNSSEC_DIR/child.rr"
	NSD_PORT=${NSD_PORT:-$(_free_tcp_udp_port)}
	UNBOUND_PORT=${UNBOUND_PORT:-$(_free_tcp_udp_port)}
	# the keys: a key-signing key (the resolver's trust anchor) and a
	# zone-signing key
	(
		cd "$DNSSEC_DIR" || exit 1
		ksk=$(ldns-keygen -a ECDSAP256SHA256 -k "$DANE_ZONE") &&
			zsk=$(ldns-keygen -a ECDSAP256SHA256 "$DANE_ZONE") &&
			echo "$ksk" >ksk.name && echo "$zsk" >zsk.name
	) || { echo "# ldns-keygen failed"; return 1; }
}

zone_add() {
	printf '%s\n' "$@" >>"$DNSSEC_DIR/zone.rr"
}
child_add() {
	printf '%s\n' "$@" >>"$DNSSEC_DIR/child.rr"
}
zone_del() { # NAME TYPE
	local f
	for f in "$DNSSEC_DIR/zone.rr" "$DNSSEC_DIR/child.rr"; do
		awk -v n="$1" -v t="$2" 'tolower($1) != tolower(n) || toupper($2) != toupper(t)' "$f" >"$f.new" &&
			mv "$f.new" "$f"
	done
}

# _zone_sign - the two zone files: the parent (ns.dane.test, the child's
# delegation, no DS for it) signed, the child as it is
_zone_sign() {
	local d=$DNSSEC_DIR soa
	DNSSEC_SERIAL=$((DNSSEC_SERIAL + 1))
	soa="SOA ns.$DANE_ZONE. hostmaster.$DANE_ZONE. $DNSSEC_SERIAL 60 60 600 $DNSSEC_TTL"
	{
		echo "\$TTL $DNSSEC_TTL"
		echo "$DANE_ZONE. $soa"
		echo "$DANE_ZONE. NS ns.$DANE_ZONE."
		echo "ns.$DANE_ZONE. A 127.0.0.1"
		echo "$DANE_CHILD. NS ns.$DANE_ZONE."
		cat "$d/zone.rr"
	} >"$d/zone.db"
	{
		echo "\$TTL $DNSSEC_TTL"
		echo "$DANE_CHILD. $soa"
		echo "$DANE_CHILD. NS ns.$DANE_ZONE."
		cat "$d/child.rr"
	} >"$d/child.db"
	(cd "$d" && ldns-signzone -f zone.signed zone.db "$(cat zsk.name)" "$(cat ksk.name)") >>"$d/sign.log" 2>&1 ||
		{ echo "# ldns-signzone failed:"; sed 's/^/#   /' "$d/sign.log" | tail -5; return 1; }
}

# _soa_serial PORT NAME - the serial of NAME's SOA record as the server
# on 127.0.0.1:PORT answers it, within 0.3 s; exit 1 without an answer
_soa_serial() {
	python3 - "$1" "$2" <<'PY'
import socket, struct, sys
port, name = int(sys.argv[1]), sys.argv[2].rstrip(".")
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\x00\x00\x06\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
try:
    s.sendto(q, ("127.0.0.1", port))
    r = s.recv(4096)
except OSError:
    sys.exit(1)
def skip(i):  # past a (possibly compressed) name
    while r[i]:
        if r[i] >= 0xC0:
            return i + 2
        i += 1 + r[i]
    return i + 1
if len(r) < 12 or r[:2] != q[:2] or r[3] & 0x0F or struct.unpack(">H", r[6:8])[0] < 1:
    sys.exit(1)
i = skip(12) + 4  # the question
i = skip(i)       # the answer's owner
rtype, _, _, _ = struct.unpack(">HHIH", r[i:i + 10])
if rtype != 6:
    sys.exit(1)
i = skip(skip(i + 10))  # MNAME, RNAME
print(struct.unpack(">I", r[i:i + 4])[0])
PY
}

_nsd_run() {
	local d=$DNSSEC_DIR
	cat >"$d/nsd.conf" <<EOF
server:
	ip-address: 127.0.0.1@$NSD_PORT
	port: $NSD_PORT
	do-ip6: no
	username: ""
	chroot: ""
	zonesdir: "$d"
	database: ""
	zonelistfile: "$d/zone.list"
	xfrdfile: "$d/xfrd.state"
	xfrdir: "$d"
	pidfile: "$d/nsd.pid"
	logfile: "$d/nsd.log"
	server-count: 1
	verbosity: 1
remote-control:
	control-enable: no
zone:
	name: "$DANE_ZONE"
	zonefile: "$d/zone.signed"
zone:
	name: "$DANE_CHILD"
	zonefile: "$d/child.db"
EOF
	"$NSD" -d -c "$d/nsd.conf" >>"$d/nsd.log" 2>&1 &
	NSD_PID=$!
	local i
	for i in $(seq 1 100); do
		# this nsd, not one on its way out: the serial just signed
		[ "$(_soa_serial "$NSD_PORT" "$DANE_ZONE")" = "$DNSSEC_SERIAL" ] &&
			[ "$(_soa_serial "$NSD_PORT" "$DANE_CHILD")" = "$DNSSEC_SERIAL" ] && return 0
		kill -0 "$NSD_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# nsd did not start:"
	tail -5 "$d/nsd.log" | sed 's/^/#   /'
	return 1
}

_nsd_stop() {
	[ -n "$NSD_PID" ] || return 0
	kill "$NSD_PID" 2>/dev/null
	wait "$NSD_PID" 2>/dev/null
	NSD_PID=""
	# its server processes exit after it: until the port is quiet
	local i
	for i in $(seq 1 50); do
		_soa_serial "$NSD_PORT" "$DANE_ZONE" >/dev/null || return 0
	done
}

_unbound_run() {
	local d=$DNSSEC_DIR fwd=""
	[ -n "${UNBOUND_FORWARD:-}" ] && fwd=$(printf 'forward-zone:\n\tname: "."\n\tforward-addr: %s\n' "$UNBOUND_FORWARD")
	# both zones are stubs on nsd (the child too: a referral would send
	# unbound to port 53); the child is insecure through the signed
	# parent's proof that it has no DS record
	cat >"$d/unbound.conf" <<EOF
server:
	interface: 127.0.0.1
	port: $UNBOUND_PORT
	do-ip6: no
	username: ""
	chroot: ""
	directory: "$d"
	pidfile: "$d/unbound.pid"
	use-syslog: no
	logfile: "$d/unbound.log"
	verbosity: 1
	val-log-level: 2
	num-threads: 1
	access-control: 127.0.0.0/8 allow
	do-not-query-localhost: no
	module-config: "validator iterator"
	trust-anchor-file: "$d/$(cat "$d/ksk.name").key"
	cache-max-ttl: 1
	cache-max-negative-ttl: 1
	prefetch: no
	qname-minimisation: no
	# unbound answers for test. itself (RFC 6761) unless told not to
	local-zone: "test." nodefault
stub-zone:
	name: "$DANE_ZONE"
	stub-addr: 127.0.0.1@$NSD_PORT
stub-zone:
	name: "$DANE_CHILD"
	stub-addr: 127.0.0.1@$NSD_PORT
$fwd
remote-control:
	control-enable: no
EOF
	"$UNBOUND" -d -c "$d/unbound.conf" >>"$d/unbound.log" 2>&1 &
	UNBOUND_PID=$!
	local i
	for i in $(seq 1 100); do
		_soa_serial "$UNBOUND_PORT" "$DANE_ZONE" >/dev/null && return 0
		kill -0 "$UNBOUND_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# unbound did not start:"
	tail -5 "$d/unbound.log" | sed 's/^/#   /'
	return 1
}

dnssec_start() {
	_zone_sign && _nsd_run && _unbound_run
}

# dnssec_reload - the zones as the records are now: signed again, nsd
# restarted on its port (a restart, not SIGHUP: a zone file rewritten
# within the second it was read would look unchanged to a reload)
dnssec_reload() {
	_zone_sign || return 1
	_nsd_stop
	_nsd_run
}

tlsa_311() { # CERT
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1
}

dns_flags() { # NAME TYPE
	drill -D -p "$UNBOUND_PORT" @127.0.0.1 "$1" "$2" 2>/dev/null | sed -n 's/^;; flags: \([a-z ]*\) ;.*/\1/p'
}

# _answered NAME TYPE - unbound's answer, when it has records (exit 1 if not)
_answered() {
	local out
	out=$(drill -D -p "$UNBOUND_PORT" @127.0.0.1 "$1" "$2" 2>/dev/null) || return 1
	grep -q "rcode: NOERROR" <<<"$out" && ! grep -q "ANSWER: 0," <<<"$out" && printf '%s\n' "$out"
}
dns_secure() { # NAME TYPE - answered, with AD
	_answered "$1" "$2" | grep -q "^;; flags: .*\bad\b"
}
dns_insecure() { # NAME TYPE - answered, without AD
	local out
	out=$(_answered "$1" "$2") && ! grep -q "^;; flags: .*\bad\b" <<<"$out"
}

dnssec_env_cleanup() {
	_nsd_stop
	if [ -n "$UNBOUND_PID" ]; then
		kill "$UNBOUND_PID" 2>/dev/null
		wait "$UNBOUND_PID" 2>/dev/null
		UNBOUND_PID=""
	fi
}
