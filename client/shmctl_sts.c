/*
 * client/shmctl_sts.c - shmctl sts get | list | fetch | del.
 *
 * get and list read the region; fetch and del go through mxcached, which
 * answers once the result is committed and published.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

/* One entry as JSON: the fields docs/shmctl.md describes under sts get. */
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

static const char *source_name(int s)
{
	return s == MXC_TLS_PIN ? "pin" : s == MXC_TLS_DANE ? "dane" : s == MXC_TLS_STS ? "mta-sts" : "none";
}

static const char *dane_name(int d)
{
	return d == MXC_DANE_USABLE ? "usable" : d == MXC_DANE_UNUSABLE ? "unusable" : d == MXC_DANE_NONE ? "none"
														: "unknown";
}

/*
 * The TLS policy the mtasts map answers for canon (the pin, DANE or
 * MTA-STS), asked of no one: as text lines or JSON fields.
 */
static void tls_show(mxc_t *h, const char *canon, struct json_object *o, int *oom)
{
	struct mxc_tls *t = malloc(sizeof(*t));
	char ts[32];
	int rc;

	if (t == NULL) {
		if (o != NULL)
			*oom = 1;
		return;
	}
	rc = mxc_tls_policy(h, canon, MXC_TLS_INSPECT, t);
	if (rc == MXC_OK || rc == MXC_NOTFOUND) {
		int known = rc == MXC_OK;

		if (o == NULL) {
			printf("dane: %s", dane_name(known ? t->dane : MXC_DANE_UNKNOWN));
			if (known && t->dane_valid_end > 0)
				printf(" (until %s)", sc_iso_time(t->dane_valid_end, ts, sizeof(ts)));
			if (!known)
				printf("\ntls_policy: unknown (not checked yet)\n");
			else if (t->source == MXC_TLS_NONE)
				printf("\ntls_policy: none (the mtasts map answers NOTFOUND)\n");
			else
				printf("\ntls_policy: %s (from %s)\n", t->policy, source_name(t->source));
		} else {
			sc_jstr(o, "dane", dane_name(known ? t->dane : MXC_DANE_UNKNOWN), oom);
			sc_jstr(o, "dane_valid_end", sc_iso_time(known ? t->dane_valid_end : 0, ts, sizeof(ts)), oom);
			sc_jstr(o, "tls_source", known ? source_name(t->source) : "unknown", oom);
			sc_jstr(o, "tls_policy", known && t->source != MXC_TLS_NONE ? t->policy : "", oom);
		}
	}
	free(t);
}

/* What sts fetch adds to the entry: the check's result and its detail. */
struct check {
	const char *result;	/* policy, none, failed */
	const char *detail;
};

/*
 * show - print canon's entry (f, as find_one left it) as text or JSON, with
 * the check sts fetch just made (ck, or NULL).  Nothing cached is said on
 * stderr, or in JSON as kind "absent".  Returns SC_OK, or SC_ERROR when the
 * JSON cannot be built.
 */
static int show(const struct sc_ctx *c, mxc_t *h, const char *canon, const struct find *f, const struct check *ck)
{
	struct json_object *o;
	int oom = 0;

	if (!c->json) {
		if (f->found)
			sts_text(canon, f->kind, f->p);
		tls_show(h, canon, NULL, &oom);
		return SC_OK;
	}
	if (f->found) {
		o = sts_json(canon, f->kind, f->p, &oom);
	} else if ((o = json_object_new_object()) != NULL) {
		sc_jstr(o, "domain", canon, &oom);
		sc_jstr(o, "kind", "absent", &oom);
	}
	if (o != NULL && ck != NULL) {
		sc_jstr(o, "check", ck->result, &oom);
		sc_jstr(o, "check_detail", ck->detail, &oom);
	}
	if (o != NULL)
		tls_show(h, canon, o, &oom);
	return sc_json_print(o, oom || o == NULL);
}

/* lookup - canon's entry into f (f->p caller-owned); SC_OK or SC_ERROR */
static int lookup(mxc_t *h, const char *canon, struct find *f, struct mxc_sts *p)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->domain = canon;
	f->p = p;
	rc = mxc_sts_foreach(h, find_one, f);
	if (rc < 0) {
		sc_err("%s", mxc_strerror(rc));
		return SC_ERROR;
	}
	return SC_OK;
}

