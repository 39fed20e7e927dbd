/*
 * test_dns - daemon/dns.c against a real dnsmasq on loopback, plus a fake
 * server (a thread in this program) for what dnsmasq will not send:
 * broken answers, SOAs with chosen TTLs, cut-short CNAME chains, the AD
 * bit of a validating resolver, TLSA records (well formed and not).
 *
 * Two dnsmasq children on free unprivileged ports:
 *   rec:  local data under .test (--local makes unknown names NXDOMAIN;
 *         names outside get REFUSED, there being no upstream).  Its
 *         negative answers carry no SOA, so neg_ttl is the default.
 *   auth: an authoritative zone auth.test, whose negative answers carry
 *         an SOA (TTL and MINIMUM both --auth-ttl).
 * dnsmasq must be at /usr/sbin/dnsmasq (make test installs it); without it
 * the test fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "daemon/counters.h"
#include "daemon/dns.h"
#include "tests/tap.h"

#define DNSMASQ         "/usr/sbin/dnsmasq"
#define START_WAIT_MS   5000   /* for dnsmasq to bind its port */
#define LOCAL_TTL       300    /* rec: --local-ttl */
#define ALIAS_TTL       60     /* rec: TTL of the alias.test CNAME */
#define AUTH_TTL        600    /* auth: --auth-ttl, also its SOA's MINIMUM */
#define TMO_MS          300    /* per try in the timing tests */
#define SLACK_MS        400    /* scheduling, sanitizers */
#define FAST_MS         150    /* "answered at once" */
#define THREAD_ROUNDS   100
#define BIG_STR         250    /* one character-string of big.test */
#define BIG_NSTR        6      /* 1500 bytes: over the EDNS size, so TCP */
/* a SHA2-256 digest in hex (any 32 bytes do) */
#define TLSA_SHA256     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char big[BIG_STR * BIG_NSTR + 1];

/* ---- helpers --------------------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct config_addr addr4(uint16_t port)
{
	struct config_addr a;
	struct sockaddr_in s;

	memset(&a, 0, sizeof(a));
	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons(port);
	s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(&a.ss, &s, sizeof(s));
	a.len = sizeof(s);
	snprintf(a.text, sizeof(a.text), "127.0.0.1:%u", port);
	return a;
}

/* A UDP socket on 127.0.0.1 with a kernel-chosen port; *port gets it. */
static int udp_socket(uint16_t *port)
{
	struct sockaddr_in s;
	socklen_t sl = sizeof(s);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&s, sizeof(s)) != 0 || getsockname(fd, (struct sockaddr *)&s, &sl) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(s.sin_port);
	return fd;
}

/* 1: port is free on 127.0.0.1 for type, 0: taken, -1: cannot tell. */
static int port_free(uint16_t port, int type)
{
	struct config_addr a = addr4(port);
	int fd = socket(AF_INET, type, 0), rc;

	if (fd < 0)
		return -1;
	rc = bind(fd, (struct sockaddr *)&a.ss, a.len) == 0 ? 1 : errno == EADDRINUSE ? 0 : -1;
	close(fd);
	return rc;
}

/* A port free for both UDP and TCP: dnsmasq takes both. */
static uint16_t free_port(void)
{
	uint16_t port;
	int i, fd;

	for (i = 0; i < 50; i++) {
		fd = udp_socket(&port);
		if (fd < 0)
			return 0;
		close(fd);
		if (port_free(port, SOCK_STREAM) == 1)
			return port;
	}
	return 0;
}

static struct dns *handle(const struct config_addr *srv, size_t n, unsigned timeout_ms, unsigned retries)
{
	struct dns_cfg cfg = { srv, n, NULL, timeout_ms, retries };
	char err[256];
	struct dns *d = dns_new(&cfg, err, sizeof(err));

	if (d == NULL)
		printf("# dns_new: %s\n", err);
	return d;
}

/* ---- dnsmasq ------------------------------------------------------------------ */

/* Start dnsmasq with the common flags and extra; 0 and *pid, or -1. */
static int dnsmasq_start(uint16_t port, const char *const *extra, pid_t *pid)
{
	char portarg[32];
	const char *argv[64];
	size_t n = 0;
	double t0;
	int st, fd;

	snprintf(portarg, sizeof(portarg), "--port=%u", port);
	argv[n++] = DNSMASQ;
	argv[n++] = "--keep-in-foreground";
	argv[n++] = portarg;
	argv[n++] = "--listen-address=127.0.0.1";
	argv[n++] = "--bind-interfaces";
	argv[n++] = "--no-resolv";
	argv[n++] = "--no-hosts";
	argv[n++] = "--no-poll";
	argv[n++] = "--conf-file=/dev/null";
	argv[n++] = "--pid-file=";
	/* as root it would switch to nobody; otherwise it cannot switch at all */
	if (geteuid() == 0)
		argv[n++] = "--user=root";
	while (*extra != NULL && n < sizeof(argv) / sizeof(argv[0]) - 1)
		argv[n++] = *extra++;
	argv[n] = NULL;

	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		/* dies with the test, whatever kills it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execv(DNSMASQ, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	t0 = now_ms();
	while (now_ms() - t0 < START_WAIT_MS) {
		if (waitpid(*pid, &st, WNOHANG) == *pid) {
			printf("# dnsmasq exited at start, status %d\n", st);
			return -1;
		}
		if (port_free(port, SOCK_DGRAM) == 0)
			return 0;
		usleep(10000);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, &st, 0);
	return -1;
}

static void dnsmasq_stop(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

/* ---- the fake server ---------------------------------------------------------- */
/*
 * Answers by the first label of the name asked (and the type), so each
 * test picks its misbehaviour by name.  Datagrams only: "tc" sends the
 * client to a TCP port nobody listens on.
 */
static int fake_fd;
static uint16_t fake_port;
static int fake_stop;            /* __atomic */
static unsigned long fake_queries; /* __atomic */
static int fake_do_seen;         /* __atomic: queries that came with the DO bit */
static pthread_t fake_thread;

static int push(ldns_pkt *p, ldns_pkt_section sec, const char *rr_text)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, rr_text, 0, NULL, NULL) != LDNS_STATUS_OK) {
		printf("# fake: cannot parse '%s'\n", rr_text);
		return -1;
	}
	ldns_pkt_push_rr(p, sec, rr);
	return 0;
}

