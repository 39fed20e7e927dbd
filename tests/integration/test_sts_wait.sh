#!/usr/bin/env bash
# test_sts_wait - first contact: a client thread in mxc_sts_wait for a
# domain nobody asked about is woken as soon as the daemon publishes the
# domain's check (the futex wake of each publish), well before its
# timeout; for a domain whose check cannot finish in time (its policy host
# takes the connection and never answers) it gets MXC_NOTFOUND when the
# time runs out, and the check goes on.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/sts_env.sh
trap 'sts_env_cleanup; t_cleanup' EXIT

new_dir D
new_dir E
check "certificates made" sts_env_init "$E" mta-sts.first.test mta-sts.hole.test
for d in first hole; do
	dns_record "--host-record=mta-sts.$d.test,127.0.0.1" "--txt-record=_mta-sts.$d.test,v=STSv1; id=${d}1"
done
check "dnsmasq answers" dns_start
policy_ok first.test $'version: STSv1\nmode: enforce\nmx: mx.first.test\nmax_age: 86400\n'
# the request read, then nothing until the fetch times out (2 s)
printf '#!no-response\n' >"$SITE/mta-sts.hole.test.resp"
check "the HTTPS server listens" https_start
sts_config "$E/mxcached.conf" "workers = 4"
check "mxcached starts" daemon_start "$D" -c "$E/mxcached.conf"

S() { "$SHMCTL" -d "$D" "$@"; }

expect_rc 0 "mxc_sts_wait for a domain never asked about (20 s at most)" \
	"$TOOLS/sts_client" "$D" wait first.test 20000
read -r res ms </tmp/t.out.$$
check "  MXC_OK ($res)" test "$res" = ok
check "  well before the timeout ($ms ms)" test "$ms" -lt 10000
expect_rc 0 "  and the policy is there" S sts get first.test
check "  the one fetched" grep -qx "mx: mx.first.test" /tmp/t.out.$$

expect_rc 0 "mxc_sts_wait for a domain whose policy host never answers (500 ms)" \
	"$TOOLS/sts_client" "$D" wait hole.test 500
read -r res ms </tmp/t.out.$$
check "  MXC_NOTFOUND ($res)" test "$res" = notfound
check "  after the timeout ($ms ms)" test "$ms" -ge 450
ok=1
for i in $(seq 1 100); do
	S sts get hole.test >/tmp/t.out.$$ 2>&1
	grep -q "backoff" /tmp/t.out.$$ && { ok=0; break; }
	sleep 0.1
done
_result $ok "  the check went on and ended in a backoff"

check "mxcached stops" daemon_stop "$D"
done_testing
