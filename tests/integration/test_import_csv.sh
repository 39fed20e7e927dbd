#!/usr/bin/env bash
# test_import_csv - shmctl override import on CSV records that span lines
# (RFC 4180: a quoted field may hold line breaks; the record ends at the
# line break after its closing quote), and override export back to CSV.
#
#   spanning:   a quoted comment opened on one line and closed on the next,
#               with a route-shaped line inside the quotes: neither line
#               becomes an override; the record is reported by the line it
#               starts on, and the records after it keep their numbers
#   EOF:        a quote never closed: the record and everything after it
#               rejected, reported by the line the record starts on
#   too long:   a quoted field running past the record limit, with a route
#               inside it after the limit: rejected whole, the records after
#               its closing quote imported
#   literal:    a quote inside an unquoted field and in a comment line opens
#               nothing
#   round trip: export writes CSV that imports to the same overrides:
#               comments with commas, quotes, percent signs and UTF-8;
#               a comment with a line break is refused before it is stored
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

RECORD_MAX=8192         # bytes in one CSV record (MXS_CTL_LINE_MAX)

# import_says PATTERN - the stderr of the last import (kept by imp) matches (grep -E)
import_says() { grep -qE "$1" "$D/import.err"; }

# imp RC DESC FILE - import FILE into $D expecting exit RC; its stderr kept
imp() {
	expect_rc "$1" "$2" "$SHMCTL" -d "$D" override import "$3"
	cp /tmp/t.err.$$ "$D/import.err"
}

new_dir D
check "mxcached starts" daemon_start "$D"

# --- a quoted field spanning lines smuggles no route ---------------------------
CSV=$D/multi.csv
{
	echo "key,target,comment"
	echo 'multi.test,192.0.2.3,"first line'
	echo 'smuggled.test,203.0.113.66,part of a comment"'
	echo 'after.test,192.0.2.4,plain'
	echo 'bad key.test,192.0.2.5,'
} >"$CSV"
imp 4 "spanning: the import reports a rejected record (exit 4)" "$CSV"
expect_rc 1 "spanning: the line inside the quotes is not an override" "$SHMCTL" -d "$D" resolve smuggled.test
expect_rc 1 "spanning: the record with a line break in its comment is not imported" "$SHMCTL" -d "$D" resolve multi.test
expect_out "192.0.2.4" "spanning: the record after the closing quote is imported" "$SHMCTL" -d "$D" resolve after.test
check "spanning: the record is reported by the line it starts on" import_says "multi.csv:2: "
check "spanning: no error names the line inside the quotes" sh -c "! grep -q 'multi.csv:3:' '$D/import.err'"
check "spanning: records after it keep their line numbers" import_says "multi.csv:5: key 'bad key.test'"

# CRLF line ends, as spreadsheets write them
printf 'key,target,comment\r\ncrlf.test,192.0.2.6,"one\r\nsmuggled2.test,203.0.113.67,two"\r\ncrlf2.test,192.0.2.7,\r\n' >"$D/crlf.csv"
imp 4 "CRLF spanning: a rejected record" "$D/crlf.csv"
expect_rc 1 "CRLF spanning: no route from inside the quotes" "$SHMCTL" -d "$D" resolve smuggled2.test
expect_out "192.0.2.7" "CRLF spanning: the next record is imported" "$SHMCTL" -d "$D" resolve crlf2.test

# --- a quote never closed ---------------------------------------------------------
{
	echo "ok.eof.test,192.0.2.8"
	echo 'stray.eof.test,192.0.2.9,"never closed'
	echo "hidden.eof.test,203.0.113.68,x"
	echo "hidden2.eof.test,203.0.113.69"
} >"$D/eof.csv"
imp 4 "EOF: the import reports the unterminated record" "$D/eof.csv"
expect_out "192.0.2.8" "EOF: the record before it is imported" "$SHMCTL" -d "$D" resolve ok.eof.test
expect_rc 1 "EOF: the record itself is not imported" "$SHMCTL" -d "$D" resolve stray.eof.test
expect_rc 1 "EOF: no line after the open quote is imported" "$SHMCTL" -d "$D" resolve hidden.eof.test
expect_rc 1 "EOF: not the last one either" "$SHMCTL" -d "$D" resolve hidden2.eof.test
check "EOF: reported as unterminated at the line it starts on" import_says "eof.csv:2: unterminated quoted field"

# --- a quoted field past the record limit ------------------------------------------
{
	echo 'long.test,192.0.2.10,"a comment that goes on'
	python3 -c "print('\n'.join(['x' * 60] * $((RECORD_MAX / 60 + 10))))"
	echo 'deep.test,203.0.113.70,inside the quotes past the limit"'
	echo "tail.test,192.0.2.11"
} >"$D/long.csv"
imp 4 "too long: the import reports the record" "$D/long.csv"
expect_rc 1 "too long: the route inside the quotes past the limit is not imported" "$SHMCTL" -d "$D" resolve deep.test
expect_rc 1 "too long: the record itself is not imported" "$SHMCTL" -d "$D" resolve long.test
expect_out "192.0.2.11" "too long: the record after its closing quote is imported" "$SHMCTL" -d "$D" resolve tail.test
check "too long: reported at the line it starts on, with the limit" import_says "long.csv:1: record longer than $RECORD_MAX bytes"

