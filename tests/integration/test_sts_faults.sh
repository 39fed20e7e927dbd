#!/usr/bin/env bash
# test_sts_faults - mxcached's MTA-STS machinery under faults, against the
# loopback world of tests/sts_env.sh (dnsmasq, tests/tools/https_srv):
#
#   1. SIGKILL during MTA-STS refreshes: a few hundred good policies
#      refreshed all the time (refresh_s = 1) and fetched by admins in
#      parallel, fresh domains and changed ids among them, killed at a
#      random moment, several rounds.  While it is down clients answer
#      from the last published region; after the restart verify passes,
#      every acknowledged policy is there at least as new, every stored
#      policy is byte for byte one of the versions served (never
#      half-written), and the refresher picks up changed ids by itself.
#   2. SIGKILL during the final snapshot: SIGTERM, then SIGKILL 0-50 ms
#      later, just after overrides were set and delivery stats posted.
#      Every acknowledged override survives; stats are a consistent
#      snapshot, never more than what was posted.
#   3. Hostile policy hosts under load (stalling, trickling, never
#      finishing the handshake, resetting, garbage, DNS that never
#      answers) with a small worker pool: good domains get their policies
#      within a bound computed from the timeouts and the pool size, the
#      daemon's threads and sockets stay bounded, and scheduled refreshes
#      still happen.
#
# Environment: STS_FAULT_ROUNDS (part 1 rounds, default 3).
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/sts_env.sh

BG=()   # this test's background loops
bg_stop() {
	local p
	for p in "${BG[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	BG=()
}
trap 'bg_stop; sts_env_cleanup; t_cleanup' EXIT

ROUNDS=${STS_FAULT_ROUNDS:-3}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
T_START=$(now_ms)

# ---- the world ---------------------------------------------------------------

# part 1: K (300 policies), per round 40 never-seen domains
K=()
for i in $(seq -w 0 299); do K+=("k$i.kill.test"); done
NEWK=()
for r in $(seq 1 "$ROUNDS"); do
	for i in $(seq -w 0 39); do NEWK+=("n$r-$i.kill.test"); done
done
# part 3: hostile policy hosts, each kind by its own name
HANG=() TRICKLE=() HSSTALL=() DNSSTALL=() RESET=() HSGARB=() JUNK=()
for i in 0 1 2 3 4 5 6 7; do
	HANG+=("h$i.hang.test")
	TRICKLE+=("t$i.trickle.test")
	HSSTALL+=("x$i.hsstall.test")
	DNSSTALL+=("d$i.dnsstall.test")
done
for i in 0 1 2 3; do RESET+=("r$i.reset.test"); done
for i in 0 1; do
	HSGARB+=("g$i.hsgarbage.test")
	JUNK+=("j$i.junk.test")
done
HOSTILE=("${HANG[@]}" "${TRICKLE[@]}" "${HSSTALL[@]}" "${DNSSTALL[@]}" "${RESET[@]}" "${HSGARB[@]}" "${JUNK[@]}")
# part 3: good domains asked for with the first sight of the hostile ones
# (A), with their retries (B) and while those still run (C); refreshed (F)
GA=() GB=() GC=() GF=()
for i in 0 1 2 3 4 5 6 7; do
	GA+=("a$i.good.test")
	GB+=("b$i.good.test")
	GC+=("c$i.good.test")
	GF+=("f$i.good.test")
done
GOOD3=("${GA[@]}" "${GB[@]}" "${GC[@]}" "${GF[@]}")

names=()
for d in "${K[@]}" "${NEWK[@]}" "${GOOD3[@]}" "${HANG[@]}" "${TRICKLE[@]}" "${HSSTALL[@]}" "${RESET[@]}" \
	"${HSGARB[@]}" "${JUNK[@]}"; do
	names+=("mta-sts.$d")
done
new_dir E
check "certificates for ${#names[@]} policy hosts" sts_env_init "$E" "${names[@]}"
check "a DNS server that never answers" silent_dns_start