/* The reply to q for mode; NULL to stay silent. */
static ldns_pkt *fake_reply(const ldns_pkt *q, const char *mode, ldns_rr_type type, uint8_t *raw, size_t *rawlen)
{
	const ldns_rr *qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	ldns_pkt *r = ldns_pkt_new();
	ldns_rr *qc;
	char line[512];
	int i;

	*rawlen = 0;
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_ra(r, true);
	ldns_pkt_set_opcode(r, LDNS_PACKET_QUERY);
	ldns_pkt_set_rcode(r, LDNS_RCODE_NOERROR);
	if (strcmp(mode, "other") == 0) {
		qc = NULL;
		ldns_rr_new_question_frm_str(&qc, "someone.else. IN TXT", NULL, NULL);
		ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, qc);
		push(r, LDNS_SECTION_ANSWER, "someone.else. 300 IN TXT \"not yours\"");
		return r;
	}
	if (strcmp(mode, "formerr") != 0)
		ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(qrr));

	if (strcmp(mode, "garbage") == 0) {
		/* the right ID and a header promising records, then noise */
		uint16_t id = ldns_pkt_id(q);
		static const uint8_t junk[] = { 0x81, 0x80, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00,
						0x3f, 0xc0, 0xff, 0x00, 0x10, 0x00, 0x01, 0xde, 0xad, 0xbe };

		raw[0] = (uint8_t)(id >> 8);
		raw[1] = (uint8_t)id;
		memcpy(raw + 2, junk, sizeof(junk));
		*rawlen = 2 + sizeof(junk);
	} else if (strcmp(mode, "short") == 0) {
		raw[0] = (uint8_t)(ldns_pkt_id(q) >> 8);
		raw[1] = (uint8_t)ldns_pkt_id(q);
		raw[2] = 0x81;
		*rawlen = 5;
	} else if (strcmp(mode, "wrongid") == 0) {
		ldns_pkt_set_id(r, (uint16_t)(ldns_pkt_id(q) + 1));
		push(r, LDNS_SECTION_ANSWER, "wrongid.fake. 300 IN TXT \"x\"");
	} else if (strcmp(mode, "noqr") == 0) {
		ldns_pkt_set_qr(r, false);
		push(r, LDNS_SECTION_ANSWER, "noqr.fake. 300 IN TXT \"x\"");
	} else if (strcmp(mode, "servfail") == 0) {
		ldns_pkt_set_rcode(r, LDNS_RCODE_SERVFAIL);
	} else if (strcmp(mode, "formerr") == 0) {
		ldns_pkt_set_rcode(r, LDNS_RCODE_FORMERR);
	} else if (strcmp(mode, "tc") == 0) {
		ldns_pkt_set_tc(r, true);
	} else if (strcmp(mode, "nxsoa") == 0) {
		ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
		push(r, LDNS_SECTION_AUTHORITY, "fake. 3600 IN SOA ns.fake. host.fake. 1 7200 900 86400 120");
	} else if (strcmp(mode, "nodatasoa") == 0) {
		push(r, LDNS_SECTION_AUTHORITY, "fake. 60 IN SOA ns.fake. host.fake. 1 7200 900 86400 3600");
	} else if (strcmp(mode, "chain") == 0) {
		/* a resolver that stopped after one CNAME, with no SOA */
		push(r, LDNS_SECTION_ANSWER, "chain.fake. 40 IN CNAME tgt.fake.");
	} else if (strcmp(mode, "tgt") == 0) {
		push(r, LDNS_SECTION_ANSWER, "tgt.fake. 500 IN TXT \"found\"");
	} else if (strcmp(mode, "cnamenodata") == 0) {
		push(r, LDNS_SECTION_ANSWER, "cnamenodata.fake. 200 IN CNAME end.fake.");
		push(r, LDNS_SECTION_AUTHORITY, "fake. 900 IN SOA ns.fake. host.fake. 1 7200 900 86400 900");
	} else if (strcmp(mode, "cnamenx") == 0) {
		ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
		push(r, LDNS_SECTION_ANSWER, "cnamenx.fake. 30 IN CNAME gone.fake.");
		push(r, LDNS_SECTION_AUTHORITY, "fake. 900 IN SOA ns.fake. host.fake. 1 7200 900 86400 900");
	} else if (strcmp(mode, "loop") == 0) {
		push(r, LDNS_SECTION_ANSWER, "loop.fake. 300 IN CNAME loop2.fake.");
		push(r, LDNS_SECTION_ANSWER, "loop2.fake. 300 IN CNAME loop.fake.");
	} else if (strcmp(mode, "mixed") == 0) {
		push(r, LDNS_SECTION_ANSWER, "mixed.fake. 300 IN TXT \"mine\"");
		push(r, LDNS_SECTION_ANSWER, "stranger.fake. 10 IN TXT \"not mine\"");
		push(r, LDNS_SECTION_ANSWER, "mixed.fake. 10 IN A 192.0.2.9");
		push(r, LDNS_SECTION_ANSWER, "MIXED.fake. 200 IN TXT \"also\" \" mine\"");
	} else if (strcmp(mode, "manytxt") == 0) {
		for (i = 0; i < DNS_TXT_MAX + 2; i++) {
			snprintf(line, sizeof(line), "manytxt.fake. 300 IN TXT \"r%02d\"", DNS_TXT_MAX + 2 - i);
			push(r, LDNS_SECTION_ANSWER, line);
		}
	} else if (strcmp(mode, "longtxt") == 0) {
		/* 17 strings of 250: over DNS_TXT_LEN_MAX */
		char *s = malloc(17 * 253 + 64);
		size_t o;

		o = (size_t)sprintf(s, "longtxt.fake. 300 IN TXT");
		for (i = 0; i < 17; i++) {
			s[o++] = ' ';
			s[o++] = '"';
			memset(s + o, 'a', BIG_STR);
			o += BIG_STR;
			s[o++] = '"';
		}
		s[o] = '\0';
		push(r, LDNS_SECTION_ANSWER, s);
		free(s);
		push(r, LDNS_SECTION_ANSWER, "longtxt.fake. 300 IN TXT \"short\"");
	} else if (strcmp(mode, "nul") == 0) {
		push(r, LDNS_SECTION_ANSWER, "nul.fake. 300 IN TXT \"a\\000b\"");
	} else if (strcmp(mode, "bigttl") == 0) {
		push(r, LDNS_SECTION_ANSWER, "bigttl.fake. 4294967295 IN TXT \"x\"");
	} else if (strcmp(mode, "manymx") == 0) {
		for (i = 40; i > 0; i--) {
			snprintf(line, sizeof(line), "manymx.fake. 300 IN MX %d mx%02d.fake.", i, i);
			push(r, LDNS_SECTION_ANSWER, line);
		}
	} else if (strcmp(mode, "uppermx") == 0) {
		push(r, LDNS_SECTION_ANSWER, "uppermx.fake. 300 IN MX 10 MX1.Example.ORG.");
	} else if (strcmp(mode, "mixednull") == 0) {
		push(r, LDNS_SECTION_ANSWER, "mixednull.fake. 300 IN MX 0 .");
		push(r, LDNS_SECTION_ANSWER, "mixednull.fake. 300 IN MX 10 mx.fake.");
	} else if (strcmp(mode, "v6only") == 0) {
		if (type == LDNS_RR_TYPE_AAAA)
			push(r, LDNS_SECTION_ANSWER, "v6only.fake. 300 IN AAAA 2001:db8::5");
		else
			push(r, LDNS_SECTION_AUTHORITY, "fake. 3600 IN SOA ns.fake. host.fake. 1 7200 900 86400 45");
	} else if (strcmp(mode, "afail") == 0) {
		if (type == LDNS_RR_TYPE_AAAA)
			push(r, LDNS_SECTION_ANSWER, "afail.fake. 300 IN AAAA 2001:db8::6");
		else
			ldns_pkt_set_rcode(r, LDNS_RCODE_SERVFAIL);
	} else if (strcmp(mode, "ad") == 0) {
		/* what a validating resolver says of a signed zone */
		ldns_pkt_set_ad(r, true);
		push(r, LDNS_SECTION_ANSWER, "ad.fake. 300 IN TXT \"signed\"");
		push(r, LDNS_SECTION_ANSWER, "ad.fake. 300 IN MX 10 mx.ad.fake.");
	} else if (strcmp(mode, "adnx") == 0) {
		ldns_pkt_set_ad(r, true);
		ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
		push(r, LDNS_SECTION_AUTHORITY, "fake. 3600 IN SOA ns.fake. host.fake. 1 7200 900 86400 90");
	} else if (strcmp(mode, "adnodata") == 0) {
		ldns_pkt_set_ad(r, true);
		push(r, LDNS_SECTION_AUTHORITY, "fake. 3600 IN SOA ns.fake. host.fake. 1 7200 900 86400 80");
	} else if (strcmp(mode, "adchain") == 0) {
		/* the first part authenticated, the end (tgt, asked again) not */
		ldns_pkt_set_ad(r, true);
		push(r, LDNS_SECTION_ANSWER, "adchain.fake. 40 IN CNAME tgt.fake.");
	} else if (strcmp(mode, "tlsa") == 0) {
		ldns_pkt_set_ad(r, true);
		snprintf(line, sizeof(line), "tlsa.fake. 300 IN TLSA 3 1 1 %s", TLSA_SHA256);
		push(r, LDNS_SECTION_ANSWER, line);
		snprintf(line, sizeof(line), "tlsa.fake. 200 IN TLSA 2 0 2 %s%s", TLSA_SHA256, TLSA_SHA256);
		push(r, LDNS_SECTION_ANSWER, line);
		/* a full key: more data than is kept */
		snprintf(line, sizeof(line), "tlsa.fake. 300 IN TLSA 3 1 0 %s%s%s", TLSA_SHA256, TLSA_SHA256,
			 TLSA_SHA256);
		push(r, LDNS_SECTION_ANSWER, line);
		push(r, LDNS_SECTION_ANSWER, "other.fake. 5 IN TLSA 3 1 1 00");
	} else if (strcmp(mode, "tlsanoad") == 0) {
		snprintf(line, sizeof(line), "tlsanoad.fake. 300 IN TLSA 3 1 1 %s", TLSA_SHA256);
		push(r, LDNS_SECTION_ANSWER, line);
	} else if (strcmp(mode, "tlsamany") == 0) {
		for (i = 0; i < DNS_TLSA_MAX + 2; i++) {
			snprintf(line, sizeof(line), "tlsamany.fake. 300 IN TLSA 3 1 1 %02x%.62s", i, TLSA_SHA256);
			push(r, LDNS_SECTION_ANSWER, line);
		}
	} else if (strcmp(mode, "tlsashort") == 0 || strcmp(mode, "tlsa3") == 0) {
		/* rdata of 2 bytes (shorter than the three fields) or of
		 * exactly 3 (no data): only on the wire, ldns will not write it */
		static const uint8_t hdr[] = { 0x81, 0xa0, 0, 1, 0, 1, 0, 0, 0, 0 };  /* QR RD, RA AD; 1 question, 1 answer */
		static const uint8_t qtail[] = { 4, 'f', 'a', 'k', 'e', 0, 0x00, 0x34, 0x00, 0x01 };
		static const uint8_t rrhead[] = { 0xc0, 0x0c, 0x00, 0x34, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c };
		uint16_t id = ldns_pkt_id(q);
		size_t o = 0, ml = strlen(mode);
		int three = strcmp(mode, "tlsa3") == 0;

		raw[o++] = (uint8_t)(id >> 8);
		raw[o++] = (uint8_t)id;
		memcpy(raw + o, hdr, sizeof(hdr));
		o += sizeof(hdr);
		raw[o++] = (uint8_t)ml;
		memcpy(raw + o, mode, ml);
		o += ml;
		memcpy(raw + o, qtail, sizeof(qtail));
		o += sizeof(qtail);
		memcpy(raw + o, rrhead, sizeof(rrhead));
		o += sizeof(rrhead);
		raw[o++] = 0;
		raw[o++] = three ? 3 : 2;
		raw[o++] = 3;
		raw[o++] = 1;
		if (three)
			raw[o++] = 1;
		*rawlen = o;
	} else if (strcmp(mode, "silent") == 0) {
		ldns_pkt_free(r);
		return NULL;
	} else {
		ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
	}
	return r;
}

