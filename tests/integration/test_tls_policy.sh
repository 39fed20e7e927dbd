#!/usr/bin/env bash
# test_tls_policy - the mtasts maps against a signed DNS world: nsd serving a
# zone signed with ldns-signzone and an unsigned child of it, unbound
# validating in front (tests/dnssec_env.sh), the HTTPS policy server of
# tests/sts_env.sh, and mxcached asked through Postfix's own client
# (postmap -q ... socketmap:unix:DIR/socketmap.sock:mtasts).  The rows:
#
#   a.dane.test   MX host with a usable TLSA record (3 1 1)    dane-only
#   b.dane.test   only unusable TLSA records                   dane
#   c.dane.test   MX host in the unsigned child, TLSA there    NOTFOUND
#   d.dane.test   signed, no TLSA record                       NOTFOUND
#   e.dane.test   usable TLSA and an MTA-STS enforce policy    dane-only
#   f.dane.test   MTA-STS policy naming an IP address and a host
#                                                 secure match=<the host>
#   g.unsigned.dane.test  MTA-STS only (no DNSSEC)  secure match=...
#
# Every row is asked once, first, with nothing cached: the map waits up
# to [socketmap] miss_wait_ms for the daemon's check.  Then: a policy
# host that answers late (NOTFOUND after about miss_wait_ms, the policy
# on a later query), miss_wait_ms = 0 (NOTFOUND at once), a changed TXT
# record and policy seen on use ([sts] recheck_s), the TLSRPT attributes
# of mtasts-tlsrpt, and a TLS pin that outranks DANE and outlives a
# crash.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/sts_env.sh
. tests/dnssec_env.sh

miss=$(dnssec_env_missing)
if [ -n "$miss" ]; then
	echo "ok 1 - # SKIP not installed: $miss (make test installs nsd, unbound and ldnsutils)"
	echo "1..1"
	exit 0
fi
command -v postmap >/dev/null 2>&1 || { echo "not ok 1 - postmap is installed (make test installs postfix)"; echo "1..1"; exit 1; }
trap 'dnssec_env_cleanup; sts_env_cleanup; t_cleanup' EXIT

new_dir D      # mxcached's state directory
new_dir E      # the world: keys, zones, certificates, policy site
Z=$DANE_ZONE   # dane.test, signed
C=$DANE_CHILD  # unsigned.dane.test, delegated without DS
check "certificates made" sts_env_init "$E" mta-sts.e.$Z mta-sts.f.$Z mta-sts.g.$C mta-sts.h.$Z \
	mta-sts.j.$Z mta-sts.r.$Z mta-sts.k.$Z
check "keys made (ldns-keygen: KSK and ZSK)" dnssec_env_init "$E"

# --- the zones ---------------------------------------------------------------------------
GOOD=$(tlsa_311 "$E/pki/good.crt")
# mx NAME [ZONE-ADDER] - NAME's MX host mx.NAME on 127.0.0.1
mx() {
	"${2:-zone_add}" "$1. MX 10 mx.$1." "mx.$1. A 127.0.0.1"
}
# sts NAME ID [ZONE-ADDER] - NAME's _mta-sts TXT record and policy host
sts() {
	"${3:-zone_add}" "_mta-sts.$1. TXT \"v=STSv1; id=$2\"" "mta-sts.$1. A 127.0.0.1"
}
mx a.$Z
zone_add "_25._tcp.mx.a.$Z. TLSA 3 1 1 $GOOD"
mx b.$Z
# PKIX-TA and PKIX-EE are unusable for SMTP (RFC 7672 3.1.3); a SHA-256
# "hash" of 4 bytes matches nothing
zone_add "_25._tcp.mx.b.$Z. TLSA 0 0 1 $GOOD" "_25._tcp.mx.b.$Z. TLSA 1 1 1 $GOOD" \
	"_25._tcp.mx.b.$Z. TLSA 3 1 1 0a0b0c0d"
zone_add "c.$Z. MX 10 mx.c.$C."
child_add "mx.c.$C. A 127.0.0.1" "_25._tcp.mx.c.$C. TLSA 3 1 1 $GOOD"
mx d.$Z
mx e.$Z
zone_add "_25._tcp.mx.e.$Z. TLSA 3 1 1 $GOOD"
sts e.$Z e1
mx f.$Z
sts f.$Z f1
mx g.$C child_add
sts g.$C g1 child_add
# h: its policy host answers late (the listener below, on 127.0.0.9)
mx h.$Z
zone_add "_mta-sts.h.$Z. TXT \"v=STSv1; id=h1\"" "mta-sts.h.$Z. A 127.0.0.9"
mx j.$Z
sts j.$Z j1
mx r.$Z
sts r.$Z r1
# k: its policy host answers 404 (a bad policy host: the check fails fast)
mx k.$Z
sts k.$Z k1
check "the zone signed (ldns-signzone), nsd and unbound answer" dnssec_start

