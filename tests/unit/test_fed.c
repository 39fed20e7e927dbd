/*
 * test_fed - the federation decision through the client library, as a
 * table: each policy (ACCEPT, REJECT, never set) with and without rules,
 * the local domain, a rule's reach (one domain, not its parent or its
 * subdomains), and the spellings the one normaliser must fold (case,
 * brackets, the trailing dot that must not slip past a rule).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/mxcache.h"
#include "daemon/log.h"
#include "daemon/region.h"
#include "shm/fed.h"
#include "shm/key.h"
#include "shm/path.h"
#include "tests/fixture.h"
#include "tests/tap.h"

static char dir[] = "/tmp/mxc-test-fed.XXXXXX";

struct vec {
	int policy;                  /* 0: never set */
	const char *local;
	const char *rules[3];
	const char *domain;
	int want;                    /* 1 allowed, 0 blocked, < 0 error */
	const char *what;
};

static const struct vec vecs[] = {
	{ MXS_FED_ACCEPT, "", { NULL }, "remote.com", 1, "ACCEPT, no rules: allowed" },
	{ MXS_FED_ACCEPT, "", { "bad.com" }, "bad.com", 0, "ACCEPT, rule bad.com: bad.com denied" },
	{ MXS_FED_ACCEPT, "", { "bad.com" }, "good.com", 1, "ACCEPT, rule bad.com: good.com allowed" },
	{ MXS_FED_ACCEPT, "", { "bad.com" }, "bad.com.", 0, "ACCEPT: bad.com. does not slip past bad.com" },
	{ MXS_FED_ACCEPT, "", { "bad.com" }, "BAD.Com.", 0, "ACCEPT: case and trailing dot together" },
	{ MXS_FED_REJECT, "", { NULL }, "remote.com", 0, "REJECT, no rules: denied" },
	{ MXS_FED_REJECT, "", { "trusted.com" }, "trusted.com", 1, "REJECT, rule trusted.com: allowed" },
	{ MXS_FED_REJECT, "", { "trusted.com" }, "untrusted.com", 0, "REJECT, rule trusted.com: untrusted.com denied" },
	{ MXS_FED_REJECT, "", { "trusted.com" }, "trusted.com.", 1, "REJECT: trusted.com. is trusted.com" },
	{ MXS_FED_REJECT, "myserver.com", { NULL }, "MyServer.COM", 1, "REJECT: the local domain, any case" },
	{ MXS_FED_REJECT, "127.0.0.1", { NULL }, "[127.0.0.1]", 1, "REJECT: a local IP literal, bracketed" },
	{ MXS_FED_ACCEPT, "", { "evil.com" }, "EVIL.COM", 0, "ACCEPT, rule Evil.COM: EVIL.COM denied" },
	{ MXS_FED_ACCEPT, "", { "1.2.3.4" }, "1.2.3.4", 0, "rule [1.2.3.4] matches 1.2.3.4" },
	{ MXS_FED_ACCEPT, "", { "1.2.3.4" }, "[1.2.3.4]", 0, "and [1.2.3.4]" },
	{ MXS_FED_REJECT, "", { "2001:db8::1" }, "[IPv6:2001:DB8:0::1]", 1, "an IPv6 rule in another spelling" },
	{ MXS_FED_ACCEPT, "", { "sub.bad.com" }, "bad.com", 1, "a rule is one domain, not its parent" },
	{ MXS_FED_ACCEPT, "", { "bad.com" }, "sub.bad.com", 1, "nor its subdomains" },
	{ 0, "", { NULL }, "remote.com", 1, "no policy ever set: ACCEPT" },
	{ 0, "", { "bad.com" }, "bad.com", 0, "no policy set but a rule: a blocklist" },
	{ MXS_FED_ACCEPT, "", { NULL }, "not a domain", MXC_EINVAL, "a malformed name: EINVAL" },
	{ MXS_FED_ACCEPT, "", { NULL }, "", MXC_EINVAL, "an empty name: EINVAL" },
};

static int load(struct region *r, const struct vec *v)
{
	uint8_t val[MXS_FED_VALUE_MAX];
	int64_t created = 1000;
	size_t vlen, i;

	for (i = 0; i < 3 && v->rules[i] != NULL; i++)
		if (region_put(r, MXS_TAB_FED, v->rules[i], strlen(v->rules[i]), &created, sizeof(created), NULL, 0) <
		    0)
			return -1;
	if (v->policy != 0) {
		vlen = mxc_fed_settings_encode(val, v->policy, 2000, v->local, strlen(v->local));
		if (vlen == 0 || region_put(r, MXS_TAB_FED, ".", 1, val, vlen, NULL, 0) < 0)
			return -1;
	}
	region_publish(r);
	return 0;
}

static void unload(struct region *r, const struct vec *v)
{
	size_t i;

	for (i = 0; i < 3 && v->rules[i] != NULL; i++)
		region_del(r, MXS_TAB_FED, v->rules[i], strlen(v->rules[i]));
	region_del(r, MXS_TAB_FED, ".", 1);
	region_publish(r);
}

static int list_one(const char *domain, int64_t created, void *arg)
{
	int *n = arg;

	(void)domain;
	(void)created;
	(*n)++;
	return 0;
}

int main(void)
{
	struct region *r;
	struct mxc_federation f;
	char why[256];
	size_t i;
	int n;
	mxc_t *h;

	log_init(1, LOG_WARNING);
	if (fixture_dir(dir) != 0)
		return 1;
	if (fixture_region(dir, 16, &r) != 0 || region_go_live(r) != 0 || mxc_open(dir, &h) != MXC_OK) {
		ok(0, "region");
		return tap_done();
	}
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		if (load(r, &vecs[i]) != 0) {
			ok(0, "load %s", vecs[i].what);
			continue;
		}
		is_int(mxc_federation_allowed(h, vecs[i].domain), vecs[i].want, vecs[i].what);
		unload(r, &vecs[i]);
	}

	/* settings, rule count and list */
	load(r, &vecs[6]);
	is_int(mxc_federation_get(h, &f), MXC_OK, "federation_get");
	is_int(f.policy, MXC_FED_POLICY_REJECT, "policy REJECT");
	is_int(f.rules, 1, "one rule (the settings entry is not counted)");
	is_int(f.updated, 2000, "updated");
	n = 0;
	is_int(mxc_federation_rules(h, list_one, &n), MXC_OK, "rules walk");
	is_int(n, 1, "the walk gives the rule, not the settings");
	is_int(mxc_verify(h, why, sizeof(why)), MXC_OK, "verify accepts the settings entry");
	unload(r, &vecs[6]);
	is_int(mxc_federation_get(h, &f), MXC_OK, "federation_get with nothing set");
	is_int(f.policy, MXC_FED_POLICY_ACCEPT, "defaults to ACCEPT");
	is_int(f.rules, 0, "no rules");
	{
		uint8_t junk[3] = { 7, 7, 7 };

		region_put(r, MXS_TAB_FED, ".", 1, junk, sizeof(junk), NULL, 0);
		region_publish(r);
		is_int(mxc_federation_allowed(h, "x.com"), MXC_ECORRUPT, "damaged settings: ECORRUPT, not a guess");
		is_int(mxc_verify(h, why, sizeof(why)), MXC_ECORRUPT, "verify finds them");
		region_del(r, MXS_TAB_FED, ".", 1);
		region_publish(r);
	}
	mxc_close(h);
	fixture_cleanup(dir, r);
	return tap_done();
}
