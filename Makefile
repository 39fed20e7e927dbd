# mxcache - one non-recursive Makefile.
#
#   make            build everything into $(BUILD)/
#   make run        install missing packages, build, run mxcached on ./var
#   make check      build (-Werror), run the unit, stress and integration
#                   tests; installs nothing.  T=PATTERN: only the tests
#                   whose name contains PATTERN
#   make check-asan the same tests in the ASan+UBSan build
#   make check-tsan the in-process concurrency tests in the TSan build
#   make test       install test packages, then everything: check,
#                   check-asan, check-tsan and a short fuzz pass (CI)
#   make bench      benchmarks (never pass/fail)
#   make fuzz       libFuzzer targets, FUZZ_SECONDS (60) each
#   make install    honours PREFIX and DESTDIR (SYSCONFDIR: /etc with
#                   PREFIX=/usr, else PREFIX/etc)
#   make uninstall  removes what make install put there, the config kept
#
# Switches: SANITIZER=address,undefined | thread  (own build dir),
#           WERROR=1, O=<opt level>.  CFLAGS, CPPFLAGS and LDFLAGS are
#           yours: the flags the code needs (-std=c11 -pthread -fPIC ...)
#           are kept apart in MXC_* and always applied.

PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/mxcache
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DESTDIR ?=

VERSION    = 0.1.0
SOVERSION  = 1

CC ?= cc
O  ?= 2

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef \
       -Wvla -Wnull-dereference -Wimplicit-fallthrough

comma := ,
ifdef FUZZ
# the libFuzzer targets' build (make fuzz-bin): clang, ASan+UBSan, every
# object instrumented for coverage; the fuzzer's main is linked last
CC        = $(CC_FUZZ)
SANITIZER = address,undefined
SAN       = -fsanitize=fuzzer-no-link,$(SANITIZER) -fno-sanitize-recover=undefined -fno-omit-frame-pointer
BUILD    ?= build-fuzz
O         = 1
else ifdef SANITIZER
SAN   = -fsanitize=$(SANITIZER) -fno-sanitize-recover=all -fno-omit-frame-pointer
BUILD ?= build-$(subst $(comma),-,$(SANITIZER))
else
BUILD ?= build
endif
CC_FUZZ ?= clang
ifneq (,$(findstring thread,$(SANITIZER)))
SANDEF = -DMXC_TSAN
endif
# LeakSanitizer ptraces the process at exit: the daemon stays dumpable
ifneq (,$(findstring address,$(SANITIZER)))
SANDEF = -DMXC_LSAN
endif

# The project's own flags, kept out of CPPFLAGS/CFLAGS/LDFLAGS so that
# "make CFLAGS=-O1" replaces the optimisation and keeps the language
# standard, threads, PIC and warnings.  The user's flags come last.
MXC_CPPFLAGS = -D_GNU_SOURCE -I. $(SANDEF)
MXC_CFLAGS   = -std=c11 -pthread -fPIC $(WARN) $(if $(WERROR),-Werror) $(SAN)
MXC_LDFLAGS  = -pthread $(SAN)
CFLAGS ?= -O$(O) -g
ALL_CPPFLAGS = $(MXC_CPPFLAGS) $(CPPFLAGS)
ALL_CFLAGS   = $(MXC_CFLAGS) $(CFLAGS)
ALL_LDFLAGS  = $(MXC_LDFLAGS) $(LDFLAGS)

LIB_LIBS    = -lidn2
DAEMON_LIBS = -lsqlite3 -lurcu -lurcu-cds -lurcu-common -lck -linih -lidn2 -lldns -lssl -lcrypto
SHMCTL_LIBS = -ljson-c -lidn2
BENCH_LIBS  = -llmdb -lsqlite3 -lm

# --- sources ----------------------------------------------------------------
SHM_SRC    = shm/key.c
LIB_SRC    = client/map.c client/slots.c client/events.c client/inspect.c $(wildcard client/tab_*.c) client/rblock.c \
	     client/wait.c $(SHM_SRC)
