#!/usr/bin/env bash
# test_sts - the MTA-STS and MX caches against real servers on loopback:
# dnsmasq for DNS, tests/tools/https_srv for the policy hosts, a real
# mxcached pointed at both, driven with shmctl.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/sts_env.sh
trap 'sts_env_cleanup; t_cleanup' EXIT

new_dir D
new_dir E
POLICY_HOSTS=()
for d in good testing none crlf split badmode badmx nokeys bigage capped oversize ctype redirect notfound \
	err500 idchange refresh fresh two badrec; do
	POLICY_HOSTS+=("mta-sts.$d.test")
done
check "certificates made" sts_env_init "$E" "${POLICY_HOSTS[@]}"

# --- DNS: every policy host on 127.0.0.1, TXT records, MX records ---
for h in "${POLICY_HOSTS[@]}" mta-sts.expired.test mta-sts.wrongname.test mta-sts.nopolicy.test; do
	dns_record "--host-record=$h,127.0.0.1"
done
for d in good testing none crlf badmode badmx nokeys bigage capped oversize ctype redirect notfound err500 \
	expired wrongname refresh fresh; do
	dns_record "--txt-record=_mta-sts.$d.test,v=STSv1; id=${d}1"
done
dns_record "--txt-record=_mta-sts.split.test,v=STSv1; ,id=split2"
dns_record "--txt-record=_mta-sts.two.test,v=STSv1; id=a1" "--txt-record=_mta-sts.two.test,v=STSv1; id=a2"
dns_record "--txt-record=_mta-sts.badrec.test,v=STSv1; id=bad-id!"
dns_record "--txt-record=_mta-sts.other.test,v=spf1 -all"
dns_record "--txt-record=_mta-sts.idchange.test,v=STSv1; id=v1"
dns_record "--mx-host=mxd.test,mx2.mxd.test,20" "--mx-host=mxd.test,mx1.mxd.test,10"
dns_record "--host-record=implicit.test,192.0.2.1" "--mx-host=nullmx.test,.,0"
check "dnsmasq answers" dns_start

# --- the policy hosts ---
GOOD=$'version: STSv1\nmode: enforce\nmx: mail.good.test\nmx: *.backup.good.test\nmax_age: 86400\n'
policy_ok good.test "$GOOD"
policy_ok testing.test $'version: STSv1\nmode: testing\nmx: mx.testing.test\nmax_age: 3600\n'
policy_ok none.test $'version: STSv1\nmode: none\nmax_age: 3600\n'
policy_ok crlf.test $'version: STSv1\r\nmode: enforce\r\nmx: mx.crlf.test\r\nmax_age: 600\r\nmore: ext e nsion\r\n'
policy_ok split.test $'version: STSv1\nmode: enforce\nmx: mx.split.test\nmax_age: 600\n'
policy_ok badmode.test $'version: STSv1\nmode: bad\nmx: mx.badmode.test\nmax_age: 600\n'
policy_ok badmx.test $'version: STSv1\nmode: enforce\nmx: *.*.badmx.test\nmax_age: 600\n'
policy_ok nokeys.test $'version: STSv1\nmx: mx.nokeys.test\nmax_age: 600\n'
policy_ok bigage.test $'version: STSv1\nmode: enforce\nmx: mx.bigage.test\nmax_age: 99999999999\n'
policy_ok capped.test $'version: STSv1\nmode: enforce\nmx: mx.capped.test\nmax_age: 31557601\n'
policy_ok oversize.test "$(head -c 65538 /dev/zero | tr '\0' 'x')"
policy_ok ctype.test "$GOOD" text/html
printf 'HTTP/1.1 301 Moved\r\nLocation: https://mta-sts.good.test/.well-known/mta-sts.txt\r\nContent-Length: 0\r\n\r\n' \
	>"$SITE/mta-sts.redirect.test.resp"
printf 'HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n' >"$SITE/mta-sts.err500.test.resp"
policy_ok expired.test "$GOOD"
policy_ok wrongname.test "$GOOD"
policy_ok idchange.test $'version: STSv1\nmode: enforce\nmx: mx1.idchange.test\nmax_age: 86400\n'
policy_ok refresh.test $'version: STSv1\nmode: enforce\nmx: mx.refresh.test\nmax_age: 86400\n'
policy_ok fresh.test $'version: STSv1\nmode: testing\nmx: mx.fresh.test\nmax_age: 86400\n'
check "the HTTPS server listens" https_start

