#!/usr/bin/env bash
# test_disk - mxcached when its SQLite store cannot be written or read.
#
#   damaged db:  garbage over the middle of mxcache.db, the file cut in
#                half, cut to a few bytes, cut to nothing
#   disk full:   DIR on a 4 MiB tmpfs filled up under the daemon: single
#                changes, a delete and an import refused; an import that
#                runs out of room after its first batch; SIGKILL and a
#                restart with the disk still full; room again
#   full start:  a full DIR when mxcached starts
#   read-only:   ext4 on a loop device forced read-only under the daemon
#                (errors=remount-ro, as a failing disk does it), then
#                mxcached started on a DIR mounted read-only
#
# A plain "mount -o remount,ro" cannot reach a running daemon: Linux
# refuses it (EBUSY) while a file on the mount is open for writing, and
# mxcached holds mxcache.db open.  A file system goes read-only under a
# running process only when the kernel forces it after an error, which is
# what the ext4 part does; that state ends only with an unmount, so the
# daemon is restarted there.
#
# The region lives in /dev/shm, not in DIR: clients answer throughout.
# Every mount, loop device and region this test makes is removed at exit,
# whatever happens.  Without the right to mount, only the damaged-db part
# runs, and the rest is reported as TAP skips.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

FS_SIZE=4m              # the full-disk tmpfs
IMPORT_ROOM_KB=1536     # left free for the import: its first batch fits, the second does not
IMPORT_LINES=60000      # three batches of 20,000
EXT4_SIZE=16M
START_LIMIT_S=20        # a start expected to fail must fail by then
MOUNT_CHECKS=83         # checks that need a mount: skipped without one
EXT4_CHECKS=18          # ... and those that need ext4 on a loop device

MOUNTS=()               # mount points, unmounted and removed at exit
LOOPS=()                # loop devices, detached at exit
DPID=""                 # the one mxcached this test runs at a time

new_dir W               # logs, CSV files, copies: on the ordinary /tmp
LOG=$W/daemon.log

disk_cleanup() {
	local m l
	if [ -n "$DPID" ]; then
		kill -KILL "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
	fi
	for m in "${MOUNTS[@]}"; do
		# the region is named after the mounted directory: remove it first
		if mountpoint -q "$m"; then
			# shellcheck disable=SC2046
			rm -f $(region_files "$m")
			umount "$m" 2>/dev/null || umount -l "$m"
		fi
		rmdir "$m" 2>/dev/null
	done
	for l in "${LOOPS[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
	t_cleanup
}
trap disk_cleanup EXIT
trap 'exit 130' INT TERM

# dstart DIR - mxcached on DIR in the foreground, logging to $LOG (not
# into DIR, which may be full); waits until it answers
dstart() {
	local d=$1 i
	"$MXCACHED" -d "$d" -f >>"$LOG" 2>&1 &
	DPID=$!
	for i in $(seq 1 200); do
		"$SHMCTL" -d "$d" status 2>/dev/null | grep -q "writer:.*running" && return 0
		kill -0 "$DPID" 2>/dev/null || { wait "$DPID"; DPID=""; return 1; }
		sleep 0.05
	done
	return 1
}

# dstop [SIGNAL] - stop it and wait; returns its exit status
dstop() {
	local rc
	[ -n "$DPID" ] || return 0
	kill -s "${1:-TERM}" "$DPID" 2>/dev/null
	wait "$DPID"
	rc=$?
	DPID=""
	return $rc
}

# start_fails DIR - run mxcached on DIR expecting it to give up: its
# stderr in $W/start.err, its exit status in START_RC
start_fails() {
	timeout "$START_LIMIT_S" "$MXCACHED" -d "$1" -f >"$W/start.err" 2>&1
	START_RC=$?
	cat "$W/start.err" >>"$LOG"
}

# refused_cleanly - the failed start exited 1 with no sanitizer report: a
# refusal, not a crash (a signal would show as 128 + N, a hang as 124)
refused_cleanly() {
	[ "$START_RC" -eq 1 ] && ! grep -qE "Sanitizer|runtime error" "$W/start.err"
}

# start_says PATTERN - the failed start's output matches (grep -E)
start_says() { grep -qE "$1" "$W/start.err"; }

