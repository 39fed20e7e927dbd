/*
 * client/shmctl_sts.c - shmctl sts get | list | fetch | del.
 *
 * get and list read the region; fetch and del go through mxcached, which
 * answers once the result is committed and published.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "mxcache.h"
#include "shm/ctl.h"
#include "shmctl.h"

static const char *mode_name(int m)
{
	return m == MXC_STS_ENFORCE ? "enforce" : m == MXC_STS_TESTING ? "testing" : "none";
}

static const char *kind_name(int kind)
{
	return kind == MXC_OK ? "policy" : kind == MXC_BACKOFF ? "backoff" : "no-policy";
}

/* One entry as JSON, the seed's PolicyRecord field names where it has them. */
static struct json_object *sts_json(const char *domain, int kind, const struct mxc_sts *p, int *oom)
{
	struct json_object *o = json_object_new_object(), *mx;
	char t[32];
	size_t i;

	if (o == NULL) {
		*oom = 1;
		return NULL;
	}
	sc_jstr(o, "domain", domain, oom);
	sc_jstr(o, "kind", kind_name(kind), oom);
	sc_jstr(o, "inserted", sc_iso_time(p->inserted, t, sizeof(t)), oom);
	sc_jstr(o, "valid_end", sc_iso_time(p->valid_end, t, sizeof(t)), oom);
	sc_jstr(o, "last_update", sc_iso_time(p->last_update, t, sizeof(t)), oom);
	sc_jstr(o, "last_use", sc_iso_time(p->last_use, t, sizeof(t)), oom);
	sc_jset(o, "backoff", json_object_new_boolean(kind == MXC_BACKOFF), oom);
	sc_jstr(o, "record_id", p->id, oom);
	sc_jset(o, "fresh", json_object_new_boolean(p->fresh), oom);
	sc_jstr(o, "failure", mxc_sts_failure_name(p->failure), oom);
	if (kind == MXC_OK) {
		sc_jstr(o, "mode", mode_name(p->mode), oom);
		sc_jint(o, "max_age", p->max_age, oom);
		mx = json_object_new_array();
		if (mx == NULL) {
			*oom = 1;
		} else {
			for (i = 0; i < p->nmx; i++)
				if (json_object_array_add(mx, json_object_new_string(p->mx[i])) != 0)
					*oom = 1;
			sc_jset(o, "mx", mx, oom);
		}
	}
	return o;
}

static void sts_text(const char *domain, int kind, const struct mxc_sts *p)
{
	char t1[32], t2[32];
	size_t i;

	if (kind == MXC_BACKOFF) {
		printf("%s: backoff until %s (%s)\n", domain, sc_iso_time(p->valid_end, t1, sizeof(t1)),
		       mxc_sts_failure_name(p->failure));
		return;
	}
	if (kind == MXC_NOTFOUND) {
		printf("%s: no MTA-STS policy published (checked %s, until %s)\n", domain,
		       sc_iso_time(p->last_update, t1, sizeof(t1)), sc_iso_time(p->valid_end, t2, sizeof(t2)));
		return;
	}
	printf("domain: %s\nmode: %s\nmax_age: %u\nid: %s\nfresh: %s\n", domain, mode_name(p->mode), p->max_age, p->id,
	       p->fresh ? "yes" : "no");
	for (i = 0; i < p->nmx; i++)
		printf("mx: %s\n", p->mx[i]);
	printf("inserted: %s\n", sc_iso_time(p->inserted, t1, sizeof(t1)));
	printf("valid_end: %s\n", sc_iso_time(p->valid_end, t1, sizeof(t1)));
	printf("last_update: %s\n", sc_iso_time(p->last_update, t1, sizeof(t1)));
	printf("last_use: %s\n", sc_iso_time(p->last_use, t1, sizeof(t1)));
	if (p->failure != MXC_STS_FAILED_NONE)
		printf("last_failure: %s\n", mxc_sts_failure_name(p->failure));
}

/* Find one domain's entry of any kind (a walk: for the entries a lookup
 * does not return, backoff and no-policy). */
struct find {
	const char *domain;
	int kind;
	struct mxc_sts *p;
	int found;
};

static int find_one(const char *domain, int kind, const struct mxc_sts *p, void *arg)
{
	struct find *f = arg;

	if (strcmp(domain, f->domain) != 0)
		return 0;
	f->kind = kind;
	*f->p = *p;
	f->found = 1;
	return 1;
}

static int show(const struct sc_ctx *c, mxc_t *h, const char *arg)
{
	char canon[MXC_HOST_MAX + 1];
	struct mxc_sts *p;
	struct find f;
	int rc, ex, oom = 0;

	if (mxc_normalize(arg, canon, sizeof(canon)) != MXC_OK) {
		sc_err("%s: not a domain name", arg);
		return SC_ERROR;
	}
	p = malloc(sizeof(*p));
	if (p == NULL) {
		sc_err("out of memory");
		return SC_ERROR;
	}
	memset(&f, 0, sizeof(f));
	f.domain = canon;
	f.p = p;
	rc = mxc_sts_foreach(h, find_one, &f);
	if (rc < 0) {
		sc_err("%s", mxc_strerror(rc));
		ex = SC_ERROR;
		goto out;
	}
	if (!f.found) {
		if (c->json) {
			struct json_object *o = json_object_new_object();

			sc_jstr(o, "domain", canon, &oom);
			sc_jstr(o, "kind", "absent", &oom);
			sc_json_print(o, oom);
		} else {
			fprintf(stderr, "%s: nothing cached\n", canon);
		}
		ex = SC_NOTFOUND;
		goto out;
	}
	ex = f.kind == MXC_OK ? SC_OK : SC_NOTFOUND;
	if (c->json) {
		if (sc_json_print(sts_json(canon, f.kind, p, &oom), oom) != SC_OK)
			ex = SC_ERROR;
	} else {
		sts_text(canon, f.kind, p);
	}
out:
	free(p);
	return ex;
}

