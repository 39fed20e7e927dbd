/*
 * client/shmctl_tls.c - shmctl tls ...: the operator's TLS pins.  set and
 * del go through mxcached (durable and visible to every client when the
 * command returns); get and list read the region.
 *
 * The domain and the policy are checked here as mxcached checks them, so
 * a mistake is named before anything is sent; mxcached checks again, as
 * it does for every peer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "mxcache.h"
#include "shm/ctl.h"
#include "shm/key.h"
#include "shm/tlspin.h"
#include "shmctl.h"

/* Bytes of a rejected domain quoted back in a message. */
#define TLS_QUOTE_MAX 64

/* pin_domain - is in a domain a pin may be set for?  SC_OK with its
 * canonical form in out (MXK_MAX_LEN + 1 bytes), or SC_ERROR, said. */
static int pin_domain(const char *in, char *out)
{
	char q[TLS_QUOTE_MAX + 4];
	int kind;

	if (in[0] == '\0') {
		sc_err("domain: empty");
		return SC_ERROR;
	}
	if (mxk_normalize(in, out, MXK_MAX_LEN + 1, NULL, &kind) != MXK_OK) {
		snprintf(q, sizeof(q), "%.*s%s", TLS_QUOTE_MAX, in, strlen(in) > TLS_QUOTE_MAX ? "..." : "");
		fputs("shmctl: domain '", stderr);
		sc_print_clean(stderr, q);
		fputs("': not a domain name\n", stderr);
		return SC_ERROR;
	}
	if (kind != MXK_DOMAIN) {
		sc_err("domain '%s': an IP literal; a TLS pin is set for a domain name", out);
		return SC_ERROR;
	}
	return SC_OK;
}

/* pin_policy - the policy words av[0..ac) joined by single spaces into
 * buf (MXS_PIN_POLICY_MAX + 1 bytes), checked as mxcached checks it.
 * SC_OK, or SC_ERROR, said. */
static int pin_policy(char **av, int ac, char *buf)
{
	const char *why;
	size_t n = 0, l;
	int i;

	for (i = 0; i < ac; i++) {
		l = strlen(av[i]);
		if (n + (i > 0) + l > MXS_PIN_POLICY_MAX) {
			sc_err("policy longer than %d bytes", MXS_PIN_POLICY_MAX);
			return SC_ERROR;
		}
		if (i > 0)
			buf[n++] = ' ';
		memcpy(buf + n, av[i], l);
		n += l;
	}
	buf[n] = '\0';
	if (mxc_pin_policy_check(buf, n, &why) != 0) {
		sc_err("%s", why);
		return SC_ERROR;
	}
	return SC_OK;
}

/* tls_request - "WORD DOMAIN [POLICY]\n" to mxcached */
static int tls_request(const struct sc_ctx *c, const char *word, const char *domain, const char *policy,
		       char *reply, char **w, int nw)
{
	char req[MXS_CTL_LINE_MAX + 1], enc[MXS_CTL_LINE_MAX + 1];
	size_t len = 0;
	int r;

	if (sc_ctl_line(req, sizeof(req), &len, word, domain) != 0) {
		sc_err("domain too long");
		return SC_ERROR;
	}
	if (policy != NULL) {
		/* the policy travels as one escaped word, before the '\n' */
		r = mxc_ctl_escape(policy, strlen(policy), enc, sizeof(enc));
		if (r < 0 || len + (size_t)r + 1 > MXS_CTL_LINE_MAX) {
			sc_err("policy too long");
			return SC_ERROR;
		}
		req[len - 1] = ' ';
		memcpy(req + len, enc, (size_t)r);
		len += (size_t)r;
		req[len++] = '\n';
		req[len] = '\0';
	}
	return sc_ctl_request(c, req, len, reply, w, nw);
}

int sc_cmd_tls_set(const struct sc_ctx *c, char **av, int ac)
{
	char d[MXK_MAX_LEN + 1], policy[MXS_PIN_POLICY_MAX + 1], reply[MXS_CTL_LINE_MAX + 1], *w[3];
	int ex;

	if ((ex = pin_domain(av[0], d)) != SC_OK || (ex = pin_policy(av + 1, ac - 1, policy)) != SC_OK)
		return ex;
	ex = tls_request(c, "TLS-SET", d, policy, reply, w, 3);
	if (ex == SC_OK)
		printf("%s %s\n", w[1], w[2]);
	return ex;
}

