/*
 * daemon/override.c - what makes a valid override, and where it goes.
 */
#include "override.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "module.h"
#include "region.h"
#include "store.h"
#include "shm/ctl.h"
#include "shm/layout.h"
#include "writer.h"

/* Bytes of a rejected input quoted back in an error message. */
#define OVERRIDE_QUOTE_MAX 64

/*
 * Quote at most OVERRIDE_QUOTE_MAX bytes of in for a message; control
 * bytes become '?' so the message stays one printable line.
 */
static void override_quote(char *out, size_t outlen, const char *in)
{
	size_t n = strlen(in), i, o = 0;

	for (i = 0; i < n && i < OVERRIDE_QUOTE_MAX && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)in[i];
		out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[o] = '\0';
	if (n > OVERRIDE_QUOTE_MAX && o + 4 <= outlen)
		memcpy(out + o, "...", 4);
}

/*
 * Strict UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF)
 * without control characters (C0, DEL, C1).  Returns 0, or -1 for bad
 * UTF-8 and -2 for a control character, with the offset in *at.
 */
static int override_utf8_check(const unsigned char *s, size_t n, size_t *at)
{
	size_t i = 0, k, len;
	unsigned char c, lo, hi;
	uint32_t cp;

	while (i < n) {
		c = s[i];
		*at = i;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return -2;
			i++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0;          /* overlong */
			else if (c == 0xed)
				hi = 0x9f;          /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90;          /* overlong */
			else if (c == 0xf4)
				hi = 0x8f;          /* past U+10FFFF */
		} else {
			return -1;
		}
		if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
			return -1;
		for (k = 2; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
		cp = (uint32_t)(c & (0x7f >> len));
		for (k = 1; k < len; k++)
			cp = (cp << 6) | (s[i + k] & 0x3f);
		if (cp >= 0x80 && cp <= 0x9f)
			return -2;                  /* C1 controls */
		i += len;
	}
	return 0;
}

static int override_comment(const char *c, size_t clen, char *err, size_t errlen)
{
	size_t at = 0;
	int rc;

	if (clen > MXS_OV_COMMENT_MAX) {
		snprintf(err, errlen, "comment: longer than %d bytes", MXS_OV_COMMENT_MAX);
		return -1;
	}
	rc = override_utf8_check((const unsigned char *)c, clen, &at);
	if (rc == -1) {
		snprintf(err, errlen, "comment: not valid UTF-8 (byte %zu)", at + 1);
		return -1;
	}
	if (rc == -2) {
		snprintf(err, errlen, "comment: control character at byte %zu", at + 1);
		return -1;
	}
	return 0;
}

/* Canonical name through mxk_normalize(); what names the field. */
static int override_name(const char *what, const char *wants, const char *in, char *out, size_t *len,
			 char *err, size_t errlen)
{
	char q[OVERRIDE_QUOTE_MAX + 4];

	if (in[0] == '\0') {
		snprintf(err, errlen, "%s: empty", what);
		return -1;
	}
	override_quote(q, sizeof(q), in);
	if (strnlen(in, MXK_MAX_INPUT + 1) > MXK_MAX_INPUT) {
		snprintf(err, errlen, "%s '%s': longer than %d bytes", what, q, MXK_MAX_INPUT);
		return -1;
	}
	if (mxk_normalize(in, out, MXK_MAX_LEN + 1, len, NULL) != MXK_OK) {
		snprintf(err, errlen, "%s '%s': not %s", what, q, wants);
		return -1;
	}
	return 0;
}

int override_key(const char *in, char *out, size_t *len, char *err, size_t errlen)
{
	return override_name("key", "a domain or IP literal", in, out, len, err, errlen);
}

int override_parse(const char *key, const char *target, const char *comment, struct override_buf *b,
		   struct override *o, char *err, size_t errlen)
{
	size_t klen, tlen, clen = strlen(comment);

	if (override_key(key, b->key, &klen, err, errlen) != 0)
		return -1;
	if (override_name("target", "a host name or IP address", target, b->target, &tlen, err, errlen) != 0)
		return -1;
	if (override_comment(comment, clen, err, errlen) != 0)
		return -1;
	memcpy(b->comment, comment, clen + 1);
	memset(o, 0, sizeof(*o));
	o->key = b->key;
	o->klen = (uint16_t)klen;
	o->target = b->target;
	o->tlen = (uint16_t)tlen;
	o->comment = b->comment;
	o->clen = (uint16_t)clen;
	return 0;
}

/* A stored name must be exactly its own canonical form. */
static int override_row_name(const char *what, const char *s, size_t len, char *err, size_t errlen)
{
	char canon[MXK_MAX_LEN + 1];
	size_t clen;

	if (len > MXK_MAX_LEN || strlen(s) != len ||
	    mxk_normalize(s, canon, sizeof(canon), &clen, NULL) != MXK_OK) {
		snprintf(err, errlen, "%s: not a valid name", what);
		return -1;
	}
	if (clen != len || memcmp(canon, s, len) != 0) {
		snprintf(err, errlen, "%s: not in canonical form (would be '%s')", what, canon);
		return -1;
	}
	return 0;
}

