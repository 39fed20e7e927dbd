/*
 * daemon/config.c - parse and validate the INI file, publish it via RCU.
 *
 * libinih does the lexing.  It is driven through ini_parse_stream() with a
 * reader of our own rather than ini_parse() for two reasons: the handler
 * learns the line it is called for (so a bad value is reported as
 * FILE:LINE), and a line longer than libinih's fixed buffer is reported
 * instead of being cut in two and parsed as two lines.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "log.h"
#include "shm/layout.h"
#include "shm/readers.h"
#include "shm/path.h"

/* Room left in MXS_SHM_PATH_MAX for "/mxcache-<dev>-<ino>.data.<tmp>". */
#define CONFIG_SHM_DIR_MAX (MXS_SHM_PATH_MAX - 72)
/* getgrnam_r buffer: start here, double on ERANGE up to the cap. */
#define CONFIG_GRBUF_START 4096
#define CONFIG_GRBUF_MAX   (1024 * 1024)

struct parse {
	struct config *c;
	const char *file;
	FILE *fp;
	int line;               /* lines handed to libinih so far */
	int err_line;           /* line of the first error we found, 0: none */
	char err[256];
	unsigned seen;          /* bit per key in config_keys[], for repeats */
	unsigned seen_num;      /* the same for config_nums[] */
};

struct config_key {
	const char *section;
	const char *name;
	int (*set)(struct parse *p, const char *value);
	int list;               /* a repeat adds to the value */
};

static struct config *config_cur;
static int config_deferred;     /* call_rcu used: rcu_barrier at shutdown */

static int config_error(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int config_error(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err_line == 0) {
		p->err_line = p->line;
		va_start(ap, fmt);
		vsnprintf(p->err, sizeof(p->err), fmt, ap);
		va_end(ap);
	}
	return 0;               /* libinih: handler failed */
}

/* Unsigned decimal, digits only, in [min, max]. */
static int config_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * A group (is_user 0) or a user (1) by name, or by number when name is
 * NULL, through the _r functions with a buffer that grows.  Sets *id_out
 * (gid or uid), *gid_out (a user's primary group) and name_out (a group's
 * name) when not NULL.  0 found, -1 not.
 */
static int config_lookup(int is_user, const char *name, unsigned long id, unsigned long *id_out,
			 unsigned long *gid_out, char *name_out, size_t namelen)
{
	struct group gr, *gres = NULL;
	struct passwd pw, *pres = NULL;
	size_t len = CONFIG_GRBUF_START;
	char *buf = NULL, *nb;
	int rc = -1, e;

	for (;;) {
		nb = realloc(buf, len);
		if (nb == NULL)
			goto done;
		buf = nb;
		if (is_user)
			e = name != NULL ? getpwnam_r(name, &pw, buf, len, &pres)
					 : getpwuid_r((uid_t)id, &pw, buf, len, &pres);
		else
			e = name != NULL ? getgrnam_r(name, &gr, buf, len, &gres)
					 : getgrgid_r((gid_t)id, &gr, buf, len, &gres);
		if (e != ERANGE || len >= CONFIG_GRBUF_MAX)
			break;
		len *= 2;
	}
	if (is_user ? pres == NULL : gres == NULL)
		goto done;
	*id_out = is_user ? pw.pw_uid : gr.gr_gid;
	if (gid_out != NULL && is_user)
		*gid_out = pw.pw_gid;
	if (name_out != NULL && !is_user)
		snprintf(name_out, namelen, "%s", gr.gr_name);
	rc = 0;
done:
	free(buf);
	return rc;
}

static int config_group(const char *name, gid_t gid, gid_t *gid_out, char *name_out, size_t namelen)
{
	unsigned long g;

	if (config_lookup(0, name, gid, &g, NULL, name_out, namelen) != 0)
		return -1;
	*gid_out = (gid_t)g;
	return 0;
}