static void *fake_main(void *arg)
{
	uint8_t buf[LDNS_MAX_PACKETLEN], raw[512];
	struct sockaddr_storage from;
	char mode[64];
	(void)arg;

	while (!__atomic_load_n(&fake_stop, __ATOMIC_ACQUIRE)) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fake_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		ldns_pkt *q = NULL, *r;
		uint8_t *wire = NULL;
		size_t wl = 0, rawlen;
		const ldns_rr *qrr;
		char *name;

		if (n <= 0 || ldns_wire2pkt(&q, buf, (size_t)n) != LDNS_STATUS_OK)
			continue;
		__atomic_add_fetch(&fake_queries, 1, __ATOMIC_RELAXED);
		if (ldns_pkt_edns_do(q))
			__atomic_add_fetch(&fake_do_seen, 1, __ATOMIC_RELAXED);
		qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
		name = qrr != NULL ? ldns_rdf2str(ldns_rr_owner(qrr)) : NULL;
		if (name == NULL) {
			ldns_pkt_free(q);
			continue;
		}
		snprintf(mode, sizeof(mode), "%.*s", (int)strcspn(name, "."), name);
		free(name);
		r = fake_reply(q, mode, ldns_rr_get_type(qrr), raw, &rawlen);
		if (rawlen > 0)
			sendto(fake_fd, raw, rawlen, 0, (struct sockaddr *)&from, fl);
		else if (r != NULL && ldns_pkt2wire(&wire, r, &wl) == LDNS_STATUS_OK)
			sendto(fake_fd, wire, wl, 0, (struct sockaddr *)&from, fl);
		free(wire);
		ldns_pkt_free(r);
		ldns_pkt_free(q);
	}
	return NULL;
}

