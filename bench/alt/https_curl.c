/*
 * bench/alt/https_curl.c - daemon/https.h done with libcurl, for
 * bench/bench_https.c to compare against daemon/https.c (see the opening
 * comment there for the numbers and the decision).  Not built by make,
 * not linked into anything: the daemon uses daemon/https.c.
 *
 * It does the same job: the connect stays ours (address by address,
 * per-address timeout) and the socket is handed to libcurl already
 * connected; one trust store per struct https lent to each connection's
 * SSL_CTX, with OpenSSL's host name check; TLS 1.2 or newer, https only,
 * HTTP/1.1, no redirects, no proxy, CURLOPT_MAXFILESIZE and a write
 * callback cap at HTTPS_BODY_MAX, CURLOPT_TIMEOUT_MS for the deadline.
 * What libcurl lets through is checked in its callbacks: a 16 KiB head,
 * malformed header lines, conflicting Content-Length, codings other than
 * chunked, the media type, and a read-to-close body without close_notify
 * (libcurl 7.88 takes a bare TCP close for the end of such a body).
 * Linked in place of daemon/https.c it passes tests/unit/test_https.c,
 * except that "Transfer-Encoding: gzip, chunked" is gzip-decoded by
 * libcurl where daemon/https.c passes the body through; the integration
 * test test_sts_faults.sh fails its socket bound, as every fetch also
 * holds the socketpair of the easy handle's own multi handle.
 *
 *   apt-get install libcurl4-openssl-dev
 *   cc -D_GNU_SOURCE -I. -O2 -pthread -o /tmp/bench_curl \
 *      bench/bench_https.c bench/alt/https_curl.c -lssl -lcrypto -lcurl
 */
#include "daemon/https.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define INTERIM_MAX     4       /* 1xx responses skipped before giving up */
#define SHOW_MAX        64      /* bytes of a server's text quoted in a detail */
#define URL_MAX         (HTTPS_PATH_MAX + HTTPS_HOST_MAX + 32)
#define RESOLVE_MAX     (HTTPS_HOST_MAX + INET6_ADDRSTRLEN + 16)

struct https {
	X509_STORE *store;             /* shared by every fetch's SSL_CTX */
	unsigned connect_ms, total_ms;
	uint16_t port;
	char ctypes[HTTPS_CTYPES_MAX + 1];
};

