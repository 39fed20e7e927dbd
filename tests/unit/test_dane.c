/*
 * test_dane - daemon/dane.c's verdict (dane_verdict, dane_tlsa_usable,
 * dane_hosts): every row of the decision, from answers made up here, so
 * no signed zone is needed.  Then whole checks (sts_check) against a
 * resolver thread of this program that sets AD where a validating one
 * would: the DANE state of a domain without MTA-STS, when its entry is
 * checked again, and a dead resolver.  The lookups themselves (the AD
 * bit, TLSA records on the wire) are test_dns's.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "daemon/dane.h"
#include "daemon/sts.h"
#include "shm/sts.h"
#include "tests/tap.h"

#define NOW      1000000
#define MX_TTL   3600
#define TLSA_TTL 600

static struct dns_mx mx;
static struct dns_tlsa tlsa[DANE_HOSTS_MAX];
static struct dane_in in;

/* An authenticated MX answer with n hosts mx1.example .. mxN.example. */
static void mx_set(int rc, size_t n, int ad)
{
	size_t i;

	memset(&mx, 0, sizeof(mx));
	memset(&in, 0, sizeof(in));
	memset(tlsa, 0, sizeof(tlsa));
	in.mx_rc = rc;
	in.mx = &mx;
	mx.ad = ad;
	if (rc == DNS_OK) {
		mx.ttl = MX_TTL;
		mx.n = n;
		for (i = 0; i < n; i++) {
			mx.rr[i].pref = (uint16_t)(10 * (i + 1));
			snprintf(mx.rr[i].host, sizeof(mx.rr[i].host), "mx%zu.example", i + 1);
		}
	} else {
		mx.neg_ttl = MX_TTL;
	}
}

/* Host i's TLSA answer: rc, ad, and one record (usage, selector, mtype, len). */
static void tlsa_set(size_t i, int rc, int ad, int usage, int sel, int mt, size_t len)
{
	struct dns_tlsa *t = &tlsa[i];

	memset(t, 0, sizeof(*t));
	t->ad = ad;
	if (rc == DNS_OK) {
		t->ttl = TLSA_TTL;
		t->n = 1;
		t->rr[0].usage = (uint8_t)usage;
		t->rr[0].selector = (uint8_t)sel;
		t->rr[0].mtype = (uint8_t)mt;
		t->rr[0].len = len;
	} else if (rc > 0) {
		t->neg_ttl = TLSA_TTL;
	}
	in.tlsa_rc[i] = rc;
	in.tlsa[i] = t;
	if (in.nhosts < i + 1)
		in.nhosts = i + 1;
}

static void test_usable(void)
{
	static const struct {
		int usage, sel, mt;
		size_t len;
		int want;
		const char *what;
	} rows[] = {
		{ 3, 1, 1, 32, 1, "DANE-EE SPKI SHA2-256" },
		{ 3, 0, 1, 32, 1, "DANE-EE Cert SHA2-256" },
		{ 2, 0, 1, 32, 1, "DANE-TA Cert SHA2-256" },
		{ 2, 1, 2, 64, 1, "DANE-TA SPKI SHA2-512" },
		{ 3, 1, 0, 294, 1, "DANE-EE SPKI Full" },
		{ 3, 1, 0, 0, 0, "Full with no data" },
		{ 0, 0, 1, 32, 0, "PKIX-TA: not for SMTP" },
		{ 1, 0, 1, 32, 0, "PKIX-EE: not for SMTP" },
		{ 4, 0, 1, 32, 0, "unknown usage" },
		{ 3, 2, 1, 32, 0, "unknown selector" },
		{ 3, 1, 3, 32, 0, "unknown matching type" },
		{ 3, 1, 1, 31, 0, "SHA2-256 of 31 bytes" },
		{ 3, 1, 1, 64, 0, "SHA2-256 of 64 bytes" },
		{ 3, 1, 2, 32, 0, "SHA2-512 of 32 bytes" },
	};
	struct dns_tlsa_rr rr;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&rr, 0, sizeof(rr));
		rr.usage = (uint8_t)rows[i].usage;
		rr.selector = (uint8_t)rows[i].sel;
		rr.mtype = (uint8_t)rows[i].mt;
		rr.len = rows[i].len;
		is_int(dane_tlsa_usable(&rr), rows[i].want, rows[i].what);
	}
}