static int fake_start(void)
{
	struct timeval tv = { 0, 50000 };   /* how often the thread looks at fake_stop */

	fake_fd = udp_socket(&fake_port);
	if (fake_fd < 0 || setsockopt(fake_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
		return -1;
	return pthread_create(&fake_thread, NULL, fake_main, NULL) == 0 ? 0 : -1;
}

static void fake_end(void)
{
	__atomic_store_n(&fake_stop, 1, __ATOMIC_RELEASE);
	pthread_join(fake_thread, NULL);
	close(fake_fd);
}

static unsigned long fake_count(void)
{
	return __atomic_load_n(&fake_queries, __ATOMIC_RELAXED);
}

/* ---- tests ---------------------------------------------------------------------- */

static struct dns_txt txt;     /* 32 KiB: not on the stack of every test */
static struct dns_mx mx;
static struct dns_addr ad;

static const char *addr_str(const struct dns_addr *a, size_t i, char *buf, size_t len)
{
	const void *p;
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;

	if (a->a[i].ss_family == AF_INET) {
		memcpy(&s4, &a->a[i], sizeof(s4));
		p = &s4.sin_addr;
		if (a->alen[i] != sizeof(s4))
			return "(bad alen)";
	} else {
		memcpy(&s6, &a->a[i], sizeof(s6));
		p = &s6.sin6_addr;
		if (a->alen[i] != sizeof(s6))
			return "(bad alen)";
	}
	return inet_ntop(a->a[i].ss_family, p, buf, (socklen_t)len);
}

static void test_rc_names(void)
{
	is_str(dns_rc_name(DNS_OK), "ok", "rc name ok");
	is_str(dns_rc_name(DNS_NXDOMAIN), "nxdomain", "rc name nxdomain");
	is_str(dns_rc_name(DNS_NODATA), "nodata", "rc name nodata");
	is_str(dns_rc_name(DNS_TEMP), "temporary failure", "rc name temp");
	is_str(dns_rc_name(DNS_TIMEOUT), "timeout", "rc name timeout");
	is_str(dns_rc_name(DNS_BAD), "bad answer", "rc name bad");
	is_str(dns_rc_name(42), "unknown", "rc name unknown");
}

static void test_new(void)
{
	struct config_addr a = addr4(53);
	struct dns_cfg cfg = { &a, 1, NULL, 0, 0 };
	char err[256], path[] = "/tmp/mxc-test-dns.XXXXXX";
	struct dns *d;
	FILE *f;
	int fd;

	err[0] = '\0';
	ok(dns_new(&cfg, err, sizeof(err)) == NULL && strstr(err, "timeout") != NULL, "timeout 0 refused: %s", err);
	cfg.timeout_ms = DNS_TIMEOUT_MAX_MS + 1;
	ok(dns_new(&cfg, err, sizeof(err)) == NULL, "timeout over the max refused");
	cfg.timeout_ms = 100;
	cfg.retries = DNS_RETRIES_MAX + 1;
	ok(dns_new(&cfg, err, sizeof(err)) == NULL && strstr(err, "retries") != NULL, "too many retries refused: %s",
	   err);
	cfg.retries = 0;
	cfg.nservers = DNS_SERVERS_MAX + 1;
	ok(dns_new(&cfg, err, sizeof(err)) == NULL, "too many servers refused");

	cfg.nservers = 0;
	cfg.resolv_conf = "/nonexistent/resolv.conf";
	err[0] = '\0';
	ok(dns_new(&cfg, err, sizeof(err)) == NULL && strstr(err, "/nonexistent/resolv.conf") != NULL,
	   "missing resolv.conf: %s", err);

	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f != NULL) {
		fputs("# no servers here\nsearch example.org\noptions ndots:2\n", f);
		fclose(f);
	}
	cfg.resolv_conf = path;
	err[0] = '\0';
	ok(dns_new(&cfg, err, sizeof(err)) == NULL && strstr(err, "no nameserver") != NULL,
	   "resolv.conf without nameserver: %s", err);
	f = fopen(path, "w");
	if (f != NULL) {
		fputs("search example.org\nnameserver 127.0.0.1\nnameserver ::1\noptions edns0\n", f);
		fclose(f);
	}
	d = dns_new(&cfg, err, sizeof(err));
	ok(d != NULL, "resolv.conf with two nameservers");
	dns_free(d);
	unlink(path);
	dns_free(NULL);
}

static void test_txt(struct dns *d)
{
	int rc;

	rc = dns_txt(d, "single.test", &txt);
	is_int(rc, DNS_OK, "TXT single: ok");
	is_int(txt.n, 1, "TXT single: one record");
	is_str(txt.rec[0], "v=DMARC1; p=reject", "TXT single: text");
	is_int(txt.len[0], strlen("v=DMARC1; p=reject"), "TXT single: len");
	is_int(txt.ttl, LOCAL_TTL, "TXT single: ttl");
	is_int(txt.neg_ttl, 0, "TXT single: no neg_ttl");
	is_int(txt.more, 0, "TXT single: nothing more");
	is_int(txt.ad, 0, "TXT single: not authenticated (dnsmasq does not validate)");

	rc = dns_txt(d, "split.test", &txt);
	ok(rc == DNS_OK && txt.n == 1, "TXT split: one record");
	is_str(txt.rec[0], "v=STSv1; id=20240101", "TXT split: strings joined without separator");

	rc = dns_txt(d, "two.test", &txt);
	ok(rc == DNS_OK && txt.n == 2, "TXT two: two records");
	ok(txt.n == 2 && strcmp(txt.rec[0], "first") == 0 && strcmp(txt.rec[1], "second") == 0,
	   "TXT two: sorted (%s, %s)", txt.rec[0], txt.n > 1 ? txt.rec[1] : "");

	rc = dns_txt(d, "big.test", &txt);
	ok(rc == DNS_OK && txt.n == 1 && txt.len[0] == sizeof(big) - 1 && strcmp(txt.rec[0], big) == 0,
	   "TXT of %zu bytes, over the EDNS size: through TCP (rc %s, len %zu)", sizeof(big) - 1, dns_rc_name(rc),
	   txt.n ? txt.len[0] : 0);

	rc = dns_txt(d, "h.test", &txt);
	is_int(rc, DNS_NODATA, "TXT none: nodata");
	ok(txt.n == 0 && txt.ttl == 0, "TXT none: no records, no ttl");
	is_int(txt.neg_ttl, DNS_NEG_TTL_DEFAULT, "TXT none: dnsmasq sends no SOA, neg_ttl is the default");

	rc = dns_txt(d, "nope.test", &txt);
	is_int(rc, DNS_NXDOMAIN, "TXT nxdomain");
	is_int(txt.neg_ttl, DNS_NEG_TTL_DEFAULT, "TXT nxdomain: neg_ttl default (no SOA)");

	rc = dns_txt(d, "alias.test", &txt);
	ok(rc == DNS_OK && txt.n == 1 && strcmp(txt.rec[0], "v=DMARC1; p=reject") == 0, "TXT behind a CNAME");
	is_int(txt.ttl, ALIAS_TTL, "TXT behind a CNAME: ttl is the CNAME's, the lesser");

	rc = dns_txt(d, "alias2.test", &txt);
	ok(rc == DNS_OK && txt.n == 1 && strcmp(txt.rec[0], "v=DMARC1; p=reject") == 0,
	   "TXT behind two CNAMEs");

	rc = dns_txt(d, "SINGLE.Test.", &txt);
	ok(rc == DNS_OK && txt.n == 1, "TXT: any case, trailing dot");

	rc = dns_txt(d, "outside.example", &txt);
	is_int(rc, DNS_TEMP, "REFUSED (dnsmasq, no upstream): temporary failure");
	is_int(txt.n, 0, "REFUSED: no records");
}

static void test_mx(struct dns *d)
{
	int rc;

	rc = dns_mx(d, "mx.test", &mx);
	is_int(rc, DNS_OK, "MX: ok");
	is_int(mx.n, 3, "MX: three");
	ok(mx.n == 3 && mx.rr[0].pref == 10 && strcmp(mx.rr[0].host, "mx-c.test") == 0 && mx.rr[1].pref == 20 &&
		   strcmp(mx.rr[1].host, "mx-a.test") == 0 && mx.rr[2].pref == 20 &&
		   strcmp(mx.rr[2].host, "mx-b.test") == 0,
	   "MX: sorted by preference, then host, no trailing dot");
	is_int(mx.nullmx, 0, "MX: not null");
	is_int(mx.ttl, LOCAL_TTL, "MX: ttl");

	rc = dns_mx(d, "single.test", &mx);
	ok(rc == DNS_NODATA && mx.n == 0 && mx.neg_ttl == DNS_NEG_TTL_DEFAULT, "MX none: nodata");

	rc = dns_mx(d, "nullmx.test", &mx);
	ok(rc == DNS_OK && mx.n == 1 && mx.nullmx == 1 && mx.rr[0].host[0] == '\0' && mx.rr[0].pref == 0,
	   "null MX: n 1, nullmx, host \"\"");

	rc = dns_mx(d, "nope.test", &mx);
	is_int(rc, DNS_NXDOMAIN, "MX nxdomain");
}

static void test_addrs(struct dns *d)
{
	char b0[64], b1[64], b2[64];
	int rc;

	rc = dns_addrs(d, "h.test", &ad);
	is_int(rc, DNS_OK, "A+AAAA: ok");
	is_int(ad.n, 3, "A+AAAA: three");
	if (ad.n == 3) {
		addr_str(&ad, 0, b0, sizeof(b0));
		addr_str(&ad, 1, b1, sizeof(b1));
		addr_str(&ad, 2, b2, sizeof(b2));
		ok(strcmp(b0, "192.0.2.2") == 0 && strcmp(b1, "192.0.2.10") == 0 && strcmp(b2, "2001:db8::1") == 0,
		   "A+AAAA: v4 first, by address (%s %s %s)", b0, b1, b2);
	} else {
		ok(0, "A+AAAA: v4 first, by address");
	}
	ok(ad.ttl == LOCAL_TTL && ad.fail_rc == 0 && ad.more == 0, "A+AAAA: ttl, no failure");

	rc = dns_addrs(d, "v4.test", &ad);
	ok(rc == DNS_OK && ad.n == 1 && ad.a[0].ss_family == AF_INET, "A only: ok");
	is_int(ad.ttl, LOCAL_TTL, "A only: ttl no more than AAAA's negative ttl");

	rc = dns_addrs(d, "nope.test", &ad);
	ok(rc == DNS_NXDOMAIN && ad.n == 0 && ad.neg_ttl == DNS_NEG_TTL_DEFAULT, "A+AAAA: nxdomain");

	rc = dns_addrs(d, "mx.test", &ad);
	is_int(rc, DNS_NODATA, "A+AAAA: nodata");
}

static void test_auth(struct dns *d)
{
	int rc;

	rc = dns_txt(d, "x.auth.test", &txt);
	ok(rc == DNS_OK && txt.n == 1 && strcmp(txt.rec[0], "hi") == 0 && txt.ttl == AUTH_TTL,
	   "auth zone: TXT, ttl %u", txt.ttl);
	rc = dns_txt(d, "nope.auth.test", &txt);
	ok(rc == DNS_NXDOMAIN && txt.neg_ttl == AUTH_TTL, "auth zone: NXDOMAIN, neg_ttl from the SOA (%u)",
	   txt.neg_ttl);
	rc = dns_mx(d, "x.auth.test", &mx);
	ok(rc == DNS_NODATA && mx.neg_ttl == AUTH_TTL, "auth zone: NODATA, neg_ttl from the SOA (%u)", mx.neg_ttl);
}

static void test_bad_names(struct dns *d)
{
	static char l64[80], n254[300];
	const char *names[] = { "", ".", "..", "a..b", ".a", l64, n254, "exa mple.test", "tab\there.test",
				"esc\\046aped.test", "caf\xc3\xa9.test", "del\x7f.test" };
	unsigned long before = fake_count();
	double t0 = now_ms();
	size_t i;

	memset(l64, 'a', 64);
	memcpy(l64 + 64, ".test", 6);
	/* 63.63.63.62: 254 bytes */
	memset(n254, 'a', 254);
	n254[63] = n254[127] = n254[191] = '.';
	n254[254] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int rc = dns_txt(d, names[i], &txt);
		char shown[24];
		size_t k;

		/* the name as TAP can carry it: printable bytes, the first 20 */
		for (k = 0; k < 20 && names[i][k]; k++)
			shown[k] = names[i][k] > ' ' && names[i][k] < 0x7f ? names[i][k] : '?';
		shown[k] = '\0';
		ok(rc == DNS_BAD, "bad name %zu '%s': %s", i, shown, dns_rc_name(rc));
	}
	is_int(dns_txt(d, NULL, &txt), DNS_BAD, "NULL name: DNS_BAD");
	is_int(dns_mx(d, "a..b", &mx), DNS_BAD, "bad name for MX: DNS_BAD");
	is_int(dns_addrs(d, "a b", &ad), DNS_BAD, "bad name for A+AAAA: DNS_BAD");
	is_int(fake_count() - before, 0, "bad names: no packet sent");
	ok(now_ms() - t0 < FAST_MS, "bad names: at once");
	/* the longest good name and the longest good label still go out */
	n254[253] = '\0';
	is_int(dns_txt(d, n254, &txt), DNS_NXDOMAIN, "253-byte name is asked");
	n254[253] = '.';
	is_int(dns_txt(d, n254, &txt), DNS_NXDOMAIN, "253-byte name with the trailing dot is asked");
	is_int(dns_txt(d, l64 + 1, &txt), DNS_NXDOMAIN, "63-byte label is asked");
}

