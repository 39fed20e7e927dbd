/*
 * fuzz_socketmap - the socketmap protocol (client/sm_proto.c: netstrings,
 * "name key", every map, the answers) on arbitrary bytes, fed in
 * arbitrary pieces as a socket delivers them.  The maps answer from a real
 * region built once: an override, MTA-STS policies in enforce and testing
 * mode, federation settings and a rule, so the keys that name them reach
 * the answer building, not only the error paths.  The first byte chooses
 * the piece size and the map options (strict testing, TLSRPT attributes).
 * Every reply queued is read back: a netstring of at most SM_REPLY_MAX
 * bytes whose data starts "OK ", "NOTFOUND ", "TEMP " or "PERM ", or the
 * target aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/mxcache.h"
#include "client/sm_proto.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "daemon/sts.h"
#include "shm/fed.h"
#include "shm/override.h"
#include "tests/fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/mxc-fuzz-socketmap.XXXXXX";
static struct region *r;
static mxc_t *h;

/* libFuzzer ends with exit(): leave no region behind */
static void cleanup(void)
{
	mxc_close(h);
	fixture_cleanup(dir, r);
}

static void put_policy(struct sts_rec *p, const char *domain, int mode)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->domain, sizeof(p->domain), "%s", domain);
	p->kind = MXS_STS_KIND_POLICY;
	p->mode = mode;
	p->max_age = 86400;
	p->nmx = 2;
	snprintf(p->mx[0], sizeof(p->mx[0]), "mx.%s", domain);
	snprintf(p->mx[1], sizeof(p->mx[1]), "*.backup.%s", domain);
	p->valid_end = INT64_MAX / 2;
	if (sts_region_put(r, p) != 0)
		abort();
}

static void build(void)
{
	struct sts_rec *p = calloc(1, sizeof(*p));
	uint8_t val[MXS_OV_VALUE_MAX], fv[MXS_FED_VALUE_MAX];
	int64_t created = 5;
	size_t vlen;

	log_init(1, LOG_WARNING);
	if (p == NULL || fixture_dir(dir) != 0 || fixture_region(dir, 16, &r) != 0)
		abort();
	vlen = mxc_ov_value_encode(val, 1, 2, "192.0.2.1", 9, "", 0);
	region_put(r, MXS_TAB_OVERRIDE, "override.example", 16, val, vlen, NULL, 0);
	vlen = mxc_ov_value_encode(val, 1, 2, "2001:db8::1", 11, "v6", 2);
	region_put(r, MXS_TAB_OVERRIDE, "v6.example", 10, val, vlen, NULL, 0);
	put_policy(p, "good.test", MXS_STS_MODE_ENFORCE);
	put_policy(p, "testing.test", MXS_STS_MODE_TESTING);
	vlen = mxc_fed_settings_encode(fv, MXS_FED_REJECT, 1, "local.example", 13);
	region_put(r, MXS_TAB_FED, ".", 1, fv, vlen, NULL, 0);
	region_put(r, MXS_TAB_FED, "example.org", 11, &created, sizeof(created), NULL, 0);
	region_publish(r);
	if (region_go_live(r) != 0 || mxc_open(dir, &h) != MXC_OK)
		abort();
	atexit(cleanup);
	free(p);
}

/* The replies in out[from, to): well-framed, or abort. */
static void check_replies(const char *out, size_t from, size_t to)
{
	static const char *const kinds[] = { "OK ", "NOTFOUND ", "TEMP ", "PERM " };
	size_t len, i, k;

	while (from < to) {
		for (len = 0, i = from; i < to && out[i] >= '0' && out[i] <= '9' && i - from < SM_LEN_DIGITS; i++)
			len = len * 10 + (size_t)(out[i] - '0');
		if (i == from || i >= to || out[i] != ':' || len > SM_REPLY_MAX || to - i - 1 < len + 1 ||
		    out[i + 1 + len] != ',')
			abort();
		for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (len >= strlen(kinds[k]) && memcmp(out + i + 1, kinds[k], strlen(kinds[k])) == 0)
				break;
		if (k == sizeof(kinds) / sizeof(kinds[0]))
			abort();
		from = i + 1 + len + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sm_stream c;
	struct sm_maps_conf conf;
	size_t off = 0, piece;

	if (h == NULL)
		build();
	memset(&conf, 0, sizeof(conf));
	conf.h = h;
	conf.strict_testing = size > 0 && (data[0] & 0x40);
	conf.tlsrpt = size > 0 && (data[0] & 0x80);
	snprintf(conf.transport, sizeof(conf.transport), "smtp");
	sm_proto_init(&conf);
	memset(&c, 0, offsetof(struct sm_stream, in));
	c.out = NULL;
	c.outlen = c.outoff = c.outcap = 0;
	/* framing split anywhere */
	piece = size > 0 ? (size_t)(data[0] & 0x3f) + 1 : 1;
	while (off < size && !c.closing) {
		size_t k = size - off < piece ? size - off : piece;

		if (k > sizeof(c.in) - c.inlen)
			k = sizeof(c.in) - c.inlen;
		if (k == 0)
			break;
		memcpy(c.in + c.inlen, data + off, k);
		c.inlen += k;
		off += k;
		if (sm_parse(&c, 0) != 0)
			break;
		check_replies(c.out, c.outoff, c.outlen);
		c.outoff = c.outlen;                /* checked */
		if (c.outlen > 4 * SM_REPLY_MAX)
			c.outlen = c.outoff = 0;    /* as if written out */
	}
	check_replies(c.out, c.outoff, c.outlen);
	free(c.out);
	return 0;
}
