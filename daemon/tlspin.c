/*
 * daemon/tlspin.c - TLS pins: validation, the writer jobs that set and
 * delete them, and their rebuild into the region at start.
 */
#include "tlspin.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "module.h"
#include "region.h"
#include "store.h"
#include "writer.h"
#include "shm/layout.h"

/* Bytes of a rejected domain quoted back in an error message. */
#define TLSPIN_QUOTE_MAX 64

/* Quote at most TLSPIN_QUOTE_MAX bytes of in, control bytes as '?', so
 * the message stays one printable line. */
static void tlspin_quote(char *out, size_t outlen, const char *in)
{
	size_t n = strlen(in), i, o = 0;

	for (i = 0; i < n && i < TLSPIN_QUOTE_MAX && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)in[i];
		out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[o] = '\0';
	if (n > TLSPIN_QUOTE_MAX && o + 4 <= outlen)
		memcpy(out + o, "...", 4);
}

int tlspin_domain(const char *in, char *out, size_t *len, char *err, size_t errlen)
{
	char q[TLSPIN_QUOTE_MAX + 4];
	int kind;

	if (in[0] == '\0') {
		snprintf(err, errlen, "domain: empty");
		return -1;
	}
	tlspin_quote(q, sizeof(q), in);
	if (strnlen(in, MXK_MAX_INPUT + 1) > MXK_MAX_INPUT) {
		snprintf(err, errlen, "domain '%s': longer than %d bytes", q, MXK_MAX_INPUT);
		return -1;
	}
	if (mxk_normalize(in, out, MXK_MAX_LEN + 1, len, &kind) != MXK_OK) {
		snprintf(err, errlen, "domain '%s': not a domain name", q);
		return -1;
	}
	if (kind != MXK_DOMAIN) {
		/* Postfix asks smtp_tls_policy_maps by next-hop domain; an
		 * address is never the key it asks by */
		snprintf(err, errlen, "domain '%s': an IP literal; a TLS pin is set for a domain name", q);
		return -1;
	}
	return 0;
}