static int config_user(const char *name, uid_t uid, uid_t *uid_out, gid_t *gid_out)
{
	unsigned long u, g;

	if (config_lookup(1, name, uid, &u, &g, NULL, 0) != 0)
		return -1;
	*uid_out = (uid_t)u;
	*gid_out = (gid_t)g;
	return 0;
}


/*
 * One address: "1.2.3.4", "1.2.3.4:53", "[::1]", "[::1]:53" or a bare
 * IPv6 "::1" (which cannot carry a port).  need_port: a port is required.
 */
static int config_addr(const char *s, int need_port, uint16_t defport, struct config_addr *a)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *colon;
	unsigned long pv = defport;
	size_t hl;

	memset(a, 0, sizeof(*a));
	if (strlen(s) >= sizeof(a->text))
		return -1;
	snprintf(a->text, sizeof(a->text), "%s", s);
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL)
			return -1;
		hl = (size_t)(rb - s - 1);
		if (rb[1] == ':')
			port = rb + 2;
		else if (rb[1] != '\0')
			return -1;
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			hl = (size_t)(colon - s);   /* v4:port */
			port = colon + 1;
		} else {
			hl = strlen(s);             /* v4, or bare v6 */
		}
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (port != NULL && config_uint(port, 1, 65535, &pv) != 0)
		return -1;
	if (port == NULL && need_port)
		return -1;

	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)pv);
		a->len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)pv);
		a->len = sizeof(*sin);
	}
	return 0;
}

/* A group given by number or name: its gid and how it was written. */
static int set_gid(struct parse *p, const char *key, const char *v, gid_t *gid, char *name, size_t namelen)
{
	unsigned long n;

	if (config_uint(v, 0, (gid_t)-2, &n) == 0) {
		*gid = (gid_t)n;
		snprintf(name, namelen, "%lu", n);
		return 1;
	}
	if (strlen(v) >= namelen || config_group(v, 0, gid, NULL, 0) != 0)
		return config_error(p, "%s: no group named '%s'", key, v);
	snprintf(name, namelen, "%s", v);
	return 1;
}

static int set_group(struct parse *p, const char *v)
{
	p->c->group_given = 1;
	return set_gid(p, "region.group", v, &p->c->gid, p->c->group, sizeof(p->c->group));
}

static int set_admin_group(struct parse *p, const char *v)
{
	return set_gid(p, "ctl.admin_group", v, &p->c->admin_gid, p->c->admin_group, sizeof(p->c->admin_group));
}

static int set_user(struct parse *p, const char *v)
{
	struct config *c = p->c;
	unsigned long n;

	if (strlen(v) >= sizeof(c->user))
		return config_error(p, "daemon.user: longer than %zu bytes", sizeof(c->user) - 1);
	if (config_uint(v, 0, (uid_t)-2, &n) == 0) {
		if (config_user(NULL, (uid_t)n, &c->uid, &c->user_gid) != 0)
			return config_error(p, "daemon.user: no user with uid %lu", n);
	} else if (config_user(v, 0, &c->uid, &c->user_gid) != 0) {
		return config_error(p, "daemon.user: no user named '%s'", v);
	}
	snprintf(c->user, sizeof(c->user), "%s", v);
	return 1;
}

static int set_slots(struct parse *p, const char *v)
{
	unsigned long n;

	if (config_uint(v, MXS_SLOTS_MIN, MXS_SLOTS_MAX, &n) != 0)
		return config_error(p, "region.slots: '%s' is not a number in %u..%u", v,
				    (unsigned)MXS_SLOTS_MIN, (unsigned)MXS_SLOTS_MAX);
	p->c->slots = (uint32_t)n;
	return 1;
}

static int set_shm_dir(struct parse *p, const char *v)
{
	if (v[0] != '/')
		return config_error(p, "region.shm_dir: '%s' is not an absolute path", v);
	if (strlen(v) > CONFIG_SHM_DIR_MAX)
		return config_error(p, "region.shm_dir: longer than %d bytes", CONFIG_SHM_DIR_MAX);
	snprintf(p->c->shm_dir, sizeof(p->c->shm_dir), "%s", v);
	return 1;
}

