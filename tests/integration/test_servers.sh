#!/usr/bin/env bash
# test_servers - the unique-server tracker through a real mxcached: exact
# unique counts across spellings and processes, the status file, a restart
# starting over, and that no value given to it is found in clear text in
# the region, SQLite, the log or the status file.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

POST=$TOOLS/server_post
new_dir D
S() { "$SHMCTL" -d "$D" "$@"; }
# wait_servers IPS DOMAINS IPSRV: until shmctl servers shows them, at most 5 s
wait_servers() {
	local i
	for i in $(seq 1 100); do
		S servers --json >/tmp/t.out.$$ 2>/dev/null &&
			python3 -c "
import json,sys; d=json.load(open('/tmp/t.out.$$'))
sys.exit(0 if (d['unique_conn_ips'], d['unique_domains'], d['unique_ip_servers']) == ($1, $2, $3) else 1)" &&
			return 0
		sleep 0.05
	done
	cat /tmp/t.out.$$ 2>/dev/null | sed 's/^/#   /'
	return 1
}

check "mxcached starts" daemon_start "$D"
check "counts start at zero" wait_servers 0 0 0
IP1=198.51.100.77
IP2=2001:db8:77::5
DOM=secret-sender.example
check "one server" "$POST" "$D" "$IP1" "$DOM"
check "1 IP, 1 domain" wait_servers 1 1 0
check "the same again, other spellings, from two processes" sh -c \
	"'$POST' '$D' '[$IP1]' 'SECRET-Sender.example.' 50 & '$POST' '$D' '$IP1' '$DOM' 50; wait"
check "still 1 IP, 1 domain" wait_servers 1 1 0
check "an IPv6 connection with an IP-literal sender" "$POST" "$D" "[IPv6:2001:DB8:77:0::5]" "[203.0.113.9]"
check "2 IPs, 1 domain, 1 IP-literal sender" wait_servers 2 1 1
check "the bare form of that literal is the same sender" "$POST" "$D" "$IP2" "203.0.113.9"
check "unchanged" wait_servers 2 1 1
check "a connection without a sender" "$POST" "$D" 192.0.2.200 -
check "3 IPs" wait_servers 3 1 1
expect_rc 1 "a connecting address that is not an IP: refused" "$POST" "$D" not-an-ip.example "$DOM"
check "the status file: boot_time and the three counts, nothing else" python3 -c "
import json; d=json.load(open('$D/servers.json'))
assert set(d)=={'boot_time','unique_conn_ips','unique_domains','unique_ip_servers'}, d
assert (d['unique_conn_ips'], d['unique_domains'], d['unique_ip_servers'])==(3,1,1), d"
expect_rc 0 "shmctl servers" S servers
check "shows the counts" grep -q "connecting IPs:     3" /tmp/t.out.$$

# nothing in clear text: the region, SQLite, the log, the status file
check "mxcached stops (SQLite and the log are complete)" daemon_stop "$D"
files=("$D/mxcache.db" "$D/daemon.log" "$D/servers.json")
for f in $(region_files "$D"); do case $f in *.data) files+=("$f") ;; esac; done
for v in "$IP1" "$DOM" "secret-sender" "2001:db8:77::5" "203.0.113.9" "192.0.2.200" \
	"$(python3 -c 'import socket; print(socket.inet_aton("198.51.100.77").hex())')"; do
	found=$(grep -l -a -F -i "$v" "${files[@]}" 2>/dev/null)
	[ -z "$found" ]
	_result $? "'$v' is nowhere in the region, SQLite, the log or the status file"
	[ -z "$found" ] || echo "#   found in: $found"
done

check "mxcached restarts" daemon_start "$D"
check "a restart starts over (new key, nothing kept)" wait_servers 0 0 0
check "mxcached stops cleanly" daemon_stop "$D"
done_testing
