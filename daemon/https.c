/*
 * daemon/https.c - one MTA-STS policy fetch over HTTPS (see https.h).
 *
 * A fetch is connect (each address in turn), TLS handshake, one request,
 * then the response read through a fixed buffer: the head must fit in it
 * whole, the body is streamed out of it into a buffer of at most
 * HTTPS_BODY_MAX + 1 bytes.  Every wait is a poll() bounded by the fetch's
 * deadline, so no step can block past total_timeout_ms.
 *
 * Why its own HTTP/1.1 client and not libcurl: measured, it is better for
 * this job.  bench/alt/https_curl.c does the same job through libcurl
 * 7.88 (same connect, same trust store loaded once, same checks; it
 * passes tests/unit/test_https.c but for "gzip, chunked", which libcurl
 * decodes), and bench/bench_https.c fetched a 69-byte policy 1000 times
 * in a row from tests/tools/https_srv on loopback, one connection each
 * (three runs each, interleaved, on a loaded 2-core machine):
 *
 *                      this file        libcurl
 *   client CPU/fetch   1.73-1.94 ms     2.40-2.69 ms   (64 KiB body: 2.15 / 2.76)
 *   peak RSS           7.0 MiB          12.0 MiB
 *   sockets/fetch      1                3 (the easy handle's multi makes a
 *                                          socketpair each time: test_sts_faults'
 *                                          socket bound fails)
 *   fetches/s          86-176           96-121 (wall time: the server and the
 *                                          machine's load, not the client)
 *   code lines         934              779 (neither blank nor comment)
 *
 * libcurl also needed its callbacks to re-check most of what the parser
 * here checks (head size, header syntax, Content-Length conflicts,
 * codings, media type), and a TLS message callback to refuse a body read
 * to a bare TCP close, which libcurl 7.88 takes as complete; the framing
 * and TLS loop it takes over come back as glue, for a net 155 lines.  So
 * the hand-written client stays: cheaper in CPU, memory and sockets, and
 * no less strict, for a dependency that saves little.  To reproduce
 * (make bench-bin first, apt-get install libcurl4-openssl-dev):
 *
 *   cc -D_GNU_SOURCE -I. -O2 -pthread -o /tmp/b_own bench/bench_https.c \
 *      daemon/https.c -lssl -lcrypto
 *   cc -D_GNU_SOURCE -I. -O2 -pthread -o /tmp/b_curl bench/bench_https.c \
 *      bench/alt/https_curl.c -lssl -lcrypto -lcurl
 *   /tmp/b_own -n 1000 -s build/tests/tools/https_srv   (then /tmp/b_curl)
 *   strace -f -e trace=socket,socketpair /tmp/b_curl -n 10 -s ...
 */
#include "https.h"

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

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define RBUF_SIZE       HTTPS_HEADER_MAX  /* the whole head must fit at once */
#define CHUNK_LINE_MAX  1024    /* a chunk-size line with its extensions */
#define INTERIM_MAX     4       /* 1xx responses skipped before giving up */
#define CTYPE_SHOW_MAX  64      /* bytes of a server's text quoted in a detail */
#define REQ_MAX         (HTTPS_PATH_MAX + HTTPS_HOST_MAX + 256)

enum { EOF_NONE, EOF_CLEAN, EOF_UNCLEAN };

struct https {
	SSL_CTX *ctx;
	BIO_METHOD *bio_meth;          /* socket BIO that sends with MSG_NOSIGNAL */
	unsigned connect_ms, total_ms;
	uint16_t port;
	char ctypes[HTTPS_CTYPES_MAX + 1];
};

