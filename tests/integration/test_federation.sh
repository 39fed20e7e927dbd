#!/usr/bin/env bash
# test_federation - the federation policy through a real mxcached: the
# shmctl commands and what they print, durability across a restart and a
# kill -9, and the socketmap federation map's verdicts.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

new_dir D
F() { "$SHMCTL" -d "$D" federation "$@"; }
ns() { printf '%d:%s,' "${#1}" "$1"; }

check "mxcached starts" daemon_start "$D"
expect_out "remote.com: allowed (blocklist mode: there are no rules)" "nothing set: allowed, said in plain words" \
	F check remote.com
expect_out "added the rule bad.com: 1 rule now" "rule add names the rule and the new count" F rule add Bad.COM
expect_out "added the rule 1.2.3.4: 2 rules now" "a second rule" F rule add "[1.2.3.4]"
expect_out "bad.com is a rule already: nothing changed, 2 rules" "adding a rule again changes nothing" \
	F rule add bad.com.
expect_rc 1 "ACCEPT: bad.com. is blocked (exit 1)" F check bad.com.
check "  because a rule names it, in blocklist mode" grep -qx "bad.com.: blocked (blocklist mode: a rule names it)" /tmp/t.out.$$
expect_out "good.com: allowed (blocklist mode: none of the 2 rules names it)" "ACCEPT: good.com is allowed" \
	F check good.com
expect_rc 1 "ACCEPT: the IP rule in bare form" F check 1.2.3.4
expect_out "policy reject (allowlist mode): only the domains the 2 rules name, and the local domain, are allowed" \
	"policy reject, said as allowlist mode" F policy reject
expect_rc 1 "REJECT: good.com is blocked" F check good.com
check "  because no rule names it, in allowlist mode" \
	grep -qx "good.com: blocked (allowlist mode: none of the 2 rules names it)" /tmp/t.out.$$
expect_out "BAD.com: allowed (allowlist mode: a rule names it)" "REJECT: a rule is allowed" F check BAD.com
expect_out "local domain myserver.com" "local domain" F local MyServer.COM.
expect_out "myserver.com: allowed (the local domain)" "REJECT: the local domain is allowed" F check myserver.com
expect_rc 4 "a malformed domain: refused" F rule add "not a domain"
expect_rc 2 "a policy other than accept/reject: usage error" F policy banana
expect_rc 0 "rule list --json" F rule list --json
check "list has domain and created_at" python3 -c "
import json; v=json.load(open('/tmp/t.out.$$'))
assert sorted(x['domain'] for x in v)==['1.2.3.4','bad.com'], v
assert all(isinstance(x['created_at'], int) and x['created_at'] > 0 for x in v), v"

# durable: a clean restart, then a kill -9
check "mxcached stops" daemon_stop "$D"
check "mxcached restarts" daemon_start "$D"
expect_rc 1 "after a restart: REJECT still blocks good.com" F check good.com
expect_rc 0 "and the rule still allows bad.com" F check bad.com
expect_rc 0 "and the local domain" F check myserver.com
expect_out "removed the rule bad.com: 1 rule left" "rule del names the rule and the count left" F rule del bad.com
expect_rc 1 "del of an absent rule: exit 1" F rule del bad.com
daemon_stop "$D" KILL
[ $? -eq 137 ]
_result $? "killed with SIGKILL"
check "mxcached restarts after the kill" daemon_start "$D"
expect_rc 1 "the deletion survived the kill" F check bad.com
expect_rc 0 "federation check --json" F check --json 1.2.3.4
check "JSON: allowed, policy, mode, reason, rules" python3 -c "
import json; d=json.load(open('/tmp/t.out.$$'))
assert d['allowed'] is True and d['policy']=='REJECT' and d['rules']==1 and d['local_domain']=='myserver.com', d
assert d['mode']=='allowlist' and d['reason']=='rule', d"

# the socketmap federation map
{ ns "federation good.com"; ns "federation 1.2.3.4"; ns "federation myserver.com"; ns "federation bad name"; } >"$D/fed.req"
python3 tests/sm_client.py "$D/socketmap.sock" "$D/fed.req" >"$D/fed.got"
printf '%s' "$(ns "OK REJECT 5.7.1 Federation policy rejection")$(ns "OK DUNNO")$(ns "OK DUNNO")$(ns "NOTFOUND ")" >"$D/fed.want"
check "socketmap: REJECT for a blocked domain, DUNNO for allowed ones" cmp -s "$D/fed.got" "$D/fed.want"

expect_out "removed 1 rule: none left" "rule flush" F rule flush
expect_rc 1 "after the flush: REJECT blocks 1.2.3.4" F check 1.2.3.4
check "mxcached stops" daemon_stop "$D"
check "mxcached restarts" daemon_start "$D"
expect_rc 1 "the flush survived the restart" F check 1.2.3.4
expect_rc 0 "rule list after the flush" F rule list --json
check "is empty" python3 -c "import json; assert json.load(open('/tmp/t.out.$$'))==[]"
expect_out "policy accept (blocklist mode): the domains the 0 rules name are blocked, all others allowed" \
	"back to accept" F policy accept
expect_rc 0 "ACCEPT with no rules: allowed" F check anything.example
expect_rc 0 "verify" "$SHMCTL" -d "$D" verify
check "mxcached stops cleanly" daemon_stop "$D"
done_testing