sts_config "$E/mxcached.conf" "refresh_s = 2" "backoff_s = 300" "workers = 8"
check "mxcached starts with the loopback config" daemon_start "$D" -c "$E/mxcached.conf"

S() { "$SHMCTL" -d "$D" "$@"; }

# --- good policies ---
expect_rc 0 "fetch good.test: a policy" S sts fetch good.test
check "it is enforce with both patterns" grep -qx "mode: enforce" /tmp/t.out.$$
check "the wildcard pattern kept as written" grep -qx "mx: \*.backup.good.test" /tmp/t.out.$$
expect_rc 0 "sts get good.test (another spelling)" S sts get GOOD.test.
expect_rc 0 "sts get --json" S sts get good.test --json
check "JSON: mode, max_age, record_id, fresh" python3 -c "
import json; d=json.load(open('/tmp/t.out.$$'))
assert d['mode']=='enforce' and d['max_age']==86400 and d['record_id']=='good1' and d['fresh'] is True, d
assert d['mx']==['mail.good.test','*.backup.good.test'], d"
expect_rc 0 "testing mode" S sts fetch testing.test
check "mode testing" grep -qx "mode: testing" /tmp/t.out.$$
expect_rc 0 "mode none is a policy too" S sts fetch none.test
check "mode none" grep -qx "mode: none" /tmp/t.out.$$
expect_rc 0 "CRLF lines and an extension" S sts fetch crlf.test
expect_rc 0 "a TXT record split into two strings is joined" S sts fetch split.test
check "its id" grep -qx "id: split2" /tmp/t.out.$$
expect_rc 0 "max_age over one year is capped" S sts fetch capped.test
check "to 31557600" grep -qx "max_age: 31557600" /tmp/t.out.$$

# --- bad policies: each failure class, and a backoff entry ---
for d in badmode badmx nokeys bigage oversize ctype; do
	expect_rc 4 "$d.test: refused" S sts fetch $d.test
	check "$d.test: sts-policy-invalid" grep -q "sts-policy-invalid" /tmp/t.out.$$
done
for d in redirect notfound err500; do
	expect_rc 4 "$d.test: refused" S sts fetch $d.test
	check "$d.test: sts-policy-fetch-error" grep -q "sts-policy-fetch-error" /tmp/t.out.$$
done
check "the redirect was not followed" test "$(requests mta-sts.good.test)" -eq 1
for d in expired wrongname; do
	expect_rc 4 "$d.test: certificate refused" S sts fetch $d.test
	check "$d.test: sts-webpki-invalid" grep -q "sts-webpki-invalid" /tmp/t.out.$$
done
expect_rc 1 "expired.test: in backoff" S sts get expired.test --json
check "the reason names the expiry" grep -q "expired" /tmp/t.out.$$
expect_rc 4 "two STS TXT records: no usable record" S sts fetch two.test
expect_rc 4 "a malformed STS TXT record" S sts fetch badrec.test
expect_rc 1 "no TXT record: no policy" S sts fetch nopolicy.test
expect_rc 1 "only a non-STS TXT record: no policy" S sts fetch other.test