# csv FILE PREFIX N - N overrides PREFIX0..N-1.disk.test
csv() {
	python3 -c "
print('key,target,comment')
for i in range($3):
    print(f'$2{i}.disk.test,10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256},')
" >"$1"
}

# served DIR - every key clients see for DIR (a walk of its region), sorted
served() { "$SHMCTL" -d "$1" override list 2>/dev/null | awk '{ print $1 }' | sort >"$W/served"; }

# missing FILE - how many keys in FILE are not in $W/served
missing() { sort -u "$1" | comm -23 - "$W/served" | wc -l; }

# present FILE - how many keys in FILE are in $W/served
present() { sort -u "$1" | comm -12 - "$W/served" | wc -l; }

# exactly FILE - $W/served is the keys in FILE, no more, no fewer
exactly() { sort -u "$1" | cmp -s - "$W/served"; }

# err_says PATTERN - the stderr of the last expect_rc matches (grep -E)
err_says() { grep -qE "$1" /tmp/t.err.$$; }

# overrides DIR - the override count the region reports
overrides() { "$SHMCTL" -d "$1" status 2>/dev/null | awk '/^overrides:/ { print $2 }'; }

# fill DIR [KB] - a filler file that leaves KB (default none) free
fill() {
	local avail
	if [ -z "$2" ]; then
		dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null
		return 0
	fi
	avail=$(df -k --output=avail "$1" | tail -1)
	dd if=/dev/zero of="$1/filler" bs=1k count=$((avail - $2)) 2>/dev/null
}

# avail_kb DIR - free KiB on DIR's file system
avail_kb() { df -k --output=avail "$1" | tail -1 | tr -d ' '; }

# skip N REASON - N TAP skips
skip() {
	local i
	for i in $(seq 1 "$1"); do
		T_N=$((T_N + 1))
		echo "ok $T_N - # SKIP $2"
	done
}

# no_sanitizer - no mxcached of this test tripped ASan or UBSan (crashes
# show in the exit statuses dstop returns)
no_sanitizer() {
	check "no sanitizer report in any mxcached log" not grep -qE "Sanitizer|runtime error" "$LOG"
}

# not CMD... - CMD fails
not() { ! "$@"; }

# whole_batches N - N records acknowledged by an import cut short: whole
# batches of 20,000 (MXS_CTL_BATCH), at least one, not all
whole_batches() { [ "$1" -ge 20000 ] && [ "$1" -lt "$IMPORT_LINES" ] && [ $(($1 % 20000)) -eq 0 ]; }

# killed - dstop KILL, which must find it alive: exit 128 + 9
killed() { dstop KILL; [ $? -eq 137 ]; }

# ---- 1. a damaged database at start (no mount needed) -----------------------
new_dir D
check "damaged db: mxcached starts" dstart "$D"
csv "$W/dmg.csv" dmg 3000
expect_rc 0 "damaged db: 3000 overrides imported" "$SHMCTL" -d "$D" override import "$W/dmg.csv"
check "damaged db: clean stop" dstop
cp "$D/mxcache.db" "$W/good.db"
size=$(stat -c %s "$W/good.db")

# garbage over 16 KiB in the middle: b-tree pages no longer parse
head -c 16384 /dev/zero | tr '\0' 'G' |
	dd of="$D/mxcache.db" bs=1k seek=$((size / 2048)) conv=notrunc 2>/dev/null
cp "$D/mxcache.db" "$W/bad.db"
start_fails "$D"
check "garbage in the middle: the start fails with exit 1, no crash (exit $START_RC)" refused_cleanly
check "garbage in the middle: the error says the database is damaged" \
	start_says "store: $D/mxcache.db: damaged.*restore it from a backup or move it away"
check "garbage in the middle: the damaged file is left as it was" cmp -s "$D/mxcache.db" "$W/bad.db"
expect_out "10.0.0.5" "garbage in the middle: clients still answer from the last region" \
	"$SHMCTL" -d "$D" resolve dmg5.disk.test

# cut in half: pages the b-tree names are gone
cp "$W/good.db" "$D/mxcache.db"
truncate -s $((size / 2)) "$D/mxcache.db"
cp "$D/mxcache.db" "$W/bad.db"
start_fails "$D"
check "cut in half: the start fails with exit 1, no crash (exit $START_RC)" refused_cleanly
check "cut in half: the error says the database is damaged" start_says "store: $D/mxcache.db: damaged"
check "cut in half: the file is left as it was" cmp -s "$D/mxcache.db" "$W/bad.db"

