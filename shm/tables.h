/*
 * shm/tables.h - one descriptor per table of the region: its id, its
 * names, what its keys are and how an entry is checked.
 *
 * What goes through every table (verify, the per-table metrics, and later
 * replication) walks these descriptors instead of naming the tables one
 * by one, so a new table is one more descriptor here, next to its value
 * format in its own header.  The descriptors name no daemon or client
 * code: both sides may use them.  Pure: no I/O, no allocation; the only
 * call out is mxk_normalize (shm/key.c, linked by both sides).
 */
#ifndef MXC_SHM_TABLES_H
#define MXC_SHM_TABLES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fed.h"
#include "key.h"
#include "layout.h"
#include "mx.h"
#include "override.h"
#include "servers.h"
#include "stats.h"
#include "sts.h"
#include "tlspin.h"

/* What the keys of a table are. */
enum mxc_tkey {
	MXS_TKEY_CANON = 1,      /* canonical domains or IPs (shm/key.h) */
	MXS_TKEY_CANON_OR_DOT,   /* those, and "." for the table's settings */
	MXS_TKEY_DOT,            /* only ".": the table is one record */
};

/*
 * check: 0 if val is a well-formed value for key k (NUL-terminated, klen
 * bytes, already of the table's key kind); else -1 with what is wrong in
 * why, naming the entry as a person would.
 */
typedef int (*mxc_tcheck_fn)(const char *k, size_t klen, const uint8_t *val, size_t vlen, char *why,
			     size_t whylen);

struct mxc_tdesc {
	unsigned id;             /* MXS_TAB_*: the index of r_tab[] and h_count[] */
	const char *name;        /* one word, in listings and messages */
	const char *metric;      /* the table label of mxcache_entries, or NULL */
	enum mxc_tkey key;
	mxc_tcheck_fn check;
};

static inline int mxc_tcheck_override(const char *k, size_t klen, const uint8_t *val, size_t vlen, char *why,
				      size_t whylen)
{
	char target[MXS_OV_TARGET_MAX + 1], canon[MXK_MAX_LEN + 1];
	const uint8_t *t, *c;
	size_t tlen, clen;
	int64_t created, updated;

	(void)klen;
	if (mxc_ov_value_decode(val, vlen, &created, &updated, &t, &tlen, &c, &clen) != 0) {
		snprintf(why, whylen, "override '%.64s': bad target or meta record", k);
		return -1;
	}
	memcpy(target, t, tlen);
	target[tlen] = '\0';
	if (mxk_normalize(target, canon, sizeof(canon), NULL, NULL) != MXK_OK || strcmp(canon, target) != 0) {
		snprintf(why, whylen, "override '%.64s': target '%.64s' is not canonical", k, target);
		return -1;
	}
	return 0;
}

static inline int mxc_tcheck_sts(const char *k, size_t klen, const uint8_t *val, size_t vlen, char *why,
				 size_t whylen)
{
	struct mxc_sts_view v;

	(void)klen;
	if (mxc_sts_value_decode(val, vlen, &v) != 0) {
		snprintf(why, whylen, "MTA-STS entry '%.64s': malformed value", k);
		return -1;
	}
	return 0;
}

static inline int mxc_tcheck_mx(const char *k, size_t klen, const uint8_t *val, size_t vlen, char *why,
				size_t whylen)
{
	struct mxc_mx_view v;

	(void)klen;
	if (mxc_mx_value_decode(val, vlen, &v) != 0) {
		snprintf(why, whylen, "MX entry '%.64s': malformed value", k);
		return -1;
	}
	return 0;
}

/* "." holds the settings, every other key is a rule */
static inline int mxc_tcheck_fed(const char *k, size_t klen, const uint8_t *val, size_t vlen, char *why,
				 size_t whylen)
{
	const uint8_t *local;
	size_t llen;
	int64_t t;
	int policy;

	if (klen == 1 && k[0] == '.') {
		if (mxc_fed_settings_decode(val, vlen, &policy, &t, &local, &llen) != 0) {
			snprintf(why, whylen, "federation settings: malformed value");
			return -1;
		}
		return 0;
	}
	if (mxc_fed_rule_decode(val, vlen, &t) != 0) {
		snprintf(why, whylen, "federation rule '%.64s': malformed value", k);
		return -1;
	}
	return 0;
}

static inline int mxc_tcheck_stats(const char *k, size_t klen, const uint8_t *val, size_t vlen, char *why,
				   size_t whylen)
{
	int64_t f[MXS_STAT_NFIELDS];

	(void)klen;
	if (mxc_stat_decode(val, vlen, f) != 0) {
		snprintf(why, whylen, "stats of '%.64s': malformed value", k);
		return -1;
	}
	return 0;
}