static void test_hosts(void)
{
	const char *host[DANE_HOSTS_MAX];
	size_t n;

	mx_set(DNS_OK, 12, 1);
	n = dane_hosts("example", DNS_OK, &mx, host);
	ok(n == DANE_HOSTS_MAX && strcmp(host[0], "mx1.example") == 0 &&
		   strcmp(host[DANE_HOSTS_MAX - 1], "mx8.example") == 0,
	   "12 MX hosts: the %d most preferred asked (%zu)", DANE_HOSTS_MAX, n);
	mx_set(DNS_NODATA, 0, 1);
	n = dane_hosts("example", DNS_NODATA, &mx, host);
	ok(n == 1 && strcmp(host[0], "example") == 0, "no MX: the domain itself");
	mx_set(DNS_OK, 1, 1);
	mx.nullmx = 1;
	is_int(dane_hosts("example", DNS_OK, &mx, host), 0, "null MX: no host");
	mx_set(DNS_NXDOMAIN, 0, 1);
	is_int(dane_hosts("example", DNS_NXDOMAIN, &mx, host), 0, "NXDOMAIN: no host");
	mx_set(DNS_TEMP, 0, 0);
	is_int(dane_hosts("example", DNS_TEMP, &mx, host), 0, "failure: no host");
}

static void test_verdict(void)
{
	struct dane_state st, prev;

	/* usable: MX authenticated, one host with authenticated DANE-EE */
	mx_set(DNS_OK, 2, 1);
	tlsa_set(0, DNS_NODATA, 1, 0, 0, 0, 0);
	tlsa_set(1, DNS_OK, 1, 3, 1, 1, 32);
	dane_verdict(&in, NULL, NOW, &st);
	is_int(st.dane, MXS_DANE_USABLE, "usable: one host of two has usable TLSA");
	is_int(st.flags, MXS_DANE_F_MX_AD | MXS_DANE_F_SEEN_AD, "usable: MX authenticated, AD seen");
	is_int(st.valid_end, NOW + TLSA_TTL, "usable: least TTL (TLSA's)");
	ok(st.next_check > NOW && st.next_check < st.valid_end, "usable: checked again before it ends");

	/* only unusable records: PKIX usages, bad selector, wrong hash length */
	mx_set(DNS_OK, 3, 1);
	tlsa_set(0, DNS_OK, 1, 1, 0, 1, 32);
	tlsa_set(1, DNS_OK, 1, 3, 7, 1, 32);
	tlsa_set(2, DNS_OK, 1, 3, 1, 2, 32);
	tlsa[2].n = 2;
	tlsa[2].rr[1].usage = 0;
	dane_verdict(&in, NULL, NOW, &st);
	is_int(st.dane, MXS_DANE_UNUSABLE, "only unusable TLSA (PKIX-EE, selector 7, SHA2-512 of 32, PKIX-TA)");
	ok(st.flags & MXS_DANE_F_MX_AD, "unusable: MX authenticated");

	/* malformed records only, authenticated: records exist, none usable */
	mx_set(DNS_OK, 1, 1);
	tlsa_set(0, DNS_OK, 1, 0, 0, 0, 0);
	tlsa[0].n = 0;
	tlsa[0].bad = 1;
	dane_verdict(&in, NULL, NOW, &st);
	is_int(st.dane, MXS_DANE_UNUSABLE, "malformed TLSA only: unusable");

	/* unsigned TLSA zone: a usable-looking record without AD never counts */
	mx_set(DNS_OK, 1, 1);
	tlsa_set(0, DNS_OK, 0, 3, 1, 1, 32);
	dane_verdict(&in, NULL, NOW, &st);
	is_int(st.dane, MXS_DANE_NONE, "TLSA without AD: none");
	ok(st.flags & MXS_DANE_F_MX_AD, "TLSA without AD: the MX was authenticated");

	/* MX not authenticated: no TLSA counts, even an authenticated one */
	mx_set(DNS_OK, 1, 0);
	tlsa_set(0, DNS_OK, 1, 3, 1, 1, 32);
	dane_verdict(&in, NULL, NOW, &st);
	is_int(st.dane, MXS_DANE_NONE, "MX not authenticated: none");
	ok(!(st.flags & MXS_DANE_F_MX_AD), "MX not authenticated: MXS_DANE_F_MX_AD clear");
	is_int(st.valid_end, NOW + MX_TTL, "MX not authenticated: for the MX TTL");
	mx_set(DNS_OK, 1, 0);
	dane_verdict(&in, NULL, NOW, &st);
	ok(st.dane == MXS_DANE_NONE && st.flags == 0, "no AD anywhere: none, no flag (%d)", st.flags);

	/* implicit MX: NODATA, authenticated; the domain itself has TLSA */
	mx_set(DNS_NODATA, 0, 1);
	tlsa_set(0, DNS_OK, 1, 2, 0, 2, 64);
	dane_verdict(&in, NULL, NOW, &st);
	is_int(st.dane, MXS_DANE_USABLE, "implicit MX with usable TLSA: usable");
	is_int(st.valid_end, NOW + TLSA_TTL, "implicit MX: least of the denial's and TLSA's TTL");
	mx_set(DNS_NODATA, 0, 1);
	tlsa_set(0, DNS_NXDOMAIN, 1, 0, 0, 0, 0);
	dane_verdict(&in, NULL, NOW, &st);
	is_int(st.dane, MXS_DANE_NONE, "implicit MX, authenticated denial of TLSA: none");
	mx_set(DNS_NODATA, 0, 1);
	dane_verdict(&in, NULL, NOW, &st);
	ok(st.dane == MXS_DANE_UNKNOWN && (st.flags & MXS_DANE_F_TEMP),
	   "implicit MX, TLSA not asked: a check cut short, not none");

	/* null MX and NXDOMAIN: no mail, no DANE */
	mx_set(DNS_OK, 1, 1);
	mx.nullmx = 1;
	mx.rr[0].host[0] = '\0';
	dane_verdict(&in, NULL, NOW, &st);
	ok(st.dane == MXS_DANE_NONE && (st.flags & MXS_DANE_F_MX_AD), "null MX: none");
	mx_set(DNS_NXDOMAIN, 0, 1);
	dane_verdict(&in, NULL, NOW, &st);
	ok(st.dane == MXS_DANE_NONE && st.valid_end == NOW + MX_TTL, "NXDOMAIN: none, for the negative TTL");

	/* TTLs are clamped */
	mx_set(DNS_OK, 1, 1);
	mx.ttl = 5;
	tlsa_set(0, DNS_OK, 1, 3, 1, 1, 32);
	dane_verdict(&in, NULL, NOW, &st);
	is_int(st.valid_end, NOW + DANE_TTL_MIN, "TTL 5: stands DANE_TTL_MIN");
	mx.ttl = 10 * DANE_TTL_MAX;
	tlsa[0].ttl = 10 * DANE_TTL_MAX;
	dane_verdict(&in, NULL, NOW, &st);
	is_int(st.valid_end, NOW + DANE_TTL_MAX, "huge TTL: stands DANE_TTL_MAX");

	/* a temporary failure keeps the state before */
	prev.dane = MXS_DANE_USABLE;
	prev.flags = MXS_DANE_F_MX_AD | MXS_DANE_F_SEEN_AD;
	prev.valid_end = NOW + 10;
	prev.next_check = NOW - 1;
	mx_set(DNS_TEMP, 0, 0);
	dane_verdict(&in, &prev, NOW, &st);
	is_int(st.dane, MXS_DANE_USABLE, "MX SERVFAIL: usable kept");
	ok((st.flags & MXS_DANE_F_TEMP) && (st.flags & MXS_DANE_F_MX_AD) && !(st.flags & MXS_DANE_F_SEEN_AD),
	   "MX SERVFAIL: TEMP set, MX_AD kept, no AD seen this time (%d)", st.flags);
	ok(st.valid_end >= NOW + DANE_RETRY_S && st.next_check == NOW + DANE_RETRY_S,
	   "MX SERVFAIL: held past the retry, retried sooner");

	mx_set(DNS_OK, 2, 1);
	tlsa_set(0, DNS_OK, 1, 3, 1, 1, 32);
	tlsa_set(1, DNS_TIMEOUT, 0, 0, 0, 0, 0);
	prev.dane = MXS_DANE_NONE;
	prev.flags = MXS_DANE_F_MX_AD;
	prev.valid_end = NOW + 100;
	dane_verdict(&in, &prev, NOW, &st);
	ok(st.dane == MXS_DANE_NONE && st.valid_end == NOW + 100 && (st.flags & MXS_DANE_F_TEMP),
	   "TLSA timeout on the second host: none kept as it was, never turned usable");
	ok(st.flags & MXS_DANE_F_SEEN_AD, "TLSA timeout: AD seen on the answers before it");

	mx_set(DNS_OK, 1, 1);
	tlsa_set(0, DNS_TEMP, 0, 0, 0, 0, 0);
	dane_verdict(&in, NULL, NOW, &st);
	ok(st.dane == MXS_DANE_UNKNOWN && st.valid_end == 0 && (st.flags & MXS_DANE_F_TEMP),
	   "TLSA SERVFAIL (bogus?) with nothing before: unknown, never usable");

	prev.dane = MXS_DANE_UNUSABLE;
	prev.valid_end = NOW + 7200;
	mx_set(DNS_BAD, 0, 0);
	dane_verdict(&in, &prev, NOW, &st);
	ok(st.dane == MXS_DANE_UNUSABLE && st.valid_end == NOW + 7200, "broken MX answer: unusable kept as it was");
}