# cut inside its 100-byte header
truncate -s 60 "$D/mxcache.db"
cp "$D/mxcache.db" "$W/bad.db"
start_fails "$D"
check "cut to 60 bytes: the start fails with exit 1, no crash (exit $START_RC)" refused_cleanly
check "cut to 60 bytes: the error says the database is damaged" start_says "store: $D/mxcache.db: damaged"
check "cut to 60 bytes: the file is left as it was" cmp -s "$D/mxcache.db" "$W/bad.db"

# cut to nothing is a new, empty database to SQLite: it starts, and says so
: >"$D/mxcache.db"
rm -f "$D/mxcache.db-wal" "$D/mxcache.db-shm"
check "cut to nothing: mxcached starts, with no data" dstart "$D"
check "cut to nothing: the log warns that the database was empty" \
	grep -q "store: $D/mxcache.db is empty (0 bytes)" "$LOG"
check "cut to nothing: clean stop" dstop

# the good copy back: everything is there
cp "$W/good.db" "$D/mxcache.db"
rm -f "$D/mxcache.db-wal" "$D/mxcache.db-shm"
check "restored: mxcached starts" dstart "$D"
check "restored: all 3000 overrides are there" test "$(overrides "$D")" = 3000
expect_rc 0 "restored: verify passes" "$SHMCTL" -d "$D" verify
check "restored: clean stop" dstop

# ---- can this test mount? ---------------------------------------------------
F=$(mktemp -d /tmp/mxc-disk.XXXXXX)
MOUNTS+=("$F")
if ! mount -t tmpfs -o size=$FS_SIZE,mode=0750 tmpfs "$F" 2>/dev/null; then
	echo "# cannot mount tmpfs (not root, or no CAP_SYS_ADMIN): the disk checks are skipped"
	skip "$MOUNT_CHECKS" "cannot mount tmpfs"
	no_sanitizer
	done_testing
	exit
fi
# a region left by an earlier run on a mount with the same device number
# shellcheck disable=SC2046
rm -f $(region_files "$F")

# ---- 2. disk full under a running daemon ------------------------------------
: >"$W/acked"
: >"$W/refused"
check "disk full: mxcached starts on a $FS_SIZE tmpfs" dstart "$F"
for i in $(seq 1 20); do
	"$SHMCTL" -d "$F" override set "k$i.disk.test" "192.0.2.$i" >/dev/null 2>&1 && echo "k$i.disk.test" >>"$W/acked"
done
csv "$W/small.csv" small 100
"$SHMCTL" -d "$F" override import "$W/small.csv" >/dev/null 2>&1 &&
	sed -n 's/^\(small[0-9]*\.disk\.test\),.*/\1/p' "$W/small.csv" >>"$W/acked"
check "disk full: 120 changes acknowledged before the disk fills ($(wc -l <"$W/acked"))" \
	test "$(wc -l <"$W/acked")" -eq 120
expect_rc 0 "disk full: a delete acknowledged" "$SHMCTL" -d "$F" override del k20.disk.test
sed -i '/^k20\.disk\.test$/d' "$W/acked"
echo k20.disk.test >>"$W/refused"

fill "$F"
check "disk full: the file system is full" test "$(avail_kb "$F")" -eq 0
refused=0 said=0
for i in $(seq 1 10); do
	"$SHMCTL" -d "$F" override set "full$i.disk.test" 192.0.2.99 >/dev/null 2>"$W/err"
	[ $? -eq 4 ] && refused=$((refused + 1))
	grep -q "ESTORE: store: change refused: disk full" "$W/err" && said=$((said + 1))
	echo "full$i.disk.test" >>"$W/refused"
