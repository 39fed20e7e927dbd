#!/usr/bin/env bash
# test_store_identity - DIR/mxcache.db removed or replaced under a running
# mxcached, and started with the database gone but the region populated.
#
#   removed:   rm mxcache.db, then single changes, a delete, an import and
#              a federation rule: each refused with "store: change refused",
#              the open database saved beside it; a restart refuses to
#              publish an empty region over the populated one; the saved
#              copy put back, everything acknowledged is there
#   junk:      mxcache.db replaced by random bytes (a new file renamed over
#              it): refused the same way; the saved copy holds every
#              acknowledged change, no refused one
#   copy:      a good copy renamed over it: refused too (the daemon would
#              write to a file the path no longer names)
#   empty:     a region with no entries and no database: starts as new
#   first:     a fresh DIR, no region, no database: starts as new
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

START_LIMIT_S=20        # a start expected to fail must fail by then

# start_fails DIR - mxcached on DIR expected to refuse: its output in
# $D/start.err, its exit status in START_RC
start_fails() {
	timeout "$START_LIMIT_S" "$MXCACHED" -d "$1" -f >"$1/start.err" 2>&1
	START_RC=$?
}

# err_says PATTERN - the stderr of the last expect_rc matches (grep -E)
err_says() { grep -qE "$1" /tmp/t.err.$$; }

# saved_db DIR - the one copy of the open database mxcached saved in DIR
saved_db() { ls "$1"/mxcache.db.saved-* 2>/dev/null | head -1; }

# rows DB - the override keys in DB, sorted, one a line
rows() { sqlite3 "file:$1?mode=ro" "SELECT key FROM overrides ORDER BY key" 2>/dev/null | tr '\n' ' '; }

# --- first start: no region, no database ------------------------------------
new_dir D
check "first start on a fresh DIR" daemon_start "$D"
check "the database was created" test -s "$D/mxcache.db"
expect_rc 0 "override set before the removal" "$SHMCTL" -d "$D" override set kept.test 192.0.2.1 "before"
expect_rc 0 "federation rule before the removal" "$SHMCTL" -d "$D" federation rule add fed.test

# --- removed under the daemon ------------------------------------------------
rm -f "$D/mxcache.db"
expect_rc 4 "removed: override set refused (exit 4)" "$SHMCTL" -d "$D" override set lost1.test 192.0.2.2
check "removed: the refusal says the change was refused" err_says "store: change refused"
check "removed: the refusal says the database was removed" err_says "mxcache.db was removed"
expect_rc 4 "removed: a second override set refused" "$SHMCTL" -d "$D" override set lost2.test 192.0.2.3
expect_rc 4 "removed: override del refused" "$SHMCTL" -d "$D" override del kept.test
printf 'key,target\nlost3.test,192.0.2.4\nlost4.test,192.0.2.5\n' >"$D/imp.csv"
expect_rc 4 "removed: import refused" "$SHMCTL" -d "$D" override import "$D/imp.csv"
check "removed: the import names the cause" err_says "mxcache.db was removed"
expect_rc 4 "removed: federation rule add refused" "$SHMCTL" -d "$D" federation rule add lost.test
expect_out "192.0.2.1" "removed: clients still get what was acknowledged" "$SHMCTL" -d "$D" resolve kept.test
expect_rc 1 "removed: nothing refused is served" "$SHMCTL" -d "$D" resolve lost1.test
expect_rc 0 "removed: ping still answers" "$SHMCTL" -d "$D" ping
check "removed: the daemon logs what happened" grep -q "store: $D/mxcache.db was removed" "$D/daemon.log"
check "removed: the path was not recreated behind the operator's back" test ! -e "$D/mxcache.db"
SAVED=$(saved_db "$D")
check "removed: the open database was saved beside it" test -n "$SAVED"
expect_out "kept.test " "removed: the saved copy holds the acknowledged override" rows "$SAVED"
check "SIGTERM stops mxcached" daemon_stop "$D" TERM

