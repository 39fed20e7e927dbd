#!/usr/bin/env bash
# test_pkgconfig - install into a staging root, build a client program
# with `pkg-config mxcache` against it, run it against a live daemon.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

new_dir D
STAGE=$D/stage
check "make install DESTDIR" make -s install ${SAN:+SANITIZER=$SAN} DESTDIR="$STAGE" PREFIX=/usr/local
check "header installed" test -f "$STAGE/usr/local/include/mxcache.h"
check "shared library with SONAME" sh -c "objdump -p '$STAGE/usr/local/lib/libmxcache.so.1' | grep -q 'SONAME.*libmxcache.so.1'"
check "static library installed" test -f "$STAGE/usr/local/lib/libmxcache.a"
export PKG_CONFIG_PATH=$STAGE/usr/local/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$STAGE
check "pkg-config knows mxcache" pkg-config --exists mxcache
# shellcheck disable=SC2046
check "a client builds with pkg-config --cflags --libs mxcache" \
	cc -std=c11 -Wall -Wextra -Werror ${SAN:+-fsanitize=$SAN} -o "$D/client_api" tests/integration/client_api.c \
	$(pkg-config --cflags --libs mxcache) -pthread
check "mxcached starts" daemon_start "$D"
"$SHMCTL" -d "$D" override set example.org 10.9.8.7 migration >/dev/null
LD_LIBRARY_PATH=$STAGE/usr/local/lib "$D/client_api" "$D" >"$D/client.tap" 2>&1
while read -r line; do
	case $line in
	"not ok"*) _result 1 "client: ${line#not ok * - }" ;;
	ok*) _result 0 "client: ${line#ok * - }" ;;
	esac
done <"$D/client.tap"
check "client program ran its checks" grep -q "every answer right" "$D/client.tap"
daemon_stop "$D" TERM
done_testing