done
check "disk full: 10 of 10 changes refused with exit 4 ($refused)" test "$refused" -eq 10
check "disk full: each says 'change refused: disk full' ($said): $(head -1 "$W/err")" test "$said" -eq 10
expect_rc 4 "disk full: a delete is refused" "$SHMCTL" -d "$F" override del k1.disk.test
check "disk full: ... saying 'change refused: disk full'" err_says "ESTORE: store: change refused: disk full"
csv "$W/refused.csv" refimp 50
sed -n 's/^\(refimp[0-9]*\.disk\.test\),.*/\1/p' "$W/refused.csv" >>"$W/refused"
expect_rc 4 "disk full: an import is refused" "$SHMCTL" -d "$F" override import "$W/refused.csv"
check "disk full: ... saying 'change refused: disk full'" err_says "ESTORE: store: change refused: disk full"
check "disk full: ... with nothing imported" err_says "^import: 0 imported"
check "disk full: mxcached is still running" kill -0 "$DPID"
expect_rc 0 "disk full: ping answers" "$SHMCTL" -d "$F" ping
expect_out "192.0.2.1" "disk full: a lookup answers (k1, whose delete was refused)" \
	"$SHMCTL" -d "$F" resolve k1.disk.test
served "$F"
check "disk full: clients see every acknowledged change ($(missing "$W/acked") missing)" \
	test "$(missing "$W/acked")" -eq 0
check "disk full: ... and no refused one ($(present "$W/refused") seen)" test "$(present "$W/refused")" -eq 0
check "disk full: ... and nothing else" exactly "$W/acked"

# room again: accepted at once, no restart
rm -f "$F/filler"
ok=0
for i in $(seq 1 5); do
	"$SHMCTL" -d "$F" override set "again$i.disk.test" 192.0.2.77 >/dev/null 2>&1 &&
		echo "again$i.disk.test" >>"$W/acked" && ok=$((ok + 1))
done
check "room again: 5 of 5 changes accepted without a restart ($ok)" test "$ok" -eq 5
check "room again: the log says the store takes changes again" \
	grep -q "writer: the store takes changes again, after [0-9]* refused rounds" "$LOG"

# an import that runs out of room after its first batch of 20,000: the
# batches committed before the failure stay, the rest is refused
fill "$F" "$IMPORT_ROOM_KB"
csv "$W/big.csv" big "$IMPORT_LINES"
expect_rc 4 "import into a filling disk: exit 4" "$SHMCTL" -d "$F" override import "$W/big.csv"
check "import into a filling disk: stopped by 'change refused: disk full'" \
	err_says "ESTORE: store: change refused: disk full"
n=$(sed -n 's/^import: \([0-9]*\) imported.*/\1/p' /tmp/t.err.$$)
n=${n:-0}
check "import into a filling disk: whole batches acknowledged, the first at least ($n of $IMPORT_LINES)" \
	whole_batches "$n"
head -$((n + 1)) "$W/big.csv" | sed -n 's/^\(big[0-9]*\.disk\.test\),.*/\1/p' >>"$W/acked"
tail -n +$((n + 2)) "$W/big.csv" | sed -n 's/^\(big[0-9]*\.disk\.test\),.*/\1/p' >>"$W/refused"
expect_rc 0 "import into a filling disk: its last acknowledged record is served" \
	"$SHMCTL" -d "$F" resolve "big$((n - 1)).disk.test"
expect_rc 1 "import into a filling disk: the record after it is not" "$SHMCTL" -d "$F" resolve "big$n.disk.test"
served "$F"
check "import into a filling disk: clients see exactly what was acknowledged ($(wc -l <"$W/acked"))" \
	exactly "$W/acked"

# SIGKILL with the disk full, and a restart on the full disk
dd if=/dev/zero of="$F/filler2" bs=4k 2>/dev/null
check "disk still full: the file system is full" test "$(avail_kb "$F")" -eq 0
check "SIGKILL: mxcached dies" killed
expect_out "192.0.2.1" "SIGKILL: clients answer while it is down" "$SHMCTL" -d "$F" resolve k1.disk.test
check "full disk, after a SIGKILL: mxcached starts and serves" dstart "$F"
served "$F"
check "full disk, after a SIGKILL: every acknowledged change is there ($(missing "$W/acked") missing)" \
	test "$(missing "$W/acked")" -eq 0
check "full disk, after a SIGKILL: no refused change is there ($(present "$W/refused") seen)" \
	test "$(present "$W/refused")" -eq 0
