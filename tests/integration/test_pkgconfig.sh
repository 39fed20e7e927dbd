#!/usr/bin/env bash
# test_pkgconfig - install into a staging root: programs, libraries with
# their SONAME and only mxc_* exported, header, pkg-config file, manual
# pages, systemd unit, sysusers entry, sample config; build a client
# program with `pkg-config mxcache` against it and run it against a live
# daemon; uninstall, and only the config is left.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh

new_dir D
STAGE=$D/stage
check "make install DESTDIR" make -s install ${SAN:+SANITIZER=$SAN} DESTDIR="$STAGE" PREFIX=/usr/local
check "header installed" test -f "$STAGE/usr/local/include/mxcache.h"
check "shared library with SONAME" sh -c "objdump -p '$STAGE/usr/local/lib/libmxcache.so.1' | grep -q 'SONAME.*libmxcache.so.1'"
check "static library installed" test -f "$STAGE/usr/local/lib/libmxcache.a"
check "only mxc_* is exported by the shared library" \
	sh -c "! nm -D --defined-only '$STAGE/usr/local/lib/libmxcache.so.1' | awk '\$2 != \"A\" { print \$3 }' | grep -v '^mxc_'"
check "  under the version MXCACHE_1" sh -c "nm -D --defined-only '$STAGE/usr/local/lib/libmxcache.so.1' | grep -q 'mxc_open@@MXCACHE_1'"
for p in sbin/mxcached sbin/mxcache-socketmap bin/shmctl; do
	check "$p installed" test -x "$STAGE/usr/local/$p"
done
for m in man8/mxcached.8 man8/shmctl.8 man3/mxcache.3 man5/mxcache.conf.5 man5/mxcache-region.5; do
	check "manual page $m installed" test -s "$STAGE/usr/local/share/man/$m"
done
check "bash completion installed, and it completes shmctl" bash -c \
	". '$STAGE/usr/local/share/bash-completion/completions/shmctl' && complete -p shmctl | grep -q _shmctl"
UNIT=$STAGE/usr/local/lib/systemd/system/mxcached.service
check "systemd unit installed" test -s "$UNIT"
check "  naming the installed daemon and config" \
	grep -qx 'ExecStart=/usr/local/sbin/mxcached -d /var/lib/mxcache -c /usr/local/etc/mxcache/mxcache.conf' "$UNIT"
check "  with no placeholder left" sh -c "! grep -q '@[A-Z]*@' '$UNIT'"
for d in User=mxcache StateDirectory=mxcache NoNewPrivileges=yes ProtectSystem=strict CapabilityBoundingSet= \
	RemoveIPC=no PrivateTmp=yes; do
	check "  $d" grep -qx "$d" "$UNIT"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify checks ExecStart= paths exist: give it the staged ones
	sed "s|/usr/local/|$STAGE/usr/local/|g" "$UNIT" >"$D/mxcached.service"
	expect_rc 0 "systemd-analyze verify accepts the unit" systemd-analyze verify --man=no "$D/mxcached.service"
fi
check "sysusers entry installed" grep -q '^u mxcache ' "$STAGE/usr/local/lib/sysusers.d/mxcache.conf"
CONF=$STAGE/usr/local/etc/mxcache/mxcache.conf
check "sample config installed" test -s "$CONF"
expect_rc 0 "  and the installed daemon accepts it" "$STAGE/usr/local/sbin/mxcached" -c "$CONF" --check-config
echo "# changed by the operator" >>"$CONF"
check "a second install keeps the operator's config" make -s install ${SAN:+SANITIZER=$SAN} DESTDIR="$STAGE" PREFIX=/usr/local
check "  (it is still theirs)" grep -q "changed by the operator" "$CONF"
check "sample config also among the docs" test -s "$STAGE/usr/local/share/doc/mxcache/mxcache.conf.sample"
check "  naming the config's installed path" \
	grep -q 'mxcached -c /usr/local/etc/mxcache/mxcache.conf --check-config' "$CONF"
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

# --- uninstall: every file install put there goes, the operator's config stays
check "make uninstall DESTDIR" make -s uninstall DESTDIR="$STAGE" PREFIX=/usr/local
expect_out "$CONF" "  leaves no file but the operator's config" find "$STAGE" ! -type d
check "  which is unchanged" grep -q "changed by the operator" "$CONF"
check "  and says it kept it" sh -c "make -s uninstall DESTDIR='$STAGE' PREFIX=/usr/local | grep -q 'kept.*mxcache.conf'"

# --- PREFIX=/usr: the config in /etc, and uninstall the same way
STAGE2=$D/stage2
check "make install PREFIX=/usr" make -s install ${SAN:+SANITIZER=$SAN} DESTDIR="$STAGE2" PREFIX=/usr
check "  the config is /etc/mxcache/mxcache.conf" test -s "$STAGE2/etc/mxcache/mxcache.conf"
check "  and the unit names it" grep -qx 'ExecStart=/usr/sbin/mxcached -d /var/lib/mxcache -c /etc/mxcache/mxcache.conf' \
	"$STAGE2/usr/lib/systemd/system/mxcached.service"
check "  so does its comment" grep -q 'mxcached -c /etc/mxcache/mxcache.conf --check-config' "$STAGE2/etc/mxcache/mxcache.conf"
check "make uninstall PREFIX=/usr" make -s uninstall DESTDIR="$STAGE2" PREFIX=/usr
expect_out "$STAGE2/etc/mxcache/mxcache.conf" "  leaves no file but the config" find "$STAGE2" ! -type d
done_testing