int sc_cmd_tls_del(const struct sc_ctx *c, char **av, int ac)
{
	char d[MXK_MAX_LEN + 1], reply[MXS_CTL_LINE_MAX + 1], *w[2];
	int ex;

	(void)ac;
	if ((ex = pin_domain(av[0], d)) != SC_OK)
		return ex;
	ex = tls_request(c, "TLS-DEL", d, NULL, reply, w, 2);
	if (ex == SC_OK)
		printf("deleted the TLS pin of %s\n", w[1]);
	else if (ex == SC_NOTFOUND)
		fprintf(stderr, "%s: no TLS pin\n", d);
	return ex;
}

int sc_cmd_tls_get(const struct sc_ctx *c, char **av, int ac)
{
	char d[MXK_MAX_LEN + 1], policy[MXC_PIN_POLICY_MAX + 1];
	mxc_t *h = NULL;
	int ex, rc;

	(void)ac;
	if ((ex = pin_domain(av[0], d)) != SC_OK)
		return ex;
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		return ex;
	rc = mxc_tls_pin_get(h, d, policy, sizeof(policy));
	if (rc == MXC_OK) {
		puts(policy);
	} else if (rc == MXC_NOTFOUND) {
		fprintf(stderr, "%s: no TLS pin\n", d);
		ex = SC_NOTFOUND;
	} else {
		sc_err("%s: %s", d, mxc_strerror(rc));
		ex = SC_ERROR;
	}
	mxc_close(h);
	return ex;
}

/* ---- tls list ----------------------------------------------------------------- */

struct pin {
	char *domain;
	char *policy;
	int64_t created, updated;
};

struct pins {
	struct pin *v;
	size_t n, cap;
	int oom;
};

static int pin_take(const char *domain, const char *policy, int64_t created, int64_t updated, void *arg)
{
	struct pins *ps = arg;
	struct pin *p;

	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 64;

		if ((p = realloc(ps->v, cap * sizeof(*p))) == NULL) {
			ps->oom = 1;
			return 1;
		}
		ps->v = p;
		ps->cap = cap;
	}
	p = &ps->v[ps->n];
	p->domain = strdup(domain);
	p->policy = strdup(policy);
	p->created = created;
	p->updated = updated;
	if (p->domain == NULL || p->policy == NULL) {
		free(p->domain);
		free(p->policy);
		ps->oom = 1;
		return 1;
	}
	ps->n++;
	return 0;
}

static int pin_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pin *)a)->domain, ((const struct pin *)b)->domain);
}

static int pins_json(const struct pins *ps)
{
	struct json_object *arr = json_object_new_array(), *o;
	int oom = arr == NULL;
	size_t i;

	for (i = 0; i < ps->n && !oom; i++) {
		if ((o = json_object_new_object()) == NULL) {
			oom = 1;
			break;
		}
		sc_jstr(o, "domain", ps->v[i].domain, &oom);
		sc_jstr(o, "policy", ps->v[i].policy, &oom);
		sc_jint(o, "created", ps->v[i].created, &oom);
		sc_jint(o, "updated", ps->v[i].updated, &oom);
		if (json_object_array_add(arr, o) != 0) {
			json_object_put(o);
			oom = 1;
		}
	}
	return sc_json_print(arr, oom);
}

/* Every pin, by domain: "DOMAIN POLICY" lines, or a JSON array. */
int sc_cmd_tls_list(const struct sc_ctx *c, char **av, int ac)
{
	struct pins ps;
	mxc_t *h = NULL;
	size_t i;
	int ex, rc;

	(void)av;
	(void)ac;
	memset(&ps, 0, sizeof(ps));
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		return ex;
	rc = mxc_tls_pin_foreach(h, pin_take, &ps);
	mxc_close(h);
	if (ps.oom) {
		sc_err("out of memory");
		ex = SC_ERROR;
	} else if (rc < 0) {
		sc_err("%s: %s", c->dir, mxc_strerror(rc));
		ex = SC_ERROR;
	} else {
		if (ps.n > 1)   /* no pins: ps.v is NULL, which qsort may not take */
			qsort(ps.v, ps.n, sizeof(*ps.v), pin_cmp);
		if (c->json)
			ex = pins_json(&ps);
		else
			for (i = 0; i < ps.n; i++)
				printf("%s %s\n", ps.v[i].domain, ps.v[i].policy);
	}
	for (i = 0; i < ps.n; i++) {
		free(ps.v[i].domain);
		free(ps.v[i].policy);
	}
	free(ps.v);
	return ex;
}