/* One fetch in progress; on the heap, as buf is too big for small stacks. */
struct conn {
	const struct https *h;
	struct https_result *res;
	SSL *ssl;
	int fd;
	int sock_eof;                  /* recv() returned 0: answers BIO_CTRL_EOF */
	int eof;                       /* EOF_*: how the response ended */
	int64_t deadline;              /* CLOCK_MONOTONIC ms */
	const char *phase;             /* for the timeout detail */
	size_t off, end;               /* unread bytes are buf[off..end) */
	char buf[RBUF_SIZE];
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

/* The last OpenSSL error's reason, for a detail; clears the queue. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *s = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return s ? s : "unknown TLS error";
}

/* --- a socket BIO that cannot raise SIGPIPE --------------------------------
 * OpenSSL's own socket BIO writes with write(2), which raises SIGPIPE on a
 * reset connection; the caller's signal disposition should not decide
 * whether the daemon survives a rude server.
 */
static int mbio_write(BIO *b, const char *data, int len)
{
	struct conn *c = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = send(c->fd, data, (size_t)len, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_write(b);
		return -1;
	}
	return (int)n;
}

static int mbio_read(BIO *b, char *data, int len)
{
	struct conn *c = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = recv(c->fd, data, (size_t)len, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_read(b);
		return -1;
	}
	if (n == 0)
		c->sock_eof = 1;
	return (int)n;
}

static long mbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct conn *c = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		/* OpenSSL tells a clean close from a truncation by asking this */
		return c->sock_eof;
	default:
		return 0;
	}
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
		goto out;
	}
	if (strlen(ct) > HTTPS_CTYPES_MAX || !ctypes_valid(ct)) {
		snprintf(err, errlen, "https: content types: at most %d printable bytes",
			 HTTPS_CTYPES_MAX);
		goto out;
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

	h->bio_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mxc socket");
	if (!h->bio_meth || !BIO_meth_set_write(h->bio_meth, mbio_write) ||
	    !BIO_meth_set_read(h->bio_meth, mbio_read) ||
	    !BIO_meth_set_ctrl(h->bio_meth, mbio_ctrl)) {
		snprintf(err, errlen, "https: BIO: %s", ssl_reason());
		goto out;
	}
	h->ctx = SSL_CTX_new(TLS_client_method());
	if (!h->ctx) {
		snprintf(err, errlen, "https: SSL_CTX_new: %s", ssl_reason());
		goto out;
	}
	/* RFC 8461 §3.3 and RFC 8996: nothing older than TLS 1.2 */
	if (!SSL_CTX_set_min_proto_version(h->ctx, TLS1_2_VERSION)) {
		snprintf(err, errlen, "https: TLS 1.2 minimum: %s", ssl_reason());
		goto out;
	}
	SSL_CTX_set_options(h->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_verify(h->ctx, SSL_VERIFY_PEER, NULL);
	if (cfg->ca_file && *cfg->ca_file) {
		/* fopen first: errno says more than OpenSSL's "system lib" */
		f = fopen(cfg->ca_file, "r");
		if (!f) {
			snprintf(err, errlen, "https: ca_file %s: %s", cfg->ca_file, strerror(errno));
			goto out;
		}
		fclose(f);
		if (!SSL_CTX_load_verify_locations(h->ctx, cfg->ca_file, NULL)) {
			snprintf(err, errlen, "https: ca_file %s: %s", cfg->ca_file, ssl_reason());
			goto out;
		}
	} else if (!SSL_CTX_set_default_verify_paths(h->ctx)) {
		snprintf(err, errlen, "https: system CA store: %s", ssl_reason());
		goto out;
	}
	ret = h;
	h = NULL;
out:
	https_free(h);
	ERR_clear_error();
	return ret;
}

void https_free(struct https *h)
{
	if (!h)
		return;
	SSL_CTX_free(h->ctx);
	BIO_meth_free(h->bio_meth);
	free(h);
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

static int do_connect(struct conn *c, const struct sockaddr_storage *addrs, const socklen_t *alens,
		      size_t naddrs)
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
		if (rc == HTTPS_OK)
			return HTTPS_OK;
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

/* --- TLS ----------------------------------------------------------------- */

/*
 * ssl_wait - after SSL_get_error() said WANT_READ or WANT_WRITE, wait for
 * the socket.  HTTPS_OK to try again, or a failure.
 */
static int ssl_wait(struct conn *c, int e)
{
	int r = wait_fd(c->fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, c->deadline);

	if (r == 0)
		return fail(c->res, HTTPS_TIMEOUT, "timed out %s (total timeout %u ms)", c->phase,
			    c->h->total_ms);
	if (r < 0)
		return fail(c->res, HTTPS_SYS, "poll: %s", strerror(errno));
	return HTTPS_OK;
}

static int do_tls(struct conn *c, const char *host)
{
	char name[HTTPS_HOST_MAX + 1];
	X509_VERIFY_PARAM *param;
	BIO *bio;
	long vr;
	int r, e, rc;

	c->ssl = SSL_new(c->h->ctx);
	bio = BIO_new(c->h->bio_meth);
	if (!c->ssl || !bio) {
		BIO_free(bio);
		return fail(c->res, HTTPS_SYS, "TLS set-up: %s", ssl_reason());
	}
	BIO_set_data(bio, c);
	BIO_set_init(bio, 1);
	SSL_set_bio(c->ssl, bio, bio);

	param = SSL_get0_param(c->ssl);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	/* a copy: the SNI macro casts away const, which -Wcast-qual rejects */
	snprintf(name, sizeof(name), "%s", host);
	if (!SSL_set_tlsext_host_name(c->ssl, name) || !X509_VERIFY_PARAM_set1_host(param, name, 0))
		return fail(c->res, HTTPS_SYS, "TLS set-up: %s", ssl_reason());

	c->phase = "in the TLS handshake";
	for (;;) {
		ERR_clear_error();
		r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			rc = ssl_wait(c, e);
			if (rc != HTTPS_OK)
				return rc;
			continue;
		}
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK) {
			ERR_clear_error();
			return fail(c->res, HTTPS_CERT, "%s", X509_verify_cert_error_string(vr));
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
			return fail(c->res, HTTPS_TLS, "TLS handshake: %s",
				    errno ? strerror(errno) : "connection closed by the server");
		return fail(c->res, HTTPS_TLS, "TLS handshake: %s", ssl_reason());
	}
	/* belt and braces: SSL_VERIFY_PEER already failed the handshake */
	if (SSL_get_verify_result(c->ssl) != X509_V_OK || !SSL_get0_peer_certificate(c->ssl))
		return fail(c->res, HTTPS_CERT, "no verified server certificate");
	return HTTPS_OK;
}

static int do_request(struct conn *c, const char *host, const char *path)
{
	char req[REQ_MAX];
	int n, r, e, rc;

	/* no conditional or caching headers: RFC 8461 §3.3 wants a plain fetch */
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "User-Agent: " HTTPS_USER_AGENT "\r\n"
		     "Accept: text/plain\r\n"
		     "Connection: close\r\n"
		     "\r\n",
		     path, host);
	if (n < 0 || (size_t)n >= sizeof(req))
		return fail(c->res, HTTPS_SYS, "request too long");
	c->phase = "sending the request";
	for (;;) {
		ERR_clear_error();
		/* without SSL_MODE_ENABLE_PARTIAL_WRITE this writes all or nothing */
		r = SSL_write(c->ssl, req, n);
		if (r > 0)
			return HTTPS_OK;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			rc = ssl_wait(c, e);
			if (rc != HTTPS_OK)
				return rc;
			continue;
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
			return fail(c->res, HTTPS_PROTOCOL, "sending the request: %s",
				    errno ? strerror(errno) : "connection closed");
		return fail(c->res, HTTPS_TLS, "sending the request: %s", ssl_reason());
	}
}

