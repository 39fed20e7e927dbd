#!/bin/sh
# shellcheck disable=SC2317  # functions run from traps look unreachable
# tools/bench.sh BUILD_DIR [--quick] - the mxcache benchmarks (make bench).
#
#   1. lookup latency: BUILD/bench/bench_resolve (mxcache next to LMDB,
#      SQLite, rculfhash, ck_hs, a plain table and the memory floor)
#   2. scaling:  BUILD/bench/bench_scale (readers scaling, reader latency
#      under writer load, writer in-process and through mxcached with the
#      visibility of each change, memory per entry)
#   3. import:  a generated CSV of key,target,comment lines through
#               "shmctl override import" into a running mxcached (wall time)
#   4. restart: SIGTERM, start again, and time the rebuild of the region
#               from SQLite: the daemon's own "rebuilt ... in N ms" log line,
#               and the wall time until "shmctl status" shows the new daemon
#               live with every override
#   5. MTA-STS: BUILD/bench/bench_sts (mxc_sts_get + mxc_sts_match at
#               100,000 policies, next to the same lookup in SQLite) and
#               tools/bench_refresh.sh (mxcached refreshing 10,000 policies
#               against dnsmasq and tests/tools/https_srv on loopback)
#   6. socketmap: BUILD/bench/bench_socketmap (Postfix socketmap requests
#               to build/mxcache-socketmap over one unix connection, over
#               32, and pipelined 16 and 100 deep, each next to the same
#               requests to BUILD/bench/sm_trivial, a server answering
#               without a lookup, and to mxc_resolve and mxc_sts_get in
#               process; its own output in socketmap.csv and socketmap.txt)
#   7. instructions per lookup: tools/bench_insns.sh (callgrind over
#               BUILD/bench/bench_insns: mxc_resolve hits and misses on 1,000
#               overrides, split into normalise, SipHash, table, read section)
#
# --quick (or BENCH_QUICK=1 in the environment, e.g. BENCH_QUICK=1 make bench)
# passes --quick to both programs and imports 100,000 lines, not 1,000,000.
#
# Progress goes to stderr throughout; one summary goes to stdout at the end:
# the lookup table, the scaling figures, import and restart, and the ratios
# the project tracks, each next to its target, computed from this run.
#
# Results, all in BUILD/bench/:
#   results.csv   every figure, one per row:
#                 benchmark,entries,keys,case,system,metric,value,unit
#                 (benchmark "target": the tracked ratios of the summary)
#   resolve.csv, resolve.txt, scale.csv, scale.txt  the programs' own output
#   lookup.png    median lookup latency per system, uniform hits (gnuplot,
#                 bench/plot.gp; skipped with a note when gnuplot is missing)
#
# Figures are reported, never judged: nothing here passes or fails on time.
# The exit status is 1 only when something broke (a tool crashed or failed,
# a count came out wrong), else 0; a missing gnuplot is not a failure.  The
# daemon and every temporary file are removed on exit, interrupted or not.
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
	MODE=quick
	IMPORT_N=100000
	PROG_ARGS=--quick
	SCALE_N=100000    # bench_scale's --quick size (its own CSV says, if it gets that far)
	REFRESH_N=1000
	REFRESH_WORKERS="16"
else
	MODE=full
	IMPORT_N=1000000
	PROG_ARGS=
	SCALE_N=1000000
	REFRESH_N=10000
	REFRESH_WORKERS="16 64"
fi

# Hang guards, not performance limits: how long to wait for the daemon to
# come up before calling the step broken.
START_GIVEUP_S=60
RESTART_GIVEUP_S=600
STOP_GIVEUP_S=300
CLEANUP_GIVEUP_S=10  # the same, when cleaning up after an interruption
LOG_WAIT_S=5         # for the rebuild line after the region is live
POLL_S=0.01          # status polling interval while waiting for the restart

OUTDIR=$BUILD/bench
RESULTS=$OUTDIR/results.csv
RESOLVE_CSV=$OUTDIR/resolve.csv
SCALE_CSV=$OUTDIR/scale.csv
PLOT_DAT=$OUTDIR/lookup.dat
PLOT_PNG=$OUTDIR/lookup.png
PLOT_GP=$(dirname "$0")/../bench/plot.gp
DAEMON=$BUILD/mxcached
SHMCTL=$BUILD/shmctl
RESOLVE=$OUTDIR/bench_resolve
SCALE=$OUTDIR/bench_scale
STS=$OUTDIR/bench_sts
STS_CSV=$OUTDIR/sts.csv
SMAP_BENCH=$OUTDIR/bench_socketmap
SMAP_SERVER=$BUILD/mxcache-socketmap
SMAP_TRIVIAL=$OUTDIR/sm_trivial
SMAP_CSV=$OUTDIR/socketmap.csv

failed=0
SCALE_FAILED=0
notrun=""
notes=""
DPID=""
CHILD=""
TMP=""
STATE=""

log() { echo "bench: $*" >&2; }
broken() { log "ERROR: $*"; failed=1; notes="$notes
  ERROR: $*"; }

# nanoseconds, monotonic enough for second-scale steps (GNU date)
now_ns() { date +%s%N; }
# ms between two now_ns values
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }
# "1234" ms -> "1.234"
secs() { awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }'; }