static int set_synchronous(struct parse *p, const char *v)
{
	if (strcasecmp(v, "full") == 0)
		p->c->synchronous = CONFIG_SYNC_FULL;
	else if (strcasecmp(v, "normal") == 0)
		p->c->synchronous = CONFIG_SYNC_NORMAL;
	else
		return config_error(p, "store.synchronous: '%s' is not full or normal", v);
	return 1;
}

static int set_level(struct parse *p, const char *v)
{
	if (strcasecmp(v, "debug") == 0)
		p->c->log_level = LOG_DEBUG;
	else if (strcasecmp(v, "info") == 0)
		p->c->log_level = LOG_INFO;
	else if (strcasecmp(v, "warning") == 0)
		p->c->log_level = LOG_WARNING;
	else
		return config_error(p, "log.level: '%s' is not debug, info or warning", v);
	return 1;
}

static int set_servers(struct parse *p, const char *v)
{
	struct config *c = p->c;
	char buf[CONFIG_LINE_MAX + 1], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, " \t,", &save); tok != NULL; tok = strtok_r(NULL, " \t,", &save)) {
		if (c->dns_nservers == CONFIG_DNS_SERVERS_MAX)
			return config_error(p, "dns.servers: more than %d servers", CONFIG_DNS_SERVERS_MAX);
		if (config_addr(tok, 0, 53, &c->dns_servers[c->dns_nservers]) != 0)
			return config_error(p, "dns.servers: '%s' is not ADDR, ADDR:PORT or [ADDR]:PORT", tok);
		c->dns_nservers++;
	}
	return 1;
}

static int set_timeout(struct parse *p, const char *v)
{
	unsigned long n;

	if (config_uint(v, 1, CONFIG_DNS_TIMEOUT_MAX, &n) != 0)
		return config_error(p, "dns.timeout_ms: '%s' is not a number in 1..%d", v, CONFIG_DNS_TIMEOUT_MAX);
	p->c->dns_timeout_ms = (unsigned)n;
	return 1;
}

static int set_ca_file(struct parse *p, const char *v)
{
	if (strlen(v) >= sizeof(p->c->tls_ca_file))
		return config_error(p, "tls.ca_file: longer than %zu bytes", sizeof(p->c->tls_ca_file) - 1);
	/* a typo here would only show when the first STS fetch fails */
	if (access(v, R_OK) != 0)
		return config_error(p, "tls.ca_file: %s: %s", v, strerror(errno));
	snprintf(p->c->tls_ca_file, sizeof(p->c->tls_ca_file), "%s", v);
	return 1;
}

/* Loopback only: the figures say much about the mail flow. */
static int set_metrics_listen(struct parse *p, const char *v)
{
	struct config_addr *a = &p->c->metrics_listen;
	const struct sockaddr_in *in4;
	const struct sockaddr_in6 *in6;

	if (config_addr(v, 1, 0, a) != 0)
		return config_error(p, "metrics.listen: '%s' is not ADDR:PORT or [ADDR]:PORT", v);
	in4 = (const struct sockaddr_in *)(const void *)&a->ss;
	in6 = (const struct sockaddr_in6 *)(const void *)&a->ss;
	if (!(a->ss.ss_family == AF_INET && (ntohl(in4->sin_addr.s_addr) >> 24) == 127) &&
	    !(a->ss.ss_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)))
		return config_error(p, "metrics.listen: '%s' is not a loopback address (127.0.0.0/8 or [::1])", v);
	p->c->metrics_has_listen = 1;
	return 1;
}

static int set_listen(struct parse *p, const char *v)
{
	char lo[32];

	/* a bare port listens on loopback only: the map is not for the world */
	if (v[0] != '\0' && strspn(v, "0123456789") == strlen(v) && strlen(v) <= 5) {
		snprintf(lo, sizeof(lo), "127.0.0.1:%s", v);
		v = lo;
	}
	if (config_addr(v, 1, 0, &p->c->sm_listen) != 0)
		return config_error(p, "socketmap.listen: '%s' is not ADDR:PORT or [ADDR]:PORT", v);
	p->c->sm_has_listen = 1;
	return 1;
}