# the policies: version V of domain D; its TXT id is vV
declare -A VER
body() { # DOMAIN VERSION - the policy text (the checker below builds the same)
	printf 'version: STSv1\nmode: enforce\nmx: mx%s.%s\nmax_age: 86400\n' "$2" "$1"
}
serve() { # DOMAIN VERSION [DELAY_MS]: replaced atomically, https_srv may be reading it
	local d=$1 b f=$SITE/mta-sts.$1.resp
	b=$(body "$1" "$2")$'\n'
	{
		[ "${3:-0}" -gt 0 ] && printf '#!delay-ms %d\n' "$3"
		printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
			"${#b}" "$b"
	} >"$f.tmp" && mv "$f.tmp" "$f"
	VER[$d]=$2
}
for d in "${K[@]}"; do serve "$d" 1 $((RANDOM % 4 == 0 ? RANDOM % 40 : 0)); done
for d in "${NEWK[@]}"; do serve "$d" 1 $((RANDOM % 2 == 0 ? RANDOM % 60 : 0)); done
for d in "${GOOD3[@]}" "${DNSSTALL[@]}"; do serve "$d" 1; done
# stalls: no answer at all; one byte every 50 ms (minutes for the whole
# response); a TLS handshake never finished; and quick failures: a TCP
# reset, garbage instead of TLS, garbage instead of HTTP
for d in "${HANG[@]}"; do printf '#!no-response\nHTTP/1.1 200 OK\r\n\r\n' >"$SITE/mta-sts.$d.resp"; done
for d in "${TRICKLE[@]}"; do
	{ printf '#!trickle-ms 50\n'; cat "$SITE/mta-sts.${GA[0]}.resp"; } >"$SITE/mta-sts.$d.resp"
done
for d in "${HSSTALL[@]}"; do printf '#!handshake-stall\n' >"$SITE/mta-sts.$d.resp"; done
for d in "${RESET[@]}"; do printf '#!reset\n' >"$SITE/mta-sts.$d.resp"; done
for d in "${HSGARB[@]}"; do printf '#!handshake-garbage\n' >"$SITE/mta-sts.$d.resp"; done
for d in "${JUNK[@]}"; do
	{ printf 'XX'; head -c 3000 /dev/urandom | tr -d '\n' | head -c 2000; } >"$SITE/mta-sts.$d.resp"
done
for d in "${HOSTILE[@]}"; do VER[$d]=1; done

STS_DNS_CONF=$E/dnsmasq.conf
write_dns() {
	local d
	{
		for d in "${!VER[@]}"; do
			case $d in *.dnsstall.test) continue ;; esac
			echo "txt-record=_mta-sts.$d,v=STSv1; id=v${VER[$d]}"
			echo "host-record=mta-sts.$d,127.0.0.1"
		done
		# every name under dnsstall.test goes to the silent server
		echo "server=/dnsstall.test/127.0.0.1#$SILENT_PORT"
	} >"$STS_DNS_CONF"
}
policies() { # DIR SQL-CONDITION: how many sts rows
	sqlite3 "file:$1/mxcache.db?mode=ro" "SELECT count(*) FROM sts WHERE $2" 2>/dev/null || echo 0
}
write_dns
check "dnsmasq answers" dns_start
check "the HTTPS server listens" https_start

# ---- part 1: SIGKILL while policies are fetched, refreshed and written ---------

new_dir D1
S1() { "$SHMCTL" -d "$D1" "$@"; }
sts_config "$E/p1.conf" "refresh_s = 1" "backoff_s = 1" "workers = 8"
check "part 1: mxcached starts" daemon_start "$D1" -c "$E/p1.conf"
check "part 1: an override before the rounds" S1 override set before.kill.test 192.0.2.1
printf '%s\n' "${K[@]}" | xargs -P 8 -n 1 "$SHMCTL" -d "$D1" sts fetch >/dev/null 2>&1
n=$(policies "$D1" "kind = 1 AND record_id = 'v1'")
check "part 1: ${#K[@]} policies fetched ($n)" test "$n" -eq "${#K[@]}"

# fetch_loop OUT DOMAIN... - admin fetches until killed; one "DOMAIN ID T0"
# line per acknowledged policy (T0: the second the request was sent)
fetch_loop() {
	local out=$1 d t0 o id
	shift
	while :; do
		for d in "$@"; do
			t0=$(date +%s)
			o=$("$SHMCTL" -d "$D1" sts fetch "$d" --json 2>/dev/null) || continue
			# the daemon's summary of this check: "policy enforce id vN max_age 86400"
			id=$(sed -n 's/^ *"check_detail":"policy [a-z]* id \([^ ]*\) .*/\1/p' <<<"$o")
			echo "$d $id $t0" >>"$out"
		done
	done
}