static void test_fake(struct dns *d)
{
	static const struct {
		const char *name;
		int rc;
	} broken[] = {
		{ "garbage.fake", DNS_BAD },  { "short.fake", DNS_BAD },   { "wrongid.fake", DNS_BAD },
		{ "other.fake", DNS_BAD },    { "noqr.fake", DNS_BAD },    { "formerr.fake", DNS_BAD },
		{ "servfail.fake", DNS_TEMP }, { "tc.fake", DNS_TEMP },    { "loop.fake", DNS_BAD },
	};
	unsigned long before;
	double t0;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		t0 = now_ms();
		rc = dns_txt(d, broken[i].name, &txt);
		ok(rc == broken[i].rc && txt.n == 0 && now_ms() - t0 < TMO_MS,
		   "%s: %s, at once (%.0f ms)", broken[i].name, dns_rc_name(rc), now_ms() - t0);
	}

	rc = dns_txt(d, "nxsoa.fake", &txt);
	ok(rc == DNS_NXDOMAIN && txt.neg_ttl == 120, "NXDOMAIN: neg_ttl = SOA MINIMUM when less than its TTL (%u)",
	   txt.neg_ttl);
	rc = dns_txt(d, "nodatasoa.fake", &txt);
	ok(rc == DNS_NODATA && txt.neg_ttl == 60, "NODATA: neg_ttl = SOA TTL when less than MINIMUM (%u)",
	   txt.neg_ttl);

	before = fake_count();
	rc = dns_txt(d, "chain.fake", &txt);
	ok(rc == DNS_OK && txt.n == 1 && strcmp(txt.rec[0], "found") == 0, "CNAME chain cut short: target asked");
	is_int(fake_count() - before, 2, "CNAME chain cut short: one more query");
	is_int(txt.ttl, 40, "CNAME chain cut short: ttl counts the CNAME");

	before = fake_count();
	rc = dns_txt(d, "cnamenodata.fake", &txt);
	ok(rc == DNS_NODATA && txt.neg_ttl == 200, "CNAME to NODATA with SOA: nodata, neg_ttl capped by the CNAME");
	is_int(fake_count() - before, 1, "CNAME to NODATA with SOA: not asked again");
	rc = dns_txt(d, "cnamenx.fake", &txt);
	ok(rc == DNS_NXDOMAIN && txt.neg_ttl == 30, "CNAME to NXDOMAIN: nxdomain, neg_ttl %u", txt.neg_ttl);

	rc = dns_txt(d, "mixed.fake", &txt);
	ok(rc == DNS_OK && txt.n == 2 && strcmp(txt.rec[0], "also mine") == 0 && strcmp(txt.rec[1], "mine") == 0,
	   "only the asked name's TXT records, any case");
	is_int(txt.ttl, 200, "ttl: least over the records used");

	rc = dns_txt(d, "manytxt.fake", &txt);
	ok(rc == DNS_OK && txt.n == DNS_TXT_MAX && txt.more == 2, "TXT: %d kept, 2 counted in more", DNS_TXT_MAX);
	ok(txt.n == DNS_TXT_MAX && strcmp(txt.rec[0], "r03") == 0 && strcmp(txt.rec[DNS_TXT_MAX - 1], "r10") == 0,
	   "TXT: first in answer order kept, then sorted");
	rc = dns_txt(d, "longtxt.fake", &txt);
	ok(rc == DNS_OK && txt.n == 1 && txt.more == 1 && strcmp(txt.rec[0], "short") == 0,
	   "TXT longer than DNS_TXT_LEN_MAX: left out, counted");
	rc = dns_txt(d, "nul.fake", &txt);
	ok(rc == DNS_OK && txt.n == 1 && txt.len[0] == 3 && memcmp(txt.rec[0], "a\0b", 4) == 0,
	   "TXT with a NUL byte: len tells");
	rc = dns_txt(d, "bigttl.fake", &txt);
	ok(rc == DNS_OK && txt.ttl == 0, "TTL over 2^31-1 counts as 0");

	rc = dns_mx(d, "manymx.fake", &mx);
	ok(rc == DNS_OK && mx.n == DNS_MX_MAX && mx.more == 40 - DNS_MX_MAX, "MX: %d kept, rest counted",
	   DNS_MX_MAX);
	ok(mx.n == DNS_MX_MAX && mx.rr[0].pref == 1 && mx.rr[DNS_MX_MAX - 1].pref == DNS_MX_MAX &&
		   strcmp(mx.rr[0].host, "mx01.fake") == 0,
	   "MX: the most preferred kept, sorted");
	rc = dns_mx(d, "uppermx.fake", &mx);
	ok(rc == DNS_OK && mx.n == 1 && strcmp(mx.rr[0].host, "mx1.example.org") == 0, "MX host lower-cased: %s",
	   mx.n ? mx.rr[0].host : "");
	rc = dns_mx(d, "mixednull.fake", &mx);
	ok(rc == DNS_OK && mx.n == 1 && mx.nullmx == 0 && strcmp(mx.rr[0].host, "mx.fake") == 0,
	   "\".\" beside a real MX: dropped");

	rc = dns_addrs(d, "v6only.fake", &ad);
	ok(rc == DNS_OK && ad.n == 1 && ad.a[0].ss_family == AF_INET6 && ad.ttl == 45,
	   "AAAA only: ok, ttl capped by A's negative ttl (%u)", ad.ttl);
	rc = dns_addrs(d, "afail.fake", &ad);
	ok(rc == DNS_OK && ad.n == 1 && ad.fail_rc == DNS_TEMP, "A SERVFAIL, AAAA ok: ok, fail_rc temp");
}