/* The plain numeric keys: section, name, bounds and where the value goes. */
struct config_num {
	const char *section, *name;
	unsigned long lo, hi;
	size_t off;                  /* of an unsigned in struct config */
};

static const struct config_num config_nums[] = {
	{ "dns", "retries", 0, CONFIG_DNS_RETRIES_MAX, offsetof(struct config, dns_retries) },
	{ "sts", "workers", 1, CONFIG_STS_WORKERS_MAX, offsetof(struct config, sts_workers) },
	{ "sts", "refresh_s", 1, CONFIG_STS_REFRESH_MAX, offsetof(struct config, sts_refresh_s) },
	{ "sts", "forget_after_s", 3600, CONFIG_STS_FORGET_MAX, offsetof(struct config, sts_forget_s) },
	{ "sts", "backoff_s", 1, CONFIG_STS_REFRESH_MAX, offsetof(struct config, sts_backoff_s) },
	{ "sts", "connect_timeout_ms", 1, CONFIG_STS_TIMEOUT_MAX, offsetof(struct config, sts_connect_ms) },
	{ "sts", "fetch_timeout_ms", 1, CONFIG_STS_TIMEOUT_MAX, offsetof(struct config, sts_fetch_ms) },
	{ "sts", "policy_port", 1, 65535, offsetof(struct config, sts_port) },
	{ "sts", "recheck_s", 0, CONFIG_STS_RECHECK_MAX, offsetof(struct config, sts_recheck_s) },
	{ "socketmap", "miss_wait_ms", 0, CONFIG_SM_MISS_WAIT_MAX, offsetof(struct config, sm_miss_wait_ms) },
	{ "socketmap", "idle_timeout_s", 1, 86400, offsetof(struct config, sm_idle_s) },
	{ "socketmap", "max_connections", 1, CONFIG_SM_CONN_MAX, offsetof(struct config, sm_max_conn) },
	{ "socketmap", "unix_max_connections", 1, CONFIG_SM_CONN_MAX, offsetof(struct config, sm_unix_max_conn) },
	{ "socketmap", "listen_max_connections", 1, CONFIG_SM_CONN_MAX, offsetof(struct config, sm_listen_max_conn) },
	{ "socketmap", "max_connections_per_address", 1, CONFIG_SM_CONN_MAX, offsetof(struct config, sm_max_per_addr) },
	{ "socketmap", "max_connections_per_uid", 1, CONFIG_SM_CONN_MAX, offsetof(struct config, sm_max_per_uid) },
	{ "limits", "sts_entries", 1, CONFIG_LIMIT_ENTRIES_MAX, offsetof(struct config, lim_sts) },
	{ "limits", "mx_entries", 1, CONFIG_LIMIT_ENTRIES_MAX, offsetof(struct config, lim_mx) },
	{ "limits", "stats_domains", 1, CONFIG_LIMIT_ENTRIES_MAX, offsetof(struct config, lim_stats) },
	{ "limits", "servers", 1, CONFIG_LIMIT_ENTRIES_MAX, offsetof(struct config, lim_servers) },
	{ "limits", "client_events_per_s", 1, CONFIG_LIMIT_EVENTS_MAX, offsetof(struct config, lim_events) },
	{ "limits", "client_misses_per_s", 1, CONFIG_LIMIT_EVENTS_MAX, offsetof(struct config, lim_misses) },
	{ "limits", "sts_miss_entries", 0, CONFIG_LIMIT_ENTRIES_MAX, offsetof(struct config, lim_sts_miss) },
};

/* yes/no keys */
struct config_bool {
	const char *section, *name;
	size_t off;
};

static const struct config_bool config_bools[] = {
	{ "socketmap", "strict_testing", offsetof(struct config, sm_strict_testing) },
	{ "socketmap", "tlsrpt", offsetof(struct config, sm_tlsrpt) },
};