DAEMON_SRC = $(wildcard daemon/*.c) $(SHM_SRC)
SHMCTL_SRC = $(wildcard client/shmctl*.c)
SMAP_SRC   = client/socketmap.c client/sm_conn.c client/sm_proto.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_OBJ    = $(call obj,$(LIB_SRC))
DAEMON_OBJ = $(call obj,$(DAEMON_SRC))
SHMCTL_OBJ = $(call obj,$(SHMCTL_SRC))
SMAP_OBJ   = $(call obj,$(SMAP_SRC))

SOLIB  = $(BUILD)/libmxcache.so.$(SOVERSION)
ALIB   = $(BUILD)/libmxcache.a
DAEMON = $(BUILD)/mxcached
SHMCTL = $(BUILD)/shmctl
SMAP   = $(BUILD)/mxcache-socketmap
SHMCTL_BASH = $(BUILD)/shmctl.bash

UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BIN   = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
HELPER_SRC = $(wildcard tests/stress/*.c tests/tools/*.c)
HELPER_BIN = $(patsubst tests/%.c,$(BUILD)/tests/%,$(HELPER_SRC))
BENCH_SRC  = $(filter-out bench/harness.c,$(wildcard bench/*.c))
BENCH_HARNESS = $(BUILD)/obj/bench/harness.o
BENCH_BIN  = $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
# the trivial socketmap server bench_socketmap measures mxcache-socketmap against
BENCH_ALT_BIN = $(BUILD)/bench/sm_trivial

all: $(SOLIB) $(ALIB) $(DAEMON) $(SHMCTL) $(SMAP) $(SHMCTL_BASH)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(SOLIB): $(LIB_OBJ) client/libmxcache.map
	$(CC) -shared -Wl,-soname,libmxcache.so.$(SOVERSION) -Wl,--version-script=client/libmxcache.map $(ALL_LDFLAGS) -o $@ $(LIB_OBJ) $(LIB_LIBS)
	ln -sf libmxcache.so.$(SOVERSION) $(BUILD)/libmxcache.so

$(ALIB): $(LIB_OBJ)
	rm -f $@; ar rcs $@ $^

$(DAEMON): $(DAEMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

$(SHMCTL): $(SHMCTL_OBJ) $(ALIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SHMCTL_LIBS)

$(SMAP): $(SMAP_OBJ) $(ALIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIB_LIBS)

# bash completion, made by shmctl from the command table it dispatches on
$(SHMCTL_BASH): $(SHMCTL)
	$(SHMCTL) completion bash > $@.tmp && mv $@.tmp $@

# Tests link the static library and the daemon's modules (all but main),
# so a test can drive the writer and read through the client in one run.
DAEMON_CORE_OBJ = $(filter-out $(BUILD)/obj/daemon/main.o,$(DAEMON_OBJ))
TEST_DEPS = $(ALIB) $(DAEMON_CORE_OBJ) tests/tap.h

$(BUILD)/tests/test_%: tests/unit/test_%.c $(TEST_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(DAEMON_CORE_OBJ) $(ALIB) $(DAEMON_LIBS)

$(BUILD)/tests/%: tests/%.c $(TEST_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(DAEMON_CORE_OBJ) $(ALIB) $(DAEMON_LIBS)

$(BUILD)/bench/%: bench/%.c $(BENCH_HARNESS) $(ALIB) $(DAEMON_CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BENCH_HARNESS) $(DAEMON_CORE_OBJ) $(ALIB) $(DAEMON_LIBS) $(BENCH_LIBS)

$(BUILD)/bench/sm_trivial: bench/alt/sm_trivial.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

tests-bin: all $(UNIT_BIN) $(HELPER_BIN)
bench-bin: all $(BENCH_HARNESS) $(BENCH_BIN) $(BENCH_ALT_BIN) $(HELPER_BIN)

# libFuzzer targets, tests/fuzz/fuzz_NAME.c -> build-fuzz/fuzz/fuzz_NAME,
# built with FUZZ=1 (make fuzz-bin does that).  FUZZ_NAME is what each
# target links beside its own file: objects of this build and libraries.
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
FUZZ_config     = $(call obj,daemon/config.c daemon/log.c) -linih -lurcu -lurcu-common
FUZZ_ctl        =
FUZZ_key        = $(call obj,$(SHM_SRC)) $(LIB_LIBS)
FUZZ_region     = $(DAEMON_CORE_OBJ) $(ALIB) $(DAEMON_LIBS)
# the protocol without the server, over a region the daemon's code builds
FUZZ_socketmap  = $(call obj,client/sm_proto.c) $(DAEMON_CORE_OBJ) $(ALIB) $(DAEMON_LIBS)
FUZZ_sts_policy = $(call obj,daemon/sts_parse.c)

fuzz_deps = $(filter %.o %.a,$(FUZZ_$(1)))

.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(call fuzz_deps,$$*)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fsanitize=fuzzer $(ALL_LDFLAGS) -o $@ $< $(FUZZ_$*)

ifdef FUZZ
fuzz-bin: $(FUZZ_BIN)
else
fuzz-bin:
	$(MAKE) FUZZ=1 fuzz-bin
endif

# --- setup: install what a fresh Debian machine lacks ----------------------
# building and running (make run): the libraries the programs link, and the
# CA store the daemon checks MTA-STS policy hosts against
DEB_PKGS = gcc make liburcu-dev libck-dev libsqlite3-dev libssl-dev libldns-dev \
           libidn2-dev libinih-dev libjson-c-dev ca-certificates

deps:
	@tools/deps.sh $(DEB_PKGS)

# make test, make fuzz and make soak: pkg-config and binutils (the
# installed-library test), setpriv, the sqlite3 shell, python3, openssl
# (test certificates), dnsmasq (a DNS server on loopback), Postfix's
# postmap (the real socketmap client), clang and its runtime (libFuzzer),
# mandoc (the manual pages), ip (the Postfix test's loopback network),
# nsd, unbound and ldnsutils (the DANE tests' signed zone: an
# authoritative server, a validating resolver, ldns-keygen/-signzone, drill)
TEST_PKGS = pkg-config binutils util-linux sqlite3 python3 openssl dnsmasq-base \
            postfix clang libclang-rt-14-dev mandoc iproute2 nsd unbound ldnsutils
# make bench: LMDB (the baseline bench_resolve compares against), the
# refresh and event runs' tools (sqlite3, python3, openssl, dnsmasq), and
# valgrind (callgrind counts the instructions per lookup)
BENCH_PKGS = liblmdb-dev sqlite3 python3 openssl dnsmasq-base valgrind
# make bench, the lookup plot only: without it the figures come all the same
PLOT_PKGS = gnuplot-nox

# --- the two commands a newcomer needs --------------------------------------
run: deps
	$(MAKE) all
	@mkdir -p var && chmod go-w var    # mxcached refuses a directory others may write
	exec $(DAEMON) -d var -f

# the full run, as CI does it: packages, three builds, every test, fuzz
test: deps
	@tools/deps.sh $(TEST_PKGS)
	@tools/test.sh

# the developer's loop: no packages installed, one build each;
# T=PATTERN runs only the tests whose name contains PATTERN
check:
	@tools/test.sh --plain '$(T)'
check-asan:
	@tools/test.sh --asan '$(T)'
check-tsan:
	@tools/test.sh --tsan '$(T)'

# libFuzzer targets (tests/fuzz) with ASan+UBSan, FUZZ_SECONDS each
FUZZ_SECONDS ?= 60
fuzz: deps
	@tools/deps.sh $(TEST_PKGS)
	@tools/fuzz.sh $(FUZZ_SECONDS)

# the long fault runs: every fault test cycled for SOAK_SECONDS, a table
# of what was injected and what held in build/soak/report.md
SOAK_SECONDS ?= 600
soak: deps
	@tools/deps.sh $(TEST_PKGS)
	$(MAKE) all tests-bin
	@tools/soak.sh $(SOAK_SECONDS) $(BUILD)

# a failed install of the plotter only costs the plot: tools/bench.sh
# skips it, saying so
bench: deps
	@tools/deps.sh $(BENCH_PKGS)
	@tools/deps.sh $(PLOT_PKGS) || echo "bench: could not install $(PLOT_PKGS); no plot this time" >&2
	$(MAKE) bench-bin
	@tools/bench.sh $(BUILD)

# --- install ------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 0755 $(SOLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libmxcache.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libmxcache.so
	install -m 0644 $(ALIB) $(DESTDIR)$(LIBDIR)/
	install -m 0644 client/mxcache.h $(DESTDIR)$(INCDIR)/
	# written at install time, so it always names the PREFIX installed to
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' client/mxcache.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/mxcache.pc
	install -m 0755 $(DAEMON) $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(SMAP) $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(SHMCTL) $(DESTDIR)$(BINDIR)/
	install -D -m 0644 $(SHMCTL_BASH) $(DESTDIR)$(PREFIX)/share/bash-completion/completions/shmctl
	install -d $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 docs/man/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 0644 docs/man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 docs/man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/mxcache
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' daemon/mxcached.service.in \
	    > $(DESTDIR)$(UNITDIR)/mxcached.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/mxcached.service
	install -m 0644 daemon/mxcache.sysusers $(DESTDIR)$(SYSUSERSDIR)/mxcache.conf
	# the sample names the config's installed path, as the unit does
	sed -e 's|/etc/mxcache/|$(SYSCONFDIR)/mxcache/|g' daemon/mxcache.conf.sample > $(DESTDIR)$(DOCDIR)/mxcache.conf.sample
	chmod 0644 $(DESTDIR)$(DOCDIR)/mxcache.conf.sample
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	# an operator's config is never overwritten
	test -e $(DESTDIR)$(SYSCONFDIR)/mxcache/mxcache.conf || \
	    install -m 0644 $(DESTDIR)$(DOCDIR)/mxcache.conf.sample $(DESTDIR)$(SYSCONFDIR)/mxcache/mxcache.conf

# Removes what install put there, and nothing else: the config in
# SYSCONFDIR/mxcache is the operator's once installed, and the state
# directory (/var/lib/mxcache) and the region in /dev/shm are the data.
# Directories are left, except the documentation's own.
uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libmxcache.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libmxcache.so \
	      $(DESTDIR)$(LIBDIR)/libmxcache.a $(DESTDIR)$(LIBDIR)/pkgconfig/mxcache.pc \
	      $(DESTDIR)$(INCDIR)/mxcache.h
	rm -f $(DESTDIR)$(SBINDIR)/mxcached $(DESTDIR)$(SBINDIR)/mxcache-socketmap $(DESTDIR)$(BINDIR)/shmctl
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(wildcard docs/man/*.3))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(wildcard docs/man/*.5))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(wildcard docs/man/*.8)))
	rm -f $(DESTDIR)$(UNITDIR)/mxcached.service $(DESTDIR)$(SYSUSERSDIR)/mxcache.conf
	rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/shmctl
	rm -f $(DESTDIR)$(DOCDIR)/mxcache.conf.sample \
	      $(addprefix $(DESTDIR)$(DOCDIR)/,README.md $(notdir $(wildcard docs/*.md)))
	rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	@test ! -e $(DESTDIR)$(SYSCONFDIR)/mxcache/mxcache.conf || \
	    echo "uninstall: kept $(DESTDIR)$(SYSCONFDIR)/mxcache/mxcache.conf (the operator's; remove it by hand)"

clean:
	rm -rf build build-* build-fuzz

.PHONY: soak all deps run test check check-asan check-tsan bench install uninstall clean \
	tests-bin bench-bin fuzz fuzz-bin

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