int sc_cmd_sts_get(const struct sc_ctx *c, char **av, int ac)
{
	struct mxc_sts *p;
	mxc_t *h = NULL;
	int ex, rc;

	(void)ac;
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		return ex;
	p = malloc(sizeof(*p));
	if (p == NULL) {
		sc_err("out of memory");
		mxc_close(h);
		return SC_ERROR;
	}
	/* the lookup a client makes: it also asks mxcached to fetch a policy
	 * not cached yet, as a client's miss does */
	rc = mxc_sts_get(h, av[0], p);
	free(p);
	if (rc == MXC_EINVAL) {
		sc_err("%s: not a domain name", av[0]);
		ex = SC_ERROR;
	} else if (rc < 0) {
		sc_err("%s: %s", av[0], mxc_strerror(rc));
		ex = SC_ERROR;
	} else {
		ex = show(c, h, av[0]);
		if (rc == MXC_NOTFOUND && ex == SC_NOTFOUND && !c->json)
			fprintf(stderr, "%s: no usable policy now; mxcached has been asked to check\n", av[0]);
	}
	mxc_close(h);
	return ex;
}

/* sts list: collected, then sorted by last use (newest first), then domain,
 * as the seed's PolicyRecords. */
struct row {
	char domain[MXC_HOST_MAX + 1];
	int kind;
	struct mxc_sts p;
};

struct rows {
	struct row *v;
	size_t n, cap;
	int oom;
};

static int collect(const char *domain, int kind, const struct mxc_sts *p, void *arg)
{
	struct rows *r = arg;
	struct row *nv;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;

		nv = realloc(r->v, cap * sizeof(*nv));
		if (nv == NULL) {
			r->oom = 1;
			return 1;
		}
		r->v = nv;
		r->cap = cap;
	}
	snprintf(r->v[r->n].domain, sizeof(r->v[r->n].domain), "%s", domain);
	r->v[r->n].kind = kind;
	r->v[r->n].p = *p;
	r->n++;
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->p.last_use != y->p.last_use)
		return x->p.last_use > y->p.last_use ? -1 : 1;
	return strcmp(x->domain, y->domain);
}

int sc_cmd_sts_list(const struct sc_ctx *c, char **av, int ac)
{
	struct json_object *arr = NULL;
	struct rows r;
	char t[32];
	mxc_t *h = NULL;
	size_t i;
	int ex, rc, oom = 0;

	(void)av;
	(void)ac;
	memset(&r, 0, sizeof(r));
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		return ex;
	rc = mxc_sts_foreach(h, collect, &r);
	if (r.oom || rc < 0) {
		sc_err("%s", r.oom ? "out of memory" : mxc_strerror(rc));
		ex = SC_ERROR;
		goto out;
	}
	qsort(r.v, r.n, sizeof(*r.v), row_cmp);
	if (c->json) {
		arr = json_object_new_array();
		for (i = 0; i < r.n && arr != NULL; i++)
			if (json_object_array_add(arr, sts_json(r.v[i].domain, r.v[i].kind, &r.v[i].p, &oom)) != 0)
				oom = 1;
		ex = sc_json_print(arr, oom || arr == NULL);
		goto out;
	}
	for (i = 0; i < r.n; i++) {
		const struct row *w = &r.v[i];

		printf("%-40s %-9s %-7s %-20s %s\n", w->domain, kind_name(w->kind),
		       w->kind == MXC_OK ? mode_name(w->p.mode) : "-", sc_iso_time(w->p.last_use, t, sizeof(t)),
		       w->kind == MXC_OK ? w->p.id : mxc_sts_failure_name(w->p.failure));
	}
out:
	free(r.v);
	mxc_close(h);
	return ex;
}

int sc_cmd_sts_fetch(const struct sc_ctx *c, char **av, int ac)
{
	char req[MXC_CTL_LINE_MAX + 1], reply[MXC_CTL_LINE_MAX + 1], *w[3];
	size_t len;
	mxc_t *h = NULL;
	int ex;

	(void)ac;
	if (sc_ctl_line(req, sizeof(req), &len, "STS-FETCH", av[0]) != 0) {
		sc_err("domain too long");
		return SC_ERROR;
	}
	ex = sc_ctl_request(c, req, len, reply, w, 3);
	if (ex != SC_OK)
		return ex;
	if (!c->json)
		printf("%s: %s\n", w[1], w[2]);
	/* then what clients now see */
	if (sc_region_open(c, &h) == SC_OK) {
		int shown = show(c, h, av[0]);

		if (strcmp(w[1], "policy") == 0 && shown != SC_OK)
			ex = SC_ERROR;
		mxc_close(h);
	}
	if (strcmp(w[1], "none") == 0)
		return SC_NOTFOUND;
	if (strcmp(w[1], "failed") == 0)
		return SC_ERROR;
	return ex;
}

int sc_cmd_sts_del(const struct sc_ctx *c, char **av, int ac)
{
	char req[MXC_CTL_LINE_MAX + 1], reply[MXC_CTL_LINE_MAX + 1], *w[2];
	size_t len;
	int ex;

	(void)ac;
	if (sc_ctl_line(req, sizeof(req), &len, "STS-DEL", av[0]) != 0) {
		sc_err("domain too long");
		return SC_ERROR;
	}
	ex = sc_ctl_request(c, req, len, reply, w, 2);
	if (ex == SC_OK)
		printf("deleted %s\n", w[1]);
	else if (ex == SC_NOTFOUND)
		fprintf(stderr, "%s: nothing cached\n", av[0]);
	return ex;
}
