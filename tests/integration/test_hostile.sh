#!/usr/bin/env bash
# test_hostile - what a hostile local user tries against the region and
# the reader path, done as such a user would: throwaway uids made with
# setpriv, one in no group (an outsider), one in the region's group (a
# member, no change rights); the daemon started as root with [daemon]
# user, or as its user directly.
#
#   planted region     an outsider copies a genuine region of its own under
#                      the name of a directory whose daemon has not started,
#                      and holds the socketmap port so the root start fails
#                      after setting up; a planted file blocks a start as
#                      the daemon's user
#   the readers file   a member writes garbage over it, cuts it short;
#                      hands the daemon blocks it must refuse, or a good
#                      block it then scribbles over, or hundreds of blocks
#   tracker inputs     after the daemon took a server report, the IP and
#                      the domain are in no file on tmpfs; the daemon
#                      cannot be read through /proc by its own user
#   the state dir      a directory anyone may write is refused
#
# Needs root and setpriv; otherwise every check is skipped.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

require_root_setpriv

DUSER=nobody
DUID=$(id -u $DUSER)
DGID=$(id -g $DUSER)
OUTSIDER=(setpriv --reuid=4100 --regid=4100 --clear-groups)
MEMBER=(setpriv --reuid=4101 --regid=4101 --groups="$DGID")
ASDAEMON=(setpriv --reuid="$DUID" --regid="$DGID" --clear-groups)
LOOP=$TOOLS/lookup_loop
HOSTILE=$TOOLS/hostile_reader
POST=$TOOLS/server_post
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

data_of() { local f; f=$(region_files "$1"); echo "${f%\*}data"; }
readers_of() { local f; f=$(region_files "$1"); echo "${f%\*}readers"; }
alive() { kill -0 "$1" 2>/dev/null; }

# --- an outsider's own region, with the route it wants to plant ----------
new_dir E
chown 4100:4100 "$E"
"${OUTSIDER[@]}" "$MXCACHED" -d "$E" -f >>"$E/daemon.log" 2>&1 &
epid=$!
T_BG+=("$epid")
for i in $(seq 1 100); do [ -S "$E/ctl.sock" ] && break; sleep 0.05; done
check "an outsider runs an mxcached of its own" \
	"${OUTSIDER[@]}" "$SHMCTL" -d "$E" override set victim.hostile.test 203.0.113.66
kill "$epid"
wait "$epid" 2>/dev/null
EDATA=$(data_of "$E")

# --- 1. planted region, root start that fails after setting up ------------
new_dir D
chmod 0755 "$D"
PORT=$((20000 + RANDOM % 20000))
"${OUTSIDER[@]}" /usr/bin/python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $PORT)); s.listen(1); time.sleep(30)" &
holder=$!
T_BG+=("$holder")
cat >"$D/c.conf" <<EOF
[daemon]
user = $DUSER
[socketmap]
listen = 127.0.0.1:$PORT
EOF
DDATA=$(data_of "$D")
"${OUTSIDER[@]}" cp "$EDATA" "$DDATA"
"${OUTSIDER[@]}" chmod 0644 "$DDATA"
check "the outsider planted a copy of its region under the directory's name" test -f "$DDATA"
sleep 0.3
expect_rc 1 "the root start fails after setting up (the socketmap port is held)" \
	timeout 20 "$MXCACHED" -d "$D" -f -c "$D/c.conf"
check "  the planted file was not handed to $DUSER" \
	bash -c "! [ -e '$DDATA' ] || [ \"\$(stat -c %u '$DDATA')\" != $DUID ]"
check "  and was removed, saying so" grep -q "removed $DDATA (uid 4100)" /tmp/t.err.$$
expect_rc 3 "a member finds no region for the directory, not the planted routes" \
	"${MEMBER[@]}" "$SHMCTL" -d "$D" resolve victim.hostile.test
check "  (it never answers the planted target)" bash -c "! grep -q 203.0.113.66 /tmp/t.out.$$"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
sed -i '/^\[socketmap\]/,$d' "$D/c.conf"
check "a good root start then" daemon_start "$D" -c "$D/c.conf"
expect_out "$DUID" "  its region belongs to $DUSER" stat -c %u "$DDATA"
expect_rc 1 "  and knows nothing of the planted route" "${MEMBER[@]}" "$SHMCTL" -d "$D" resolve victim.hostile.test
check "mxcached stops" daemon_stop "$D"