row() {   # benchmark entries keys case system metric value unit
	echo "$1,$2,$3,$4,$5,$6,$7,$8" >> "$RESULTS"
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
# The redirections go on the job, not on the call: a trap running during
# the wait would write into them.  run_job_out FILE CMD...: stdout to FILE;
# run_job_all FILE CMD...: stdout and stderr to FILE.
run_job() {
	"$@" &
	job_wait
}
run_job_out() {
	f=$1
	shift
	"$@" > "$f" &
	job_wait
}
run_job_all() {
	f=$1
	shift
	"$@" > "$f" 2>&1 &
	job_wait
}
job_wait() {
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
TMP=$(mktemp -d /tmp/mxc-bench-sh.XXXXXX) || { log "mktemp failed"; exit 1; }
echo "benchmark,entries,keys,case,system,metric,value,unit" > "$RESULTS"
# figures of an earlier run must not pass for this run's
rm -f "$RESOLVE_CSV" "$SCALE_CSV" "$PLOT_DAT" "$PLOT_PNG"
T_ALL=$(now_ns)
log "$MODE run, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); results in $OUTDIR/"

# --- 1. lookup latency --------------------------------------------------------
if [ -x "$RESOLVE" ]; then
	log "[1/5] lookup latency: $RESOLVE${PROG_ARGS:+ $PROG_ARGS} (its progress below; table in the summary)"
	t=$(now_ns)
	# its table goes to a file: the summary shows it once, from the CSV
	# shellcheck disable=SC2086
	run_job_out "$OUTDIR/resolve.txt" "$RESOLVE" $PROG_ARGS --csv "$RESOLVE_CSV"
	rc=$?
	RESOLVE_MS=$(ms_since "$t")
	[ $rc -eq 0 ] || broken "bench_resolve exited with status $rc (figures it wrote are kept)"
	if [ -s "$RESOLVE_CSV" ]; then
		# entries,keys,case,system,median_ns,p99_ns,p999_ns,mean_ns,
		# ratio_vs_floor,ratio_vs_mxcache -> one figure per row
		awk -F, 'NR > 1 {
			for (c = 5; c <= 8; c++)
				printf "resolve,%s,%s,%s,%s,%s,%s,ns\n", $1, $2, $3, $4, name[c], $c
			for (c = 9; c <= 10; c++)
				if ($c != "-" && $c != "")
					printf "resolve,%s,%s,%s,%s,%s,%s,ratio\n", $1, $2, $3, $4, name[c], $c
		}
		NR == 1 { for (c = 1; c <= NF; c++) { name[c] = $c; sub(/_ns$/, "", name[c]) } }' \
			"$RESOLVE_CSV" >> "$RESULTS"
	fi
	row run - - "$MODE" bench_resolve wall "$RESOLVE_MS" ms
	log "[1/5] lookup latency done in $(secs "$RESOLVE_MS") s"
else
	notrun="$notrun bench_resolve"
	log "[1/5] skipping lookup latency: $RESOLVE not built"
fi

# --- 2. scaling, writer, visibility, memory -----------------------------------
if [ -x "$SCALE" ]; then
	log "[2/5] scaling: $SCALE${PROG_ARGS:+ $PROG_ARGS} (its progress below; figures in the summary)"
	t=$(now_ns)
	# shellcheck disable=SC2086
	run_job_out "$OUTDIR/scale.txt" "$SCALE" $PROG_ARGS --csv "$SCALE_CSV"
	rc=$?
	SCALE_MS=$(ms_since "$t")
	[ $rc -eq 0 ] || { SCALE_FAILED=1; broken "bench_scale exited with status $rc (figures it wrote are kept)"; }
	if [ -s "$SCALE_CSV" ]; then
		# benchmark,param,metric,value,unit -> the common layout; the
		# region's size comes from its "run,...,entries" row (written last)
		awk -F, -v dflt="$SCALE_N" '
		FNR == NR { if ($1 == "run" && $3 == "entries") n = $4 + 0; next }
		FNR == 1 { if (!n) n = dflt; next }
		{
			b = $1; keys = "-"; sys = "mxcache"; ents = n
			if (b == "readers_scaling" || b == "latency_under_writes")
				keys = "uniform"
			else if (b == "writer_daemon")
				sys = "mxcached"
			else if (b == "run") {
				b = "scale_run"; sys = "bench_scale"; ents = "-"
			}
			printf "%s,%s,%s,%s,%s,%s,%s,%s\n", b, ents, keys, $2, sys, $3, $4, $5
		}' "$SCALE_CSV" "$SCALE_CSV" >> "$RESULTS"
	fi
	row run - - "$MODE" bench_scale wall "$SCALE_MS" ms
	log "[2/5] scaling done in $(secs "$SCALE_MS") s"
else
	notrun="$notrun bench_scale"
	log "[2/5] skipping scaling: $SCALE not built"
fi

# --- 3. import and restart through the real daemon ----------------------------
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
	STATE=$TMP/state
	mkdir "$STATE" || { broken "mkdir $STATE failed"; return; }
	CSV=$TMP/overrides.csv

	log "[3/5] import: generating $N lines"
	t=$(now_ns)
	run_job gen_csv "$N" "$CSV" || { broken "generating $CSV failed"; return; }
	log "[3/5] import: generated in $(secs "$(ms_since "$t")") s ($(wc -c < "$CSV") bytes)"

	log "[3/5] import: starting $DAEMON -d $STATE -f"
	"$DAEMON" -d "$STATE" -f 2> "$TMP/daemon1.log" &
	DPID=$!
	wait_ready "$TMP/daemon1.log" || return

	log "[3/5] import: shmctl override import ($N lines)"
	t=$(now_ns)
	run_job_all "$TMP/import.out" "$SHMCTL" -d "$STATE" override import "$CSV"
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
	row import "$N" - csv mxcached wall "$ms" ms
	row import "$N" - csv mxcached rate \
		"$(awk -v n="$N" -v ms="$ms" 'BEGIN { printf "%.0f", ms ? n * 1000 / ms : 0 }')" lines/s
	region_bytes=$("$SHMCTL" -d "$STATE" status 2>/dev/null | awk '$1 == "size:" { print $2 }')
	db_bytes=$(du -cb "$STATE"/mxcache.db* 2>/dev/null | awk 'END { print $1 }')
	[ -n "$region_bytes" ] && row import "$N" - csv mxcached region_size "$region_bytes" bytes
	[ -n "$db_bytes" ] && row import "$N" - csv mxcached sqlite_size "$db_bytes" bytes
	log "[3/5] import: $(secs "$ms") s"

	log "[3/5] restart: SIGTERM"
	t=$(now_ns)
	stop_daemon
	rc=$?
	ms=$(ms_since "$t")
	if [ $rc -ne 0 ]; then
		broken "mxcached exited with status $rc on SIGTERM; its log:"
		tail -n 20 "$TMP/daemon1.log" | sed 's/^/  | /' >&2
		return
	fi
	row restart "$N" - sigterm mxcached stop "$ms" ms

	log "[3/5] restart: starting again, waiting for status to show pid and $N overrides"
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
	ms=$(ms_since "$t")
	row restart "$N" - start mxcached live "$ms" ms
	# "main: rebuilt N overrides (S skipped) in T ms" (daemon/main.c); the
	# region goes live just before that line is written, so it may lag
	t=$(now_ns)
	while :; do
		rebuild=$(sed -n 's/.*main: rebuilt \([0-9]*\) overrides (\([0-9]*\) skipped) in \([0-9]*\) ms.*/\1 \2 \3/p' \
			"$TMP/daemon2.log" | tail -n 1)
		[ -n "$rebuild" ] && break
		[ "$(ms_since "$t")" -gt $((LOG_WAIT_S * 1000)) ] && break
		sleep "$POLL_S"
	done
	if [ -n "$rebuild" ]; then
		# shellcheck disable=SC2086  # split "loaded skipped ms" on purpose
		set -- $rebuild
		row restart "$N" - start mxcached rebuild "$3" ms
		[ "$1" = "$N" ] || broken "the daemon logged $1 overrides rebuilt, not $N"
		[ "$2" = 0 ] || log "[3/5] restart: the daemon skipped $2 stored overrides"
	else
		log "[3/5] restart: no 'main: rebuilt ... in N ms' line in the daemon's log"
	fi
	log "[3/5] restart: live after $(secs "$ms") s"

	stop_daemon
	rc=$?
	[ $rc -eq 0 ] || broken "mxcached exited with status $rc on the second SIGTERM"
}

