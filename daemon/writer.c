/*
 * daemon/writer.c - the writer thread: group commit, then publish.
 *
 * Queue protocol.  Submitters cds_wfcq_enqueue() and write the eventfd
 * only when the queue was empty before (enqueue returns false), so a burst
 * costs one wake-up.  The writer clears the eventfd BEFORE it splices the
 * queue: a command enqueued after the splice then finds the queue empty
 * and writes the eventfd again, so no command waits for the next tick.
 * The writer is the only dequeuer, so it splices without the queue lock.
 */
#include "writer.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "counters.h"
#include "log.h"
#include "region.h"
#include "store.h"
#include "shm/ctl.h"

/* Commands and records in one round.  Commands are bounded anyway by the
 * connections (each waits for its own), records keep one transaction's
 * WAL growth and the time readers wait for an answer in check. */
#define WRITER_ROUND_CMDS 256
#define WRITER_ROUND_RECS (4 * MXS_CTL_BATCH)
/* Between rounds the path of the database is checked this often, so a
 * file removed under the daemon is saved even if no change follows. */
#define WRITER_CHECK_MS   1000

struct writer {
	struct store *st;
	struct region *r;
	int efd;
	int stopping;
	pthread_t thread;

	struct cds_wfcq_head head;
	struct cds_wfcq_tail tail;

	/* the writer thread's own */
	struct __cds_wfcq_head lhead;
	struct cds_wfcq_tail ltail;
	struct writer_cmd *round[WRITER_ROUND_CMDS];
	uint64_t next_tick;
	uint64_t next_check;
	uint64_t refused;       /* rounds SQLite refused since the last commit */
};

void writer_cmd_init(struct writer_cmd *c, enum writer_op op, struct override *recs, size_t nrecs)
{
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->recs = recs;
	c->nrecs = nrecs;
	if (op != WRITER_JOB && override_job(&c->ovjob, &c->ovch, op == WRITER_DEL, recs, nrecs) == 0)
		c->job = &c->ovjob;
	cds_wfcq_node_init(&c->node);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
}

void writer_cmd_job(struct writer_cmd *c, struct writer_job *job)
{
	writer_cmd_init(c, WRITER_JOB, NULL, 1);
	c->job = job;
}

void writer_cmd_destroy(struct writer_cmd *c)
{
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
}

void writer_submit(struct writer *w, struct writer_cmd *c)
{
	uint64_t one = 1;

	c->done = 0;
	c->status = WRITER_OK;
	c->committed = 0;
	c->msg[0] = '\0';
	cds_wfcq_node_init(&c->node);
	/*
	 * The queue already orders the command's fields before the writer
	 * reads them, but through liburcu's own atomics, which ThreadSanitizer
	 * cannot see; this pair says the same thing in terms it understands,
	 * at no cost on x86.
	 */
	__atomic_store_n(&c->handoff, 1, __ATOMIC_RELEASE);
	if (!cds_wfcq_enqueue(&w->head, &w->tail, &c->node)) {
		/* eventfd writes only fail on counter overflow: it is drained */
		if (write(w->efd, &one, sizeof(one)) < 0)
			log_warn("writer: eventfd");
	}
}

void writer_wait(struct writer_cmd *c)
{
	pthread_mutex_lock(&c->mu);
	while (!c->done)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
}

void writer_run(struct writer *w, struct writer_cmd *c)
{
	writer_submit(w, c);
	writer_wait(c);
}