# --- each result printed once, and "asked to check" only when it was asked
expect_rc 0 "fetch good.test again" S sts fetch good.test
check "  the entry, once" test "$(grep -c '^domain: good.test$' /tmp/t.out.$$)" -eq 1
check "  without the daemon's result word before it" sh -c "! grep -q '^policy' /tmp/t.out.$$"
expect_rc 1 "fetch nopolicy.test again" S sts fetch nopolicy.test
check "  one line: no policy published" sh -c "test \$(grep -c 'no MTA-STS policy' /tmp/t.out.$$) -eq 1 && grep -q '^nopolicy.test: no MTA-STS policy published (checked' /tmp/t.out.$$"
check "  then the DANE state and the TLS policy the map answers" sh -c "test \$(wc -l </tmp/t.out.$$) -eq 3 && grep -q '^tls_policy: none (the mtasts map answers NOTFOUND)' /tmp/t.out.$$"
expect_rc 4 "fetch expired.test again: the check fails" S sts fetch expired.test
check "  its detail on stderr, once" test "$(grep -c 'the check failed: sts-webpki-invalid: .*expired' /tmp/t.err.$$)" -eq 1
check "  the entry on stdout, once" test "$(grep -c '^expired.test: backoff until' /tmp/t.out.$$)" -eq 1
expect_rc 4 "fetch --json of a failure" S sts fetch expired.test --json
check "  one object: the entry with the check's result and detail" python3 -c "
import json; d=json.load(open('/tmp/t.out.$$'))
assert d['kind']=='backoff' and d['check']=='failed' and 'sts-webpki-invalid' in d['check_detail'], d"
expect_rc 1 "sts get of a cached no-policy entry: exit 1" S sts get nopolicy.test
check "  shows it" grep -q "^nopolicy.test: no MTA-STS policy published" /tmp/t.out.$$
check "  and does not claim mxcached was asked" sh -c "! grep -q asked /tmp/t.err.$$"
expect_rc 1 "sts get of a backoff entry: exit 1, nobody asked" S sts get expired.test
check "  does not claim mxcached was asked" sh -c "! grep -q asked /tmp/t.err.$$"
expect_rc 1 "sts get of an IP literal: exit 1" S sts get 192.0.2.1
check "  says why" grep -q "MTA-STS policies are for domains only" /tmp/t.err.$$
expect_rc 1 "a failed domain is in backoff" S sts get notfound.test
check "get says backoff" grep -q "backoff until" /tmp/t.out.$$
before=$(requests mta-sts.notfound.test)
for i in 1 2 3 4 5; do S sts get notfound.test >/dev/null 2>&1; done
sleep 0.3
check "backoff: lookups do not hammer the policy host" test "$(requests mta-sts.notfound.test)" -eq "$before"

# --- the client path: a miss asks the daemon, a later lookup hits ---
expect_rc 1 "fresh.test: nothing cached yet" S sts get fresh.test
check "  one line says so, and that mxcached was asked" \
	sh -c "test \$(wc -l </tmp/t.err.$$) -eq 1 && grep -q 'fresh.test: nothing cached; mxcached has been asked to check' /tmp/t.err.$$"
ok=1
for i in $(seq 1 100); do
	S sts get fresh.test >/dev/null 2>&1 && { ok=0; break; }
	sleep 0.05
done
_result $ok "fresh.test: fetched after one miss, without a command"
check "one fetch for it" test "$(requests mta-sts.fresh.test)" -eq 1

# --- id unchanged: no refetch; id changed: refetched; refetch fails: kept ---
expect_rc 0 "idchange.test v1" S sts fetch idchange.test
n1=$(requests mta-sts.idchange.test)
expect_rc 0 "same id again" S sts fetch idchange.test
check "unchanged id: no HTTPS fetch" test "$(requests mta-sts.idchange.test)" -eq "$n1"
STS_DNS_ARGS=("${STS_DNS_ARGS[@]/_mta-sts.idchange.test,v=STSv1; id=v1/_mta-sts.idchange.test,v=STSv1; id=v2}")
policy_ok idchange.test $'version: STSv1\nmode: testing\nmx: mx2.idchange.test\nmax_age: 86400\n'
check "dnsmasq restarted with id v2" dns_restart
expect_rc 0 "new id: refetched" S sts fetch idchange.test
check "the new policy is in" grep -qx "mx: mx2.idchange.test" /tmp/t.out.$$
STS_DNS_ARGS=("${STS_DNS_ARGS[@]/_mta-sts.idchange.test,v=STSv1; id=v2/_mta-sts.idchange.test,v=STSv1; id=v3}")
printf 'HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n' >"$SITE/mta-sts.idchange.test.resp"
check "dnsmasq restarted with id v3" dns_restart
expect_rc 4 "new id, refetch fails" S sts fetch idchange.test
check "the cached policy is kept" grep -qx "mx: mx2.idchange.test" /tmp/t.out.$$
check "and marked not fresh" grep -qx "fresh: no" /tmp/t.out.$$