static inline int mxc_tcheck_servers(const char *k, size_t klen, const uint8_t *val, size_t vlen, char *why,
				     size_t whylen)
{
	uint64_t v[4];

	(void)k;
	(void)klen;
	if (mxc_servers_decode(val, vlen, v) != 0) {
		snprintf(why, whylen, "server tracker: malformed entry");
		return -1;
	}
	return 0;
}

static inline int mxc_tcheck_tlspin(const char *k, size_t klen, const uint8_t *val, size_t vlen, char *why,
				    size_t whylen)
{
	const char *p, *bad;
	size_t plen;
	int64_t c, u;

	(void)klen;
	if (mxc_pin_value_decode(val, vlen, &c, &u, &p, &plen) != 0) {
		snprintf(why, whylen, "TLS pin '%.64s': malformed value", k);
		return -1;
	}
	if (mxc_pin_policy_check(p, plen, &bad) != 0) {
		snprintf(why, whylen, "TLS pin '%.64s': %s", k, bad);
		return -1;
	}
	return 0;
}

/* The number of tables in use: ids 0 .. MXS_TABLES-1 (MXS_TAB_MAX, the
 * room in the root record, may be larger). */
#define MXS_TABLES 7

/* The descriptor of table id, or NULL if id names no table. */
static inline const struct mxc_tdesc *mxc_table(unsigned id)
{
	static const struct mxc_tdesc tables[MXS_TABLES] = {
		{ MXS_TAB_OVERRIDE, "override", "overrides", MXS_TKEY_CANON, mxc_tcheck_override },
		{ MXS_TAB_STS, "sts", "sts", MXS_TKEY_CANON, mxc_tcheck_sts },
		{ MXS_TAB_MX, "mx", "mx", MXS_TKEY_CANON, mxc_tcheck_mx },
		{ MXS_TAB_FED, "federation", "federation", MXS_TKEY_CANON_OR_DOT, mxc_tcheck_fed },
		{ MXS_TAB_STATS, "stats", "stats", MXS_TKEY_CANON, mxc_tcheck_stats },
		/* not among the entries metrics: always one entry */
		{ MXS_TAB_SERVERS, "servers", NULL, MXS_TKEY_DOT, mxc_tcheck_servers },
		{ MXS_TAB_TLSPIN, "tls", "tls_pins", MXS_TKEY_CANON, mxc_tcheck_tlspin },
	};

	return id < MXS_TABLES ? &tables[id] : NULL;
}

/*
 * mxc_table_check - is (key, val) an entry table d may hold?  The key's
 * kind first, then the table's own check.  0, or -1 with why filled.
 */
static inline int mxc_table_check(const struct mxc_tdesc *d, const uint8_t *key, size_t klen, const uint8_t *val,
				  size_t vlen, char *why, size_t whylen)
{
	char k[MXK_MAX_LEN + 1], canon[MXK_MAX_LEN + 1];
	int dot = klen == 1 && key[0] == '.';

	if (klen == 0 || klen > MXK_MAX_LEN) {
		snprintf(why, whylen, "table %u: key of %zu bytes", d->id, klen);
		return -1;
	}
	memcpy(k, key, klen);
	k[klen] = '\0';
	if (d->key == MXS_TKEY_DOT && !dot) {
		snprintf(why, whylen, "table %u: key '%.64s' where only '.' belongs", d->id, k);
		return -1;
	}
	if ((d->key == MXS_TKEY_CANON || (d->key == MXS_TKEY_CANON_OR_DOT && !dot)) &&
	    (mxk_normalize(k, canon, sizeof(canon), NULL, NULL) != MXK_OK || strcmp(canon, k) != 0)) {
		snprintf(why, whylen, "table %u: key '%.64s' is not canonical", d->id, k);
		return -1;
	}
	return d->check(k, klen, val, vlen, why, whylen);
}

_Static_assert(MXS_TABLES <= MXS_TAB_MAX, "every table has its place in the root record");
_Static_assert(MXS_TAB_OVERRIDE == 0 && MXS_TAB_STS == 1 && MXS_TAB_MX == 2 && MXS_TAB_FED == 3 &&
		       MXS_TAB_STATS == 4 && MXS_TAB_SERVERS == 5 && MXS_TAB_TLSPIN == 6 &&
		       MXS_TAB_TLSPIN == MXS_TABLES - 1,
	       "mxc_table() is indexed by id");

#endif /* MXC_SHM_TABLES_H */