# the world itself, before anything is asked of mxcached: unbound
# validates the signed zone, and only it
for q in "a.$Z MX" "mx.a.$Z A" "_25._tcp.mx.a.$Z TLSA" "_25._tcp.mx.b.$Z TLSA" "c.$Z MX" "_mta-sts.e.$Z TXT"; do
	# shellcheck disable=SC2086  # NAME TYPE
	check "unbound: $q validated (AD)" dns_secure $q
done
for q in "mx.c.$C A" "_25._tcp.mx.c.$C TLSA" "g.$C MX"; do
	# shellcheck disable=SC2086
	check "unbound: $q answered, not validated (no AD: the unsigned child)" dns_insecure $q
done

# --- the policy hosts ----------------------------------------------------------------------
policy_ok e.$Z $'version: STSv1\nmode: enforce\nmx: mx.e.'$Z$'\nmax_age: 86400\n'
F_POLICY=$'version: STSv1\nmode: enforce\nmx: 192.0.2.10\nmx: mx.f.'$Z$'\nmax_age: 86400\n'
policy_ok f.$Z "$F_POLICY"
# g's as served: CRLF line ends and an extension line, which the TLSRPT
# attributes carry byte for byte
G_POLICY=$'version: STSv1\r\nmode: enforce\r\nmx: mx.g.'$C$'\r\nfoo: bar  baz\r\nmx: *.g.'$C$'\r\nmax_age: 86400\r\n'
policy_ok g.$C "$G_POLICY"
policy_ok j.$Z $'version: STSv1\nmode: enforce\nmx: mx.j.'$Z$'\nmax_age: 86400\n'
policy_ok r.$Z $'version: STSv1\nmode: enforce\nmx: mx1.r.'$Z$'\nmax_age: 86400\n'
printf 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' >"$SITE/mta-sts.k.$Z.resp"
check "the HTTPS server listens" https_start
# mta-sts.h.dane.test: a TLS server that waits LATE_S before its handshake
LATE_S=5
rm -f "$E/late.ready"
python3 - "$HTTPS_PORT" "$E/pki/good.crt" "$E/pki/good.key" "$E/late.ready" "$LATE_S" <<'PY' >>"$E/late.log" 2>&1 &
import socket, ssl, sys, threading, time
port, crt, key, ready, late = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
body = b"version: STSv1\nmode: enforce\nmx: mx.h.dane.test\nmax_age: 86400\n"
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(crt, key)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.9", port))
ls.listen(16)
open(ready, "w").write("1\n")
def serve(c):
    try:
        time.sleep(late)
        t = ctx.wrap_socket(c, server_side=True)
        t.recv(4096)
        t.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                  % len(body) + body)
        t.close()
    except OSError:
        pass
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
STS_PIDS+=($!)
check "the late policy host listens on 127.0.0.9" wait_for test -s "$E/late.ready"

# --- mxcached on the validating resolver ----------------------------------------------------
MISS_WAIT_MS=3000
TCP_PORT=$(_free_tcp_udp_port)
PFC=$D/postfix
mkdir -p "$PFC" && : >"$PFC/main.cf"
SOCK=$D/socketmap.sock
# conf MISS_WAIT_MS - mxcached's config: unbound, [sts] recheck_s = 2, a
# fetch that outlasts miss_wait_ms.  (Every name here is under dane.test,
# whose misses the daemon takes at 10 a second: the test asks fewer.)
conf() {
	STS_DNS_SERVERS=127.0.0.1:$UNBOUND_PORT STS_DNS_TIMEOUT_MS=2000 STS_FETCH_TIMEOUT_MS=10000 \
		sts_config "$E/mxcached.conf" "recheck_s = 2" "[socketmap]" "listen = 127.0.0.1:$TCP_PORT" \
		"miss_wait_ms = $1"
}
conf $MISS_WAIT_MS
check "mxcached starts on unbound, miss_wait_ms = $MISS_WAIT_MS" daemon_start "$D" -c "$E/mxcached.conf"
S() { "$SHMCTL" -d "$D" "$@"; }
q() { postmap -c "$PFC" -q "$1" "socketmap:unix:$SOCK:${2:-mtasts}"; }
now_ms() { date +%s%3N; }

