/*
 * daemon/store.c - SQLite behind the override table.
 *
 * One connection, used by one thread at a time, so SQLite runs without its
 * own mutexes (SQLITE_OPEN_NOMUTEX).  The statements the writer runs for
 * every change are prepared once at open; the rest are prepared when used.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "config.h"
#include "log.h"
#include "shm/layout.h"
#include "shm/path.h"

/* How long a statement waits for a lock another process (sqlite3 CLI,
 * a backup) holds before it fails with SQLITE_BUSY. */
#define STORE_BUSY_TIMEOUT_MS 5000
#define STORE_ERR_MAX         256
/* A copy of a removed database that could not be saved (a full disk) is
 * tried again at most this often: each try copies the whole file. */
#define STORE_SAVE_RETRY_S    10

struct store {
	sqlite3 *db;
	sqlite3_stmt *s_begin;
	sqlite3_stmt *s_commit;
	sqlite3_stmt *s_rollback;
	sqlite3_stmt *s_put;
	sqlite3_stmt *s_del;
	sqlite3_stmt *s_all;
	/* The file SQLite opened, held open for the store's life (closed only
	 * after SQLite's own descriptors, so no POSIX lock of SQLite's is
	 * dropped early): fstat() of it against stat() of the path tells
	 * whether the path still names the database; see store_check_file. */
	int fd;
	char path[PATH_MAX];
	char saved[PATH_MAX + 32];      /* the copy store_save_copy made, or "" */
	int detached;                   /* the path was found not to name fd */
	time_t save_tried;              /* last failed store_save_copy, or 0 */
	char err[STORE_ERR_MAX];
};

static const char store_schema_v1[] =
	"CREATE TABLE IF NOT EXISTS overrides ("
	" key TEXT PRIMARY KEY,"
	" target TEXT NOT NULL,"
	" comment TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" updated INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"PRAGMA user_version = 1;";

/* Version 2: the MTA-STS policy cache and the MX cache (daemon/sts_store.c).
 * Rowid tables: a policy row carries its text, up to 64 KiB. */
static const char store_schema_v2[] =
	"CREATE TABLE IF NOT EXISTS sts ("
	" domain TEXT NOT NULL UNIQUE,"
	" kind INTEGER NOT NULL,"
	" mode INTEGER NOT NULL DEFAULT 0,"
	" max_age INTEGER NOT NULL DEFAULT 0,"
	" flags INTEGER NOT NULL DEFAULT 0,"
	" failure INTEGER NOT NULL DEFAULT 0,"
	" detail TEXT NOT NULL DEFAULT '',"
	" record_id TEXT NOT NULL DEFAULT '',"
	" mx TEXT NOT NULL DEFAULT '',"
	" policy_text TEXT NOT NULL DEFAULT '',"
	" inserted INTEGER NOT NULL,"
	" valid_end INTEGER NOT NULL,"
	" last_update INTEGER NOT NULL,"
	" last_use INTEGER NOT NULL,"
	" next_check INTEGER NOT NULL"
	");"
	"CREATE INDEX IF NOT EXISTS sts_next_check ON sts(next_check);"
	"CREATE TABLE IF NOT EXISTS mx ("
	" domain TEXT NOT NULL UNIQUE,"
	" kind INTEGER NOT NULL,"
	" answer TEXT NOT NULL DEFAULT '',"
	" fetched INTEGER NOT NULL,"
	" expires INTEGER NOT NULL"
	");"
	"PRAGMA user_version = 2;";

/* Version 3: the federation policy (settings, rules). */
static const char store_schema_v3[] =
	"CREATE TABLE IF NOT EXISTS settings ("
	" key TEXT PRIMARY KEY,"
	" value TEXT NOT NULL"
	") WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS federation_rules ("
	" domain TEXT PRIMARY KEY,"
	" created INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"PRAGMA user_version = 3;";