/* is_ip - a canonical key that is an IP literal: no MTA-STS for it */
static int is_ip(const char *canon)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, canon, a) == 1 || inet_pton(AF_INET6, canon, a) == 1;
}

/*
 * sts get: the lookup a client makes, so its exit follows mxc_sts_get (0
 * only for a policy valid now), and it asks mxcached to check exactly
 * when a client's lookup would: nothing cached, or the entry expired.
 * A cached no-policy or backoff entry is the answer, asked of no one.
 */
int sc_cmd_sts_get(const struct sc_ctx *c, char **av, int ac)
{
	char canon[MXC_HOST_MAX + 1], t[32];
	struct mxc_sts *p, *cached;
	struct find f;
	mxc_t *h = NULL;
	int ex, rc;

	(void)ac;
	if (mxc_normalize(av[0], canon, sizeof(canon)) != MXC_OK) {
		sc_err("%s: not a domain name", av[0]);
		return SC_ERROR;
	}
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		return ex;
	p = malloc(sizeof(*p));
	cached = malloc(sizeof(*cached));
	if (p == NULL || cached == NULL) {
		sc_err("out of memory");
		ex = SC_ERROR;
		goto out;
	}
	rc = mxc_sts_get(h, av[0], p);
	if (rc < 0) {
		sc_err("%s: %s", av[0], rc == MXC_EINVAL ? "not a domain name" : mxc_strerror(rc));
		ex = SC_ERROR;
		goto out;
	}
	if ((ex = lookup(h, canon, &f, cached)) != SC_OK)
		goto out;
	if ((ex = show(c, h, canon, &f, NULL)) != SC_OK)
		goto out;
	ex = rc == MXC_OK ? SC_OK : SC_NOTFOUND;
	if (rc == MXC_OK || c->json)
		goto out;
	if (is_ip(canon))
		fprintf(stderr, "%s: an IP literal: MTA-STS policies are for domains only\n", canon);
	else if (!f.found)
		fprintf(stderr, "%s: nothing cached; mxcached has been asked to check\n", canon);
	else if (cached->valid_end <= (int64_t)time(NULL))
		fprintf(stderr, "%s: the cached entry expired at %s; mxcached has been asked to check again\n", canon,
			sc_iso_time(cached->valid_end, t, sizeof(t)));
out:
	free(p);
	free(cached);
	mxc_close(h);
	return ex;
}

/* sts list: collected, then sorted by last use (newest first), then
 * domain; each with the source of the mtasts map's answer, and the
 * pinned domains that have no entry after them. */
#define KIND_PIN_ONLY 100
struct row {
	char domain[MXC_HOST_MAX + 1];
	int kind;
	struct mxc_sts p;
	const char *tls;             /* source_name() of the map's answer, or "-" */
	int dane;
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

static int pin_row(const char *domain, const char *policy, int64_t created, int64_t updated, void *arg)
{
	struct rows *r = arg;
	struct mxc_sts none;
	size_t i;

	(void)policy;
	(void)created;
	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].domain, domain) == 0)
			return 0;
	memset(&none, 0, sizeof(none));
	none.last_use = updated;
	return collect(domain, KIND_PIN_ONLY, &none, r);
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if ((x->kind == KIND_PIN_ONLY) != (y->kind == KIND_PIN_ONLY))
		return x->kind == KIND_PIN_ONLY ? 1 : -1;
	if (x->p.last_use != y->p.last_use)
		return x->p.last_use > y->p.last_use ? -1 : 1;
	return strcmp(x->domain, y->domain);
}

