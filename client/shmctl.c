/*
 * shmctl - inspect an mxcache region and change its data through mxcached.
 *
 * Two paths, never mixed (the command table below marks each command):
 *   reads    map the region through libmxcache exactly as a mail server
 *            does, so what shmctl shows is what clients see.  They work
 *            while the daemon is down, from the last publish.
 *   changes  and ping are lines on DIR/ctl.sock (shm/ctl.h).  mxcached
 *            answers only after committing to SQLite and publishing to the
 *            region, so a change reported done is visible to the very next
 *            read.
 *
 * Exit status, fixed by the interface contract: 0 found/done, 1 not found
 * (a lookup whose answer is no, whatever the reason), 2 usage error,
 * 3 daemon or region unavailable, 4 other error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "client/mxcache.h"
#include "client/shmctl.h"
#include "shm/ctl.h"

#define JSON_FLAGS    (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)
/* positional words: "override set K T C" is 5; "tls set D" and a policy's
 * words, a level and its attributes, are more */
#define ARGS_MAX      24
#define MX_FIRST      16         /* MX records room tried first, doubled on ETOOSMALL */
#define MX_LIMIT      4096       /* more MX records than a 64 KiB DNS answer holds */
#define ISO_LEN       40

void sc_err(const char *fmt, ...)
{
	va_list ap;

	fputs("shmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void sc_print_clean(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
}

const char *sc_iso_time(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
	return buf;
}

/* --- JSON ---------------------------------------------------------------- */

/* jset - add v under k; a failed allocation marks *oom instead of turning
 * silently into a JSON null. */
void sc_jset(struct json_object *o, const char *k, struct json_object *v, int *oom)
{
	if (v == NULL || json_object_object_add(o, k, v) != 0) {
		json_object_put(v);
		*oom = 1;
	}
}

void sc_jstr(struct json_object *o, const char *k, const char *v, int *oom)
{
	sc_jset(o, k, json_object_new_string(v), oom);
}

void sc_jint(struct json_object *o, const char *k, int64_t v, int *oom)
{
	sc_jset(o, k, json_object_new_int64(v), oom);
}

/* incarnation is a random 64-bit number: int64 would turn half of them negative */
void sc_juint(struct json_object *o, const char *k, uint64_t v, int *oom)
{
	sc_jset(o, k, json_object_new_uint64(v), oom);
}

/* json_print - print o and free it */
int sc_json_print(struct json_object *o, int oom)
{
	const char *s = (o != NULL && !oom) ? json_object_to_json_string_ext(o, JSON_FLAGS) : NULL;
	int ex = SC_OK;

	if (s == NULL) {
		sc_err("out of memory building JSON");
		ex = SC_ERROR;
	} else {
		printf("%s\n", s);
	}
	json_object_put(o);
	return ex;
}

/* --- the region: reads --------------------------------------------------- */

int sc_region_open(const struct sc_ctx *c, mxc_t **h)
{
	int rc = mxc_open(c->dir, h), e = errno;

	switch (rc) {
	case MXC_OK:
		return SC_OK;
	case MXC_ENOREGION:
		sc_err("%s: %s", c->dir, mxc_strerror(rc));
		return SC_UNAVAIL;
	case MXC_ESYS:
		if (e == EACCES)
			sc_region_denied(c);
		else
			sc_err("%s: %s: %s", c->dir, mxc_strerror(rc), strerror(e));
		return SC_UNAVAIL;
	default:	/* ECORRUPT, EVERSION: the region is there but unusable */
		sc_err("%s: %s", c->dir, mxc_strerror(rc));
		return SC_ERROR;
	}
}

static int cmd_resolve(const struct sc_ctx *c, char **av, int ac)
{
	char host[MXC_HOST_MAX + 1], canon[MXC_HOST_MAX + 1];
	struct json_object *j;
	mxc_t *h = NULL;
	int ex, rc, oom = 0;

	(void)ac;
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		goto out;
	rc = mxc_resolve(h, av[0], host, sizeof host);
	if (rc == MXC_EINVAL) {
		sc_err("%s: not a domain name or IP literal", av[0]);
		ex = SC_ERROR;
		goto out;
	} else if (rc < 0) {
		sc_err("%s: %s", av[0], mxc_strerror(rc));
		ex = SC_ERROR;
		goto out;
	}
	if (rc == MXC_NOTFOUND)
		fprintf(stderr, "%s: no override; resolve through DNS\n", av[0]);
	ex = rc == MXC_OK ? SC_OK : SC_NOTFOUND;
	if (!c->json) {
		if (rc == MXC_OK)
			puts(host);
		goto out;
	}
	if ((j = json_object_new_object()) == NULL) {
		ex = sc_json_print(NULL, 1);
		goto out;
	}
	sc_jstr(j, "key", av[0], &oom);
	if (mxc_normalize(av[0], canon, sizeof canon) == MXC_OK)
		sc_jstr(j, "canonical", canon, &oom);
	if (rc == MXC_OK)
		sc_jstr(j, "host", host, &oom);
	else
		json_object_object_add(j, "host", NULL);
	if (sc_json_print(j, oom) != SC_OK)
		ex = SC_ERROR;
out:
	mxc_close(h);
	return ex;
}

/* mx_kind - the JSON word for an MX answer, or for why there is none */
static const char *mx_kind(int from, int have_info, const struct mxc_mx_info *info, int rc)
{
	if (from)
		return "override";
	if (!have_info)
		return "absent";
	if (rc == MXC_NOTFOUND && info->kind != MXC_MX_TEMPFAIL)
		return "expired";
	switch (info->kind) {
	case MXC_MX_IMPLICIT: return "implicit";
	case MXC_MX_NULL: return "null";
	case MXC_MX_NXDOMAIN: return "nxdomain";
	case MXC_MX_TEMPFAIL: return "tempfail";
	default: return "mx";
	}
}

/*
 * resolve-mx: exit 0 only with hosts to deliver to (an override or cached
 * MX records, the implicit MX included).  Every other answer exits 1, the
 * same whether it comes from the cache or not: no such domain and null MX
 * (cached), the last lookup failed, nothing cached or the cached answer
 * expired (the daemon has been asked).  The reason goes to stderr, so
 * stdout holds only PREF HOST lines.
 */
static int cmd_resolve_mx(const struct sc_ctx *c, char **av, int ac)
{
	struct mxc_mx *mx = NULL, *tmp;
	struct json_object *j = NULL, *arr, *rec;
	size_t max = MX_FIRST, n = 0, cn = 0, i;
	struct mxc_mx_info info;
	char tbuf[ISO_LEN];
	int64_t ttl = 0;
	mxc_t *h = NULL;
	int ex, rc, crc = MXC_NOTFOUND, from = 0, oom = 0, have_info, authn;
	unsigned flags = 0;

	(void)ac;
	memset(&info, 0, sizeof info);
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		goto out;
	/* the answer's size is unknown until asked: grow until it fits; then
	 * what the cache holds, expired or not, for its TTL or why it has none */
	for (;;) {
		if ((tmp = realloc(mx, max * sizeof *mx)) == NULL) {
			sc_err("out of memory");
			ex = SC_ERROR;
			goto out;
		}
		mx = tmp;
		rc = mxc_resolve_mx_flags(h, av[0], mx, max, &n, &flags);
		from = (flags & MXC_MX_F_OVERRIDE) != 0;
		if (rc != MXC_ETOOSMALL && !from)
			crc = mxc_mx_cached(h, av[0], mx, max, &cn, &info);
		if ((rc != MXC_ETOOSMALL && crc != MXC_ETOOSMALL) || max >= MX_LIMIT)
			break;
		max *= 2;
	}
	if (rc == MXC_EINVAL) {
		sc_err("%s: not a domain name", av[0]);
		ex = SC_ERROR;
		goto out;
	} else if (rc != MXC_OK && rc != MXC_NOTFOUND) {
		sc_err("%s: %s", av[0], mxc_strerror(rc));
		ex = SC_ERROR;
		goto out;
	}
	have_info = !from && crc == MXC_OK;
	authn = rc == MXC_OK && (flags & MXC_MX_F_AUTHENTICATED);
	if (have_info && rc == MXC_OK)
		n = cn;		/* mx[] holds what the second call wrote */
	else if (rc == MXC_NOTFOUND)
		n = 0;
	if (have_info)
		ttl = info.expires - (int64_t)time(NULL);
	ex = n > 0 ? SC_OK : SC_NOTFOUND;
	if (rc == MXC_NOTFOUND && have_info && info.kind == MXC_MX_TEMPFAIL)
		fprintf(stderr, "%s: no override; the last MX lookup failed, retried after %s\n", av[0],
			sc_iso_time(info.expires, tbuf, sizeof tbuf));
	else if (rc == MXC_NOTFOUND && have_info)
		fprintf(stderr, "%s: no override; the cached MX answer expired at %s; mxcached has been asked to "
			"look it up again\n", av[0], sc_iso_time(info.expires, tbuf, sizeof tbuf));
	else if (rc == MXC_NOTFOUND)
		fprintf(stderr, "%s: no override and no cached MX; mxcached has been asked to look it up\n", av[0]);
	else if (n == 0)
		fprintf(stderr, "%s: %s (cached, ttl %lld s)\n", av[0],
			have_info && info.kind == MXC_MX_NULL ? "null MX: accepts no mail" : "no such domain",
			(long long)ttl);
	if (!c->json) {
		for (i = 0; i < n; i++) {
			if (from)
				printf("%u %s (override)\n", (unsigned)mx[i].pref, mx[i].host);
			else
				printf("%u %s (%s%s, ttl %lld s)\n", (unsigned)mx[i].pref, mx[i].host,
				       have_info && info.kind == MXC_MX_IMPLICIT ? "implicit MX, cached" : "cached",
				       authn ? ", authenticated" : "", (long long)ttl);
		}
		goto out;
	}
	if ((j = json_object_new_object()) == NULL || (arr = json_object_new_array()) == NULL) {
		ex = sc_json_print(j, 1);
		j = NULL;
		goto out;
	}
	sc_jstr(j, "domain", av[0], &oom);
	sc_jset(j, "from_override", json_object_new_boolean(from), &oom);
	sc_jset(j, "authenticated", json_object_new_boolean(authn), &oom);
	sc_jstr(j, "kind", mx_kind(from, have_info, &info, rc), &oom);
	if (have_info && rc == MXC_OK)
		sc_jint(j, "ttl", ttl, &oom);
	sc_jset(j, "mx", arr, &oom);
	for (i = 0; i < n && !oom; i++) {
		if ((rec = json_object_new_object()) == NULL) {
			oom = 1;
			break;
		}
		sc_jint(rec, "pref", mx[i].pref, &oom);
		sc_jstr(rec, "host", mx[i].host, &oom);
		if (json_object_array_add(arr, rec) != 0) {
			json_object_put(rec);
			oom = 1;
		}
	}
	if (sc_json_print(j, oom) != SC_OK)
		ex = SC_ERROR;
	j = NULL;
out:
	json_object_put(j);
	free(mx);
	mxc_close(h);
	return ex;
}

static struct json_object *override_json(const struct mxc_override *o, int *oom)
{
	struct json_object *j = json_object_new_object();
	char iso[ISO_LEN];

	if (j == NULL) {
		*oom = 1;
		return NULL;
	}
	sc_jstr(j, "key", o->key, oom);
	sc_jstr(j, "target", o->target, oom);
	sc_jstr(j, "comment", o->comment, oom);
	sc_jint(j, "created", o->created, oom);
	sc_jint(j, "updated", o->updated, oom);
	sc_jstr(j, "created_iso", sc_iso_time(o->created, iso, sizeof iso), oom);
	sc_jstr(j, "updated_iso", sc_iso_time(o->updated, iso, sizeof iso), oom);
	return j;
}

static int cmd_override_get(const struct sc_ctx *c, char **av, int ac)
{
	struct mxc_override o;
	char iso[ISO_LEN];
	mxc_t *h = NULL;
	int ex, rc, oom = 0;

	(void)ac;
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		goto out;
	rc = mxc_override_get(h, av[0], &o);
	if (rc == MXC_NOTFOUND) {
		fprintf(stderr, "%s: no override\n", av[0]);
		ex = SC_NOTFOUND;
	} else if (rc == MXC_EINVAL) {
		sc_err("%s: not a domain name or IP literal", av[0]);
		ex = SC_ERROR;
	} else if (rc != MXC_OK) {
		sc_err("%s: %s", av[0], mxc_strerror(rc));
		ex = SC_ERROR;
	} else if (c->json) {
		struct json_object *j = override_json(&o, &oom);

		ex = sc_json_print(j, oom);
	} else {
		printf("key:     %s\ntarget:  %s\ncomment: ", o.key, o.target);
		sc_print_clean(stdout, o.comment);
		printf("\ncreated: %s\n", sc_iso_time(o.created, iso, sizeof iso));
		printf("updated: %s\n", sc_iso_time(o.updated, iso, sizeof iso));
	}
out:
	mxc_close(h);
	return ex;
}

struct list_out {
	int json;
	uint64_t n;
	int oom;
};

/*
 * list_one - one override, written as it comes: a listing of a million
 * overrides is streamed rather than built as one JSON tree (which would take
 * about a gigabyte).  Each element is pretty-printed on its own and indented
 * by two spaces, which is byte for byte what json-c prints for the whole
 * array.
 */
static int list_one(const struct mxc_override *o, void *arg)
{
	struct list_out *lo = arg;
	struct json_object *j;
	const char *s, *nl;
	char iso[ISO_LEN];

	if (!lo->json) {
		printf("%-30s %-30s %s  ", o->key, o->target, sc_iso_time(o->updated, iso, sizeof iso));
		sc_print_clean(stdout, o->comment);
		putchar('\n');
	} else {
		j = override_json(o, &lo->oom);
		s = (j != NULL && !lo->oom) ? json_object_to_json_string_ext(j, JSON_FLAGS) : NULL;
		if (s == NULL) {
			lo->oom = 1;
			json_object_put(j);
			return 1;
		}
		fputs(lo->n > 0 ? ",\n  " : "[\n  ", stdout);
		while ((nl = strchr(s, '\n')) != NULL) {
			fwrite(s, 1, (size_t)(nl - s) + 1, stdout);
			fputs("  ", stdout);
			s = nl + 1;
		}
		fputs(s, stdout);
		json_object_put(j);
	}
	lo->n++;
	return ferror(stdout) ? 1 : 0;	/* a closed pipe: stop walking */
}

static int cmd_override_list(const struct sc_ctx *c, char **av, int ac)
{
	struct list_out lo = { c->json, 0, 0 };
	mxc_t *h = NULL;
	int ex, rc;

	(void)av;
	(void)ac;
	if ((ex = sc_region_open(c, &h)) != SC_OK)
		goto out;
	rc = mxc_override_foreach(h, list_one, &lo);
	if (lo.oom) {
		sc_err("out of memory building JSON");
		ex = SC_ERROR;
	} else if (rc < 0) {
		sc_err("%s: %s", c->dir, mxc_strerror(rc));
		ex = SC_ERROR;
	} else if (c->json) {
		fputs(lo.n > 0 ? "\n]\n" : "[\n]\n", stdout);
	}
out:
	mxc_close(h);
	return ex;
}

/* --- the command table ------------------------------------------------- */

#define J  SC_F_JSON
#define C  SC_F_CTL
#define L  SC_F_LOCAL

const struct sc_command sc_commands[] = {
	/* reads: the region through libmxcache, as clients see it */
	{ { "status" }, 0, 0, J | SC_F_VERBOSE, sc_cmd_status, "", NULL,
	  "the region's header, counts, files and writer" },
	{ { "metrics" }, 0, 0, 0, sc_cmd_metrics, "", NULL, "figures and counters, Prometheus text format" },
	{ { "verify" }, 0, 0, 0, sc_cmd_verify, "", NULL, "full integrity walk of the region" },
	{ { "readers" }, 0, 0, J, sc_cmd_readers, "", NULL, "claimed reader slots" },
	{ { "resolve" }, 1, 1, J, cmd_resolve, "KEY", NULL, "what mxc_resolve answers" },
	{ { "resolve-mx" }, 1, 1, J, cmd_resolve_mx, "DOMAIN", NULL, "what mxc_resolve_mx answers" },
	{ { "override", "get" }, 1, 1, J, cmd_override_get, "KEY", NULL, "one override, as stored" },
	{ { "override", "list" }, 0, 0, J, cmd_override_list, "", NULL, "all of them, in table order" },
	{ { "override", "export" }, 0, 1, 0, sc_cmd_override_export, "[FILE]", SC_ARG_FILE,
	  "every override as CSV, for import (default: stdout)" },
	{ { "sts", "get" }, 1, 1, J, sc_cmd_sts_get, "DOMAIN", NULL, "the cached MTA-STS policy" },
	{ { "sts", "list" }, 0, 0, J, sc_cmd_sts_list, "", NULL, "every entry, last used first" },
	{ { "federation", "check" }, 1, 1, J, sc_cmd_fed_check, "DOMAIN", NULL,
	  "may mail be exchanged with DOMAIN? exit 1 when blocked" },
	{ { "federation", "rule", "list" }, 0, 0, J, sc_cmd_fed_rule_list, "", NULL, "every federation rule" },
	{ { "tls", "get" }, 1, 1, 0, sc_cmd_tls_get, "DOMAIN", NULL, "the domain's TLS pin" },
	{ { "tls", "list" }, 0, 0, J, sc_cmd_tls_list, "", NULL, "every TLS pin, by domain" },
	{ { "stats" }, 0, 1, J | SC_F_SORT, sc_cmd_stats, "[DOMAIN]", NULL, "per-domain delivery stats" },
	{ { "servers" }, 0, 0, J, sc_cmd_servers, "", NULL, "unique-server counts since mxcached started" },
	/* through mxcached: answered once committed and published */
	{ { "ping" }, 0, 0, C, sc_cmd_ping, "", NULL, "is mxcached running? (asks it)" },
	{ { "override", "set" }, 2, 3, C, sc_cmd_override_set, "KEY TARGET [COMMENT]", NULL, "add or replace" },
	{ { "override", "del" }, 1, 1, C, sc_cmd_override_del, "KEY", NULL, "remove one" },
	{ { "override", "import" }, 1, 1, C, sc_cmd_override_import, "FILE", SC_ARG_FILE,
	  "CSV key,target[,comment]; FILE - is stdin" },
	{ { "sts", "fetch" }, 1, 1, J | C, sc_cmd_sts_fetch, "DOMAIN", NULL, "check now, wait, show the result" },
	{ { "sts", "del" }, 1, 1, C, sc_cmd_sts_del, "DOMAIN", NULL, "forget one domain's entry" },
	{ { "federation", "policy" }, 1, 1, C, sc_cmd_fed_policy, "accept|reject", "accept reject",
	  "accept: the rules are a blocklist; reject: an allowlist" },
	{ { "federation", "local" }, 1, 1, C, sc_cmd_fed_local, "DOMAIN", NULL, "always allowed (\"\" clears)" },
	{ { "federation", "rule", "add" }, 1, 1, C, sc_cmd_fed_rule_add, "DOMAIN", NULL, "add a rule" },
	{ { "federation", "rule", "del" }, 1, 1, C, sc_cmd_fed_rule_del, "DOMAIN", NULL, "remove a rule" },
	{ { "federation", "rule", "flush" }, 0, 0, C, sc_cmd_fed_rule_flush, "", NULL, "remove every rule" },
	{ { "tls", "set" }, 2, ARGS_MAX - 2, C, sc_cmd_tls_set, "DOMAIN POLICY", NULL,
	  "pin the domain's TLS policy (a Postfix level and attributes)" },
	{ { "tls", "del" }, 1, 1, C, sc_cmd_tls_del, "DOMAIN", NULL, "remove the domain's TLS pin" },
	/* neither */
	{ { "unlink" }, 0, 0, L, sc_cmd_unlink, "", NULL, "remove DIR's region files (refused while mxcached runs)" },
	{ { "completion" }, 1, 1, L, sc_cmd_completion, "bash", "bash", "a bash completion script for shmctl" },
};
const size_t sc_ncommands = sizeof sc_commands / sizeof sc_commands[0];

#undef J
#undef C
#undef L

static int nwords(const struct sc_command *cmd)
{
	int n = 0;

	while (n < SC_WORDS_MAX && cmd->words[n] != NULL)
		n++;
	return n;
}

void sc_synopsis(const struct sc_command *cmd, char *buf, size_t len)
{
	size_t n = 0;
	int i, w = nwords(cmd);

	buf[0] = '\0';
	for (i = 0; i < w && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "", cmd->words[i]);
	if (cmd->args[0] != '\0' && n < len)
		n += (size_t)snprintf(buf + n, len - n, " %s", cmd->args);
	if ((cmd->flags & SC_F_JSON) && n < len)
		n += (size_t)snprintf(buf + n, len - n, " [--json]");
	if ((cmd->flags & SC_F_SORT) && n < len)
		n += (size_t)snprintf(buf + n, len - n, " [--sort queued|failures|latency]");
	if ((cmd->flags & SC_F_VERBOSE) && n < len)
		snprintf(buf + n, len - n, " [--verbose]");
}

/* --- usage --------------------------------------------------------------- */

#define SYNOPSIS_LEN  128
#define SYNOPSIS_COL  36	/* the descriptions' column; a longer synopsis gets a line of its own */

static void usage_line(FILE *f, const struct sc_command *cmd)
{
	char syn[SYNOPSIS_LEN];

	sc_synopsis(cmd, syn, sizeof syn);
	if (strlen(syn) <= SYNOPSIS_COL)
		fprintf(f, "  %-*s %s\n", SYNOPSIS_COL, syn, cmd->what);
	else
		fprintf(f, "  %s\n  %-*s %s\n", syn, SYNOPSIS_COL, "", cmd->what);
}

static void usage(FILE *f)
{
	static const struct {
		unsigned flags;
		const char *title;
	} groups[] = {
		{ 0, "Reads, from the shared-memory region as clients see it (no daemon needed):" },
		{ SC_F_CTL, "Through mxcached on DIR/ctl.sock (answered once committed and published):" },
		{ SC_F_LOCAL, "Other:" },
	};
	size_t g, i;

	fputs("usage: shmctl [-d DIR] COMMAND [ARGS]\n", f);
	for (g = 0; g < sizeof groups / sizeof groups[0]; g++) {
		fprintf(f, "\n%s\n", groups[g].title);
		for (i = 0; i < sc_ncommands; i++)
			if ((sc_commands[i].flags & (SC_F_CTL | SC_F_LOCAL)) == groups[g].flags)
				usage_line(f, &sc_commands[i]);
	}
	fputs("\nOptions, before or after the command:\n"
	      "  -d, --dir DIR   state directory (default: $MXCACHE_DIR, else " MXC_DEFAULT_DIR ")\n"
	      "  --json          JSON output, where shown\n"
	      "  --sort KEY      the order of stats: queued, failures or latency\n"
	      "  --verbose       status: what each line means\n"
	      "  --              ends the options (for an argument that starts with '-')\n"
	      "  -h, --help      this text\n\n"
	      "Exit: 0 found/done, 1 not found or a negative answer, 2 usage error,\n"
	      "      3 daemon or region unavailable, 4 other error\n"
	      "      (status: 3 also when mxcached is not running)\n", f);
}

static int usage_error(const struct sc_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const struct sc_command *cmd, const char *fmt, ...)
{
	char syn[SYNOPSIS_LEN];
	va_list ap;

	fputs("shmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd != NULL) {
		sc_synopsis(cmd, syn, sizeof syn);
		fprintf(stderr, "usage: shmctl [-d DIR] %s\n", syn);
	} else {
		usage(stderr);
	}
	return SC_USAGE;
}

/* --- dispatch ------------------------------------------------------------ */

#define WORD_MAX   32	/* longer than any command word: no suggestion */
#define NEAR_MAX   2	/* edits that still make a suggestion */

/* distance - edits (insert, delete, replace, swap of neighbours) from a to
 * b, or more than NEAR_MAX when either is too long to be a command word */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, v, m[WORD_MAX + 1][WORD_MAX + 1];

	if (la > WORD_MAX || lb > WORD_MAX)
		return NEAR_MAX + 1;
	for (i = 0; i <= la; i++)
		m[i][0] = i;
	for (j = 0; j <= lb; j++)
		m[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			v = m[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (m[i - 1][j] + 1 < v)
				v = m[i - 1][j] + 1;
			if (m[i][j - 1] + 1 < v)
				v = m[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && m[i - 2][j - 2] + 1 < v)
				v = m[i - 2][j - 2] + 1;
			m[i][j] = v;
		}
	}
	return m[la][lb];
}