/* Version 4: per-domain delivery stats (daemon/stats.c). */
static const char store_schema_v4[] =
	"CREATE TABLE IF NOT EXISTS stats ("
	" domain TEXT PRIMARY KEY,"
	" queued INTEGER NOT NULL DEFAULT 0,"
	" failed_http INTEGER NOT NULL DEFAULT 0,"
	" failed_https INTEGER NOT NULL DEFAULT 0,"
	" failed_smtp INTEGER NOT NULL DEFAULT 0,"
	" success_http INTEGER NOT NULL DEFAULT 0,"
	" success_https INTEGER NOT NULL DEFAULT 0,"
	" success_smtp INTEGER NOT NULL DEFAULT 0,"
	" successful INTEGER NOT NULL DEFAULT 0,"
	" latency_ms INTEGER NOT NULL DEFAULT 0,"
	" last_active INTEGER NOT NULL DEFAULT 0"
	") WITHOUT ROWID;"
	"PRAGMA user_version = 4;";

/* Version 5: TLS policy.  The DANE state and the TXT record's last check
 * beside each MTA-STS entry, the authenticated flag of an MX answer
 * (daemon/dane.c), and the operator's TLS pins (daemon/tlspin.c). */
static const char store_schema_v5[] =
	"ALTER TABLE sts ADD COLUMN dane INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sts ADD COLUMN dane_flags INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sts ADD COLUMN dane_valid_end INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE sts ADD COLUMN txt_checked INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE mx ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE IF NOT EXISTS tls_pins ("
	" domain TEXT PRIMARY KEY,"
	" policy TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" updated INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"PRAGMA user_version = 5;";
_Static_assert(STORE_SCHEMA_VERSION == 5, "add the migration to the new version");

/* An existing row keeps its created time; RETURNING hands back both. */
static const char store_sql_put[] =
	"INSERT INTO overrides(key, target, comment, created, updated) VALUES(?1, ?2, ?3, ?4, ?4)"
	" ON CONFLICT(key) DO UPDATE SET target = excluded.target, comment = excluded.comment,"
	" updated = excluded.updated"
	" RETURNING created, updated";

static void store_seterr(struct store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void store_seterr(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
}

/*
 * An I/O error's cause, asked of the file system itself: SQLite's record
 * of errno is only as fresh as its last system call, and a failed commit
 * (the WAL write inside COMMIT) leaves none at all.  Opening the file for
 * writing is refused with EROFS on a file system that went read-only
 * under us (ext4 after errors=remount-ro does not even set the read-only
 * mount flag), and statvfs() tells a full disk.  Returns a class or NULL.
 */
static const char *store_probe(const struct store *st, int *sys)
{
	struct statvfs sv;
	int fd;

	fd = open(st->path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		if (errno == EROFS)
			return "read-only file system";
		if (*sys == 0)
			*sys = errno;
	} else {
		close(fd);
	}
	if (statvfs(st->path, &sv) == 0) {
		if (sv.f_flag & ST_RDONLY)
			return "read-only file system";
		if (sv.f_bavail == 0)
			return "disk full";
	}
	return NULL;
}

/*
 * What a failure means to the operator, or NULL when SQLite's own message
 * says it well enough ("database is locked").  A full disk or a read-only
 * file system is fixed outside mxcached, and must never read like damage:
 * the advice for a damaged file is to move it away.  *sys receives the OS
 * error behind an I/O error where one is known, or 0.
 */
static const char *store_class(const struct store *st, int *sys)
{
	int rc = sqlite3_extended_errcode(st->db), e = 0;
	const char *cls;

	/* SQLite records errno only for these two */
	if ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN)
		e = sqlite3_system_errno(st->db);
	*sys = e;
	if ((rc & 0xff) == SQLITE_FULL || e == ENOSPC)
		return "disk full";
	if (e == EDQUOT)
		return "disk quota exceeded";
	if (e == EFBIG)
		return "file size limit reached";
	if (e == EROFS)
		return "read-only file system";
	if (rc == SQLITE_READONLY_DBMOVED)
		return "the database file was moved or removed";
	if ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY) {
		cls = store_probe(st, sys);
		if (cls != NULL)
			return cls;
		return (rc & 0xff) == SQLITE_READONLY ? "the database is read-only" : "I/O error";
	}
	if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
		return "damaged database";
	return NULL;
}

/* Record SQLite's message for the failure that just happened, led by
 * what it means: "disk full (database or disk is full)". */