static struct dns_tlsa tl;

static uint64_t ctr_get(int c)
{
	uint64_t v[MXS_CTR_MAX];

	ctr_copy(v);
	return v[c];
}

/* The DO bit out, the AD bit back, TLSA records. */
static void test_dnssec(struct dns *d)
{
	uint64_t ad0 = ctr_get(MXS_CTR_DNS_AD), noad0 = ctr_get(MXS_CTR_DNS_NOAD);
	int do0 = __atomic_load_n(&fake_do_seen, __ATOMIC_RELAXED);
	unsigned long q0 = fake_count();
	int rc;

	rc = dns_txt(d, "ad.fake", &txt);
	ok(rc == DNS_OK && txt.n == 1 && txt.ad == 1, "TXT with AD: ad 1");
	is_int(__atomic_load_n(&fake_do_seen, __ATOMIC_RELAXED) - do0, (int)(fake_count() - q0),
	       "every query carries the DO bit");
	is_int(ctr_get(MXS_CTR_DNS_AD) - ad0, 1, "an answer with AD is counted");
	rc = dns_mx(d, "ad.fake", &mx);
	ok(rc == DNS_OK && mx.n == 1 && mx.ad == 1, "MX with AD: ad 1");
	rc = dns_txt(d, "tgt.fake", &txt);
	ok(rc == DNS_OK && txt.ad == 0, "TXT without AD: ad 0");
	is_int(ctr_get(MXS_CTR_DNS_NOAD) - noad0, 1, "an answer without AD is counted");
	rc = dns_txt(d, "adnx.fake", &txt);
	ok(rc == DNS_NXDOMAIN && txt.ad == 1 && txt.neg_ttl == 90, "NXDOMAIN with AD: an authenticated denial");
	rc = dns_mx(d, "adnodata.fake", &mx);
	ok(rc == DNS_NODATA && mx.ad == 1 && mx.neg_ttl == 80, "NODATA with AD: an authenticated denial");
	rc = dns_txt(d, "adchain.fake", &txt);
	ok(rc == DNS_OK && txt.n == 1 && txt.ad == 0, "CNAME chain asked again: AD only if every answer had it");
	rc = dns_txt(d, "servfail.fake", &txt);
	ok(rc == DNS_TEMP && txt.ad == 0, "SERVFAIL: ad 0");
	rc = dns_addrs(d, "ad.fake", &ad);
	ok(rc == DNS_NODATA && ad.ad == 1, "A+AAAA: both denials with AD, ad 1 (rc %s)", dns_rc_name(rc));
	rc = dns_addrs(d, "v6only.fake", &ad);
	ok(rc == DNS_OK && ad.ad == 0, "A+AAAA without AD: ad 0");

	rc = dns_tlsa(d, "tlsa.fake", &tl);
	ok(rc == DNS_OK && tl.n == 3 && tl.ad == 1 && tl.more == 0 && tl.bad == 0, "TLSA: three records, ad");
	ok(tl.n == 3 && tl.rr[0].usage == 3 && tl.rr[0].selector == 1 && tl.rr[0].mtype == 1 && tl.rr[0].len == 32 &&
		   tl.rr[0].data[0] == 0x01 && tl.rr[0].data[31] == 0xef,
	   "TLSA 3 1 1: fields and 32 bytes of data");
	ok(tl.n == 3 && tl.rr[1].usage == 2 && tl.rr[1].selector == 0 && tl.rr[1].mtype == 2 && tl.rr[1].len == 64,
	   "TLSA 2 0 2: 64 bytes");
	ok(tl.n == 3 && tl.rr[2].mtype == 0 && tl.rr[2].len == 96 && tl.rr[2].data[DNS_TLSA_DATA_MAX - 1] == 0xef,
	   "TLSA full data of 96 bytes: len tells, %d kept", DNS_TLSA_DATA_MAX);
	is_int(tl.ttl, 200, "TLSA: least TTL, other names' records left out");
	rc = dns_tlsa(d, "tlsanoad.fake", &tl);
	ok(rc == DNS_OK && tl.n == 1 && tl.ad == 0, "TLSA from an unsigned zone: ad 0");
	rc = dns_tlsa(d, "tlsamany.fake", &tl);
	ok(rc == DNS_OK && tl.n == DNS_TLSA_MAX && tl.more == 2 && tl.rr[0].data[0] == 0,
	   "TLSA: %d kept, 2 counted in more", DNS_TLSA_MAX);
	rc = dns_tlsa(d, "tlsashort.fake", &tl);
	ok(rc == DNS_BAD || (rc == DNS_OK && tl.n == 0 && tl.bad == 1),
	   "TLSA rdata of 2 bytes: a malformed record, never kept (rc %s, n %zu, bad %zu)", dns_rc_name(rc), tl.n,
	   tl.bad);
	rc = dns_tlsa(d, "tlsa3.fake", &tl);
	ok((rc == DNS_OK && tl.n == 1 && tl.rr[0].len == 0 && tl.ad == 1) || rc == DNS_BAD,
	   "TLSA rdata of 3 bytes: fields, no data (rc %s)", dns_rc_name(rc));
	rc = dns_tlsa(d, "adnx.fake", &tl);
	ok(rc == DNS_NXDOMAIN && tl.ad == 1 && tl.n == 0, "TLSA NXDOMAIN with AD");
	rc = dns_tlsa(d, "servfail.fake", &tl);
	ok(rc == DNS_TEMP && tl.ad == 0 && tl.n == 0, "TLSA SERVFAIL: temporary, ad 0");
	is_int(dns_tlsa(d, "_25._tcp.a..b", &tl), DNS_BAD, "TLSA: bad name");
}