# check_state DIR ACKED REGION_JSON [down] - the stored policies and the
# region against what was served and acknowledged:
#   - every stored policy of a kill.test domain is exactly the text of the
#     version its id names, and no newer than what is served;
#   - every acknowledged (domain, id) is there with that version or a newer
#     one, checked no earlier than the acknowledged request was sent;
#   - the region (what clients see) holds each acknowledged policy at least
#     as new, with the patterns of its version.
# With "down" only the region is checked (the daemon is dead).
check_state() {
	local ver=$E/ver
	for d in "${!VER[@]}"; do echo "$d ${VER[$d]}"; done >"$ver"
	python3 - "$1" "$2" "$ver" "$3" "${4:-up}" <<'PY'
import json, re, sqlite3, sys
db, acked, verf, regf, mode = sys.argv[1:]
ver = {}
for line in open(verf):
    d, v = line.split()
    ver[d] = int(v)
def body(d, k):
    return "version: STSv1\nmode: enforce\nmx: mx%d.%s\nmax_age: 86400\n" % (k, d)
def vnum(rid):
    m = re.fullmatch(r"v(\d+)", rid or "")
    return int(m.group(1)) if m else -1
bad = []
acks = {}
for line in open(acked):
    p = line.split()
    if len(p) != 3:
        continue      # a loop killed in mid-line
    d, rid, t0 = p[0], p[1], int(p[2])
    k = vnum(rid)
    if k < 0 or k > ver.get(d, 0):
        bad.append("%s: acknowledged id %s was never served" % (d, rid))
        continue
    a = acks.get(d)
    if a is None or (k, t0) > a:
        acks[d] = (k, t0)
region = {e["domain"]: e for e in json.load(open(regf))}
for d, (k, t0) in acks.items():
    e = region.get(d)
    if e is None or e.get("kind") != "policy":
        bad.append("%s: acknowledged v%d, clients see %s" % (d, k, e and e.get("kind")))
    elif vnum(e.get("record_id")) < k:
        bad.append("%s: acknowledged v%d, clients see %s" % (d, k, e.get("record_id")))
    elif e.get("mx") != ["mx%d.%s" % (vnum(e["record_id"]), d)]:
        bad.append("%s: clients see id %s with patterns %s" % (d, e["record_id"], e.get("mx")))
nrows = 0
if mode == "up":
    con = sqlite3.connect("file:%s/mxcache.db?mode=ro" % db, uri=True)
    rows = {r[0]: r for r in con.execute(
        "SELECT domain, kind, record_id, policy_text, last_update FROM sts")}
    for d, (_, kind, rid, text, lu) in rows.items():
        if d not in ver or kind != 1:
            continue
        nrows += 1
        k = vnum(rid)
        if k < 1 or k > ver[d]:
            bad.append("%s: stored id %s was never served" % (d, rid))
        elif text != body(d, k):
            bad.append("%s: stored text of %s is not the one served: %r" % (d, rid, text[:80]))
    for d, (k, t0) in acks.items():
        r = rows.get(d)
        if r is None or r[1] != 1:
            bad.append("%s: acknowledged v%d, not stored" % (d, k))
        elif vnum(r[2]) < k:
            bad.append("%s: acknowledged v%d, stored %s" % (d, k, r[2]))
        elif r[4] < t0:
            bad.append("%s: acknowledged a check at %d or later, stored last_update %d" % (d, t0, r[4]))
if mode == "up":
    print("# %d acknowledged domains, %d stored policies checked, %d faults" % (len(acks), nrows, len(bad)))
else:
    print("# %d acknowledged domains, what clients see checked, %d faults" % (len(acks), len(bad)))
for b in bad[:8]:
    print("#   " + b)
sys.exit(1 if bad else 0)
PY
}

# check_shown DESC CMD... - as check, and the command's "# " lines shown
check_shown() {
	local desc=$1 rc
	shift
	"$@" >/tmp/t.out.$$ 2>&1
	rc=$?
	_result $rc "$desc"
	grep '^#' /tmp/t.out.$$
	return 0
}

