/*
 * client/inspect.c - the admin side: walk and verify every table,
 * status, counters, metrics, the readers listing.
 */
#include "internal.h"

/* The writer is "alive" if its heartbeat is younger than this. */
#define MXC_HEARTBEAT_STALE_MS 5000

/* ---- walks: foreach, verify ----------------------------------------------- */

/* Visit every entry of table tab; bounded by the table's size. */
static int tab_walk(struct mxc_map *m, const struct mxc_shm_root *root, unsigned tab, ent_fn fn, void *arg,
		    char *why, size_t whylen)
{
	const struct mxc_shm_tab *t = &root->r_tab[tab];
	const uint64_t *idx = mxc_tab_index(m->base, m->lim, t);
	uint64_t nb, i, w;
	struct mxc_tab_ent e;
	const uint8_t *b;
	size_t blen;
	unsigned n, j;
	int rc;

	if (idx == NULL) {
		if (t->t_index == 0)
			return MXC_OK;
		snprintf(why, whylen, "table %u: index out of bounds", tab);
		return MXC_ECORRUPT;
	}
	nb = (uint64_t)1 << t->t_log2;
	for (i = 0; i < nb; i++) {
		w = mxa_load64((uint64_t *)(uintptr_t)&idx[i]);
		if (MXS_IDX_OFF(w) == 0) {
			if (MXS_IDX_FILTER(w) != 0) {
				snprintf(why, whylen, "table %u bucket %llu: empty with a filter", tab,
					 (unsigned long long)i);
				return MXC_ECORRUPT;
			}
			continue;
		}
		b = mxc_tab_bucket(m->base, m->lim, MXS_IDX_OFF(w), tab, &blen, &n);
		if (b == NULL && view_refresh(m))
			b = mxc_tab_bucket(m->base, m->lim, MXS_IDX_OFF(w), tab, &blen, &n);
		if (b == NULL) {
			snprintf(why, whylen, "table %u bucket %llu: bad bucket record at unit %u", tab,
				 (unsigned long long)i, MXS_IDX_OFF(w));
			return MXC_ECORRUPT;
		}
		for (j = 0; j < n; j++) {
			if (mxc_tab_entry(m->base, m->lim, b, blen, n, j, &e) != 0 &&
			    (!view_refresh(m) || mxc_tab_entry(m->base, m->lim, b, blen, n, j, &e) != 0)) {
				snprintf(why, whylen, "table %u bucket %llu: entry %u out of bounds", tab,
					 (unsigned long long)i, j);
				return MXC_ECORRUPT;
			}
			rc = fn(m, tab, i, MXS_IDX_FILTER(w), &e, arg);
			if (rc != 0)
				return rc;
		}
	}
	return MXC_OK;
}

/*
 * Walk table tab once, calling fn on every entry, inside one read-side
 * section.  Not through with_read: the callbacks have side effects, so a
 * slotless walk cannot be retried; it is validated once instead (MXC_ESYS
 * when memory was reused under it).  Every public walk goes through here.
 */
int walk_table(struct mxc *h, unsigned tab, ent_fn fn, void *arg)
{
	const struct mxc_shm_root *root;
	struct mxc_map v;
	struct rd rd;
	char why[8];
	int rc;

	rc = read_begin(h, &rd);
	if (rc < 0)
		return rc;
	view_of(rd.m, &v);
	root = map_root(&v);
	rc = root == NULL ? MXC_ECORRUPT : tab_walk(&v, root, tab, fn, arg, why, sizeof(why));
	if (read_end(h, &rd) && rc == MXC_OK)
		rc = MXC_ESYS;
	return rc;
}

struct verify_q {
	char *why;
	size_t whylen;
	uint64_t seen[MXS_TAB_MAX];
};

static int verify_ent(const struct mxc_map *m, unsigned tab, uint64_t slot, uint32_t filter,
		      const struct mxc_tab_ent *e, void *arg)
{
	struct verify_q *q = arg;
	char k[MXS_TAB_KEY_MAX + 1];
	const struct mxc_shm_root *root = map_root(m);
	const struct mxc_tdesc *d = mxc_table(tab);
	uint64_t hash;

	memcpy(k, e->key, e->klen);
	k[e->klen] = '\0';
	if (root == NULL) {
		snprintf(q->why, q->whylen, "root record vanished");
		return MXC_ECORRUPT;
	}
	hash = mxc_tab_hash(m->hdr, e->key, e->klen);
	if ((hash & (((uint64_t)1 << root->r_tab[tab].t_log2) - 1)) != slot || MXS_HASH_TAG(hash) != e->tag ||
	    !(filter & MXS_TAG_BIT(e->tag))) {
		snprintf(q->why, q->whylen, "table %u: key '%.64s' is not where its hash puts it", tab, k);
		return MXC_ECORRUPT;
	}
	if (d == NULL) {
		snprintf(q->why, q->whylen, "table %u: key '%.64s' in a table not in use", tab, k);
		return MXC_ECORRUPT;
	}
	if (mxc_table_check(d, e->key, e->klen, e->val, e->vlen, q->why, q->whylen) != 0)
		return MXC_ECORRUPT;
	q->seen[tab]++;
	return 0;
}