static void test_timeout(uint16_t dnsmasq_port)
{
	struct config_addr srv[2];
	uint16_t p1, p2;
	int h1 = udp_socket(&p1), h2 = udp_socket(&p2);
	struct dns *d;
	double t0, el;
	int rc;

	/* bound and never read: datagrams vanish, nothing answers */
	ok(h1 >= 0 && h2 >= 0, "silent sockets");
	srv[0] = addr4(p1);
	srv[1] = addr4(p2);

	d = handle(srv, 1, TMO_MS, 1);
	t0 = now_ms();
	rc = dns_txt(d, "single.test", &txt);
	el = now_ms() - t0;
	is_int(rc, DNS_TIMEOUT, "silent server: timeout");
	ok(el >= 2 * TMO_MS - 20 && el <= 2 * TMO_MS + SLACK_MS, "1 server, 1 retry, %d ms: %.0f ms", TMO_MS, el);
	printf("# timeout: 1 server x 2 tries x %d ms took %.0f ms\n", TMO_MS, el);
	t0 = now_ms();
	rc = dns_addrs(d, "h.test", &ad);
	el = now_ms() - t0;
	ok(rc == DNS_TIMEOUT && el <= 2 * TMO_MS + SLACK_MS, "A+AAAA, silent server: AAAA not asked (%.0f ms)", el);
	dns_free(d);

	d = handle(srv, 2, TMO_MS, 0);
	t0 = now_ms();
	rc = dns_mx(d, "mx.test", &mx);
	el = now_ms() - t0;
	ok(rc == DNS_TIMEOUT && el >= 2 * TMO_MS - 20 && el <= 2 * TMO_MS + SLACK_MS,
	   "2 servers, no retry: %.0f ms", el);
	printf("# timeout: 2 servers x 1 try x %d ms took %.0f ms\n", TMO_MS, el);
	dns_free(d);

	/* a dead first server costs one timeout, then the live one is asked first */
	srv[1] = addr4(dnsmasq_port);
	d = handle(srv, 2, TMO_MS, 0);
	t0 = now_ms();
	rc = dns_txt(d, "single.test", &txt);
	el = now_ms() - t0;
	ok(rc == DNS_OK && el >= TMO_MS - 20 && el <= TMO_MS + SLACK_MS, "dead first server: next answers (%.0f ms)",
	   el);
	t0 = now_ms();
	rc = dns_txt(d, "single.test", &txt);
	el = now_ms() - t0;
	ok(rc == DNS_OK && el < FAST_MS, "then the live server is asked first (%.0f ms)", el);
	dns_free(d);

	close(h1);
	close(h2);
}