check "full disk, after a SIGKILL: nothing else is there" exactly "$W/acked"
expect_rc 0 "full disk, after a SIGKILL: verify passes" "$SHMCTL" -d "$F" verify
# a clean stop cannot fold the WAL into the database without room: the
# WAL stays, and the next start reads it
check "full disk: SIGTERM stops it with exit 0" dstop
check "full disk: the log says the final checkpoint found the disk full" \
	grep -q "store: final checkpoint of $F/mxcache.db: disk full" "$LOG"

# room again; then SIGKILL again: nothing refused crept in
rm -f "$F/filler" "$F/filler2"
check "room again: mxcached starts" dstart "$F"
served "$F"
check "room again: clients see exactly the acknowledged changes" exactly "$W/acked"
expect_rc 0 "room again: a change is accepted" "$SHMCTL" -d "$F" override set last.disk.test 192.0.2.88
echo last.disk.test >>"$W/acked"
check "SIGKILL with room: mxcached dies" killed
check "restart: mxcached starts" dstart "$F"
served "$F"
check "restart: clients see exactly the acknowledged changes ($(missing "$W/acked") missing, $(present "$W/refused") refused seen)" \
	exactly "$W/acked"
expect_rc 0 "restart: verify passes" "$SHMCTL" -d "$F" verify
check "restart: clean stop" dstop
expect_out "ok" "restart: SQLite's integrity_check passes" sqlite3 "$F/mxcache.db" "PRAGMA integrity_check"
expect_out "$(wc -l <"$W/acked")" "restart: the database holds exactly as many rows" \
	sqlite3 "$F/mxcache.db" "SELECT count(*) FROM overrides"

# ---- 3. a full disk at start --------------------------------------------------
cp "$F/mxcache.db" "$W/full.db"
fill "$F"
start_fails "$F"
check "full at start: exit 1, no crash (exit $START_RC)" refused_cleanly
check "full at start: the error says there is no space" start_says "mxcached.pid: No space left on device"
check "full at start: the database is untouched" cmp -s "$F/mxcache.db" "$W/full.db"
# with room in the pid file the start gets as far as SQLite, which finds
# no room for its -shm index: a full disk, not a damaged file
rm -f "$F/filler"
echo 1 >"$F/mxcached.pid"
fill "$F"
start_fails "$F"
check "full at start, SQLite's turn: exit 1, no crash (exit $START_RC)" refused_cleanly
check "full at start, SQLite's turn: the error says disk full" \
	start_says "store: $F/mxcache.db: cannot read the database: disk full"
check "full at start, SQLite's turn: ... and not damaged" not start_says damaged
check "full at start, SQLite's turn: the database is untouched" cmp -s "$F/mxcache.db" "$W/full.db"
rm -f "$F/filler"
check "full at start, room again: mxcached starts" dstart "$F"
served "$F"
check "full at start, room again: clients see exactly the acknowledged changes" exactly "$W/acked"
expect_rc 0 "full at start, room again: verify passes" "$SHMCTL" -d "$F" verify
check "full at start, room again: clean stop" dstop

# ---- 4. read-only -----------------------------------------------------------
# mxcached started on a DIR mounted read-only: a one-line error, exit 1;
# clients keep the last region
cp "$F/mxcache.db" "$W/ro.db"
check "read-only DIR: remounted read-only" mount -o remount,ro "$F"
start_fails "$F"
check "read-only DIR at start: exit 1, no crash (exit $START_RC)" refused_cleanly
check "read-only DIR at start: the error says read-only" start_says "mxcached.pid: Read-only file system"
check "read-only DIR at start: the database is untouched" cmp -s "$F/mxcache.db" "$W/ro.db"
expect_out "192.0.2.88" "read-only DIR at start: clients still answer" "$SHMCTL" -d "$F" resolve last.disk.test
check "read-only DIR: remounted read-write" mount -o remount,rw "$F"
check "read-write again: mxcached starts" dstart "$F"
served "$F"
check "read-write again: clients see exactly the acknowledged changes" exactly "$W/acked"
check "read-write again: clean stop" dstop