/* --- reading ------------------------------------------------------------- */

/*
 * conn_fill - read more into buf (compacting it first).  1: got bytes;
 * 0: the stream ended, c->eof says whether with close_notify; < 0: failed,
 * detail set.  The caller makes sure there is room.
 */
static int conn_fill(struct conn *c)
{
	int r, e, rc;
	unsigned long err;

	if (c->eof != EOF_NONE)
		return 0;
	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->end - c->off);
		c->end -= c->off;
		c->off = 0;
	}
	if (c->end == sizeof(c->buf))
		return fail(c->res, HTTPS_SYS, "read buffer full");
	for (;;) {
		/* a server that never stops sending must not outlive the deadline */
		if (now_ms() >= c->deadline)
			return fail(c->res, HTTPS_TIMEOUT, "timed out %s (total timeout %u ms)",
				    c->phase, c->h->total_ms);
		ERR_clear_error();
		r = SSL_read(c->ssl, c->buf + c->end, (int)(sizeof(c->buf) - c->end));
		if (r > 0) {
			c->end += (size_t)r;
			return 1;
		}
		e = SSL_get_error(c->ssl, r);
		switch (e) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			rc = ssl_wait(c, e);
			if (rc != HTTPS_OK)
				return rc;
			continue;
		case SSL_ERROR_ZERO_RETURN:
			c->eof = EOF_CLEAN;
			return 0;
		case SSL_ERROR_SYSCALL:
			if (ERR_peek_last_error() == 0) {
				/* EOF or reset without close_notify */
				c->eof = EOF_UNCLEAN;
				return 0;
			}
			return fail(c->res, HTTPS_TLS, "reading the response: %s", ssl_reason());
		default:
			err = ERR_peek_last_error();
			if (ERR_GET_LIB(err) == ERR_LIB_SSL &&
			    ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
				ERR_clear_error();
				c->eof = EOF_UNCLEAN;
				return 0;
			}
			return fail(c->res, HTTPS_TLS, "reading the response: %s", ssl_reason());
		}
	}
}