/* ---- whole checks, against a resolver thread ---------------------------------- */
/*
 * It answers as a validating resolver would for a signed zone under
 * signed.example and an unsigned one under plain.example: no MTA-STS
 * record anywhere (NXDOMAIN), MX and TLSA as their names say.  Names
 * under dead.example get no answer at all.
 */
#define CHECK_TMO_MS 200
#define TLSA_HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int res_fd;
static int res_stop;                 /* __atomic */
static unsigned long res_queries;    /* __atomic */
static pthread_t res_thread;

static void res_push(ldns_pkt *p, ldns_pkt_section sec, const char *text)
{
	ldns_rr *rr = NULL;

	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) == LDNS_STATUS_OK)
		ldns_pkt_push_rr(p, sec, rr);
}

static ldns_pkt *res_reply(const ldns_pkt *q, const char *name, ldns_rr_type type)
{
	ldns_pkt *r = ldns_pkt_new();
	int is_signed = strstr(name, "signed.example.") != NULL;
	char line[256];

	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_rd(r, true);
	ldns_pkt_set_ra(r, true);
	ldns_pkt_set_ad(r, is_signed);
	ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0)));
	if (type == LDNS_RR_TYPE_MX && strncmp(name, "_", 1) != 0) {
		snprintf(line, sizeof(line), "%s 3600 IN MX 10 mx.%s", name, name);
		res_push(r, LDNS_SECTION_ANSWER, line);
	} else if (type == LDNS_RR_TYPE_TLSA && strncmp(name, "_25._tcp.mx.", 12) == 0) {
		snprintf(line, sizeof(line), "%s 600 IN TLSA 3 1 1 " TLSA_HEX, name);
		res_push(r, LDNS_SECTION_ANSWER, line);
	} else {
		ldns_pkt_set_rcode(r, LDNS_RCODE_NXDOMAIN);
		res_push(r, LDNS_SECTION_AUTHORITY, "example. 3600 IN SOA ns.example. h.example. 1 7200 900 86400 900");
	}
	return r;
}