# --- first contact: each row's first query already has its answer --------------------------
expect_out "dane-only" "a) usable TLSA record: dane-only, on the first query" q a.$Z
expect_out "dane" "b) only unusable TLSA records: dane" q b.$Z
t0=$(now_ms)
expect_rc 1 "k) a policy host answering 404: NOTFOUND on the first query" q k.$Z
el=$(($(now_ms) - t0))
check "k) as soon as the check failed ($el ms), not after miss_wait_ms" test "$el" -lt "$MISS_WAIT_MS"
expect_rc 1 "k) sts get: a backoff entry" S sts get k.$Z
check "k) naming the fetch error" grep -q "backoff until .*sts-policy-fetch-error" /tmp/t.out.$$
expect_rc 1 "c) TLSA record in the unsigned child: not DANE (NOTFOUND)" q c.$Z
expect_rc 1 "d) signed, no TLSA record: NOTFOUND" q d.$Z
expect_out "dane-only" "e) usable TLSA record and an MTA-STS enforce policy: dane-only" q e.$Z
expect_out "secure match=mx.f.$Z servername=hostname" \
	"f) a policy naming an IP address and a host: the host only" q f.$Z
expect_out "secure match=mx.g.$C:.g.$C servername=hostname" "g) MTA-STS only: secure" q g.$C
expect_out "dane-only" "a) the same over TCP (socketmap:inet:127.0.0.1:PORT)" \
	postmap -c "$PFC" -q a.$Z "socketmap:inet:127.0.0.1:$TCP_PORT:mtasts"
check "f) never the IP address" sh -c "! postmap -c '$PFC' -q f.$Z 'socketmap:unix:$SOCK:mtasts' | grep -q 192.0.2.10"

# --- what shmctl shows ----------------------------------------------------------------------
S sts get a.$Z >"$E/a.get" 2>&1
check "sts get a.$Z: DANE usable" grep -qiE "dane.*[^n]usable" "$E/a.get"
grep -qiE "dane.*[^n]usable" "$E/a.get" || sed 's/^/#   /' "$E/a.get" | head -8
S sts get b.$Z >"$E/b.get" 2>&1
check "sts get b.$Z: DANE unusable" grep -qiE "dane.*unusable" "$E/b.get"
S sts get e.$Z >"$E/e.get" 2>&1
check "sts get e.$Z: DANE usable, and the MTA-STS policy" \
	sh -c "grep -qiE 'dane.*[^n]usable' '$E/e.get' && grep -q 'mode: enforce' '$E/e.get'"
S sts get c.$Z >"$E/c.get" 2>&1
check "sts get c.$Z: not DANE usable" sh -c "! grep -qiE 'dane.*[^n]usable' '$E/c.get'"
expect_rc 0 "shmctl status" S status
check "status: authenticated answers seen" grep -qi "authenticated" /tmp/t.out.$$

# --- TLSRPT: mtasts-tlsrpt ----------------------------------------------------------------------
# policy_strings ANSWER - the values of its { policy_string = ... } items,
# one a line
policy_strings() {
	python3 -c '
import re, sys
for m in re.finditer(r"\{ policy_string = (.*?) \}", sys.argv[1]):
    print(m.group(1))' "$1"
}
# served_lines POLICY - the policy's lines without their CR LF / LF
served_lines() {
	printf '%s' "$1" | tr -d '\r'
}
out=$(q g.$C mtasts-tlsrpt)
check "g) mtasts-tlsrpt: the mtasts answer first" test "${out%% policy_type=*}" = "secure match=mx.g.$C:.g.$C servername=hostname"
check "g) policy_type=sts policy_domain=g.$C" grep -q "policy_type=sts policy_domain=g.$C\b" <<<"$out"
check "g) one policy_string per line as served (CRLF, an extension line), byte for byte" \
	test "$(policy_strings "$out")" = "$(served_lines "$G_POLICY")"
g_patterns() { grep -q "mx_host_pattern=mx.g.$C\b" <<<"$out" && grep -qF "mx_host_pattern=*.g.$C" <<<"$out"; }
check "g) mx_host_pattern for each mx" g_patterns
[ "$T_FAIL" -eq 0 ] || echo "#   answer: $out"
out=$(q f.$Z mtasts-tlsrpt)
check "f) policy_type=sts policy_domain=f.$Z" grep -q "policy_type=sts policy_domain=f.$Z\b" <<<"$out"
check "f) policy_strings: every line as served" test "$(policy_strings "$out")" = "$(served_lines "$F_POLICY")"
check "f) mx_host_pattern=mx.f.$Z" grep -q "mx_host_pattern=mx.f.$Z\b" <<<"$out"
# DANE: Postfix reports on TLSA policies itself (TLSRPT_README); the
# answer is DANE's, with nothing of MTA-STS in it
out=$(q e.$Z mtasts-tlsrpt)
e_dane() { [[ $out == dane-only* ]] && ! grep -q "policy_type=sts" <<<"$out"; }
check "e) mtasts-tlsrpt: dane-only, no MTA-STS attributes" e_dane

