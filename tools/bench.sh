#!/bin/sh
# shellcheck disable=SC2317  # functions run from traps look unreachable
# tools/bench.sh BUILD_DIR [--quick] - the mxcache benchmarks (make bench).
#
#   1. lookup latency: BUILD/bench/bench_resolve (mxc_resolve vs LMDB mdb_get)
#   2. import:  a generated CSV of key,target,comment lines through
#               "shmctl override import" into a running mxcached (wall time)
#   3. restart: SIGTERM, start again, and time the rebuild of the region
#               from SQLite: the daemon's own "rebuilt ... in N ms" log line,
#               and the wall time until "shmctl status" shows the new daemon
#               live with every override
#
# --quick (or BENCH_QUICK=1 in the environment, e.g. BENCH_QUICK=1 make bench)
# uses smaller sizes.  Results: BUILD/bench/results.csv (one row per figure:
# benchmark,overrides,system,case,metric,value) and BUILD/bench/resolve.csv
# (bench_resolve's own table); a summary is printed at the end.
#
# Figures are reported, never judged: nothing here passes or fails on time.
# The exit status is 1 only when something broke (a tool crashed or failed,
# a count came out wrong), else 0.  The daemon and every temporary file are
# removed on exit, interrupted or not.
set -u

usage() {
	echo "usage: tools/bench.sh BUILD_DIR [--quick]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
BUILD=$1
shift
QUICK=${BENCH_QUICK:-0}
for a in "$@"; do
	case $a in
	--quick) QUICK=1 ;;
	*) usage ;;
	esac
done
case $QUICK in 1|yes|true) QUICK=1 ;; *) QUICK=0 ;; esac

if [ "$QUICK" = 1 ]; then
	IMPORT_N=100000
	RESOLVE_ARGS=--quick
else
	IMPORT_N=1000000
	RESOLVE_ARGS=
fi

# Hang guards, not performance limits: how long to wait for the daemon to
# come up before calling the step broken.
START_GIVEUP_S=60
RESTART_GIVEUP_S=600
STOP_GIVEUP_S=300
CLEANUP_GIVEUP_S=10  # the same, when cleaning up after an interruption
POLL_S=0.01          # status polling interval while waiting for the restart

OUTDIR=$BUILD/bench
RESULTS=$OUTDIR/results.csv
RESOLVE_CSV=$OUTDIR/resolve.csv
DAEMON=$BUILD/mxcached
SHMCTL=$BUILD/shmctl
RESOLVE=$OUTDIR/bench_resolve

failed=0
notrun=""
DPID=""
CHILD=""
TMP=""
STATE=""

log() { echo "bench: $*" >&2; }
broken() { log "ERROR: $*"; failed=1; }

# nanoseconds, monotonic enough for second-scale steps (GNU date)
now_ns() { date +%s%N; }
# ms between two now_ns values
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }
# "1234" ms -> "1.234"
secs() { awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }'; }

row() {   # benchmark overrides system case metric value
	echo "$1,$2,$3,$4,$5,$6" >> "$RESULTS"
}