static int verify_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct verify_q *q = arg;
	uint64_t gen0 = mxa_load64((uint64_t *)(uintptr_t)&m->hdr->h_generation), gen1;
	unsigned t;
	int rc;

	/* m is the backed view; the file size was checked against h_size
	 * when it was mapped */
	rc = hdr_check(m->hdr, m->hdr->h_size);
	if (rc != MXC_OK || m->lim < MXS_SHM_HDR_SIZE) {
		snprintf(q->why, q->whylen, "header: %s", mxc_strerror(rc != MXC_OK ? rc : MXC_ECORRUPT));
		return MXC_ECORRUPT;
	}
	for (t = 0; t < MXS_TAB_MAX; t++) {
		q->seen[t] = 0;
		rc = tab_walk(m, root, t, verify_ent, q, q->why, q->whylen);
		if (rc != MXC_OK)
			return rc;
	}
	gen1 = mxa_load64((uint64_t *)(uintptr_t)&m->hdr->h_generation);
	/* counts are only comparable if nothing was published meanwhile */
	for (t = 0; t < MXS_TAB_MAX && gen0 == gen1; t++) {
		if (q->seen[t] != m->hdr->h_count[t] && gen1 == m->hdr->h_generation) {
			snprintf(q->why, q->whylen, "table %u: %llu entries found, header says %llu", t,
				 (unsigned long long)q->seen[t], (unsigned long long)m->hdr->h_count[t]);
			return MXC_ECORRUPT;
		}
	}
	return MXC_OK;
}

int mxc_verify(mxc_t *h, char *why, size_t whylen)
{
	char dummy[1];
	struct verify_q q;
	int rc;

	if (h == NULL)
		return MXC_EINVAL;
	if (why == NULL || whylen == 0) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	memset(&q, 0, sizeof(q));
	q.why = why;
	q.whylen = whylen;
	rc = with_read(h, verify_read, &q);
	if (rc == MXC_ECORRUPT && why[0] == '\0')
		snprintf(why, whylen, "root record out of bounds or damaged");
	return rc;
}

/* ---- status and readers ------------------------------------------------- */

static int pid_alive(uint64_t pid)
{
	if (pid == 0 || pid > INT_MAX)
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static int status_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	const struct mxc_shm_hdr *hd = m->hdr;
	struct mxc_status *st = arg;

	(void)root;
	st->layout = hd->h_layout;
	st->state = mxa_load32((uint32_t *)(uintptr_t)&hd->h_state);
	st->incarnation = hd->h_incarnation;
	st->size = hd->h_size;
	st->backed = mxa_load64((uint64_t *)(uintptr_t)&hd->h_backed);
	st->created = hd->h_created;
	st->generation = mxa_load64((uint64_t *)(uintptr_t)&hd->h_generation);
	st->epoch = mxa_load64((uint64_t *)(uintptr_t)&hd->h_epoch);
	st->last_publish_ms = hd->h_last_publish_ms;
	st->heartbeat_ms = hd->h_heartbeat_ms;
	st->writer_pid = hd->h_writer_pid;
	st->writer_start = hd->h_writer_start;
	st->writer_exit_ms = hd->h_writer_exit_ms;
	st->arena_used = hd->h_arena_used;
	st->arena_free = hd->h_arena_free;
	st->arena_limbo = hd->h_arena_limbo;
	st->overrides = hd->h_count[MXS_TAB_OVERRIDE];
	st->sts_entries = hd->h_count[MXS_TAB_STS];
	st->mx_entries = hd->h_count[MXS_TAB_MX];
	return MXC_OK;
}

/* mxc_status, and the registered processes (procs, may be NULL) from the
 * same read of the listing, for mxc_metrics. */
static int status_get(mxc_t *h, struct mxc_status *st, uint32_t *procs)
{
	struct mxc_shm_rlist rl;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = with_read(h, status_read, st);
	if (rc != MXC_OK)
		return rc;
	st->writer_alive = st->state == MXS_STATE_LIVE && st->writer_exit_ms == 0 &&
			   wall_ms() - st->heartbeat_ms < MXC_HEARTBEAT_STALE_MS && pid_alive(st->writer_pid);
	/* the readers as the daemon last listed them (once a second) */
	if (rblock_list_read(h->readers_path, (uid_t)h->dir_uid, &rl, NULL, 0, NULL) == 0) {
		st->nslots = rl.rl_slots;
		st->slots_claimed = rl.rl_claimed;
		st->events_posted = rl.rl_posted;
		st->events_dropped = rl.rl_dropped;
		if (procs != NULL)
			*procs = rl.rl_procs;
	}
	snprintf(st->data_path, sizeof(st->data_path), "%s", h->data_path);
	snprintf(st->readers_path, sizeof(st->readers_path), "%s", h->readers_path);
	return MXC_OK;
}