# --- a restart with the database gone and the region populated -------------
start_fails "$D"
check "missing database, populated region: the start is refused (exit 1)" test "$START_RC" -eq 1
check "the refusal says the database is missing and the region holds entries" \
	grep -qE "store: $D/mxcache.db is missing but the region .* holds [0-9]+ entries" "$D/start.err"
check "no empty database was created" test ! -e "$D/mxcache.db"
expect_out "192.0.2.1" "clients keep the populated region" "$SHMCTL" -d "$D" resolve kept.test
mv "$SAVED" "$D/mxcache.db"
check "the saved copy put back: mxcached starts" daemon_start "$D"
expect_out "192.0.2.1" "the acknowledged override is there" "$SHMCTL" -d "$D" resolve kept.test
expect_rc 1 "no refused override is there" "$SHMCTL" -d "$D" resolve lost1.test
expect_rc 0 "the federation rule is there" "$SHMCTL" -d "$D" federation rule list
check "federation rule list names it" grep -q fed.test /tmp/t.out.$$

# --- replaced by junk ----------------------------------------------------------
expect_rc 0 "override set before the junk" "$SHMCTL" -d "$D" override set kept2.test 192.0.2.6
head -c 65536 /dev/urandom >"$D/junk" && mv "$D/junk" "$D/mxcache.db"
expect_rc 4 "junk: override set refused" "$SHMCTL" -d "$D" override set lost5.test 192.0.2.7
check "junk: the refusal says the database was replaced" err_says "mxcache.db was replaced"
{
	echo "key,target"
	for i in $(seq 1 3000); do echo "bulk$i.junk.test,10.2.$((i / 256)).$((i % 256))"; done
} >"$D/bulk.csv"
expect_rc 4 "junk: a 3000-line import refused" "$SHMCTL" -d "$D" override import "$D/bulk.csv"
expect_rc 1 "junk: nothing of the import is served" "$SHMCTL" -d "$D" resolve bulk1.junk.test
SAVED=$(saved_db "$D")
check "junk: the open database was saved" test -n "$SAVED"
expect_out "kept.test kept2.test " "junk: the saved copy holds exactly the acknowledged overrides" rows "$SAVED"
check "SIGTERM stops mxcached" daemon_stop "$D" TERM
start_fails "$D"
check "junk: the restart refuses the damaged file" grep -q "damaged" "$D/start.err"
mv "$SAVED" "$D/mxcache.db"
rm -f "$D/mxcache.db-wal" "$D/mxcache.db-shm"
check "junk: the saved copy put back, mxcached starts" daemon_start "$D"
expect_out "192.0.2.6" "junk: the override acknowledged before is there" "$SHMCTL" -d "$D" resolve kept2.test

# --- replaced by a good copy -----------------------------------------------------
cp "$D/mxcache.db" "$D/copy.db" && mv "$D/copy.db" "$D/mxcache.db"
expect_rc 4 "copy: override set refused (the path names another file)" "$SHMCTL" -d "$D" override set lost6.test 192.0.2.8
check "copy: the refusal says the database was replaced" err_says "mxcache.db was replaced"
check "SIGTERM stops mxcached" daemon_stop "$D" TERM
rm -f "$D"/mxcache.db.saved-*

# --- an empty region and no database: nothing to lose ----------------------------
new_dir E
check "empty: first start" daemon_start "$E"
expect_rc 0 "empty: set" "$SHMCTL" -d "$E" override set gone.test 192.0.2.9
expect_rc 0 "empty: del" "$SHMCTL" -d "$E" override del gone.test
check "empty: SIGTERM" daemon_stop "$E" TERM
rm -f "$E/mxcache.db" "$E/mxcache.db-wal" "$E/mxcache.db-shm"
check "empty: a region with no entries and no database starts as new" daemon_start "$E"
check "empty: SIGTERM" daemon_stop "$E" TERM

done_testing