# --- 1b. a file planted under the name blocks nothing silently -----------
new_dir F
chown "$DUID:$DGID" "$F"
chmod 0755 "$F"
FDATA=$(data_of "$F")
"${OUTSIDER[@]}" cp "$EDATA" "$FDATA"
"${OUTSIDER[@]}" chmod 0644 "$FDATA"
expect_rc 1 "mxcached as its user refuses a region name another user holds" \
	"${ASDAEMON[@]}" "$MXCACHED" -d "$F" -f
check "  saying whose it is and what to do" grep -q "belongs to uid 4100.*not made by this daemon" /tmp/t.err.$$
check "  leaving no half-built region behind" bash -c "! ls '$FDATA'.* 2>/dev/null | grep -q ."
expect_rc 4 "a client refuses the planted file (not the directory owner's)" \
	"${MEMBER[@]}" "$SHMCTL" -d "$F" resolve victim.hostile.test
expect_rc 0 "root clears the name with shmctl unlink" "$SHMCTL" -d "$F" unlink
check "  the planted file is gone" test ! -e "$FDATA"
"${ASDAEMON[@]}" "$MXCACHED" -d "$F" -f >>"$F/daemon.log" 2>&1 &
fpid=$!
T_BG+=("$fpid")
for i in $(seq 1 100); do [ -S "$F/ctl.sock" ] && [ -e "$FDATA" ] && break; sleep 0.05; done
expect_out "$DUID" "then mxcached starts as its user, with a region of its own" stat -c %u "$FDATA"
expect_rc 4 "shmctl unlink is refused while it runs" "$SHMCTL" -d "$F" unlink
check "  the region is still there" test -e "$FDATA"
kill "$fpid"
wait "$fpid" 2>/dev/null

# --- 3. tracker inputs leave no trace on tmpfs ----------------------------
new_dir T
chmod 0755 "$T"
printf '[daemon]\nuser = %s\n' "$DUSER" >"$T/c.conf"
check "mxcached starts" daemon_start "$T" -c "$T/c.conf"
check "a member reports a connecting server" "${MEMBER[@]}" "$POST" "$T" 198.51.100.99 tracked.hostile.test 3
for i in $(seq 1 50); do
	"$SHMCTL" -d "$T" servers --json 2>/dev/null | grep -q '"unique_conn_ips": *1' && break
	sleep 0.1
done
expect_rc 0 "the daemon took it" sh -c "'$SHMCTL' -d '$T' servers --json | grep -q '\"unique_conn_ips\": *1'"
# shellcheck disable=SC2046
check "the IP and the domain are in no region file" \
	bash -c "! grep -qa -e 198.51.100.99 -e tracked.hostile.test $(region_files "$T")"
check "mxcached stops cleanly" daemon_stop "$T"
# shellcheck disable=SC2046
check "nor after the stop" bash -c "! grep -qa -e 198.51.100.99 -e tracked.hostile.test $(region_files "$T") /dev/null"

# --- 2. the readers file and the reader blocks ---------------------------
new_dir G
chmod 0755 "$G"
printf '[daemon]\nuser = %s\n' "$DUSER" >"$G/c.conf"
check "mxcached starts as root, runs as $DUSER" daemon_start "$G" -c "$G/c.conf"
GPID=$(cat "$G/test.pid")
"$SHMCTL" -d "$G" override set steady.hostile.test 192.0.2.44 >/dev/null
GREADERS=$(readers_of "$G")
for i in $(seq 1 40); do [ -f "$GREADERS" ] && break; sleep 0.1; done
"${MEMBER[@]}" "$LOOP" "$G" steady.hostile.test 12 >"$G/loop.out" 2>&1 &
loop=$!
T_BG+=("$loop")
for i in $(seq 1 100); do
	smap=$(pgrep -P "$GPID" -f mxcache-socketmap | head -1)
	[ -n "$smap" ] && break
	sleep 0.05
done
sleep 0.5
expect_out "$DUSER:nogroup 640" "the readers file is the daemon's, read-only to its group" \
	stat -c '%U:%G %a' "$GREADERS"
check "a member cannot write garbage over it" \
	bash -c "! ${MEMBER[*]} dd if=/dev/urandom of='$GREADERS' bs=256 count=1 conv=notrunc 2>/dev/null"
