/*
 * test_tlspin - TLS pins: what the daemon accepts as a pin's domain and
 * policy (tlspin_domain, tlspin_policy), and the client's lookups of the
 * table (mxc_tls_pin_get, mxc_tls_pin_foreach) over a region built here:
 * any spelling of a domain, IP literals refused, a buffer too small, a
 * damaged value reported, never guessed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "daemon/tlspin.h"
#include "shm/key.h"
#include "shm/layout.h"
#include "shm/tlspin.h"
#include "tests/fixture.h"
#include "tests/tap.h"

static char dir[] = "/tmp/mxc-test-tlspin.XXXXXX";

struct dvec {
	const char *in;
	const char *want;            /* canonical, or NULL: refused */
	const char *what;
};

static const struct dvec dvecs[] = {
	{ "Example.COM.", "example.com", "case and the trailing dot fold" },
	{ "b\xc3\xbc" "cher.example", "xn--bcher-kva.example", "a U-label becomes its A-label" },
	{ "192.0.2.1", NULL, "an IPv4 literal is refused" },
	{ "[192.0.2.1]", NULL, "a bracketed one too" },
	{ "[IPv6:2001:db8::1]", NULL, "an IPv6 literal too" },
	{ "", NULL, "an empty domain" },
	{ "not a domain", NULL, "blanks" },
	{ "a\nb.example", NULL, "a line break" },
};

struct pvec {
	const char *policy;
	int ok;
	const char *what;
};

static const struct pvec pvecs[] = {
	{ "may", 1, "a level alone" },
	{ "dane-only", 1, "dane-only" },
	{ "secure match=mx.example.net servername=hostname", 1, "a level and attributes" },
	{ "secure match=.example.net:mx.example.org", 1, "a match list" },
	{ "foo", 0, "an unknown level" },
	{ "Secure", 0, "levels are lower case, as Postfix writes them" },
	{ "", 0, "empty" },
	{ "secure  match=x", 0, "two spaces" },
	{ "secure match", 0, "an attribute without =" },
	{ "secure =x", 0, "an attribute without a name" },
	{ "secure match=", 0, "an attribute without a value" },
	{ "secure ", 0, "a trailing space" },
	{ "may\tx=y", 0, "a tab" },
	{ "may x=\x7f", 0, "DEL" },
	{ "may x=\xc3\xa9", 0, "a non-ASCII byte" },
};

static int count_one(const char *domain, const char *policy, int64_t created, int64_t updated, void *arg)
{
	int *n = arg;

	(*n)++;
	if (strcmp(domain, "pinned.example") == 0)
		ok(strcmp(policy, "secure match=mx.pinned.example") == 0 && created == 100 && updated == 200,
		   "foreach: domain, policy and times as stored");
	return 0;
}

static int stop_early(const char *domain, const char *policy, int64_t created, int64_t updated, void *arg)
{
	(void)domain;
	(void)policy;
	(void)created;
	(void)updated;
	(void)arg;
	return 42;
}

static int put(struct region *r, const char *d, const char *policy, int64_t c, int64_t u)
{
	uint8_t val[MXS_PIN_VALUE_MAX];
	size_t vlen = mxc_pin_value_encode(val, c, u, policy, strlen(policy));

	if (vlen == 0 || region_put(r, MXS_TAB_TLSPIN, d, strlen(d), val, vlen, NULL, 0) < 0)
		return -1;
	region_publish(r);
	return 0;
}

