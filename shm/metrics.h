/*
 * shm/metrics.h - the region's figures in the Prometheus text exposition
 * format (version 0.0.4), for shmctl metrics (through mxc_metrics) and
 * for mxcached's metrics endpoint: one formatter, so both say the same.
 *
 * Everything comes from the header page of the data file, which both
 * sides map, plus what the caller reads from the reader table.  The
 * header's fields are written by the writer while this reads them: each
 * is read once, atomically, so a scrape may mix two ticks, never tear a
 * number.
 *
 * Leaf header: no I/O, no allocation (it formats into the caller's buffer).
 */
#ifndef MXC_SHM_METRICS_H
#define MXC_SHM_METRICS_H

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "atomic.h"
#include "counters.h"
#include "layout.h"
#include "tables.h"

/* What the caller knows beyond the header. */
struct mxc_metrics_in {
	const struct mxc_shm_hdr *hdr;
	uint32_t procs;              /* client processes with a reader block */
	uint32_t nslots;             /* their reader slots */
	uint32_t slots_claimed;
	uint64_t events_posted;      /* sum over the rings */
	uint64_t events_dropped;
	int writer_running;          /* 1, or 0 when the daemon is gone */
};

/* Appends to buf like snprintf, keeping count of what did not fit. */
struct mxc_mbuf {
	char *buf;
	size_t len, used;            /* used may exceed len: the size needed */
};

static inline void mxc_mput(struct mxc_mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void mxc_mput(struct mxc_mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->used < b->len ? b->buf + b->used : NULL, b->used < b->len ? b->len - b->used : 0, fmt,
		      ap);
	va_end(ap);
	if (n > 0)
		b->used += (size_t)n;
}

static inline void mxc_mfamily(struct mxc_mbuf *b, const char *name, const char *type, const char *help)
{
	mxc_mput(b, "# HELP mxcache_%s %s\n# TYPE mxcache_%s %s\n", name, help, name, type);
}

/*
 * mxc_metrics_format - write the metrics into buf (len bytes, NUL
 * included; truncated output is still NUL-terminated when len > 0).
 * Returns the length of the whole text without the NUL: when it is >=
 * len, call again with a larger buffer.
 */
static inline size_t mxc_metrics_format(char *buf, size_t len, const struct mxc_metrics_in *in)
{
	const struct mxc_shm_hdr *h = in->hdr;
	struct mxc_mbuf b = { buf, len, 0 };
	char family[96];
	uint64_t v, scale;
	const char *n, *brace;
	size_t flen;
	int i;

	if (len > 0)
		buf[0] = '\0';
	mxc_mfamily(&b, "writer_running", "gauge", "1 while mxcached runs and its heartbeat is fresh");
	mxc_mput(&b, "mxcache_writer_running %d\n", in->writer_running ? 1 : 0);
	mxc_mfamily(&b, "writer_start_time_seconds", "gauge", "when mxcached started, unix seconds");
	mxc_mput(&b, "mxcache_writer_start_time_seconds %" PRIu64 "\n", mxa_load64(&h->h_writer_start));
	mxc_mfamily(&b, "last_publish_time_seconds", "gauge", "when the last change became visible, unix seconds");
	v = mxa_load64(&h->h_last_publish_ms);
	mxc_mput(&b, "mxcache_last_publish_time_seconds %" PRIu64 ".%03" PRIu64 "\n", v / 1000, v % 1000);
	mxc_mfamily(&b, "region_generation", "gauge", "publishes of this region file (a new file starts again)");
	mxc_mput(&b, "mxcache_region_generation %" PRIu64 "\n", mxa_load64(&h->h_generation));
	mxc_mfamily(&b, "region_epoch", "gauge", "grace periods of the reclamation protocol");
	mxc_mput(&b, "mxcache_region_epoch %" PRIu64 "\n", mxa_load64(&h->h_epoch));
	mxc_mfamily(&b, "region_bytes", "gauge", "size of the region's data file, and how much of it is backed");
	mxc_mput(&b, "mxcache_region_bytes{kind=\"size\"} %" PRIu64 "\n", mxa_load64(&h->h_size));
	mxc_mput(&b, "mxcache_region_bytes{kind=\"backed\"} %" PRIu64 "\n", mxa_load64(&h->h_backed));
	mxc_mfamily(&b, "arena_bytes", "gauge", "region memory in use and on free lists");
	mxc_mput(&b, "mxcache_arena_bytes{state=\"used\"} %" PRIu64 "\n", mxa_load64(&h->h_arena_used));
	mxc_mput(&b, "mxcache_arena_bytes{state=\"free\"} %" PRIu64 "\n", mxa_load64(&h->h_arena_free));
	mxc_mfamily(&b, "reclaim_backlog_bytes", "gauge",
		    "region memory freed but not reusable until every reader that may see it has left");
	mxc_mput(&b, "mxcache_reclaim_backlog_bytes %" PRIu64 "\n", mxa_load64(&h->h_arena_limbo));
	mxc_mfamily(&b, "entries", "gauge", "entries per table");
	for (i = 0; i < MXS_TABLES; i++)
		if (mxc_table((unsigned)i)->metric != NULL)
			mxc_mput(&b, "mxcache_entries{table=\"%s\"} %" PRIu64 "\n", mxc_table((unsigned)i)->metric,
				 mxa_load64(&h->h_count[i]));
	mxc_mfamily(&b, "reader_processes", "gauge", "client processes registered with a reader block");
	mxc_mput(&b, "mxcache_reader_processes %" PRIu32 "\n", in->procs);
	mxc_mfamily(&b, "reader_slots", "gauge", "reader slots, and those claimed by client threads");
	mxc_mput(&b, "mxcache_reader_slots{state=\"total\"} %" PRIu32 "\n", in->nslots);
	mxc_mput(&b, "mxcache_reader_slots{state=\"claimed\"} %" PRIu32 "\n", in->slots_claimed);
	mxc_mfamily(&b, "client_events_posted_total", "counter", "events clients posted to their rings");
	mxc_mput(&b, "mxcache_client_events_posted_total %" PRIu64 "\n", in->events_posted);
	mxc_mfamily(&b, "client_events_ring_full_total", "counter", "events clients dropped on a full ring");
	mxc_mput(&b, "mxcache_client_events_ring_full_total %" PRIu64 "\n", in->events_dropped);

	family[0] = '\0';
	for (i = 0; i < MXS_CTR_MAX; i++) {
		n = mxc_ctr_name(i);
		if (n == NULL)
			continue;
		brace = strchr(n, '{');
		flen = brace != NULL ? (size_t)(brace - n) : strlen(n);
		if (flen >= sizeof(family))
			continue;
		if (strncmp(family, n, flen) != 0 || family[flen] != '\0') {
			memcpy(family, n, flen);
			family[flen] = '\0';
			mxc_mfamily(&b, family, mxc_ctr_is_gauge(i) ? "gauge" : "counter",
				    mxc_ctr_help(i) != NULL ? mxc_ctr_help(i) : family);
		}
		v = mxa_load64(&h->h_ctr[i]);
		scale = mxc_ctr_scale(i);
		if (scale == 1)
			mxc_mput(&b, "mxcache_%s %" PRIu64 "\n", n, v);
		else
			mxc_mput(&b, "mxcache_%s %" PRIu64 ".%06" PRIu64 "\n", n, v / scale, v % scale);
	}
	return b.used;
}

#endif
