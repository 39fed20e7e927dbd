#!/usr/bin/env bash
# test_man - the manual pages in docs/man: mandoc finds nothing to warn
# about, each renders, and each still covers what the code has: every
# mxc_* function of client/mxcache.h in mxcache.3, every key of
# daemon/config.c's tables in mxcache.conf.5 under its section, every
# shmctl command of `shmctl --help` in shmctl.8, every option of
# `mxcached --help` and `shmctl --help` in their pages.  The checks go
# from the code to the pages: a page may describe more than the code has.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

MAN=${MAN_DIR:-docs/man}   # MAN_DIR: check a copy of the pages instead
PAGES="mxcached.8 shmctl.8 mxcache.3 mxcache.conf.5 mxcache-region.5"

# skip DESC - a TAP skip
skip() {
	T_N=$((T_N + 1))
	echo "ok $T_N - # SKIP $1"
}

for p in $PAGES; do
	check "$p exists" test -s "$MAN/$p"
done

# --- mandoc: lint and render -------------------------------------------------
if command -v mandoc >/dev/null 2>&1; then
	for p in $PAGES; do
		out=$(mandoc -Tlint -W warning "$MAN/$p" 2>&1)
		[ -z "$out" ]
		_result $? "mandoc -Tlint -W warning $p prints nothing"
		[ -z "$out" ] || printf '%s\n' "$out" | head -10 | sed 's/^/#   /'
		words=$(mandoc -Tascii "$MAN/$p" 2>/dev/null | wc -w)
		[ "$words" -gt 100 ]
		_result $? "$p renders with mandoc -Tascii ($words words)"
	done
else
	for p in $PAGES; do
		skip "mandoc missing (lint $p)"
		skip "mandoc missing (render $p)"
	done
fi

# has_item PAGE REGEX - a line of PAGE matches the extended REGEX
has_item() { grep -Eq -- "$2" "$MAN/$1"; }

# --- mxcache.3: every function of the header ---------------------------------
# declarations start a line with their return type: "int mxc_open(",
# "const char *mxc_strerror(", "uint64_t mxc_events_dropped(", ..., or
# with the name itself when the type is on the line before
funcs=$(grep -E '^([a-z][a-z0-9_ ]*[ *])?mxc_[a-z0-9_]+\(' client/mxcache.h | grep -v '^typedef' |
	sed -E 's/^([^(]*[ *])?(mxc_[a-z0-9_]+)\(.*/\2/' | sort -u)
nf=$(printf '%s\n' "$funcs" | grep -c .)
[ "$nf" -ge 20 ]
_result $? "client/mxcache.h declares $nf mxc_* functions (parsed)"
synopsis=$(awk '/^\.Sh / { on = ($2 == "SYNOPSIS") } on' "$MAN/mxcache.3")
missing=""
for f in $funcs; do
	# in the SYNOPSIS (.Fn NAME "args" or .Fo NAME) and in NAME (.Nm NAME)
	printf '%s\n' "$synopsis" | grep -Eq "^\.(Fn $f \"|Fo $f\$)" &&
		has_item mxcache.3 "^\.Nm $f( |\$)" || missing="$missing $f"
done
[ -z "$missing" ]
_result $? "every mxc_* function of mxcache.h is in mxcache.3 (NAME and SYNOPSIS)"
[ -z "$missing" ] || echo "#   missing:$missing"