/* One fetch in progress. */
struct conn {
	const struct https *h;
	struct https_result *res;
	const char *host;
	int fd;                        /* ours until libcurl takes it */
	int64_t deadline;              /* CLOCK_MONOTONIC ms */
	int fail_rc;                   /* set by a callback that stopped the transfer */
	int close_notify;              /* the server closed TLS cleanly */
	/* the head of the response being read */
	size_t head_bytes;
	int interim;
	int head_done;                 /* the final response's blank line was seen */
	int chunked;
	int clen_set;
	size_t clen;                   /* HTTPS_BODY_MAX + 1 stands for "more" */
	int ctype_set;
	int ctype_long;                /* longer than ctype holds: never allowed */
	char ctype[SHOW_MAX + 1];      /* media type, parameters cut off */
	char *body;
	size_t len;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * fail - set res->rc and a one-line detail; returns rc.  The detail may
 * quote the server, so control bytes are masked to keep it one log line.
 */
static int fail(struct https_result *res, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct https_result *res, int rc, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
	for (p = res->detail; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	res->rc = rc;
	return rc;
}

/* wait_fd - 1 ready, 0 deadline passed, -1 poll failed (errno). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int r;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* The last OpenSSL error's reason, for a message; clears the queue. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *s = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return s ? s : "unknown TLS error";
}

/* --- set-up -------------------------------------------------------------- */

static int ctypes_valid(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

struct https *https_new(const struct https_cfg *cfg, char *err, size_t errlen)
{
	struct https *h = NULL, *ret = NULL;
	const char *ct = cfg->content_types ? cfg->content_types : "";
	FILE *f;

	ERR_clear_error();
	if (cfg->connect_timeout_ms > HTTPS_TIMEOUT_MAX_MS ||
	    cfg->total_timeout_ms > HTTPS_TIMEOUT_MAX_MS) {
		snprintf(err, errlen, "https: timeouts are at most %d ms", HTTPS_TIMEOUT_MAX_MS);
		return NULL;
	}
	if (strlen(ct) > HTTPS_CTYPES_MAX || !ctypes_valid(ct)) {
		snprintf(err, errlen, "https: content types: at most %d printable bytes",
			 HTTPS_CTYPES_MAX);
		return NULL;
	}
	/*
	 * Reference-counted, and safe from any thread in a libcurl built
	 * thread-safe (7.84 on; checked here), so every https_new() may call
	 * it and the daemon need not before its threads start.
	 */
	if (!(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_THREADSAFE)) {
		snprintf(err, errlen, "https: libcurl %s is not built thread-safe",
			 curl_version_info(CURLVERSION_NOW)->version);
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "https: libcurl initialisation failed");
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "https: out of memory");
		goto out;
	}
	h->connect_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : HTTPS_CONNECT_TIMEOUT_DEF;
	h->total_ms = cfg->total_timeout_ms ? cfg->total_timeout_ms : HTTPS_TOTAL_TIMEOUT_DEF;
	h->port = cfg->port ? cfg->port : 443;
	strcpy(h->ctypes, ct);

	/* loaded once here, not by libcurl on every fetch */
	h->store = X509_STORE_new();
	if (!h->store) {
		snprintf(err, errlen, "https: X509_STORE_new: %s", ssl_reason());
		goto out;
	}
	if (cfg->ca_file && *cfg->ca_file) {
		/* fopen first: errno says more than OpenSSL's "system lib" */
		f = fopen(cfg->ca_file, "r");
		if (!f) {
			snprintf(err, errlen, "https: ca_file %s: %s", cfg->ca_file, strerror(errno));
			goto out;
		}
		fclose(f);
		if (!X509_STORE_load_file(h->store, cfg->ca_file)) {
			snprintf(err, errlen, "https: ca_file %s: %s", cfg->ca_file, ssl_reason());
			goto out;
		}
	} else if (!X509_STORE_set_default_paths(h->store)) {
		snprintf(err, errlen, "https: system CA store: %s", ssl_reason());
		goto out;
	}
	ret = h;
	h = NULL;
out:
	if (h)
		https_free(h);          /* with its curl_global_cleanup() */
	else if (!ret)
		curl_global_cleanup();
	ERR_clear_error();
	return ret;
}

void https_free(struct https *h)
{
	if (!h)
		return;
	X509_STORE_free(h->store);
	free(h);
	curl_global_cleanup();
}

/* --- connect ------------------------------------------------------------- */

static void addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = NULL;

	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (!a || !inet_ntop(ss->ss_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "(address family %d)", ss->ss_family);
}

/*
 * try_connect - one address, until dl.  HTTPS_OK with *fdp set, or an rc
 * with the reason in why.
 */
static int try_connect(const struct https *h, const struct sockaddr_storage *ss, socklen_t len,
		       int64_t dl, int *fdp, char *why, size_t wlen)
{
	struct sockaddr_storage sa;
	socklen_t elen = sizeof(int);
	int fd = -1, rc, r, soerr = 0;

	if (len > sizeof(sa) ||
	    (ss->ss_family == AF_INET && len < sizeof(struct sockaddr_in)) ||
	    (ss->ss_family == AF_INET6 && len < sizeof(struct sockaddr_in6)) ||
	    (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)) {
		snprintf(why, wlen, "not an IPv4 or IPv6 address");
		rc = HTTPS_CONNECT;
		goto out;
	}
	memcpy(&sa, ss, len);
	if (sa.ss_family == AF_INET)
		((struct sockaddr_in *)&sa)->sin_port = htons(h->port);
	else
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(h->port);

	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, wlen, "socket: %s", strerror(errno));
		/* a host without IPv6 should still try the IPv4 addresses */
		rc = errno == EAFNOSUPPORT ? HTTPS_CONNECT : HTTPS_SYS;
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		/* EINTR: the connect goes on in the background, as for EINPROGRESS */
		if (errno != EINPROGRESS && errno != EINTR) {
			snprintf(why, wlen, "%s", strerror(errno));
			rc = HTTPS_CONNECT;
			goto out;
		}
		r = wait_fd(fd, POLLOUT, dl);
		if (r == 0) {
			snprintf(why, wlen, "connect timed out");
			rc = HTTPS_TIMEOUT;
			goto out;
		}
		if (r < 0) {
			snprintf(why, wlen, "poll: %s", strerror(errno));
			rc = HTTPS_SYS;
			goto out;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0)
			soerr = errno;
		if (soerr) {
			snprintf(why, wlen, "%s", strerror(soerr));
			rc = HTTPS_CONNECT;
			goto out;
		}
	}
	*fdp = fd;
	fd = -1;
	rc = HTTPS_OK;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* do_connect - the first address that accepts; *which is its index. */