if [ -x "$DAEMON" ] && [ -x "$SHMCTL" ]; then
	T_DAEMON=$(now_ns)
	run_daemon_bench
	row run - - "$MODE" import_restart wall "$(ms_since "$T_DAEMON")" ms
else
	notrun="$notrun import restart"
	[ -x "$DAEMON" ] || log "[3/5] skipping import/restart: $DAEMON not built"
	[ -x "$SHMCTL" ] || log "[3/5] skipping import/restart: $SHMCTL not built"
fi

# --- 4. MTA-STS: lookups, and refreshing policies against loopback servers -----
if [ -x "$STS" ]; then
	log "[4/5] MTA-STS lookups: $STS${PROG_ARGS:+ $PROG_ARGS}"
	t=$(now_ns)
	# shellcheck disable=SC2086
	run_job_out "$OUTDIR/sts.txt" "$STS" $PROG_ARGS --csv "$STS_CSV"
	rc=$?
	[ $rc -eq 0 ] || broken "bench_sts exited with status $rc"
	if [ -s "$STS_CSV" ]; then
		# entries,case,system,median_ns,p99_ns,p999_ns,mean_ns -> one figure per row
		awk -F, 'NR == 1 { for (c = 1; c <= NF; c++) { name[c] = $c; sub(/_ns$/, "", name[c]) }; next }
		{ for (c = 4; c <= 7; c++) printf "sts_lookup,%s,uniform,%s,%s,%s,%s,ns\n", $1, $2, $3, name[c], $c }' \
			"$STS_CSV" >> "$RESULTS"
	fi
	log "[4/5] MTA-STS refresh: $REFRESH_N policies, workers $REFRESH_WORKERS"
	# shellcheck disable=SC2086
	run_job_out "$OUTDIR/refresh.csv" bash "$(dirname "$0")/bench_refresh.sh" "$BUILD" "$REFRESH_N" $REFRESH_WORKERS
	rc=$?
	[ $rc -eq 0 ] || broken "bench_refresh.sh exited with status $rc (figures it wrote are kept)"
	cat "$OUTDIR/refresh.csv" >> "$RESULTS"
	row run - - "$MODE" sts wall "$(ms_since "$t")" ms
	log "[4/5] MTA-STS done in $(secs "$(ms_since "$t")") s"
else
	notrun="$notrun bench_sts"
	log "[4/5] skipping MTA-STS: $STS not built"
fi

# --- 5. socketmap: Postfix's socketmap protocol next to the library ------------
if [ -x "$SMAP_BENCH" ] && [ -x "$SMAP_SERVER" ] && [ -x "$SMAP_TRIVIAL" ]; then
	log "[5/5] socketmap: $SMAP_BENCH${PROG_ARGS:+ $PROG_ARGS}"
	rm -f "$SMAP_CSV"
	t=$(now_ns)
	# shellcheck disable=SC2086
	run_job_out "$OUTDIR/socketmap.txt" "$SMAP_BENCH" $PROG_ARGS --server "$SMAP_SERVER" --trivial "$SMAP_TRIVIAL" \
		--csv "$SMAP_CSV"
	rc=$?
	SMAP_MS=$(ms_since "$t")
	[ $rc -eq 0 ] || broken "bench_socketmap exited with status $rc (figures it wrote are kept)"
	# the size, from its table's first line: "entries: N endpoint overrides ..."
	smap_n=$(sed -n 's/^entries: *\([0-9][0-9]*\) .*/\1/p' "$OUTDIR/socketmap.txt" | head -n 1)
	if [ -s "$SMAP_CSV" ]; then
		# kind,mode,connections,p50_ns,p99_ns,rate_per_s -> one figure per row,
		# system "<mode>/<connections>"
		awk -F, -v n="${smap_n:--}" 'NR > 1 {
			sys = $2 "/" $3
			printf "socketmap,%s,uniform,%s,%s,p50,%s,ns\n", n, $1, sys, $4
			printf "socketmap,%s,uniform,%s,%s,p99,%s,ns\n", n, $1, sys, $5
			printf "socketmap,%s,uniform,%s,%s,rate,%s,per_s\n", n, $1, sys, $6
		}' "$SMAP_CSV" >> "$RESULTS"
	fi
	row run - - "$MODE" socketmap wall "$SMAP_MS" ms
	log "[5/5] socketmap done in $(secs "$SMAP_MS") s"
	# first contact: the mtasts map waiting for the daemon's check
	FC_N=$([ "$QUICK" = 1 ] && echo 50 || echo 200)
	log "[5/5] first contact through the mtasts map: $FC_N domains"
	run_job_out "$OUTDIR/first_contact.csv" bash "$(dirname "$0")/bench_first_contact.sh" "$BUILD" "$FC_N"
	rc=$?
	[ $rc -eq 0 ] || broken "bench_first_contact.sh exited with status $rc (figures it wrote are kept)"
	cat "$OUTDIR/first_contact.csv" >> "$RESULTS"