int main(void)
{
	char out[MXK_MAX_LEN + 1], err[TLSPIN_ERR_MAX], pol[MXC_PIN_POLICY_MAX + 1], why[256], big[MXS_PIN_POLICY_MAX + 2];
	struct region *r;
	size_t i, len;
	int n, rc;
	mxc_t *h;

	log_init(1, LOG_WARNING);

	/* --- the daemon's checks */
	for (i = 0; i < sizeof(dvecs) / sizeof(dvecs[0]); i++) {
		err[0] = '\0';
		rc = tlspin_domain(dvecs[i].in, out, &len, err, sizeof(err));
		if (dvecs[i].want != NULL)
			ok(rc == 0 && strcmp(out, dvecs[i].want) == 0 && len == strlen(dvecs[i].want), "domain: %s",
			   dvecs[i].what);
		else
			ok(rc == -1 && err[0] != '\0', "domain: %s (%s)", dvecs[i].what, err);
	}
	tlspin_domain("192.0.2.1", out, &len, err, sizeof(err));
	ok(strstr(err, "an IP literal") != NULL, "an IP literal is said to be one");
	for (i = 0; i < sizeof(pvecs) / sizeof(pvecs[0]); i++) {
		err[0] = '\0';
		rc = tlspin_policy(pvecs[i].policy, err, sizeof(err));
		ok(pvecs[i].ok ? rc == 0 : rc == -1 && err[0] != '\0', "policy: %s", pvecs[i].what);
	}
	memcpy(big, "may x=", 6);
	memset(big + 6, 'a', sizeof(big) - 7);
	big[MXS_PIN_POLICY_MAX] = '\0';
	ok(tlspin_policy(big, err, sizeof(err)) == 0, "policy: 1024 bytes are taken");
	big[MXS_PIN_POLICY_MAX] = 'a';
	big[MXS_PIN_POLICY_MAX + 1] = '\0';
	ok(tlspin_policy(big, err, sizeof(err)) == -1 && strstr(err, "longer than 1024") != NULL,
	   "policy: 1025 bytes are not");

	/* --- the client's lookups */
	if (fixture_dir(dir) != 0)
		return 1;
	if (fixture_region(dir, 16, &r) != 0 || region_go_live(r) != 0 || mxc_open(dir, &h) != MXC_OK) {
		ok(0, "region");
		return tap_done();
	}
	is_int(mxc_tls_pin_get(h, "pinned.example", pol, sizeof(pol)), MXC_NOTFOUND, "no pin: NOTFOUND");
	ok(put(r, "pinned.example", "secure match=mx.pinned.example", 100, 200) == 0 &&
		   put(r, "other.example", "dane-only", 300, 300) == 0,
	   "two pins put");
	is_int(mxc_tls_pin_get(h, "Pinned.EXAMPLE.", pol, sizeof(pol)), MXC_OK, "get: any spelling");
	is_str(pol, "secure match=mx.pinned.example", "get: the policy, NUL-terminated");
	is_int(mxc_tls_pin_get(h, "pinned.example", pol, 30), MXC_ETOOSMALL, "get: no room for the NUL: ETOOSMALL");
	is_int(mxc_tls_pin_get(h, "pinned.example", pol, 31), MXC_OK, "get: just enough room");
	is_int(mxc_tls_pin_get(h, "sub.pinned.example", pol, sizeof(pol)), MXC_NOTFOUND,
	       "get: a pin is one domain, not its subdomains");
	is_int(mxc_tls_pin_get(h, "192.0.2.1", pol, sizeof(pol)), MXC_EINVAL, "get: an IP literal is EINVAL");
	is_int(mxc_tls_pin_get(h, "not a domain", pol, sizeof(pol)), MXC_EINVAL, "get: not a domain: EINVAL");
	is_int(mxc_tls_pin_get(h, NULL, pol, sizeof(pol)), MXC_EINVAL, "get: NULL domain: EINVAL");
	n = 0;
	is_int(mxc_tls_pin_foreach(h, count_one, &n), MXC_OK, "foreach");
	is_int(n, 2, "foreach: every pin");
	is_int(mxc_tls_pin_foreach(h, stop_early, NULL), 42, "foreach: fn's non-zero ends the walk and is returned");
	is_int(mxc_tls_pin_foreach(h, NULL, NULL), MXC_EINVAL, "foreach: NULL fn: EINVAL");
	is_int(mxc_verify(h, why, sizeof(why)), MXC_OK, "verify accepts the pins");
	{
		/* a value that is no pin's: reported, not read past */
		uint8_t junk[MXS_PIN_VALUE_HDR + 3];

		memset(junk, 0, sizeof(junk));
		junk[16] = 200;     /* a length beyond the value */
		region_put(r, MXS_TAB_TLSPIN, "damaged.example", 15, junk, sizeof(junk), NULL, 0);
		region_publish(r);
		is_int(mxc_tls_pin_get(h, "damaged.example", pol, sizeof(pol)), MXC_ECORRUPT, "a damaged value: ECORRUPT");
		is_int(mxc_tls_pin_foreach(h, count_one, &n), MXC_ECORRUPT, "foreach reports it too");
		is_int(mxc_verify(h, why, sizeof(why)), MXC_ECORRUPT, "verify finds it");
		region_del(r, MXS_TAB_TLSPIN, "damaged.example", 15);
		region_publish(r);
	}
	region_del(r, MXS_TAB_TLSPIN, "pinned.example", 14);
	region_publish(r);
	is_int(mxc_tls_pin_get(h, "pinned.example", pol, sizeof(pol)), MXC_NOTFOUND, "deleted: NOTFOUND");
	mxc_close(h);
	fixture_cleanup(dir, r);
	return tap_done();
}