# --- the refresher: policies revisited with no client asking ---
expect_rc 0 "refresh.test cached" S sts fetch refresh.test
t0=$(S sts get refresh.test --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["last_update"])')
STS_DNS_ARGS=("${STS_DNS_ARGS[@]/_mta-sts.refresh.test,v=STSv1; id=refresh1/_mta-sts.refresh.test,v=STSv1; id=refresh2}")
policy_ok refresh.test $'version: STSv1\nmode: enforce\nmx: mx9.refresh.test\nmax_age: 86400\n'
check "dnsmasq restarted with a new id" dns_restart
ok=1
for i in $(seq 1 200); do
	S sts get refresh.test 2>/dev/null | grep -qx "mx: mx9.refresh.test" && { ok=0; break; }
	sleep 0.1
done
_result $ok "the refresher fetched the changed policy on its own"

# --- list, del ---
expect_rc 0 "sts list --json" S sts list --json
check "list is sorted by last use, then domain" python3 -c "
import json; v=json.load(open('/tmp/t.out.$$'))
assert len(v) >= 20, len(v)
keys=[(x['last_use'], x['domain']) for x in v]
assert all((a[0] > b[0]) or (a[0]==b[0] and a[1] <= b[1]) for a,b in zip(keys, keys[1:])), keys"
expect_rc 0 "sts del" S sts del testing.test
expect_rc 1 "sts del again: not found" S sts del testing.test
expect_rc 4 "sts fetch of an IP literal: refused" S sts fetch 192.0.2.1

# --- MX cache ---
expect_rc 1 "resolve-mx mxd.test: nothing cached yet" S resolve-mx mxd.test
ok=1
for i in $(seq 1 100); do
	S resolve-mx mxd.test >/tmp/t.mx.$$ 2>/dev/null && { ok=0; break; }
	sleep 0.05
done
_result $ok "resolve-mx: answered from the cache after one miss"
check "sorted by preference, with the TTL left" sh -c "head -1 /tmp/t.mx.$$ | grep -q '^10 mx1.mxd.test (cached, ttl'"
for d in implicit.test nullmx.test nxdomain.test; do
	S resolve-mx $d >/dev/null 2>&1
done
sleep 0.5
expect_rc 0 "no MX: the implicit MX" S resolve-mx implicit.test
check "is the domain itself" grep -q "^0 implicit.test (implicit MX" /tmp/t.out.$$
# no host to deliver to exits 1, cached or not, as "nothing cached" does
expect_rc 1 "null MX, cached: no host, exit 1" S resolve-mx nullmx.test
check "  accepts no mail, said on stderr" grep -q "null MX: accepts no mail (cached" /tmp/t.err.$$
check "  nothing on stdout" test ! -s /tmp/t.out.$$
expect_rc 1 "NXDOMAIN, cached: exit 1, as before it was cached" S resolve-mx nxdomain.test
check "  no such domain, said on stderr" grep -q "no such domain (cached" /tmp/t.err.$$
check "  nothing on stdout" test ! -s /tmp/t.out.$$
check "resolve-mx D && ... takes no branch for a nonexistent domain" \
	sh -c "! '$SHMCTL' -d '$D' resolve-mx nxdomain.test 2>/dev/null"
expect_rc 1 "NXDOMAIN --json: exit 1 too, the answer in JSON" S resolve-mx nxdomain.test --json
check "  kind nxdomain, no records, a TTL" python3 -c "
import json; d=json.load(open('/tmp/t.out.$$'))
assert d['kind']=='nxdomain' and d['mx']==[] and d['ttl'] > 0 and d['from_override'] is False, d"
expect_rc 1 "nothing cached --json: exit 1, kind absent" S resolve-mx never-asked.test --json
check "  kind absent" python3 -c "import json; d=json.load(open('/tmp/t.out.$$')); assert d['kind']=='absent' and d['mx']==[], d"
expect_rc 0 "records --json: exit 0, kind mx" S resolve-mx mxd.test --json
check "  sorted records" python3 -c "
import json; d=json.load(open('/tmp/t.out.$$'))
assert d['kind']=='mx' and [r['host'] for r in d['mx']]==['mx1.mxd.test','mx2.mxd.test'], d
assert d['authenticated'] is False, d"  # dnsmasq does not validate: no AD bit
expect_rc 0 "an override still comes first" S override set mxd.test 192.0.2.25
expect_out "0 192.0.2.25 (override)" "resolve-mx shows the override" S resolve-mx mxd.test
expect_rc 0 "override --json: kind override" S resolve-mx mxd.test --json
check "  from_override" python3 -c "import json; d=json.load(open('/tmp/t.out.$$')); assert d['kind']=='override' and d['from_override'] is True, d"
expect_rc 0 "verify: the region with three tables is sound" S verify

