#!/usr/bin/env bash
# test_api_docs - every function libmxcache exports is documented where a
# user looks for it:
#
#   client/mxcache.h     a comment right above its prototype (or above the
#                        run of declarations it is part of): the reference
#   docs/man/mxcache.3   in NAME, SYNOPSIS and DESCRIPTION
#   docs/client-api.md   a row of the index under "## Functions"
#
# The exported names come from the built library (client/libmxcache.map
# exports mxc_*), so a function added to the code and not to the docs
# fails here.  And the other way: every function the header declares is
# exported.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

LIB=$BUILD/libmxcache.so.1
HDR=client/mxcache.h
MAN=docs/man/mxcache.3
GUIDE=docs/client-api.md

# the names the library exports, without their version
syms=$(nm -D --defined-only "$LIB" 2>/dev/null | awk '$3 ~ /^mxc_/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
ns=$(printf '%s\n' "$syms" | grep -c .)
[ "$ns" -ge 20 ]
_result $? "$LIB exports $ns mxc_* functions (nm -D)"

# --- the header ----------------------------------------------------------------
# documented NAME: a comment block opens with "NAME - " (the header's
# way), or, from NAME's prototype upwards, past the declarations above it
# (typedefs, #defines, other prototypes, code lines with a trailing
# comment), the first line that is not one ends a comment block.  A blank
# line or the end of a struct first: undocumented.
documented_in_header() {
	grep -Eq "^(/\*| \*) $1 - " "$HDR" && return 0
	awk -v name="$1" '
	function is_proto(l) { return l !~ /^typedef/ && l ~ ("^([a-z][a-z0-9_ ]*[ *])?" name "\\(") }
	{ line[NR] = $0 }
	is_proto($0) && !at { at = NR }
	END {
		if (!at) exit 1
		for (i = at - 1; i > 0; i--) {
			l = line[i]
			if (l ~ /^[ \t]*$/ || l ~ /^[ \t]*}/) exit 1
			if (l ~ /^[ \t]*(\/\*|\*).*\*\/[ \t]*$/ || l ~ /^[ \t]*\*\/[ \t]*$/) exit 0
		}
		exit 1
	}' "$HDR"
}
missing=""
for s in $syms; do
	documented_in_header "$s" || missing="$missing $s"
done
[ -z "$missing" ]
_result $? "every exported function has a comment above its prototype in $HDR"
[ -z "$missing" ] || echo "#   undocumented:$missing"

# the header's declarations, as test_man parses them: all exported
funcs=$(grep -E '^([a-z][a-z0-9_ ]*[ *])?mxc_[a-z0-9_]+\(' "$HDR" | grep -v '^typedef' |
	sed -E 's/^([^(]*[ *])?(mxc_[a-z0-9_]+)\(.*/\2/' | sort -u)
extra=$(comm -23 <(printf '%s\n' "$funcs") <(printf '%s\n' "$syms") | tr '\n' ' ')
[ -z "$extra" ]
_result $? "every function $HDR declares is exported"
[ -z "$extra" ] || echo "#   declared, not exported: $extra"

# --- the manual page -----------------------------------------------------------
section() { awk -v want="$1" '/^\.Sh / { on = ($2 == want) } on' "$MAN"; }
name_sec=$(section NAME)
synopsis=$(section SYNOPSIS)
description=$(section DESCRIPTION)
missing=""
for s in $syms; do
	printf '%s\n' "$name_sec" | grep -Eq "^\.Nm $s( |\$)" &&
		printf '%s\n' "$synopsis" | grep -Eq "^\.(Fn $s \"|Fo $s\$)" &&
		printf '%s\n' "$description" | grep -Eq "(Fn|Fo) $s( |\$)" || missing="$missing $s"
done
[ -z "$missing" ]
_result $? "every exported function is in $MAN's NAME, SYNOPSIS and DESCRIPTION"
[ -z "$missing" ] || echo "#   missing:$missing"

# --- the guide's index ---------------------------------------------------------
index=$(awk '/^## / { on = ($0 == "## Functions") } on && /^\| `mxc_/' "$GUIDE")
missing=""
for s in $syms; do
	printf '%s\n' "$index" | grep -q "^| \`$s\` |" || missing="$missing $s"
done
[ -z "$missing" ]
_result $? "every exported function has a row in $GUIDE's index (## Functions)"
[ -z "$missing" ] || echo "#   missing:$missing"

# the index names nothing the library does not have
stale=""
for s in $(printf '%s\n' "$index" | sed -E 's/^\| `(mxc_[a-z0-9_]+)`.*/\1/'); do
	printf '%s\n' "$syms" | grep -qx "$s" || stale="$stale $s"
done
[ -z "$stale" ]
_result $? "$GUIDE's index names only exported functions"
[ -z "$stale" ] || echo "#   not exported:$stale"

done_testing