for round in $(seq 1 "$ROUNDS"); do
	: >"$D1/acked.new"
	fresh=("${NEWK[@]:$(((round - 1) * 40)):40}")
	mapfile -t L < <(printf '%s\n' "${K[@]}" "${fresh[@]}" | shuf)
	q=$(((${#L[@]} + 3) / 4))
	for p in 0 1 2 3; do
		fetch_loop "$D1/acked.$p" "${L[@]:$((p * q)):$q}" &
		BG+=($!)
	done
	# 0.4 to 1.3 s into the load: a random moment
	sleep 0.3
	sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
	daemon_stop "$D1" KILL
	bg_stop
	cat "$D1"/acked.[0-9] >>"$D1/acked" 2>/dev/null
	cat "$D1"/acked.[0-9] >"$D1/acked.new" 2>/dev/null
	rm -f "$D1"/acked.[0-9]
	n=$(wc -l <"$D1/acked.new")
	nf=$(grep -c '^n' "$D1/acked.new")
	check "round $round: policies were being acknowledged when it died ($n)" test "$n" -gt 0
	echo "# round $round: $nf of them for domains new this round"

	# while it is down: the last published region answers
	expect_out "192.0.2.1" "round $round: down, clients still resolve" S1 resolve before.kill.test
	d=$(awk 'END { print $1 }' "$D1/acked.new")
	expect_rc 0 "round $round: down, sts get of the last acknowledged domain ($d) answers" S1 sts get "$d"
	S1 sts list --json >"$D1/region.json" 2>/dev/null
	check_shown "round $round: down, clients see every acknowledged policy at least as new" \
		check_state "$D1" "$D1/acked" "$D1/region.json" down

	# while it is down, 30 policies change (id and text); then restart
	mapfile -t C < <(printf '%s\n' "${K[@]}" | shuf -n 30)
	for d in "${C[@]}"; do serve "$d" $((VER[$d] + 1)) $((RANDOM % 3 == 0 ? RANDOM % 40 : 0)); done
	write_dns
	check "round $round: dnsmasq restarted with 30 new ids" dns_restart
	check "round $round: mxcached restarts" daemon_start "$D1" -c "$E/p1.conf"
	expect_rc 0 "round $round: verify passes" S1 verify
	S1 sts list --json >"$D1/region.json" 2>/dev/null
	check_shown "round $round: every acknowledged policy stored at least as new, every stored one whole" \
		check_state "$D1" "$D1/acked" "$D1/region.json"

	# refreshing resumes by itself: the changed ids, with no admin asking
	t0=$(now_ms)
	ok=1
	while [ $(($(now_ms) - t0)) -lt 20000 ]; do
		inlist=$(printf "'%s'," "${C[@]}")
		n=$(sqlite3 "file:$D1/mxcache.db?mode=ro" "SELECT domain, record_id FROM sts WHERE domain IN (${inlist%,})" 2>/dev/null |
			while IFS='|' read -r d id; do [ "$id" = "v${VER[$d]}" ] && echo x; done | wc -l)
		[ "$n" -eq "${#C[@]}" ] && { ok=0; break; }
		sleep 0.1
	done
	_result $ok "round $round: the refresher fetched the 30 changed policies by itself ($(($(now_ms) - t0)) ms)"
done
# Two checks of one domain at once: A fetches a slow version (the policy
# host waits 1.5 s before answering); meanwhile the id changes again and
# an admin's fetch B acknowledges the newest one.  A, older and slower,
# must not overwrite B's result: checks of one domain run one at a time.
X=${K[0]}
va=$((VER[$X] + 1))
serve "$X" "$va" 1500
write_dns
check "dnsmasq restarted: $X id v$va, its host slow" dns_restart
nreq=$(grep -c "^mta-sts.$X " "$SITE/requests.log")
S1 sts fetch "$X" >/dev/null 2>&1 &
apid=$!
ok=1
for i in $(seq 1 100); do
	[ "$(grep -c "^mta-sts.$X " "$SITE/requests.log")" -gt "$nreq" ] && { ok=0; break; }
	sleep 0.02
done
_result $ok "fetch A of $X (v$va) is waiting for the slow host"
serve "$X" $((va + 1))
write_dns
check "dnsmasq restarted: $X id v$((va + 1))" dns_restart
expect_rc 0 "fetch B of $X while A runs" S1 sts fetch "$X" --json
check "B acknowledged v$((va + 1))" grep -q "\"check_detail\":\"policy .* id v$((va + 1)) " /tmp/t.out.$$
wait "$apid"
check "after A is done, v$((va + 1)) is still stored" test "$(sqlite3 "file:$D1/mxcache.db?mode=ro" \
	"SELECT record_id FROM sts WHERE domain = '$X'")" = "v$((va + 1))"
expect_rc 0 "and clients see it" S1 sts get "$X"
check "id v$((va + 1))" grep -qx "id: v$((va + 1))" /tmp/t.out.$$
check "part 1: verify at the end" S1 verify
check "part 1: mxcached stops cleanly" daemon_stop "$D1"
echo "# part 1: $(wc -l <"$D1/acked") acknowledged fetches in $ROUNDS rounds, $(($(now_ms) - T_START)) ms so far"

# ---- part 2: SIGKILL during the final snapshot ------------------------------------
#
# What may be lost: stats are counted in memory, published to the region
# within 50 ms and written to SQLite every 10 s and at a clean stop.  A
# daemon killed before that last write loses the events it had counted
# since the previous write (here: up to all of the round's); events still
# waiting in the clients' rings (the readers file outlives the daemon) are
# counted by the next daemon, so a count may still grow after the restart.
# Never lost: an acknowledged override.  Never seen: part of a row (after
# the restart a row is one of the snapshots it went through, its fields
# agree: every success posted here is 10 ms over SMTP), more than was
# posted, or a count going back.  A daemon that finished its clean stop
# before the SIGKILL must have kept everything.

new_dir D2
S2() { "$SHMCTL" -d "$D2" "$@"; }
POST=$TOOLS/stats_post
# stat_of DOMAIN FIELD - from the region, 0 when absent
stat_of() {
	S2 stats "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2" \
		2>/dev/null || echo 0
}
wait_stat() { # DOMAIN FIELD WANT (5 s at most)
	local i
	for i in $(seq 1 100); do
		[ "$(stat_of "$1" "$2")" = "$3" ] && return 0
		sleep 0.05
	done
	return 1
}
check "part 2: mxcached starts" daemon_start "$D2"
"$POST" "$D2" base.stats.test 500 queue retry 1 >/dev/null
check "part 2: 500 events counted" wait_stat base.stats.test queued_messages 500
check "part 2: clean stop" daemon_stop "$D2"
check "part 2: restart" daemon_start "$D2"
check "part 2: the 500 kept by the clean stop" wait_stat base.stats.test queued_messages 500

# setter - acknowledged overrides, one by one, until killed
setter() {
	local i=0
	while :; do
		"$SHMCTL" -d "$D2" override set "t$1-$i.term.test" 192.0.2.7 >/dev/null 2>&1 &&
			echo "t$1-$i.term.test" >>"$D2/acked"
		i=$((i + 1))
	done
}
# stats_read - every domain's counters from the region into ST[DOMAIN:FIELD]
declare -A ST
stats_read() {
	local k v
	ST=()
	while read -r k v; do ST[$k]=$v; done < <(S2 stats --json 2>/dev/null | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    for f, v in e.items():
        if f != "domain":
            print("%s:%s %s" % (e["domain"], f, v))')
}
declare -A SEEN POSTED
lost=""
for delay in 0 50 10 40 20 30; do
	: >"$D2/acked"
	setter "$delay" &
	BG+=($!)
	sleep 0.3
	"$POST" "$D2" "q$delay.stats.test" 400 queue retry 2 >/dev/null
	"$POST" "$D2" "s$delay.stats.test" 300 success retry 1 >/dev/null
	pid=$(cat "$D2/test.pid")
	kill -TERM "$pid"
	[ "$delay" -gt 0 ] && sleep "0.0$(printf '%02d' "$delay")"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	rm -f "$D2/test.pid"
	bg_stop
	how=$([ "$rc" -eq 0 ] && echo "stopped cleanly first" || echo "killed, exit $rc")
	n=$(wc -l <"$D2/acked")
	check "delay $delay ms: overrides were being acknowledged ($n), $how" test "$n" -gt 0
	check "delay $delay ms: mxcached restarts" daemon_start "$D2"
	S2 override list 2>/dev/null | awk '{ print $1 }' | sort >"$D2/listed"
	missing=$(sort "$D2/acked" | comm -23 - "$D2/listed" | wc -l)
	check "delay $delay ms: every acknowledged override is there ($missing of $n missing)" test "$missing" -eq 0
	stats_read
	qn=${ST[q$delay.stats.test:queued_messages]:-0}
	sn=${ST[s$delay.stats.test:successful_deliveries]:-0}
	sm=${ST[s$delay.stats.test:success_smtp]:-0}
	sl=${ST[s$delay.stats.test:total_latency_ms]:-0}
	check "delay $delay ms: never more than posted (queued $qn of 800, successes $sn of 300)" \
		test "$qn" -le 800 -a "$sn" -le 300
	check "delay $delay ms: a consistent row (successes $sn, over SMTP $sm, latency $sl ms)" \
		test "$sm" -eq "$sn" -a "$sl" -eq $((sn * 10))
	if [ "$rc" -eq 0 ]; then
		check "delay $delay ms: a clean stop kept every event" test "$qn" -eq 800 -a "$sn" -eq 300
	else
		lost="$lost $((800 - qn + 300 - sn))"
	fi
	check "delay $delay ms: what the clean stop kept is still exact" \
		test "${ST[base.stats.test:queued_messages]:-0}" -eq 500
	bad=0
	for k in "${!SEEN[@]}"; do
		v=${ST[$k]:-0}
		[ "$v" -ge "${SEEN[$k]}" ] && [ "$v" -le "${POSTED[$k]}" ] || bad=$((bad + 1))
		SEEN[$k]=$v
	done
	check "delay $delay ms: earlier rounds' counts never back, never over what was posted ($bad not)" \
		test "$bad" -eq 0
	SEEN["q$delay.stats.test:queued_messages"]=$qn
	SEEN["s$delay.stats.test:successful_deliveries"]=$sn
	POSTED["q$delay.stats.test:queued_messages"]=800
	POSTED["s$delay.stats.test:successful_deliveries"]=300
	expect_rc 0 "delay $delay ms: verify passes" S2 verify
done
echo "# part 2: events lost by the rounds killed before their final write:${lost:- none}"
check "part 2: mxcached stops cleanly" daemon_stop "$D2"

# ---- part 3: hostile policy hosts and a small pool ---------------------------------

W=4
FETCH_MS=1000
DNS_MS=500          # sts_config's [dns] timeout_ms, retries 0
REFRESH_S=5
new_dir D3
S3() { "$SHMCTL" -d "$D3" "$@"; }
sts_config "$E/p3.conf" "workers = $W" "refresh_s = $REFRESH_S" "backoff_s = 1"
sed -i -e "s/^timeout_ms = .*/timeout_ms = $DNS_MS/" -e "s/^fetch_timeout_ms = .*/fetch_timeout_ms = $FETCH_MS/" \
	-e "s/^connect_timeout_ms = .*/connect_timeout_ms = $FETCH_MS/" "$E/p3.conf"
check "part 3: mxcached starts ($W workers, fetch timeout $FETCH_MS ms, DNS timeout $DNS_MS ms)" \
	daemon_start "$D3" -c "$E/p3.conf"
pid=$(cat "$D3/test.pid")
tasks() { local t=(/proc/"$1"/task/*); echo ${#t[@]}; }
workers() { cat /proc/"$1"/task/*/comm 2>/dev/null | grep -c '^sts-worker-[0-9]*$'; }
sockets() { find /proc/"$1"/fd -lname 'socket:*' 2>/dev/null | wc -l; }
for d in "${GF[@]}"; do S3 sts fetch "$d" >/dev/null 2>&1; done
T0=$(tasks "$pid")
F0=$(sockets "$pid")
check "part 3: $W worker threads at start ($(workers "$pid") of $T0 threads)" test "$(workers "$pid")" -eq "$W"
# a thread per admin connection is the only other thread mxcached makes
# (here: the sequential admin fetches of F, one of them still finishing);
# a check holds at most one TCP socket and one UDP socket per worker
T_MAX=$((T0 + 2))
F_MAX=$((F0 + 2 * W + 2))
echo "# part 3: idle: $T0 threads, $F0 sockets; bounds $T_MAX and $F_MAX"

# sampler PIDFILE OUT - the daemon's threads, sockets and workers every 40 ms
sampler() {
	local p
	while :; do
		p=$(cat "$1" 2>/dev/null)
		[ -n "$p" ] && [ -d "/proc/$p" ] && echo "$(tasks "$p") $(sockets "$p") $(workers "$p")" >>"$2"
		sleep 0.04
	done
}
sampler "$D3/test.pid" "$D3/samples" &
BG+=($!)

# ask_all DOMAIN... - one client lookup each: a miss asks mxcached to fetch
ask_all() {
	local d
	for d in "$@"; do S3 sts get "$d" >/dev/null 2>&1; done
}
# wait_policies MS DOMAIN... - ms until every DOMAIN has a policy stored
# (or MS passed: prints MS and fails)
wait_policies() {
	local limit=$1 t0 inlist n
	shift
	t0=$(now_ms)
	inlist=$(printf "'%s'," "$@")
	while :; do
		n=$(policies "$D3" "kind = 1 AND domain IN (${inlist%,})")
		[ "$n" -eq $# ] && { echo $(($(now_ms) - t0)); return 0; }
		[ $(($(now_ms) - t0)) -ge "$limit" ] && { echo "$limit (only $n of $#)"; return 1; }
		sleep 0.02
	done
}

N_SLOW=$((${#HANG[@]} + ${#TRICKLE[@]} + ${#HSSTALL[@]}))   # each holds a worker for FETCH_MS
N_DNS=${#DNSSTALL[@]}                                         # each for DNS_MS
GOOD_MS=250         # a good fetch on loopback, with room for a loaded machine
SLACK_MS=1500
# Wave 1: the hostile domains are new: nothing tells them from good ones
# before one try each, so good domains asked for at the same time may wait
# for all of them: every worker held for a timeout, in turns.
B1=$(((N_SLOW + W - 1) / W * FETCH_MS + (N_DNS + W - 1) / W * DNS_MS + (${#GA[@]} + W - 1) / W * GOOD_MS + 2 * SLACK_MS))
t1=$(now_ms)
ask_all "${HOSTILE[@]}"
ask_all "${GA[@]}"
ms=$(wait_policies "$B1" "${GA[@]}")
check "wave 1: ${#GA[@]} good domains asked for with ${#HOSTILE[@]} new hostile ones: policies in $ms ms (bound $B1 ms)" \
	test "${ms%% *}" -lt "$B1"
inlist=$(printf "'%s'," "${HOSTILE[@]}")
all_failed() { test "$(policies "$D3" "kind = 2 AND domain IN (${inlist%,})")" -eq ${#HOSTILE[@]}; }
ok=1
for i in $(seq 1 300); do all_failed && { ok=0; break; }; sleep 0.05; done
_result $ok "wave 1: every hostile domain failed and backs off, in $(($(now_ms) - t1)) ms"
classes() { # DOMAIN...: the distinct failure classes stored
	local inl
	inl=$(printf "'%s'," "$@")
	sqlite3 "file:$D3/mxcache.db?mode=ro" "SELECT DISTINCT failure FROM sts WHERE domain IN (${inl%,})" | tr '\n' ' '
}
check "stalls, trickles, resets, garbage: sts-policy-fetch-error ($(classes "${HANG[@]}" "${TRICKLE[@]}" "${RESET[@]}" "${JUNK[@]}"))" \
	test "$(classes "${HANG[@]}" "${TRICKLE[@]}" "${RESET[@]}" "${JUNK[@]}")" = "2 "
check "a handshake never finished: sts-policy-fetch-error ($(classes "${HSSTALL[@]}"))" \
	test "$(classes "${HSSTALL[@]}")" = "2 "
# a certificate failure is sts-webpki-invalid; a peer that speaks no TLS is not one
check "garbage instead of TLS: sts-policy-fetch-error ($(classes "${HSGARB[@]}"))" \
	test "$(classes "${HSGARB[@]}")" = "2 "
check "DNS that never answers: dns ($(classes "${DNSSTALL[@]}"))" test "$(classes "${DNSSTALL[@]}")" = "1 "

# Restart, so that the hostile domains may be asked for again at once (a
# domain checked less than 10 s ago is not queued again); F refreshed just
# before, so that its next scheduled refresh falls while they run.
for d in "${GF[@]}"; do S3 sts fetch "$d" >/dev/null 2>&1; done
check "part 3: mxcached stops" daemon_stop "$D3"
check "part 3: mxcached restarts" daemon_start "$D3" -c "$E/p3.conf"
t_restart=$(date +%s)
t_restart_ms=$(now_ms)

# Wave 2: the hostile domains again, now known to fail, and good ones at
# the same time; wave 3: more good ones while those retries still run.
# Known failures may hold at most half the workers, so a good domain
# waits for no hostile one, only for the good ones ahead of it on the
# other half (GOOD_MS each); one fetch timeout and SLACK_MS more are room
# for a loaded machine.  (With one queue for all, they waited for every
# hostile retry ahead of them: about 7 s.)
B2=$((FETCH_MS + (${#GB[@]} + W / 2 - 1) / (W / 2) * GOOD_MS + SLACK_MS))
ask_all "${HOSTILE[@]}"
t2=$(now_ms)
ask_all "${GB[@]}"
wait_policies "$B2" "${GB[@]}" >"$D3/wave2" &
w2=$!
while [ $(($(now_ms) - t2)) -lt 1500 ]; do sleep 0.05; done
ask_all "${GC[@]}"
ms=$(wait_policies "$B2" "${GC[@]}")
wait "$w2"
check "wave 2: ${#GB[@]} good domains asked for with ${#HOSTILE[@]} failing ones: policies in $(cat "$D3/wave2") ms (bound $B2 ms)" \
	test "$(cut -d' ' -f1 "$D3/wave2")" -lt "$B2"
check "wave 3: ${#GC[@]} good domains asked for 1.5 s later: policies in $ms ms (bound $B2 ms)" \
	test "${ms%% *}" -lt "$B2"
# scheduled refreshes: F's next check comes due REFRESH_S after the one
# just before the restart; the refresher looks every 5 s
BR=$(((REFRESH_S + 5) * 1000 + FETCH_MS + SLACK_MS))
inl=$(printf "'%s'," "${GF[@]}")
ok=1
while [ $(($(now_ms) - t_restart_ms)) -lt "$BR" ]; do
	[ "$(policies "$D3" "kind = 1 AND last_update > $t_restart AND domain IN (${inl%,})")" -eq ${#GF[@]} ] &&
		{ ok=0; break; }
	sleep 0.1
done
_result $ok "the scheduled refreshes of ${#GF[@]} good policies happen meanwhile ($(($(now_ms) - t_restart_ms)) ms after the restart, bound $BR ms)"
# a retry stores a new backoff entry: valid_end = time of the check + backoff_s (1)
retried=$(policies "$D3" "kind = 2 AND valid_end > $((t_restart + 1)) AND domain IN (${inlist%,})")
check "meanwhile the failing domains were retried ($retried of ${#HOSTILE[@]})" test "$retried" -ge $((W / 2))
expect_rc 0 "part 3: verify" S3 verify
bg_stop
ns=$(wc -l <"$D3/samples")
tmax=$(awk '$1 > m { m = $1 } END { print m + 0 }' "$D3/samples")
fmax=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$D3/samples")
wmax=$(awk '$3 > m { m = $3 } END { print m + 0 }' "$D3/samples")
check "threads and sockets sampled all along ($ns samples)" test "$ns" -ge 100
check "never more than $W worker threads (at most $wmax)" test "$wmax" -eq "$W"
check "threads never over $T_MAX (at most $tmax)" test "$tmax" -le "$T_MAX"
check "sockets never over $F_MAX (at most $fmax)" test "$fmax" -le "$F_MAX"
check "part 3: mxcached stops cleanly" daemon_stop "$D3"
if [ -n "$SAN" ]; then
	reports=$(cat "$D1/daemon.log" "$D2/daemon.log" "$D3/daemon.log" | grep -c 'Sanitizer\|runtime error')
	check "no $SAN report in the daemons' logs ($reports)" test "$reports" -eq 0
fi
echo "# $(($(now_ms) - T_START)) ms in all"
done_testing