# forced read-only under a running daemon: ext4 with errors=remount-ro,
# pushed into its error state as a failing disk would
E=$(mktemp -d /tmp/mxc-disk.XXXXXX)
MOUNTS+=("$E")
loop=""
if truncate -s "$EXT4_SIZE" "$W/ext4.img" && mkfs.ext4 -q -F "$W/ext4.img" >/dev/null 2>&1 &&
	loop=$(losetup -f --show "$W/ext4.img" 2>/dev/null) && LOOPS+=("$loop") &&
	mount -o errors=remount-ro "$loop" "$E" 2>/dev/null &&
	[ -w "/sys/fs/ext4/${loop#/dev/}/trigger_fs_error" ]; then
	# shellcheck disable=SC2046
	rm -f $(region_files "$E")
	: >"$W/acked"
	: >"$W/refused"
	check "forced read-only: mxcached starts on ext4" dstart "$E"
	for i in $(seq 1 10); do
		"$SHMCTL" -d "$E" override set "ro$i.disk.test" 192.0.2.5 >/dev/null 2>&1 && echo "ro$i.disk.test" >>"$W/acked"
	done
	check "forced read-only: 10 changes acknowledged first" test "$(wc -l <"$W/acked")" -eq 10
	echo "mxcache test_disk" >"/sys/fs/ext4/${loop#/dev/}/trigger_fs_error"
	check "forced read-only: the file system refuses writes" not touch "$E/probe"
	refused=0 said=0
	for i in $(seq 1 5); do
		"$SHMCTL" -d "$E" override set "rofail$i.disk.test" 192.0.2.6 >/dev/null 2>"$W/err"
		[ $? -eq 4 ] && refused=$((refused + 1))
		grep -q "ESTORE: store: change refused: read-only file system" "$W/err" && said=$((said + 1))
		echo "rofail$i.disk.test" >>"$W/refused"
	done
	check "forced read-only: 5 of 5 changes refused with exit 4 ($refused)" test "$refused" -eq 5
	check "forced read-only: each says 'change refused: read-only file system' ($said): $(head -1 "$W/err")" \
		test "$said" -eq 5
	expect_rc 4 "forced read-only: a delete is refused" "$SHMCTL" -d "$E" override del ro1.disk.test
	check "forced read-only: ... saying so" err_says "change refused: read-only file system"
	expect_rc 4 "forced read-only: an import is refused" "$SHMCTL" -d "$E" override import "$W/refused.csv"
	sed -n 's/^\(refimp[0-9]*\.disk\.test\),.*/\1/p' "$W/refused.csv" >>"$W/refused"
	# the -shm index SQLite maps is written back and faulted in again:
	# that must stay an error, never a SIGBUS
	sync -f "$E/mxcache.db" 2>/dev/null
	sleep 1
	"$SHMCTL" -d "$E" override set rolate.disk.test 192.0.2.6 >/dev/null 2>&1
	echo rolate.disk.test >>"$W/refused"
	check "forced read-only: mxcached is still running" kill -0 "$DPID"
	expect_rc 0 "forced read-only: ping answers" "$SHMCTL" -d "$E" ping
	served "$E"
	check "forced read-only: clients see exactly the acknowledged changes ($(missing "$W/acked") missing, $(present "$W/refused") refused seen)" \
		exactly "$W/acked"
	check "forced read-only: SIGTERM still stops it with exit 0" dstop
	# ext4 leaves its error state only through an unmount and a check;
	# the region goes first, as the cleanup cannot name it while E is
	# unmounted (the restart builds a new one from SQLite anyway)
	# shellcheck disable=SC2046
	rm -f $(region_files "$E")
	umount "$E"
	e2fsck -fy "$loop" >/dev/null 2>&1
	check "forced read-only: the file system mounts read-write again" mount "$loop" "$E"
	check "read-write again: mxcached starts" dstart "$E"
	served "$E"
	check "read-write again: clients see exactly the acknowledged changes" exactly "$W/acked"
	expect_rc 0 "read-write again: a change is accepted" "$SHMCTL" -d "$E" override set rw.disk.test 192.0.2.7
	expect_rc 0 "read-write again: verify passes" "$SHMCTL" -d "$E" verify
	check "read-write again: clean stop" dstop
else
	echo "# no ext4 on a loop device here: the forced read-only checks are skipped"
	skip "$EXT4_CHECKS" "cannot force a file system read-only (ext4 on a loop device)"
fi

no_sanitizer
done_testing
