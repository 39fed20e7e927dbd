/*
 * daemon/sts_int.h - the MTA-STS manager's own parts, shared by its
 * files: sts.c (workers, periodic work, start and stop), sts_queue.c (the
 * job queue: lanes, the pending set, the order workers take jobs in) and
 * mx.c (the MX lookups its workers run).  Nothing else includes it.
 */
#ifndef MXC_DAEMON_STS_INT_H
#define MXC_DAEMON_STS_INT_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <ck_hs.h>
#include <sqlite3.h>

#include "config.h"
#include "shm/events.h"
#include "dns.h"
#include "shm/key.h"
#include "sts.h"
#include "sts_quota.h"

#define STS_DEDUP_S        10       /* a domain checked this recently is not queued again */
#define STS_QUEUE_MAX      65536    /* jobs waiting; more are dropped and counted */
#define STS_PEND_CAP       1024     /* initial size of the pending set */
#define STS_SLOW_SHARE     2        /* the slow lane may use 1/STS_SLOW_SHARE of the workers */
#define STS_RECHECK_MEMO   4096     /* domains whose last recheck is remembered (hashed; a power of 2) */

enum job_kind { JOB_STS = 1, JOB_MX = 2 };

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	int rc;
	char msg[512];
};

/* A domain queued, running or recently done; key: kind + domain. */
struct pend {
	char key[2 + MXK_MAX_LEN + 1];      /* "s:" or "m:", then the domain */
	size_t klen;
	int64_t done_at;                     /* 0 while queued or running */
};

struct job {
	struct job *next;
	struct sts_mq_node mq;               /* a client's miss: in the miss lane */
	int miss;                            /* a client's miss (mq.src: its slot) */
	int recheck;                         /* a client's recheck of a used policy (a miss too) */
	uint64_t seq;                        /* order of arrival, kept across lanes */
	int kind;
	char domain[MXK_MAX_LEN + 1];
	struct waiter *w;                    /* an admin waiting, or NULL */
	int tracked;                         /* in the pending set */
	int slow;                            /* in, or run from, the slow lane */
	int run;                             /* the running count it holds: RUN_* */
};

enum { LANE_FAST, LANE_SLOW, LANES };      /* and the miss lane, s->mq */
enum { RUN_NONE, RUN_FAST, RUN_SLOW, RUN_MISS };

struct lane {
	struct job *head, *tail;
};

struct worker {
	struct sts *s;
	pthread_t thread;
	int started;
	struct sts_ctx ctx;
	sqlite3 *rdb;                        /* read connection */
	const struct job *cur;               /* the job it runs (under s->mu) */
};

/*
 * Sources: a client's slots are told apart by the key the drain gives
 * (registration and slot, daemon/readers.h), folded into this many
 * per-source states (miss rates, miss queues).  Two sources that share
 * one restart it in turn (the key is kept as its owner), which only ever
 * lets more through.
 */
#define STS_SOURCES 4096

struct touch;
struct writer_job;

struct sts {
	struct region *rg;
	struct writer *w;
	struct https *https;
	char dbpath[4096];
	unsigned refresh_s, forget_s, backoff_s;

	pthread_mutex_t mu;                  /* lanes, workers' cur, pending set, stopping */
	pthread_cond_t cv;
	struct lane lane[LANES];
	size_t queued;                       /* jobs waiting, every lane */
	uint64_t seq;
	size_t slow_running, slow_max;
	size_t fast_running, miss_running;
	int stopping;
	ck_hs_t pend;
	uint8_t hkey[16];
	struct sts_mq *mq;                   /* clients' misses waiting (the miss lane) */
	/* when each domain was last queued for a recheck (under mu): at most
	 * one per recheck_s, whatever clients post; a collision forgets one
	 * domain's time, which only lets one more recheck through */
	struct {
		uint64_t h;
		int64_t at;
	} rmemo[STS_RECHECK_MEMO];
	struct sts_quota *quota;             /* what misses may cost */