static int store_fail(struct store *st)
{
	const char *cls;
	int e;

	cls = store_class(st, &e);
	if (cls == NULL)
		store_seterr(st, "%s", sqlite3_errmsg(st->db));
	else if (e != 0 && strcmp(cls, "I/O error") == 0)
		store_seterr(st, "%s (%s: %s)", cls, sqlite3_errmsg(st->db), strerror(e));
	else
		store_seterr(st, "%s (%s)", cls, sqlite3_errmsg(st->db));
	return -1;
}

/* Run a statement with no result rows; always leaves it reset. */
static int store_step_done(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE) {
		store_fail(st);
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	return 0;
}

static int store_prepare(struct store *st, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL) != SQLITE_OK)
		return store_fail(st);
	return 0;
}

/* A single-row pragma answering one text value, copied into out. */
static int store_pragma_text(struct store *st, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *t;
	int rc = -1;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_fail(st);
		goto done;
	}
	if (sqlite3_step(s) != SQLITE_ROW) {
		store_fail(st);
		goto done;
	}
	t = sqlite3_column_text(s, 0);
	snprintf(out, outlen, "%s", t != NULL ? (const char *)t : "");
	rc = 0;
done:
	sqlite3_finalize(s);
	return rc;
}

static int store_schema(struct store *st)
{
	char v[32];
	long version;

	if (store_pragma_text(st, "PRAGMA user_version", v, sizeof(v)) != 0)
		return -1;
	version = strtol(v, NULL, 10);
	if (version > STORE_SCHEMA_VERSION) {
		store_seterr(st, "schema version %ld is newer than this mxcached understands (%d); run a newer mxcached",
			     version, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (version == STORE_SCHEMA_VERSION)
		return 0;
	if (version < 0) {
		store_seterr(st, "schema version %ld is not one mxcached wrote", version);
		return -1;
	}
	/* every step from the file's version on, in one transaction: version
	 * 0 is a new file, 1 is from before the MTA-STS cache, 2 from before
	 * the federation policy, 3 from before the delivery stats, 4 from
	 * before DANE and the TLS pins */
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(st);
	if ((version < 1 && sqlite3_exec(st->db, store_schema_v1, NULL, NULL, NULL) != SQLITE_OK) ||
	    (version < 2 && sqlite3_exec(st->db, store_schema_v2, NULL, NULL, NULL) != SQLITE_OK) ||
	    (version < 3 && sqlite3_exec(st->db, store_schema_v3, NULL, NULL, NULL) != SQLITE_OK) ||
	    (version < 4 && sqlite3_exec(st->db, store_schema_v4, NULL, NULL, NULL) != SQLITE_OK) ||
	    sqlite3_exec(st->db, store_schema_v5, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		store_fail(st);
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/*
 * The pragmas and checks of store_open, in an order that matters: the
 * busy timeout before anything that takes a lock, quick_check before the
 * journal mode is changed (a damaged file is reported as damaged, not as
 * a failed pragma), the schema last.
 */
static int store_setup(struct store *st, int synchronous)
{
	char v[STORE_ERR_MAX];
	int rc;

	if (sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS) != SQLITE_OK)
		return store_fail(st);
	if (store_pragma_text(st, "PRAGMA quick_check", v, sizeof(v)) != 0) {
		/* the first read of the file: only SQLite's verdict on its bytes
		 * makes it damaged; a full disk (no room for the -shm index), a
		 * read-only file system or a lock held elsewhere leaves it sound */
		rc = sqlite3_extended_errcode(st->db) & 0xff;
		if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
			store_seterr(st,
				     "damaged or not an SQLite database (%.200s); restore it from a backup or move it away",
				     sqlite3_errmsg(st->db));
		} else {
			snprintf(v, sizeof(v), "%s", st->err);
			store_seterr(st, "cannot read the database: %.200s", v);
		}
		return -1;
	}
	if (strcmp(v, "ok") != 0) {
		/* quick_check's report spans lines; a log line must not */
		for (char *p = v; *p != '\0'; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' ';
		store_seterr(st, "damaged database (quick_check: %.160s); restore it from a backup or move it away", v);
		return -1;
	}
	if (store_pragma_text(st, "PRAGMA journal_mode = WAL", v, sizeof(v)) != 0)
		return -1;
	if (strcmp(v, "wal") != 0) {
		store_seterr(st, "cannot switch to WAL mode (journal_mode is %.64s)", v);
		return -1;
	}
	if (sqlite3_exec(st->db, synchronous == CONFIG_SYNC_NORMAL ? "PRAGMA synchronous = NORMAL"
								      : "PRAGMA synchronous = FULL",
			 NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(st);
	if (store_schema(st) != 0)
		return -1;
	if (store_prepare(st, "BEGIN IMMEDIATE", &st->s_begin) != 0 ||
	    store_prepare(st, "COMMIT", &st->s_commit) != 0 ||
	    store_prepare(st, "ROLLBACK", &st->s_rollback) != 0 ||
	    store_prepare(st, store_sql_put, &st->s_put) != 0 ||
	    store_prepare(st, "DELETE FROM overrides WHERE key = ?1", &st->s_del) != 0 ||
	    store_prepare(st, "SELECT key, target, comment, created, updated FROM overrides", &st->s_all) != 0)
		return -1;
	return 0;
}

/*
 * SQLite takes an empty file for a new database, and the start goes on
 * with no data at all.  That is right for the file store_open() has just
 * created, but a file cut to nothing (a copy onto a full disk, a restore
 * gone wrong) looks the same: say so, so that an empty region has an
 * explanation in the log.  A WAL beside it still holds the data.
 */
static void store_warn_empty(const struct store *st, int fd)
{
	char wal[PATH_MAX + 8];
	struct stat sb;

	if (fstat(fd, &sb) != 0 || sb.st_size != 0)
		return;
	snprintf(wal, sizeof(wal), "%s-wal", st->path);
	if (stat(wal, &sb) == 0 && sb.st_size > 0)
		return;
	log_warnx("store: %s is empty (0 bytes): starting with no data; if it held data, restore it from a backup",
		  st->path);
}

/*
 * The region's tables rebuilt from this file.  MXS_TAB_SERVERS is counted
 * afresh by every start and never stored, so it is no sign of lost data.
 */
static const unsigned store_region_tables[] = { MXS_TAB_OVERRIDE, MXS_TAB_STS, MXS_TAB_MX, MXS_TAB_FED,
						MXS_TAB_STATS, MXS_TAB_TLSPIN };

/*
 * The entries the existing region of dir holds (its .data file in shm_dir,
 * path into rpath), read from the header's h_count[] with pread(): nothing
 * is mapped, so a file cut short under us is a short read, not a SIGBUS.
 * Only a region this daemon's user (or root) wrote counts, as clients
 * trust it: a regular file nobody else can write.  Returns 1 with *n and
 * *nov (overrides) set, 1 with *n = UINT64_MAX for a region of another
 * layout (its counts are elsewhere), or 0 when there is no such region,
 * it is still being built, or it holds nothing.
 */
static int store_region_entries(const char *dir, const char *shm_dir, char *rpath, size_t rlen, uint64_t *n,
				uint64_t *nov)
{
	struct mxc_shm_hdr h;
	struct stat sb;
	ssize_t k;
	size_t i;
	int fd;

	*n = *nov = 0;
	if (shm_dir == NULL)
		shm_dir = mxc_shm_dir();
	if (stat(dir, &sb) != 0 ||
	    mxc_shm_path(rpath, rlen, shm_dir, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino, "data") != 0)
		return 0;
	fd = open(rpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1)
		return 0;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (sb.st_uid != geteuid() && sb.st_uid != 0) ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0 || sb.st_size < (off_t)MXS_SHM_HDR_SIZE) {
		close(fd);
		return 0;
	}
	k = pread(fd, &h, sizeof(h), 0);
	close(fd);
	if (k != (ssize_t)sizeof(h) || h.h_magic != MXS_SHM_MAGIC || h.h_state == MXS_STATE_INIT)
		return 0;
	if (h.h_layout != MXS_SHM_LAYOUT || h.h_abi != MXS_SHM_ABI) {
		*n = UINT64_MAX;
		return 1;
	}
	for (i = 0; i < sizeof(store_region_tables) / sizeof(store_region_tables[0]); i++)
		*n += h.h_count[store_region_tables[i]];
	*nov = h.h_count[MXS_TAB_OVERRIDE];
	return *n > 0;
}

/*
 * A missing mxcache.db is a first start only when nothing was ever served
 * from it.  If the region clients read holds entries, the file was lost
 * (removed by hand, a restore gone wrong, a mount missing): starting would
 * create an empty database and publish an empty region over the populated
 * one, and every client would lose every route at once.  Refuse instead,
 * and leave the operator the choice.  Returns 0, or -1 with err set.
 */
static int store_region_guard(const char *dir, const char *shm_dir, const char *path, char *err, size_t errlen)
{
	char rpath[MXS_SHM_PATH_MAX];
	uint64_t n, nov;

	if (store_region_entries(dir, shm_dir, rpath, sizeof(rpath), &n, &nov) == 0)
		return 0;
	if (n == UINT64_MAX)
		snprintf(err, errlen,
			 "store: %s is missing but the region %s, written by another mxcached version, may hold entries; "
			 "restore the database (from a backup or a %s.saved-* copy) or remove the region file to start "
			 "with no data",
			 path, rpath, STORE_FILE);
	else
		snprintf(err, errlen,
			 "store: %s is missing but the region %s holds %llu entries (%llu overrides) that clients are "
			 "reading; restore the database (from a backup or a %s.saved-* copy) or remove the region "
			 "file to start with no data",
			 path, rpath, (unsigned long long)n, (unsigned long long)nov, STORE_FILE);
	return -1;
}

int store_open(const char *dir, const char *shm_dir, int synchronous, struct store **out, char *err,
	       size_t errlen)
{
	struct store *st;
	struct stat sb, path_sb;
	int n, existed;

	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "store: out of memory");
		return -1;
	}
	st->fd = -1;
	n = snprintf(st->path, sizeof(st->path), "%s/%s", dir, STORE_FILE);
	if (n < 0 || (size_t)n >= sizeof(st->path)) {
		snprintf(err, errlen, "store: %s: path too long", dir);
		goto fail;
	}
	/* SQLite would create the file 0644; the WAL and -shm files copy the
	 * mode of the database, so creating it 0640 here covers all three. */
	existed = lstat(st->path, &sb) == 0;
	if (!existed && store_region_guard(dir, shm_dir, st->path, err, errlen) != 0)
		goto fail;
	st->fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (st->fd == -1) {
		snprintf(err, errlen, "store: %s: %s", st->path, strerror(errno));
		goto fail;
	}
	if (existed)
		store_warn_empty(st, st->fd);
	if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store: %s: %s", st->path,
			 st->db != NULL ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	if (store_setup(st, synchronous) != 0) {
		snprintf(err, errlen, "store: %s: %s", st->path, st->err);
		goto fail;
	}
	/* SQLite opened the path after us: the same file, or the check of
	 * every round would refuse every change from the first */
	if (fstat(st->fd, &sb) != 0 || stat(st->path, &path_sb) != 0 || sb.st_dev != path_sb.st_dev ||
	    sb.st_ino != path_sb.st_ino) {
		snprintf(err, errlen, "store: %s was replaced while mxcached opened it; start it again", st->path);
		goto fail;
	}
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	sqlite3_finalize(st->s_begin);
	sqlite3_finalize(st->s_commit);
	sqlite3_finalize(st->s_rollback);
	sqlite3_finalize(st->s_put);
	sqlite3_finalize(st->s_del);
	sqlite3_finalize(st->s_all);
	if (st->db != NULL)
		sqlite3_close_v2(st->db);
	/* after SQLite's descriptors: closing any descriptor of the file
	 * drops every POSIX lock this process holds on it */
	if (st->fd != -1)
		close(st->fd);
	free(st);
}

const char *store_errmsg(const struct store *st)
{
	return st->err;
}

void store_note_error(struct store *st)
{
	int rc = sqlite3_errcode(st->db);

	/* a caller may fail for a reason of its own (out of memory, a bad
	 * row), after SQLite's last call went well: no SQLite message then */
	if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE)
		store_seterr(st, "the change could not be stored");
	else
		store_fail(st);
}

sqlite3 *store_db(struct store *st)
{
	return st->db;
}

const char *store_path(const struct store *st)
{
	return st->path;
}

/*
 * Everything the open file holds, copied beside it once its path no
 * longer names it: until then the committed data
 * is reachable only through this process's descriptor, and is gone with
 * it (DIR/mxcache.db.saved-<unix time>-<pid>).  A new file (O_EXCL: nothing an operator put there is overwritten),
 * filled by VACUUM INTO (which reads through this connection, WAL frames
 * included, and writes a compact copy), then made durable: VACUUM INTO
 * itself never syncs.  Returns 0, or -1 with errno's text in why.
 */
static int store_save_copy(struct store *st, char *why, size_t whylen)
{
	char path[sizeof(st->saved)], dir[PATH_MAX], *slash;
	sqlite3_stmt *s = NULL;
	int fd, rc;

	/* the pid too: a restart within the second finds the path taken */
	snprintf(path, sizeof(path), "%s.saved-%lld-%ld", st->path, (long long)time(NULL), (long)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	close(fd);
	/* VACUUM INTO takes an empty file for a new one */
	rc = sqlite3_prepare_v2(st->db, "VACUUM INTO ?1", -1, &s, NULL);
	if (rc == SQLITE_OK && sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC) == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		snprintf(why, whylen, "%s", sqlite3_errmsg(st->db));
		sqlite3_finalize(s);
		unlink(path);
		return -1;
	}
	sqlite3_finalize(s);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	rc = fd != -1 && fsync(fd) == 0 ? 0 : -1;
	if (fd != -1)
		close(fd);
	snprintf(dir, sizeof(dir), "%s", st->path);
	slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	fd = open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rc != 0 || fd == -1 || fsync(fd) != 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		if (fd != -1)
			close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	snprintf(st->saved, sizeof(st->saved), "%s", path);
	return 0;
}

/* The last path component: messages for clients name files in DIR
 * without DIR, which the client knows, to keep within a reply. */
static const char *store_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/*
 * Does the path still name the database this store has open?  Removed
 * (no file at the path) or replaced (another file there: a copy moved
 * over it, a restore, junk), a commit would go to a file nobody will ever
 * open again, and the next start would build the region from whatever the
 * path names then: every change acknowledged in between lost.
 *
 * Such a store refuses every change until mxcached is restarted, rather
 * than recreating the file from what it holds.  mxcached cannot tell an
 * accident from a deliberate act (a restore from a backup, a file moved
 * aside to be examined), and writing at the path would override the
 * operator's choice, or the restored file.  What the open file holds is
 * not lost either: it is saved beside it (store_save_copy), named in the
 * refusal, for the operator to put back.  Then the WAL is folded into the
 * open file and emptied: the -wal beside the path belongs to the open
 * file, and SQLite would replay its frames into whatever file is put at
 * the path next.
 *
 * Checked before every round, so a refusal is what the client sees, and
 * on the writer's idle ticks, so the copy is made even if no change comes
 * before a crash.  Returns 0, or -1 with the message set.
 */
int store_check_file(struct store *st)
{
	struct stat fsb, psb;
	const char *what;
	char why[128];
	int e = 0;

	if (fstat(st->fd, &fsb) != 0) {
		store_seterr(st, "cannot check %s: %s", store_base(st->path), strerror(errno));
		return -1;
	}
	if (stat(st->path, &psb) != 0) {
		e = errno;
		if (e != ENOENT) {
			store_seterr(st, "cannot check %s: %s", store_base(st->path), strerror(e));
			return -1;
		}
	}
	if (e == 0 && fsb.st_nlink > 0 && fsb.st_dev == psb.st_dev && fsb.st_ino == psb.st_ino)
		return 0;
	what = e == ENOENT ? "removed" : "replaced";
	why[0] = '\0';
	if (st->saved[0] == '\0' && time(NULL) - st->save_tried >= STORE_SAVE_RETRY_S) {
		if (store_save_copy(st, why, sizeof(why)) != 0) {
			st->save_tried = time(NULL);
			log_warnx("store: cannot save the open copy of %s: %s; it holds every committed change: "
				  "do not stop mxcached before the database is back",
				  st->path, why);
		} else if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) != SQLITE_OK)
			log_warnx("store: cannot empty %s-wal, which belongs to the file that was %s (%s): remove it "
				  "before a database is put back",
				  st->path, what, sqlite3_errmsg(st->db));
	}
	if (!st->detached) {
		st->detached = 1;
		log_warnx("store: %s was %s while mxcached had it open: every change is refused until mxcached is "
			  "restarted; what was committed is saved in %s",
			  st->path, what, st->saved[0] != '\0' ? st->saved : "no file (see above)");
	}
	if (st->saved[0] != '\0')
		store_seterr(st, "%s was %s under mxcached; what it committed is saved as %s: put that (or a "
			     "backup) in place and restart mxcached",
			     STORE_FILE, what, store_base(st->saved));
	else
		store_seterr(st, "%s was %s under mxcached, and no copy of it could be saved: what it committed "
			     "is only in the running mxcached; see its log",
			     STORE_FILE, what);
	return -1;
}

