#!/usr/bin/env bash
# tools/bench_refresh.sh BUILD_DIR N WORKERS... - how long mxcached takes to
# refresh N MTA-STS policies against loopback servers (dnsmasq and
# tests/tools/https_srv), for each worker-pool size given.
#
# For each size: N policies are stored with an old TXT id and due now;
# mxcached starts and its refresher queues all of them.  Two runs:
#   fetch      the TXT id changed: a DNS query, the policy host's address,
#              a TLS handshake and GET, a parse, a commit, per domain;
#   unchanged  the id is the same: a DNS query and a commit per domain.
# Timed from the daemon's start until every row shows the result in
# SQLite.  Prints CSV rows in make bench's layout on stdout:
#   sts_refresh,N,-,<run>,mxcached,<metric>,<value>,<unit>
# Progress on stderr.  Never decides pass or fail.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${1:?usage: tools/bench_refresh.sh BUILD_DIR N WORKERS...}
N=${2:?N}
shift 2
[ $# -gt 0 ] || set -- 16

. tests/lib.sh
. tests/sts_env.sh
trap 'sts_env_cleanup; t_cleanup' EXIT

REFRESH_GIVEUP_S=600   # a hang guard, not a performance limit
log() { echo "bench_refresh: $*" >&2; }

new_dir E
GROUP=1000   # policy hosts per certificate: a certificate stays under TLS's size limits
sts_env_init "$E" || { log "certs.sh failed"; exit 1; }
log "certificates for $N policy hosts, $GROUP to a certificate"
: >"$E/ca-bundle.crt"
: >"$SITE/certs.map"
for g in $(seq 0 $(((N - 1) / GROUP))); do
	names=()
	for i in $(seq $((g * GROUP + 1)) $(((g + 1) * GROUP))); do
		[ "$i" -le "$N" ] && names+=("mta-sts.r$i.g$g.test")
	done
	sh tests/certs.sh "$E/pki$g" "${names[@]}" || { log "certs.sh failed"; exit 1; }
	cat "$E/pki$g/ca.crt" >>"$E/ca-bundle.crt"
	echo "*.g$g.test $E/pki$g/good.crt $E/pki$g/good.key" >>"$SITE/certs.map"
done
cp "$E/ca-bundle.crt" "$E/pki/ca.crt"
dom() { echo "r$1.g$((($1 - 1) / GROUP)).test"; }
STS_DNS_CONF=$E/dnsmasq.conf
for i in $(seq 1 "$N"); do
	d=$(dom "$i")
	echo "txt-record=_mta-sts.$d,v=STSv1; id=new1"
	echo "host-record=mta-sts.$d,127.0.0.1"
done >"$STS_DNS_CONF"
dns_start || { log "dnsmasq did not start"; exit 1; }
for i in $(seq 1 "$N"); do
	d=$(dom "$i")
	body="version: STSv1
mode: enforce
mx: mx.$d
mx: *.mx.$d
max_age: 604800
"
	printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
		"${#body}" "$body" >"$SITE/mta-sts.$d.resp"
done
https_start || { log "https_srv did not start"; exit 1; }
sts_config "$E/base.conf" "refresh_s = 43200"

count() { # DIR SQL-CONDITION
	sqlite3 "file:$1/mxcache.db?mode=ro" "SELECT count(*) FROM sts WHERE $2" 2>/dev/null || echo 0
}

# wait_all DIR CONDITION T0: ms from T0 (ns) until CONDITION holds for N rows
wait_all() {
	local d=$1 cond=$2 t0=$3 c
	while :; do
		c=$(count "$d" "$cond")
		[ "$c" = "$N" ] && { echo $((($(date +%s%N) - t0) / 1000000)); return 0; }
		[ $((($(date +%s%N) - t0) / 1000000000)) -gt $REFRESH_GIVEUP_S ] && { log "gave up at $c of $N"; return 1; }
		sleep 0.05
	done
}

for W in "$@"; do
	new_dir D
	cp "$E/base.conf" "$E/w$W.conf"
	echo "workers = $W" >>"$E/w$W.conf"
	daemon_start "$D" -c "$E/w$W.conf" || { log "mxcached did not start"; exit 1; }
	daemon_stop "$D"
	now=$(date +%s)
	{
		echo "BEGIN;"
		for i in $(seq 1 "$N"); do
			d=$(dom "$i")
			echo "INSERT INTO sts(domain, kind, mode, max_age, flags, record_id, mx, inserted, valid_end," \
				"last_update, last_use, next_check) VALUES('$d', 1, 2, 604800, 1, 'old1'," \
				"'mx.$d', $now, $((now + 604800)), $((now - 86400)), $now, 0);"
		done
		echo "COMMIT;"
	} | sqlite3 "$D/mxcache.db" || { log "seeding failed"; exit 1; }

	log "workers=$W: $N policies with a changed id"
	t0=$(date +%s%N)
	daemon_start "$D" -c "$E/w$W.conf" || { log "mxcached did not start"; exit 1; }
	ms=$(wait_all "$D" "record_id = 'new1' AND flags & 1" "$t0") || exit 1
	log "workers=$W: fetched $N in $ms ms"
	echo "sts_refresh,$N,-,fetch,mxcached,wall,$ms,ms"
	echo "sts_refresh,$N,-,fetch,mxcached,workers,$W,count"
	bad=$(count "$D" "kind != 1 OR failure != 0")
	[ "$bad" = 0 ] || log "workers=$W: $bad policies failed (see $D/daemon.log)"
	reqs=$(wc -l <"$SITE/requests.log" 2>/dev/null || echo 0)
	echo "sts_refresh,$N,-,fetch,mxcached,https_requests,$reqs,count"
	daemon_stop "$D"

	sqlite3 "$D/mxcache.db" "UPDATE sts SET next_check = 0" || exit 1
	log "workers=$W: $N policies, id unchanged"
	t1=$(date +%s)
	t0=$(date +%s%N)
	daemon_start "$D" -c "$E/w$W.conf" || { log "mxcached did not start"; exit 1; }
	ms=$(wait_all "$D" "last_update >= $t1 AND next_check > 0" "$t0") || exit 1
	log "workers=$W: revalidated $N in $ms ms"
	echo "sts_refresh,$N,-,unchanged,mxcached,wall,$ms,ms"
	echo "sts_refresh,$N,-,unchanged,mxcached,workers,$W,count"
	daemon_stop "$D"
	rm -f "$SITE"/*.count "$SITE/requests.log"
done