int sc_cmd_sts_list(const struct sc_ctx *c, char **av, int ac)
{
	struct json_object *arr = NULL, *o;
	struct mxc_tls *tls = NULL;
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
	if (rc >= 0 && !r.oom)
		rc = mxc_tls_pin_foreach(h, pin_row, &r);
	tls = malloc(sizeof(*tls));
	if (r.oom || rc < 0 || tls == NULL) {
		sc_err("%s", r.oom || tls == NULL ? "out of memory" : mxc_strerror(rc));
		ex = SC_ERROR;
		goto out;
	}
	for (i = 0; i < r.n; i++) {
		rc = mxc_tls_policy(h, r.v[i].domain, MXC_TLS_INSPECT, tls);
		r.v[i].tls = rc == MXC_OK ? source_name(tls->source) : "-";
		r.v[i].dane = rc == MXC_OK ? tls->dane : MXC_DANE_UNKNOWN;
	}
	qsort(r.v, r.n, sizeof(*r.v), row_cmp);
	if (c->json) {
		arr = json_object_new_array();
		for (i = 0; i < r.n && arr != NULL; i++) {
			if (r.v[i].kind == KIND_PIN_ONLY) {
				o = json_object_new_object();
				sc_jstr(o, "domain", r.v[i].domain, &oom);
				sc_jstr(o, "kind", "absent", &oom);
			} else {
				o = sts_json(r.v[i].domain, r.v[i].kind, &r.v[i].p, &oom);
			}
			if (o != NULL) {
				sc_jstr(o, "dane", dane_name(r.v[i].dane), &oom);
				sc_jstr(o, "tls_source", r.v[i].tls, &oom);
			}
			if (json_object_array_add(arr, o) != 0)
				oom = 1;
		}
		ex = sc_json_print(arr, oom || arr == NULL);
		goto out;
	}
	for (i = 0; i < r.n; i++) {
		const struct row *w = &r.v[i];

		if (w->kind == KIND_PIN_ONLY) {
			printf("%-40s %-9s %-7s %-20s %-12s %s\n", w->domain, "-", "-", "-", "-", "tls=pin");
			continue;
		}
		printf("%-40s %-9s %-7s %-20s %-12s dane=%s tls=%s\n", w->domain, kind_name(w->kind),
		       w->kind == MXC_OK ? mode_name(w->p.mode) : "-", sc_iso_time(w->p.last_use, t, sizeof(t)),
		       w->kind == MXC_OK ? w->p.id : mxc_sts_failure_name(w->p.failure), dane_name(w->dane), w->tls);
	}
out:
	free(tls);
	free(r.v);
	mxc_close(h);
	return ex;
}

/*
 * sts fetch: mxcached checks now and answers "policy", "none" or "failed"
 * with a summary; then the entry as clients now see it is shown, once.
 * The summary is printed only for a failure, which the entry names by
 * class alone; in JSON it is the entry's check and check_detail.
 */
int sc_cmd_sts_fetch(const struct sc_ctx *c, char **av, int ac)
{
	char req[MXS_CTL_LINE_MAX + 1], reply[MXS_CTL_LINE_MAX + 1], canon[MXC_HOST_MAX + 1], *w[3];
	struct check ck;
	struct mxc_sts *p = NULL;
	struct find f;
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
	/* w[1] is the daemon's word for the result: the exit status */
	ex = strcmp(w[1], "policy") == 0 ? SC_OK : strcmp(w[1], "none") == 0 ? SC_NOTFOUND : SC_ERROR;
	ck.result = w[1];
	ck.detail = w[2];
	if (ex == SC_ERROR && !c->json)
		fprintf(stderr, "%s: the check failed: %s\n", av[0], w[2]);
	/* then what clients now see; the daemon has published it */
	snprintf(canon, sizeof(canon), "%s", av[0]);
	(void)mxc_normalize(av[0], canon, sizeof(canon));	/* the daemon took it: it is a domain */
	if ((p = malloc(sizeof(*p))) == NULL || sc_region_open(c, &h) != SC_OK ||
	    lookup(h, canon, &f, p) != SC_OK) {
		if (!c->json && ex != SC_ERROR)
			printf("%s: %s\n", canon, w[2]);	/* the summary, at least */
		ex = SC_ERROR;
		goto out;
	}
	if (!f.found && !c->json)
		fprintf(stderr, "%s: nothing cached\n", canon);
	if (show(c, h, canon, &f, &ck) != SC_OK || (ex == SC_OK && (!f.found || f.kind != MXC_OK)))
		ex = SC_ERROR;
out:
	free(p);
	mxc_close(h);
	return ex;
}

int sc_cmd_sts_del(const struct sc_ctx *c, char **av, int ac)
{
	char req[MXS_CTL_LINE_MAX + 1], reply[MXS_CTL_LINE_MAX + 1], *w[2];
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
