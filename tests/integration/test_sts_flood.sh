#!/usr/bin/env bash
# test_sts_flood - a socketmap peer floods the MTA-STS cache with misses
# for names nobody mails to (mtasts pN.attacker-random.test, each a DNS
# check that fails and leaves a backoff entry), with a small cache; while
# it floods, domains really in use keep their policies and their scheduled
# refreshes, and new domains asked for by another client, and by the same
# socketmap server, are still fetched and cached.  Then the same with
# checks that stall (a DNS server that never answers) under many parent
# domains: the queue stays bounded and fair.  Last, the limit lowered to
# the domains that had a policy: misses evict only never-confirmed
# entries, and a new domain is refused.  Each limit reached is counted and
# logged once.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/sts_env.sh
trap 'bg_stop; sts_env_cleanup; t_cleanup' EXIT

ENTRIES=50          # [limits] sts_entries
KEEP=(keep1.test keep2.test keep3.test keep4.test keep5.test)
NEW=(new1.test new2.test new3.test)
ZONES=16            # parent domains of stalling names in part 2: 10/s each is over 100/s
new_dir D
new_dir E
S() { "$SHMCTL" -d "$D" "$@"; }
hosts=()
for d in "${KEEP[@]}" "${NEW[@]}" sm.test; do hosts+=("mta-sts.$d"); done
check "certificates made" sts_env_init "$E" "${hosts[@]}"
for d in "${KEEP[@]}" "${NEW[@]}" sm.test; do
	dns_record "--host-record=mta-sts.$d,127.0.0.1" "--txt-record=_mta-sts.$d,v=STSv1; id=${d%%.*}1"
	policy_ok "$d" $'version: STSv1\nmode: enforce\nmx: mx.'"$d"$'\nmax_age: 86400\n'
done
# the attacker's names: a DNS server that fails them at once (SERVFAIL), and
# in part 2 one that never answers, for several parent domains
check "a DNS server that answers SERVFAIL" servfail_dns_start
dns_record "--server=/attacker-random.test/127.0.0.1#$SERVFAIL_PORT"
check "a DNS server that never answers" silent_dns_start
for z in $(seq 1 $ZONES); do dns_record "--server=/stall$z.test/127.0.0.1#$SILENT_PORT"; done
check "dnsmasq answers" dns_start
check "the HTTPS server listens" https_start

SM_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# miss_wait_ms = 0: the flood is of misses as fast as a peer can send
# them, at the daemon's limits; with first contact's wait each connection
# would have one miss in flight at a time (test_socketmap tests the wait)
sts_config "$E/mxcached.conf" "workers = 4" "refresh_s = 2" "backoff_s = 3600" \
	"[socketmap]" "listen = $SM_PORT" "idle_timeout_s = 60" "miss_wait_ms = 0" \
	"[limits]" "sts_entries = $ENTRIES"
daemon_start "$D" -c "$E/mxcached.conf"
rc=$?
_result $rc "mxcached starts with sts_entries = $ENTRIES"
[ "$rc" -eq 0 ] || tail -5 "$D/daemon.log" | sed 's/^/#   /'