static int set_num(struct parse *p, const char *section, const char *name, const char *v)
{
	size_t i;
	unsigned long n;

	for (i = 0; i < sizeof(config_nums) / sizeof(config_nums[0]); i++) {
		const struct config_num *cn = &config_nums[i];

		if (strcmp(section, cn->section) != 0 || strcmp(name, cn->name) != 0)
			continue;
		if (p->seen_num & (1u << i))
			return config_error(p, "%s.%s: given twice", section, name);
		p->seen_num |= 1u << i;
		if (config_uint(v, cn->lo, cn->hi, &n) != 0)
			return config_error(p, "%s.%s: '%s' is not a number in %lu..%lu", section, name, v, cn->lo,
					    cn->hi);
		*(unsigned *)(void *)((char *)p->c + cn->off) = (unsigned)n;
		return 1;
	}
	return -1;                   /* not a numeric key */
}

static int set_bool(struct parse *p, const char *section, const char *name, const char *v)
{
	size_t i;
	unsigned *dst;

	for (i = 0; i < sizeof(config_bools) / sizeof(config_bools[0]); i++) {
		if (strcmp(section, config_bools[i].section) != 0 || strcmp(name, config_bools[i].name) != 0)
			continue;
		dst = (unsigned *)(void *)((char *)p->c + config_bools[i].off);
		if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
			*dst = 1;
		else if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
			*dst = 0;
		else
			return config_error(p, "%s.%s: '%s' is not yes or no", section, name, v);
		return 1;
	}
	return -1;
}

static int set_transport(struct parse *p, const char *v)
{
	if (v[0] == '\0' || strlen(v) > CONFIG_SM_TRANSPORT_MAX || strpbrk(v, " \t:,[]") != NULL)
		return config_error(p, "socketmap.transport: '%s' is not a master.cf service name", v);
	snprintf(p->c->sm_transport, sizeof(p->c->sm_transport), "%s", v);
	return 1;
}

static int set_program(struct parse *p, const char *v)
{
	if (v[0] != '/' || strlen(v) >= sizeof(p->c->sm_program))
		return config_error(p, "socketmap.program: '%s' is not an absolute path under %zu bytes", v,
				    sizeof(p->c->sm_program));
	if (access(v, X_OK) != 0)
		return config_error(p, "socketmap.program: %s: %s", v, strerror(errno));
	snprintf(p->c->sm_program, sizeof(p->c->sm_program), "%s", v);
	return 1;
}

static int set_content_types(struct parse *p, const char *v)
{
	if (strlen(v) >= sizeof(p->c->sts_content_types))
		return config_error(p, "sts.content_types: longer than %zu bytes", sizeof(p->c->sts_content_types) - 1);
	snprintf(p->c->sts_content_types, sizeof(p->c->sts_content_types), "%s", v);
	return 1;
}

static const struct config_key config_keys[] = {
	{ "region", "group", set_group, 0 },
	{ "region", "slots", set_slots, 0 },
	{ "region", "shm_dir", set_shm_dir, 0 },
	{ "store", "synchronous", set_synchronous, 0 },
	{ "log", "level", set_level, 0 },
	{ "dns", "servers", set_servers, 1 },
	{ "dns", "timeout_ms", set_timeout, 0 },
	{ "tls", "ca_file", set_ca_file, 0 },
	{ "socketmap", "listen", set_listen, 0 },
	{ "sts", "content_types", set_content_types, 0 },
	{ "socketmap", "transport", set_transport, 0 },
	{ "socketmap", "program", set_program, 0 },
	{ "daemon", "user", set_user, 0 },
	{ "ctl", "admin_group", set_admin_group, 0 },
	{ "metrics", "listen", set_metrics_listen, 0 },
};
_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) <= 32, "seen is a 32-bit mask");

/* ---- suggestions for a mistyped name ---------------------------------- */

/* A name this many edits (insertions, deletions, substitutions; case
 * aside) from a known one is suggested. */
#define CONFIG_SUGGEST_EDITS 2
#define CONFIG_NAME_MAX      64     /* longer names are not compared */