static int do_connect(struct conn *c, const struct sockaddr_storage *addrs, const socklen_t *alens,
		      size_t naddrs, size_t *which)
{
	const struct https *h = c->h;
	char why[128] = "", at[INET6_ADDRSTRLEN + 32];
	size_t i, refused = 0;
	int64_t now, dl;
	int rc;

	for (i = 0; i < naddrs; i++) {
		now = now_ms();
		if (now >= c->deadline)
			return fail(c->res, HTTPS_TIMEOUT,
				    "total timeout of %u ms passed while connecting (%zu of %zu addresses tried)",
				    h->total_ms, i, naddrs);
		dl = now + h->connect_ms;
		if (dl > c->deadline)
			dl = c->deadline;
		rc = try_connect(h, &addrs[i], alens[i], dl, &c->fd, why, sizeof(why));
		if (rc == HTTPS_OK) {
			*which = i;
			return HTTPS_OK;
		}
		addr_text(&addrs[i], at, sizeof(at));
		if (rc == HTTPS_SYS)
			return fail(c->res, rc, "%s: %s", at, why);
		if (rc != HTTPS_TIMEOUT)
			refused++;
	}
	/* a refusal is an answer; a timeout only says the path may be broken */
	return fail(c->res, refused && now_ms() < c->deadline ? HTTPS_CONNECT : HTTPS_TIMEOUT, "%s port %u: %s%s", at,
		    (unsigned)h->port, why, naddrs > 1 ? " (the last of all addresses tried)" : "");
}

/* libcurl asks for a socket: the one connected above, once. */
static curl_socket_t open_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct conn *c = arg;
	int fd = c->fd;

	(void)addr;
	if (purpose != CURLSOCKTYPE_IPCXN || fd < 0)
		return CURL_SOCKET_BAD;
	c->fd = -1;                    /* libcurl closes it from here on */
	return fd;
}

static int sockopt_cb(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	(void)arg;
	(void)fd;
	(void)purpose;
	return CURL_SOCKOPT_ALREADY_CONNECTED;
}

/* --- TLS ----------------------------------------------------------------- */

static void msg_cb(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl,
		   void *arg)
{
	struct conn *c = arg;
	const unsigned char *p = buf;

	(void)version;
	(void)ssl;
	/* an alert is level, description; close_notify is description 0 */
	if (!write_p && content_type == SSL3_RT_ALERT && len == 2 && p[1] == SSL_AD_CLOSE_NOTIFY)
		c->close_notify = 1;
}

/*
 * libcurl builds an SSL_CTX per connection: lend it the shared store, and
 * let OpenSSL check the name during the handshake, so that a mismatch is
 * a verify result like any other ("hostname mismatch").
 */
