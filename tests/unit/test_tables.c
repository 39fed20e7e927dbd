/*
 * tests/unit/test_tables.c - the table descriptors of shm/tables.h: one
 * per table id, each accepting an entry its writer makes and refusing a
 * damaged one with a message that names the entry.
 */
#include <stdio.h>
#include <string.h>

#include "shm/tables.h"
#include "tests/tap.h"

/* check(d, key, val, vlen): 0 or -1, with why left in why[] */
static char why[256];

static int check(unsigned id, const char *key, const uint8_t *val, size_t vlen)
{
	why[0] = '\0';
	return mxc_table_check(mxc_table(id), (const uint8_t *)key, strlen(key), val, vlen, why, sizeof(why));
}

int main(void)
{
	uint8_t v[MXS_STS_VALUE_MAX + MXS_OV_VALUE_MAX];
	const char *host[1] = { "mx.example.org" };
	size_t hlen[1] = { 14 }, n;
	uint16_t pref[1] = { 10 };
	int64_t f[MXS_STAT_NFIELDS] = { 0 };
	uint64_t counts[4] = { 1, 2, 3, 4 };
	struct mxc_sts_view sv;
	unsigned id, metrics = 0;

	for (id = 0; id < MXS_TABLES; id++) {
		const struct mxc_tdesc *d = mxc_table(id);

		ok(d != NULL && d->id == id, "table %u: its descriptor carries its id", id);
		ok(d != NULL && d->name != NULL && d->check != NULL && d->key != 0, "table %u: named, keyed, checked",
		   id);
		if (d != NULL && d->metric != NULL)
			metrics++;
	}
	ok(mxc_table(MXS_TABLES) == NULL && mxc_table(MXS_TAB_MAX) == NULL, "no descriptor past the tables in use");
	is_int(metrics, 6, "six tables in mxcache_entries, the TLS pins too (the server tracker is one record)");

	/* overrides */
	n = mxc_ov_value_encode(v, 1, 2, "mx.example.org", 14, "a comment", 9);
	is_int(check(MXS_TAB_OVERRIDE, "example.org", v, n), 0, "override: a written entry passes");
	is_int(check(MXS_TAB_OVERRIDE, "Example.org", v, n), -1, "override: a key not canonical fails");
	is_str(why, "table 0: key 'Example.org' is not canonical", "  and says so");
	is_int(check(MXS_TAB_OVERRIDE, "example.org", v, 5), -1, "override: a short value fails");
	is_str(why, "override 'example.org': bad target or meta record", "  and names the entry");
	n = mxc_ov_value_encode(v, 1, 2, "MX.example.org", 14, "", 0);
	is_int(check(MXS_TAB_OVERRIDE, "example.org", v, n), -1, "override: a target not canonical fails");
	is_str(why, "override 'example.org': target 'MX.example.org' is not canonical", "  and says which");
	is_int(check(MXS_TAB_OVERRIDE, ".", v, n), -1, "override: no '.' settings record");

	/* MX */
	n = mxc_mx_value_encode(v, MXS_MX_KIND_MX, 1, 2, 1, pref, host, hlen);
	is_int(check(MXS_TAB_MX, "example.org", v, n), 0, "mx: a written entry passes");
	is_int(check(MXS_TAB_MX, "example.org", v, n - 1), -1, "mx: a cut value fails");
	is_str(why, "MX entry 'example.org': malformed value", "  and names the entry");

	/* MTA-STS */
	memset(&sv, 0, sizeof(sv));
	sv.kind = MXS_STS_KIND_NONE;
	n = mxc_sts_value_encode(v, &sv, NULL, NULL);
	is_int(check(MXS_TAB_STS, "example.org", v, n), 0, "sts: a written entry passes");
	is_int(check(MXS_TAB_STS, "example.org", v, 3), -1, "sts: a cut value fails");
	is_str(why, "MTA-STS entry 'example.org': malformed value", "  and names the entry");

	/* federation: "." is the settings, every other key a rule */
	n = mxc_fed_settings_encode(v, MXS_FED_ACCEPT, 5, "local.example", 13);
	is_int(check(MXS_TAB_FED, ".", v, n), 0, "federation: the settings pass");
	is_int(check(MXS_TAB_FED, ".", v, n - 1), -1, "federation: cut settings fail");
	is_str(why, "federation settings: malformed value", "  and say so");
	memset(v, 0, MXS_FED_RULE_LEN);
	is_int(check(MXS_TAB_FED, "peer.example", v, MXS_FED_RULE_LEN), 0, "federation: a rule passes");
	is_int(check(MXS_TAB_FED, "peer.example", v, 3), -1, "federation: a cut rule fails");
	is_str(why, "federation rule 'peer.example': malformed value", "  and names it");

	/* stats */
	mxc_stat_encode(v, f);
	is_int(check(MXS_TAB_STATS, "example.org", v, MXS_STAT_VALUE_LEN), 0, "stats: a written entry passes");
	is_int(check(MXS_TAB_STATS, "example.org", v, 8), -1, "stats: a cut value fails");
	is_str(why, "stats of 'example.org': malformed value", "  and names the domain");

	/* the server tracker: one record under "." */
	mxc_servers_encode(v, counts);
	is_int(check(MXS_TAB_SERVERS, ".", v, MXS_SERVERS_VALUE_LEN), 0, "servers: the record passes");
	is_int(check(MXS_TAB_SERVERS, ".", v, 8), -1, "servers: a cut record fails");
	is_str(why, "server tracker: malformed entry", "  and says so");
	is_int(check(MXS_TAB_SERVERS, "example.org", v, MXS_SERVERS_VALUE_LEN), -1,
	       "servers: any key but '.' fails");
	return tap_done();
}