	/* the event thread's (sts_attach): its connection, the last-use
	 * batch, when the periodic work is next due (mono ms) */
	sqlite3 *evdb;
	struct touch *touch;
	uint64_t next_touch, next_refresh, next_forget;

	/* for workers that could not make a resolver at start (an empty
	 * resolv.conf): they try again per job; a copy, since the config it
	 * came from is freed on reload */
	struct config_addr dns_servers[CONFIG_DNS_SERVERS_MAX];
	struct dns_cfg dnscfg;

	size_t nworkers;
	struct worker *workers;
	/* [limits], set at start and on reload (atomics) */
	unsigned lim_sts, lim_mx;
	unsigned recheck_s;                  /* [sts] recheck_s, 0: rechecks are not taken */
	uint64_t inflight[3];                /* jobs queued or running, by kind (atomics) */
};

static inline int64_t wall_now(void)
{
	return (int64_t)time(NULL);
}

/* ---- sts_queue.c ------------------------------------------------------------------ */

/* sts_queue_init - an empty queue and pending set in s.  0, or -1 (no memory). */
int sts_queue_init(struct sts *s);

/* sts_queue_drain - at the stop, with every thread joined: drop what is
 * queued (admins waiting are answered) and the pending set. */
void sts_queue_drain(struct sts *s);

/* sts_enqueue - queue a job for the refresher (w NULL: once per domain)
 * or an admin waiting on w.  0, or -1 (full, stopping, no memory). */
int sts_enqueue(struct sts *s, int kind, const char *domain, struct waiter *w);

/* sts_enqueue_miss - queue a client's miss from reader slot src of
 * process pid (a registration's slot, daemon/readers.h), within what
 * misses may cost (daemon/sts_quota.h).  Event thread. */
void sts_enqueue_miss(struct sts *s, int kind, const char *domain, uint64_t src, uint32_t pid);

/* sts_enqueue_recheck - queue a client's recheck of domain's policy
 * (MXS_EV_STS_RECHECK), as a miss (the same quotas), and at most once per
 * every_s for the domain.  Event thread. */
void sts_enqueue_recheck(struct sts *s, const char *domain, uint64_t src, uint32_t pid, unsigned every_s);

/* sts_dequeue - the next job for wk, waiting for one; NULL when stopping. */
struct job *sts_dequeue(struct worker *wk);

/* sts_to_slow_lane - j failed last time: 0, run it now as a slow job;
 * 1, it moved to the slow lane (wk is free again). */
int sts_to_slow_lane(struct worker *wk, struct job *j);

/* sts_job_done - j is done: free the worker, j's place, the domain, j. */
void sts_job_done(struct worker *wk, struct job *j);

/* sts_pend_prune - forget domains done long enough ago.  Under s->mu. */
void sts_pend_prune(struct sts *s, int64_t now);

void sts_waiter_init(struct waiter *w);
void sts_waiter_destroy(struct waiter *w);
void sts_waiter_complete(struct waiter *w, int rc, const char *msg);
void sts_waiter_wait(struct waiter *w);

/* ---- sts.c, for mx.c ---------------------------------------------------------------- */

/* sts_write_change - run one change through the writer and wait for it.
 * 0, or -1 (msg). */
int sts_write_change(struct sts *s, struct writer_job *job, char *msg, size_t msglen);

/* sts_run_waiting - queue a job of kind for domain and wait for its
 * result.  Its rc, or -1 (queue full, stopping); msg says. */
int sts_run_waiting(struct sts *s, int kind, const char *domain, char *msg, size_t msglen);

/* ---- mx.c ------------------------------------------------------------------------ */

/* mx_run - run an MX job (a worker). */
void mx_run(struct worker *wk, struct job *j);

/* mx_on_fetch - a client's MXS_EV_MX_FETCH (daemon/events.h). */
int mx_on_fetch(void *arg, const struct mxc_event *ev, const char *domain, size_t len, uint64_t src, uint32_t pid);

#endif /* MXC_DAEMON_STS_INT_H */
