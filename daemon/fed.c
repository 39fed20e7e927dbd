/*
 * daemon/fed.c - federation settings and rules: SQLite and the region.
 *
 * The settings (policy, local domain) live in the settings table under
 * "federation.*" keys and in the region under the key "." of the
 * federation table; each rule is a row of federation_rules and an entry of
 * the same table.  A change runs as a writer job, so it is durable and
 * visible to every client when the admin command returns, and the counts
 * it answers (AddRule / RemoveRule return the new count) are read inside
 * the same transaction.
 */
#include "fed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "module.h"
#include "region.h"
#include "shm/fed.h"
#include "shm/key.h"
#include "store.h"
#include "writer.h"

#define FED_FLUSH_MAX 1000000     /* rules removed by one flush, at most */

struct fed_job {
	enum fed_op op;
	const char *domain;
	int arg;
	int64_t now;
	int status;
	uint64_t count;
	/* settings after the change, for the region */
	int policy;
	char local[MXK_MAX_LEN + 1];
	/* FED_FLUSH: the rules removed */
	char (*gone)[MXK_MAX_LEN + 1];
	size_t ngone;
	char err[256];
};

static int db_err(sqlite3 *db, struct fed_job *j)
{
	snprintf(j->err, sizeof(j->err), "%s", sqlite3_errmsg(db));
	return -1;
}

/* one statement, text ?1 and integer ?2 bound when present; changes or -1 */
static int exec2(sqlite3 *db, const char *sql, const char *t, int64_t i, struct fed_job *j)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_bind_parameter_count(s) >= 1)
		sqlite3_bind_text(s, 1, t, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, i);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	rc = sqlite3_changes(db);
	goto done;
fail:
	db_err(db, j);
done:
	sqlite3_finalize(s);
	return rc;
}

static int64_t count_rules(sqlite3 *db, struct fed_job *j)
{
	sqlite3_stmt *s = NULL;
	int64_t n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM federation_rules", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	else
		db_err(db, j);
	sqlite3_finalize(s);
	return n;
}

/* The settings as stored: policy (ACCEPT when unset) and local domain. */
static int read_settings(sqlite3 *db, int *policy, char *local, size_t llen, int *any)
{
	sqlite3_stmt *s = NULL;
	int rc = -1, step;

	*policy = MXS_FED_ACCEPT;
	local[0] = '\0';
	*any = 0;
	if (sqlite3_prepare_v2(db, "SELECT key, value FROM settings WHERE key LIKE 'federation.%'", -1, &s, NULL) !=
	    SQLITE_OK)
		goto done;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);
		const char *v = (const char *)sqlite3_column_text(s, 1);

		if (k == NULL || v == NULL)
			continue;
		*any = 1;
		if (strcmp(k, "federation.policy") == 0)
			*policy = strcmp(v, "REJECT") == 0 ? MXS_FED_REJECT : MXS_FED_ACCEPT;
		else if (strcmp(k, "federation.local") == 0)
			snprintf(local, llen, "%s", v);
	}
	rc = step == SQLITE_DONE ? 0 : -1;
done:
	sqlite3_finalize(s);
	return rc;
}

static int job_store(struct store *st, void *arg, int64_t now)
{
	static const char put_setting[] =
		"INSERT INTO settings(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
	struct fed_job *j = arg;
	sqlite3 *db = store_db(st);
	sqlite3_stmt *s = NULL;
	int64_t n;
	int rc, any;

	j->now = now;
	switch (j->op) {
	case FED_POLICY:
		if (sqlite3_prepare_v2(db, put_setting, -1, &s, NULL) != SQLITE_OK)
			return db_err(db, j);
		sqlite3_bind_text(s, 1, "federation.policy", -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, j->arg == MXS_FED_REJECT ? "REJECT" : "ACCEPT", -1, SQLITE_STATIC);
		rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(db, j);
		sqlite3_finalize(s);
		if (rc != 0)
			return -1;
		break;
	case FED_LOCAL:
		if (sqlite3_prepare_v2(db, put_setting, -1, &s, NULL) != SQLITE_OK)
			return db_err(db, j);
		sqlite3_bind_text(s, 1, "federation.local", -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, j->domain, -1, SQLITE_STATIC);
		rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(db, j);
		sqlite3_finalize(s);
		if (rc != 0)
			return -1;
		break;
	case FED_ADD:
		rc = exec2(db, "INSERT INTO federation_rules(domain, created) VALUES(?1, ?2) ON CONFLICT DO NOTHING",
			   j->domain, now, j);
		if (rc < 0)
			return -1;
		j->status = rc == 0 ? FED_EXISTS : FED_OK;
		break;
	case FED_DEL:
		rc = exec2(db, "DELETE FROM federation_rules WHERE domain = ?1", j->domain, 0, j);
		if (rc < 0)
			return -1;
		j->status = rc == 0 ? FED_NOTFOUND : FED_OK;
		break;
	case FED_FLUSH:
		if (sqlite3_prepare_v2(db, "SELECT domain FROM federation_rules LIMIT ?1", -1, &s, NULL) != SQLITE_OK)
			return db_err(db, j);
		sqlite3_bind_int64(s, 1, FED_FLUSH_MAX);
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(s, 0);
			void *p;

			if (d == NULL)
				continue;
			if ((j->ngone & (j->ngone - 1)) == 0) {   /* grow at powers of two */
				p = realloc(j->gone, (j->ngone ? j->ngone * 2 : 64) * sizeof(*j->gone));
				if (p == NULL) {
					sqlite3_finalize(s);
					snprintf(j->err, sizeof(j->err), "out of memory");
					return -1;
				}
				j->gone = p;
			}
			snprintf(j->gone[j->ngone++], MXK_MAX_LEN + 1, "%s", d);
		}
		sqlite3_finalize(s);
		if (exec2(db, "DELETE FROM federation_rules", NULL, 0, j) < 0)
			return -1;
		break;
	}
	if (j->op == FED_POLICY || j->op == FED_LOCAL) {
		if (read_settings(db, &j->policy, j->local, sizeof(j->local), &any) != 0)
			return db_err(db, j);
		if (j->op == FED_POLICY)
			j->policy = j->arg;
	}
	n = count_rules(db, j);
	if (n < 0)
		return -1;
	j->count = j->op == FED_FLUSH ? j->ngone : (uint64_t)n;
	return j->status == FED_OK ? 1 : 0;
}

