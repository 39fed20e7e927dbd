# tests/sts_env.sh - a loopback world for the MTA-STS and MX tests: a real
# DNS server (dnsmasq) and a real HTTPS server (tests/tools/https_srv) with
# certificates from tests/certs.sh, and an mxcached config pointing at both.
# Source after tests/lib.sh.
#
#   sts_env_init DIR             certificates, site directory, free ports
#   dns_record ARG...            add dnsmasq options (--txt-record=..., ...)
#   dns_start / dns_restart      (re)start dnsmasq with the records so far
#   policy_site HOST FILE        serve FILE (a raw HTTP response) for HOST
#   policy_ok DOMAIN BODY        a 200 text/plain response with BODY
#   https_start                  start the HTTPS server
#   sts_config FILE [EXTRA...]   an mxcached config for this world (the
#                                DNS server another with STS_DNS_SERVERS,
#                                timeouts from STS_DNS_TIMEOUT_MS and
#                                STS_FETCH_TIMEOUT_MS where set)
#   requests HOST                how many requests HOST's server has seen
#   silent_dns_start             a UDP port that never answers (SILENT_PORT)
#   servfail_dns_start           a DNS server that answers SERVFAIL (SERVFAIL_PORT)

HTTPS_SRV=$PWD/$BUILD/tests/tools/https_srv
DNSMASQ=${DNSMASQ:-/usr/sbin/dnsmasq}
STS_DNS_ARGS=()
STS_PIDS=()

_free_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sts_env_init() {
	ENV_DIR=$1
	SITE=$ENV_DIR/site
	mkdir -p "$SITE"
	shift
	sh tests/certs.sh "$ENV_DIR/pki" "$@" || return 1
	{
		echo "mta-sts.expired.test $ENV_DIR/pki/expired.crt $ENV_DIR/pki/expired.key"
		echo "mta-sts.wrongname.test $ENV_DIR/pki/wrongname.crt $ENV_DIR/pki/wrongname.key"
		echo "* $ENV_DIR/pki/good.crt $ENV_DIR/pki/good.key"
	} >"$SITE/certs.map"
	DNS_PORT=$(_free_port)
}

dns_record() {
	STS_DNS_ARGS+=("$@")
}
# (or set STS_DNS_CONF to a dnsmasq config file of records: for thousands)

dns_start() {
	local user=()
	[ "$(id -u)" -eq 0 ] && user=(--user=root)
	[ -x "$DNSMASQ" ] || { echo "# $DNSMASQ is not installed"; return 1; }
	"$DNSMASQ" --keep-in-foreground --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces \
		--no-resolv --no-hosts --no-poll --conf-file="${STS_DNS_CONF:-/dev/null}" --pid-file= --local=/test/ \
		--local-ttl=300 "${user[@]}" "${STS_DNS_ARGS[@]}" >>"$ENV_DIR/dnsmasq.log" 2>&1 &
	DNS_PID=$!
	STS_PIDS+=("$DNS_PID")
	# answering: a query for a name it must know
	local i
	for i in $(seq 1 100); do
		python3 - "$DNS_PORT" <<'PY' && return 0
import socket, sys
q = bytes.fromhex("abcd01000001000000000000") + b"\x05probe\x04test\x00\x00\x01\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
try:
    s.recv(512); sys.exit(0)
except Exception:
    sys.exit(1)
PY
		sleep 0.05
	done
	return 1
}

dns_restart() {
	kill "$DNS_PID" 2>/dev/null
	wait "$DNS_PID" 2>/dev/null
	dns_start
}

policy_site() {
	cp "$2" "$SITE/$1.resp"
}

policy_ok() { # DOMAIN BODY [CONTENT-TYPE]
	printf 'HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
		"${3:-text/plain}" "$(printf '%s' "$2" | wc -c)" "$2" >"$SITE/mta-sts.$1.resp"
}

https_start() {
	rm -f "$ENV_DIR/https.port"
	"$HTTPS_SRV" -P "$ENV_DIR/https.port" -d "$SITE" >>"$ENV_DIR/https.log" 2>&1 &
	HTTPS_PID=$!
	STS_PIDS+=("$HTTPS_PID")
	local i
	for i in $(seq 1 100); do
		[ -s "$ENV_DIR/https.port" ] && { HTTPS_PORT=$(cat "$ENV_DIR/https.port"); return 0; }
		sleep 0.05
	done
	return 1
}

sts_config() { # FILE [extra lines...]
	local f=$1
	shift
	{
		echo "[dns]"
		echo "servers = ${STS_DNS_SERVERS:-127.0.0.1:$DNS_PORT}"
		echo "timeout_ms = ${STS_DNS_TIMEOUT_MS:-500}"
		echo "retries = 0"
		echo "[tls]"
		echo "ca_file = $ENV_DIR/pki/ca.crt"
		echo "[sts]"
		echo "policy_port = $HTTPS_PORT"
		echo "connect_timeout_ms = 1000"
		echo "fetch_timeout_ms = ${STS_FETCH_TIMEOUT_MS:-2000}"
		local l
		for l in "$@"; do echo "$l"; done
	} >"$f"
}

requests() {
	cat "$SITE/$1.count" 2>/dev/null || echo 0
}

# silent_dns_start - a "DNS server" on 127.0.0.1:SILENT_PORT that takes
# queries and never answers: point a dnsmasq server= line at it for
# names whose lookups must time out
silent_dns_start() {
	rm -f "$ENV_DIR/silent.port"
	python3 -c '
import os, signal, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
signal.pause()' "$ENV_DIR/silent.port" &
	STS_PIDS+=($!)
	local i
	for i in $(seq 1 100); do
		[ -s "$ENV_DIR/silent.port" ] && { SILENT_PORT=$(cat "$ENV_DIR/silent.port"); return 0; }
		sleep 0.05
	done
	return 1
}

# servfail_dns_start - a DNS server on 127.0.0.1:SERVFAIL_PORT that answers
# every query with SERVFAIL at once: point a dnsmasq server= line at it for
# names whose lookups must fail fast
servfail_dns_start() {
	rm -f "$ENV_DIR/servfail.port"
	python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    q, peer = s.recvfrom(4096)
    if len(q) >= 12:
        # the query back as a response: QR, its RD, RA, RCODE 2; no records
        s.sendto(q[:2] + bytes([0x80 | (q[2] & 0x01), 0x82]) + q[4:6] + bytes(6) + q[12:], peer)' \
		"$ENV_DIR/servfail.port" &
	STS_PIDS+=($!)
	local i
	for i in $(seq 1 100); do
		[ -s "$ENV_DIR/servfail.port" ] && { SERVFAIL_PORT=$(cat "$ENV_DIR/servfail.port"); return 0; }
		sleep 0.05
	done
	return 1
}

sts_env_cleanup() {
	local p
	for p in "${STS_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