# --- a policy host that answers late: NOTFOUND after miss_wait_ms, then a hit ---------------
t0=$(now_ms)
expect_rc 1 "h) policy host answering after ${LATE_S} s: the first query is NOTFOUND" q h.$Z
el=$(($(now_ms) - t0))
check "h) after waiting about miss_wait_ms ($el ms; not at once, not much longer)" \
	test "$el" -ge $((MISS_WAIT_MS - 1000)) -a "$el" -le $((MISS_WAIT_MS + 4000))
ok=1
for i in $(seq 1 40); do
	[ "$(q h.$Z 2>/dev/null)" = "secure match=mx.h.$Z servername=hostname" ] && { ok=0; break; }
	sleep 0.25
done
_result $ok "h) a later query has the policy"

# --- changes seen on use: a new TXT id and policy, with [sts] recheck_s = 2 -----------------
expect_out "secure match=mx1.r.$Z servername=hostname" "r) the policy as first fetched" q r.$Z
zone_del "_mta-sts.r.$Z." TXT
zone_add "_mta-sts.r.$Z. TXT \"v=STSv1; id=r2\""
policy_ok r.$Z $'version: STSv1\nmode: enforce\nmx: mx2.r.'$Z$'\nmax_age: 86400\n'
check "r) the zone signed again with a new id, nsd restarted" dnssec_reload
new_txt() { dns_secure _mta-sts.r.$Z TXT && drill -p "$UNBOUND_PORT" @127.0.0.1 _mta-sts.r.$Z TXT | grep -q 'id=r2'; }
check "r) unbound answers the new TXT record, validated (within its 1 s cache)" wait_for new_txt
ok=1
t0=$(now_ms)
for i in $(seq 1 60); do
	[ "$(q r.$Z 2>/dev/null)" = "secure match=mx2.r.$Z servername=hostname" ] && { ok=0; break; }
	sleep 0.25
done
_result $ok "r) queries alone bring the new policy within 15 s ($(($(now_ms) - t0)) ms), nothing restarted"

# --- TLS pins: above DANE, durable -------------------------------------------------------------
expect_rc 0 "tls set a.$Z may" S tls set a.$Z may
expect_out "may" "a) pinned: the map answers the pin, not dane-only" q a.$Z
pid=$(cat "$D/test.pid")
daemon_stop "$D" KILL
check "mxcached killed with SIGKILL" sh -c "! kill -0 $pid"
check "mxcached starts again" daemon_start "$D" -c "$E/mxcached.conf"
expect_out "may" "a) the pin survived the crash and the restart" q a.$Z
expect_rc 0 "tls del a.$Z" S tls del a.$Z
ok=1
for i in $(seq 1 20); do
	[ "$(q a.$Z 2>/dev/null)" = "dane-only" ] && { ok=0; break; }
	sleep 0.25
done
_result $ok "a) the pin removed: dane-only again"

# --- miss_wait_ms = 0: a never-seen domain is NOTFOUND at once ---------------------------------
check "mxcached stops" daemon_stop "$D"
conf 0
check "mxcached starts with miss_wait_ms = 0" daemon_start "$D" -c "$E/mxcached.conf"
t0=$(now_ms)
expect_rc 1 "j) never seen, miss_wait_ms = 0: NOTFOUND" q j.$Z
el=$(($(now_ms) - t0))
check "j) at once ($el ms)" test "$el" -lt 1000
ok=1
for i in $(seq 1 40); do
	[ "$(q j.$Z 2>/dev/null)" = "secure match=mx.j.$Z servername=hostname" ] && { ok=0; break; }
	sleep 0.25
done
_result $ok "j) the daemon's check done: a later query has the policy"

check "mxcached stops cleanly" daemon_stop "$D"
if [ "$T_FAIL" -ne 0 ]; then
	echo "# mxcached's log:"
	tail -30 "$D/daemon.log" | sed 's/^/#   /'
	echo "# unbound's validation failures (val-log-level 2):"
	grep -i "validation failure" "$DNSSEC_DIR/unbound.log" | tail -10 | sed 's/^/#   /'
fi
done_testing