static CURLcode sslctx_cb(CURL *curl, void *sslctx, void *arg)
{
	struct conn *c = arg;
	SSL_CTX *ctx = sslctx;
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);

	(void)curl;
	SSL_CTX_set1_cert_store(ctx, c->h->store);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	/* libcurl takes a TCP close for the end of a body read to the end:
	 * watch for close_notify, without which a truncated policy would
	 * look whole.  libcurl sets a message callback only when verbose. */
	SSL_CTX_set_msg_callback(ctx, msg_cb);
	SSL_CTX_set_msg_callback_arg(ctx, c);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (!X509_VERIFY_PARAM_set1_host(param, c->host, 0))
		return CURLE_SSL_CERTPROBLEM;
	return CURLE_OK;
}

/* --- the response head --------------------------------------------------- */

static int is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && is_ows(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_ows((*s)[*len - 1]))
		(*len)--;
}

/* tchar of RFC 9110 §5.6.2: what a header name may hold */
static int is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* parse_status - "HTTP/1.x NNN[ reason]"; the status, or -1. */
static int parse_status(const char *s, size_t len)
{
	if (len < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
		return -1;
	if (s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9')
		return -1;
	if (len > 12 && s[12] != ' ')
		return -1;
	return (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
}

static int parse_clen(struct conn *c, const char *v, size_t vl)
{
	size_t i, n = 0;

	if (vl == 0)
		return fail(c->res, HTTPS_PROTOCOL, "empty Content-Length");
	for (i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return fail(c->res, HTTPS_PROTOCOL, "bad Content-Length '%.*s'",
				    (int)(vl < SHOW_MAX ? vl : SHOW_MAX), v);
		if (n <= HTTPS_BODY_MAX)
			n = n * 10 + (size_t)(v[i] - '0');
	}
	if (n > HTTPS_BODY_MAX)
		n = HTTPS_BODY_MAX + 1;
	/* two lengths that differ: one of them is a lie (RFC 9112 §6.3) */
	if (c->clen_set && c->clen != n)
		return fail(c->res, HTTPS_PROTOCOL, "conflicting Content-Length headers");
	c->clen_set = 1;
	c->clen = n;
	return HTTPS_OK;
}

static int ctype_allowed(const char *allowed, const char *ct)
{
	size_t len = strlen(ct), tl;
	const char *t = allowed;

	for (;;) {
		while (is_ows(*t))
			t++;
		if (!*t)
			return 0;
		tl = strcspn(t, " \t");
		if (tl == len && strncasecmp(t, ct, len) == 0)
			return 1;
		t += tl;
	}
}

/* head_complete - the final response's head is in: may the body follow? */
static int head_complete(struct conn *c)
{
	c->head_done = 1;
	if (c->h->ctypes[0]) {
		if (!c->ctype_set)
			return fail(c->res, HTTPS_CONTENT_TYPE, "no content type");
		if (c->ctype_long || !ctype_allowed(c->h->ctypes, c->ctype))
			return fail(c->res, HTTPS_CONTENT_TYPE, "content type %s%s",
				    c->ctype[0] ? c->ctype : "(empty)", c->ctype_long ? "..." : "");
	}
	if (!c->chunked && c->clen_set && c->clen > HTTPS_BODY_MAX)
		return fail(c->res, HTTPS_TOO_LARGE, "Content-Length over %d bytes", HTTPS_BODY_MAX);
	c->body = malloc(HTTPS_BODY_MAX + 1);
	if (!c->body)
		return fail(c->res, HTTPS_SYS, "out of memory");
	return HTTPS_OK;
}

/* a status line: the start of a response, interim or final */
static int head_status(struct conn *c, const char *line, size_t len)
{
	int status = parse_status(line, len);

	if (status < 0)
		return fail(c->res, HTTPS_PROTOCOL, "malformed status line '%.*s'",
			    (int)(len < SHOW_MAX ? len : SHOW_MAX), line);
	c->res->status = status;
	if (status < 200 && status != 101) {
		if (c->interim++ == INTERIM_MAX)
			return fail(c->res, HTTPS_PROTOCOL, "more than %d interim responses", INTERIM_MAX);
		return HTTPS_OK;
	}
	if (status == 404 || status == 410)
		return fail(c->res, HTTPS_NOT_FOUND, "status %d", status);
	if (status != 200)
		return fail(c->res, HTTPS_HTTP_STATUS, "status %d", status);
	return HTTPS_OK;
}

static int head_field(struct conn *c, const char *line, size_t len)
{
	const char *colon, *v, *semi;
	size_t nl, vl;

	if (is_ows(line[0]))
		return fail(c->res, HTTPS_PROTOCOL, "folded header line");
	colon = memchr(line, ':', len);
	if (!colon || colon == line)
		return fail(c->res, HTTPS_PROTOCOL, "malformed header line '%.*s'",
			    (int)(len < SHOW_MAX ? len : SHOW_MAX), line);
	nl = (size_t)(colon - line);
	for (size_t i = 0; i < nl; i++)
		if (!is_tchar((unsigned char)line[i]))
			return fail(c->res, HTTPS_PROTOCOL, "malformed header name '%.*s'",
				    (int)(nl < SHOW_MAX ? nl : SHOW_MAX), line);
	v = colon + 1;
	vl = len - nl - 1;
	trim(&v, &vl);
	if (name_is(line, nl, "Content-Length"))
		return parse_clen(c, v, vl);
	if (name_is(line, nl, "Transfer-Encoding")) {
		/* only the last coding frames the body (RFC 9112 §6.1); libcurl
		 * decodes chunked and would pass any other coding through raw */
		const char *last = v, *comma = memrchr(v, ',', vl);
		size_t ll = vl;

		if (comma) {
			last = comma + 1;
			ll = vl - (size_t)(last - v);
			trim(&last, &ll);
		}
		if (!name_is(last, ll, "chunked"))
			return fail(c->res, HTTPS_PROTOCOL, "unsupported transfer coding '%.*s'",
				    (int)(ll < SHOW_MAX ? ll : SHOW_MAX), last);
		c->chunked = 1;
		return HTTPS_OK;
	}
	if (name_is(line, nl, "Content-Type")) {
		if (c->ctype_set)
			return fail(c->res, HTTPS_PROTOCOL, "more than one Content-Type");
		c->ctype_set = 1;
		semi = memchr(v, ';', vl);
		if (semi)
			vl = (size_t)(semi - v);
		trim(&v, &vl);
		if (vl > SHOW_MAX) {
			c->ctype_long = 1;
			vl = SHOW_MAX;
		}
		memcpy(c->ctype, v, vl);
		c->ctype[vl] = '\0';
	}
	return HTTPS_OK;
}

/*
 * header_cb - libcurl hands over the head a line at a time, interim
 * responses included; the status line starts each.  Returning anything
 * but n stops the transfer, with c->fail_rc saying why.
 */
static size_t header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct conn *c = arg;
	size_t len = size * n;
	int rc;

	c->head_bytes += len;
	if (c->head_bytes > HTTPS_HEADER_MAX) {
		c->fail_rc = fail(c->res, HTTPS_PROTOCOL, "response head over %d bytes", HTTPS_HEADER_MAX);
		return 0;
	}
	if (len > 0 && data[len - 1] == '\n')
		len--;
	if (len > 0 && data[len - 1] == '\r')
		len--;
	if (c->res->status == 0 || (c->res->status < 200 && c->res->status != 101 && c->head_done)) {
		c->head_done = 0;
		rc = head_status(c, data, len);
	} else if (len == 0) {
		if (c->res->status < 200 && c->res->status != 101) {
			/* an interim response ended: the next line starts another */
			c->head_done = 1;
			c->head_bytes = 0;
			return size * n;
		}
		rc = head_complete(c);
	} else {
		rc = head_field(c, data, len);
	}
	if (rc != HTTPS_OK) {
		c->fail_rc = rc;
		return 0;
	}
	return size * n;
}

/* write_cb - the body, decoded by libcurl, into at most HTTPS_BODY_MAX */
static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct conn *c = arg;
	size_t len = size * n;

	if (!c->body) {
		c->fail_rc = fail(c->res, HTTPS_PROTOCOL, "body before the end of the head");
		return 0;
	}
	if (len > HTTPS_BODY_MAX - c->len) {
		c->fail_rc = fail(c->res, HTTPS_TOO_LARGE, "%sbody over %d bytes",
				  c->chunked ? "chunked " : "", HTTPS_BODY_MAX);
		return 0;
	}
	memcpy(c->body + c->len, data, len);
	c->len += len;
	return size * n;
}

/* --- the fetch ----------------------------------------------------------- */

/* A DNS name as SNI and the Host header may carry it (no trailing dot). */
static int host_valid(const char *host)
{
	size_t i, n = strlen(host);

	if (n == 0 || n > HTTPS_HOST_MAX || host[0] == '.' || host[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		char ch = host[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '.' || ch == '_'))
			return 0;
	}
	return 1;
}

static int path_valid(const char *path)
{
	size_t i, n = strlen(path);

	if (n == 0 || n > HTTPS_PATH_MAX || path[0] != '/')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)path[i] <= 0x20 || (unsigned char)path[i] >= 0x7f)
			return 0;
	return 1;
}