/* The i-th known key, in every table; 0 past the last. */
static int config_known(size_t i, const char **section, const char **name)
{
	size_t nk = sizeof(config_keys) / sizeof(config_keys[0]);
	size_t nn = sizeof(config_nums) / sizeof(config_nums[0]);
	size_t nb = sizeof(config_bools) / sizeof(config_bools[0]);

	if (i < nk) {
		*section = config_keys[i].section;
		*name = config_keys[i].name;
	} else if (i < nk + nn) {
		*section = config_nums[i - nk].section;
		*name = config_nums[i - nk].name;
	} else if (i < nk + nn + nb) {
		*section = config_bools[i - nk - nn].section;
		*name = config_bools[i - nk - nn].name;
	} else {
		return 0;
	}
	return 1;
}

/* Edit distance of a and b, ignoring case; more than CONFIG_SUGGEST_EDITS
 * when either is longer than CONFIG_NAME_MAX. */
static size_t config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[CONFIG_NAME_MAX + 1], i, j, diag, up, best;

	if (la > CONFIG_NAME_MAX || lb > CONFIG_NAME_MAX)
		return CONFIG_SUGGEST_EDITS + 1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			best = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The known section nearest to section, or NULL if none is close. */
static const char *config_near_section(const char *section)
{
	const char *sec, *nm, *best = NULL;
	size_t i, d, bd = CONFIG_SUGGEST_EDITS + 1;

	for (i = 0; config_known(i, &sec, &nm); i++) {
		d = config_distance(section, sec);
		if (d < bd) {
			bd = d;
			best = sec;
		}
	}
	return best;
}

/* The known key nearest to name: in section first, then in any other
 * (*in_section: where it is).  NULL if none is close. */
static const char *config_near_key(const char *section, const char *name, const char **in_section)
{
	const char *sec, *nm, *best = NULL;
	size_t i, d, bd = CONFIG_SUGGEST_EDITS + 1;
	int pass;

	for (pass = 0; pass < 2 && best == NULL; pass++)
		for (i = 0; config_known(i, &sec, &nm); i++) {
			if ((strcmp(sec, section) == 0) != (pass == 0))
				continue;
			d = config_distance(name, nm);
			if (d < bd) {
				bd = d;
				best = nm;
				*in_section = sec;
			}
		}
	return best;
}

/* The error for a name no table knows, with the nearest known one. */
static int config_unknown(struct parse *p, const char *section, const char *name, int known_section)
{
	const char *near, *sec = NULL;

	if (section[0] == '\0')
		return config_error(p, "'%s' outside any [section]", name);
	if (!known_section) {
		near = config_near_section(section);
		if (near != NULL)
			return config_error(p, "unknown section [%s]; did you mean [%s]?", section, near);
		return config_error(p, "unknown section [%s]", section);
	}
	near = config_near_key(section, name, &sec);
	if (near != NULL && strcmp(sec, section) == 0)
		return config_error(p, "unknown key '%s' in [%s]; did you mean '%s'?", name, section, near);
	if (near != NULL)
		return config_error(p, "unknown key '%s' in [%s]; did you mean '%s' in [%s]?", name, section, near,
				    sec);
	return config_error(p, "unknown key '%s' in [%s]", name, section);
}

