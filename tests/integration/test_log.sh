#!/usr/bin/env bash
# test_log - mxcached -l FILE: a detached daemon on a host with no syslog
# still logs, every line stamped, the socketmap server's lines included
# (restarted servers too); SIGHUP reopens the file after logrotate moved
# it; a symbolic link or a file with another name is refused; started as
# root with [daemon] user, the file it creates is that user's, so a
# reopen works wherever that user may create the file, or logrotate
# creates it for that user.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

new_dir D
LOG=$D/logs/mxcached.log
mkdir "$D/logs"
STAMP='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z '
S() { "$SHMCTL" -d "$D" "$@"; }
logged() { grep -q -- "$2" "$1" 2>/dev/null; }   # FILE TEXT
gone() { ! kill -0 "$1" 2>/dev/null; }

# --- detached, no -f: the file takes the place of syslog
expect_rc 0 "mxcached -l FILE detaches once ready" "$MXCACHED" -d "$D" -l "$LOG"
cp "$D/mxcached.pid" "$D/test.pid"       # for the cleanup
PID=$(cat "$D/mxcached.pid")
check "the file says it is ready" wait_for logged "$LOG" "main: mxcached .* ready: pid $PID"
expect_out "640" "  mode 0640" stat -c %a "$LOG"
check "the socketmap server's lines reach it" wait_for logged "$LOG" "socketmap: serving 1 socket, maps"
check "every line is stamped as under -f" test "$(grep -cEv "$STAMP" "$LOG")" -eq 0

child=$(pgrep -P "$PID" -f mxcache-socketmap | head -1)
kill -9 "${child:-0}" 2>/dev/null
check "a restarted socketmap server's lines reach it too" \
	wait_for sh -c "[ \$(grep -c 'socketmap: serving 1 socket, maps' '$LOG') -ge 2 ]"

# --- logrotate: move the file away, SIGHUP
mv "$LOG" "$LOG.1"
kill -HUP "$PID"
check "SIGHUP opens a new file at the path" wait_for logged "$LOG" "main: SIGHUP: log file $LOG reopened"
check "  and says so there" logged "$LOG" "main: SIGHUP: started without -c, nothing to reload"
S override set rotated.log.test 192.0.2.9 >/dev/null
check "what happens next goes to the new file" wait_for logged "$LOG" "set rotated.log.test -> 192.0.2.9"
check "  not to the old one" bash -c "! grep -q rotated.log.test '$LOG.1'"
check "  which kept what came before" logged "$LOG.1" "main: mxcached .* ready"
kill "$PID"
check "the daemon stops" wait_for gone "$PID"
check "  and its last line is in the file" logged "$LOG" "main: stopped"
rm -f "$D/test.pid"

# --- what -l refuses
new_dir E
ln -s "$D/logs/target" "$D/logs/link"
expect_rc 1 "a symbolic link is refused" "$MXCACHED" -d "$E" -f -l "$D/logs/link"
check "  saying so" grep -q "log: $D/logs/link: a symbolic link (refused)" /tmp/t.err.$$
check "  and what it points at is not created" test ! -e "$D/logs/target"
touch "$D/logs/one"
ln "$D/logs/one" "$D/logs/two"
expect_rc 1 "a file with another name (a hard link) is refused" "$MXCACHED" -d "$E" -f -l "$D/logs/two"
check "  saying so" grep -q "not a regular file with one name" /tmp/t.err.$$
expect_rc 1 "a file in a missing directory is refused" "$MXCACHED" -d "$E" -f -l "$D/nodir/x.log"
check "  saying why" grep -q "log: $D/nodir/x.log: No such file or directory" /tmp/t.err.$$
check "mxcached -h documents -l" sh -c "'$MXCACHED' -h | grep -q -- '-l FILE'"

# --- started as root with [daemon] user
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	echo "ok $((T_N + 1)) - # SKIP [daemon] user needs root"
	T_N=$((T_N + 1))
	done_testing
	exit
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"   # not dumpable: see test_privilege
DUSER=nobody
new_dir R
new_dir L                           # root's, outside DIR (whose entries go to the user)
chmod 0755 "$R" "$L"                # the daemon's user cannot create files in L
RLOG=$L/mxcached.log
printf '[daemon]\nuser = %s\n' "$DUSER" >"$R/mxcached.conf"
check "root with [daemon] user = $DUSER starts with -l" daemon_start "$R" -c "$R/mxcached.conf" -l "$RLOG"
RPID=$(cat "$R/test.pid")
check "the file is written" wait_for logged "$RLOG" "main: running as $DUSER"
expect_out "$DUSER 640" "the file root created is $DUSER's, mode 0640" stat -c '%U %a' "$RLOG"
mv "$RLOG" "$RLOG.1"
kill -HUP "$RPID"
check "SIGHUP where $DUSER may not create the file: a warning, in the file still open" \
	wait_for logged "$RLOG.1" "log: $RLOG: Permission denied; still writing to the file open before"
check "  nothing is lost meanwhile" wait_for logged "$RLOG.1" "main: reloaded $R/mxcached.conf"
install -m 0640 -o "$DUSER" /dev/null "$RLOG"        # logrotate's create 0640 nobody
kill -HUP "$RPID"
check "SIGHUP once logrotate created the file for $DUSER: written there" \
	wait_for logged "$RLOG" "main: SIGHUP: log file $RLOG reopened"
check "the daemon stops cleanly" daemon_stop "$R"
done_testing