/* Where the transfer was when it timed out, for the detail. */
static const char *phase(CURL *curl, const struct conn *c)
{
	curl_off_t tls = 0;

	if (c->head_done)
		return "reading the body";
	if (c->head_bytes > 0 || c->res->status)
		return "reading the response head";
	if (curl_easy_getinfo(curl, CURLINFO_APPCONNECT_TIME_T, &tls) == CURLE_OK && tls == 0)
		return "in the TLS handshake";
	return "waiting for the response";
}

/*
 * curl_fail - what a libcurl failure means here.  A stop asked for by a
 * callback already has its rc and detail.
 */
static int curl_fail(CURL *curl, struct conn *c, CURLcode cc, const char *ebuf)
{
	struct https_result *res = c->res;
	const char *why = ebuf[0] ? ebuf : curl_easy_strerror(cc);
	long vr = X509_V_OK;

	if (c->fail_rc != HTTPS_OK)
		return c->fail_rc;
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return fail(res, HTTPS_TIMEOUT, "timed out %s (total timeout %u ms)", phase(curl, c),
			    c->h->total_ms);
	case CURLE_OUT_OF_MEMORY:
		return fail(res, HTTPS_SYS, "out of memory");
	case CURLE_FILESIZE_EXCEEDED:
		return fail(res, HTTPS_TOO_LARGE, "Content-Length over %d bytes", HTTPS_BODY_MAX);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
		/* libcurl reports "unspecified" where no chain was verified */
		curl_easy_getinfo(curl, CURLINFO_SSL_VERIFYRESULT, &vr);
		if (vr != X509_V_OK && vr != X509_V_ERR_UNSPECIFIED)
			return fail(res, HTTPS_CERT, "%s", X509_verify_cert_error_string(vr));
		if (cc == CURLE_PEER_FAILED_VERIFICATION)
			return fail(res, HTTPS_CERT, "%s", why);
		return fail(res, HTTPS_TLS, "TLS handshake: %s", why);
	case CURLE_UNSUPPORTED_PROTOCOL:       /* "HTTP/0.9", i.e. no status line */
	case CURLE_WEIRD_SERVER_REPLY:
		if (!c->res->status)
			return fail(res, HTTPS_PROTOCOL, "malformed status line (%s)", why);
		if (!c->head_done)
			return fail(res, HTTPS_PROTOCOL, "malformed header in the response head (%s)", why);
		break;
	default:
		break;
	}
	/* the connection ended early or the bytes made no sense */
	if (!c->res->status && !c->head_bytes)
		return fail(res, HTTPS_PROTOCOL, "connection closed without a response (%s)", why);
	if (!c->head_done)
		return fail(res, HTTPS_PROTOCOL, "connection closed inside the response head (%s)", why);
	if (c->chunked)
		return fail(res, HTTPS_PROTOCOL, "chunked body truncated or malformed (%s)", why);
	if (c->clen_set)
		return fail(res, HTTPS_PROTOCOL, "body truncated: %zu of %zu bytes (%s)", c->len, c->clen,
			    why);
	return fail(res, HTTPS_PROTOCOL,
		    "connection closed without TLS close_notify after %zu bytes: body may be truncated (%s)",
		    c->len, why);
}