int mxc_status(mxc_t *h, struct mxc_status *st)
{
	if (h == NULL || st == NULL)
		return MXC_EINVAL;
	return status_get(h, st, NULL);
}

struct counter_q {
	unsigned i;
	uint64_t v;
};

static int counter_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct counter_q *q = arg;

	(void)root;
	q->v = mxa_load64(&m->hdr->h_ctr[q->i]);
	return MXC_OK;
}

int mxc_counter(mxc_t *h, unsigned i, const char **name, const char **help, double *value)
{
	struct counter_q q = { i, 0 };
	int rc;

	if (h == NULL || value == NULL || i >= MXC_COUNTERS_MAX)
		return MXC_EINVAL;
	if (mxc_ctr_name((int)i) == NULL)
		return MXC_NOTFOUND;
	rc = with_read(h, counter_read, &q);
	if (rc != MXC_OK)
		return rc;
	if (name != NULL)
		*name = mxc_ctr_name((int)i);
	if (help != NULL)
		*help = mxc_ctr_help((int)i);
	/* in the metric's unit: a time kept in microseconds is seconds here */
	*value = (double)q.v / (double)mxc_ctr_scale((int)i);
	return MXC_OK;
}

struct metrics_q {
	struct mxc_metrics_in in;
	char *buf;
	size_t len, need;
};

static int metrics_read(struct mxc_map *m, const struct mxc_shm_root *root, void *arg)
{
	struct metrics_q *q = arg;

	(void)root;
	q->in.hdr = m->hdr;
	q->need = mxc_metrics_format(q->buf, q->len, &q->in);
	return MXC_OK;
}

int mxc_metrics(mxc_t *h, char *buf, size_t len, size_t *need)
{
	struct mxc_status st;
	struct metrics_q q;
	int rc;

	if (h == NULL || (buf == NULL && len > 0))
		return MXC_EINVAL;
	memset(&q, 0, sizeof(q));
	/* the reader figures as the daemon's endpoint shows them: from its
	 * last listing */
	rc = status_get(h, &st, &q.in.procs);
	if (rc != MXC_OK)
		return rc;
	q.in.nslots = st.nslots;
	q.in.slots_claimed = st.slots_claimed;
	q.in.events_posted = st.events_posted;
	q.in.events_dropped = st.events_dropped;
	q.in.writer_running = st.writer_alive;
	q.buf = buf;
	q.len = len;
	rc = with_read(h, metrics_read, &q);
	if (rc != MXC_OK)
		return rc;
	if (need != NULL)
		*need = q.need + 1;
	return q.need < len ? MXC_OK : MXC_ETOOSMALL;
}

int mxc_readers_foreach(mxc_t *h, mxc_reader_fn fn, void *arg)
{
	struct mxc_shm_rlist rl;
	struct mxc_shm_rent *ent;
	struct mxc_reader r;
	uint32_t i, n = 0;
	int rc = MXC_OK;

	if (h == NULL || fn == NULL)
		return MXC_EINVAL;
	ent = calloc(MXS_LIST_MAX, sizeof(*ent));
	if (ent == NULL)
		return MXC_ESYS;
	if (rblock_list_read(h->readers_path, (uid_t)h->dir_uid, &rl, ent, MXS_LIST_MAX, &n) != 0 &&
	    errno != ENOENT) {
		free(ent);
		return MXC_ESYS;     /* errno: EACCES outside the group */
	}
	for (i = 0; i < n && rc == 0; i++) {
		memset(&r, 0, sizeof(r));
		r.slot = ent[i].re_slot;
		r.pid = ent[i].re_pid;
		r.tid = ent[i].re_tid;
		r.epoch = ent[i].re_epoch;
		r.claimed = ent[i].re_claimed;
		r.state = ent[i].re_state == MXS_RL_DEAD      ? MXC_READER_DEAD
			  : ent[i].re_state == MXS_RL_STALLED ? MXC_READER_STALLED
							      : MXC_READER_LIVE;
		rc = fn(&r, arg);
	}
	free(ent);
	return rc;
}

_Static_assert(MXC_COUNTERS_MAX == MXS_CTR_MAX, "the public bound is the region's");
/* the readers' states are mapped one by one above; the region's states
 * are handed out as numbers, as struct mxc_status says */
_Static_assert(MXS_STATE_INIT == 1 && MXS_STATE_LIVE == 2 && MXS_STATE_RETIRED == 3,
	       "struct mxc_status's state numbers are the region's");
