#!/usr/bin/env bash
# test_cli - a real mxcached in a temporary directory, driven with shmctl:
# the override commands and their exit codes, import, persistence across
# a clean stop and a kill -9, answers while the daemon is down.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

new_dir D
expect_rc 3 "shmctl before any daemon: region unavailable (3)" "$SHMCTL" -d "$D" resolve example.org
check "mxcached starts" daemon_start "$D"
expect_rc 1 "a second mxcached on the same directory is refused" "$MXCACHED" -d "$D" -f

# --- the tour from the README ---
expect_rc 0 "override set" "$SHMCTL" -d "$D" override set example.org 10.9.8.7 "migration"
expect_out "10.9.8.7" "resolve in another spelling" "$SHMCTL" -d "$D" resolve EXAMPLE.org.
expect_out "1.1.1.1" "resolve an IP literal without override" "$SHMCTL" -d "$D" resolve "[1.1.1.1]"
expect_rc 1 "resolve a domain without override: exit 1" "$SHMCTL" -d "$D" resolve unknown.example
expect_rc 0 "status" "$SHMCTL" -d "$D" status
check "status says live and running" grep -q "running" /tmp/t.out.$$

# --- keys and targets ---
expect_rc 0 "IP-literal key" "$SHMCTL" -d "$D" override set "[1.1.1.1]" 2.2.2.2 "ip override"
expect_out "2.2.2.2" "bare spelling finds the bracketed key" "$SHMCTL" -d "$D" resolve 1.1.1.1
expect_rc 0 "IPv6 key" "$SHMCTL" -d "$D" override set "[IPv6:2001:DB8:0:0::1]" mx.example.net
expect_out "mx.example.net" "IPv6 key in RFC 5952 form" "$SHMCTL" -d "$D" resolve 2001:db8::1
expect_rc 4 "bad key refused" "$SHMCTL" -d "$D" override set "bad..key" 10.0.0.1
check "bad key message names the key" grep -q "bad..key" /tmp/t.err.$$
expect_rc 4 "bad target refused" "$SHMCTL" -d "$D" override set example.net "not a host!"
expect_rc 4 "resolve of a malformed key: exit 4" "$SHMCTL" -d "$D" resolve "no spaces.example"
expect_rc 2 "usage error: exit 2" "$SHMCTL" -d "$D" override set onlykey
expect_rc 2 "unknown command: exit 2" "$SHMCTL" -d "$D" frobnicate
expect_rc 2 "a mistyped command: exit 2" "$SHMCTL" -d "$D" overide list
check "  suggesting the nearest" grep -q "unknown command 'overide' (did you mean 'override'?)" /tmp/t.err.$$
expect_rc 2 "an unknown subcommand: exit 2" "$SHMCTL" -d "$D" override sett a b
check "  named, with the nearest" grep -q "override: unknown subcommand 'sett' (did you mean 'set'?)" /tmp/t.err.$$
check "  and the valid ones listed" grep -q "override takes get, list, export, set, del, import" /tmp/t.err.$$
check "  each with its usage" grep -q "^  override import FILE" /tmp/t.err.$$
expect_rc 2 "a missing subcommand: exit 2" "$SHMCTL" -d "$D" federation rule
check "  says so and lists the third words" grep -q "federation rule: subcommand missing" /tmp/t.err.$$
check "  (add, del, flush, list)" grep -q "federation rule takes list, add, del, flush" /tmp/t.err.$$
expect_rc 2 "wrong number of arguments: exit 2" "$SHMCTL" -d "$D" federation rule add
check "  with the command's usage" grep -q "usage: shmctl \[-d DIR\] federation rule add DOMAIN" /tmp/t.err.$$
expect_rc 2 "--sort where it is not offered" "$SHMCTL" -d "$D" status --sort queued
expect_rc 2 "--verbose where it is not offered" "$SHMCTL" -d "$D" override list --verbose

