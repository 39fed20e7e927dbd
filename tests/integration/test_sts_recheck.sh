#!/usr/bin/env bash
# test_sts_recheck - changes seen on use ([sts] recheck_s): a client that
# uses a policy whose TXT record was looked at longer ago than recheck_s
# makes the daemon look again in the background, so a new policy id is
# picked up within seconds of its use, not at the next refresh; a flood of
# lookups costs a TXT query or two, not one each; recheck_s = 0 leaves
# it to the refresher.  dnsmasq logs its queries, which the test counts.
# Also what a fetch makes of mx values that are IP addresses.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/sts_env.sh
trap 'sts_env_cleanup; t_cleanup' EXIT

new_dir D
new_dir E
check "certificates made" sts_env_init "$E" mta-sts.rc.test mta-sts.flood.test mta-sts.ip.test mta-sts.iponly.test
for d in rc flood ip iponly; do
	dns_record "--host-record=mta-sts.$d.test,127.0.0.1" "--txt-record=_mta-sts.$d.test,v=STSv1; id=${d}1"
done
dns_record "--log-queries" "--log-facility=-"
check "dnsmasq answers" dns_start
policy_ok rc.test $'version: STSv1\nmode: enforce\nmx: mx1.rc.test\nmax_age: 86400\n'
policy_ok flood.test $'version: STSv1\nmode: enforce\nmx: mx.flood.test\nmax_age: 86400\n'
policy_ok ip.test $'version: STSv1\nmode: enforce\nmx: 192.0.2.10\nmx: mx.ip.test\nmx: [2001:db8::1]\nmax_age: 86400\n'
policy_ok iponly.test $'version: STSv1\nmode: enforce\nmx: 192.0.2.10\nmax_age: 86400\n'
check "the HTTPS server listens" https_start

# the refresher far away: only a recheck on use can see a change
sts_config "$E/mxcached.conf" "refresh_s = 3600" "recheck_s = 1" "workers = 4"
check "mxcached starts with recheck_s = 1" daemon_start "$D" -c "$E/mxcached.conf"

S() { "$SHMCTL" -d "$D" "$@"; }
# until CMD succeeds, for up to $1 tenths of a second
within() {
	local n=$1 i
	shift
	for i in $(seq 1 "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
txt_queries() { grep -c "query\[TXT\] _mta-sts.$1.test" "$E/dnsmasq.log"; }
new_id() { # DOMAIN OLD NEW
	STS_DNS_ARGS=("${STS_DNS_ARGS[@]/_mta-sts.$1.test,v=STSv1; id=$2/_mta-sts.$1.test,v=STSv1; id=$3}")
}
uses_mx() { S sts get rc.test | grep -qx "mx: $1"; }

expect_rc 0 "rc.test fetched" S sts fetch rc.test
check "  policy with mx1" grep -qx "mx: mx1.rc.test" /tmp/t.out.$$
n1=$(requests mta-sts.rc.test)

# --- the id unchanged: rechecks look at the TXT record only ---
t1=$(txt_queries rc)
sleep 1.2
for i in 1 2 3 4 5 6 7 8 9 10; do S sts get rc.test >/dev/null; sleep 0.2; done
sleep 0.3
check "used policy past recheck_s: its TXT record looked at again" test "$(txt_queries rc)" -gt "$t1"
check "  the same id: no HTTPS fetch" test "$(requests mta-sts.rc.test)" -eq "$n1"
check "  the policy is unchanged" uses_mx mx1.rc.test

# --- a new id: picked up on use, within seconds ---
new_id rc rc1 rc2
policy_ok rc.test $'version: STSv1\nmode: enforce\nmx: mx2.rc.test\nmax_age: 86400\n'
check "dnsmasq restarted with id rc2" dns_restart
check "a new id is picked up on use within seconds" within 200 uses_mx mx2.rc.test
check "  by one HTTPS fetch" test "$(requests mta-sts.rc.test)" -eq $((n1 + 1))

# --- a flood of lookups of a stale domain: a TXT query or two ---
expect_rc 0 "flood.test fetched" S sts fetch flood.test
sleep 1.2
f0=$(txt_queries flood)
check "a second of lookups of flood.test, all answered" "$TOOLS/sts_client" "$D" flood flood.test 1
sleep 0.5
f1=$(txt_queries flood)
check "  cost at least one TXT query" test "$f1" -gt "$f0"
check "  and at most a couple ($((f1 - f0)))" test $((f1 - f0)) -le 3

# --- mx values that are IP addresses: never patterns ---
expect_rc 0 "ip.test: a policy with IP addresses among its mx values" S sts fetch ip.test
check "  only the name is a pattern" sh -c "grep '^mx:' /tmp/t.out.$$ | tr -d '\n' | grep -qx 'mx: mx.ip.test'"
check "  the daemon says so, once for the fetch" \
	test "$(grep -c 'sts: ip.test: mx value 192.0.2.10 is an IP address, not a pattern: ignored (and 1 more)' "$D/daemon.log")" -eq 1
expect_rc 4 "iponly.test: enforce with only an IP address: no policy" S sts fetch iponly.test
check "  the policy is invalid" grep -q "sts-policy-invalid" /tmp/t.out.$$

# --- recheck_s = 0: the refresher (or an admin) alone looks again ---
daemon_stop "$D"
sts_config "$E/mxcached.conf" "refresh_s = 3600" "recheck_s = 0" "workers = 4"
check "mxcached restarts with recheck_s = 0" daemon_start "$D" -c "$E/mxcached.conf"
new_id rc rc2 rc3
policy_ok rc.test $'version: STSv1\nmode: enforce\nmx: mx3.rc.test\nmax_age: 86400\n'
check "dnsmasq restarted with id rc3" dns_restart
t3=$(txt_queries rc)
for i in $(seq 1 20); do S sts get rc.test >/dev/null; sleep 0.1; done
sleep 0.5
check "recheck_s = 0: no TXT query on use" test "$(txt_queries rc)" -eq "$t3"
check "  the cached policy stays" uses_mx mx2.rc.test
expect_rc 0 "  until a check (here the admin's)" S sts fetch rc.test
check "  brings the new one" grep -qx "mx: mx3.rc.test" /tmp/t.out.$$

daemon_stop "$D"
done_testing