/* libinih strips ';' comments; '#' after whitespace is ours to strip. */
static void config_strip_comment(char *v)
{
	size_t i, n;

	for (i = 0; v[i] != '\0'; i++)
		if (v[i] == '#' && (i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t'))
			break;
	v[i] = '\0';
	for (n = i; n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'); n--)
		v[n - 1] = '\0';
}

static int config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	char v[CONFIG_LINE_MAX + 1];
	size_t i, nkeys = sizeof(config_keys) / sizeof(config_keys[0]);
	int known_section = 0, rc;

	snprintf(v, sizeof(v), "%s", value);
	config_strip_comment(v);
	rc = set_num(p, section, name, v);
	if (rc >= 0)
		return rc;
	rc = set_bool(p, section, name, v);
	if (rc >= 0)
		return rc;
	for (i = 0; i < nkeys; i++) {
		if (strcmp(section, config_keys[i].section) != 0)
			continue;
		known_section = 1;
		if (strcmp(name, config_keys[i].name) != 0)
			continue;
		if ((p->seen & (1u << i)) && !config_keys[i].list)
			return config_error(p, "%s.%s: given twice", section, name);
		p->seen |= 1u << i;
		return config_keys[i].set(p, v);
	}
	for (i = 0; i < sizeof(config_nums) / sizeof(config_nums[0]); i++)
		if (strcmp(section, config_nums[i].section) == 0)
			known_section = 1;
	return config_unknown(p, section, name, known_section);
}

/* fgets for libinih that counts lines and refuses overlong ones. */
static char *config_reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	size_t len;
	int ch;

	if (fgets(str, num, p->fp) == NULL)
		return NULL;
	p->line++;
	len = strlen(str);
	if (len > 0 && str[len - 1] != '\n' && !feof(p->fp)) {
		while ((ch = getc(p->fp)) != EOF && ch != '\n')
			;
		config_error(p, "line longer than %d bytes", CONFIG_LINE_MAX);
		/* hand libinih a comment so its line count stays ours */
		snprintf(str, (size_t)num, ";\n");
	}
	return str;
}

/*
 * Each socketmap listener's own limit, so that a flood on one never takes
 * another's connections: as set, else what max_connections leaves after
 * the other (half each when neither is set).  Set ones that add up to
 * more than max_connections could not all be had: an error.
 */
static int config_sm_shares(struct config *c, char *err, size_t errlen)
{
	unsigned total = c->sm_max_conn, *u = &c->sm_unix_max_conn, *t = &c->sm_listen_max_conn;

	if (!c->sm_has_listen) {
		if (*u == 0)
			*u = total;
		*t = 0;
	} else if (*u == 0 && *t == 0) {
		*t = total / 2;
		*u = total - *t;
	} else if (*u == 0 && *t < total) {
		*u = total - *t;
	} else if (*t == 0 && *u < total) {
		*t = total - *u;
	}
	if (*u > total || (c->sm_has_listen && (*u == 0 || *t == 0 || *u + *t > total))) {
		snprintf(err, errlen,
			 "config: %s: socketmap.unix_max_connections and listen_max_connections must leave each "
			 "listener at least one connection and add up to at most max_connections (%u)", c->path, total);
		return -1;
	}
	return 0;
}

static int config_defaults(struct config *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->gid = getgid();
	if (config_group(NULL, c->gid, &c->gid, c->group, sizeof(c->group)) != 0)
		snprintf(c->group, sizeof(c->group), "%lu", (unsigned long)c->gid);
	c->slots = MXS_SLOTS_DEFAULT;
	if (strlen(mxc_shm_dir()) > CONFIG_SHM_DIR_MAX) {
		snprintf(err, errlen, "config: $%s longer than %d bytes", MXS_SHM_DIR_ENV, CONFIG_SHM_DIR_MAX);
		return -1;
	}
	snprintf(c->shm_dir, sizeof(c->shm_dir), "%s", mxc_shm_dir());
	c->synchronous = CONFIG_SYNC_FULL;
	c->log_level = LOG_INFO;
	c->dns_timeout_ms = CONFIG_DNS_TIMEOUT_DEF;
	c->dns_retries = CONFIG_DNS_RETRIES_DEF;
	c->sts_workers = CONFIG_STS_WORKERS_DEF;
	c->sts_refresh_s = CONFIG_STS_REFRESH_DEF;
	c->sts_forget_s = CONFIG_STS_FORGET_DEF;
	c->sts_backoff_s = CONFIG_STS_BACKOFF_DEF;
	c->sts_connect_ms = CONFIG_STS_CONNECT_DEF;
	c->sts_fetch_ms = CONFIG_STS_FETCH_DEF;
	c->sts_port = 443;
	c->sts_recheck_s = CONFIG_STS_RECHECK_DEF;
	c->sm_miss_wait_ms = CONFIG_SM_MISS_WAIT_DEF;
	c->sm_idle_s = CONFIG_SM_IDLE_DEF;
	c->sm_max_conn = CONFIG_SM_CONN_DEF;
	c->sm_max_per_addr = CONFIG_SM_ADDR_DEF;
	c->sm_max_per_uid = CONFIG_SM_UID_DEF;
	c->lim_sts = CONFIG_LIMIT_ENTRIES_DEF;
	c->lim_mx = CONFIG_LIMIT_ENTRIES_DEF;
	c->lim_stats = CONFIG_LIMIT_ENTRIES_DEF;
	c->lim_servers = CONFIG_LIMIT_ENTRIES_DEF;
	c->lim_events = CONFIG_LIMIT_EVENTS_DEF;
	c->lim_misses = CONFIG_LIMIT_MISSES_DEF;
	c->lim_sts_miss = 0;
	snprintf(c->sm_transport, sizeof(c->sm_transport), "smtp");
	snprintf(c->sts_content_types, sizeof(c->sts_content_types), "%s", CONFIG_STS_CTYPES_DEF);
	return 0;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	struct parse p;
	struct config *c;
	int rc;

	memset(&p, 0, sizeof(p));
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "config: out of memory");
		goto fail;
	}
	if (config_defaults(c, err, errlen) != 0)
		goto fail;
	if (path == NULL) {
		/* no file: the defaults, each listener's share included */
		if (config_sm_shares(c, err, errlen) != 0)
			goto fail;
		*out = c;
		return 0;
	}
	if (strlen(path) >= sizeof(c->path)) {
		snprintf(err, errlen, "config: %s: path longer than %zu bytes", path, sizeof(c->path) - 1);
		goto fail;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	p.c = c;
	p.file = path;
	p.fp = fopen(path, "re");
	if (p.fp == NULL) {
		snprintf(err, errlen, "config: %s: %s", path, strerror(errno));
		goto fail;
	}
	rc = ini_parse_stream(config_reader, &p, config_handler, &p);
	if (ferror(p.fp)) {
		snprintf(err, errlen, "config: %s: read error", path);
		goto fail;
	}
	if (rc < 0) {
		snprintf(err, errlen, "config: %s: out of memory", path);
		goto fail;
	}
	/* libinih reports the first failing line, ours or its own syntax error */
	if (p.err_line != 0 && (rc == 0 || p.err_line <= rc)) {
		snprintf(err, errlen, "config: %s:%d: %s", path, p.err_line, p.err);
		goto fail;
	}
	if (rc > 0) {
		snprintf(err, errlen, "config: %s:%d: syntax error (expected [section] or key = value)", path, rc);
		goto fail;
	}
	fclose(p.fp);
	p.fp = NULL;
	if (config_sm_shares(c, err, errlen) != 0)
		goto fail;
	/* run as another user: its primary group is the default group */
	if (c->user[0] != '\0' && !c->group_given) {
		c->gid = c->user_gid;
		if (config_group(NULL, c->gid, &c->gid, c->group, sizeof(c->group)) != 0)
			snprintf(c->group, sizeof(c->group), "%lu", (unsigned long)c->gid);
	}
	*out = c;
	return 0;
fail:
	if (p.fp != NULL)
		fclose(p.fp);
	free(c);
	return -1;
}

void config_free(struct config *c)
{
	free(c);
}

static void config_free_rcu(struct rcu_head *head)
{
	config_free(caa_container_of(head, struct config, rcu));
}

struct config *config_current(void)
{
	return rcu_dereference(config_cur);
}

void config_swap(struct config *c)
{
	struct config *old = rcu_xchg_pointer(&config_cur, c);

	if (old != NULL) {
		call_rcu(&old->rcu, config_free_rcu);
		config_deferred = 1;
	}
}

void config_shutdown(void)
{
	struct config *old = rcu_xchg_pointer(&config_cur, NULL);

	synchronize_rcu();
	config_free(old);
	/* only when needed: it starts nothing, but waits on the call_rcu thread */
	if (config_deferred)
		rcu_barrier();
}