/* set_opts - everything but the callbacks' data is fixed; 0 or a CURLcode */
static CURLcode set_opts(CURL *curl, struct conn *c, const char *url, struct curl_slist *resolve,
			 struct curl_slist *hdrs, char *ebuf)
{
	long left = (long)(c->deadline - now_ms());
	CURLcode r = CURLE_OK;

	if (left < 1)
		left = 1;
#define SET(opt, val) do { if (r == CURLE_OK) r = curl_easy_setopt(curl, opt, val); } while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_FOLLOWLOCATION, 0L);       /* RFC 8461 §3.3 */
	SET(CURLOPT_PROXY, "");                /* not from the environment */
	SET(CURLOPT_NOSIGNAL, 1L);             /* threads: no alarm(), no signal handlers */
	SET(CURLOPT_TIMEOUT_MS, left);
	SET(CURLOPT_CONNECTTIMEOUT_MS, left);  /* libcurl counts the handshake as connecting */
	SET(CURLOPT_MAXFILESIZE, (long)HTTPS_BODY_MAX);
	SET(CURLOPT_FORBID_REUSE, 1L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_CAINFO, NULL);             /* the store comes from sslctx_cb */
	SET(CURLOPT_CAPATH, NULL);
	SET(CURLOPT_SSL_CTX_FUNCTION, sslctx_cb);
	SET(CURLOPT_SSL_CTX_DATA, c);
	SET(CURLOPT_RESOLVE, resolve);
	SET(CURLOPT_OPENSOCKETFUNCTION, open_cb);
	SET(CURLOPT_OPENSOCKETDATA, c);
	SET(CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, c);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, c);
	SET(CURLOPT_USERAGENT, HTTPS_USER_AGENT);
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_ERRORBUFFER, ebuf);
#undef SET
	return r;
}

