#!/usr/bin/env bash
# test_operator - what an operator touches besides the data: config
# checking, reloads that say what needs a restart, metrics from shmctl
# and from the HTTP endpoint, in valid Prometheus text that follows what
# happens.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

new_dir D
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# --- --check-config
printf '[limits]\nsts_entries = 10\n' >"$D/good.conf"
expect_rc 0 "--check-config accepts a good file" "$MXCACHED" -c "$D/good.conf" --check-config
check "  silently" test ! -s /tmp/t.out.$$ -a ! -s /tmp/t.err.$$
printf '[limits]\nsts_entries = lots\n' >"$D/bad.conf"
expect_rc 1 "--check-config refuses a bad value" "$MXCACHED" -c "$D/bad.conf" --check-config
check "  naming file, line and key" grep -q "bad.conf:2: limits.sts_entries: 'lots' is not a number" /tmp/t.err.$$
printf '[sts]\nrecheck_s = 0\n[socketmap]\nmiss_wait_ms = 0\n' >"$D/good.conf"
expect_rc 0 "recheck_s and miss_wait_ms take 0 (never, at once)" "$MXCACHED" -c "$D/good.conf" --check-config
printf '[sts]\nrecheck_s = 86401\n' >"$D/bad.conf"
expect_rc 1 "recheck_s over a day is refused" "$MXCACHED" -c "$D/bad.conf" --check-config
printf '[socketmap]\nmiss_wait_ms = 30001\n' >"$D/bad.conf"
expect_rc 1 "miss_wait_ms over 30 s is refused" "$MXCACHED" -c "$D/bad.conf" --check-config
printf '[metrics]\nlisten = 192.0.2.1:9464\n' >"$D/bad.conf"
expect_rc 1 "a metrics address off loopback is refused" "$MXCACHED" -c "$D/bad.conf" --check-config
check "  saying why" grep -q "not a loopback address" /tmp/t.err.$$
expect_rc 1 "a missing file is refused" "$MXCACHED" -c "$D/none.conf" --check-config
expect_out "mxcached: no -c: the built-in defaults are valid" \
	"--check-config without -c checks the built-in defaults, and says so" "$MXCACHED" --check-config
printf '[sts]\nworkers = 4\nrefresh = 60\n' >"$D/bad.conf"
expect_rc 1 "a mistyped key is refused" "$MXCACHED" -c "$D/bad.conf" --check-config
check "  naming file and line, with the key of that section it is nearest to" \
	grep -q "bad.conf:3: unknown key 'refresh' in \[sts\]; did you mean 'refresh_s'?" /tmp/t.err.$$
printf '[sts]\nWorkers = 4\n' >"$D/bad.conf"
expect_rc 1 "a key in the wrong case is refused" "$MXCACHED" -c "$D/bad.conf" --check-config
check "  with the right spelling" grep -q "bad.conf:2: unknown key 'Workers' in \[sts\]; did you mean 'workers'?" /tmp/t.err.$$
printf '[dns]\nworkers = 4\n' >"$D/bad.conf"
expect_rc 1 "a key in the wrong section is refused" "$MXCACHED" -c "$D/bad.conf" --check-config
check "  naming the section it belongs in" \
	grep -q "bad.conf:2: unknown key 'workers' in \[dns\]; did you mean 'workers' in \[sts\]?" /tmp/t.err.$$
printf '[limit]\nsts_entries = 10\n' >"$D/bad.conf"
expect_rc 1 "a mistyped section is refused" "$MXCACHED" -c "$D/bad.conf" --check-config
check "  with the nearest one" grep -q "bad.conf:2: unknown section \[limit\]; did you mean \[limits\]?" /tmp/t.err.$$
printf '[sts]\nzzzzzzzz = 1\n' >"$D/bad.conf"
expect_rc 1 "a key like no other is refused" "$MXCACHED" -c "$D/bad.conf" --check-config
check "  with no guess" sh -c "grep -q \"bad.conf:2: unknown key 'zzzzzzzz' in \[sts\]\$\" /tmp/t.err.$$"
check "mxcached -h documents --check-config" sh -c "'$MXCACHED' -h | grep -q -- --check-config"

# --- the daemon with a metrics endpoint
cat >"$D/mxcached.conf" <<EOF
[sts]
workers = 2
[metrics]
listen = 127.0.0.1:$PORT
[limits]
stats_domains = 100
EOF
check "mxcached starts with [metrics] listen" daemon_start "$D" -c "$D/mxcached.conf"
for i in $(seq 1 50); do grep -q "metrics: serving" "$D/daemon.log" && break; sleep 0.1; done
check "it says where the metrics are" grep -q "metrics: serving http://127.0.0.1:$PORT/metrics" "$D/daemon.log"
"$SHMCTL" -d "$D" override set a.op.test 192.0.2.1 >/dev/null
"$SHMCTL" -d "$D" override set b.op.test 192.0.2.2 >/dev/null
python3 - "$D/socketmap.sock" <<'PY' >/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
for q in (b"transport a.op.test", b"transport nowhere.op.test", b"mtasts a.op.test"):
    s.sendall(b"%d:%s," % (len(q), q)); s.recv(200)
