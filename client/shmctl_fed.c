/*
 * client/shmctl_fed.c - shmctl federation ...: the policy, the local
 * domain and the rules.  Changes go through mxcached (durable and visible
 * to every client when the command returns); check and list read the
 * region.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "mxcache.h"
#include "shm/ctl.h"
#include "shmctl.h"

static int fed_request(const struct sc_ctx *c, const char *word, const char *arg, char **w, int nw, char *reply)
{
	char req[MXS_CTL_LINE_MAX + 1];
	size_t len = 0;

	if (arg == NULL) {
		len = (size_t)snprintf(req, sizeof(req), "%s\n", word);
	} else if (sc_ctl_line(req, sizeof(req), &len, word, arg) != 0) {
		sc_err("domain too long");
		return SC_ERROR;
	}
	return sc_ctl_request(c, req, len, reply, w, nw);
}

/* rules - "1 rule", "2 rules": a count said as words */
static const char *rules(const char *count, char *buf, size_t len)
{
	snprintf(buf, len, "%s rule%s", count, strcmp(count, "1") == 0 ? "" : "s");
	return buf;
}

/* canonical - arg as stored (mxcached took it, so it normalizes) */
static const char *canonical(const char *arg, char *buf, size_t len)
{
	if (mxc_normalize(arg, buf, len) != MXC_OK)
		snprintf(buf, len, "%s", arg);
	return buf;
}

/* The policy in plain words: accept makes the rules a blocklist, reject
 * an allowlist; the words the commands and their output use. */
static const char *mode_name(int policy)
{
	return policy == MXC_FED_POLICY_REJECT ? "allowlist" : "blocklist";
}

int sc_cmd_fed_policy(const struct sc_ctx *c, char **av, int ac)
{
	char reply[MXS_CTL_LINE_MAX + 1], *w[3], n[32];
	int ex;

	(void)ac;
	if (strcasecmp(av[0], "accept") != 0 && strcasecmp(av[0], "reject") != 0) {
		sc_err("federation policy: accept or reject, not '%s'", av[0]);
		return SC_USAGE;
	}
	ex = fed_request(c, "FED-POLICY", av[0], w, 3, reply);
	if (ex != SC_OK)
		return ex;
	if (strcasecmp(w[1], "reject") == 0)
		printf("policy reject (allowlist mode): only the domains the %s name, and the local domain, are "
		       "allowed\n", rules(w[2], n, sizeof(n)));
	else
		printf("policy accept (blocklist mode): the domains the %s name are blocked, all others allowed\n",
		       rules(w[2], n, sizeof(n)));
	return ex;
}

int sc_cmd_fed_local(const struct sc_ctx *c, char **av, int ac)
{
	char reply[MXS_CTL_LINE_MAX + 1], *w[2];
	int ex;

	(void)ac;
	ex = fed_request(c, "FED-LOCAL", av[0], w, 2, reply);
	if (ex == SC_OK)
		printf("local domain %s\n", w[1][0] ? w[1] : "(none)");
	return ex;
}

int sc_cmd_fed_rule_add(const struct sc_ctx *c, char **av, int ac)
{
	char reply[MXS_CTL_LINE_MAX + 1], *w[3], d[MXC_HOST_MAX + 1], n[32];
	int ex;

	(void)ac;
	ex = fed_request(c, "FED-ADD", av[0], w, 3, reply);
	if (ex != SC_OK)
		return ex;
	canonical(av[0], d, sizeof(d));
	if (strcmp(w[2], "exists") == 0)
		printf("%s is a rule already: nothing changed, %s\n", d, rules(w[1], n, sizeof(n)));
	else
		printf("added the rule %s: %s now\n", d, rules(w[1], n, sizeof(n)));
	return ex;
}

int sc_cmd_fed_rule_del(const struct sc_ctx *c, char **av, int ac)
{
	char reply[MXS_CTL_LINE_MAX + 1], *w[2], d[MXC_HOST_MAX + 1], n[32];
	int ex;

	(void)ac;
	ex = fed_request(c, "FED-DEL", av[0], w, 2, reply);
	canonical(av[0], d, sizeof(d));
	if (ex == SC_OK)
		printf("removed the rule %s: %s left\n", d, rules(w[1], n, sizeof(n)));
	else if (ex == SC_NOTFOUND)
		fprintf(stderr, "%s: no such rule\n", d);
	return ex;
}

int sc_cmd_fed_rule_flush(const struct sc_ctx *c, char **av, int ac)
{
	char reply[MXS_CTL_LINE_MAX + 1], *w[2], n[32];
	int ex;

	(void)av;
	(void)ac;
	ex = fed_request(c, "FED-FLUSH", NULL, w, 2, reply);
	if (ex == SC_OK)
		printf("removed %s: none left\n", rules(w[1], n, sizeof(n)));
	return ex;
}