int store_begin(struct store *st)
{
	/* A transaction still open here is one a failed ROLLBACK left behind
	 * (an I/O error in the middle of it).  BEGIN would fail on it for
	 * every round to come, so it goes first: nothing in it was acknowledged. */
	if (!sqlite3_get_autocommit(st->db)) {
		log_warnx("store: %s: rolling back a transaction a failed round left open", st->path);
		if (sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
			return store_fail(st);
	}
	if (store_check_file(st) != 0)
		return -1;
	return store_step_done(st, st->s_begin);
}

int store_commit(struct store *st)
{
	return store_step_done(st, st->s_commit);
}

void store_rollback(struct store *st)
{
	/* SQLite rolls back by itself after some errors (SQLITE_FULL, I/O) */
	if (sqlite3_get_autocommit(st->db))
		return;
	if (sqlite3_step(st->s_rollback) != SQLITE_DONE) {
		/* keep the message of the failure that made us roll back */
	}
	sqlite3_reset(st->s_rollback);
}

int store_override_put(struct store *st, const char *key, size_t klen, const char *target, size_t tlen,
		       const char *comment, size_t clen, int64_t now, int64_t *created, int64_t *updated)
{
	sqlite3_stmt *s = st->s_put;
	int rc;

	if (sqlite3_bind_text(s, 1, key, (int)klen, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 2, target, (int)tlen, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(s, 3, comment, (int)clen, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 4, now) != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		goto fail;
	*created = sqlite3_column_int64(s, 0);
	*updated = sqlite3_column_int64(s, 1);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return 0;
fail:
	store_fail(st);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return -1;
}

int store_override_del(struct store *st, const char *key, size_t klen)
{
	sqlite3_stmt *s = st->s_del;

	if (sqlite3_bind_text(s, 1, key, (int)klen, SQLITE_STATIC) != SQLITE_OK) {
		store_fail(st);
		sqlite3_reset(s);
		return -1;
	}
	if (store_step_done(st, s) != 0) {
		sqlite3_clear_bindings(s);
		return -1;
	}
	sqlite3_clear_bindings(s);
	return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

int store_override_count(struct store *st, uint64_t *n)
{
	sqlite3_stmt *s = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM overrides", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		store_fail(st);
		goto done;
	}
	*n = (uint64_t)sqlite3_column_int64(s, 0);
	rc = 0;
done:
	sqlite3_finalize(s);
	return rc;
}

int store_override_foreach(struct store *st, store_override_fn fn, void *arg)
{
	sqlite3_stmt *s = st->s_all;
	struct store_override row;
	int rc, ret = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row.key = (const char *)sqlite3_column_text(s, 0);
		row.klen = (size_t)sqlite3_column_bytes(s, 0);
		row.target = (const char *)sqlite3_column_text(s, 1);
		row.tlen = (size_t)sqlite3_column_bytes(s, 1);
		row.comment = (const char *)sqlite3_column_text(s, 2);
		row.clen = (size_t)sqlite3_column_bytes(s, 2);
		row.created = sqlite3_column_int64(s, 3);
		row.updated = sqlite3_column_int64(s, 4);
		/* NULL here is SQLite out of memory: the columns are NOT NULL */
		if (row.key == NULL || row.target == NULL || row.comment == NULL) {
			store_fail(st);
			ret = -1;
			goto done;
		}
		ret = fn(&row, arg);
		if (ret != 0)
			goto done;
	}
	if (rc != SQLITE_DONE) {
		store_fail(st);
		ret = -1;
	}
done:
	sqlite3_reset(s);
	return ret;
}

int store_checkpoint(struct store *st)
{
	int nlog = 0, nckpt = 0;

	/* folding the WAL into a file the path no longer names would only
	 * lose it; the check saves a copy if no round did yet */
	if (store_check_file(st) != 0)
		return -1;
	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &nlog, &nckpt) != SQLITE_OK)
		return store_fail(st);
	return 0;
}