/* fetch - the request over c->fd, connected to addr */
static int fetch(struct conn *c, const char *path, const struct sockaddr_storage *addr)
{
	/* no conditional or caching headers: RFC 8461 §3.3 wants a plain fetch */
	static const char *const extra[] = { "Accept: text/plain", "Connection: close" };
	char url[URL_MAX], resolve[RESOLVE_MAX], at[INET6_ADDRSTRLEN + 32];
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *rl = NULL, *hdrs = NULL, *t;
	CURL *curl = curl_easy_init();
	CURLcode cc;
	size_t i;
	int rc;

	addr_text(addr, at, sizeof(at));
	snprintf(url, sizeof(url), "https://%s:%u%s", c->host, (unsigned)c->h->port, path);
	/* an address for the name, so libcurl resolves nothing; open_cb
	 * hands over the socket already connected to it */
	snprintf(resolve, sizeof(resolve), addr->ss_family == AF_INET6 ? "%s:%u:[%s]" : "%s:%u:%s",
		 c->host, (unsigned)c->h->port, at);
	if (!curl || !(rl = curl_slist_append(NULL, resolve))) {
		rc = fail(c->res, HTTPS_SYS, "out of memory");
		goto out;
	}
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		t = curl_slist_append(hdrs, extra[i]);
		if (!t) {
			rc = fail(c->res, HTTPS_SYS, "out of memory");
			goto out;
		}
		hdrs = t;
	}
	cc = set_opts(curl, c, url, rl, hdrs, ebuf);
	if (cc != CURLE_OK) {
		rc = fail(c->res, HTTPS_SYS, "libcurl set-up: %s", curl_easy_strerror(cc));
		goto out;
	}
	cc = curl_easy_perform(curl);
	if (cc != CURLE_OK) {
		rc = curl_fail(curl, c, cc, ebuf);
		goto out;
	}
	if (!c->body) {
		/* libcurl takes a close inside the head for the end of a response */
		rc = fail(c->res, HTTPS_PROTOCOL, "%s",
			  c->head_bytes ? "connection closed inside the response head"
					: "connection closed without a response");
		goto out;
	}
	if (!c->chunked && !c->clen_set && !c->close_notify) {
		rc = fail(c->res, HTTPS_PROTOCOL,
			  "connection closed without TLS close_notify after %zu bytes: body may be truncated",
			  c->len);
		goto out;
	}
	rc = HTTPS_OK;