/*
 * head_end - length of the head (status line and headers, blank line
 * included) at the start of p[0..n), 0 if not all there yet.  *scan keeps
 * the place across calls, so a head trickled a byte at a time costs O(n).
 * Lines may end in LF alone.
 */
static size_t head_end(const char *p, size_t n, size_t *scan)
{
	size_t i;

	for (i = *scan; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 >= n)
			break;
		if (p[i + 1] == '\n')
			return i + 2;
		if (p[i + 1] == '\r') {
			if (i + 2 >= n)
				break;
			if (p[i + 2] == '\n')
				return i + 3;
		}
	}
	*scan = i;
	return 0;
}

/* next_line - the line at *pos in p[0..n) without its LF or CRLF. */
static const char *next_line(const char *p, size_t n, size_t *pos, size_t *len)
{
	const char *s = p + *pos, *nl = memchr(s, '\n', n - *pos);
	size_t l = nl ? (size_t)(nl - s) : n - *pos;

	*pos += nl ? l + 1 : l;
	if (l > 0 && s[l - 1] == '\r')
		l--;
	*len = l;
	return s;
}

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

/* What the head says about the body. */
struct head {
	int status;
	int chunked;
	int clen_set;
	size_t clen;                   /* HTTPS_BODY_MAX + 1 stands for "more" */
	int ctype_set;
	char ctype[CTYPE_SHOW_MAX + 1];  /* media type, parameters cut off */
	int ctype_long;                /* longer than ctype holds: never allowed */
};

static int parse_clen(struct conn *c, struct head *hd, const char *v, size_t vl)
{
	size_t i, n = 0;

	if (vl == 0)
		return fail(c->res, HTTPS_PROTOCOL, "empty Content-Length");
	for (i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return fail(c->res, HTTPS_PROTOCOL, "bad Content-Length '%.*s'",
				    (int)(vl < CTYPE_SHOW_MAX ? vl : CTYPE_SHOW_MAX), v);
		if (n <= HTTPS_BODY_MAX)
			n = n * 10 + (size_t)(v[i] - '0');
	}
	if (n > HTTPS_BODY_MAX)
		n = HTTPS_BODY_MAX + 1;
	/* two lengths that differ: one of them is a lie (RFC 9112 §6.3) */
	if (hd->clen_set && hd->clen != n)
		return fail(c->res, HTTPS_PROTOCOL, "conflicting Content-Length headers");
	hd->clen_set = 1;
	hd->clen = n;
	return HTTPS_OK;
}