else
	notrun="$notrun bench_socketmap"
	[ -x "$SMAP_BENCH" ] || log "[5/5] skipping socketmap: $SMAP_BENCH not built"
	[ -x "$SMAP_SERVER" ] || log "[5/5] skipping socketmap: $SMAP_SERVER not built"
	[ -x "$SMAP_TRIVIAL" ] || log "[5/5] skipping socketmap: $SMAP_TRIVIAL not built"
fi

# --- 6. delivery events: clients to mxcached through the event rings ------------
EVENTS_N=$([ "$QUICK" = 1 ] && echo 20000 || echo 200000)
if [ -x "$BUILD/tests/tools/stats_post" ] && [ -x "$DAEMON" ]; then
	log "[6/6] delivery events: $EVENTS_N per client, 1 and 4 client processes"
	t=$(now_ns)
	run_job_out "$OUTDIR/events.csv" bash "$(dirname "$0")/bench_events.sh" "$BUILD" "$EVENTS_N"
	rc=$?
	[ $rc -eq 0 ] || broken "bench_events.sh exited with status $rc (figures it wrote are kept)"
	cat "$OUTDIR/events.csv" >> "$RESULTS"
	row run - - "$MODE" events wall "$(ms_since "$t")" ms
else
	notrun="$notrun events"
	log "[6/6] skipping delivery events: $BUILD/tests/tools/stats_post not built"
fi

# --- 7. instructions per lookup: callgrind, a figure the machine's load cannot move
if [ -x "$OUTDIR/bench_insns" ]; then
	log "[7/7] instructions per lookup: callgrind over $OUTDIR/bench_insns (1,000 overrides)"
	t=$(now_ns)
	run_job_out "$OUTDIR/insns.csv" bash "$(dirname "$0")/bench_insns.sh" "$BUILD"
	rc=$?
	[ $rc -eq 0 ] || broken "bench_insns.sh exited with status $rc (figures it wrote are kept)"
	cat "$OUTDIR/insns.csv" >> "$RESULTS"
	row run - - "$MODE" insns wall "$(ms_since "$t")" ms
else
	notrun="$notrun insns"
	log "[7/7] skipping instructions per lookup: $OUTDIR/bench_insns not built"
fi

# --- the plot -------------------------------------------------------------------
# lookup.dat: one line per size, the median ns of each system for uniformly
# random hits, the floor last ("-": not measured)
PLOT=""
if [ -s "$RESOLVE_CSV" ]; then
	awk -F, '
	function label(n) {
		return n >= 1000000 && n % 1000000 == 0 ? n / 1000000 "M" : n >= 1000 && n % 1000 == 0 ? n / 1000 "k" : n
	}
	NR > 1 && (($2 == "uniform" && $3 == "hit") || $4 == "floor") {
		if (!($1 in seen)) { seen[$1] = 1; sizes[++ns] = $1 }
		if (!($4 in sseen) && $4 != "floor") { sseen[$4] = 1; sys[++nsys] = $4 }
		v[$1, $4] = $5
	}
	END {
		if (!ns)
			exit 1
		sys[++nsys] = "floor"
		printf "entries"
		for (j = 1; j <= nsys; j++)
			printf " %s", sys[j]
		printf "\n"
		for (i = 1; i <= ns; i++) {
			printf "%s", label(sizes[i])
			for (j = 1; j <= nsys; j++)
				printf " %s", ((sizes[i], sys[j]) in v) ? v[sizes[i], sys[j]] : "-"
			printf "\n"
		}
	}' "$RESOLVE_CSV" > "$PLOT_DAT" && PLOT=yes
fi
if [ -z "$PLOT" ]; then
	PLOT="not made: no uniform-hit rows from bench_resolve"
elif ! command -v gnuplot >/dev/null 2>&1; then
	PLOT="not made: gnuplot is not installed (Debian package gnuplot-nox; make bench installs it)"
	log "plot: gnuplot not found, skipping $PLOT_PNG (data in $PLOT_DAT)"
elif [ ! -r "$PLOT_GP" ]; then
	PLOT="not made: $PLOT_GP not found"
	log "plot: $PLOT_GP not found, skipping $PLOT_PNG"
else
	log "plot: gnuplot $PLOT_GP -> $PLOT_PNG"
	sub="$MODE run, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'); floor: one dependent load over region-sized memory"
	ncols=$(head -n 1 "$PLOT_DAT" | wc -w)
	nrows=$(($(wc -l < "$PLOT_DAT") - 1))
	if gnuplot -e "datafile='$PLOT_DAT'; outfile='$PLOT_PNG'; ncols=$ncols; nrows=$nrows; subtitle='$sub'" \
		"$PLOT_GP" 2> "$TMP/gnuplot.err" && [ -s "$PLOT_PNG" ]; then
		PLOT=$PLOT_PNG
	else
		PLOT="not made: gnuplot failed (see above)"
		sed 's/^/  gnuplot: /' "$TMP/gnuplot.err" >&2
		rm -f "$PLOT_PNG"
	fi
