#!/usr/bin/env bash
# tools/bench_insns.sh BUILD_DIR [N] - instructions per lookup, counted by
# callgrind: a regression figure that does not move with the machine's
# load.  BUILD/bench/bench_insns builds a region of 1,000 overrides in
# process and runs N mxc_resolve() hits, or N misses, in insns_loop;
# callgrind counts only inside that function (--toggle-collect), so the
# set-up and the writer's threads are not counted.  Each case runs with N
# and with N = 0 (the loop's fixed cost), and the difference over N is
# instructions per lookup.  N defaults to INSNS_N.
#
# The same runs' counts split by where the instructions are (source file
# of the inlined code, callgrind_annotate's file:function, self cost):
#   normalise     shm/key*.c and shm/key*.h, mxk_* functions, libc's strlen
#   siphash       shm/siphash.h
#   table         shm/tab*.h, libc's memcmp (the key comparison), and the
#                 table reader callbacks' (*_read) lines of client/internal.h
#                 and of the atomics headers (find_key, the index word)
#   read_section  client/slots.c, shm/rcu.h, map_root/map_live/
#                 map_maintain, pthread_getspecific, and the rest of
#                 client/internal.h and of the atomics headers (with_read,
#                 read_end, view_of)
#   rest          all else: the API glue, decoding and copying the answer
#
# CSV rows in make bench's layout on stdout:
#   insns,1000,uniform,<hit|miss>,mxcache,<per_lookup|part>,<value>,instructions
# Exit status 1 if valgrind is missing or a run failed.
set -u
BUILD=${1:?usage: tools/bench_insns.sh BUILD_DIR [N]}
cd "$(dirname "$0")/.." || exit 1
INSNS_N=20000      # lookups per case: enough that the loop's fixed cost vanishes
N=${2:-$INSNS_N}
case $BUILD in /*) PROG=$BUILD/bench/bench_insns ;; *) PROG=$PWD/$BUILD/bench/bench_insns ;; esac
ENTRIES=1000       # bench_insns's INSNS_ENTRIES
log() { echo "bench_insns: $*" >&2; }

if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
	log "valgrind (callgrind) is not installed"
	exit 1
fi
[ -x "$PROG" ] || { log "$PROG not built"; exit 1; }
TMP=$(mktemp -d /tmp/mxc-insns.XXXXXX) || exit 1
trap 'rm -rf "$TMP"' EXIT

# count CASE N: the counted total and the split, as "part value" lines
count() {
	local out=$TMP/cg.$1.$2
	valgrind --tool=callgrind --toggle-collect=insns_loop --callgrind-out-file="$out" \
		"$PROG" "$1" "$2" >"$TMP/log" 2>&1 || { log "$1 $2 failed:"; cat "$TMP/log" >&2; return 1; }
	callgrind_annotate --threshold=100 "$out" 2>/dev/null | awk '
	/PROGRAM TOTALS/ { gsub(/,/, "", $1); total = $1; next }
	/^ *[0-9,]+ +\( *[0-9.]+%\) +[^ ]+:[^ ]+/ {
		v = $1; gsub(/,/, "", v)
		loc = $0
		sub(/^.*%\) +/, "", loc); sub(/ .*$/, "", loc)
		i = match(loc, /:[^:]*$/)
		file = substr(loc, 1, i - 1); fn = substr(loc, i + 1)
		sub(/@@.*/, "", fn)
		if (file ~ /shm\/key[^\/]*\.[ch]$/ || fn ~ /^mxk_/ || fn ~ /^__strn?len/)
			p = "normalise"
		else if (file ~ /shm\/siphash\.h$/)
			p = "siphash"
		else if (file ~ /shm\/tab[^\/]*\.h$/ || fn ~ /^__memcmp/)
			p = "table"
		else if (file ~ /(client\/internal\.h|ck_pr\.h|shm\/atomic\.h|shm\/rcu\.h)$/)
			p = fn ~ /_read$/ ? "table" : "read_section"
		else if (file ~ /client\/slots\.c$/ || fn ~ /^(map_root|map_live|map_maintain|pthread_getspecific)$/)
			p = "read_section"
		else
			p = "rest"
		part[p] += v
	}
	END {
		print "total", total + 0
		n = split("normalise siphash table read_section rest", P, " ")
		for (k = 1; k <= n; k++)
			print P[k], part[P[k]] + 0
	}'
}

rc=0
for c in hit miss; do
	if ! count "$c" "$N" >"$TMP/n" || ! count "$c" 0 >"$TMP/z"; then
		rc=1
		continue
	fi
	# (count at N - count at 0) / N, per part; the total is per_lookup
	awk -v n="$N" -v c="$c" -v ents="$ENTRIES" '
	FNR == NR { z[$1] = $2; next }
	{
		m = $1 == "total" ? "per_lookup" : $1
		printf "insns,%s,uniform,%s,mxcache,%s,%.1f,instructions\n", ents, c, m, ($2 - z[$1]) / n
	}' "$TMP/z" "$TMP/n"
done
exit $rc