expect_rc 0 "override get" "$SHMCTL" -d "$D" override get EXAMPLE.ORG
check "get shows the comment" grep -q migration /tmp/t.out.$$
expect_rc 0 "override get --json" "$SHMCTL" -d "$D" override get example.org --json
check "get --json is JSON with the target" python3 -c "import json,sys; d=json.load(open('/tmp/t.out.$$')); assert d['target']=='10.9.8.7', d"
expect_rc 1 "override get of an absent key: exit 1" "$SHMCTL" -d "$D" override get nothing.example
expect_rc 0 "resolve-mx" "$SHMCTL" -d "$D" resolve-mx example.org
check "resolve-mx shows preference 0 and the target" grep -q "0 10.9.8.7" /tmp/t.out.$$
expect_rc 1 "resolve-mx without override: exit 1" "$SHMCTL" -d "$D" resolve-mx unknown.example

expect_rc 0 "override list --json" "$SHMCTL" -d "$D" override list --json
check "list has the three overrides" python3 -c "import json; assert len(json.load(open('/tmp/t.out.$$')))==3"
expect_rc 0 "override del" "$SHMCTL" -d "$D" override del "[IPv6:2001:db8::1]"
expect_rc 1 "override del again: exit 1" "$SHMCTL" -d "$D" override del 2001:db8::1
expect_rc 0 "readers --json" "$SHMCTL" -d "$D" readers --json
expect_rc 0 "status --json" "$SHMCTL" -d "$D" status --json
check "status --json counts 2 overrides" python3 -c "import json; d=json.load(open('/tmp/t.out.$$')); assert d['overrides']==2, d"

# --- status says which tmpfs files are DIR's: every name under its prefix
PAT=$(region_files "$D")
PREFIX=${PAT%\*}
touch "${PREFIX}data.leftover"
expect_rc 0 "status" "$SHMCTL" -d "$D" status
check "status names the prefix of DIR's tmpfs files" grep -qF "tmpfs files:    3 named $PAT, after DIR's device and inode" /tmp/t.out.$$
for f in data data.leftover readers; do
	check "  and lists ${PREFIX}$f by full path" grep -qxF "                ${PREFIX}$f" /tmp/t.out.$$
done
expect_rc 0 "status --json" "$SHMCTL" -d "$D" status --json
check "  tmpfs_prefix and tmpfs_files, sorted" python3 -c "
import json,sys; d=json.load(open('/tmp/t.out.$$')); p=sys.argv[1]
assert d['tmpfs_prefix']==p and d['tmpfs_files']==[p+'data', p+'data.leftover', p+'readers'], d
assert d['tmpfs_files_not_listed']==0 and d['data_path']==p+'data', d" "$PREFIX"
rm -f "${PREFIX}data.leftover"

# --- status --verbose says what its jargon means, line by line
expect_rc 0 "status --verbose" "$SHMCTL" -d "$D" status --verbose
for w in incarnation epoch arena generation; do
	check "  explains the $w line, right under it" \
		sh -c "grep -A1 '^$w:' /tmp/t.out.$$ | tail -1 | grep -q '^                # '"
done
check "  limbo in words" grep -q "limbo (freed, held until no running lookup can see them)" /tmp/t.out.$$
expect_rc 0 "status without --verbose" "$SHMCTL" -d "$D" status
check "  has no explanations" sh -c "! grep -q '^ *# ' /tmp/t.out.$$"
expect_rc 0 "verify" "$SHMCTL" -d "$D" verify