PY
sleep 0.3   # the counters reach the region at the next writer tick

http() { python3 - "$PORT" "$@" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request(sys.argv[2], sys.argv[3])
r = c.getresponse()
body = r.read().decode()
print(r.status, r.getheader("Content-Type"))
sys.stdout.write(body)
PY
}
http GET /metrics >"$D/http.txt"
check "GET /metrics: 200, Prometheus text 0.0.4" grep -qx "200 text/plain; version=0.0.4; charset=utf-8" "$D/http.txt"
expect_out "404 text/plain" "another path: 404" sh -c "$(declare -f http); PORT=$PORT http GET /other | head -1"
expect_out "405 text/plain" "another method: 405" sh -c "$(declare -f http); PORT=$PORT http POST /metrics | head -1"
expect_out "200 text/plain; version=0.0.4; charset=utf-8" "HEAD: the headers only" \
	sh -c "$(declare -f http); PORT=$PORT http HEAD /metrics"
"$SHMCTL" -d "$D" metrics >"$D/shmctl.txt"
check "shmctl metrics exits 0" test $? -eq 0

# valid exposition: every sample in a family announced by HELP and TYPE,
# sample lines well formed, no sample twice
valid() {
	python3 - "$1" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
if lines and re.match(r"^\d{3} ", lines[0]):
    lines = lines[1:]
typed, seen = {}, set()
sample = re.compile(r'^(mxcache_[a-z_]+)(\{[a-z_]+="[^"]*"\})? (\d+(\.\d+)?)$')
for l in lines:
    if l.startswith("# HELP "):
        continue
    m = re.match(r"^# TYPE (mxcache_[a-z_]+) (counter|gauge)$", l)
    if m:
        typed[m.group(1)] = m.group(2); continue
    m = sample.match(l)
    if not m: sys.exit("bad line: " + l)
    if m.group(1) not in typed: sys.exit("no TYPE for " + l)
    if typed[m.group(1)] == "counter" and not m.group(1).endswith("_total"): sys.exit("counter name " + l)
    key = m.group(1) + (m.group(2) or "")
    if key in seen: sys.exit("twice: " + key)
    seen.add(key)
if len(seen) < 40: sys.exit("only %d samples" % len(seen))
PY
}
check "the endpoint's text is valid exposition format" valid "$D/http.txt"
check "shmctl's too" valid "$D/shmctl.txt"
metric() { awk -v n="mxcache_$1" '$1 == n { print $2 }' "$2"; }
expect_out "2" "entries follow the data" metric 'entries{table="overrides"}' "$D/shmctl.txt"
expect_out "1" "the writer runs" metric writer_running "$D/http.txt"
expect_out "2" "socketmap requests by map" metric 'socketmap_requests_total{map="transport"}' "$D/shmctl.txt"
expect_out "1" "socketmap answers by kind" metric 'socketmap_answers_total{answer="OK"}' "$D/shmctl.txt"
check "SQLite commits counted" test "$(metric store_commits_total "$D/shmctl.txt")" -ge 2
# both read the reader figures from the daemon's once-a-second listing:
# two reads that straddle a new listing may differ there, so read both
# back to back, at most three times
same() {
	local i
	for i in 1 2 3; do
		http GET /metrics >"$D/http2.txt"
		"$SHMCTL" -d "$D" metrics >"$D/shmctl2.txt"
		diff <(grep -v -e claimed -e '_time_seconds' "$D/http2.txt" | tail -n +2) \
			<(grep -v -e claimed -e '_time_seconds' "$D/shmctl2.txt") >/dev/null && return 0
	done
	return 1
}
check "the endpoint and shmctl say the same" same

# --- SIGHUP: what applies, what waits
cat >"$D/mxcached.conf" <<EOF
[sts]
workers = 5
[metrics]
listen = 127.0.0.1:$PORT
[limits]
stats_domains = 200
[log]
level = debug
EOF
kill -HUP "$(cat "$D/test.pid")"
for i in $(seq 1 50); do grep -q "reloaded" "$D/daemon.log" && break; sleep 0.1; done
check "a reload applies the log level at once" grep -q "reloaded $D/mxcached.conf (log level debug)" "$D/daemon.log"
check "and names what waits for a restart" grep -q "SIGHUP: \[sts\] workers changed: it takes effect at the next start" "$D/daemon.log"
check "but not what it applied" sh -c "! grep -q 'limits.*takes effect at the next start' '$D/daemon.log'"
printf '[sts]\nworkers = many\n' >"$D/mxcached.conf"
kill -HUP "$(cat "$D/test.pid")"
for i in $(seq 1 50); do grep -q "keeping the running config" "$D/daemon.log" && break; sleep 0.1; done
check "a bad file on reload: the running config stays" grep -q "workers: 'many' is not a number.*keeping the running config" "$D/daemon.log"
check "and the daemon answers" "$SHMCTL" -d "$D" ping
check "mxcached stops cleanly" daemon_stop "$D"
check "the metrics port is closed after the stop" sh -c "! python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $PORT), 1)' 2>/dev/null"
done_testing