static int settings_put(struct region *rg, int policy, const char *local, int64_t now)
{
	uint8_t v[MXS_FED_VALUE_MAX];
	size_t vlen = mxc_fed_settings_encode(v, policy, now, local, strlen(local));

	if (vlen == 0) {
		errno = EINVAL;
		return -1;
	}
	return region_put(rg, MXS_TAB_FED, MXS_FED_SETTINGS_KEY, 1, v, vlen, NULL, 0) < 0 ? -1 : 0;
}

static int rule_put(struct region *rg, const char *domain, int64_t created)
{
	uint8_t v[MXS_FED_RULE_LEN];

	memcpy(v, &created, sizeof(v));
	return region_put(rg, MXS_TAB_FED, domain, strlen(domain), v, sizeof(v), NULL, 0) < 0 ? -1 : 0;
}

static int job_apply(struct region *rg, void *arg)
{
	struct fed_job *j = arg;
	size_t i;
	int rc = 0;

	switch (j->op) {
	case FED_POLICY:
	case FED_LOCAL:
		return settings_put(rg, j->policy, j->local, j->now);
	case FED_ADD:
		return rule_put(rg, j->domain, j->now);
	case FED_DEL:
		return region_del(rg, MXS_TAB_FED, j->domain, strlen(j->domain)) < 0 ? -1 : 0;
	case FED_FLUSH:
		for (i = 0; i < j->ngone; i++)
			if (region_del(rg, MXS_TAB_FED, j->gone[i], strlen(j->gone[i])) < 0)
				rc = -1;
		return rc;
	}
	return 0;
}

int fed_change(struct writer *w, enum fed_op op, const char *domain, int arg, uint64_t *count, char *msg,
	       size_t msglen)
{
	struct writer_job job;
	struct writer_cmd c;
	struct fed_job j;
	int rc;

	memset(&j, 0, sizeof(j));
	j.op = op;
	j.domain = domain != NULL ? domain : "";
	j.arg = arg;
	memset(&job, 0, sizeof(job));
	job.store = job_store;
	job.apply = job_apply;
	job.arg = &j;
	job.nent = 1;
	job.bytes = MXS_FED_VALUE_MAX + MXK_MAX_LEN;
	if (op == FED_FLUSH) {
		/* deletes copy buckets: room for them, as the writer counts it */
		job.nent = 1024;
		job.bytes = 1024 * (uint64_t)MXK_MAX_LEN;
	}
	writer_cmd_job(&c, &job);
	writer_run(w, &c);
	if (c.status < 0) {
		snprintf(msg, msglen, "%s", j.err[0] ? j.err : c.msg);
		rc = -1;
	} else {
		rc = j.status;
		*count = j.count;
	}
	writer_cmd_destroy(&c);
	free(j.gone);
	return rc;
}

int64_t fed_rebuild(struct store *st, struct region *rg, char *err, size_t errlen)
{
	char local[MXK_MAX_LEN + 1];
	sqlite3 *db = store_db(st);
	sqlite3_stmt *s = NULL;
	int64_t n = 0;
	int policy, any, step;

	if (read_settings(db, &policy, local, sizeof(local), &any) != 0)
		goto fail;
	if (any) {
		if (settings_put(rg, policy, local, (int64_t)time(NULL)) != 0) {
			snprintf(err, errlen, "region: %s", strerror(errno));
			return -1;
		}
		n++;
	}
	if (sqlite3_prepare_v2(db, "SELECT domain, created FROM federation_rules", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(s, 0);

		if (d == NULL || d[0] == '\0' || strlen(d) > MXK_MAX_LEN) {
			log_warnx("fed: rebuild: a malformed stored rule skipped");
			continue;
		}
		if (rule_put(rg, d, sqlite3_column_int64(s, 1)) != 0) {
			snprintf(err, errlen, "region: %s", strerror(errno));
			sqlite3_finalize(s);
			return -1;
		}
		n++;
	}
	if (step != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	return n;
fail:
	snprintf(err, errlen, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return -1;
}

static int64_t rebuild(void *self, struct store *st, struct region *rg, uint64_t *skipped, char *err, size_t errlen)
{
	(void)self;
	(void)skipped;
	return fed_rebuild(st, rg, err, errlen);
}

const struct module_ops fed_module = {
	.name = "federation entries",
	.rebuild = rebuild,
};
