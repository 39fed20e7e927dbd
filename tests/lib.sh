# tests/lib.sh - TAP helpers and a daemon harness for the shell tests.
# Source it; BUILD names the build directory (default: build).

BUILD=${BUILD:-build}
# the sanitizer a build directory was made with (build-address-undefined)
SAN=""
case $BUILD in build-*) SAN=${BUILD#build-}; SAN=${SAN//-/,} ;; esac
T_N=0
T_FAIL=0
T_DIRS=()

_result() { # ok? description
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		T_FAIL=$((T_FAIL + 1))
		echo "not ok $T_N - $2"
	fi
}

# expect_rc RC DESC CMD... - CMD exits with RC
expect_rc() {
	local want=$1 desc=$2 got
	shift 2
	"$@" >/tmp/t.out.$$ 2>/tmp/t.err.$$
	got=$?
	[ "$got" -eq "$want" ]
	_result $? "$desc"
	[ "$got" -eq "$want" ] || { echo "#   exit $got, want $want: $*"; sed 's/^/#   err: /' /tmp/t.err.$$ | head -5; }
	return 0
}

# expect_out WANT DESC CMD... - CMD exits 0 and prints exactly WANT
expect_out() {
	local want=$1 desc=$2 got rc
	shift 2
	got=$("$@" 2>/tmp/t.err.$$)
	rc=$?
	[ "$rc" -eq 0 ] && [ "$got" = "$want" ]
	_result $? "$desc"
	if [ "$rc" -ne 0 ] || [ "$got" != "$want" ]; then
		echo "#   exit $rc, got '$got', want '$want': $*"
		sed 's/^/#   err: /' /tmp/t.err.$$ | head -5
	fi
	return 0
}

# check DESC CMD... - CMD (a shell condition) succeeds
check() {
	local desc=$1
	shift
	"$@" >/dev/null 2>&1
	_result $? "$desc"
}

# proc_switches PID - voluntary and involuntary context switches of every
# thread of PID (threads that come and go between two reads only make
# the count smaller); proc_cpu PID - its utime + stime, in clock ticks
proc_switches() {
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}
proc_cpu() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }

# wait_for CMD... - poll up to 5 s for a condition
wait_for() {
	local i
	for i in $(seq 1 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# require_root_setpriv - tests that act as other users (setpriv with uids
# no passwd names) and start the daemon as root: skip them all otherwise
require_root_setpriv() {
	if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
		echo "ok 1 - # SKIP needs root and setpriv"
		echo "1..1"
		exit 0
	fi
}

# last_out / last_err - what the last expect_rc printed
last_out() { cat /tmp/t.out.$$; }
last_err() { cat /tmp/t.err.$$; }

# The programs under test, copied into a directory every user can reach:
# the daemon after it gives root up, and the other users the tests act
# as, run them, and a checkout under a home of mode 0700 is closed to
# them.  mxcached finds mxcache-socketmap beside itself.  TOOLS holds the
# test tools (server_post, stats_post, ...).  Removed at exit.
T_BIN=$(mktemp -d /tmp/mxc-bin.XXXXXX) || exit 1
chmod 0755 "$T_BIN"
for _f in mxcached mxcache-socketmap shmctl tests/tools; do
	[ -e "$BUILD/$_f" ] && cp -R "$BUILD/$_f" "$T_BIN/"
done
unset _f
MXCACHED=$T_BIN/mxcached
SHMCTL=$T_BIN/shmctl
TOOLS=$T_BIN/tools
# /tmp mounted noexec: the build's own, which other users reach only
# through a checkout they may enter
if [ -x "$BUILD/mxcached" ] && ! "$MXCACHED" -V >/dev/null 2>&1; then
	MXCACHED=$PWD/$BUILD/mxcached
	SHMCTL=$PWD/$BUILD/shmctl
	TOOLS=$PWD/$BUILD/tests/tools
fi

# new_dir VAR - a fresh state directory in $VAR, removed with its region
# at exit.  Not "D=$(new_dir)": a command substitution is a subshell, and
# the cleanup list would never see the directory.
new_dir() {
	local d
	d=$(mktemp -d /tmp/mxc-it.XXXXXX)
	T_DIRS+=("$d")
	printf -v "$1" '%s' "$d"
}

# region_files DIR - the tmpfs files of DIR's region
region_files() {
	local dev ino
	dev=$(stat -c %d "$1")
	ino=$(stat -c %i "$1")
	printf '%s/mxcache-%x-%x.*' "${MXCACHE_SHM_DIR:-/dev/shm}" "$dev" "$ino"
}

# daemon_start DIR [ARGS] - start mxcached in the foreground, wait until
# it answers on ctl.sock
daemon_start() {
	local d=$1 i
	shift
	"$MXCACHED" -d "$d" -f "$@" >>"$d/daemon.log" 2>&1 &
	echo $! >"$d/test.pid"
	for i in $(seq 1 200); do
		if [ -S "$d/ctl.sock" ] && "$SHMCTL" -d "$d" status >/dev/null 2>&1 &&
			"$SHMCTL" -d "$d" status 2>/dev/null | grep -q "writer:.*running"; then
			return 0
		fi
		kill -0 "$(cat "$d/test.pid")" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# daemon_start_as DIR USER ADMIN_GID - mxcached started as root on DIR
# (made reachable by USER) with [daemon] user = USER and [ctl]
# admin_group = ADMIN_GID, as the tests that act as other users need it
daemon_start_as() {
	local d=$1
	chmod 0755 "$d"
	printf '[daemon]\nuser = %s\n[ctl]\nadmin_group = %s\n' "$2" "$3" >"$d/mxcached.conf"
	daemon_start "$d" -c "$d/mxcached.conf"
}

# daemon_stop DIR [SIGNAL] - stop it and wait; returns its exit status
daemon_stop() {
	local d=$1 sig=${2:-TERM} pid
	pid=$(cat "$d/test.pid" 2>/dev/null) || return 0
	kill -s "$sig" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	local rc=$?
	rm -f "$d/test.pid"
	return $rc
}

# T_BG - a test's background processes (load generators, connections held
# open, daemons started by hand): T_BG+=($!); bg_stop stops and reaps them,
# and t_cleanup does at exit
T_BG=()
bg_stop() {
	local p live
	# only jobs still in this shell's table: a pid already waited for
	# may belong to another process by now
	live=" $(jobs -p | tr '\n' ' ') "
	for p in "${T_BG[@]}"; do
		[[ $live == *" $p "* ]] || continue
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	T_BG=()
}

t_cleanup() {
	local d
	bg_stop
	for d in "${T_DIRS[@]}"; do
		[ -f "$d/test.pid" ] && daemon_stop "$d" KILL
		# shellcheck disable=SC2046
		rm -f $(region_files "$d")
		rm -rf "$d"
	done
	rm -f /tmp/t.out.$$ /tmp/t.err.$$
	rm -rf "$T_BIN"
}
trap t_cleanup EXIT

done_testing() {
	echo "1..$T_N"
	[ "$T_FAIL" -eq 0 ]
}
