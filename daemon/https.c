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
 *      daemon/https.c daemon/https_read.c -lssl -lcrypto
 *   cc -D_GNU_SOURCE -I. -O2 -pthread -o /tmp/b_curl bench/bench_https.c \
 *      bench/alt/https_curl.c -lssl -lcrypto -lcurl
 *   /tmp/b_own -n 1000 -s build/tests/tools/https_srv   (then /tmp/b_curl)
 *   strace -f -e trace=socket,socketpair /tmp/b_curl -n 10 -s ...
 */
#include "https_int.h"

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

/*
 * fail - set res->rc and a one-line detail; returns rc.  The detail may
 * quote the server, so control bytes are masked to keep it one log line.
 */
int https_fail(struct https_result *res, int rc, const char *fmt, ...)
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
int https_wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int r;

	for (;;) {
		left = deadline - (int64_t)mono_ms();
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
const char *https_ssl_reason(void)
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
		snprintf(err, errlen, "https: BIO: %s", https_ssl_reason());
		goto out;
	}
	h->ctx = SSL_CTX_new(TLS_client_method());
	if (!h->ctx) {
		snprintf(err, errlen, "https: SSL_CTX_new: %s", https_ssl_reason());
		goto out;
	}
	/* RFC 8461 §3.3 and RFC 8996: nothing older than TLS 1.2 */
	if (!SSL_CTX_set_min_proto_version(h->ctx, TLS1_2_VERSION)) {
		snprintf(err, errlen, "https: TLS 1.2 minimum: %s", https_ssl_reason());
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
			snprintf(err, errlen, "https: ca_file %s: %s", cfg->ca_file, https_ssl_reason());
			goto out;
		}
	} else if (!SSL_CTX_set_default_verify_paths(h->ctx)) {
		snprintf(err, errlen, "https: system CA store: %s", https_ssl_reason());
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
		r = https_wait_fd(fd, POLLOUT, dl);
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
		now = (int64_t)mono_ms();
		if (now >= c->deadline)
			return https_fail(c->res, HTTPS_TIMEOUT,
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
			return https_fail(c->res, rc, "%s: %s", at, why);
		if (rc != HTTPS_TIMEOUT)
			refused++;
	}
	/* a refusal is an answer; a timeout only says the path may be broken */
	return https_fail(c->res, refused && (int64_t)mono_ms() < c->deadline ? HTTPS_CONNECT : HTTPS_TIMEOUT, "%s port %u: %s%s", at,
		    (unsigned)h->port, why, naddrs > 1 ? " (the last of all addresses tried)" : "");
}

/* --- TLS ----------------------------------------------------------------- */

/*
 * ssl_wait - after SSL_get_error() said WANT_READ or WANT_WRITE, wait for
 * the socket.  HTTPS_OK to try again, or a failure.
 */
int https_ssl_wait(struct conn *c, int e)
{
	int r = https_wait_fd(c->fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, c->deadline);

	if (r == 0)
		return https_fail(c->res, HTTPS_TIMEOUT, "timed out %s (total timeout %u ms)", c->phase,
			    c->h->total_ms);
	if (r < 0)
		return https_fail(c->res, HTTPS_SYS, "poll: %s", strerror(errno));
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
		return https_fail(c->res, HTTPS_SYS, "TLS set-up: %s", https_ssl_reason());
	}
	BIO_set_data(bio, c);
	BIO_set_init(bio, 1);
	SSL_set_bio(c->ssl, bio, bio);

	param = SSL_get0_param(c->ssl);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	/* a copy: the SNI macro casts away const, which -Wcast-qual rejects */
	snprintf(name, sizeof(name), "%s", host);
	if (!SSL_set_tlsext_host_name(c->ssl, name) || !X509_VERIFY_PARAM_set1_host(param, name, 0))
		return https_fail(c->res, HTTPS_SYS, "TLS set-up: %s", https_ssl_reason());

	c->phase = "in the TLS handshake";
	for (;;) {
		ERR_clear_error();
		r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			rc = https_ssl_wait(c, e);
			if (rc != HTTPS_OK)
				return rc;
			continue;
		}
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK) {
			ERR_clear_error();
			return https_fail(c->res, HTTPS_CERT, "%s", X509_verify_cert_error_string(vr));
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
			return https_fail(c->res, HTTPS_TLS, "TLS handshake: %s",
				    errno ? strerror(errno) : "connection closed by the server");
		return https_fail(c->res, HTTPS_TLS, "TLS handshake: %s", https_ssl_reason());
	}
	/* belt and braces: SSL_VERIFY_PEER already failed the handshake */
	if (SSL_get_verify_result(c->ssl) != X509_V_OK || !SSL_get0_peer_certificate(c->ssl))
		return https_fail(c->res, HTTPS_CERT, "no verified server certificate");
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
		return https_fail(c->res, HTTPS_SYS, "request too long");
	c->phase = "sending the request";
	for (;;) {
		ERR_clear_error();
		/* without SSL_MODE_ENABLE_PARTIAL_WRITE this writes all or nothing */
		r = SSL_write(c->ssl, req, n);
		if (r > 0)
			return HTTPS_OK;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			rc = https_ssl_wait(c, e);
			if (rc != HTTPS_OK)
				return rc;
			continue;
		}
		if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
			return https_fail(c->res, HTTPS_PROTOCOL, "sending the request: %s",
				    errno ? strerror(errno) : "connection closed");
		return https_fail(c->res, HTTPS_TLS, "sending the request: %s", https_ssl_reason());
	}
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
		rc = https_fail(res, HTTPS_SYS, "invalid argument");
		goto out;
	}
	if (naddrs == 0) {
		rc = https_fail(res, HTTPS_CONNECT, "no addresses");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = https_fail(res, HTTPS_SYS, "out of memory");
		goto out;
	}
	c->h = h;
	c->res = res;
	c->fd = -1;
	c->deadline = (int64_t)mono_ms() + h->total_ms;
	c->phase = "connecting";

	rc = do_connect(c, addrs, alens, naddrs);
	if (rc == HTTPS_OK)
		rc = do_tls(c, host);
	if (rc == HTTPS_OK)
		rc = do_request(c, host, path);
	if (rc == HTTPS_OK)
		rc = https_read_response(c);
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