# --- what the checks above add up to, in the metrics
sleep 0.3
S metrics >"$D/metrics.txt"
m() { awk -v n="mxcache_$1" '$1 == n { print $2 }' "$D/metrics.txt"; }
check "metrics: policies fetched ($(m 'sts_checks_total{result="policy"}'))" test "$(m 'sts_checks_total{result="policy"}')" -gt 0
check "metrics: domains without a policy ($(m 'sts_checks_total{result="none"}'))" test "$(m 'sts_checks_total{result="none"}')" -gt 0
check "metrics: failed checks, by class: certificates ($(m 'sts_failures_total{class="sts-webpki-invalid"}'))" \
	test "$(m 'sts_failures_total{class="sts-webpki-invalid"}')" -gt 0
check "metrics: failures add up" test "$(m 'sts_checks_total{result="failed"}')" -eq $(($(m 'sts_failures_total{class="dns"}') + \
	$(m 'sts_failures_total{class="sts-policy-fetch-error"}') + $(m 'sts_failures_total{class="sts-policy-invalid"}') + \
	$(m 'sts_failures_total{class="sts-webpki-invalid"}') + $(m 'sts_failures_total{class="record"}')))
check "metrics: MX lookups ($(m mx_lookups_total))" test "$(m mx_lookups_total)" -gt 0
# dnsmasq does not validate: answers come, none with the AD bit, so no
# MX RRset is authenticated and no TLSA lookup is made
check "metrics: DNS answers without AD ($(m 'dns_answers_total{authenticated="no"}'))" \
	test "$(m 'dns_answers_total{authenticated="no"}')" -gt 0
check "metrics: none with AD" test "$(m 'dns_answers_total{authenticated="yes"}')" -eq 0
check "metrics: no TLSA lookup for an unauthenticated MX" test "$(m tlsa_lookups_total)" -eq 0
expect_rc 0 "status" S status
check "  the dns line: answers, none authenticated" \
	grep -Eq '^dns: +[1-9][0-9]* answers, 0 authenticated \(DNSSEC\), 0 TLSA lookups' /tmp/t.out.$$
expect_rc 0 "status --json" S status --json
check "  dns: answers and authenticated" python3 -c "
import json; d=json.load(open('/tmp/t.out.$$'))['dns']
assert d['answers'] > 0 and d['authenticated'] == 0 and d['tlsa_lookups'] == 0, d
assert d['resolver_suspect'] == (d['answers'] >= 100), d"

# --- restart with a warm cache, the servers gone ---
check "mxcached stops" daemon_stop "$D"
sts_env_cleanup
STS_PIDS=()
check "mxcached restarts" daemon_start "$D" -c "$E/mxcached.conf"
expect_rc 0 "good.test still cached after the restart" S sts get good.test
check "with its patterns" grep -qx "mx: mail.good.test" /tmp/t.out.$$
expect_rc 0 "the MX cache too" S resolve-mx implicit.test

# --- DNS timing out: backoff, bounded ---
python3 -c 'import socket,time,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("127.0.0.1",int(sys.argv[1]))); time.sleep(60)' "$DNS_PORT" &
SILENT=$!
STS_PIDS+=("$SILENT")
sleep 0.2
t=$(date +%s%N)
expect_rc 4 "a DNS server that never answers: fetch fails" S sts fetch slow.test
ms=$((($(date +%s%N) - t) / 1000000))
check "within the DNS timeout, not hung (${ms} ms)" test "$ms" -lt 5000
check "the failure class is dns" grep -q "dns" /tmp/t.out.$$
expect_rc 1 "and the domain is in backoff" S sts get slow.test

check "mxcached stops cleanly" daemon_stop "$D"
done_testing