static void *res_main(void *arg)
{
	uint8_t buf[LDNS_MAX_PACKETLEN];
	struct sockaddr_storage from;

	(void)arg;
	while (!__atomic_load_n(&res_stop, __ATOMIC_ACQUIRE)) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(res_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		ldns_pkt *q = NULL, *r;
		uint8_t *wire = NULL;
		size_t wl = 0;
		const ldns_rr *qrr;
		char *name;

		if (n <= 0 || ldns_wire2pkt(&q, buf, (size_t)n) != LDNS_STATUS_OK)
			continue;
		__atomic_add_fetch(&res_queries, 1, __ATOMIC_RELAXED);
		qrr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
		name = qrr != NULL ? ldns_rdf2str(ldns_rr_owner(qrr)) : NULL;
		if (name != NULL && strstr(name, "dead.example.") == NULL) {
			r = res_reply(q, name, ldns_rr_get_type(qrr));
			if (ldns_pkt2wire(&wire, r, &wl) == LDNS_STATUS_OK)
				sendto(res_fd, wire, wl, 0, (struct sockaddr *)&from, fl);
			free(wire);
			ldns_pkt_free(r);
		}
		free(name);
		ldns_pkt_free(q);
	}
	return NULL;
}

static int res_start(struct config_addr *a)
{
	struct timeval tv = { 0, 50000 };
	struct sockaddr_in s;
	socklen_t sl = sizeof(s);

	memset(a, 0, sizeof(*a));
	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	res_fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (res_fd < 0 || bind(res_fd, (struct sockaddr *)&s, sizeof(s)) != 0 ||
	    getsockname(res_fd, (struct sockaddr *)&s, &sl) != 0 ||
	    setsockopt(res_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
		return -1;
	memcpy(&a->ss, &s, sizeof(s));
	a->len = sizeof(s);
	snprintf(a->text, sizeof(a->text), "127.0.0.1:%u", ntohs(s.sin_port));
	return pthread_create(&res_thread, NULL, res_main, NULL) == 0 ? 0 : -1;
}

static void res_end(void)
{
	__atomic_store_n(&res_stop, 1, __ATOMIC_RELEASE);
	pthread_join(res_thread, NULL);
	close(res_fd);
}

static void test_checks(void)
{
	struct config_addr srv;
	struct dns_cfg cfg;
	struct sts_ctx ctx;
	struct sts_rec *cur = calloc(1, sizeof(*cur)), *out = calloc(1, sizeof(*out));
	unsigned long q0;
	char err[256];
	int rc;

	if (cur == NULL || out == NULL || res_start(&srv) != 0) {
		ok(0, "resolver thread");
		free(cur);
		free(out);
		return;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.servers = &srv;
	cfg.nservers = 1;
	cfg.timeout_ms = CHECK_TMO_MS;
	memset(&ctx, 0, sizeof(ctx));
	ctx.dns = dns_new(&cfg, err, sizeof(err));
	ctx.refresh_s = 43200;
	ctx.backoff_s = 300;
	ok(ctx.dns != NULL, "a resolver handle");

	/* DANE and no MTA-STS: a none entry whose DANE state is kept up */
	rc = sts_check(&ctx, "signed.example", NULL, NOW, 0, out);
	is_int(rc, STS_CHECK_NONE, "signed.example: no MTA-STS");
	is_int(out->dane, MXS_DANE_USABLE, "signed.example: DANE usable");
	is_int(out->dane_flags, MXS_DANE_F_MX_AD | MXS_DANE_F_SEEN_AD, "signed.example: MX authenticated, AD seen");
	is_int(out->dane_valid_end, NOW + 600, "signed.example: for the least TTL (TLSA's 600 s)");
	ok(out->next_check > NOW && out->next_check < out->dane_valid_end,
	   "signed.example: the none entry is checked again before its DANE state ends (in %lld s)",
	   (long long)(out->next_check - NOW));

	/* checked again, the resolver gone: the state stands, retried sooner */
	*cur = *out;
	q0 = __atomic_load_n(&res_queries, __ATOMIC_RELAXED);
	rc = sts_check(&ctx, "signed.dead.example", cur, NOW + 500, 0, out);
	is_int(rc, STS_CHECK_FAILED, "resolver silent: the check failed");
	is_int(__atomic_load_n(&res_queries, __ATOMIC_RELAXED) - q0, 1,
	       "resolver silent: the TXT timeout ends the check, no MX or TLSA asked");
	ok(out->dane == MXS_DANE_USABLE && (out->dane_flags & MXS_DANE_F_TEMP), "resolver silent: usable kept, TEMP set");
	ok(out->dane_valid_end >= NOW + 500 + DANE_RETRY_S && out->next_check == NOW + 500 + DANE_RETRY_S,
	   "resolver silent: held past the retry, retried after %d s", DANE_RETRY_S);

	/* unsigned: none, and the none entry waits for a client as before */
	rc = sts_check(&ctx, "plain.example", NULL, NOW, 0, out);
	ok(rc == STS_CHECK_NONE && out->dane == MXS_DANE_NONE && out->dane_flags == 0,
	   "plain.example: DANE none, no AD (flags %d)", out->dane_flags);
	ok(out->next_check == INT64_MAX, "plain.example: not revisited for DANE");

	dns_free(ctx.dns);
	res_end();
	free(cur);
	free(out);
}

int main(void)
{
	test_usable();
	test_hosts();
	test_verdict();
	test_checks();
	return tap_done();
}
