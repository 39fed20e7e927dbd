#!/usr/bin/env bash
# test_postfix - end to end with a real Postfix.  A throw-away Postfix
# instance (its own main.cf, master.cf, queue and log) has transport_maps,
# smtp_tls_policy_maps and check_recipient_access on a running mxcached's
# socketmap service, takes mail over SMTP and from sendmail, and delivers
# through its smtp(8) client to a test SMTP server (tests/tools/smtp_sink.py,
# STARTTLS with a certificate from tests/certs.sh).  Its master.cf is
# Debian's as the package installs it, smtpd, smtp and trivial-rewrite
# chrooted; the mxcache.conf and main.cf lines are read from
# docs/postfix.md, so what the page shows is what is tested.  What the
# Postfix log and the sink show:
#
#   a) an endpoint override steers a delivery to the override's target;
#   b) MTA-STS: an enforce policy the server's certificate matches gives a
#      verified delivery; one it does not match defers the message, which
#      stays in the queue, and so does a server without STARTTLS; a domain
#      without a policy is delivered as usual;
#      the first message to a domain with nothing cached goes without a
#      policy and makes mxcached fetch it, and the next one is held to it;
#   c) the federation map refuses a blocked recipient at RCPT time;
#   d) with mxcached down nothing bounces: smtpd answers 4xx and queued
#      mail is deferred; once mxcached is back, a flush alone does not
#      deliver it (Postfix remembers the failure), postfix reload and a
#      flush do;
#   e) on the unix socket the chrooted processes fail every lookup; out of
#      the chroot (docs/postfix.md's postconf -F line) all three maps work;
#   f) DANE (smtp_dns_support_level = dnssec, the level from the mtasts
#      answer): a domain whose MX host's certificate matches its TLSA
#      record is delivered over verified TLS; one whose certificate does
#      not is deferred, though its MTA-STS policy would accept it.
#
# Postfix resolves MX records through the system resolver (port 53) and
# delivers to port 25, so the test runs itself again inside a private
# network and mount namespace (unshare): its own loopback, its own
# /etc/resolv.conf naming a validating unbound on 127.0.0.1:53 (with
# "options trust-ad", so that the AD flag reaches Postfix), the sinks on
# 127.0.0.2:25 (STARTTLS) and 127.0.0.3:25 (none).  unbound answers the
# signed zone dane.test from nsd (tests/dnssec_env.sh) and forwards every
# other name to dnsmasq, on other ports.  Without nsd, unbound or
# ldnsutils, dnsmasq answers on port 53 and the DANE checks are skipped.
# Nothing of the host's network, Postfix or /etc is touched.
cd "$(dirname "$0")/../.." || exit 1
SELF=$PWD/tests/integration/test_postfix.sh

skip_all() {
	echo "ok 1 - # SKIP $1"
	echo "1..1"
	exit 0
}
if [ -z "${MXC_PF_NETNS:-}" ]; then
	[ -x /usr/sbin/postfix ] || skip_all "/usr/sbin/postfix is not installed"
	[ "$(id -u)" -eq 0 ] || skip_all "a Postfix instance and a network namespace need root"
	{ command -v unshare && command -v ip; } >/dev/null 2>&1 || skip_all "unshare or ip is missing"
	unshare --net --mount true 2>/dev/null || skip_all "no private network namespace here (unshare --net failed)"
	MXC_PF_NETNS=1 exec unshare --net --mount --propagation private bash "$SELF" "$@"
fi

. tests/lib.sh
. tests/sts_env.sh
. tests/dnssec_env.sh