# --- import: good lines kept, bad lines reported by number ---
CSV=$D/import.csv
{
	echo "key,target,comment"
	for i in $(seq 1 2000); do echo "host$i.import.test,10.1.$((i / 256)).$((i % 256)),bulk"; done
	echo 'quoted.import.test,mx.example.net,"a comment, with a comma and ""quotes"""'
	echo "bad key.import.test,10.0.0.1,"
	echo "target.import.test,not a host,"
	echo "# a comment line"
	echo ""
	echo "last.import.test,[10.0.0.9]"
	# a quote never closed makes the rest of the file one record: last
	echo '"unbalanced.import.test,10.0.0.1'
} >"$CSV"
expect_rc 4 "import with bad lines: exit 4, good lines kept" "$SHMCTL" -d "$D" override import "$CSV"
check "bad key reported with its line number" grep -q "import.csv:2003" /tmp/t.err.$$
check "bad target reported with its line number" grep -q "import.csv:2004" /tmp/t.err.$$
check "unbalanced quote reported with its line number" grep -q "import.csv:2008: unterminated" /tmp/t.err.$$
expect_out "10.1.7.208" "an imported override resolves" "$SHMCTL" -d "$D" resolve host2000.import.test
expect_out "10.0.0.9" "the last line, after blank and comment lines" "$SHMCTL" -d "$D" resolve last.import.test
expect_rc 0 "quoted comment imported" "$SHMCTL" -d "$D" override get quoted.import.test --json
check "quoted comment kept whole" python3 -c "import json; d=json.load(open('/tmp/t.out.$$')); assert d['comment']=='a comment, with a comma and \"quotes\"', d"
expect_rc 0 "status after import" "$SHMCTL" -d "$D" status --json
check "2 + 2002 overrides" python3 -c "import json; d=json.load(open('/tmp/t.out.$$')); assert d['overrides']==2004, d"

# --- a clean stop: clients keep answering, status says the writer is gone ---
check "SIGTERM stops mxcached with exit 0" daemon_stop "$D" TERM
expect_out "10.9.8.7" "resolve while the daemon is down" "$SHMCTL" -d "$D" resolve example.org
expect_rc 3 "status while the daemon is down: exit 3" "$SHMCTL" -d "$D" status
check "status says the writer is gone" grep -qi "gone" /tmp/t.out.$$
expect_rc 3 "a change while the daemon is down: exit 3" "$SHMCTL" -d "$D" override set x.example 10.0.0.1
check "the database is there" test -s "$D/mxcache.db"

# --- restart rebuilds everything from SQLite ---
check "mxcached restarts" daemon_start "$D"
expect_out "10.1.7.208" "imported override survives the restart" "$SHMCTL" -d "$D" resolve host2000.import.test
expect_out "2.2.2.2" "IP override survives the restart" "$SHMCTL" -d "$D" resolve "[1.1.1.1]"
expect_rc 0 "verify after restart" "$SHMCTL" -d "$D" verify

# --- kill -9: acknowledged changes survive, clients keep answering ---
expect_rc 0 "set before the crash" "$SHMCTL" -d "$D" override set crash.example 10.6.6.6 "acked"
daemon_stop "$D" KILL
expect_out "10.6.6.6" "resolve after kill -9, from the last published region" "$SHMCTL" -d "$D" resolve crash.example
check "mxcached restarts after kill -9" daemon_start "$D"
expect_out "10.6.6.6" "acknowledged change served after restart" "$SHMCTL" -d "$D" resolve crash.example
expect_rc 0 "verify after the crash" "$SHMCTL" -d "$D" verify
check "SIGTERM again" daemon_stop "$D" TERM

# --- who may change what ---
if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
	check "mxcached restarts for the permission checks" daemon_start "$D"
	expect_rc 4 "a stranger cannot even reach ctl.sock (permission denied: 4)" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$SHMCTL" -d "$D" override set evil.example 10.6.6.6
	chmod 0755 "$D"
	chmod 0666 "$D/ctl.sock"
	expect_rc 4 "a stranger who reaches ctl.sock is refused (EPERM)" setpriv --reuid=65534 --regid=65534 \
		--clear-groups "$SHMCTL" -d "$D" override set evil.example 10.6.6.6
	expect_rc 1 "the stranger's change did not happen" "$SHMCTL" -d "$D" resolve evil.example
	expect_rc 3 "a stranger cannot map the region (0640)" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$SHMCTL" -d "$D" resolve example.org
	daemon_stop "$D" TERM
fi

done_testing