static int parse_headers(struct conn *c, struct head *hd, const char *p, size_t n, size_t pos)
{
	const char *line, *colon, *v, *semi;
	size_t len, nl, vl;
	int rc;

	for (;;) {
		line = next_line(p, n, &pos, &len);
		if (len == 0)
			return HTTPS_OK;
		if (is_ows(line[0]))
			return fail(c->res, HTTPS_PROTOCOL, "folded header line");
		colon = memchr(line, ':', len);
		if (!colon || colon == line)
			return fail(c->res, HTTPS_PROTOCOL, "malformed header line '%.*s'",
				    (int)(len < CTYPE_SHOW_MAX ? len : CTYPE_SHOW_MAX), line);
		nl = (size_t)(colon - line);
		for (size_t i = 0; i < nl; i++)
			if (!is_tchar((unsigned char)line[i]))
				return fail(c->res, HTTPS_PROTOCOL, "malformed header name '%.*s'",
					    (int)(nl < CTYPE_SHOW_MAX ? nl : CTYPE_SHOW_MAX), line);
		v = colon + 1;
		vl = len - nl - 1;
		trim(&v, &vl);
		if (name_is(line, nl, "Content-Length")) {
			rc = parse_clen(c, hd, v, vl);
			if (rc != HTTPS_OK)
				return rc;
		} else if (name_is(line, nl, "Transfer-Encoding")) {
			/* only the last coding frames the body (RFC 9112 §6.1) */
			const char *last = v;
			size_t ll = vl;
			const char *comma = memrchr(v, ',', vl);

			if (comma) {
				last = comma + 1;
				ll = vl - (size_t)(last - v);
				trim(&last, &ll);
			}
			if (!name_is(last, ll, "chunked"))
				return fail(c->res, HTTPS_PROTOCOL, "unsupported transfer coding '%.*s'",
					    (int)(ll < CTYPE_SHOW_MAX ? ll : CTYPE_SHOW_MAX), last);
			hd->chunked = 1;
		} else if (name_is(line, nl, "Content-Type")) {
			if (hd->ctype_set)
				return fail(c->res, HTTPS_PROTOCOL, "more than one Content-Type");
			hd->ctype_set = 1;
			semi = memchr(v, ';', vl);
			if (semi)
				vl = (size_t)(semi - v);
			trim(&v, &vl);
			if (vl > CTYPE_SHOW_MAX) {
				hd->ctype_long = 1;
				vl = CTYPE_SHOW_MAX;
			}
			memcpy(hd->ctype, v, vl);
			hd->ctype[vl] = '\0';
		}
	}
}

/*
 * read_head - read and parse the head of the final response, skipping
 * interim 1xx ones; consumes it from buf.
 */