PF=""
Q=""
SINK_PID=""
PLAIN_PID=""
pf_cleanup() {
	local i pid
	if [ -n "$PF" ] && [ -f "$PF/main.cf" ]; then
		timeout 30 postfix -c "$PF" stop >/dev/null 2>&1   # a wedged instance must not hang the suite
		pid=$(tr -d ' ' 2>/dev/null <"$Q/pid/master.pid")
		for i in $(seq 1 50); do
			{ [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; } || break
			sleep 0.1
		done
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	fi
	for pid in $SINK_PID $PLAIN_PID; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	[ -n "${D:-}" ] && daemon_stop "$D"   # a clean stop; t_cleanup would SIGKILL it
	dnssec_env_cleanup
	sts_env_cleanup
	t_cleanup
}
trap pf_cleanup EXIT
trap 'exit 1' INT TERM

new_dir D      # mxcached's state directory
new_dir E      # the rest: certificates, policy site, Postfix instance, sink

# --- a private loopback world --------------------------------------------------------
ip link set lo up
ip addr add 127.0.0.2/32 dev lo 2>/dev/null   # the sinks' addresses (gVisor wants them named)
ip addr add 127.0.0.3/32 dev lo 2>/dev/null
printf 'nameserver 127.0.0.1\noptions trust-ad\n' >"$E/resolv.conf"
echo "127.0.0.1 localhost" >"$E/hosts"
mount --bind "$E/resolv.conf" /etc/resolv.conf && mount --bind "$E/hosts" /etc/hosts
_result $? "private namespace: own loopback, /etc/resolv.conf names 127.0.0.1"

SINK_IP=127.0.0.2      # offers STARTTLS
PLAIN_IP=127.0.0.3     # does not
NAMES=()
for d in ok enf late plain notls; do
	NAMES+=("mta-sts.$d.example.test" "mx.$d.example.test")
done
NAMES+=(mta-sts.dbad.dane.test mx.dbad.dane.test)
check "certificates made" sts_env_init "$E" "${NAMES[@]}"
# Postfix asks the system resolver: port 53 (our namespace's own), the
# validating unbound; without it, dnsmasq
DANE_MISSING=$(dnssec_env_missing)
[ -n "$DANE_MISSING" ] && DNS_PORT=53
for d in ok enf late plain; do
	dns_record "--mx-host=$d.example.test,mx.$d.example.test,10" "--host-record=mx.$d.example.test,$SINK_IP"
done
dns_record "--mx-host=notls.example.test,mx.notls.example.test,10" "--host-record=mx.notls.example.test,$PLAIN_IP"
for d in ok enf late notls; do
	dns_record "--host-record=mta-sts.$d.example.test,127.0.0.1" "--txt-record=_mta-sts.$d.example.test,v=STSv1; id=${d}1"
done
check "dnsmasq answers on 127.0.0.1:$DNS_PORT" dns_start
# the signed zone: dok.dane.test's MX host has a TLSA record the sink's
# certificate (good.crt) matches; dbad.dane.test's names another key
# (wrongname.crt's), and it has an MTA-STS policy the certificate does
# satisfy
if [ -z "$DANE_MISSING" ]; then
	UNBOUND_PORT=53 UNBOUND_FORWARD=127.0.0.1@$DNS_PORT
	check "dnssec keys made" dnssec_env_init "$E"
	for d in dok dbad; do
		zone_add "$d.dane.test. MX 10 mx.$d.dane.test." "mx.$d.dane.test. A $SINK_IP"
	done
	zone_add "_25._tcp.mx.dok.dane.test. TLSA 3 1 1 $(tlsa_311 "$E/pki/good.crt")" \
		"_25._tcp.mx.dbad.dane.test. TLSA 3 1 1 $(tlsa_311 "$E/pki/wrongname.crt")" \
		"_mta-sts.dbad.dane.test. TXT \"v=STSv1; id=dbad1\"" "mta-sts.dbad.dane.test. A 127.0.0.1"
	check "nsd serves dane.test signed, unbound validates it on 127.0.0.1:53" dnssec_start
	check "unbound: the TLSA record of mx.dok.dane.test validated (AD)" dns_secure _25._tcp.mx.dok.dane.test TLSA
	check "unbound: other names from dnsmasq (mx.ok.example.test)" dns_insecure mx.ok.example.test A
fi
# The sink's certificate (good.crt) is valid for every mx.*.example.test.
# ok.example.test's policy names the MX host DNS gives; enf and late name
# another host, as if DNS had been spoofed: the certificate is valid, but
# not for any name the policy allows.
policy_ok ok.example.test $'version: STSv1\nmode: enforce\nmx: mx.ok.example.test\nmax_age: 86400\n'
policy_ok enf.example.test $'version: STSv1\nmode: enforce\nmx: mx1.enf.example.test\nmax_age: 86400\n'
policy_ok late.example.test $'version: STSv1\nmode: enforce\nmx: mx1.late.example.test\nmax_age: 86400\n'
policy_ok notls.example.test $'version: STSv1\nmode: enforce\nmx: mx.notls.example.test\nmax_age: 86400\n'
policy_ok dbad.dane.test $'version: STSv1\nmode: enforce\nmx: mx.dbad.dane.test\nmax_age: 86400\n'
check "the HTTPS server listens" https_start

# --- the configuration docs/postfix.md shows ----------------------------------------------
# doc_block HEADING N - the Nth fenced block under the heading line
# HEADING ("## main.cf") of docs/postfix.md, up to the next heading: the
# test runs the lines the page shows, so the page cannot drift from what
# works
doc_block() {
	awk -v h="$1" -v n="$2" '
		$0 == h { sec = 1; next }
		sec && !blk && /^#+ / { exit }
		sec && /^```/ { if (blk) { blk = 0; if (++c == n) exit } else blk = 1; next }
		sec && blk && c == n - 1 { print }
	' docs/postfix.md
}
DOC_MXC=$(doc_block "## main.cf" 1)     # mxcache.conf: [socketmap] listen
DOC_MAIN=$(doc_block "## main.cf" 2)    # main.cf: the three maps
# the endpoint of the page's maps: socketmap:inet:127.0.0.1:PORT
TCPMAP=$(grep -o -m1 'socketmap:inet:[^ ,]*:transport' <<<"$DOC_MAIN")
TCPMAP=${TCPMAP%:transport}
# maps_on ENDPOINT LINES - LINES put the three maps, and only them, on ENDPOINT
maps_on() {
	[ -n "$1" ] && [ "$(grep -o 'socketmap:[a-z]*:[^ ,]*' <<<"$2" | sort | tr '\n' ' ')" = \
		"$1:federation $1:mtasts $1:transport " ]
}
doc_tcp() { grep -q "^listen = " <<<"$DOC_MXC" && maps_on "$TCPMAP" "$DOC_MAIN"; }
check "docs/postfix.md, main.cf: [socketmap] listen, and the three maps on TCP" doc_tcp

# --- mxcached: region group postfix, so Postfix's processes reach the socket ----------
STS_DNS_SERVERS=127.0.0.1:53 sts_config "$E/mxcached.conf" "[region]" "group = postfix" "$DOC_MXC"
chgrp postfix "$D" && chmod 0750 "$D"
check "mxcached starts" daemon_start "$D" -c "$E/mxcached.conf"
SOCK=$D/socketmap.sock
MAP=socketmap:unix:$SOCK
S() { "$SHMCTL" -d "$D" "$@"; }

# --- the SMTP sink: STARTTLS with good.crt -----------------------------------------------
SINK=$E/sink
python3 tests/tools/smtp_sink.py --listen "$SINK_IP:25" --dir "$SINK" --cert "$E/pki/good.crt" \
	--key "$E/pki/good.key" --hostname sink.example.test --ready "$E/sink.ready" >>"$E/sink.log" 2>&1 &
SINK_PID=$!
python3 tests/tools/smtp_sink.py --listen "$PLAIN_IP:25" --dir "$SINK" --hostname plain-sink.example.test \
	--ready "$E/plain.ready" >>"$E/sink.log" 2>&1 &
PLAIN_PID=$!
ok=1
for i in $(seq 1 100); do
	[ -s "$E/sink.ready" ] && [ -s "$E/plain.ready" ] && { ok=0; break; }
	sleep 0.05
done
_result $ok "SMTP sinks listen on $SINK_IP:25 (STARTTLS) and $PLAIN_IP:25 (no TLS)"

# --- the Postfix instance: Debian's master.cf, chroot and all ---------------------------------
PF=$E/postfix
Q=$E/queue
SMTPD_PORT=2525
mkdir -p "$PF" "$Q" "$E/data"
chown postfix "$E/data"
chmod 0755 "$E" "$E/pki" && chmod 0644 "$E/pki/ca.crt"   # Postfix's processes: traverse, read the CA
cat >"$PF/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $Q
data_directory = $E/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.mxcache.test
mydomain = mxcache.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
relay_domains =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = $E/maillog
maillog_file_prefixes = /tmp
smtputf8_enable = no
smtp_connection_cache_on_demand = no
EOF
# then docs/postfix.md's lines as they are, but for the test's own CA
# shellcheck disable=SC2001  # a line of the block, not the whole string
sed "s|^smtp_tls_CAfile *=.*|smtp_tls_CAfile = $E/pki/ca.crt|" <<<"$DOC_MAIN" >>"$PF/main.cf"
# DANE needs DNSSEC answers from the resolver (a parameter given once:
# see main_cf_set)
grep -q "^smtp_dns_support_level *=" "$PF/main.cf" || echo "smtp_dns_support_level = dnssec" >>"$PF/main.cf"
# Postfix checks at start that DNSSEC answers come, with a query for
# the root's NS records by default: ours has no root
[ -z "$DANE_MISSING" ] && echo "dnssec_probe = ns:dane.test" >>"$PF/main.cf"
# Debian's master.cf as the package installs it; only smtpd's listener
# moves to 127.0.0.1:2525
MASTER_CF=/usr/share/postfix/master.cf.dist
[ -f "$MASTER_CF" ] || MASTER_CF=/etc/postfix/master.cf.proto
sed -E "s/^smtp( +)inet /127.0.0.1:$SMTPD_PORT inet /" "$MASTER_CF" >"$PF/master.cf"
# chrooted - the chroot column of smtpd, smtp, relay and rewrite
chrooted() {
	postconf -c "$PF" -h -F "127.0.0.1:$SMTPD_PORT/inet/chroot" smtp/unix/chroot relay/unix/chroot \
		rewrite/unix/chroot | tr '\n' ' '
}
check "master.cf: smtpd, smtp, relay and rewrite chrooted, as Debian ships it" test "$(chrooted)" = "y y y y "
# the files Debian's configure-instance.sh copies into the chroot when
# Postfix starts: smtp(8) resolves MX records from inside it
mkdir -p "$Q/etc"
for f in localtime services resolv.conf hosts host.conf nsswitch.conf; do
	[ -f "/etc/$f" ] && cp -L "/etc/$f" "$Q/etc/$f"
done
expect_rc 0 "postfix -c DIR start: a private instance" postfix -c "$PF" start

# submit RCPT - a message over SMTP to the instance's smtpd; prints the
# last reply ("250 2.0.0 Ok: queued as ID", or the refusal); exit 0 on 250
submit() {
	python3 - "$SMTPD_PORT" "$1" <<'PY'
import smtplib, sys
port, rcpt = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP("127.0.0.1", port, timeout=20)
s.ehlo("client.mxcache.test")
s.mail("sender@mta.mxcache.test")
code, msg = s.rcpt(rcpt)
if code == 250:
    body = "From: sender@mta.mxcache.test\r\nTo: %s\r\nSubject: mxcache e2e\r\n\r\nfor %s\r\n" % (rcpt, rcpt)
    code, msg = s.data(body.encode())
print(code, msg.decode(errors="replace"))
s.quit()
sys.exit(0 if code == 250 else 1)
PY
}
# wait_log ERE [SECONDS] - until a line of the Postfix log matches
wait_log() {
	local i
	for ((i = 0; i < ${2:-15} * 10; i++)); do
		grep -qE "$1" "$E/maillog" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# wait_log_count ERE N [SECONDS] - until N lines of the Postfix log match
wait_log_count() {
	local i
	for ((i = 0; i < ${3:-15} * 10; i++)); do
		[ "$(grep -cE "$1" "$E/maillog" 2>/dev/null)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# status_of RCPT - the latest delivery status line for RCPT (waits for one)
status_of() {
	wait_log "to=<$1>.*status=" "${2:-15}"
	grep -F "to=<$1>" "$E/maillog" | grep "status=" | tail -1
}
# pf_reload - postfix reload, and wait until the master has reread its
# configuration (the command only signals it) and the smtpd, qmgr and
# trivial-rewrite processes it had have exited (they do once idle), so
# that what comes next meets new ones
pf_reload() {
	local n i p old live
	n=$(grep -c "postfix/master.*: reload" "$E/maillog")
	old=$(ps --ppid "$(tr -d ' ' <"$Q/pid/master.pid")" -o pid=,comm= |
		awk '$2 ~ /^(smtpd|qmgr|trivial-rewrite)$/ { print $1 }')
	postfix -c "$PF" reload >/dev/null 2>&1 || return 1
	for ((i = 0; i < 150; i++)); do
		live=0
		for p in $old; do kill -0 "$p" 2>/dev/null && live=1; done
		[ "$live" -eq 0 ] && [ "$(grep -c "postfix/master.*: reload" "$E/maillog")" -gt "$n" ] && return 0
		sleep 0.1
	done
	return 1
}
# main_cf_set LINES - set the parameters of main.cf LINES in the instance's
# main.cf, replacing the old values: every Postfix process warns about a
# parameter defined twice, and postlogd, logging its own warnings to
# itself, can deadlock on them
main_cf_set() {
	local line
	mkdir -p "$E/block" && printf '%s\n' "$1" >"$E/block/main.cf"
	postconf -c "$E/block" -n 2>/dev/null | grep -v '^config_directory =' |
		while IFS= read -r line; do postconf -c "$PF" -e "$line"; done
}
# at_sink RCPT - the file in which the sink stored a message for RCPT
at_sink() {
	grep -l -F "X-Sink-To: <$1>" "$SINK"/msg-*.eml 2>/dev/null | head -1
}
# is LINE PATTERN DESC - a TAP result: LINE matches the glob PATTERN; if
# not, LINE is shown
is() {
	local r
	# shellcheck disable=SC2053  # $2 is a pattern
	[[ $1 == $2 ]]
	r=$?
	_result $r "$3"
	[ $r -eq 0 ] || echo "#   log: ${1:-(no status line)}"
}

# ---- a) an endpoint override steers the delivery ---------------------------------------
expect_rc 0 "override dest.example.test -> $SINK_IP" S override set dest.example.test "$SINK_IP"
expect_out "smtp:[$SINK_IP]" "postmap -q DOMAIN: the transport map's answer" \
	postmap -c "$PF" -q dest.example.test "$TCPMAP:transport"
# transport_maps asks a socketmap table for the full address only (and for
# "*"): Postfix makes no partial keys for socketmap (socketmap_table(5))
expect_out "smtp:[$SINK_IP]" "postmap -q USER@DOMAIN: the same (transport_maps sends socketmap the full address)" \
	postmap -c "$PF" -q u1@dest.example.test "$TCPMAP:transport"
expect_rc 0 "a) u1@dest.example.test accepted by smtpd" submit u1@dest.example.test
is "$(status_of u1@dest.example.test)" "*relay=$SINK_IP\[$SINK_IP\]:25,*status=sent*" \
	"a) delivered to the override's target: relay=${SINK_IP}[${SINK_IP}]:25, status=sent"
check "a) the sink has it" test -n "$(at_sink u1@dest.example.test)"

# ---- b) MTA-STS -------------------------------------------------------------------------------
expect_rc 0 "sts fetch ok.example.test" S sts fetch ok.example.test
expect_rc 0 "sts fetch enf.example.test" S sts fetch enf.example.test
expect_out "secure match=mx.ok.example.test servername=hostname" "postmap -q: the mtasts answer Postfix gets" \
	postmap -c "$PF" -q ok.example.test "$TCPMAP:mtasts"
# the postfix user reaches the unix socket through the region group; others do not
expect_out "secure match=mx.ok.example.test servername=hostname" "as user postfix: postmap -q answers" \
	runuser -u postfix -- postmap -c "$PF" -q ok.example.test "$MAP:mtasts"
expect_rc 1 "as user nobody: refused" runuser -u nobody -- postmap -c "$PF" -q ok.example.test "$MAP:mtasts"
check "with Permission denied" grep -q "connect to $SOCK: Permission denied" /tmp/t.err.$$
# the certificate matches the policy: delivered, and Postfix verified it
expect_rc 0 "b) u2@ok.example.test accepted" submit u2@ok.example.test
is "$(status_of u2@ok.example.test)" "*relay=mx.ok.example.test\[$SINK_IP\]:25,*status=sent*" \
	"b) enforce, the certificate matches: sent to mx.ok.example.test"
check "b) over TLS that Postfix verified (secure level from the mtasts answer)" \
	grep -q "Verified TLS connection established to mx.ok.example.test\[$SINK_IP\]:25" "$E/maillog"
f=$(at_sink u2@ok.example.test)
check "b) the sink saw TLS with SNI mx.ok.example.test (servername=hostname)" \
	grep -qx "X-Sink-SNI: mx.ok.example.test" "${f:-/dev/null}"
# the certificate does not match the policy: deferred, kept in the queue
expect_rc 0 "b) u3@enf.example.test accepted" submit u3@enf.example.test
line=$(status_of u3@enf.example.test)
is "$line" "*relay=mx.enf.example.test\[$SINK_IP\]:25,*dsn=4.*status=deferred*" \
	"b) enforce, the certificate does not match: status=deferred"
is "$line" "*\(Server certificate not verified\)" "b) the reason: Server certificate not verified"
check "b) nothing reached the sink for it" test -z "$(at_sink u3@enf.example.test)"
postqueue -c "$PF" -p >"$E/queue.txt" 2>&1
check "b) it waits in the queue (postqueue -p)" grep -q "u3@enf.example.test" "$E/queue.txt"
# a policy, and a server that offers no STARTTLS: deferred
expect_rc 0 "sts fetch notls.example.test" S sts fetch notls.example.test
expect_rc 0 "b) u9@notls.example.test accepted" submit u9@notls.example.test
line=$(status_of u9@notls.example.test)
is "$line" "*relay=mx.notls.example.test\[$PLAIN_IP\]:25,*dsn=4.*status=deferred*" \
	"b) enforce, the server offers no STARTTLS: status=deferred"
is "$line" "*\(TLS is required, but was not offered by host*" "b) the reason: TLS is required, but was not offered"
check "b) nothing reached the sink for it" test -z "$(at_sink u9@notls.example.test)"
# no policy: opportunistic TLS, delivered
expect_rc 0 "b) u4@plain.example.test accepted" submit u4@plain.example.test
is "$(status_of u4@plain.example.test)" "*relay=mx.plain.example.test\[$SINK_IP\]:25,*status=sent*" \
	"b) no policy: sent"
check "b) no policy: TLS not verified (Postfix's own level, may)" \
	sh -c "! grep -q 'Verified TLS connection established to mx.plain' '$E/maillog'"
# nothing cached yet: the first message goes without a policy, the next is held to it
check "b) late.example.test: nothing cached yet" sh -c "! '$SHMCTL' -d '$D' sts list | grep -q '^late.example.test '"
expect_rc 0 "b) u5@late.example.test accepted" submit u5@late.example.test
# first contact: the mtasts map waits for mxcached's check, so the first
# message is already held to the policy
is "$(status_of u5@late.example.test)" "*status=deferred \(Server certificate not verified\)" \
	"b) the first message, nothing cached: the map waited for the check, deferred by the policy"
check "b) Postfix's lookup made mxcached fetch the policy" sh -c "'$SHMCTL' -d '$D' sts list | grep -q '^late.example.test .*enforce'"
check "b) with one request to the policy host" test "$(requests mta-sts.late.example.test)" -eq 1
expect_rc 0 "b) u6@late.example.test accepted" submit u6@late.example.test
is "$(status_of u6@late.example.test)" "*status=deferred \(Server certificate not verified\)" \
	"b) the next message too"

# ---- c) federation: a blocked recipient is refused at RCPT -----------------------------
# (every message above passed the same check_recipient_access)
expect_rc 0 "federation rule add blocked.example.test" S federation rule add blocked.example.test
expect_out "REJECT 5.7.1 Federation policy rejection" "postmap -q DOMAIN: the federation verdict" \
	postmap -c "$PF" -q blocked.example.test "$TCPMAP:federation"
expect_out "REJECT 5.7.1 Federation policy rejection" \
	"postmap -q USER@DOMAIN: the same (check_recipient_access sends socketmap the full address)" \
	postmap -c "$PF" -q x@blocked.example.test "$TCPMAP:federation"
expect_rc 1 "c) RCPT TO:<x@blocked.example.test> refused" submit x@blocked.example.test
check "c) 554 5.7.1 ... Federation policy rejection" grep -q "^554 5.7.1 .*Federation policy rejection" /tmp/t.out.$$
grep -q "^554" /tmp/t.out.$$ || echo "#   smtpd said: $(head -c 200 /tmp/t.out.$$)"

# ---- d) mxcached down: Postfix defers, never bounces, and delivers once it is back -------
# only the message of this case in the queue, as on a quiet server
postsuper -c "$PF" -d ALL >/dev/null 2>&1
check "d) the queue is empty" sh -c "postqueue -c '$PF' -p | grep -q 'Mail queue is empty'"
check "mxcached stops" daemon_stop "$D"
expect_rc 1 "d) smtpd refuses RCPT while the maps are unavailable" submit u7@plain.example.test
check "d) with 451 4.3.0 Temporary lookup failure (the client retries)" \
	grep -q "^451 4.3.0 .*Temporary lookup failure" /tmp/t.out.$$
printf 'Subject: queued while mxcached is down\n\nhi\n' | sendmail -C "$PF" -f sender@mta.mxcache.test u8@plain.example.test
_result $? "d) sendmail -C DIR: u8@plain.example.test queued"
is "$(status_of u8@plain.example.test)" "*dsn=4.3.0,*status=deferred \(address resolver failure\)" \
	"d) the transport lookup fails: deferred (4.3.0 address resolver failure)"
failed_at=$(date +%s)
check "d) the log names the map" grep -q "table $TCPMAP:transport lookup error" "$E/maillog"
check "mxcached starts again" daemon_start "$D" -c "$E/mxcached.conf"
# The queue manager keeps the last address it resolved, failure included,
# for 30 s (resolve_clnt.c), and each smtpd keeps its failures for its
# life: a flush alone retries nothing until then (docs/postfix.md)
postqueue -c "$PF" -f
if wait_log_count "to=<u8@plain.example.test>.*address resolver failure" 2 10 &&
	[ $(($(date +%s) - failed_at)) -lt 25 ]; then
	check "d) mxcached back, postqueue -f alone: the queue manager's remembered failure defers it again" \
		sh -c "! grep -q 'to=<u8@plain.example.test>.*status=sent' '$E/maillog'"
else
	_result 0 "# SKIP no second deferral within 25 s of the failure"
fi
check "docs/postfix.md: after an outage, postfix reload and postqueue -f" \
	test "$(doc_block "## When the service is unavailable" 1)" = $'# postfix reload\n# postqueue -f'
check "d) postfix reload" pf_reload
postqueue -c "$PF" -f
check "d) then postqueue -f delivers it" wait_log "to=<u8@plain.example.test>.*status=sent" 10
expect_rc 0 "d) after the reload, smtpd accepts u7@plain.example.test" submit u7@plain.example.test
is "$(status_of u7@plain.example.test)" "*status=sent*" "d) and delivers it"

# ---- e) the unix socket: out of a chrooted process's reach, fine without chroot ---------
# docs/postfix.md, "The unix socket, without chroot": its main.cf lines
# (DIR is the test's) and its postconf -F line (smtp/inet is the test's
# smtpd listener)
DOC_UNIX_F=$(doc_block "### The unix socket, without chroot" 1)
DOC_UNIX_MAIN=$(doc_block "### The unix socket, without chroot" 2)
doc_unix() {
	grep -q "^# postconf -F .*chroot=n" <<<"$DOC_UNIX_F" &&
		maps_on socketmap:unix:/var/lib/mxcache/socketmap.sock "$DOC_UNIX_MAIN"
}
check "docs/postfix.md, without chroot: a postconf -F line, and the three maps on the unix socket" doc_unix
main_cf_set "${DOC_UNIX_MAIN//\/var\/lib\/mxcache\/socketmap.sock/$SOCK}"
check "e) main.cf: the maps on the unix socket, Postfix still chrooted; postfix reload" pf_reload
expect_rc 1 "e) chrooted: smtpd refuses RCPT" submit u10@ok.example.test
check "e) with 451 4.3.0 Temporary lookup failure" grep -q "^451 4.3.0 .*Temporary lookup failure" /tmp/t.out.$$
check "e) trivial-rewrite cannot find the socket from its chroot" \
	grep -q "trivial-rewrite.*connect to $SOCK: No such file or directory" "$E/maillog"
expect_rc 0 "override dest2.example.test -> $SINK_IP" S override set dest2.example.test "$SINK_IP"
printf 'Subject: queued while chrooted\n\nhi\n' | sendmail -C "$PF" -f sender@mta.mxcache.test u11@dest2.example.test
_result $? "e) sendmail -C DIR: u11@dest2.example.test queued"
is "$(status_of u11@dest2.example.test)" "*dsn=4.3.0,*status=deferred \(address resolver failure\)" \
	"e) chrooted: queued mail deferred (address resolver failure)"
read -ra fields <<<"${DOC_UNIX_F#\# postconf -F }"
postconf -c "$PF" -F "${fields[@]/#smtp\/inet\//127.0.0.1:$SMTPD_PORT/inet/}"
check "e) docs/postfix.md's postconf -F: smtpd, smtp, relay and rewrite out of the chroot" test "$(chrooted)" = "n n n n "
check "e) postfix reload" pf_reload
expect_rc 0 "e) unchrooted: u10@ok.example.test accepted" submit u10@ok.example.test
is "$(status_of u10@ok.example.test)" "*relay=mx.ok.example.test\[$SINK_IP\]:25,*status=sent*" \
	"e) unchrooted, mtasts on the unix socket: sent to mx.ok.example.test"
check "e) over TLS that Postfix verified" \
	test "$(grep -c "Verified TLS connection established to mx.ok.example.test" "$E/maillog")" -ge 2
postqueue -c "$PF" -f
wait_log "to=<u11@dest2.example.test>.*status=sent"
is "$(status_of u11@dest2.example.test)" "*relay=$SINK_IP\[$SINK_IP\]:25,*status=sent*" \
	"e) unchrooted, transport on the unix socket: the deferred message goes to the override's target"
expect_rc 1 "e) unchrooted: RCPT TO:<y@blocked.example.test> refused" submit y@blocked.example.test
check "e) federation on the unix socket: 554 5.7.1 ... Federation policy rejection" \
	grep -q "^554 5.7.1 .*Federation policy rejection" /tmp/t.out.$$

# ---- f) DANE: the TLSA record decides, over a valid MTA-STS policy -----------------------
# (Postfix as e) left it: unchrooted, the maps on the unix socket)
if [ -n "$DANE_MISSING" ]; then
	_result 0 "# SKIP f) DANE: not installed: $DANE_MISSING"
else
	expect_rc 0 "f) sts fetch dbad.dane.test: a valid enforce policy the sink's certificate satisfies" \
		S sts fetch dbad.dane.test
	expect_out "dane-only" "f) postmap -q dok.dane.test: dane-only" postmap -c "$PF" -q dok.dane.test "$MAP:mtasts"
	expect_out "dane-only" "f) postmap -q dbad.dane.test: dane-only, not the MTA-STS answer" \
		postmap -c "$PF" -q dbad.dane.test "$MAP:mtasts"
	expect_rc 0 "f) u12@dok.dane.test accepted" submit u12@dok.dane.test
	is "$(status_of u12@dok.dane.test)" "*relay=mx.dok.dane.test\[$SINK_IP\]:25,*status=sent*" \
		"f) the certificate matches the TLSA record: sent to mx.dok.dane.test"
	check "f) Verified TLS connection (DANE)" \
		grep -q "Verified TLS connection established to mx.dok.dane.test\[$SINK_IP\]:25" "$E/maillog"
	check "f) the sink has it" test -n "$(at_sink u12@dok.dane.test)"
	expect_rc 0 "f) u13@dbad.dane.test accepted" submit u13@dbad.dane.test
	is "$(status_of u13@dbad.dane.test)" "*relay=mx.dbad.dane.test\[$SINK_IP\]:25,*dsn=4.*status=deferred*" \
		"f) the certificate does not match the TLSA record: deferred, though MTA-STS would accept it"
	check "f) Postfix: no matching DANE TLSA records (DANE refused it, not MTA-STS)" \
		grep -q "verification failed for mx.dbad.dane.test\[$SINK_IP\]:25: .*no matching DANE TLSA records" "$E/maillog"
	check "f) nothing reached the sink for it" test -z "$(at_sink u13@dbad.dane.test)"
fi

if [ "$T_FAIL" -ne 0 ]; then
	echo "# the Postfix log:"
	grep -v -E 'smtpd.*(connect|client=)|cleanup.*message-id|qmgr.*removed' "$E/maillog" | tail -60 | sed 's/^/#   /'
fi
done_testing