check "nor cut it short" bash -c "! ${MEMBER[*]} truncate -s 4096 '$GREADERS' 2>/dev/null"
# root can: nobody maps the file, so nobody can be hurt through it
dd if=/dev/urandom of="$GREADERS" bs=256 count=1 conv=notrunc 2>/dev/null
truncate -s 4096 "$GREADERS"
sleep 1.5
check "garbage and a cut (by root) crash nothing: the daemon" alive "$GPID"
check "  the client in its lookup loop" alive "$loop"
check "  the socketmap server" alive "${smap:-0}"
for how in unsealed size slots file nofd fds tcp; do
	expect_rc 0 "a member's $how block is refused" "${MEMBER[@]}" "$HOSTILE" "$G" "$how"
done
# closing a lingering socket would wait an hour: the daemon resets it, and
# takes requests on a thread of their own anyway
expect_rc 0 "after a lingering TCP socket was handed over, a good block is taken at once" \
	timeout 5 "${MEMBER[@]}" "$HOSTILE" "$G" garbage 0
expect_rc 2 "an outsider cannot even connect to the readers socket" "${OUTSIDER[@]}" "$HOSTILE" "$G" unsealed
"${MEMBER[@]}" "$HOSTILE" "$G" silent 140 3 >"$G/silent.out" 2>&1 &
silent=$!
T_BG+=("$silent")
sleep 0.3
expect_rc 0 "while a member holds 140 connections that say nothing, another user's block is taken" \
	setpriv --reuid=4102 --regid=4102 --groups="$DGID" "$HOSTILE" "$G" garbage 0
wait "$silent"
"${MEMBER[@]}" "$HOSTILE" "$G" garbage 4 >"$G/garbage.out" 2>&1 &
garbage=$!
(ulimit -n 4096; exec "${MEMBER[@]}" "$HOSTILE" "$G" many 1100 6) >"$G/many.out" 2>&1 &
many=$!
T_BG+=("$garbage" "$many")
for i in $(seq 1 30); do
	"$SHMCTL" -d "$G" override set "during$i.hostile.test" "192.0.2.$i" >/dev/null 2>&1
	sleep 0.1
done
wait "$garbage"
check "a member's good block, then noise over its slots and rings: accepted" grep -q accepted "$G/garbage.out"
wait "$many"
check "a member's 1,100 blocks: at most 1,024 taken ($(cat "$G/many.out"))" \
	bash -c "n=\$(awk '/accepted/ {print \$2}' '$G/many.out'); [ \"\$n\" -le 1024 ] && [ \"\$n\" -ge 1000 ]"
check "the daemon lives through all of it" alive "$GPID"
wait "$loop"
check "the client looked up all along, every lookup answered ($(cat "$G/loop.out"))" test $? -eq 0
check "the socketmap server too" alive "${smap:-0}"
expect_out "192.0.2.30" "changes made meanwhile are there" "$SHMCTL" -d "$G" resolve during30.hostile.test
expect_rc 0 "verify passes" "$SHMCTL" -d "$G" verify
sleep 0.2
check "refused blocks are counted" sh -c "'$SHMCTL' -d '$G' metrics | grep -q '^mxcache_reader_registrations_refused_total [1-9]'"
check "  and logged once" test "$(grep -c 'readers: refused' "$G/daemon.log")" -eq 1

new_dir U
chown "$DUID:$DGID" "$U"
"${ASDAEMON[@]}" "$MXCACHED" -d "$U" -f >>"$U/daemon.log" 2>&1 &
upid=$!
T_BG+=("$upid")
for i in $(seq 1 100); do [ -S "$U/ctl.sock" ] && break; sleep 0.05; done
sleep 0.2
expect_out "0" "no core file: RLIMIT_CORE is 0" awk '/^Max core file size/ { print $5 }' "/proc/$upid/limits"
if [ -z "$SAN" ] || [[ $SAN != *address* ]]; then
	check "its own user cannot read the daemon's memory (not dumpable)" \
		bash -c "! ${ASDAEMON[*]} cat /proc/$upid/environ >/dev/null 2>&1"
else
	echo "ok $((T_N + 1)) - # SKIP LeakSanitizer needs the daemon dumpable"
	T_N=$((T_N + 1))
fi
kill "$upid"
wait "$upid" 2>/dev/null

# --- 9. a state directory others may write --------------------------------
new_dir W
chmod 0777 "$W"
expect_rc 1 "a state directory anyone may write is refused" "$MXCACHED" -d "$W" -f
check "  saying why" grep -q "writable by everyone" /tmp/t.err.$$
chmod 0775 "$W"
expect_rc 1 "and one its group may write" "$MXCACHED" -d "$W" -f
check "  saying why" grep -q "writable by its group" /tmp/t.err.$$
check "  nothing was created in it" test -z "$(ls -A "$W")"
done_testing