int override_from_row(const struct store_override *row, struct override *o, char *err, size_t errlen)
{
	if (override_row_name("key", row->key, row->klen, err, errlen) != 0 ||
	    override_row_name("target", row->target, row->tlen, err, errlen) != 0 ||
	    override_comment(row->comment, row->clen, err, errlen) != 0)
		return -1;
	memset(o, 0, sizeof(*o));
	o->key = row->key;
	o->klen = (uint16_t)row->klen;
	o->target = row->target;
	o->tlen = (uint16_t)row->tlen;
	o->comment = row->comment;
	o->clen = (uint16_t)row->clen;
	o->created = row->created;
	o->updated = row->updated;
	return 0;
}

uint64_t override_region_bytes(const struct override *o)
{
	return (uint64_t)o->klen + MXS_OV_VALUE_HDR + o->tlen + o->clen;
}

int override_store_put(struct store *st, struct override *o, int64_t now)
{
	return store_override_put(st, o->key, o->klen, o->target, o->tlen, o->comment, o->clen, now, &o->created,
				  &o->updated);
}

int override_store_del(struct store *st, const struct override *o)
{
	return store_override_del(st, o->key, o->klen);
}

int override_region_put(struct region *r, const struct override *o)
{
	uint8_t val[MXS_OV_VALUE_MAX];
	size_t vlen;

	vlen = mxc_ov_value_encode(val, o->created, o->updated, o->target, o->tlen, o->comment, o->clen);
	if (vlen == 0) {
		errno = EINVAL;         /* cannot happen: target and comment were checked */
		return -1;
	}
	return region_put(r, MXS_TAB_OVERRIDE, o->key, o->klen, val, vlen, NULL, 0);
}

int override_region_del(struct region *r, const struct override *o)
{
	return region_del(r, MXS_TAB_OVERRIDE, o->key, o->klen);
}

/* ---- changes, as writer jobs ------------------------------------------------------ */

static int job_store(struct store *st, void *arg, int64_t now)
{
	struct override_change *ch = arg;
	size_t k;
	int rc;

	/* the store_override_* functions set the store's message themselves */
	if (ch->del) {
		rc = override_store_del(st, &ch->recs[0]);
		return rc < 0 ? WRITER_JOB_NOTED : rc;
	}
	for (k = 0; k < ch->n; k++)
		if (override_store_put(st, &ch->recs[k], now) < 0)
			return WRITER_JOB_NOTED;
	return 1;
}

static int job_apply(struct region *r, void *arg)
{
	struct override_change *ch = arg;
	size_t k;
	int rc = 0, e = 0;

	for (k = 0; k < ch->n; k++) {
		if ((ch->del ? override_region_del(r, &ch->recs[k]) : override_region_put(r, &ch->recs[k])) < 0) {
			/* reserve made this impossible; if it happens anyway the
			 * change is durable and the next start publishes it */
			e = errno;
			log_warn("override: '%s' committed but not published", ch->recs[k].key);
			rc = -1;
		}
	}
	if (rc < 0)
		errno = e;
	return rc;
}

int override_job(struct writer_job *job, struct override_change *ch, int del, struct override *recs, size_t n)
{
	size_t k;

	if (recs == NULL || n < 1 || n > (del ? 1 : MXS_CTL_BATCH))
		return -1;
	ch->recs = recs;
	ch->n = n;
	ch->del = del;
	memset(job, 0, sizeof(*job));
	job->store = job_store;
	job->apply = job_apply;
	job->arg = ch;
	/* a delete copies its bucket, so it takes room too */
	for (k = 0; k < n; k++)
		job->bytes += del ? recs[k].klen : override_region_bytes(&recs[k]);
	job->nent = n;
	return 0;
}

/* ---- start-up rebuild ----------------------------------------------------------- */

struct rebuild {
	struct region *r;
	int64_t loaded;
	uint64_t skipped;
	int err;                /* errno of a failed region_put */
	char key[MXK_MAX_LEN + 1];
};

static int rebuild_one(const struct store_override *row, void *arg)
{
	struct rebuild *rb = arg;
	struct override o;
	char err[OVERRIDE_ERR_MAX];

	/* a row edited by hand into a form no lookup finds is left out */
	if (override_from_row(row, &o, err, sizeof(err)) != 0) {
		log_warnx("override: rebuild: row '%.64s' skipped: %s", row->key, err);
		rb->skipped++;
		return 0;
	}
	if (override_region_put(rb->r, &o) < 0) {
		rb->err = errno;
		snprintf(rb->key, sizeof(rb->key), "%s", o.key);
		return -1;
	}
	rb->loaded++;
	return 0;
}

static int64_t rebuild(void *self, struct store *st, struct region *rg, uint64_t *skipped, char *err, size_t errlen)
{
	struct rebuild rb;
	int rc;

	(void)self;
	memset(&rb, 0, sizeof(rb));
	rb.r = rg;
	rc = store_override_foreach(st, rebuild_one, &rb);
	*skipped += rb.skipped;
	if (rc == -1 && rb.err == 0) {
		snprintf(err, errlen, "store: %s: %s", store_path(st), store_errmsg(st));
		return -1;
	}
	if (rc != 0) {
		snprintf(err, errlen, "region_put '%s': %s", rb.key, strerror(rb.err));
		return -1;
	}
	return rb.loaded;
}

const struct module_ops override_module = {
	.name = "overrides",
	.rebuild = rebuild,
};