int tlspin_policy(const char *policy, char *err, size_t errlen)
{
	const char *why;

	if (mxc_pin_policy_check(policy, strnlen(policy, MXS_PIN_POLICY_MAX + 1), &why) != 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	return 0;
}

/* ---- SQLite ---------------------------------------------------------------------- */

/* One pin's change, as a writer job. */
struct tlspin_job {
	const char *domain;
	size_t dlen;
	const char *policy;     /* NULL: delete */
	size_t plen;
	int64_t created;        /* a set: as stored */
	int64_t updated;
};

/* An existing pin keeps its created time; RETURNING hands back both. */
static const char tlspin_sql_put[] =
	"INSERT INTO tls_pins(domain, policy, created, updated) VALUES(?1, ?2, ?3, ?3) "
	"ON CONFLICT(domain) DO UPDATE SET policy = excluded.policy, updated = excluded.updated "
	"RETURNING created, updated";

static int job_store(struct store *st, void *arg, int64_t now)
{
	struct tlspin_job *j = arg;
	sqlite3 *db = store_db(st);
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (j->policy == NULL) {
		if (sqlite3_prepare_v2(db, "DELETE FROM tls_pins WHERE domain = ?1", -1, &s, NULL) != SQLITE_OK)
			goto done;
		sqlite3_bind_text(s, 1, j->domain, (int)j->dlen, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto done;
		rc = sqlite3_changes(db) > 0;   /* 0: nothing to delete */
		goto done;
	}
	if (sqlite3_prepare_v2(db, tlspin_sql_put, -1, &s, NULL) != SQLITE_OK)
		goto done;
	sqlite3_bind_text(s, 1, j->domain, (int)j->dlen, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, j->policy, (int)j->plen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	if (sqlite3_step(s) != SQLITE_ROW)
		goto done;
	j->created = sqlite3_column_int64(s, 0);
	j->updated = sqlite3_column_int64(s, 1);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto done;
	rc = 1;
done:
	/* SQLite's message, taken before finalize can change it */
	if (rc < 0) {
		store_note_error(st);
		rc = WRITER_JOB_NOTED;
	}
	sqlite3_finalize(s);
	return rc;
}

/* ---- the region ------------------------------------------------------------------ */

static int pin_put(struct region *rg, const char *domain, size_t dlen, const char *policy, size_t plen,
		   int64_t created, int64_t updated)
{
	uint8_t val[MXS_PIN_VALUE_MAX];
	size_t vlen = mxc_pin_value_encode(val, created, updated, policy, plen);

	if (vlen == 0) {
		errno = EINVAL;         /* cannot happen: the policy was checked */
		return -1;
	}
	return region_put(rg, MXS_TAB_TLSPIN, domain, dlen, val, vlen, NULL, 0) < 0 ? -1 : 0;
}

static int job_apply(struct region *rg, void *arg)
{
	struct tlspin_job *j = arg;

	if (j->policy == NULL)
		return region_del(rg, MXS_TAB_TLSPIN, j->domain, j->dlen) < 0 ? -1 : 0;
	return pin_put(rg, j->domain, j->dlen, j->policy, j->plen, j->created, j->updated);
}

int tlspin_change(struct writer *w, const char *domain, const char *policy, int64_t *created, int64_t *updated,
		  char *msg, size_t msglen)
{
	struct writer_job job;
	struct writer_cmd c;
	struct tlspin_job j;
	int rc;

	memset(&j, 0, sizeof(j));
	j.domain = domain;
	j.dlen = strlen(domain);
	j.policy = policy;
	j.plen = policy != NULL ? strlen(policy) : 0;
	if (j.dlen == 0 || j.dlen > MXK_MAX_LEN || (policy != NULL && (j.plen == 0 || j.plen > MXS_PIN_POLICY_MAX))) {
		snprintf(msg, msglen, "malformed TLS pin");
		return -1;
	}
	memset(&job, 0, sizeof(job));
	job.store = job_store;
	job.apply = job_apply;
	job.arg = &j;
	job.nent = 1;
	/* a delete copies its bucket, so it takes room too */
	job.bytes = j.dlen + (policy != NULL ? MXS_PIN_VALUE_HDR + j.plen : 0);
	writer_cmd_job(&c, &job);
	writer_run(w, &c);
	if (c.status == WRITER_OK) {
		rc = TLSPIN_OK;
		if (created != NULL)
			*created = j.created;
		if (updated != NULL)
			*updated = j.updated;
	} else if (c.status == WRITER_NOTFOUND) {
		rc = TLSPIN_NOTFOUND;
	} else {
		snprintf(msg, msglen, "%s", c.msg);
		rc = -1;
	}
	writer_cmd_destroy(&c);
	return rc;
}

/* ---- start-up rebuild ------------------------------------------------------------ */

/* A stored row, checked as strictly as a new pin: the domain exactly its
 * own canonical form, the policy one Postfix takes, no NUL inside. */
static int pin_row_check(const char *d, size_t dlen, const char *p, size_t plen, char *why, size_t whylen)
{
	char canon[MXK_MAX_LEN + 1];
	size_t clen;

	if (d == NULL || p == NULL || strlen(d) != dlen || strlen(p) != plen) {
		snprintf(why, whylen, "a NULL or a NUL byte in the row");
		return -1;
	}
	if (tlspin_domain(d, canon, &clen, why, whylen) != 0 || tlspin_policy(p, why, whylen) != 0)
		return -1;
	if (clen != dlen || memcmp(canon, d, dlen) != 0) {
		snprintf(why, whylen, "domain not in canonical form (would be '%.64s')", canon);
		return -1;
	}
	return 0;
}

static int64_t rebuild(void *self, struct store *st, struct region *rg, uint64_t *skipped, char *err, size_t errlen)
{
	sqlite3 *db = store_db(st);
	sqlite3_stmt *s = NULL;
	char why[TLSPIN_ERR_MAX];
	int64_t n = 0;
	int step;

	(void)self;
	if (sqlite3_prepare_v2(db, "SELECT domain, policy, created, updated FROM tls_pins", -1, &s, NULL) !=
	    SQLITE_OK)
		goto fail;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(s, 0);
		const char *p = (const char *)sqlite3_column_text(s, 1);
		size_t dlen = (size_t)sqlite3_column_bytes(s, 0), plen = (size_t)sqlite3_column_bytes(s, 1);

		/* a row edited by hand into a form no lookup finds, or one
		 * Postfix could not take, is left out, not served */
		if (pin_row_check(d, dlen, p, plen, why, sizeof(why)) != 0) {
			log_warnx("tlspin: rebuild: the stored pin of '%.64s' skipped: %s", d != NULL ? d : "", why);
			(*skipped)++;
			continue;
		}
		if (pin_put(rg, d, dlen, p, plen, sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 3)) != 0) {
			snprintf(err, errlen, "region_put '%.64s': %s", d, strerror(errno));
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
	snprintf(err, errlen, "store: %s: %s", store_path(st), sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return -1;
}

const struct module_ops tlspin_module = {
	.name = "TLS pins",
	.rebuild = rebuild,
};
