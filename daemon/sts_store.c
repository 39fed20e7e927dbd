/*
 * daemon/sts_store.c - MTA-STS cache entries in SQLite (table sts, schema
 * in store.c) and in the region (shm/sts.h).
 *
 * Statements are prepared per call: these run per fetch or per batch of
 * touches, where a prepare (tens of microseconds) is noise against the
 * network round trips, and it keeps one file free of per-connection
 * statement caches for the several connections that read it.
 */
#include "sts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "region.h"
#include "shm/key.h"
#include "store.h"

void sts_rec_free(struct sts_rec *r)
{
	if (r != NULL) {
		free(r->text);
		r->text = NULL;
		r->tlen = 0;
	}
}

static int db_fail(sqlite3 *db, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	return -1;
}

/* The mx patterns travel as one text column, a pattern per line. */
static void mx_join(const struct sts_rec *r, char *out, size_t outlen)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < r->nmx && o < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? "\n" : "", r->mx[i]);
}

static void mx_split(const char *s, struct sts_rec *r)
{
	const char *p = s, *nl;
	size_t len;

	r->nmx = 0;
	while (*p != '\0' && r->nmx < MXS_STS_MX_MAX) {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (len > 0 && len <= MXS_STS_PATTERN_MAX) {
			memcpy(r->mx[r->nmx], p, len);
			r->mx[r->nmx][len] = '\0';
			r->nmx++;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

#define STS_COLS_A "domain, kind, mode, max_age, flags, failure, detail, record_id, mx, "
#define STS_COLS_B " inserted, valid_end, last_update, last_use, next_check, dane, dane_flags, dane_valid_end," \
		   " txt_checked"
#define STS_COLS   STS_COLS_A "policy_text," STS_COLS_B
/* the same columns with the policy text left out: walks (rebuild,
 * refresher, forgetting) never need it, and it is up to 64 KiB a row */
#define STS_COLS_NOTEXT STS_COLS_A "''," STS_COLS_B

int sts_db_put(sqlite3 *db, const struct sts_rec *r, char *err, size_t errlen)
{
	static const char sql[] =
		"INSERT INTO sts(" STS_COLS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)"
		" ON CONFLICT(domain) DO UPDATE SET kind=excluded.kind, mode=excluded.mode,"
		" max_age=excluded.max_age, flags=excluded.flags, failure=excluded.failure,"
		" detail=excluded.detail, record_id=excluded.record_id, mx=excluded.mx,"
		" policy_text=excluded.policy_text, inserted=excluded.inserted, valid_end=excluded.valid_end,"
		" last_update=excluded.last_update, last_use=MAX(last_use, excluded.last_use),"
		" next_check=excluded.next_check, dane=excluded.dane, dane_flags=excluded.dane_flags,"
		" dane_valid_end=excluded.dane_valid_end, txt_checked=excluded.txt_checked";
	char mx[MXS_STS_MX_MAX * (MXS_STS_PATTERN_MAX + 1) + 1];
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto fail;
	mx_join(r, mx, sizeof(mx));
	sqlite3_bind_text(s, 1, r->domain, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, r->kind);
	sqlite3_bind_int(s, 3, r->mode);
	sqlite3_bind_int64(s, 4, r->max_age);
	sqlite3_bind_int(s, 5, r->flags);
	sqlite3_bind_int(s, 6, r->failure);
	sqlite3_bind_text(s, 7, r->detail, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, mx, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 10, r->text != NULL ? r->text : "", r->text != NULL ? (int)r->tlen : 0, SQLITE_STATIC);
	sqlite3_bind_int64(s, 11, r->inserted);
	sqlite3_bind_int64(s, 12, r->valid_end);
	sqlite3_bind_int64(s, 13, r->last_update);
	sqlite3_bind_int64(s, 14, r->last_use);
	sqlite3_bind_int64(s, 15, r->next_check);
	sqlite3_bind_int(s, 16, r->dane);
	sqlite3_bind_int(s, 17, r->dane_flags);
	sqlite3_bind_int64(s, 18, r->dane_valid_end);
	sqlite3_bind_int64(s, 19, r->txt_checked);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	rc = 0;
	goto done;
fail:
	db_fail(db, err, errlen);
done:
	sqlite3_finalize(s);
	return rc;
}

static const char *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t != NULL ? (const char *)t : "";
}

/* One row of STS_COLS into r (text malloc'd).  -1: out of memory. */
static int sts_row(sqlite3_stmt *s, struct sts_rec *r)
{
	int tl;

	memset(r, 0, sizeof(*r));
	snprintf(r->domain, sizeof(r->domain), "%s", col_text(s, 0));
	r->kind = sqlite3_column_int(s, 1);
	r->mode = sqlite3_column_int(s, 2);
	r->max_age = (uint32_t)sqlite3_column_int64(s, 3);
	r->flags = sqlite3_column_int(s, 4);
	r->failure = sqlite3_column_int(s, 5);
	snprintf(r->detail, sizeof(r->detail), "%s", col_text(s, 6));
	snprintf(r->id, sizeof(r->id), "%s", col_text(s, 7));
	mx_split(col_text(s, 8), r);
	tl = sqlite3_column_bytes(s, 9);
	if (tl > 0) {
		r->text = malloc((size_t)tl + 1);
		if (r->text == NULL)
			return -1;
		memcpy(r->text, col_text(s, 9), (size_t)tl);
		r->text[tl] = '\0';
		r->tlen = (size_t)tl;
	}
	r->inserted = sqlite3_column_int64(s, 10);
	r->valid_end = sqlite3_column_int64(s, 11);
	r->last_update = sqlite3_column_int64(s, 12);
	r->last_use = sqlite3_column_int64(s, 13);
	r->next_check = sqlite3_column_int64(s, 14);
	r->dane = sqlite3_column_int(s, 15);
	r->dane_flags = sqlite3_column_int(s, 16);
	r->dane_valid_end = sqlite3_column_int64(s, 17);
	r->txt_checked = sqlite3_column_int64(s, 18);
	return 0;
}

int sts_db_get(sqlite3 *db, const char *domain, struct sts_rec *r, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc = -1, step;

	if (sqlite3_prepare_v2(db, "SELECT " STS_COLS " FROM sts WHERE domain = ?1", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	step = sqlite3_step(s);
	if (step == SQLITE_DONE) {
		rc = 0;
		goto done;
	}
	if (step != SQLITE_ROW)
		goto fail;
	if (sts_row(s, r) != 0) {
		snprintf(err, errlen, "out of memory");
		sts_rec_free(r);
		goto done;
	}
	rc = 1;
	goto done;
fail:
	db_fail(db, err, errlen);
done:
	sqlite3_finalize(s);
	return rc;
}

uint64_t sts_db_region_bytes(sqlite3 *db, const char *domain)
{
	/* bytes, not characters: the text is whatever the policy host sent */
	static const char sql[] = "SELECT length(CAST(domain AS BLOB)) + length(CAST(record_id AS BLOB)) +"
				  " length(CAST(mx AS BLOB)) + length(CAST(policy_text AS BLOB)) FROM sts"
				  " WHERE domain = ?1";
	uint64_t b = MXS_STS_VALUE_HDR + 2 * (uint64_t)MXK_MAX_LEN;
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return b;
	sqlite3_bind_text(s, 1, domain, -1, SQLITE_STATIC);
	/* the patterns' length bytes: one each, at most MXS_STS_MX_MAX */
	if (sqlite3_step(s) == SQLITE_ROW)
		b = MXS_STS_VALUE_HDR + MXS_STS_MX_MAX + (uint64_t)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return b;
}

/* A statement with one text and up to two integer parameters and no rows:
 * returns the rows changed, or -1. */
static int db_exec1(sqlite3 *db, const char *sql, const char *text, int64_t a, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, a);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	rc = sqlite3_changes(db);
	goto done;
fail:
	db_fail(db, err, errlen);
done:
	sqlite3_finalize(s);
	return rc;
}

int sts_db_del(sqlite3 *db, const char *domain, char *err, size_t errlen)
{
	return db_exec1(db, "DELETE FROM sts WHERE domain = ?1", domain, 0, err, errlen);
}

int sts_db_touch(sqlite3 *db, const char *domain, int64_t last_use, char *err, size_t errlen)
{
	return db_exec1(db, "UPDATE sts SET last_use = ?2 WHERE domain = ?1 AND last_use < ?2", domain, last_use, err,
			errlen);
}

/* Every row of cols (STS_COLS or STS_COLS_NOTEXT) where ... (sts.h). */
static int db_foreach(sqlite3 *db, const char *cols, const char *where, int64_t arg1, int64_t arg2, size_t limit,
		      sts_row_fn fn, void *arg, char *err, size_t errlen)
{
	char sql[1024];
	struct sts_rec *r = NULL;
	sqlite3_stmt *s = NULL;
	int rc = -1, step;

	snprintf(sql, sizeof(sql), "SELECT %s FROM sts%s%s%s", cols, where != NULL ? " WHERE " : "",
		 where != NULL ? where : "", limit > 0 ? " LIMIT ?9" : "");
	r = malloc(sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto fail;
	if (where != NULL && strstr(where, "?1") != NULL)
		sqlite3_bind_int64(s, 1, arg1);
	if (where != NULL && strstr(where, "?2") != NULL)
		sqlite3_bind_int64(s, 2, arg2);
	if (limit > 0)
		sqlite3_bind_int64(s, 9, (sqlite3_int64)limit);
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (sts_row(s, r) != 0) {
			sts_rec_free(r);
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		step = fn(r, arg);
		sts_rec_free(r);
		if (step != 0) {
			rc = step;
			goto done;
		}
	}
	if (step != SQLITE_DONE)
		goto fail;
	rc = 0;
	goto done;
fail:
	db_fail(db, err, errlen);
done:
	sqlite3_finalize(s);
	free(r);
	return rc;
}

int sts_db_foreach(sqlite3 *db, const char *where, int64_t arg1, int64_t arg2, size_t limit, sts_row_fn fn,
		   void *arg, char *err, size_t errlen)
{
	return db_foreach(db, STS_COLS_NOTEXT, where, arg1, arg2, limit, fn, arg, err, errlen);
}

/* ---- region values ---------------------------------------------------------- */

/* [sts] recheck_s as the values carry it (an atomic: set on reload). */
static unsigned recheck_s = STS_RECHECK_DEFAULT_S;

void sts_store_set_recheck(unsigned s)
{
	__atomic_store_n(&recheck_s, s, __ATOMIC_RELAXED);
}

uint64_t sts_region_bytes(const struct sts_rec *r)
{
	uint64_t b = strlen(r->domain) + MXS_STS_VALUE_HDR + strlen(r->id) + (r->text != NULL ? r->tlen : 0);
	size_t i;

	for (i = 0; i < r->nmx; i++)
		b += 1 + strlen(r->mx[i]);
	return b;
}

int sts_region_put(struct region *rg, const struct sts_rec *r)
{
	const char *mx[MXS_STS_MX_MAX];
	size_t mxl[MXS_STS_MX_MAX], i, vlen;
	struct mxc_sts_view v;
	uint8_t *val;
	int rc;

	if (r->nmx > MXS_STS_MX_MAX) {
		errno = EINVAL;
		return -1;
	}
	val = malloc(MXS_STS_VALUE_MAX);
	if (val == NULL)
		return -1;
	memset(&v, 0, sizeof(v));
	v.kind = (uint8_t)r->kind;
	v.mode = (uint8_t)r->mode;
	v.flags = (uint8_t)(r->flags & ~STS_F_CONFIRMED);   /* the daemon's own */
	v.failure = (uint8_t)r->failure;
	v.max_age = r->max_age;
	v.inserted = r->inserted;
	v.valid_end = r->valid_end;
	v.last_update = r->last_update;
	v.last_use = r->last_use;
	v.dane = (uint8_t)r->dane;
	v.dane_flags = (uint8_t)r->dane_flags;
	v.dane_valid_end = r->dane_valid_end;
	v.txt_checked = r->txt_checked;
	v.recheck_s = __atomic_load_n(&recheck_s, __ATOMIC_RELAXED);
	v.text = r->kind == MXS_STS_KIND_POLICY ? (const uint8_t *)r->text : NULL;
	v.textlen = v.text != NULL ? r->tlen : 0;
	v.id = (const uint8_t *)r->id;
	v.idlen = strlen(r->id);
	v.nmx = r->nmx;
	for (i = 0; i < r->nmx; i++) {
		mx[i] = r->mx[i];
		mxl[i] = strlen(r->mx[i]);
	}
	vlen = mxc_sts_value_encode(val, &v, mx, mxl);
	if (vlen == 0) {
		free(val);
		errno = EINVAL;
		return -1;
	}
	rc = region_put(rg, MXS_TAB_STS, r->domain, strlen(r->domain), val, vlen, NULL, 0);
	free(val);
	return rc < 0 ? -1 : 0;
}

int sts_region_del(struct region *rg, const char *domain)
{
	return region_del(rg, MXS_TAB_STS, domain, strlen(domain)) < 0 ? -1 : 0;
}

/* ---- start-up rebuild ----------------------------------------------------------- */

struct rebuild {
	struct region *rg;
	int64_t n;
	uint64_t skipped;
	int err;
};

static int rebuild_sts(struct sts_rec *r, void *arg)
{
	struct rebuild *rb = arg;

	if (sts_region_put(rb->rg, r) != 0) {
		if (errno == EINVAL) {
			log_warnx("sts: rebuild: stored entry '%.64s' skipped: malformed", r->domain);
			rb->skipped++;
			return 0;
		}
		rb->err = errno;
		return -1;
	}
	rb->n++;
	return 0;
}

int64_t sts_rebuild(struct store *st, struct region *rg, uint64_t *skipped, char *err, size_t errlen)
{
	struct rebuild rb = { rg, 0, 0, 0 };
	int rc;

	/* with the policy texts: the region keeps them for TLSRPT */
	rc = db_foreach(store_db(st), STS_COLS, NULL, 0, 0, 0, rebuild_sts, &rb, err, errlen);
	*skipped += rb.skipped;
	if (rc != 0) {
		if (rb.err != 0)
			snprintf(err, errlen, "region: %s", strerror(rb.err));
		return -1;
	}
	return rb.n;
}
