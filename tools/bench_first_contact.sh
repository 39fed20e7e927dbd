#!/usr/bin/env bash
# tools/bench_first_contact.sh BUILD_DIR N - what the first mtasts query
# for a domain nobody asked about costs through the socketmap, on loopback.
#
# N domains each publish an MTA-STS enforce policy (dnsmasq for the TXT
# records and tests/tools/https_srv for the policies, as make test's
# world).  mxcached starts with an empty cache; a client asks the mtasts
# map for each domain once, one request at a time on one unix connection,
# timing each reply:
#   first_contact  [socketmap] miss_wait_ms = 3000: the map waits for the
#                  daemon's check (TXT, HTTPS fetch, parse, commit,
#                  publish) and answers with the policy;
#   hit            the same N domains again: the cached answer;
#   no_wait        a second daemon with miss_wait_ms = 0 and N other
#                  domains: the answer comes at once, without a policy.
# Each run also counts the answers that carried the policy.
# Prints CSV rows in make bench's layout on stdout:
#   first_contact,N,-,<run>,mxcache-socketmap,<metric>,<value>,<unit>
# Progress on stderr.  Never decides pass or fail: exit 1 only when the
# world or the daemon did not come up.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:?usage: tools/bench_first_contact.sh BUILD_DIR N}
N=${2:?N}

. tests/lib.sh
. tests/sts_env.sh
trap 'sts_env_cleanup; t_cleanup' EXIT
log() { echo "bench_first_contact: $*" >&2; }

new_dir E
# dom I RUN: each its own parent domain, as first contacts in real mail
# are (the daemon checks at most 10 new names a second under one parent)
dom() { echo "fc$1-$2.test"; }
names=()
for run in wait nowait; do
	for i in $(seq 1 "$N"); do names+=("mta-sts.$(dom "$i" $run)"); done
done
sts_env_init "$E" "${names[@]}" || { log "certs.sh failed"; exit 1; }
STS_DNS_CONF=$E/dnsmasq.conf
for run in wait nowait; do
	for i in $(seq 1 "$N"); do
		d=$(dom "$i" $run)
		echo "txt-record=_mta-sts.$d,v=STSv1; id=fc1"
		echo "host-record=mta-sts.$d,127.0.0.1"
		body="version: STSv1
mode: enforce
mx: mx.$d
max_age: 604800
"
		printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
			"${#body}" "$body" >"$SITE/mta-sts.$d.resp"
	done
done >"$STS_DNS_CONF"
dns_start || { log "dnsmasq did not start"; exit 1; }
https_start || { log "https_srv did not start"; exit 1; }

# ask DIR RUN LABEL: one request at a time, each reply timed (ns); prints
# "p50 p99 mean policies" (ms, ms, ms, count)
ask() {
	python3 - "$1/socketmap.sock" "$N" "$2" <<'PY'
import socket, sys, time
path, n, run = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_UNIX); s.connect(path)
f = s.makefile("rb")
times, policies = [], 0
for i in range(1, n + 1):
    q = ("mtasts fc%d-%s.test" % (i, run)).encode()
    req = b"%d:%s," % (len(q), q)
    t = time.perf_counter_ns()
    s.sendall(req)
    ln = b""
    while not ln.endswith(b":"):
        ln += f.read(1)
    body = f.read(int(ln[:-1]) + 1)
    times.append(time.perf_counter_ns() - t)
    policies += body.startswith(b"OK secure match=")
times.sort()
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))] / 1e6
print("%.3f %.3f %.3f %d" % (pick(0.5), pick(0.99), sum(times) / len(times) / 1e6, policies))
PY
}

row() { echo "first_contact,$N,-,$1,mxcache-socketmap,$2,$3,$4"; }
report() { # RUN "p50 p99 mean policies"
	set -- "$1" $2
	row "$1" p50 "$2" ms
	row "$1" p99 "$3" ms
	row "$1" mean "$4" ms
	row "$1" with_policy "$5" count
	log "$1: p50 $2 ms, p99 $3 ms, $5 of $N answers with the policy"
}

for run in wait nowait; do
	new_dir D
	sts_config "$E/$run.conf" "[socketmap]" "miss_wait_ms = $([ $run = wait ] && echo 3000 || echo 0)"
	daemon_start "$D" -c "$E/$run.conf" || { log "mxcached did not start"; exit 1; }
	if [ $run = wait ]; then
		log "first contact: $N domains, miss_wait_ms = 3000"
		report first_contact "$(ask "$D" wait)"
		log "the same domains again: cached"
		report hit "$(ask "$D" wait)"
	else
		log "first contact: $N other domains, miss_wait_ms = 0"
		report no_wait "$(ask "$D" nowait)"
	fi
	daemon_stop "$D"
done