# The region's files are named after the state directory's device and
# inode (shm/path.h): remove them too, or they outlive the benchmark.
remove_region_files() {
	[ -n "$STATE" ] && [ -d "$STATE" ] || return 0
	shmdir=${MXCACHE_SHM_DIR:-/dev/shm}
	case $shmdir in /*) ;; *) shmdir=/dev/shm ;; esac
	dev=$(stat -c %d "$STATE") && ino=$(stat -c %i "$STATE") || return 0
	rm -f "$shmdir/mxcache-$(printf %x "$dev")-$(printf %x "$ino")."*
}

# stop_daemon: SIGTERM, wait for the exit; returns the daemon's exit status.
# A daemon still running after STOP_GIVEUP_S gets SIGKILL (and 137).
stop_daemon() {
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	t_stop=$(now_ns)
	# the shell reaps its children as they exit, so kill -0 fails at once
	while kill -0 "$DPID" 2>/dev/null; do
		if [ "$(ms_since "$t_stop")" -gt $((STOP_GIVEUP_S * 1000)) ]; then
			log "mxcached still running ${STOP_GIVEUP_S} s after SIGTERM; killing it"
			kill -KILL "$DPID" 2>/dev/null
			break
		fi
		sleep "$POLL_S"
	done
	wait "$DPID"
	st=$?
	DPID=""
	return $st
}

# run_job CMD...: run CMD as a waited-for background job, so that a signal to
# this script is handled at once (the shell runs traps only between
# foreground commands) and the trap can stop CMD too.
run_job() {
	"$@" &
	CHILD=$!
	wait "$CHILD"
	st=$?
	CHILD=""
	return $st
}

cleanup() {
	trap - EXIT INT TERM HUP
	if [ -n "$CHILD" ]; then
		kill -TERM "$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	# a daemon stuck in shutdown must not keep the temp files alive long
	STOP_GIVEUP_S=$CLEANUP_GIVEUP_S
	stop_daemon
	remove_region_files
	[ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

mkdir -p "$OUTDIR" || exit 1
echo "benchmark,overrides,system,case,metric,value" > "$RESULTS"
T_ALL=$(now_ns)

# --- 1. lookup latency --------------------------------------------------------
if [ -x "$RESOLVE" ]; then
	log "lookup latency: $RESOLVE $RESOLVE_ARGS (progress below, table in the summary)"
	rm -f "$RESOLVE_CSV"
	# its table goes to a file: the summary shows it once, from the CSV
	# shellcheck disable=SC2086
	run_job "$RESOLVE" $RESOLVE_ARGS --csv "$RESOLVE_CSV" > "$OUTDIR/resolve.txt"
	rc=$?
	if [ $rc -ne 0 ]; then
		broken "bench_resolve exited with status $rc"
	fi
	if [ -s "$RESOLVE_CSV" ]; then
		# wide rows -> one figure per row
		awk -F, 'NR > 1 {
			for (c = 4; c <= 8; c++)
				printf "resolve,%s,%s,%s,%s,%s\n", $1, $2, $3, h[c], $c
		}
		NR == 1 { for (c = 1; c <= NF; c++) h[c] = $c }' "$RESOLVE_CSV" >> "$RESULTS"
	fi
else
	notrun="$notrun bench_resolve"
	log "skipping lookup latency: $RESOLVE not built"
fi

# --- 2 and 3. import and restart through the real daemon ----------------------
wait_ready() {   # wait_ready LOG: until the daemon answers ping, or dies
	t=$(now_ns)
	while :; do
		if ! kill -0 "$DPID" 2>/dev/null; then
			wait "$DPID"
			broken "mxcached exited during start-up (status $?); its log:"
			sed 's/^/  | /' "$1" >&2
			DPID=""
			return 1
		fi
		"$SHMCTL" -d "$STATE" ping >/dev/null 2>&1 && return 0
		if [ "$(ms_since "$t")" -gt $((START_GIVEUP_S * 1000)) ]; then
			broken "mxcached did not answer ping within ${START_GIVEUP_S} s"
			return 1
		fi
		sleep "$POLL_S"
	done
}

# status_count: the override count "shmctl status" shows, if the writer
# it names is $DPID and alive (status exits 0 only while the writer runs).
status_count() {
	out=$("$SHMCTL" -d "$STATE" status 2>/dev/null) || return 1
	echo "$out" | grep -q "^writer: *pid $DPID," || return 1
	echo "$out" | awk '$1 == "overrides:" { print $2 }'
}

gen_csv() {   # gen_csv N FILE: key,target,comment; keys 10..40 chars, unique
	awk -v n="$1" 'BEGIN {
		np = split("host mx mail smtp relay in mta edge gw out inbound mailgw", P, " ")
		nw = split("a io ops corp acme shop north globex initech umbrella hooli example " \
			   "megacorp contoso fabrikam wayneenterprises eu-west customers lists bounce", W, " ")
		nt = split("com net org de io example.com co.uk example.net mail.example.org ac.jp", T, " ")
		nc = split("|migration|moved to new provider|ticket 4711|mx down; via backup||", C, "|")
		srand(20261121)
		for (i = 0; i < n; i++) {
			# the first label (letters, then i) alone makes every key unique
			for (t = 0; t < 64; t++) {
				k = P[1 + int(rand() * np)] i "." W[1 + int(rand() * nw)] "." T[1 + int(rand() * nt)]
				if (length(k) >= 10 && length(k) <= 40)
					break
			}
			if (t == 64)
				k = "mx" i ".example.com"
			if (rand() < 0.5)
				tg = (10 + int(rand() * 200)) "." int(rand() * 256) "." int(rand() * 256) "." (1 + int(rand() * 254))
			else
				tg = "mx" int(rand() * 1000) "." W[1 + int(rand() * nw)] "." T[1 + int(rand() * nt)]
			print k "," tg "," C[1 + int(rand() * nc)]
		}
	}' > "$2"
}

run_daemon_bench() {
	N=$IMPORT_N
	TMP=$(mktemp -d /tmp/mxc-bench-sh.XXXXXX) || { broken "mktemp failed"; return; }
	STATE=$TMP/state
	mkdir "$STATE" || { broken "mkdir $STATE failed"; return; }
	CSV=$TMP/overrides.csv

	log "import: generating $N lines"
	t=$(now_ns)
	run_job gen_csv "$N" "$CSV" || { broken "generating $CSV failed"; return; }
	log "import: generated in $(secs "$(ms_since "$t")") s ($(wc -c < "$CSV") bytes)"

	log "import: starting $DAEMON -d $STATE -f"
	"$DAEMON" -d "$STATE" -f 2> "$TMP/daemon1.log" &
	DPID=$!
	wait_ready "$TMP/daemon1.log" || return

	log "import: shmctl override import ($N lines)"
	t=$(now_ns)
	run_job "$SHMCTL" -d "$STATE" override import "$CSV" > "$TMP/import.out" 2>&1
	rc=$?
	ms=$(ms_since "$t")
	# shmctl redraws a progress line with \r; keep its last words only
	tr '\r' '\n' < "$TMP/import.out" | grep -v '^$' | tail -n 2 | sed 's/^/  shmctl: /' >&2
	if [ $rc -ne 0 ]; then
		broken "shmctl override import exited with status $rc"
		return
	fi
	got=$(status_count) || got="?"
	if [ "$got" != "$N" ]; then
		broken "after the import, status shows $got overrides, not $N"
		return
	fi
	IMPORT_MS=$ms
	row import "$N" mxcached csv wall_ms "$IMPORT_MS"
	row import "$N" mxcached csv lines_per_s "$(awk -v n="$N" -v ms="$IMPORT_MS" 'BEGIN { printf "%.0f", ms ? n * 1000 / ms : 0 }')"
	REGION_BYTES=$("$SHMCTL" -d "$STATE" status 2>/dev/null | awk '$1 == "size:" { print $2 }')
	DB_BYTES=$(du -cb "$STATE"/mxcache.db* 2>/dev/null | awk 'END { print $1 }')
	[ -n "$REGION_BYTES" ] && row import "$N" mxcached csv region_bytes "$REGION_BYTES"
	[ -n "$DB_BYTES" ] && row import "$N" mxcached csv db_bytes "$DB_BYTES"
	log "import: $(secs "$IMPORT_MS") s"

	log "restart: SIGTERM"
	t=$(now_ns)
	stop_daemon
	rc=$?
	STOP_MS=$(ms_since "$t")
	if [ $rc -ne 0 ]; then
		broken "mxcached exited with status $rc on SIGTERM; its log:"
		tail -n 20 "$TMP/daemon1.log" | sed 's/^/  | /' >&2
		return
	fi
	row restart "$N" mxcached sigterm stop_ms "$STOP_MS"

	log "restart: starting again, waiting for status to show pid and $N overrides"
	t=$(now_ns)
	"$DAEMON" -d "$STATE" -f 2> "$TMP/daemon2.log" &
	DPID=$!
	while :; do
		got=$(status_count) && [ "$got" = "$N" ] && break
		if ! kill -0 "$DPID" 2>/dev/null; then
			wait "$DPID"
			broken "mxcached exited during the restart (status $?); its log:"
			tail -n 20 "$TMP/daemon2.log" | sed 's/^/  | /' >&2
			DPID=""
			return
		fi
		if [ "$(ms_since "$t")" -gt $((RESTART_GIVEUP_S * 1000)) ]; then
			broken "no live region with $N overrides ${RESTART_GIVEUP_S} s after the restart"
			return
		fi
		sleep "$POLL_S"
	done
	LIVE_MS=$(ms_since "$t")
	row restart "$N" mxcached rebuild live_wall_ms "$LIVE_MS"
	# "main: rebuilt N overrides (S skipped) in T ms" (daemon/main.c)
	REBUILD=$(sed -n 's/.*main: rebuilt \([0-9]*\) overrides (\([0-9]*\) skipped) in \([0-9]*\) ms.*/\1 \2 \3/p' \
		"$TMP/daemon2.log" | tail -n 1)
	if [ -n "$REBUILD" ]; then
		# shellcheck disable=SC2086  # split "loaded skipped ms" on purpose
		set -- $REBUILD
		REBUILD_MS=$3
		row restart "$N" mxcached rebuild log_rebuild_ms "$3"
		[ "$1" = "$N" ] || broken "the daemon logged $1 overrides rebuilt, not $N"
		[ "$2" = 0 ] || log "restart: the daemon skipped $2 stored overrides"
	else
		REBUILD_MS=""
		log "restart: no 'main: rebuilt ... in N ms' line in the daemon's log"
	fi
	log "restart: live after $(secs "$LIVE_MS") s"

	t=$(now_ns)
	stop_daemon
	rc=$?
	[ $rc -eq 0 ] || broken "mxcached exited with status $rc on the second SIGTERM"
}

