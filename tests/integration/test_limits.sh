#!/usr/bin/env bash
# test_limits - every limit a peer can reach is enforced, counted, logged
# once and never fatal: client events per second (per client, others
# unaffected), domains with stats, tracker set sizes, the MTA-STS cache's
# quota of never-confirmed entries and the MX cache's size, admin
# connections; a reload changes [limits] without a restart.  (Misses
# against a cache of policies, and their rates: test_sts_flood.sh.)
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

STATS_POST=$TOOLS/stats_post
SERVER_POST=$TOOLS/server_post

# counter NAME - its value in shmctl status --json
counter() {
	"$SHMCTL" -d "$D" status --json 2>/dev/null |
		sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
stat_field() { # DOMAIN FIELD
	"$SHMCTL" -d "$D" stats --json 2>/dev/null | python3 -c "
import json, sys
for r in json.load(sys.stdin):
    if r['domain'] == sys.argv[1]:
        print(r[sys.argv[2]])
" "$1" "$2"
}
stat_is() { [ "$(stat_field "$1" "$2")" = "$3" ]; }
counter_is() { [ "$(counter "$1")" = "$2" ]; }
counter_above() { [ "$(counter "$1")" -gt "$2" ] 2>/dev/null; }
logged_once() { [ "$(grep -c "$1" "$D/daemon.log")" -eq 1 ]; }

new_dir D
cat >"$D/mxcached.conf" <<EOF
[dns]
servers = 127.0.0.1:9     # nothing answers: every check fails, quickly
timeout_ms = 200
retries = 0
[sts]
workers = 1
backoff_s = 3600
[limits]
client_events_per_s = 200
stats_domains = 3
servers = 2
sts_entries = 4
sts_miss_entries = 3
mx_entries = 3
EOF
check "mxcached starts with small [limits]" daemon_start "$D" -c "$D/mxcached.conf"

# --- events per second, per client
"$STATS_POST" "$D" flood.limits.test 20000 success retry >/dev/null 2>&1 &
flood=$!
sleep 0.3
expect_out "posted 50 dropped 0" "another client posts while one floods" \
	"$STATS_POST" "$D" calm.limits.test 50 success retry
wait "$flood"
check "the calm client's events all count" wait_for stat_is calm.limits.test successful_deliveries 50
ok_flood=$(stat_field flood.limits.test successful_deliveries)
check "the flooding client's count is held near the rate (${ok_flood:-?} of 20000)" \
	test "${ok_flood:-0}" -gt 0 -a "${ok_flood:-99999}" -lt 19000
check "its excess is counted" wait_for counter_above limit_client_events_total 999
check "and logged once" logged_once "posts more than 200 events/s"
check "the daemon still answers" "$SHMCTL" -d "$D" ping

# --- domains with stats
for d in a b c d e; do
	"$STATS_POST" "$D" $d.stats.limits.test 1 success >/dev/null 2>&1
	sleep 0.05
done
# two domains already counted (flood, calm) + a: then the limit
check "events for domains past [limits] stats_domains are counted as dropped" \
	wait_for counter_is limit_stats_domains_total 4
expect_out "1" "the domains under the limit count" stat_field a.stats.limits.test successful_deliveries
expect_out "" "the domains past it do not" stat_field e.stats.limits.test successful_deliveries
check "logged once" logged_once "stats_domains"

# --- tracker sets
for ip in 198.51.100.1 198.51.100.2 198.51.100.3 198.51.100.4 198.51.100.5; do
	"$SERVER_POST" "$D" $ip - >/dev/null 2>&1
done
check "a tracker set stops at [limits] servers" \
	wait_for sh -c "'$SHMCTL' -d '$D' servers --json | grep -q '\"unique_conn_ips\": *2'"
check "the rest is counted" wait_for counter_is limit_servers_total 3
check "logged once" logged_once "\[limits\] servers"

# --- MTA-STS and MX caches: misses make fetches until the cache is full;
# every check fails here, so each MTA-STS entry is a never-confirmed one,
# and past their quota each new one takes the place of the oldest
for i in 1 2 3 4 5 6 7 8; do
	"$SHMCTL" -d "$D" sts get sts$i.limits.test >/dev/null 2>&1
	"$SHMCTL" -d "$D" resolve-mx mx$i.limits.test >/dev/null 2>&1
	sleep 0.1
done
sts_n() { "$SHMCTL" -d "$D" status --json | sed -n 's/.*"sts_entries":\([0-9]*\).*/\1/p'; }
mx_n() { "$SHMCTL" -d "$D" status --json | sed -n 's/.*"mx_entries":\([0-9]*\).*/\1/p'; }
check "never-confirmed entries past [limits] sts_miss_entries evict the oldest, counted" \
	wait_for counter_above limit_sts_miss_entries_total 0
check "MX lookups past [limits] mx_entries are not started, and counted" wait_for counter_above limit_mx_entries_total 0
cache_full() { [ "$($1)" -ge 3 ] 2>/dev/null; }
wait_for cache_full sts_n
wait_for cache_full mx_n
sleep 0.5   # and whatever was running when the limit was reached
n=$(sts_n)
check "the MTA-STS cache holds the quota ($n)" test "${n:-99}" -eq 3
sts_all() { sqlite3 "file:$D/mxcache.db?mode=ro" "SELECT group_concat(domain, ' ') FROM (SELECT domain FROM sts ORDER BY domain)"; }
sts_newest() { [ "$(sts_all)" = "sts6.limits.test sts7.limits.test sts8.limits.test" ]; }
wait_for sts_newest
check "the three newest ($(sts_all))" sts_newest
n=$(mx_n)
check "the MX cache holds the limit ($n)" test "${n:-99}" -eq 3
check "each logged once" sh -c "grep -c 'sts_miss_entries' '$D/daemon.log' | grep -qx 1 && grep -c 'mx_entries' '$D/daemon.log' | grep -qx 1"

# --- a reload raises a limit, no restart
sed -i 's/^stats_domains = 3/stats_domains = 100/' "$D/mxcached.conf"
kill -HUP "$(cat "$D/test.pid")"
check "the reload is logged" wait_for grep -q "reloaded" "$D/daemon.log"
"$STATS_POST" "$D" late.stats.limits.test 1 success >/dev/null 2>&1
check "a new domain counts after the limit was raised" wait_for stat_is late.stats.limits.test successful_deliveries 1

# --- admin connections
expect_out "EBUSY" "the 33rd admin connection at once is refused with EBUSY" python3 - "$D/ctl.sock" <<'PY'
import socket, sys
conns = []
for i in range(33):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    conns.append(s)
# each of the first 32 is served: a PING answers
for s in conns[:32]:
    s.sendall(b"PING\n")
    if not s.recv(100).startswith(b"OK"):
        print("no answer"); sys.exit(1)
conns[32].settimeout(5)
print(conns[32].recv(200).split()[1].decode())
PY
check "and counted" wait_for counter_above limit_ctl_connections_total 0
check "the daemon still answers once they close" "$SHMCTL" -d "$D" ping
check "nothing reached was fatal: mxcached stops cleanly" daemon_stop "$D"
done_testing