struct worker {
	const struct config_addr *srv;
	int bad;
	int done;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct dns_txt *t = malloc(sizeof(*t));
	struct dns_mx m;
	struct dns_addr a;
	struct dns *d = handle(w->srv, 1, 2000, 1);
	int i;

	if (d == NULL || t == NULL) {
		w->bad = -1;
		goto done;
	}
	for (i = 0; i < THREAD_ROUNDS; i++) {
		if (dns_txt(d, i % 2 ? "split.test" : "two.test", t) != DNS_OK || t->n != (size_t)(i % 2 ? 1 : 2))
			w->bad++;
		if (dns_mx(d, "mx.test", &m) != DNS_OK || m.n != 3 || strcmp(m.rr[0].host, "mx-c.test") != 0)
			w->bad++;
		if (dns_addrs(d, "h.test", &a) != DNS_OK || a.n != 3)
			w->bad++;
		w->done++;
	}
done:
	dns_free(d);
	free(t);
	return NULL;
}

static void test_threads(const struct config_addr *srv)
{
	struct worker w[2];
	pthread_t th[2];
	int i, started[2];

	memset(w, 0, sizeof(w));
	for (i = 0; i < 2; i++) {
		w[i].srv = srv;
		started[i] = pthread_create(&th[i], NULL, worker_main, &w[i]) == 0;
	}
	for (i = 0; i < 2; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		ok(w[i].bad == 0 && w[i].done == THREAD_ROUNDS, "thread %d: %d rounds, %d wrong", i, w[i].done,
		   w[i].bad);
	}
}

int main(void)
{
	char bigarg[sizeof(big) + 64];
	struct config_addr rec_srv, auth_srv, fake_srv;
	uint16_t rec_port, auth_port;
	pid_t rec_pid = -1, auth_pid = -1;
	struct dns *d;
	size_t i, o;

	/* dns.h: the TCP fallback may write to a closed socket */
	signal(SIGPIPE, SIG_IGN);

	test_rc_names();
	test_new();

	if (access(DNSMASQ, X_OK) != 0) {
		ok(0, "%s is installed (make test installs it)", DNSMASQ);
		return tap_done();
	}
	for (i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + i / BIG_STR);
	o = (size_t)snprintf(bigarg, sizeof(bigarg), "--txt-record=big.test");
	for (i = 0; i < BIG_NSTR; i++)
		o += (size_t)snprintf(bigarg + o, sizeof(bigarg) - o, ",%.*s", BIG_STR, big + i * BIG_STR);

	rec_port = free_port();
	{
		const char *extra[] = {
			"--local=/test/",
			"--local-ttl=300",
			"--txt-record=single.test,v=DMARC1; p=reject",
			"--txt-record=split.test,v=STSv1; ,id=20240101",
			"--txt-record=two.test,second",
			"--txt-record=two.test,first",
			bigarg,
			"--cname=alias.test,single.test,60",
			"--cname=alias2.test,alias.test",
			"--mx-host=mx.test,mx-b.test,20",
			"--mx-host=mx.test,MX-C.test,10",
			"--mx-host=mx.test,mx-a.test,20",
			"--mx-host=nullmx.test,.,0",
			/* one address per family per option */
			"--host-record=h.test,192.0.2.10,2001:db8::1",
			"--host-record=h.test,192.0.2.2",
			"--host-record=v4.test,192.0.2.7",
			NULL,
		};
		ok(rec_port != 0 && dnsmasq_start(rec_port, extra, &rec_pid) == 0, "dnsmasq (local data) on port %u",
		   rec_port);
	}
	auth_port = free_port();
	{
		const char *extra[] = {
			"--auth-server=ns.auth.test,127.0.0.1",
			"--auth-zone=auth.test",
			"--auth-soa=1,hostmaster.auth.test",
			"--auth-ttl=600",
			"--txt-record=x.auth.test,hi",
			NULL,
		};
		ok(auth_port != 0 && dnsmasq_start(auth_port, extra, &auth_pid) == 0,
		   "dnsmasq (authoritative zone) on port %u", auth_port);
	}
	i = fake_start() == 0;
	ok(i, "fake server on port %u", fake_port);
	rec_srv = addr4(rec_port);
	auth_srv = addr4(auth_port);
	fake_srv = addr4(fake_port);

	d = handle(&rec_srv, 1, 2000, 1);
	ok(d != NULL, "handle on dnsmasq");
	if (d != NULL) {
		test_txt(d);
		test_mx(d);
		test_addrs(d);
		dns_free(d);
	}
	d = handle(&auth_srv, 1, 2000, 1);
	if (d != NULL)
		test_auth(d);
	dns_free(d);

	d = handle(&fake_srv, 1, TMO_MS, 1);
	if (d != NULL) {
		test_bad_names(d);
		test_fake(d);
		test_dnssec(d);
	}
	dns_free(d);

	test_timeout(rec_port);
	test_threads(&rec_srv);

	fake_end();
	dnsmasq_stop(rec_pid);
	dnsmasq_stop(auth_pid);
	return tap_done();
}
