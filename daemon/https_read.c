/*
 * daemon/https_read.c - the response of one policy fetch (see https.c):
 * the head read whole into the connection's buffer and checked (status,
 * header syntax, Content-Length, codings, media type), then the body by
 * its framing (Content-Length, chunked, or to a TLS close_notify), never
 * past HTTPS_BODY_MAX.  Every read is bounded by the fetch's deadline.
 */
#include "https_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>

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
		return https_fail(c->res, HTTPS_SYS, "read buffer full");
	for (;;) {
		/* a server that never stops sending must not outlive the deadline */
		if ((int64_t)mono_ms() >= c->deadline)
			return https_fail(c->res, HTTPS_TIMEOUT, "timed out %s (total timeout %u ms)",
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
			rc = https_ssl_wait(c, e);
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
			return https_fail(c->res, HTTPS_TLS, "reading the response: %s", https_ssl_reason());
		default:
			err = ERR_peek_last_error();
			if (ERR_GET_LIB(err) == ERR_LIB_SSL &&
			    ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
				ERR_clear_error();
				c->eof = EOF_UNCLEAN;
				return 0;
			}
			return https_fail(c->res, HTTPS_TLS, "reading the response: %s", https_ssl_reason());
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
		return https_fail(c->res, HTTPS_PROTOCOL, "empty Content-Length");
	for (i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return https_fail(c->res, HTTPS_PROTOCOL, "bad Content-Length '%.*s'",
				    (int)(vl < CTYPE_SHOW_MAX ? vl : CTYPE_SHOW_MAX), v);
		if (n <= HTTPS_BODY_MAX)
			n = n * 10 + (size_t)(v[i] - '0');
	}
	if (n > HTTPS_BODY_MAX)
		n = HTTPS_BODY_MAX + 1;
	/* two lengths that differ: one of them is a lie (RFC 9112 §6.3) */
	if (hd->clen_set && hd->clen != n)
		return https_fail(c->res, HTTPS_PROTOCOL, "conflicting Content-Length headers");
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
			return https_fail(c->res, HTTPS_PROTOCOL, "folded header line");
		colon = memchr(line, ':', len);
		if (!colon || colon == line)
			return https_fail(c->res, HTTPS_PROTOCOL, "malformed header line '%.*s'",
				    (int)(len < CTYPE_SHOW_MAX ? len : CTYPE_SHOW_MAX), line);
		nl = (size_t)(colon - line);
		for (size_t i = 0; i < nl; i++)
			if (!is_tchar((unsigned char)line[i]))
				return https_fail(c->res, HTTPS_PROTOCOL, "malformed header name '%.*s'",
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
				return https_fail(c->res, HTTPS_PROTOCOL, "unsupported transfer coding '%.*s'",
					    (int)(ll < CTYPE_SHOW_MAX ? ll : CTYPE_SHOW_MAX), last);
			hd->chunked = 1;
		} else if (name_is(line, nl, "Content-Type")) {
			if (hd->ctype_set)
				return https_fail(c->res, HTTPS_PROTOCOL, "more than one Content-Type");
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
				return https_fail(c->res, HTTPS_PROTOCOL, "response head over %d bytes",
					    HTTPS_HEADER_MAX);
			r = conn_fill(c);
			if (r < 0)
				return r;
			if (r == 0)
				return https_fail(c->res, HTTPS_PROTOCOL, "%s",
					    c->end == c->off ? "connection closed without a response"
							     : "connection closed inside the response head");
		}
		p = c->buf + c->off;
		pos = 0;
		line = next_line(p, n, &pos, &len);
		hd->status = parse_status(line, len);
		if (hd->status < 0)
			return https_fail(c->res, HTTPS_PROTOCOL, "malformed status line '%.*s'",
				    (int)(len < CTYPE_SHOW_MAX ? len : CTYPE_SHOW_MAX), line);
		c->res->status = hd->status;
		if (hd->status >= 200 || hd->status == 101)
			break;
		if (interim == INTERIM_MAX)
			return https_fail(c->res, HTTPS_PROTOCOL, "more than %d interim responses", INTERIM_MAX);
		c->off += n;
	}
	if (hd->status == 404 || hd->status == 410)
		return https_fail(c->res, HTTPS_NOT_FOUND, "status %d", hd->status);
	if (hd->status != 200)
		return https_fail(c->res, HTTPS_HTTP_STATUS, "status %d", hd->status);
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
				return https_fail(c->res, HTTPS_PROTOCOL, "%s truncated: %zu of %zu bytes", what,
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
			return https_fail(c->res, HTTPS_TOO_LARGE, "body over %d bytes", HTTPS_BODY_MAX);
		*len += take(c, body + *len, HTTPS_BODY_MAX - *len);
	}
	if (c->eof != EOF_CLEAN)
		return https_fail(c->res, HTTPS_PROTOCOL,
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
			return https_fail(c->res, HTTPS_PROTOCOL, "chunk line over %d bytes", CHUNK_LINE_MAX);
		r = conn_fill(c);
		if (r < 0)
			return r;
		if (r == 0)
			return https_fail(c->res, HTTPS_PROTOCOL, "chunked body truncated");
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
			return https_fail(c->res, HTTPS_PROTOCOL, "bad chunk size line '%.*s'",
				    (int)(ll < CTYPE_SHOW_MAX ? ll : CTYPE_SHOW_MAX), line);
		if (size == 0)
			return HTTPS_OK;
		if (size > HTTPS_BODY_MAX - *len)
			return https_fail(c->res, HTTPS_TOO_LARGE, "chunked body over %d bytes", HTTPS_BODY_MAX);
		rc = read_exact(c, body + *len, size, "chunk");
		if (rc != HTTPS_OK)
			return rc;
		*len += size;
		rc = read_line(c, &line, &ll);
		if (rc != HTTPS_OK)
			return rc;
		if (ll != 0)
			return https_fail(c->res, HTTPS_PROTOCOL, "chunk not followed by a line end");
	}
}

int https_read_response(struct conn *c)
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
			rc = https_fail(c->res, HTTPS_CONTENT_TYPE, "no content type");
			goto out;
		}
		if (hd.ctype_long || !ctype_allowed(c->h->ctypes, hd.ctype)) {
			rc = https_fail(c->res, HTTPS_CONTENT_TYPE, "content type %s%s",
				  hd.ctype[0] ? hd.ctype : "(empty)", hd.ctype_long ? "..." : "");
			goto out;
		}
	}
	if (!hd.chunked && hd.clen_set && hd.clen > HTTPS_BODY_MAX) {
		rc = https_fail(c->res, HTTPS_TOO_LARGE, "Content-Length over %d bytes", HTTPS_BODY_MAX);
		goto out;
	}
	body = malloc(HTTPS_BODY_MAX + 1);
	if (!body) {
		rc = https_fail(c->res, HTTPS_SYS, "out of memory");
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