/* prefix_of - does cmd start with the words w[0..n)? */
static int prefix_of(const struct sc_command *cmd, char **w, int n)
{
	int i;

	if (n > nwords(cmd))
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(cmd->words[i], w[i]) != 0)
			return 0;
	return 1;
}

/*
 * no_command - the words name no command: say which word is wrong, what
 * may stand there, and the nearest of those to what was typed.  depth is
 * how many leading words some command does have.
 */
static int no_command(char **pos, int npos, int depth)
{
	const char *seen[sizeof sc_commands / sizeof sc_commands[0]], *near = NULL;
	char path[SYNOPSIS_LEN] = "", list[512] = "";
	size_t nseen = 0, k, j, best = NEAR_MAX + 1, d, n = 0, pn = 0;
	const char *typed = depth < npos ? pos[depth] : NULL;
	int i, unique_prefix = 0;

	for (i = 0; i < depth; i++)
		pn += (size_t)snprintf(path + pn, sizeof path - pn, "%s%s", i ? " " : "", pos[i]);
	for (k = 0; k < sc_ncommands; k++) {
		const char *w = sc_commands[k].words[depth];

		if (!prefix_of(&sc_commands[k], pos, depth) || w == NULL)
			continue;
		for (j = 0; j < nseen && strcmp(seen[j], w) != 0; j++)
			;
		if (j < nseen)
			continue;
		seen[nseen++] = w;
		n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s", nseen > 1 ? ", " : "", w);
		if (typed == NULL)
			continue;
		/* a unique abbreviation, else the fewest edits */
		if (strncmp(w, typed, strlen(typed)) == 0) {
			near = unique_prefix++ == 0 ? w : NULL;
			best = 0;
		} else if (!unique_prefix && (d = distance(typed, w)) < best && d < strlen(typed)) {
			best = d;
			near = w;
		}
	}
	fputs("shmctl: ", stderr);
	if (depth == 0)
		fprintf(stderr, "unknown command '");
	else if (typed != NULL)
		fprintf(stderr, "%s: unknown subcommand '", path);
	else
		fprintf(stderr, "%s: subcommand missing", path);
	if (typed != NULL) {
		sc_print_clean(stderr, typed);
		fputc('\'', stderr);
	}
	if (near != NULL)
		fprintf(stderr, " (did you mean '%s'?)", near);
	fputc('\n', stderr);
	if (depth == 0) {
		usage(stderr);
		return SC_USAGE;
	}
	fprintf(stderr, "%s takes %s:\n", path, list);
	for (k = 0; k < sc_ncommands; k++)
		if (prefix_of(&sc_commands[k], pos, depth))
			usage_line(stderr, &sc_commands[k]);
	return SC_USAGE;
}