struct rules {
	struct json_object *arr;
	int json, oom;
	size_t n;
};

static int rule_one(const char *domain, int64_t created, void *arg)
{
	struct rules *r = arg;
	char t[32];

	r->n++;
	if (!r->json) {
		printf("%-50s %s\n", domain, sc_iso_time(created, t, sizeof(t)));
		return 0;
	}
	struct json_object *o = json_object_new_object();

	if (o == NULL) {
		r->oom = 1;
		return 0;
	}
	sc_jstr(o, "domain", domain, &r->oom);
	sc_jint(o, "created_at", created, &r->oom);
	if (json_object_array_add(r->arr, o) != 0) {
		json_object_put(o);
		r->oom = 1;
	}
	return 0;
}

int sc_cmd_fed_rule_list(const struct sc_ctx *c, char **av, int ac)
{
	struct rules r;
	mxc_t *h = NULL;
	int ex, rc;

	(void)av;
	(void)ac;
	memset(&r, 0, sizeof(r));
	r.json = c->json;
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		return ex;
	if (r.json && (r.arr = json_object_new_array()) == NULL) {
		mxc_close(h);
		return sc_json_print(NULL, 1);
	}
	rc = mxc_federation_rules(h, rule_one, &r);
	if (rc < 0) {
		sc_err("%s", mxc_strerror(rc));
		json_object_put(r.arr);
		ex = SC_ERROR;
	} else if (r.json) {
		ex = sc_json_print(r.arr, r.oom);
	}
	mxc_close(h);
	return ex;
}

/*
 * federation check: the answer, and why in plain words: the local domain,
 * or whether a rule names the domain, which blocks it in blocklist mode
 * (policy accept) and allows it in allowlist mode (policy reject).
 */
int sc_cmd_fed_check(const struct sc_ctx *c, char **av, int ac)
{
	char canon[MXC_HOST_MAX + 1], n[32], count[24];
	struct mxc_federation f;
	const char *why;
	mxc_t *h = NULL;
	int ex, rc, oom = 0, local, named;

	(void)ac;
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		return ex;
	rc = mxc_federation_allowed(h, av[0]);
	if (rc < 0) {
		sc_err("%s: %s", av[0], rc == MXC_EINVAL ? "not a domain name or IP literal" : mxc_strerror(rc));
		mxc_close(h);
		return SC_ERROR;
	}
	if (mxc_federation_get(h, &f) != MXC_OK)
		memset(&f, 0, sizeof(f));
	canonical(av[0], canon, sizeof(canon));
	local = f.local[0] != '\0' && strcmp(f.local, canon) == 0;
	/* what mxc_federation_allowed decided from: a rule blocks in blocklist
	 * mode and allows in allowlist mode */
	named = f.policy == MXC_FED_POLICY_REJECT ? rc : !rc;
	why = local ? "local domain" : named ? "rule" : "no rule";
	if (c->json) {
		struct json_object *o = json_object_new_object();

		sc_jstr(o, "domain", av[0], &oom);
		sc_jset(o, "allowed", json_object_new_boolean(rc), &oom);
		sc_jstr(o, "policy", f.policy == MXC_FED_POLICY_REJECT ? "REJECT" : "ACCEPT", &oom);
		sc_jstr(o, "mode", mode_name(f.policy), &oom);
		sc_jstr(o, "reason", why, &oom);
		sc_jstr(o, "local_domain", f.local, &oom);
		sc_juint(o, "rules", f.rules, &oom);
		sc_json_print(o, oom);
	} else if (local) {
		printf("%s: allowed (the local domain)\n", av[0]);
	} else {
		snprintf(count, sizeof(count), "%llu", (unsigned long long)f.rules);
		if (named)
			printf("%s: %s (%s mode: a rule names it)\n", av[0], rc ? "allowed" : "blocked",
			       mode_name(f.policy));
		else if (f.rules == 0)
			printf("%s: %s (%s mode: there are no rules)\n", av[0], rc ? "allowed" : "blocked",
			       mode_name(f.policy));
		else if (f.rules == 1)
			printf("%s: %s (%s mode: the one rule does not name it)\n", av[0], rc ? "allowed" : "blocked",
			       mode_name(f.policy));
		else
			printf("%s: %s (%s mode: none of the %s names it)\n", av[0], rc ? "allowed" : "blocked",
			       mode_name(f.policy), rules(count, n, sizeof(n)));
	}
	mxc_close(h);
	return rc ? SC_OK : SC_NOTFOUND;
}