static int read_head(struct conn *c, struct head *hd)
{
	const char *p, *line;
	size_t n, scan, pos, len;
	int interim, r;

	c->phase = "waiting for the response";
	for (interim = 0;; interim++) {
		scan = 0;
		for (;;) {
			n = head_end(c->buf + c->off, c->end - c->off, &scan);
			if (n)
				break;
			if (c->end - c->off >= HTTPS_HEADER_MAX)
				return fail(c->res, HTTPS_PROTOCOL, "response head over %d bytes",
					    HTTPS_HEADER_MAX);
			r = conn_fill(c);
			if (r < 0)
				return r;
			if (r == 0)
				return fail(c->res, HTTPS_PROTOCOL, "%s",
					    c->end == c->off ? "connection closed without a response"
							     : "connection closed inside the response head");
		}
		p = c->buf + c->off;
		pos = 0;
		line = next_line(p, n, &pos, &len);
		hd->status = parse_status(line, len);
		if (hd->status < 0)
			return fail(c->res, HTTPS_PROTOCOL, "malformed status line '%.*s'",
				    (int)(len < CTYPE_SHOW_MAX ? len : CTYPE_SHOW_MAX), line);
		c->res->status = hd->status;
		if (hd->status >= 200 || hd->status == 101)
			break;
		if (interim == INTERIM_MAX)
			return fail(c->res, HTTPS_PROTOCOL, "more than %d interim responses", INTERIM_MAX);
		c->off += n;
	}
	if (hd->status == 404 || hd->status == 410)
		return fail(c->res, HTTPS_NOT_FOUND, "status %d", hd->status);
	if (hd->status != 200)
		return fail(c->res, HTTPS_HTTP_STATUS, "status %d", hd->status);
	r = parse_headers(c, hd, p, n, pos);
	c->off += n;
	return r;
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

/* take - move up to want buffered bytes to dst; how many. */
static size_t take(struct conn *c, char *dst, size_t want)
{
	size_t n = c->end - c->off;

	if (n > want)
		n = want;
	memcpy(dst, c->buf + c->off, n);
	c->off += n;
	return n;
}

static int read_exact(struct conn *c, char *dst, size_t want, const char *what)
{
	size_t got = 0;
	int r;

	while (got < want) {
		if (c->off == c->end) {
			r = conn_fill(c);
			if (r < 0)
				return r;
			if (r == 0)
				return fail(c->res, HTTPS_PROTOCOL, "%s truncated: %zu of %zu bytes", what,
					    got, want);
		}
		got += take(c, dst + got, want - got);
	}
	return HTTPS_OK;
}

static int read_to_close(struct conn *c, char *body, size_t *len)
{
	int r;

	for (;;) {
		if (c->off == c->end) {
			r = conn_fill(c);
			if (r < 0)
				return r;
			if (r == 0)
				break;
		}
		if (c->end - c->off > HTTPS_BODY_MAX - *len)
			return fail(c->res, HTTPS_TOO_LARGE, "body over %d bytes", HTTPS_BODY_MAX);
		*len += take(c, body + *len, HTTPS_BODY_MAX - *len);
	}
	if (c->eof != EOF_CLEAN)
		return fail(c->res, HTTPS_PROTOCOL,
			    "connection closed without TLS close_notify after %zu bytes: body may be truncated",
			    *len);
	return HTTPS_OK;
}

/* read_line - the next line (for chunked framing), valid until the next fill. */
static int read_line(struct conn *c, const char **line, size_t *len)
{
	const char *nl;
	size_t l;
	int r;

	for (;;) {
		nl = memchr(c->buf + c->off, '\n', c->end - c->off);
		if (nl)
			break;
		if (c->end - c->off >= CHUNK_LINE_MAX)
			return fail(c->res, HTTPS_PROTOCOL, "chunk line over %d bytes", CHUNK_LINE_MAX);
		r = conn_fill(c);
		if (r < 0)
			return r;
		if (r == 0)
			return fail(c->res, HTTPS_PROTOCOL, "chunked body truncated");
	}
	*line = c->buf + c->off;
	l = (size_t)(nl - *line);
	c->off += l + 1;
	if (l > 0 && (*line)[l - 1] == '\r')
		l--;
	*len = l;
	return HTTPS_OK;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * read_chunked - decode until the last (zero) chunk.  Trailers are left
 * unread: the body is complete, and the connection is closed anyway.
 */
static int read_chunked(struct conn *c, char *body, size_t *len)
{
	const char *line;
	size_t ll, i, size;
	int rc, d;

	for (;;) {
		rc = read_line(c, &line, &ll);
		if (rc != HTTPS_OK)
			return rc;
		size = 0;
		for (i = 0; i < ll && (d = hexval(line[i])) >= 0; i++)
			if (size <= HTTPS_BODY_MAX)
				size = size * 16 + (size_t)d;
		/* after the digits only whitespace and ";extensions" may follow */
		if (i == 0 || (i < ll && !is_ows(line[i]) && line[i] != ';'))
			return fail(c->res, HTTPS_PROTOCOL, "bad chunk size line '%.*s'",
				    (int)(ll < CTYPE_SHOW_MAX ? ll : CTYPE_SHOW_MAX), line);
		if (size == 0)
			return HTTPS_OK;
		if (size > HTTPS_BODY_MAX - *len)
			return fail(c->res, HTTPS_TOO_LARGE, "chunked body over %d bytes", HTTPS_BODY_MAX);
		rc = read_exact(c, body + *len, size, "chunk");
		if (rc != HTTPS_OK)
			return rc;
		*len += size;
		rc = read_line(c, &line, &ll);
		if (rc != HTTPS_OK)
			return rc;
		if (ll != 0)
			return fail(c->res, HTTPS_PROTOCOL, "chunk not followed by a line end");
	}
}

static int do_response(struct conn *c)
{
	struct head hd;
	char *body = NULL, *shrunk;
	size_t len = 0;
	int rc;

	memset(&hd, 0, sizeof(hd));
	rc = read_head(c, &hd);
	if (rc != HTTPS_OK)
		goto out;
	if (c->h->ctypes[0]) {
		if (!hd.ctype_set) {
			rc = fail(c->res, HTTPS_CONTENT_TYPE, "no content type");
			goto out;
		}
		if (hd.ctype_long || !ctype_allowed(c->h->ctypes, hd.ctype)) {
			rc = fail(c->res, HTTPS_CONTENT_TYPE, "content type %s%s",
				  hd.ctype[0] ? hd.ctype : "(empty)", hd.ctype_long ? "..." : "");
			goto out;
		}
	}
	if (!hd.chunked && hd.clen_set && hd.clen > HTTPS_BODY_MAX) {
		rc = fail(c->res, HTTPS_TOO_LARGE, "Content-Length over %d bytes", HTTPS_BODY_MAX);
		goto out;
	}
	body = malloc(HTTPS_BODY_MAX + 1);
	if (!body) {
		rc = fail(c->res, HTTPS_SYS, "out of memory");
		goto out;
	}
	c->phase = "reading the body";
	if (hd.chunked) {
		rc = read_chunked(c, body, &len);
	} else if (hd.clen_set) {
		rc = read_exact(c, body, hd.clen, "body");
		len = hd.clen;
	} else {
		rc = read_to_close(c, body, &len);
	}
	if (rc != HTTPS_OK)
		goto out;
	body[len] = '\0';
	shrunk = realloc(body, len + 1);
	c->res->body = shrunk ? shrunk : body;
	c->res->len = len;
	body = NULL;
out:
	free(body);
	return rc;
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

int https_get(struct https *h, const char *host, const char *path,
	      const struct sockaddr_storage *addrs, const socklen_t *alens,
	      size_t naddrs, struct https_result *res)
{
	struct conn *c = NULL;
	int rc;

	memset(res, 0, sizeof(*res));
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
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = fail(res, HTTPS_SYS, "out of memory");
		goto out;
	}
	c->h = h;
	c->res = res;
	c->fd = -1;
	c->deadline = now_ms() + h->total_ms;
	c->phase = "connecting";

	rc = do_connect(c, addrs, alens, naddrs);
	if (rc == HTTPS_OK)
		rc = do_tls(c, host);
	if (rc == HTTPS_OK)
		rc = do_request(c, host, path);
	if (rc == HTTPS_OK)
		rc = do_response(c);
out:
	if (c) {
		/* no SSL_shutdown: close_notify would only cost a write nobody reads */
		SSL_free(c->ssl);
		if (c->fd >= 0)
			close(c->fd);
		free(c);
	}
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