if [ -x "$DAEMON" ] && [ -x "$SHMCTL" ]; then
	run_daemon_bench
else
	notrun="$notrun import restart"
	[ -x "$DAEMON" ] || log "skipping import/restart: $DAEMON not built"
	[ -x "$SHMCTL" ] || log "skipping import/restart: $SHMCTL not built"
fi

# --- summary --------------------------------------------------------------------
echo
echo "== mxcache benchmarks ($( [ "$QUICK" = 1 ] && echo quick || echo full ))," \
     "$(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -s "$RESOLVE_CSV" ]; then
	echo
	echo "lookup latency, per lookup (ns); median/p99/p999 over batches of 64, mean over a long run"
	awk -F, '{ printf "%-10s %-9s %-5s %10s %9s %9s %9s %14s\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$RESOLVE_CSV"
fi
if [ -n "${IMPORT_MS:-}" ]; then
	echo
	echo "import and restart, $IMPORT_N overrides"
	printf "  %-40s %10s s  (%s lines/s)\n" "import (shmctl override import, wall)" "$(secs "$IMPORT_MS")" \
		"$(awk -v n="$IMPORT_N" -v ms="$IMPORT_MS" 'BEGIN { printf "%.0f", ms ? n * 1000 / ms : 0 }')"
	[ -n "${REGION_BYTES:-}" ] && printf "  %-40s %10s MiB\n" "region size" \
		"$(awk -v b="$REGION_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }')"
	[ -n "${DB_BYTES:-}" ] && printf "  %-40s %10s MiB\n" "SQLite files" \
		"$(awk -v b="$DB_BYTES" 'BEGIN { printf "%.1f", b / 1048576 }')"
	[ -n "${STOP_MS:-}" ] && printf "  %-40s %10s s\n" "stop (SIGTERM to exit)" "$(secs "$STOP_MS")"
	[ -n "${REBUILD_MS:-}" ] && printf "  %-40s %10s s\n" "restart: rebuild (daemon's log)" "$(secs "$REBUILD_MS")"
	[ -n "${LIVE_MS:-}" ] && printf "  %-40s %10s s\n" "restart: until status shows it live" "$(secs "$LIVE_MS")"
fi
[ -n "$notrun" ] && echo && echo "not run:$notrun"
echo
echo "results: $RESULTS (all figures), $RESOLVE_CSV; total $(secs "$(ms_since "$T_ALL")") s"
exit $failed