/* Once done is set the submitter may free c: touch nothing after. */
static void writer_complete(struct writer_cmd *c)
{
	pthread_mutex_lock(&c->mu);
	c->done = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void writer_fail_all(struct writer_cmd **cmds, size_t n, int status, const char *msg)
{
	size_t i;

	for (i = 0; i < n; i++) {
		cmds[i]->status = status;
		cmds[i]->committed = 0;
		snprintf(cmds[i]->msg, sizeof(cmds[i]->msg), "%s", msg);
	}
}

static int writer_cmd_valid(const struct writer_cmd *c)
{
	return c->nrecs >= 1 && c->nrecs <= MXS_CTL_BATCH && c->job != NULL && c->job->store != NULL &&
	       c->job->apply != NULL;
}

/* Phase 2: every change of the round in one transaction. */
static int writer_store(struct writer *w, struct writer_cmd **cmds, size_t n, int64_t now)
{
	size_t i;
	int rc;

	if (store_begin(w->st) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		struct writer_cmd *c = cmds[i];

		rc = c->job->store(w->st, c->job->arg, now);
		if (rc < 0) {
			/* the job ran its own statements: their error is the
			 * round's message, not what an earlier round left */
			if (rc != WRITER_JOB_NOTED)
				store_note_error(w->st);
			goto fail;
		}
		if (rc == 0)
			c->status = WRITER_NOTFOUND;
	}
	if (store_commit(w->st) != 0)
		goto fail;
	return 0;
fail:
	store_rollback(w->st);
	return -1;
}

/* Phase 3: committed; now make it visible. */
static void writer_apply(struct writer *w, struct writer_cmd **cmds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct writer_cmd *c = cmds[i];

		if (c->status == WRITER_NOTFOUND)
			continue;
		/* reserve made a refusal impossible; if it happens anyway the
		 * change is durable and the next start publishes it */
		if (c->job->apply(w->r, c->job->arg) < 0) {
			log_warn("writer: a committed change could not be published");
			c->status = WRITER_EREGION;
			snprintf(c->msg, sizeof(c->msg),
				 "committed but the region could not take it (%s); "
				 "it will be visible after a restart", strerror(errno));
			continue;
		}
		c->committed += c->nrecs;
	}
}

static void writer_round(struct writer *w, struct writer_cmd **cmds, size_t n)
{
	uint64_t nent = 0, bytes = 0, t0 = mono_ms(), t1, us;
	size_t i, nvalid = 0, nrecs = 0;
	char msg[WRITER_MSG_MAX];

	/* phase 0: anything malformed is answered at once and dropped */
	for (i = 0; i < n; i++) {
		if (!writer_cmd_valid(cmds[i])) {
			cmds[i]->status = WRITER_EINVAL;
			snprintf(cmds[i]->msg, sizeof(cmds[i]->msg), "malformed command");
			writer_complete(cmds[i]);
			continue;
		}
		cmds[nvalid++] = cmds[i];
	}
	n = nvalid;
	if (n == 0)
		return;

	/* phase 1: room first, as much as each job says it may take */
	for (i = 0; i < n; i++) {
		nent += cmds[i]->job->nent;
		bytes += cmds[i]->job->bytes;
	}
	nrecs = (size_t)nent;
	if (region_reserve(w->r, nent, bytes) != 0) {
		snprintf(msg, sizeof(msg), "region: no room for %llu more entries: %s", (unsigned long long)nent,
			 strerror(errno));
		log_warnx("writer: %s", msg);
		writer_fail_all(cmds, n, WRITER_EREGION, msg);
		goto done;
	}

	us = mono_us();
	if (writer_store(w, cmds, n, (int64_t)time(NULL)) != 0) {
		ctr_add(MXS_CTR_STORE_FAILED, 1);
		log_warnx("writer: transaction of %zu changes rolled back: %s", nrecs, store_errmsg(w->st));
		/* the region is untouched: nothing of the round is served */
		snprintf(msg, sizeof(msg), "store: change refused: %s", store_errmsg(w->st));
		writer_fail_all(cmds, n, WRITER_ESTORE, msg);
		w->refused++;
		goto done;
	}
	ctr_add(MXS_CTR_STORE_COMMITS, 1);
	ctr_add(MXS_CTR_STORE_COMMIT_US, mono_us() - us);
	if (w->refused > 0) {
		/* the end of a spell of refusals (disk full, read-only) is news
		 * to whoever read the warnings */
		log_info("writer: the store takes changes again, after %llu refused rounds",
			  (unsigned long long)w->refused);
		w->refused = 0;
	}
	t1 = mono_ms();
	writer_apply(w, cmds, n);
	region_publish(w->r);
	log_debug("writer: %zu commands, %zu changes: committed in %llu ms, published in %llu ms", n, nrecs,
		  (unsigned long long)(t1 - t0), (unsigned long long)(mono_ms() - t1));
done:
	for (i = 0; i < n; i++)
		writer_complete(cmds[i]);
}

