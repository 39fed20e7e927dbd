/*
 * daemon/override.h - endpoint overrides: validation, canonical form, and
 * the two places an override lives (the store, then the region).
 *
 * Semantics (the Go endpoint_cache this re-creates): a key is a domain or
 * an IP literal; its override names the host (name or IP) mail for it is
 * delivered to, with an operator's comment.  Keys and targets are stored
 * in the one canonical form of mxk_normalize(), so every spelling of a key
 * finds the same override.  Resolving is the client library's job.
 *
 * Region record (table MXS_TAB_OVERRIDE): value = the target's bytes,
 * meta = shm/override.h's record (created, updated, comment).
 *
 * Thread safety: the validating functions are pure and safe anywhere; the
 * store and region functions belong to whoever owns those (the writer).
 */
#ifndef MXC_DAEMON_OVERRIDE_H
#define MXC_DAEMON_OVERRIDE_H

#include <stddef.h>
#include <stdint.h>

#include "shm/key.h"
#include "shm/override.h"

struct store;
struct store_override;
struct region;
struct module_ops;

/* Room for messages like "key 'x y': not a domain or IP literal". */
#define OVERRIDE_ERR_MAX 192

/* A validated override.  The strings are canonical and NUL-terminated. */
struct override {
	const char *key;
	const char *target;
	const char *comment;
	uint16_t klen;
	uint16_t tlen;
	uint16_t clen;
	uint64_t line;          /* import: the client's line number, else 0 */
	int64_t created;        /* unix seconds, as stored */
	int64_t updated;
};

/* Storage for one override's canonical strings. */
struct override_buf {
	char key[MXK_MAX_LEN + 1];
	char target[MXK_MAX_LEN + 1];
	char comment[MXS_OV_COMMENT_MAX + 1];
};

/*
 * override_key - canonical form of a user's key into out (MXK_MAX_LEN + 1
 * bytes) and its length into *len.  Returns 0, or -1 with a message in err.
 */
int override_key(const char *in, char *out, size_t *len, char *err, size_t errlen);

/*
 * override_parse - validate key, target and comment (comment may be "")
 * and fill *o with their canonical forms, kept in *b.  Returns 0, or -1
 * with a message in err naming the bad field.
 */
int override_parse(const char *key, const char *target, const char *comment, struct override_buf *b,
		   struct override *o, char *err, size_t errlen);

/*
 * override_from_row - *o for a row read back from the store (start-up
 * rebuild), checked as strictly as a new one: a row edited by hand into a
 * form no lookup would find is refused.  The strings stay the row's.
 * Returns 0, or -1 with a message in err.
 */
int override_from_row(const struct store_override *row, struct override *o, char *err, size_t errlen);

/* override_region_bytes - key + value + meta bytes, for region_reserve(). */
uint64_t override_region_bytes(const struct override *o);

/* override_store_put - upsert o at time now; fills o->created/updated.
 * Returns 0 or -1 (store_errmsg()). */
int override_store_put(struct store *st, struct override *o, int64_t now);

/* override_store_del - returns 1 deleted, 0 absent, -1 (store_errmsg()). */
int override_store_del(struct store *st, const struct override *o);

/* override_region_put - returns 0 added, 1 replaced, -1 with errno. */
int override_region_put(struct region *r, const struct override *o);

/* override_region_del - returns 1 removed, 0 absent, -1 with errno. */
int override_region_del(struct region *r, const struct override *o);

/*
 * A change of overrides as a writer job (daemon/writer.h): recs stored and
 * published, or deleted (del: one record).  Filled by override_job; the
 * caller keeps it and recs alive until the job is done.
 */
struct override_change {
	struct override *recs;
	size_t n;
	int del;
};

/*
 * override_job - *job for the change of recs[0..n) (del: delete recs[0],
 * n == 1; else put each, n at most MXS_CTL_BATCH), kept in *ch.  0, or -1
 * when the change is malformed (job untouched).
 */
struct writer_job;
int override_job(struct writer_job *job, struct override_change *ch, int del, struct override *recs, size_t n);

/* override_module - the overrides' part in main's steps (daemon/module.h):
 * rebuild. */
extern const struct module_ops override_module;

#endif /* MXC_DAEMON_OVERRIDE_H */