fi
row run - - "$MODE" total wall "$(ms_since "$T_ALL")" ms

# --- summary --------------------------------------------------------------------
log "done in $(secs "$(ms_since "$T_ALL")") s; summary follows on stdout"
echo
echo "== mxcache benchmarks ($MODE), $(nproc) CPUs," \
     "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [ -s "$RESOLVE_CSV" ]; then
	echo
	echo "-- lookup latency, ns per lookup (bench_resolve): median/p99/p999 over batches of 64, mean over a long run"
	awk -F, '
	function line(a, b, c, d, e, f, g, h, i, j) {
		printf "  %-8s %-8s %-5s %-10s %10s %9s %9s %9s %9s %10s\n", a, b, c, d, e, f, g, h, i, j
	}
	NR == 1 { line("entries", "keys", "case", "system", "median", "p99", "p999", "mean", "vs_floor", "vs_mxcache"); next }
	$1 != last { if (last != "") print ""; last = $1 }
	{ line($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) }' "$RESOLVE_CSV"
fi

# Everything else comes from results.csv; the tracked ratios are written
# back to it as benchmark "target" rows.
awk -F, -v mode="$MODE" -v import_n="$IMPORT_N" -v trows="$TMP/targets.csv" -v scale_failed="$SCALE_FAILED" '
function fmtn(n) {
	return n >= 1000000 && n % 1000000 == 0 ? n / 1000000 "M" : n >= 1000 && n % 1000 == 0 ? n / 1000 "k" : n
}
function has(b, n, k, c, s, m) { return (b, n, k, c, s, m) in V }
function g(b, n, k, c, s, m) { return V[b, n, k, c, s, m] }
function d(x, fmt) { return x == "" ? "-" : sprintf(fmt, x) }
function add(b, c) {   # params of benchmark b, in the order first seen
	if (!((b, c) in P)) { P[b, c] = 1; plist[b] = plist[b] (plist[b] == "" ? "" : " ") c }
}
# one tracked figure: a line of the summary and a "target" row
function target(label, value, fmt, unit, tgt, n, k, c, s, m) {
	if (value == "") {
		printf "  %-52s = n/a  (target %s%s)\n", label, tgt, why
		return
	}
	printf "  %-52s = " fmt "%s  (target %s)\n", label, value, unit == "ratio" ? "" : " " unit, tgt
	printf "target,%s,%s,%s,%s,%s,%.6g,%s\n", n, k, c, s, m, value, unit > trows
}
function quot(a, b) { return a == "" || b == "" || b + 0 == 0 ? "" : a / b }
NR == 1 { next }
{
	V[$1, $2, $3, $4, $5, $6] = $7
	add($1, $4)
	if ($1 == "resolve" && $3 == "uniform" && $4 == "hit" && $2 + 0 > maxn)
		maxn = $2 + 0
	if ($1 == "resolve" && $3 == "hot1000" && $2 + 0 > hotn)
		hotn = $2 + 0
	if ($1 != "resolve" && $1 != "run" && $1 != "scale_run" && $1 != "import" && $1 != "restart" &&
	    $1 != "sts_lookup" && $1 != "sts_refresh" && $1 != "socketmap" && $1 != "events" &&
	    $1 != "insns")
		sn = $2
	if ($1 == "scale_run" && $6 == "online_cpus")
		cpus = $7 + 0
	if ($1 == "readers_scaling" && $6 == "efficiency") {
		p = substr($4, 3) + 0
		if (p > maxp)
			maxp = p
	}
	if ($1 == "writer_daemon")
		sets = $4
	if ($1 == "socketmap")
		smn = $2
}
END {
	# --- scaling, writer, visibility, memory
	if (plist["readers_scaling"] != "" || plist["memory"] != "" || plist["writer_daemon"] != "") {
		print ""
		printf "-- scaling, writers, visibility, memory (bench_scale, %s entries)\n", fmtn(sn)
	}
	if (plist["readers_scaling"] != "") {
		print ""
		print "  readers scaling: P reader processes, one per CPU, uniformly random hits"
		printf "  %4s %16s %16s %11s %10s\n", "P", "lookups/s", "per reader", "efficiency", "preempted"
		np = split(plist["readers_scaling"], L, " ")
		for (i = 1; i <= np; i++) {
			b = "readers_scaling"; c = L[i]
			printf "  %4s %16s %16s %11s %10s\n", substr(c, 3),
				d(g(b, sn, "uniform", c, "mxcache", "aggregate"), "%.0f"),
				d(g(b, sn, "uniform", c, "mxcache", "per_reader"), "%.0f"),
				d(g(b, sn, "uniform", c, "mxcache", "efficiency"), "%.2f"),
				d(g(b, sn, "uniform", c, "mxcache", "preempted"), "%.0f")
		}
	}
	if (plist["latency_under_writes"] != "") {
		print ""
		print "  reader latency under writer load, ns per lookup (reader and writer on different CPUs)"
		printf "  %12s %12s %8s %8s %8s %8s %9s %7s\n", "updates/s", "achieved", "p50", "p99", "p999",
			"mean", "p99/idle", "errors"
		np = split(plist["latency_under_writes"], L, " ")
		for (i = 1; i <= np; i++) {
			b = "latency_under_writes"; c = L[i]
			printf "  %12s %12s %8s %8s %8s %8s %9s %7s\n", substr(c, 6),
				d(g(b, sn, "uniform", c, "mxcache", "achieved_rate"), "%.0f"),
				d(g(b, sn, "uniform", c, "mxcache", "p50"), "%.1f"),
				d(g(b, sn, "uniform", c, "mxcache", "p99"), "%.1f"),
				d(g(b, sn, "uniform", c, "mxcache", "p999"), "%.1f"),
				d(g(b, sn, "uniform", c, "mxcache", "mean"), "%.1f"),
				d(g(b, sn, "uniform", c, "mxcache", "p99_vs_idle"), "%.2f"),
				d(g(b, sn, "uniform", c, "mxcache", "lookup_errors"), "%.0f")
		}
	}
	if (plist["writer_inprocess"] != "") {
		print ""
		print "  writer in-process (region_put + region_publish, no readers)"
		printf "  %14s %14s %12s\n", "publish every", "updates/s", "ns/update"
		np = split(plist["writer_inprocess"], L, " ")
		for (i = 1; i <= np; i++) {
			b = "writer_inprocess"; c = L[i]
			printf "  %14s %14s %12s\n", substr(c, 15),
				d(g(b, sn, "-", c, "mxcache", "rate"), "%.0f"),
				d(g(b, sn, "-", c, "mxcache", "per_update"), "%.1f")
		}
	}
	if (sets != "") {
		b = "writer_daemon"; c = sets
		print ""
		printf "  writer through mxcached: %s SETs on ctl.sock, one at a time, each waiting for its OK\n",
			substr(c, 6)
		printf "  %-42s %10s\n", "acknowledged changes/s", d(g(b, sn, "-", c, "mxcached", "ack_rate"), "%.1f")
		printf "  %-42s %10s %10s %10s\n", "round trip p50 / p99 / max (us)",
			d(g(b, sn, "-", c, "mxcached", "rtt_p50"), "%.1f"),
			d(g(b, sn, "-", c, "mxcached", "rtt_p99"), "%.1f"),
			d(g(b, sn, "-", c, "mxcached", "rtt_max"), "%.1f")
		printf "  %-42s %10s %10s %10s\n", "visibility p50 / p99 / max (us)",
			d(g(b, sn, "-", c, "mxcached", "visibility_p50"), "%.1f"),
			d(g(b, sn, "-", c, "mxcached", "visibility_p99"), "%.1f"),
			d(g(b, sn, "-", c, "mxcached", "visibility_max"), "%.1f")
		x = g(b, sn, "-", c, "mxcached", "visible_before_ack")
		printf "  %-42s %10s\n", "visible before the OK was read (%)", x == "" ? "-" : sprintf("%.1f", 100 * x)
		printf "  %-42s %10s %10s %10s\n", "late / reader off CPU / late anyway",
			d(g(b, sn, "-", c, "mxcached", "late"), "%.0f"),
			d(g(b, sn, "-", c, "mxcached", "late_reader_off_cpu"), "%.0f"),
			d(g(b, sn, "-", c, "mxcached", "late_without_time_away"), "%.0f")
		printf "  %-42s %10s\n", "changes the reader never saw",
			d(g(b, sn, "-", c, "mxcached", "unseen"), "%.0f")
	}
	if (plist["memory"] != "") {
		b = "memory"
		print ""
		if (has(b, sn, "-", "after_updates", "mxcache", "entries"))
			printf "  %-40s %14s %14s\n", "memory per entry (bytes)", "fresh", "after updates"
		else
			printf "  %-40s %14s\n", "memory per entry (bytes)", "fresh"
		split("arena_used_per_entry file_size_per_entry file_allocated_per_entry raw_key_target_per_entry " \
		      "arena_used_vs_raw file_size_vs_raw file_allocated_vs_raw", M, " ")
		split("arena in use|file size|file pages allocated|raw key + target|" \
		      "arena / raw|file size / raw|file pages allocated / raw", T, "|")
		for (i = 1; i <= 7; i++) {
			f = i <= 4 ? "%.1f" : "%.2f"
			a = g(b, sn, "-", "fresh", "mxcache", M[i])
			u = g(b, sn, "-", "after_updates", "mxcache", M[i])
			if (u == "")
				printf "  %-40s %14s\n", T[i], d(a, f)
			else
				printf "  %-40s %14s %14s\n", T[i], d(a, f), d(u, f)
		}
	}

	# --- import and restart
	if (plist["import"] != "" || plist["restart"] != "") {
		n = import_n
		print ""
		printf "-- import and restart through mxcached, %s overrides\n", fmtn(n)
		w = g("import", n, "-", "csv", "mxcached", "wall")
		if (w != "")
			printf "  %-42s %10.3f s  (%s lines/s)\n", "import (shmctl override import, wall)", w / 1000,
				g("import", n, "-", "csv", "mxcached", "rate")
		x = g("import", n, "-", "csv", "mxcached", "region_size")
		if (x != "")
			printf "  %-42s %10.1f MiB\n", "region size", x / 1048576
		x = g("import", n, "-", "csv", "mxcached", "sqlite_size")
		if (x != "")
			printf "  %-42s %10.1f MiB\n", "SQLite files", x / 1048576
		x = g("restart", n, "-", "sigterm", "mxcached", "stop")
		if (x != "")
			printf "  %-42s %10.3f s\n", "stop (SIGTERM to exit)", x / 1000
		x = g("restart", n, "-", "start", "mxcached", "rebuild")
		if (x != "")
			printf "  %-42s %10.3f s\n", "restart: rebuild (the daemon'"'"'s log)", x / 1000
		x = g("restart", n, "-", "start", "mxcached", "live")
		if (x != "")
			printf "  %-42s %10.3f s\n", "restart: until status shows it live", x / 1000
	}

	# --- targets
	print ""
	print "-- targets: ratios from this run next to the project'"'"'s targets (reported, not judged)"
	n = maxn
	at1m = n == 1000000 ? "" : ", set for 1M"
	if (n == 0)
		printf "  %-50s = n/a  (no uniform-hit rows from bench_resolve)\n", "1M uniform hit ratios"
	else {
		lbl = fmtn(n) " uniform hit: "
		mx = g("resolve", n, "uniform", "hit", "mxcache", "median")
		target(lbl "mxcache / floor", quot(mx, g("resolve", n, "-", "-", "floor", "median")), "%.2f", "ratio",
			"≤ 1.3" at1m, n, "uniform", "hit", "mxcache/floor", "median_ratio")
		split("lmdb sqlite rculfhash ck_hs", S, " ")
		split("LMDB SQLite rculfhash ck_hs", SL, " ")
		split("5 15 3 3", TG, " ")
		for (i = 1; i <= 4; i++)
			target(lbl SL[i] " / mxcache", quot(g("resolve", n, "uniform", "hit", S[i], "median"), mx),
				"%.2f", "ratio", "≥ " TG[i] at1m, n, "uniform", "hit", S[i] "/mxcache", "median_ratio")
	}
	if (hotn)
		target(fmtn(hotn) " hot1000 hit: mxcache / plain",
			quot(g("resolve", hotn, "hot1000", "hit", "mxcache", "median"),
			     g("resolve", hotn, "hot1000", "hit", "plain", "median")), "%.2f", "ratio",
			"≤ 1.2", hotn, "hot1000", "hit", "mxcache/plain", "median_ratio")
	else
		target("hot1000 hit: mxcache / plain", "", "", "", "≤ 1.2; bench_resolve has hot1000 at 1M entries only" \
			(mode == "quick" ? ", not in a quick run" : ""))
	snl = sn == "" ? "" : ", " fmtn(sn) " entries"
	# a scaling figure missing: say why, if known
	why = scale_failed ? "; bench_scale failed before measuring it" : ""
	target("p99 at 100k updates/s / idle p99" snl,
		quot(g("latency_under_writes", sn, "uniform", "rate=100000", "mxcache", "p99"),
		     g("latency_under_writes", sn, "uniform", "rate=0", "mxcache", "p99")), "%.2f", "ratio",
		"≤ 1.5", sn, "uniform", "rate=100000", "mxcache", "p99_vs_idle")
	pn = cpus && has("readers_scaling", sn, "uniform", "P=" cpus, "mxcache", "efficiency") ? cpus : maxp
	target("scaling efficiency at P=" (pn ? pn : "N") \
		(cpus ? (pn == cpus ? " (all CPUs)" : " (of " cpus " CPUs)") : "") snl,
		pn ? g("readers_scaling", sn, "uniform", "P=" pn, "mxcache", "efficiency") : "", "%.2f", "ratio",
		"≥ 0.9", sn, "uniform", "P=" pn, "mxcache", "efficiency")
	x = g("writer_daemon", sn, "-", sets, "mxcached", "visibility_p99")
	target("visibility p99 of an acknowledged SET", x, "%.1f", "us",
		"< 1 ms = 1000 us" (x != "" && x < 0 ? "; negative: visible before the OK was read" : ""),
		sn, "-", sets == "" ? "-" : sets, "mxcached", "visibility_p99")
	a = g("memory", sn, "-", "fresh", "mxcache", "file_allocated_vs_raw")
	u = g("memory", sn, "-", "after_updates", "mxcache", "file_allocated_vs_raw")
	target("region bytes/entry / raw key+target" snl, a, "%.2f", "ratio",
		"≤ 2; tmpfs pages allocated, fresh" (u == "" ? "" : sprintf("; %.2f after updates", u)),
		sn, "-", "fresh", "mxcache", "file_allocated_vs_raw")
	why = ""
	x = g("insns", 1000, "uniform", "hit", "mxcache", "per_lookup")
	target("instructions per hit, 1k overrides (callgrind)", x, "%.0f", "instructions",
		"≤ 350 with SipHash", 1000, "uniform", "hit", "mxcache", "insns_per_lookup")
	x = g("restart", import_n, "-", "start", "mxcached", "rebuild")
	target("rebuild at " fmtn(import_n) " (the daemon'"'"'s log)", x == "" ? "" : x / 1000, "%.3f", "s",
		"< 2 s" (import_n == 1000000 ? "" : ", set for 1M"), import_n, "-", "start", "mxcached", "rebuild")
	nsk = split("transport mtasts", SK, " ")
	for (i = 1; i <= nsk; i++)
		if (smn != "")
			target("socketmap " SK[i] ", 100 deep: rate / trivial server",
				quot(g("socketmap", smn, "uniform", SK[i], "socketmap_pipelined100/1", "rate"),
				     g("socketmap", smn, "uniform", SK[i], "trivial_pipelined100/1", "rate")), "%.2f", "ratio",
				"≥ 0.8", smn, "uniform", SK[i], "socketmap_pipelined100/trivial", "rate_ratio")
}' "$RESULTS"
[ -s "$TMP/targets.csv" ] && cat "$TMP/targets.csv" >> "$RESULTS"

