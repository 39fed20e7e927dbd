#!/usr/bin/env bash
# test_backup - the backup and restore of docs/operating.md, done for real:
#
#   backup:   sqlite3 DIR/mxcache.db ".backup FILE" while mxcached runs
#             and takes changes: a sound database holding every change
#             acknowledged before it, none made after it
#   fresh:    the backup as mxcache.db of a new state directory: mxcached
#             starts on it and serves the overrides and the federation
#             policy; the region verifies
#   in place: the daemon stopped, its mxcache.db replaced by the backup:
#             the next start serves the backup, the later change is gone
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

new_dir D
new_dir B               # where the backup goes
check "mxcached starts" daemon_start "$D"
expect_rc 0 "an override" "$SHMCTL" -d "$D" override set example.org 10.9.8.7 'moved, see "ticket 42"'
expect_rc 0 "another" "$SHMCTL" -d "$D" override set '[192.0.2.1]' mx.example.net
expect_rc 0 "a federation rule" "$SHMCTL" -d "$D" federation rule add bad.example
python3 -c "
for i in range(5000):
    print('bulk%d.example,192.0.2.%d,bulk' % (i, i % 250 + 1))" >"$B/bulk.csv"
expect_rc 0 "5,000 more by import" "$SHMCTL" -d "$D" override import "$B/bulk.csv"

# an import keeps the writer busy while the backup reads
python3 -c "
for i in range(20000):
    print('busy%d.example,192.0.2.9,' % i)" >"$B/busy.csv"
"$SHMCTL" -d "$D" override import "$B/busy.csv" >/dev/null 2>&1 &
T_BG+=($!)
expect_rc 0 "backup of the running daemon's store: sqlite3 .backup" \
	sqlite3 "$D/mxcache.db" ".backup '$B/mxcache.db'"
bg_stop
expect_out "ok" "the backup is a sound database" sqlite3 "$B/mxcache.db" "PRAGMA integrity_check"
expect_rc 0 "a change after the backup" "$SHMCTL" -d "$D" override set later.example 192.0.2.99
check "mxcached stops" daemon_stop "$D"

# --- restore into a fresh state directory
new_dir R
check "the backup copied in as R/mxcache.db" install -m 0640 "$B/mxcache.db" "$R/mxcache.db"
check "mxcached starts on it" daemon_start "$R"
expect_out "10.9.8.7" "the override is there" "$SHMCTL" -d "$R" resolve example.org
expect_rc 0 "  with its comment" sh -c "'$SHMCTL' -d '$R' override get example.org | grep -q 'moved, see \"ticket 42\"'"
expect_out "mx.example.net" "the IP-literal override too" "$SHMCTL" -d "$R" resolve '[192.0.2.1]'
expect_out "192.0.2.250" "the imported ones too" "$SHMCTL" -d "$R" resolve bulk4999.example
expect_rc 1 "the federation rule too (reject)" "$SHMCTL" -d "$R" federation check bad.example
expect_rc 0 "  (a domain without a rule is allowed)" "$SHMCTL" -d "$R" federation check good.example
expect_rc 1 "no change made after the backup" "$SHMCTL" -d "$R" resolve later.example
expect_rc 0 "the region verifies" "$SHMCTL" -d "$R" verify
check "mxcached stops" daemon_stop "$R"

# --- restore in place: the same directory, the daemon stopped
check "mxcached starts on the original" daemon_start "$D"
expect_out "192.0.2.99" "  which has the later change" "$SHMCTL" -d "$D" resolve later.example
check "mxcached stops" daemon_stop "$D"
check "mxcache.db replaced by the backup" install -m 0640 "$B/mxcache.db" "$D/mxcache.db"
check "mxcached starts" daemon_start "$D"
expect_out "10.9.8.7" "the backup is served" "$SHMCTL" -d "$D" resolve example.org
expect_rc 1 "the later change is gone, as the backup is older" "$SHMCTL" -d "$D" resolve later.example
check "mxcached stops" daemon_stop "$D"
done_testing