/* find_command - the command pos[0..npos) starts with, *skip its words */
static const struct sc_command *find_command(char **pos, int npos, int *skip)
{
	size_t k;
	int n;

	for (k = 0; k < sc_ncommands; k++) {
		n = nwords(&sc_commands[k]);
		if (n <= npos && prefix_of(&sc_commands[k], pos, n)) {
			*skip = n;
			return &sc_commands[k];
		}
	}
	return NULL;
}

/* known_depth - how many leading words of pos some command has */
static int known_depth(char **pos, int npos)
{
	int depth = 0, d;
	size_t k;

	for (k = 0; k < sc_ncommands; k++)
		for (d = depth + 1; d <= npos && d <= nwords(&sc_commands[k]); d++)
			if (prefix_of(&sc_commands[k], pos, d))
				depth = d;
	return depth;
}

int main(int argc, char **argv)
{
	const struct sc_command *cmd;
	struct sc_ctx c = { .dir = NULL };
	char *pos[ARGS_MAX], *a;
	int npos = 0, only_args = 0, i, skip = 0, ex;

	/* options may come anywhere; "--" ends them (for a comment starting with '-') */
	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (only_args || a[0] != '-' || a[1] == '\0') {
			if (npos == ARGS_MAX)
				return usage_error(NULL, "too many arguments");
			pos[npos++] = a;
		} else if (strcmp(a, "--") == 0) {
			only_args = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return SC_OK;
		} else if (strcmp(a, "--json") == 0) {
			c.json = 1;
		} else if (strcmp(a, "--verbose") == 0) {
			c.verbose = 1;
		} else if (strcmp(a, "-d") == 0 || strcmp(a, "--dir") == 0) {
			if (++i == argc)
				return usage_error(NULL, "%s needs a directory", a);
			c.dir = argv[i];
		} else if (strcmp(a, "--sort") == 0) {
			if (++i == argc)
				return usage_error(NULL, "--sort needs queued, failures or latency");
			c.sort = argv[i];
		} else if (strncmp(a, "--sort=", 7) == 0) {
			c.sort = a + 7;
		} else if (strncmp(a, "--dir=", 6) == 0) {
			c.dir = a + 6;
		} else if (strncmp(a, "-d", 2) == 0) {
			c.dir = a + 2;
		} else {
			return usage_error(NULL, "unknown option %s (put -- before an argument starting with '-')", a);
		}
	}
	if (c.dir != NULL && c.dir[0] == '\0')
		return usage_error(NULL, "empty directory name");
	if (c.dir == NULL)
		c.dir = getenv("MXCACHE_DIR");
	if (c.dir == NULL || c.dir[0] == '\0')
		c.dir = MXC_DEFAULT_DIR;
	if (npos == 0)
		return usage_error(NULL, "no command given");
	if ((cmd = find_command(pos, npos, &skip)) == NULL)
		return no_command(pos, npos, known_depth(pos, npos));
	if (npos - skip < cmd->min || npos - skip > cmd->max)
		return usage_error(cmd, "wrong number of arguments");
	if (c.json && !(cmd->flags & SC_F_JSON))
		return usage_error(cmd, "--json is not available here");
	if (c.sort != NULL && !(cmd->flags & SC_F_SORT))
		return usage_error(cmd, "--sort is not available here");
	if (c.verbose && !(cmd->flags & SC_F_VERBOSE))
		return usage_error(cmd, "--verbose is not available here");
	ex = cmd->run(&c, pos + skip, npos - skip);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		sc_err("writing output: %s", strerror(errno));
		if (ex == SC_OK || ex == SC_NOTFOUND)
			ex = SC_ERROR;
	}
	return ex;
}
