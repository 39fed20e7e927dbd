/*
 * client/shmctl_stats.c - shmctl stats [DOMAIN] [--json] [--sort KEY]:
 * the per-domain delivery counters, read from the region.  The JSON names
 * are struct mxc_stat's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "mxcache.h"
#include "shmctl.h"

struct rows {
	struct mxc_stat *v;
	size_t n, cap;
	int oom;
};

static int collect(const struct mxc_stat *s, void *arg)
{
	struct rows *r = arg;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct mxc_stat *p = realloc(r->v, cap * sizeof(*p));

		if (p == NULL) {
			r->oom = 1;
			return 1;
		}
		r->v = p;
		r->cap = cap;
	}
	r->v[r->n++] = *s;
	return 0;
}

static int64_t failures(const struct mxc_stat *s)
{
	return s->failed_http + s->failed_https + s->failed_smtp;
}

/* descending by the key, then by domain */
static const char *sort_key;

static int cmp(const void *a, const void *b)
{
	const struct mxc_stat *x = a, *y = b;
	double dx = 0, dy = 0;

	if (strcmp(sort_key, "queued") == 0) {
		dx = (double)x->queued_messages;
		dy = (double)y->queued_messages;
	} else if (strcmp(sort_key, "failures") == 0) {
		dx = (double)failures(x);
		dy = (double)failures(y);
	} else if (strcmp(sort_key, "latency") == 0) {
		dx = x->mean_latency_ms;
		dy = y->mean_latency_ms;
	}
	if (dx != dy)
		return dx > dy ? -1 : 1;
	return strcmp(x->domain, y->domain);
}

static struct json_object *stat_json(const struct mxc_stat *s, int *oom)
{
	struct json_object *o = json_object_new_object();

	if (o == NULL) {
		*oom = 1;
		return NULL;
	}
	sc_jstr(o, "domain", s->domain, oom);
	sc_jint(o, "queued_messages", s->queued_messages, oom);
	sc_jint(o, "failed_http", s->failed_http, oom);
	sc_jint(o, "failed_https", s->failed_https, oom);
	sc_jint(o, "failed_smtp", s->failed_smtp, oom);
	sc_jint(o, "success_http", s->success_http, oom);
	sc_jint(o, "success_https", s->success_https, oom);
	sc_jint(o, "success_smtp", s->success_smtp, oom);
	sc_jint(o, "successful_deliveries", s->successful_deliveries, oom);
	sc_jint(o, "total_latency_ms", s->total_latency_ms, oom);
	sc_jint(o, "last_active", s->last_active, oom);
	sc_jset(o, "mean_latency_ms", json_object_new_double(s->mean_latency_ms), oom);
	return o;
}

static void stat_line(const struct mxc_stat *s)
{
	char t[32];

	printf("%-40s %7" PRId64 " %7" PRId64 " %7" PRId64 " %7" PRId64 " %9.1f  %s\n", s->domain, s->queued_messages,
	       s->successful_deliveries, failures(s), s->success_http + s->success_https + s->success_smtp,
	       s->mean_latency_ms, sc_iso_time(s->last_active, t, sizeof(t)));
}

int sc_cmd_stats(const struct sc_ctx *c, char **av, int ac)
{
	struct json_object *arr;
	struct mxc_stat one;
	struct rows r;
	mxc_t *h = NULL;
	size_t i;
	int ex, rc, oom = 0;

	if (c->sort != NULL && strcmp(c->sort, "queued") != 0 && strcmp(c->sort, "failures") != 0 &&
	    strcmp(c->sort, "latency") != 0) {
		sc_err("--sort: queued, failures or latency, not '%s'", c->sort);
		return SC_USAGE;
	}
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		return ex;
	if (ac == 1) {
		rc = mxc_stat_get(h, av[0], &one);
		if (rc == MXC_OK) {
			if (c->json)
				ex = sc_json_print(stat_json(&one, &oom), oom);
			else
				stat_line(&one);
		} else if (rc == MXC_NOTFOUND) {
			fprintf(stderr, "%s: no delivery events seen\n", av[0]);
			ex = SC_NOTFOUND;
		} else {
			sc_err("%s: %s", av[0], rc == MXC_EINVAL ? "not a domain name or IP literal" : mxc_strerror(rc));
			ex = SC_ERROR;
		}
		mxc_close(h);
		return ex;
	}
	memset(&r, 0, sizeof(r));
	rc = mxc_stat_foreach(h, collect, &r);
	if (rc < 0 || r.oom) {
		sc_err("%s", r.oom ? "out of memory" : mxc_strerror(rc));
		free(r.v);
		mxc_close(h);
		return SC_ERROR;
	}
	sort_key = c->sort != NULL ? c->sort : "";
	qsort(r.v, r.n, sizeof(*r.v), cmp);
	if (c->json) {
		arr = json_object_new_array();
		for (i = 0; i < r.n && arr != NULL; i++)
			if (json_object_array_add(arr, stat_json(&r.v[i], &oom)) != 0)
				oom = 1;
		ex = sc_json_print(arr, oom || arr == NULL);
	} else {
		printf("%-40s %7s %7s %7s %7s %9s  %s\n", "domain", "queued", "ok", "failed", "ok/out", "mean ms",
		       "last active");
		for (i = 0; i < r.n; i++)
			stat_line(&r.v[i]);
	}
	free(r.v);
	mxc_close(h);
	return ex;
}