# MTA-STS, from results.csv
awk -F, '
$1 == "sts_lookup" && $6 == "median" { med[$4 "," $5] = $7; n = $2 }
$1 == "sts_lookup" && $6 == "p99" { p99[$4 "," $5] = $7 }
$1 == "sts_refresh" { v[$4, $6, ++k[$4, $6]] = $7; rn = $2 }
END {
	if (n == "" && rn == "")
		exit
	print ""
	print "-- MTA-STS"
	if (n != "") {
		printf "  lookups at %d cached policies, ns per lookup (median / p99):\n", n
		printf "    %-34s %8.1f / %8.1f\n", "mxc_sts_get + mxc_sts_match", med["get+match,mxcache"], p99["get+match,mxcache"]
		printf "    %-34s %8.1f / %8.1f\n", "mxc_sts_get alone", med["get,mxcache"], p99["get,mxcache"]
		printf "    %-34s %8.1f / %8.1f  (%.1fx mxcache)\n", "SQLite SELECT + the same match", med["get+match,sqlite"],
			p99["get+match,sqlite"], med["get+match,sqlite"] / med["get+match,mxcache"]
	}
	for (i = 1; ("fetch", "wall", i) in v; i++)
		printf "  refresh of %d policies, %s workers: %6.2f s with the policy fetched (%.0f/s), %6.2f s with the id unchanged (%.0f/s)\n",
			rn, v["fetch", "workers", i], v["fetch", "wall", i] / 1000, rn * 1000 / v["fetch", "wall", i],
			v["unchanged", "wall", i] / 1000, rn * 1000 / v["unchanged", "wall", i]
}' "$RESULTS"