out:
	curl_easy_cleanup(curl);
	curl_slist_free_all(rl);
	curl_slist_free_all(hdrs);
	return rc;
}

int https_get(struct https *h, const char *host, const char *path,
	      const struct sockaddr_storage *addrs, const socklen_t *alens,
	      size_t naddrs, struct https_result *res)
{
	struct conn c;
	size_t which = 0;
	char *shrunk;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	if (!path)
		path = HTTPS_PATH_DEF;
	if (!h || !host || !host_valid(host) || !path_valid(path) || (naddrs && (!addrs || !alens))) {
		rc = fail(res, HTTPS_SYS, "invalid argument");
		goto out;
	}
	if (naddrs == 0) {
		rc = fail(res, HTTPS_CONNECT, "no addresses");
		goto out;
	}
	c.h = h;
	c.res = res;
	c.host = host;
	c.deadline = now_ms() + h->total_ms;

	rc = do_connect(&c, addrs, alens, naddrs, &which);
	if (rc == HTTPS_OK)
		rc = fetch(&c, path, &addrs[which]);
	if (rc == HTTPS_OK) {
		c.body[c.len] = '\0';
		shrunk = realloc(c.body, c.len + 1);
		res->body = shrunk ? shrunk : c.body;
		res->len = c.len;
		c.body = NULL;
	}
out:
	if (c.fd >= 0)
		close(c.fd);
	free(c.body);
	if (rc != HTTPS_OK) {
		free(res->body);
		res->body = NULL;
		res->len = 0;
	} else {
		res->detail[0] = '\0';
	}
	res->rc = rc;
	/* OpenSSL's error queue is per thread: leave nothing for the next user */
	ERR_clear_error();
	return rc;
}

void https_result_free(struct https_result *res)
{
	if (!res)
		return;
	free(res->body);
	res->body = NULL;
	res->len = 0;
}

const char *https_rc_name(int rc)
{
	switch (rc) {
	case HTTPS_OK:
		return "ok";
	case HTTPS_NOT_FOUND:
		return "not found";
	case HTTPS_HTTP_STATUS:
		return "http status";
	case HTTPS_TLS:
		return "tls";
	case HTTPS_CERT:
		return "certificate";
	case HTTPS_CONNECT:
		return "connect";
	case HTTPS_TIMEOUT:
		return "timeout";
	case HTTPS_TOO_LARGE:
		return "too large";
	case HTTPS_CONTENT_TYPE:
		return "content type";
	case HTTPS_PROTOCOL:
		return "protocol";
	case HTTPS_SYS:
		return "system";
	default:
		return "unknown";
	}
}