# --- quotes that open nothing --------------------------------------------------------
{
	echo '# a "comment line'
	echo 'lit.test,192.0.2.12,it"s a literal quote'
	echo 'next.test,192.0.2.13'
} >"$D/lit.csv"
imp 0 "literal: the import takes every record" "$D/lit.csv"
expect_out "192.0.2.13" "literal: the record after a literal quote is imported" "$SHMCTL" -d "$D" resolve next.test
expect_rc 0 "literal: override get" "$SHMCTL" -d "$D" override get lit.test --json
check "literal: the comment keeps its quote" python3 -c "import json; d=json.load(open('/tmp/t.out.$$')); assert d['comment']=='it\"s a literal quote', d"

# --- export and import round trip --------------------------------------------------------
expect_rc 0 "round trip: comment with commas and quotes" "$SHMCTL" -d "$D" override set q.rt.test mx.example.net 'say "hi", twice'
expect_rc 0 "round trip: comment with blanks around it" "$SHMCTL" -d "$D" override set b.rt.test 192.0.2.14 '  padded  '
expect_rc 0 "round trip: comment starting with a quote" "$SHMCTL" -d "$D" override set s.rt.test 192.0.2.15 '"quoted" start'
expect_rc 0 "round trip: IPv6 key, empty comment" "$SHMCTL" -d "$D" override set "[IPv6:2001:db8::5]" "[192.0.2.16]"
expect_rc 0 "round trip: comment with a percent sign, a comma and quotes" \
	"$SHMCTL" -d "$D" override set p.rt.test 192.0.2.17 '100% "done", see #42'
expect_rc 0 "round trip: comment that is one quote" "$SHMCTL" -d "$D" override set o.rt.test 192.0.2.18 '"'
expect_rc 0 "round trip: comment that is one comma" "$SHMCTL" -d "$D" override set c.rt.test 192.0.2.19 ','
expect_rc 0 "round trip: UTF-8 comment" "$SHMCTL" -d "$D" override set u.rt.test 192.0.2.20 'Größe, naïve'
# a comment is one line: one with a line break is refused at the door, so
# an export never has to carry one
expect_rc 4 "round trip: a comment with a line break is refused" \
	"$SHMCTL" -d "$D" override set n.rt.test 192.0.2.21 $'two\nlines'
check "  saying why" grep -q "comment: control character" /tmp/t.err.$$
expect_rc 1 "  and nothing is stored" "$SHMCTL" -d "$D" resolve n.rt.test
expect_rc 0 "round trip: override export" "$SHMCTL" -d "$D" override export
cp /tmp/t.out.$$ "$D/export.csv"
check "round trip: export starts with the header" test "$(head -1 "$D/export.csv")" = "key,target,comment"
expect_rc 0 "round trip: override list of the source" "$SHMCTL" -d "$D" override list
check "round trip: one line per override, and the header" \
	test "$(wc -l <"$D/export.csv")" -eq "$(($(wc -l </tmp/t.out.$$) + 1))"
expect_rc 0 "round trip: override list --json of the source" "$SHMCTL" -d "$D" override list --json
cp /tmp/t.out.$$ "$D/src.json"
new_dir R
check "round trip: a second mxcached starts" daemon_start "$R"
expect_rc 0 "round trip: the export imports with nothing rejected" "$SHMCTL" -d "$R" override import "$D/export.csv"
expect_rc 0 "round trip: override list --json of the copy" "$SHMCTL" -d "$R" override list --json
cp /tmp/t.out.$$ "$R/dst.json"
check "round trip: same keys, targets and comments" python3 -c "
import json
def rows(p):
    return sorted((o['key'], o['target'], o['comment']) for o in json.load(open(p)))
a, b = rows('$D/src.json'), rows('$R/dst.json')
assert a == b, (a, b)
assert len(a) >= 12, a
"
expect_rc 0 "round trip: export of the copy" "$SHMCTL" -d "$R" override export
cp /tmp/t.out.$$ "$R/again.csv"
check "round trip: the second export is the first, row for row" \
	sh -c "sort '$D/export.csv' >'$D/a.s' && sort '$R/again.csv' >'$R/b.s' && cmp -s '$D/a.s' '$R/b.s'"
# export FILE: the same CSV, written whole under FILE's name or not at all
expect_rc 0 "export FILE: override export to a file" "$SHMCTL" -d "$R" override export "$R/file.csv"
check "export FILE: the file is what stdout got" cmp -s "$R/file.csv" "$R/again.csv"
echo "an older backup" >"$R/keep.csv"
mkdir "$R/ro" && cp "$R/keep.csv" "$R/ro/keep.csv" && chmod 0555 "$R/ro"
if [ "$(id -u)" -ne 0 ]; then
	expect_rc 4 "export FILE: a directory it cannot write is an error" "$SHMCTL" -d "$R" override export "$R/ro/keep.csv"
	check "export FILE: and the older file is left as it was" cmp -s "$R/ro/keep.csv" "$R/keep.csv"
fi
chmod 0755 "$R/ro"
expect_rc 4 "export FILE: a missing directory is an error" "$SHMCTL" -d "$R" override export "$R/none/x.csv"
check "export FILE: no temporary file is left beside FILE" test -z "$(find "$R" -name 'file.csv.*')"
check "SIGTERM" daemon_stop "$R" TERM
check "SIGTERM" daemon_stop "$D" TERM

done_testing