/* Everything queued, in rounds of at most WRITER_ROUND_CMDS/_RECS. */
static void writer_drain(struct writer *w)
{
	struct cds_wfcq_node *node;
	struct writer_cmd *c;
	size_t n = 0, recs = 0;

	__cds_wfcq_splice_blocking(&w->lhead, &w->ltail, &w->head, &w->tail);
	while ((node = __cds_wfcq_dequeue_blocking(&w->lhead, &w->ltail)) != NULL) {
		c = caa_container_of(node, struct writer_cmd, node);
		(void)__atomic_load_n(&c->handoff, __ATOMIC_ACQUIRE);
		if (n > 0 && (n == WRITER_ROUND_CMDS || recs + c->nrecs > WRITER_ROUND_RECS)) {
			writer_round(w, w->round, n);
			n = 0;
			recs = 0;
		}
		w->round[n++] = c;
		recs += c->nrecs;
	}
	if (n > 0)
		writer_round(w, w->round, n);
}

static void writer_maybe_tick(struct writer *w)
{
	uint64_t now = mono_ms();

	if (now >= w->next_tick) {
		region_tick(w->r);
		w->next_tick = now + WRITER_TICK_MS;
	}
	if (now >= w->next_check) {
		/* its failure is logged by the store, and refused at the next round */
		(void)store_check_file(w->st);
		w->next_check = now + WRITER_CHECK_MS;
	}
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct pollfd pfd;
	uint64_t now, cnt;
	int stopping, timeout;

	pthread_setname_np(pthread_self(), "writer");
	w->next_tick = mono_ms() + WRITER_TICK_MS;
	for (;;) {
		stopping = __atomic_load_n(&w->stopping, __ATOMIC_ACQUIRE);
		now = mono_ms();
		timeout = w->next_tick > now ? (int)(w->next_tick - now) : 0;
		pfd.fd = w->efd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (!stopping && poll(&pfd, 1, timeout) < 0 && errno != EINTR)
			log_warn("writer: poll");
		/* clear the wake-up before splicing; see the top of the file */
		if (read(w->efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			log_warn("writer: eventfd");
		writer_drain(w);
		writer_maybe_tick(w);
		if (stopping && cds_wfcq_empty(&w->head, &w->tail))
			break;
	}
	return NULL;
}

int writer_start(struct store *st, struct region *r, struct writer **out)
{
	struct writer *w;
	int e;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -1;
	w->st = st;
	w->r = r;
	cds_wfcq_init(&w->head, &w->tail);
	__cds_wfcq_init(&w->lhead, &w->ltail);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd == -1)
		goto fail;
	e = pthread_create(&w->thread, NULL, writer_main, w);
	if (e != 0) {
		errno = e;
		goto fail;
	}
	*out = w;
	return 0;
fail:
	e = errno;
	if (w->efd != -1)
		close(w->efd);
	cds_wfcq_destroy(&w->head, &w->tail);
	free(w);
	errno = e;
	return -1;
}

void writer_stop(struct writer *w)
{
	uint64_t one = 1;

	if (w == NULL)
		return;
	__atomic_store_n(&w->stopping, 1, __ATOMIC_RELEASE);
	if (write(w->efd, &one, sizeof(one)) < 0)
		log_warn("writer: eventfd");
	pthread_join(w->thread, NULL);
	close(w->efd);
	cds_wfcq_destroy(&w->head, &w->tail);
	free(w);
}
