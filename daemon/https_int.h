/*
 * daemon/https_int.h - what the two halves of the policy fetcher share:
 * https.c (set-up, connect, TLS, the request, the fetch) and
 * https_read.c (the response: head, framing, body).  Private to them.
 */
#ifndef MXC_HTTPS_INT_H
#define MXC_HTTPS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "clock.h"
#include "https.h"

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

/* https_fail - set res->rc and a one-line detail; returns rc.  The detail
 * may quote the server, so control bytes are masked to keep it one line. */
int https_fail(struct https_result *res, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* https_wait_fd - 1 ready, 0 deadline passed, -1 poll failed (errno). */
int https_wait_fd(int fd, short events, int64_t deadline);
/* The last OpenSSL error's reason, for a detail; clears the queue. */
const char *https_ssl_reason(void);
/* After SSL_get_error() said WANT_READ or WANT_WRITE, wait for the
 * socket: HTTPS_OK to try again, or a failure. */
int https_ssl_wait(struct conn *c, int e);
/* Read and check the whole response into c->res (https_read.c). */
int https_read_response(struct conn *c);

#endif
