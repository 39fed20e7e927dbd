/*
 * daemon/store.h - the durable copy: DIR/mxcache.db (SQLite, WAL).
 *
 * The region is rebuilt from this file on every start, so everything the
 * daemon acknowledges is committed here first.  Schema version in
 * PRAGMA user_version (STORE_SCHEMA_VERSION); a newer file is refused.
 *
 *   overrides(key TEXT PRIMARY KEY, target TEXT NOT NULL,
 *             comment TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL,
 *             updated INTEGER NOT NULL) WITHOUT ROWID
 *
 * Keys and targets are stored canonical (override.c sees to it).
 *
 * Errors: every call returns -1 on failure and leaves a one-line message
 * for store_errmsg().  A failed transaction is the caller's to roll back
 * with store_rollback(); nothing committed before it is affected.
 *
 * Thread safety: a struct store is used by one thread at a time (the main
 * thread at startup and shutdown, the writer thread in between).
 */
#ifndef MXC_DAEMON_STORE_H
#define MXC_DAEMON_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_FILE           "mxcache.db"
#define STORE_SCHEMA_VERSION 5

struct store;

/* One row, as store_override_foreach() hands it out. */
struct store_override {
	const char *key;         /* NUL-terminated, valid during the callback */
	size_t klen;
	const char *target;
	size_t tlen;
	const char *comment;
	size_t clen;
	int64_t created;         /* unix seconds */
	int64_t updated;
};

/*
 * store_open - open (creating it, mode 0640, on first start) DIR/mxcache.db:
 * WAL mode, synchronous (CONFIG_SYNC_FULL or _NORMAL), a busy timeout,
 * PRAGMA quick_check, schema created or checked.  Returns 0 and sets *out,
 * or -1 with a message in err ("store: DIR/mxcache.db: ...").  A damaged or
 * foreign file is an error, never a crash.  A missing file is created only
 * if DIR's region in shm_dir (one this user or root wrote) holds no stored
 * entries: otherwise the file was lost, and a start would publish an empty
 * region over the one clients read ("store: DIR/mxcache.db is missing but
 * the region ... holds N entries ...").
 */
int store_open(const char *dir, const char *shm_dir, int synchronous, struct store **out, char *err,
	       size_t errlen);

/* store_close - finalize and close; st may be NULL. */
void store_close(struct store *st);

/*
 * store_errmsg - the message of the last failure; static until the next
 * call.  It leads with what the failure means when SQLite's code says it:
 * "disk full (database or disk is full)", "read-only file system (disk I/O
 * error)", "I/O error (...)", "damaged database (...)".
 */
const char *store_errmsg(const struct store *st);

/* store_note_error - make SQLite's last error, from a statement run on
 * store_db() directly, the message store_errmsg() gives. */
void store_note_error(struct store *st);

/* store_path - the database file's path. */
const char *store_path(const struct store *st);

/*
 * store_db - the connection, for the modules that keep their own tables
 * in the file (daemon/sts_store.c).  Same thread rules as the store: the
 * writer thread only.
 */
struct sqlite3;
struct sqlite3 *store_db(struct store *st);

/*
 * Transactions (BEGIN IMMEDIATE / COMMIT / ROLLBACK).  rollback keeps the
 * message of the failure that led to it and is a no-op outside one.
 * begin first checks that DIR/mxcache.db still names the open file; once
 * it does not (removed, or another file moved over it) every begin fails,
 * "mxcache.db was removed under mxcached; what it committed is saved as
 * mxcache.db.saved-...", until a restart: the open file's contents are
 * copied to DIR/mxcache.db.saved-<time>-<pid> the first time, and
 * store_checkpoint() does the same at the stop.
 */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/*
 * store_override_put - insert or replace key's row at time now.  A new row
 * gets created = updated = now; an existing one keeps its created.
 * *created and *updated receive what is stored.  Returns 0 or -1.
 */
int store_override_put(struct store *st, const char *key, size_t klen, const char *target, size_t tlen,
		       const char *comment, size_t clen, int64_t now, int64_t *created, int64_t *updated);

/* store_override_del - returns 1 deleted, 0 absent, -1 error. */
int store_override_del(struct store *st, const char *key, size_t klen);

/* store_override_count - rows in overrides into *n.  Returns 0 or -1. */
int store_override_count(struct store *st, uint64_t *n);

/*
 * store_override_foreach - call fn for every row (one prepared statement,
 * no allocation per row).  fn returning non-zero stops the walk and
 * becomes the result.  Returns 0, fn's value, or -1.
 */
typedef int (*store_override_fn)(const struct store_override *row, void *arg);
int store_override_foreach(struct store *st, store_override_fn fn, void *arg);

/*
 * store_check_file - does DIR/mxcache.db still name the open file?  0, or
 * -1 with the message set (and, the first time, the copy saved and the
 * WAL emptied: see store_begin).  store_begin() runs it; the writer also
 * runs it between rounds, so a removal is caught without a change.
 */
int store_check_file(struct store *st);

/* store_checkpoint - fold the WAL into the database and truncate it
 * (the final snapshot at shutdown).  Returns 0 or -1; -1 without
 * touching the file when the path no longer names it (see store_begin). */
int store_checkpoint(struct store *st);

#endif /* MXC_DAEMON_STORE_H */
