/*
 * daemon/writer.h - the one thread that changes anything.
 *
 * The writer owns the region and every SQLite write.  Admin connection
 * threads hand it commands through a wait-free queue and wait for their
 * completion.  It commits in groups: every command queued since its last
 * round goes into one SQLite transaction, so the fsync that makes a change
 * durable is shared by all changes waiting at that moment.
 *
 * A round:
 *   1. region_reserve() room for every change in it, so that publishing
 *      cannot fail once SQLite has committed;
 *   2. one transaction with every change; if it fails it is rolled back
 *      and every command is answered WRITER_ESTORE, "store: change
 *      refused: " and the cause (store_errmsg: "disk full (...)", or
 *      "mxcache.db was removed under mxcached; ..." when the path no
 *      longer names the open file: store_begin checks), the region
 *      untouched;
 *   3. only after the commit: region_put()/region_del() each change, then
 *      region_publish();
 *   4. complete the commands.
 * A change is acknowledged only once it is committed and published.
 * Between rounds, and at least every WRITER_TICK_MS, region_tick(); every
 * WRITER_CHECK_MS, store_check_file(), so a database removed while no
 * change comes is still saved.
 *
 * Every command is a job (struct writer_job): the table it changes says
 * how to store and publish it; the writer knows no table.  Overrides come
 * already validated and canonical (override.h): validation is pure, so
 * the connection threads do it in parallel and an import can report a bad
 * record as soon as it reads it.
 *
 * Thread safety: writer_submit()/writer_wait() from any thread;
 * writer_start()/writer_stop() from the main thread.
 */
#ifndef MXC_DAEMON_WRITER_H
#define MXC_DAEMON_WRITER_H

#include <pthread.h>
#include <stddef.h>

#include <urcu/wfcqueue.h>

#include "override.h"

#define WRITER_TICK_MS 100
#define WRITER_MSG_MAX 256

struct store;
struct region;
struct writer;

/* Commands: a job, or a change of overrides made into one (override_job). */
enum writer_op {
	WRITER_SET = 1,         /* recs[0]: key, target, comment */
	WRITER_DEL,             /* recs[0]: key */
	WRITER_IMPORT,          /* recs[0..nrecs): up to MXS_CTL_BATCH records */
	WRITER_JOB,             /* job: any table's change (writer_job) */
};

/*
 * A change to a table, in the writer's two phases: store() inside the
 * round's SQLite transaction (return < 0 to fail the round, 0 for
 * "nothing to change": reported as WRITER_NOTFOUND and not applied, > 0
 * done), then apply() to the region after the commit (return < 0 with
 * errno if the region refused).  nent/bytes: the room the change may take
 * in the region (see region_reserve).  Both callbacks run on the writer
 * thread.
 */
struct writer_job {
	int (*store)(struct store *st, void *arg, int64_t now);
	int (*apply)(struct region *r, void *arg);
	void *arg;
	uint64_t nent;
	uint64_t bytes;
};

/* store() failed, and the store's message says why already (the store_*
 * functions set it); other failures take SQLite's last error. */
#define WRITER_JOB_NOTED (-2)

/* Command results. */
#define WRITER_OK        0
#define WRITER_NOTFOUND  1      /* DEL: no such key */
#define WRITER_EINVAL   (-1)    /* malformed command */
#define WRITER_ESTORE   (-2)    /* SQLite refused the round; msg says why */
#define WRITER_EREGION  (-3)    /* the region could not take it; msg */

struct writer_cmd {
	/* in: set by writer_cmd_init() */
	enum writer_op op;
	struct override *recs;
	size_t nrecs;
	struct writer_job *job;         /* NULL: malformed */

	/* out: valid once writer_wait() returns */
	int status;
	size_t committed;       /* records committed and published */
	char msg[WRITER_MSG_MAX];

	/* private */
	struct writer_job ovjob;        /* an override change's job */
	struct override_change ovch;
	struct cds_wfcq_node node;
	int handoff;            /* release/acquire pair around the queue */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

/*
 * writer_start - start the writer thread on st and r, which it owns from
 * now until writer_stop().  Returns 0, or -1 with errno.
 */
int writer_start(struct store *st, struct region *r, struct writer **out);

/*
 * writer_stop - finish every queued command, stop the thread, free w.
 * Nothing may call writer_submit() during or after it.  w may be NULL.
 */
void writer_stop(struct writer *w);

/* writer_cmd_init/destroy - a command over recs (owned by the caller and
 * untouched by the writer except for created/updated): a job of the
 * overrides (override_job). */
void writer_cmd_init(struct writer_cmd *c, enum writer_op op, struct override *recs, size_t nrecs);
void writer_cmd_destroy(struct writer_cmd *c);

/* writer_cmd_job - writer_cmd_init() for a WRITER_JOB. */
void writer_cmd_job(struct writer_cmd *c, struct writer_job *job);

/* writer_submit - queue c; it must stay alive until writer_wait(c). */
void writer_submit(struct writer *w, struct writer_cmd *c);

/* writer_wait - block until c is complete. */
void writer_wait(struct writer_cmd *c);

/* writer_run - submit and wait. */
void writer_run(struct writer *w, struct writer_cmd *c);

#endif /* MXC_DAEMON_WRITER_H */
