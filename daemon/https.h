/*
 * daemon/https.h - the HTTPS fetcher for MTA-STS policies (RFC 8461 §3.3).
 *
 * One GET per call, over one TLS connection that is closed afterwards: the
 * policy is fetched rarely (when the TXT id changes or the policy nears
 * max_age), so keeping connections open would only hold sockets.  What
 * RFC 8461 asks of the fetch is enforced here rather than by the caller:
 *
 *   - TLS 1.2 or newer, SNI, a chain that verifies against the configured
 *     CA file or the system store, and a certificate naming the host
 *     (wildcards only as a whole left-most label);
 *   - redirects are never followed (§3.3): a 3xx is a failure like a 500;
 *   - the body is at most HTTPS_BODY_MAX bytes, and only status 200 with an
 *     allowed media type is a policy;
 *   - no HTTP caching: nothing of Cache-Control or Expires is looked at.
 *
 * Every wait is bounded: sockets are non-blocking and each wait is a poll()
 * against a deadline, so a server that accepts and never answers, or that
 * trickles a byte a second, costs at most total_timeout_ms.
 *
 * Writes go through a BIO that sends with MSG_NOSIGNAL, so a peer that
 * resets the connection never raises SIGPIPE in the caller (the daemon
 * also ignores SIGPIPE, but this module does not rely on it).
 *
 * A body read to the end of the connection (neither Content-Length nor
 * chunked) is accepted only if the server closes TLS with close_notify:
 * otherwise a truncated policy could not be told from a whole one.
 */
#ifndef MXC_DAEMON_HTTPS_H
#define MXC_DAEMON_HTTPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HTTPS_BODY_MAX        65536   /* RFC 8461 §3.3: 64 KiB */
#define HTTPS_HEADER_MAX      16384   /* status line and headers, terminator included */
#define HTTPS_TIMEOUT_MAX_MS  120000  /* either timeout */
#define HTTPS_CTYPES_MAX      256     /* content_types, bytes */
#define HTTPS_HOST_MAX        253     /* a DNS name, without the trailing dot */
#define HTTPS_PATH_MAX        1024

#define HTTPS_CONNECT_TIMEOUT_DEF 10000  /* ms, when the config says 0 */
#define HTTPS_TOTAL_TIMEOUT_DEF   60000  /* ms, RFC 8461 §3.3 suggests 60 s at least */
#define HTTPS_PATH_DEF        "/.well-known/mta-sts.txt"
#define HTTPS_CTYPES_DEF      "text/plain"
#define HTTPS_USER_AGENT      "mxcached/0.1"

enum https_rc {
	HTTPS_OK = 0,            /* 200, allowed content type, body complete */
	HTTPS_NOT_FOUND = 1,     /* 404 or 410 */
	HTTPS_HTTP_STATUS = -1,  /* any other status, 3xx included: redirects are never followed */
	HTTPS_TLS = -2,          /* TLS failed for another reason than the certificate: a peer
				    that does not speak TLS, a handshake or record error */
	HTTPS_CONNECT = -3,      /* no address accepted the TCP connection */
	HTTPS_TIMEOUT = -4,      /* a connect timed out and none was refused, or the total deadline passed */
	HTTPS_TOO_LARGE = -5,    /* body over HTTPS_BODY_MAX (Content-Length or while reading) */
	HTTPS_CONTENT_TYPE = -6, /* 200 but a content type not allowed, or none */
	HTTPS_PROTOCOL = -7,     /* malformed or truncated HTTP response */
	HTTPS_SYS = -8,          /* local failure (memory, socket) or a bad argument */
	HTTPS_CERT = -9,         /* the certificate did not verify (chain, name, dates) */
};

struct https_cfg {
	const char *ca_file;           /* NULL or "": the system store (OpenSSL's default
	                                  paths, honouring SSL_CERT_FILE and SSL_CERT_DIR) */
	unsigned connect_timeout_ms;   /* per address; 0: HTTPS_CONNECT_TIMEOUT_DEF */
	unsigned total_timeout_ms;     /* whole fetch, all addresses; 0: HTTPS_TOTAL_TIMEOUT_DEF */
	const char *content_types;     /* space-separated media types allowed, compared
	                                  case-insensitively without parameters;
	                                  NULL or "": any (even none).  The daemon uses
	                                  HTTPS_CTYPES_DEF */
	uint16_t port;                 /* 0: 443; tests use a high loopback port */
};

/* One SSL_CTX and the settings; read-only after https_new(). */
struct https;

/*
 * https_new - check cfg, build the TLS context and load the CA file or the
 * system store.  cfg's strings are copied.  On failure returns NULL and
 * writes a one-line reason to err (e.g. "ca_file /x: No such file or
 * directory").
 *
 * Thread safety: may be called from any thread; the result may be used by
 * any number of threads at once.
 */
struct https *https_new(const struct https_cfg *cfg, char *err, size_t errlen);

/*
 * https_free - free h (NULL is fine).
 *
 * Thread safety: only once no https_get() on h is running.
 */
void https_free(struct https *h);

struct https_result {
	int rc;                  /* enum https_rc, the same as https_get() returns */
	int status;              /* HTTP status; 0 if no status line was read */
	char *body;              /* only on HTTPS_OK (NULL otherwise): malloc'd,
	                            NUL-terminated, len bytes (it may hold NULs);
	                            freed by https_result_free() or free() */
	size_t len;
	char detail[256];        /* one line for the log on failure: e.g. "certificate
	                            has expired", "status 301", "content type
	                            text/html"; "" on HTTPS_OK */
};

/*
 * https_get - GET https://HOST:PORT/PATH, trying addrs[0..naddrs) in order
 * until one accepts the TCP connection; a failure after that (TLS, HTTP)
 * is final, as every address serves the same name.  host is used for SNI,
 * the Host header and the certificate's name check; path NULL means
 * HTTPS_PATH_DEF.  The port in each address is replaced by the configured
 * one.  res is filled in on every path (res->body is NULL unless OK).
 * Returns res->rc.
 *
 * Thread safety: any number of threads may call it at once on one h, each
 * with its own res.
 */
int https_get(struct https *h, const char *host, const char *path,
	      const struct sockaddr_storage *addrs, const socklen_t *alens,
	      size_t naddrs, struct https_result *res);

/*
 * https_result_free - free res->body and clear it; res may be reused.
 *
 * Thread safety: as for any object the caller owns.
 */
void https_result_free(struct https_result *res);

/*
 * https_rc_name - "ok", "not found", "http status", "tls", "connect",
 * "timeout", "too large", "content type", "protocol", "system";
 * "unknown" for anything else.  Static text.
 *
 * Thread safety: any thread.
 */
const char *https_rc_name(int rc);

#endif /* MXC_DAEMON_HTTPS_H */