# socketmap, from results.csv
awk -F, '
$1 == "socketmap" { v[$4, $5, $6] = $7; n = $2; if (!($4 in seen)) { seen[$4] = 1; kinds[++nk] = $4 } }
function f(x, fmt) { return x == "" ? "-" : sprintf(fmt, x) }
# shown: the kind, on its first line only
function line(shown, k, label, sys) {
	printf "  %-11s %-33s %10s / %10s %12s/s\n", shown, label, f(v[k, sys, "p50"], "%.1f"), f(v[k, sys, "p99"], "%.1f"),
		f(v[k, sys, "rate"], "%.0f")
}
# one socketmap mode and the trivial server in the same mode, with the
# rate of one over the other
function pair(k, label, sys, tsys,    a, b) {
	if (!((k, sys, "rate") in v))
		return
	line("", k, "socketmap, " label, sys)
	if (!((k, tsys, "rate") in v))
		return
	line("", k, "trivial server, " label, tsys)
	a = v[k, sys, "rate"]; b = v[k, tsys, "rate"]
	printf "  %-11s %-33s %10s\n", "", "  rate mxcache / trivial", (b + 0 > 0 ? sprintf("%.2fx", a / b) : "-")
}
END {
	if (nk == 0)
		exit
	print ""
	printf "-- socketmap: requests to mxcache-socketmap on a unix socket, %s overrides and %s policies, uniform keys\n", n, n
	print "  next to the trivial server (bench/alt/sm_trivial.c: one thread, answers \"OK x\" without a lookup)"
	print "  ns per request p50 / p99 (library: per lookup), requests per second"
	for (i = 1; i <= nk; i++) {
		k = kinds[i]
		lib = v[k, "library/1", "p50"]
		one = v[k, "socketmap/1", "p50"]
		line(k, k, k == "transport" ? "library (mxc_resolve)" : k == "mtasts" ? "library (mxc_sts_get+match)" : k == "mtasts_dane" ? "library (mxc_tls_policy)" : "library", "library/1")
		pair(k, "1 connection", "socketmap/1", "trivial/1")
		pair(k, "32 connections", "socketmap/32", "trivial/32")
		pair(k, "1 conn, 16 deep", "socketmap_pipelined16/1", "trivial_pipelined16/1")
		pair(k, "1 conn, 100 deep", "socketmap_pipelined100/1", "trivial_pipelined100/1")
		# parenthesised: a bare ">" among printf arguments is a redirection
		printf "  %-11s %-33s %10s\n", "", "1 conn p50 / library p50",
			(lib + 0 > 0 && one != "" ? sprintf("%.1fx", one / lib) : "-")
	}
}' "$RESULTS"