# --- mxcache.conf.5: every key of config.c, under its section ----------------
# the entries of config_nums[], config_bools[] and config_keys[]:
#   { "section", "name", ...
keys=$(awk '/^static const struct config_(num|bool|key) config_(nums|bools|keys)\[\] = \{/ { t = 1; next }
	t && /^\};/ { t = 0 }
	t && /^[ \t]*\{ *"[a-z_]+", *"[a-z_]+"/ {
		s = $0; sub(/^[ \t]*\{ *"/, "", s); sec = s; sub(/".*/, "", sec)
		sub(/^[a-z_]+", *"/, "", s); key = s; sub(/".*/, "", key)
		print sec "." key
	}' daemon/config.c | sort -u)
nk=$(printf '%s\n' "$keys" | grep -c .)
[ "$nk" -ge 30 ]
_result $? "daemon/config.c's tables hold $nk keys (parsed)"
# the page's keys: ".It Cm KEY" lines under ".Ss [SECTION]" (or "[SECTION]\&")
pagekeys=$(awk '/^\.Ss \[[a-z_]+\]/ { sec = $2; gsub(/[][]|\\&/, "", sec); next }
	/^\.S[sh] / { sec = "" }
	sec != "" && /^\.It Cm [a-z_]+/ { print sec "." $3 }' "$MAN/mxcache.conf.5" | sort -u)
missing=""
for k in $keys; do
	printf '%s\n' "$pagekeys" | grep -qxF "$k" || missing="$missing $k"
done
[ -z "$missing" ]
_result $? "every config key of daemon/config.c is in mxcache.conf.5 under its section"
[ -z "$missing" ] || echo "#   missing:$missing"
# each section of the code has its own subsection in the page
missing=""
for s in $(printf '%s\n' "$keys" | cut -d. -f1 | sort -u); do
	has_item mxcache.conf.5 "^\.Ss \[$s\](\\\\&)?\$" || missing="$missing [$s]"
done
[ -z "$missing" ]
_result $? "every config section has its .Ss in mxcache.conf.5"
[ -z "$missing" ] || echo "#   missing:$missing"

# --- shmctl.8: every command of shmctl --help ----------------------------------
if [ -x "$SHMCTL" ]; then
	help=$("$SHMCTL" --help 2>/dev/null)
	# command lines: two blanks, then a lower-case word (options start with -)
	cmds=$(printf '%s\n' "$help" | sed -nE 's/^  ([a-z][a-z-]*)( .*)?$/\1/p' | sort -u)
	nc=$(printf '%s\n' "$cmds" | grep -c .)
	[ "$nc" -ge 10 ]
	_result $? "shmctl --help lists $nc top-level commands (parsed)"
	missing=""
	for c in $cmds; do
		has_item shmctl.8 "^\.It Cm $c( |\$)" || missing="$missing $c"
	done
	[ -z "$missing" ]
	_result $? "every top-level shmctl command is an item of shmctl.8"
	[ -z "$missing" ] || echo "#   missing:$missing"
	# subcommands: "override set KEY ...", "federation rule add|del ..."
	subs=$(printf '%s\n' "$help" | sed -nE 's/^  ([a-z][a-z-]*) ([a-z][a-z-]*)( .*)?$/\1 \2/p' | sort -u)
	missing=""
	while read -r c s; do
		[ -n "$c" ] || continue
		has_item shmctl.8 "^\.It Cm $c $s( |\$)" || missing="$missing '$c $s'"
	done <<<"$subs"
	[ -z "$missing" ]
	_result $? "every shmctl subcommand is an item of shmctl.8"
	[ -z "$missing" ] || echo "#   missing:$missing"
	# long options: --json, --dir, --help, --sort ...
	missing=""
	for o in $(printf '%s\n' "$help" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
		has_item shmctl.8 "Fl -${o#--}( |\$)" || missing="$missing $o"
	done
	[ -z "$missing" ]
	_result $? "every long option of shmctl --help is in shmctl.8"
	[ -z "$missing" ] || echo "#   missing:$missing"
else
	skip "$SHMCTL not built (shmctl commands)"
	skip "$SHMCTL not built (shmctl commands in shmctl.8)"
	skip "$SHMCTL not built (shmctl subcommands)"
	skip "$SHMCTL not built (shmctl options)"
fi

# --- mxcached.8: every option of mxcached --help -------------------------------
if [ -x "$MXCACHED" ]; then
	help=$("$MXCACHED" --help 2>/dev/null)
	missing=""
	for o in $(printf '%s\n' "$help" | grep -oE -- '(^|[ [|])-(-[a-z][a-z-]*|[a-zA-Z])\b' |
		sed -E 's/^[ [|]//' | sort -u); do
		has_item mxcached.8 "Fl ${o#-}( |\$)" || missing="$missing $o"
	done
	[ -z "$missing" ]
	_result $? "every option of mxcached --help is in mxcached.8"
	[ -z "$missing" ] || echo "#   missing:$missing"
else
	skip "$MXCACHED not built (mxcached options)"
fi

# --- cross references and dates -------------------------------------------------
for p in $PAGES; do
	has_item "$p" '^\.Dd [A-Z][a-z]+ [0-9]{1,2}, [0-9]{4}$'
	_result $? "$p has a .Dd date"
done
# every .Xr to one of our pages names a page that exists
missing=""
while read -r x; do
	[ -f "$MAN/$x" ] || missing="$missing $x"
done < <(sed -nE 's/^\.Xr (mxcache[a-z.-]*|mxcached|shmctl) ([0-9]).*/\1.\2/p' "$MAN"/* | sort -u)
[ -z "$missing" ]
_result $? "every .Xr to an mxcache page names a page in docs/man"
[ -z "$missing" ] || echo "#   missing:$missing"

done_testing