sql() { sqlite3 "file:$D/mxcache.db?mode=ro" "$1" 2>/dev/null || echo 0; }
counter() {
	S status --json 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['counters'].get(sys.argv[1], 0))" "$1" 2>/dev/null || echo 0
}
counter_above() { [ "$(counter "$1")" -gt "$2" ] 2>/dev/null; }
logged_once() { [ "$(grep -c "$1" "$D/daemon.log")" -eq 1 ]; }
entries() { S status --json 2>/dev/null | sed -n 's/.*"sts_entries":\([0-9]*\).*/\1/p'; }
# has_policy DOMAIN - a policy stored for DOMAIN
has_policy() { [ "$(sql "SELECT count(*) FROM sts WHERE kind = 1 AND domain = '$1'")" -eq 1 ]; }
# wait_until MS CMD... - poll CMD until it succeeds; prints the ms it took
wait_until() {
	local limit=$1 t0
	shift
	t0=$(now_ms)
	while :; do
		"$@" >/dev/null 2>&1 && { echo $(($(now_ms) - t0)); return 0; }
		[ $(($(now_ms) - t0)) -ge "$limit" ] && { echo "more than $limit"; return 1; }
		sleep 0.05
	done
}
now_ms() { date +%s%3N; }
# refreshed_since T - every policy in use checked again after unix time T
# (a domain is checked at most every 10 s, the refresher looks every 5 s)
refreshed_since() {
	[ "$(sql "SELECT count(*) FROM sts WHERE kind = 1 AND last_update > $1 AND domain LIKE 'keep%'")" -eq ${#KEEP[@]} ]
}

# flood ADDR PREFIX PER_S SECONDS ZONES - pipelined mtasts queries for new
# names PREFIX<n>.<zone>, PER_S a second, over one connection; prints how
# many were answered
cat >"$E/flood.py" <<'PY'
import socket, sys, time
where, prefix, per_s, secs, zones = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5].split(",")
host, port = where.rsplit(":", 1)
s = socket.create_connection((host, int(port)))
s.setblocking(False)
n = answered = 0
t0 = time.time()
buf = b""
while time.time() - t0 < secs:
    due = int((time.time() - t0) * per_s)
    while n < due:
        q = ("mtasts %s%d.%s" % (prefix, n, zones[n % len(zones)])).encode()
        try:
            s.sendall(b"%d:%s," % (len(q), q))
        except BlockingIOError:
            break
        n += 1
    try:
        b = s.recv(65536)
        if not b:
            break
        buf += b
        answered += buf.count(b",")
        buf = buf[buf.rfind(b",") + 1:]
    except BlockingIOError:
        pass
    time.sleep(0.01)
print(answered)
PY
# sm_ask DOMAIN - one mtasts query over the unix socket: OK when a policy
# is cached (the same socketmap server, so the same source as the flood)
sm_ask() {
	python3 - "$D/socketmap.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
q = ("mtasts " + sys.argv[2]).encode()
s.sendall(b"%d:%s," % (len(q), q))
s.settimeout(2)
r = s.recv(4096)
sys.exit(0 if b":OK " in r else 1)
PY
}

# --- domains in use: fetched, then used by a client ---
for d in "${KEEP[@]}"; do S sts fetch "$d" >/dev/null 2>&1; done
ok=0
for d in "${KEEP[@]}"; do has_policy "$d" && ok=$((ok + 1)); done
check "${#KEEP[@]} policies in use cached ($ok)" test "$ok" -eq ${#KEEP[@]}
for d in "${KEEP[@]}"; do S sts get "$d" >/dev/null 2>&1; done

# --- part 1: a flood of misses that fail at once, through TCP ---
t_flood=$(date +%s)
python3 "$E/flood.py" "127.0.0.1:$SM_PORT" p 400 18 attacker-random.test >"$E/flood1.out" 2>&1 &
T_BG+=($!)
flood=$!
sleep 3
attack=$(sql "SELECT count(*) FROM sts WHERE domain LIKE '%.attacker-random.test'")
check "the flood's names are checked and cached ($attack; cache limit $ENTRIES)" test "$attack" -ge 10
# a new domain asked for once by another client (its own reader slot)
S sts get "${NEW[0]}" >/dev/null 2>&1
ms=$(wait_until 5000 has_policy "${NEW[0]}")
check "a new domain asked for once by another client is fetched during the flood ($ms ms)" has_policy "${NEW[0]}"
# and one asked for once through the same socketmap server: its parent
# domain is not the flood's, so the server's rate has room for it
sm_ask sm.test
ms=$(wait_until 5000 has_policy sm.test)
check "a new domain asked for once through the flooded socketmap server is fetched ($ms ms)" has_policy sm.test
check "and then answered OK" sm_ask sm.test
ms=$(wait_until 16000 refreshed_since "$t_flood")
check "the policies in use were refreshed during the flood ($ms ms)" refreshed_since "$t_flood"
wait "$flood"
echo "# part 1: the flood's queries answered: $(cat "$E/flood1.out")"
attack=$(sql "SELECT count(*) FROM sts WHERE domain LIKE '%.attacker-random.test'")
backoff=$(sql "SELECT count(*) FROM sts WHERE kind = 2 AND domain LIKE '%.attacker-random.test'")
check "the flood's names are backoff entries ($backoff of $attack)" test "$backoff" -gt 0 -a "$backoff" -eq "$attack"
check "they hold at most half the cache, the default quota ($attack, limit $((ENTRIES / 2)))" \
	test "$attack" -le $((ENTRIES / 2))
n=$(entries)
check "the cache is within [limits] sts_entries ($n)" test "${n:-99}" -le "$ENTRIES"
ok=0
for d in "${KEEP[@]}" "${NEW[0]}" sm.test; do has_policy "$d" && ok=$((ok + 1)); done
check "every policy in use is still cached ($ok of $((${#KEEP[@]} + 2)))" test "$ok" -eq $((${#KEEP[@]} + 2))
check "the oldest never-confirmed entries were evicted, counted" counter_above limit_sts_miss_entries_total 0
check "and logged once" logged_once "sts_miss_entries"
check "a parent domain over its miss rate is counted" counter_above limit_sts_zone_misses_total 0
check "and logged once" logged_once "misses under attacker-random.test"

# --- part 2: misses whose checks stall, under $ZONES parent domains ---
zones=$(seq -s, -f "stall%g.test" 1 $ZONES)
t_flood=$(date +%s)
python3 "$E/flood.py" "127.0.0.1:$SM_PORT" q 400 16 "$zones" >"$E/flood2.out" 2>&1 &
T_BG+=($!)
flood=$!
sleep 2
S sts get "${NEW[1]}" >/dev/null 2>&1
ms=$(wait_until 4000 has_policy "${NEW[1]}")
check "a new domain asked for by another client is fetched while checks stall ($ms ms)" has_policy "${NEW[1]}"
check "a source over [limits] client_misses_per_s (default 100) is counted" counter_above limit_client_misses_total 0
check "and logged once" logged_once "client_misses_per_s"
check "misses waiting beyond the backlog of one source are dropped, counted" \
	counter_above limit_sts_miss_backlog_total 0
check "and logged once" logged_once "misses waiting"
ms=$(wait_until 16000 refreshed_since "$t_flood")
check "the policies in use were refreshed while checks stall ($ms ms)" refreshed_since "$t_flood"
wait "$flood"
echo "# part 2: the flood's queries answered: $(cat "$E/flood2.out")"
n=$(entries)
check "the cache is within [limits] sts_entries ($n)" test "${n:-99}" -le "$ENTRIES"
IN_USE=("${KEEP[@]}" "${NEW[0]}" "${NEW[1]}" sm.test)
in_use_cached() {
	local d n=0
	for d in "${IN_USE[@]}"; do has_policy "$d" && n=$((n + 1)); done
	echo "$n"
}
n=$(in_use_cached)
check "every policy in use is still cached ($n of ${#IN_USE[@]})" test "$n" -eq ${#IN_USE[@]}

# --- part 3: the limit lowered to the domains that had a policy ---
sed -i "s/^sts_entries = $ENTRIES\$/sts_entries = ${#IN_USE[@]}/" "$E/mxcached.conf"
kill -HUP "$(cat "$D/test.pid")"
check "the reload is logged" wait_until 5000 grep -q "reloaded" "$D/daemon.log"
python3 "$E/flood.py" "127.0.0.1:$SM_PORT" r 10 4 attacker-random.test >/dev/null 2>&1
at_limit() { [ "$(entries)" -eq ${#IN_USE[@]} ]; }
ms=$(wait_until 5000 at_limit)
check "new misses evict the never-confirmed entries down to the new limit ($(entries) entries, $ms ms)" at_limit
n=$(in_use_cached)
check "and no policy in use ($n of ${#IN_USE[@]})" test "$n" -eq ${#IN_USE[@]}
S sts get "${NEW[2]}" >/dev/null 2>&1
check "a cache full of domains that had a policy takes no new domain: refused, counted" \
	wait_until 5000 counter_above limit_sts_entries_total 0
check "and logged once" logged_once "for domains that had a policy"
sleep 1
check "the domain was not fetched" test "$(requests "mta-sts.${NEW[2]}")" -eq 0
check "the cache is at the limit ($(entries))" at_limit
check "the daemon answers" S ping
expect_rc 0 "verify passes" S verify
check "mxcached stops cleanly" daemon_stop "$D"
if [ -n "$SAN" ]; then
	reports=$(grep -c 'Sanitizer\|runtime error' "$D/daemon.log")
	check "no $SAN report in the daemon's log ($reports)" test "$reports" -eq 0
fi
done_testing