awk -F, '
$1 == "first_contact" { v[$4, $6] = $7; n = $2 }
END {
	if (n == "")
		exit
	print ""
	printf "-- first contact: the mtasts map for %s domains never asked about (dnsmasq and an HTTPS policy host on loopback)\n", n
	printf "  %-44s %10s %10s %14s\n", "", "p50 ms", "p99 ms", "with policy"
	printf "  %-44s %10s %10s %10s/%s\n", "miss_wait_ms = 3000: waits for the check", v["first_contact", "p50"],
		v["first_contact", "p99"], v["first_contact", "with_policy"], n
	printf "  %-44s %10s %10s %10s/%s\n", "the same domains again (cached)", v["hit", "p50"], v["hit", "p99"],
		v["hit", "with_policy"], n
	printf "  %-44s %10s %10s %10s/%s\n", "miss_wait_ms = 0: answers at once", v["no_wait", "p50"],
		v["no_wait", "p99"], v["no_wait", "with_policy"], n
	if (v["hit", "p50"] + 0 > 0)
		printf "  first contact p50 / cached p50: %.0fx\n", v["first_contact", "p50"] / v["hit", "p50"]
}' "$RESULTS"

awk -F, '
$1 == "events" { v[$4, $6] = $7; n = $2 }
END {
	if (n == "")
		exit
	print ""
	print "-- delivery events (mxc_queue_add through the event rings, retrying a full ring; counted exactly)"
	printf "  one client process:    %9d events in %6.2f s = %7d/s\n", v["one_client", "events"], v["one_client", "wall"] / 1000, v["one_client", "rate"]
	printf "  four client processes: %9d events in %6.2f s = %7d/s\n", v["four_clients", "events"], v["four_clients", "wall"] / 1000, v["four_clients", "rate"]
	printf "  one client flat out without retrying: %d posted, %d dropped, every drop counted\n", v["no_retry", "posted"], v["no_retry", "dropped"]
}' "$RESULTS"

awk -F, '
$1 == "insns" { v[$4, $6] = $7; n = $2 }
END {
	if (n == "")
		exit
	print ""
	printf "-- instructions per lookup (callgrind, mxc_resolve on %s overrides; (count at N - count at 0) / N)\n", n
	printf "  %-6s %10s %10s %10s %10s %13s %10s\n", "case", "total", "normalise", "siphash", "table", "read_section", "rest"
	for (i = 1; i <= 2; i++) {
		c = i == 1 ? "hit" : "miss"
		printf "  %-6s %10s %10s %10s %10s %13s %10s\n", c, v[c, "per_lookup"], v[c, "normalise"],
			v[c, "siphash"], v[c, "table"], v[c, "read_section"], v[c, "rest"]
	}
}' "$RESULTS"

[ -n "$notrun" ] && echo && echo "not run:$notrun"
[ -n "$notes" ] && echo && echo "failures (see the progress above):$notes"
echo
echo "results: $RESULTS (every figure), plot: $PLOT"
echo "times: $(awk -F, '$1 == "run" && $6 == "wall" { printf "%s%s %.1f s", sep, $5, $7 / 1000; sep = ", " }' "$RESULTS"
)"
exit $failed
