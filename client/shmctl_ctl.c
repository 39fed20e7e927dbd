/*
 * shmctl_ctl.c - shmctl's changes: requests to mxcached on DIR/ctl.sock
 * (shm/ctl.h), and the streaming CSV import.
 *
 * mxcached answers a change only after committing it to SQLite and
 * publishing it to the region, so when a command here returns, the next
 * read through libmxcache sees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client/mxcache.h"
#include "client/shmctl.h"
#include "shm/ctl.h"

#define CTL_TIMEOUT_S 30         /* SET/DEL commit one row: 30 s of silence means stuck */
#define IMPORT_INBUF  (256 * 1024)
#define IMPORT_OUTBUF (256 * 1024)
#define PROGRESS_MS   100        /* redraw the progress line at most 10 times a second */
/* Count lines up front (for "N / TOTAL") only in files this small: a second
 * pass over a huge file costs more than an exact total is worth. */
#define PRECOUNT_MAX  ((uint64_t)256 << 20)
#define NUM_LEN       32         /* a uint64 with thousands separators */
#define STR_(x)       #x
#define STR(x)        STR_(x)

/* --- mxcached: changes over ctl.sock ------------------------------------- */

static int ctl_connect_error(const struct sc_ctx *c, int e)
{
	char path[PATH_MAX + sizeof(MXS_CTL_SOCK) + 1];

	if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) {
		sc_err("mxcached is not running for %s", c->dir);
		return SC_UNAVAIL;
	}
	snprintf(path, sizeof path, "%s/%s", c->dir, MXS_CTL_SOCK);
	sc_err("%s: %s", path, strerror(e));
	if (e == EACCES)
		sc_access_hint(path, "asking mxcached anything needs membership in it, and changes also root, "
				     "mxcached's own user or [ctl] admin_group");
	return (e == EACCES || e == EPERM) ? SC_ERROR : SC_UNAVAIL;
}

static int ctl_connect(const struct sc_ctx *c, int *fdp)
{
	struct sockaddr_un sa;
	int fd = -1, dfd = -1, ex = SC_OK, n;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", c->dir, MXS_CTL_SOCK);
	if (n < 0 || (size_t)n >= sizeof sa.sun_path) {
		/* sun_path holds 108 bytes; a deeper DIR is reached through a
		 * descriptor, which /proc/self/fd names in a few bytes */
		if ((dfd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
			ex = ctl_connect_error(c, errno);
			goto out;
		}
		snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s", dfd, MXS_CTL_SOCK);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		sc_err("socket: %s", strerror(errno));
		ex = SC_ERROR;
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		ex = ctl_connect_error(c, errno);
		goto out;
	}
	*fdp = fd;
	fd = -1;
out:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	return ex;
}

/* line_add - append word w (n bytes, escaped) to a request line of cap
 * bytes; -1 when it does not fit. */
static int line_add(char *line, size_t cap, size_t *len, const char *w, size_t n)
{
	int r;

	if (*len > 0) {
		if (*len + 1 >= cap)
			return -1;
		line[(*len)++] = ' ';
	}
	if ((r = mxc_ctl_escape(w, n, line + *len, cap - *len)) < 0)
		return -1;
	*len += (size_t)r;
	return 0;
}

/* line_end - the '\n'; cap is MXS_CTL_LINE_MAX + 1, so a finished line
 * never exceeds the protocol's limit with its '\n' */
static int line_end(char *line, size_t cap, size_t *len)
{
	if (*len + 1 >= cap)
		return -1;
	line[(*len)++] = '\n';
	line[*len] = '\0';
	return 0;
}

/*
 * reply_split - split a reply in place: up to nhead words, unescaped, into
 * head[] (missing ones point at ""), and the rest into *rest with each word
 * unescaped and rejoined by one space, since a daemon message may travel as
 * one escaped word or as several plain ones.  Returns the words found.
 */
static int reply_split(char *line, char **head, int nhead, const char **rest)
{
	static char empty[1];
	char *p = line, *sp, *out, *w;
	int n = 0, first = 1, len;

	while (n < nhead && p != NULL && *p != '\0') {
		if ((sp = strchr(p, ' ')) != NULL)
			*sp++ = '\0';
		mxc_ctl_unescape(p);
		head[n++] = p;
		p = sp;
	}
	for (int i = n; i < nhead; i++)
		head[i] = empty;
	*rest = empty;
	if (p == NULL || *p == '\0')
		return n;
	*rest = out = w = p;
	for (;;) {
		if ((sp = strchr(w, ' ')) != NULL)
			*sp = '\0';
		if ((len = mxc_ctl_unescape(w)) < 0)
			len = (int)strlen(w);
		if (!first)
			*out++ = ' ';
		memmove(out, w, (size_t)len);
		out += len;
		first = 0;
		if (sp == NULL)
			break;
		w = sp + 1;
	}
	*out = '\0';
	return n;
}

/* ctl_err_exit - report "ERR <code> <msg>"; the exit status its code maps to */
static int ctl_err_exit(const char *code, const char *msg)
{
	if (strcmp(code, MXS_CTL_EBUSY) == 0) {
		sc_err("mxcached is busy: %s", msg);
		return SC_UNAVAIL;
	}
	if (strcmp(code, MXS_CTL_EPERM) == 0) {
		sc_err("permission denied: %s", msg);
		return SC_ERROR;
	}
	if (strcmp(code, MXS_CTL_EPROTO) == 0) {
		sc_err("protocol error: %s", msg);
		return SC_USAGE;
	}
	if (strcmp(code, MXS_CTL_EINVAL) == 0)
		sc_err("%s", msg);
	else
		sc_err("%s: %s", code, msg);
	return SC_ERROR;
}

static int send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ctl_io_error - a send or receive on ctl.sock failed (errno) */
static int ctl_io_error(const struct sc_ctx *c)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		sc_err("no answer from mxcached within %d s", CTL_TIMEOUT_S);
	else
		sc_err("%s/%s: %s", c->dir, MXS_CTL_SOCK, strerror(errno));
	return SC_UNAVAIL;
}

/*
 * ctl_request - send one request line, read its one reply (NUL-terminated,
 * no '\n') into reply, and map it: OK -> SC_OK with its words in w[0..nw),
 * NOTFOUND -> SC_NOTFOUND, ERR -> its status, anything else SC_ERROR.
 * A 30 s receive timeout keeps a wedged daemon from hanging scripts.
 */
static int ctl_request(const struct sc_ctx *c, const char *req, size_t reqlen, char *reply, char **w, int nw)
{
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_S, .tv_usec = 0 };
	const char *rest;
	size_t len = 0;
	ssize_t r;
	char *nl = NULL;
	int fd = -1, ex;

	if ((ex = ctl_connect(c, &fd)) != SC_OK)
		goto out;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (send_all(fd, req, reqlen) < 0) {
		ex = ctl_io_error(c);
		goto out;
	}
	while (nl == NULL) {
		if (len == MXS_CTL_LINE_MAX) {
			sc_err("mxcached sent an over-long reply");
			ex = SC_ERROR;
			goto out;
		}
		if ((r = recv(fd, reply + len, MXS_CTL_LINE_MAX - len, 0)) < 0) {
			if (errno == EINTR)
				continue;
			ex = ctl_io_error(c);
			goto out;
		}
		if (r == 0) {
			sc_err("mxcached closed the connection without answering");
			ex = SC_UNAVAIL;
			goto out;
		}
		nl = memchr(reply + len, '\n', (size_t)r);
		len += (size_t)r;
	}
	*nl = '\0';
	if (strncmp(reply, "ERR ", 4) == 0) {
		reply_split(reply, w, 2, &rest);
		ex = ctl_err_exit(w[1], rest);
	} else if (reply_split(reply, w, nw, &rest) > 0 && strcmp(w[0], "OK") == 0) {
		ex = SC_OK;
	} else if (strcmp(w[0], "NOTFOUND") == 0) {
		ex = SC_NOTFOUND;
	} else {
		sc_err("unexpected answer from mxcached: %s", w[0]);
		ex = SC_ERROR;
	}
out:
	if (fd != -1)
		close(fd);
	return ex;
}

int sc_ctl_request(const struct sc_ctx *c, const char *req, size_t reqlen, char *reply, char **w, int nw)
{
	return ctl_request(c, req, reqlen, reply, w, nw);
}

int sc_ctl_line(char *req, size_t cap, size_t *len, const char *word, const char *arg)
{
	*len = 0;
	if (line_add(req, cap, len, word, strlen(word)) < 0 || line_add(req, cap, len, arg, strlen(arg)) < 0 ||
	    line_end(req, cap, len) < 0)
		return -1;
	return 0;
}

int sc_cmd_ping(const struct sc_ctx *c, char **av, int ac)
{
	char reply[MXS_CTL_LINE_MAX + 1], *w[2];
	int ex;

	(void)av;
	(void)ac;
	ex = ctl_request(c, "PING\n", 5, reply, w, 2);
	if (ex == SC_OK)
		printf("mxcached is running for %s (pid %s)\n", c->dir, w[1]);
	return ex;
}

int sc_cmd_override_set(const struct sc_ctx *c, char **av, int ac)
{
	char req[MXS_CTL_LINE_MAX + 1], reply[MXS_CTL_LINE_MAX + 1], *w[3];
	const char *comment = ac > 2 ? av[2] : "";
	size_t len = 0;
	int ex;

	/* the daemon would refuse it too; saying so here names the limit */
	if (strlen(comment) > MXC_COMMENT_MAX) {
		sc_err("comment is longer than %d bytes", MXC_COMMENT_MAX);
		return SC_ERROR;
	}
	if (line_add(req, sizeof req, &len, "SET", 3) < 0 ||
	    line_add(req, sizeof req, &len, av[0], strlen(av[0])) < 0 ||
	    line_add(req, sizeof req, &len, av[1], strlen(av[1])) < 0 ||
	    line_add(req, sizeof req, &len, comment, strlen(comment)) < 0 ||
	    line_end(req, sizeof req, &len) < 0) {
		sc_err("key or target too long");
		return SC_ERROR;
	}
	ex = ctl_request(c, req, len, reply, w, 3);
	if (ex == SC_OK)
		printf("%s -> %s\n", w[1], w[2]);
	return ex;
}

int sc_cmd_override_del(const struct sc_ctx *c, char **av, int ac)
{
	char req[MXS_CTL_LINE_MAX + 1], reply[MXS_CTL_LINE_MAX + 1], *w[2];
	size_t len = 0;
	int ex;

	(void)ac;
	if (line_add(req, sizeof req, &len, "DEL", 3) < 0 ||
	    line_add(req, sizeof req, &len, av[0], strlen(av[0])) < 0 ||
	    line_end(req, sizeof req, &len) < 0) {
		sc_err("key too long");
		return SC_ERROR;
	}
	ex = ctl_request(c, req, len, reply, w, 2);
	if (ex == SC_OK)
		printf("deleted %s\n", w[1]);
	else if (ex == SC_NOTFOUND)
		fprintf(stderr, "%s: no override\n", av[0]);
	return ex;
}

/* --- override import ----------------------------------------------------- */

/* group - v with thousands separators; buf holds NUM_LEN bytes */
static const char *group(uint64_t v, char *buf)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v), i, o = 0;

	for (i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

static double secs_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/*
 * The import streams REC lines to mxcached while mxcached streams BAD lines
 * back, on one socket.  Blocking writes could deadlock (each side waiting
 * for the other to read), so one poll() loop moves bytes three ways:
 * input file -> ibuf -> (parse) -> obuf -> socket, and socket -> rbuf.
 * The file is read only when obuf has room for another record, so memory
 * stays at the three fixed buffers whatever the file's size.
 */
struct import {
	const char *name;		/* FILE, or "<stdin>" */
	int in, own_in, sock;
	int progress;			/* stderr is a terminal */
	int shown;			/* a progress line is on screen */
	uint64_t size, total;		/* input bytes and lines, 0: unknown */
	uint64_t bytes, lineno;		/* read so far */
	uint64_t local_bad, remote_bad, imported;
	int seen_record;		/* past the place a header may be */
	struct csv_scan scan;		/* where the record at ibuf[0] ends */
	size_t scanned;			/* bytes of it csv_scan has seen */
	uint64_t rec_line;		/* the line it starts on */
	int bom_done;			/* a UTF-8 BOM looked for */
	char last;			/* the last byte read */
	int in_eof, skipping, ended, broken, finished;
	int got_count;			/* imported is mxcached's own count */
	int ex;				/* exit status once finished */
	struct timespec t0, drawn, sent;	/* start, last redraw, END queued */
	size_t ilen, ohead, olen, rlen;
	char ibuf[IMPORT_INBUF];
	char obuf[IMPORT_OUTBUF];
	char rbuf[MXS_CTL_LINE_MAX + 1];
};

static void import_finish(struct import *im, int ex)
{
	if (!im->finished) {
		im->finished = 1;
		im->ex = ex;
	}
}

static void import_clear(struct import *im)
{
	if (im->shown) {
		fputs("\r\033[K", stderr);
		im->shown = 0;
	}
}

static void import_draw(struct import *im)
{
	char a[NUM_LEN], b[NUM_LEN], line[200];
	struct timespec now;
	double el;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (secs_between(&im->drawn, &now) * 1000 < PROGRESS_MS)
		return;
	im->drawn = now;
	el = secs_between(&im->t0, im->ended ? &im->sent : &now);	/* the rate of reading */
	n = snprintf(line, sizeof line, "import: %s", group(im->lineno, a));
	if (im->total > 0)
		n += snprintf(line + n, sizeof line - (size_t)n, " / %s", group(im->total, b));
	n += snprintf(line + n, sizeof line - (size_t)n, " lines");
	if (im->size > 0)
		n += snprintf(line + n, sizeof line - (size_t)n, " (%u%%)",
			      (unsigned)(im->bytes >= im->size ? 100 : im->bytes * 100 / im->size));
	n += snprintf(line + n, sizeof line - (size_t)n, "  %s lines/s",
		      group(el > 0 ? (uint64_t)((double)im->lineno / el) : 0, a));
	if (im->ended)
		snprintf(line + n, sizeof line - (size_t)n, "  waiting for mxcached to commit");
	fprintf(stderr, "\r%s\033[K", line);
	im->shown = 1;
}

/* import_note - "FILE:LINE: reason" on stderr, under the progress line */
static void import_note(struct import *im, const char *lineno, const char *why)
{
	import_clear(im);
	fprintf(stderr, "%s:%s: ", im->name, lineno);
	sc_print_clean(stderr, why);
	fputc('\n', stderr);
}

/* import_bad - a record rejected here, reported by the line it starts on */
static void import_bad(struct import *im, uint64_t line, const char *why)
{
	char num[24];

	snprintf(num, sizeof num, "%" PRIu64, line);
	import_note(im, num, why);
	im->local_bad++;
}

/* obuf_room - room for one more request line, compacting what was sent */
static int obuf_room(struct import *im)
{
	if (IMPORT_OUTBUF - im->olen > MXS_CTL_LINE_MAX)
		return 1;
	if (im->ohead > 0) {
		memmove(im->obuf, im->obuf + im->ohead, im->olen - im->ohead);
		im->olen -= im->ohead;
		im->ohead = 0;
	}
	return IMPORT_OUTBUF - im->olen > MXS_CTL_LINE_MAX;
}

/*
 * import_record - one whole record (its line break removed), starting on
 * line im->rec_line and ending on im->lineno: skip it, reject it, or queue
 * REC under its first line's number, which mxcached's BAD answers echo.
 */
static void import_record(struct import *im, char *rec, size_t n)
{
	char *f[CSV_FIELDS], num[24], why_buf[200], lines[CSV_SPAN_LEN], *out = im->obuf + im->olen;
	size_t flen[CSV_FIELDS], len = 0, cap = MXS_CTL_LINE_MAX + 1, i;
	const char *why = NULL;
	int nf, first;

	if (n > 0 && rec[n - 1] == '\r')	/* RFC 4180 ends records with CRLF */
		n--;
	for (i = 0; i < n && (rec[i] == ' ' || rec[i] == '\t'); i++)
		;
	if (i == n || rec[i] == '#')
		return;
	/* a header is skipped only where it can be one: the first record
	 * (comments and blank lines may come before it) */
	first = !im->seen_record;
	im->seen_record = 1;
	if (memchr(rec, '\0', n) != NULL) {
		import_bad(im, im->rec_line, "NUL byte in record");
		return;
	}
	if ((nf = csv_split(rec, n, f, flen, &why)) < 0) {
		import_bad(im, im->rec_line, why);
		return;
	}
	/* RFC 4180 lets a quoted field span lines, and the record was read
	 * whole for that; but no key, target or comment holds a line break */
	if ((why = csv_line_break(f, flen, nf)) != NULL) {
		snprintf(why_buf, sizeof why_buf,
			 "%s: a line break inside quotes (the record spans %s); keys, targets and comments are one line",
			 why, csv_span(im->rec_line, im->lineno, lines, sizeof lines));
		import_bad(im, im->rec_line, why_buf);
		return;
	}
	if (first && csv_is_header(f, flen, nf))
		return;
	if (nf < 2) {
		import_bad(im, im->rec_line, "expected key,target[,comment]");
		return;
	}
	if (flen[0] == 0 || flen[1] == 0) {
		import_bad(im, im->rec_line, flen[0] == 0 ? "empty key" : "empty target");
		return;
	}
	snprintf(num, sizeof num, "%" PRIu64, im->rec_line);
	if (line_add(out, cap, &len, "REC", 3) < 0 || line_add(out, cap, &len, num, strlen(num)) < 0 ||
	    line_add(out, cap, &len, f[0], flen[0]) < 0 || line_add(out, cap, &len, f[1], flen[1]) < 0 ||
	    line_add(out, cap, &len, nf > 2 ? f[2] : "", nf > 2 ? flen[2] : 0) < 0 ||
	    line_end(out, cap, &len) < 0) {
		import_bad(im, im->rec_line,
			   "record too long for mxcached once escaped (max " STR(MXS_CTL_LINE_MAX) " bytes)");
		return;
	}
	im->olen += len;
}

/*
 * The most bytes of one record held in memory, line breaks inside quotes
 * included: its REC line cannot be longer anyway.  A longer record is
 * read on to its real end without being kept, and rejected whole, so a
 * quote left open cannot make the text after the limit a record of its
 * own.  A quote never closed rejects everything to the end of the input.
 */
#define CSV_RECORD_MAX MXS_CTL_LINE_MAX

/* import_skipped - the end of a record too long to keep, or of the input
 * inside one: say which, by the line it starts on */
static void import_skipped(struct import *im)
{
	char why[200], lines[CSV_SPAN_LEN];

	csv_span(im->rec_line, im->lineno, lines, sizeof lines);
	if (im->scan.state == CSV_QUOTED)
		snprintf(why, sizeof why,
			 "unterminated quoted field: the quote is never closed, so the record runs to the end of "
			 "the input (%s), not imported",
			 lines);
	else
		snprintf(why, sizeof why, "record longer than " STR(CSV_RECORD_MAX) " bytes (%s%s)", lines,
			 im->rec_line < im->lineno ? "; a quoted field runs on over line breaks: look for a stray quote"
						   : "");
	import_bad(im, im->rec_line, why);
	im->skipping = 0;
	csv_scan_reset(&im->scan);
}

/* import_end - after the last record: END, with the lines read */
static void import_end(struct import *im)
{
	size_t n = (size_t)snprintf(im->obuf + im->olen, IMPORT_OUTBUF - im->olen, "END %" PRIu64 "\n", im->lineno);

	im->olen += n;
	im->ended = 1;
	clock_gettime(CLOCK_MONOTONIC, &im->sent);
}

/*
 * import_fill - turn complete records into requests while obuf has room
 * for one more; after the last, END.  The record at ibuf[pos] is scanned
 * on from where the last call stopped (im->scanned) as input arrives; one
 * of CSV_RECORD_MAX bytes or more is read on to its end without being
 * held in memory (im->skipping).  Returns 1 when it stopped for want of
 * input, 0 otherwise.
 */
static int import_fill(struct import *im)
{
	size_t pos = 0, avail, n;
	int want = 0, end;
	char *rec;

	if (!im->bom_done) {
		if (im->ilen < 3 && !im->in_eof)
			return 1;
		/* the UTF-8 BOM spreadsheets write, before the first record */
		if (im->ilen >= 3 && memcmp(im->ibuf, "\xef\xbb\xbf", 3) == 0)
			pos = 3;
		im->bom_done = 1;
	}
	while (!im->ended && !im->broken && !im->finished && obuf_room(im)) {
		rec = im->ibuf + pos;
		avail = im->ilen - pos;
		if (im->scanned == 0 && !im->skipping && avail > 0)
			im->rec_line = im->lineno + 1;
		im->scanned += csv_scan(&im->scan, rec + im->scanned, avail - im->scanned, &end);
		im->lineno += im->scan.newlines;
		im->scan.newlines = 0;
		if (im->skipping) {
			pos += im->scanned;
			im->scanned = 0;
			if (end) {
				import_skipped(im);
			} else if (!im->in_eof) {
				want = 1;
				break;
			} else {
				im->lineno += im->last != '\n';	/* a last line without '\n' */
				import_skipped(im);
			}
			continue;
		}
		if (end) {
			n = im->scanned - 1;	/* without its '\n' */
			pos += im->scanned;
			im->scanned = 0;
			if (n >= CSV_RECORD_MAX)
				import_skipped(im);	/* whole in the buffer, too long all the same */
			else
				import_record(im, rec, n);
			continue;
		}
		if (im->scanned >= CSV_RECORD_MAX) {
			im->skipping = 1;	/* drop what is held, read on */
			pos += im->scanned;
			im->scanned = 0;
			continue;
		}
		if (!im->in_eof) {
			want = 1;
			break;
		}
		if (avail > 0) {
			/* the last record, without its '\n' (which may have
			 * been inside a quote never closed) */
			im->lineno += im->last != '\n';
			pos += avail;
			im->scanned = 0;
			if (im->scan.state == CSV_QUOTED)
				import_skipped(im);
			else
				import_record(im, rec, avail);
			csv_scan_reset(&im->scan);
			continue;
		}
		import_end(im);
		break;
	}
	if (pos > 0) {
		memmove(im->ibuf, im->ibuf + pos, im->ilen - pos);
		im->ilen -= pos;
	}
	return want;
}

/* import_read - more input.  Called only when import_fill wants input, so
 * ibuf holds less than one record of CSV_RECORD_MAX bytes and has room:
 * r == 0 really is the end. */
static void import_read(struct import *im)
{
	ssize_t r = read(im->in, im->ibuf + im->ilen, IMPORT_INBUF - im->ilen);

	if (r < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		import_clear(im);
		sc_err("%s: %s", im->name, strerror(errno));
		import_finish(im, SC_ERROR);
		return;
	}
	if (r == 0)
		im->in_eof = 1;
	else
		im->last = im->ibuf[im->ilen + (size_t)r - 1];
	im->ilen += (size_t)r;
	im->bytes += (uint64_t)r;
}

static void import_send(struct import *im)
{
	ssize_t w = send(im->sock, im->obuf + im->ohead, im->olen - im->ohead, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (w < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/* stop sending but keep reading: an ERR may explain why */
		im->broken = 1;
		return;
	}
	im->ohead += (size_t)w;
	if (im->ohead == im->olen)
		im->ohead = im->olen = 0;
}

static void import_gone(struct import *im)
{
	import_clear(im);
	sc_err("mxcached went away during the import (after line %" PRIu64 "); "
	       "what it had committed is kept", im->lineno);
	import_finish(im, SC_UNAVAIL);
}

/* import_reply - one line from mxcached: BAD, the final OK, or ERR */
static void import_reply(struct import *im, char *line)
{
	char *w[4], msg[MXS_CTL_LINE_MAX + 1];
	const char *rest;

	if (strncmp(line, "BAD ", 4) == 0) {
		reply_split(line, w, 2, &rest);
		import_note(im, w[1], rest);
		im->remote_bad++;
	} else if (strncmp(line, "ERR ", 4) == 0) {
		/* ERR <code> <message> [<records committed before the failure>] */
		reply_split(line, w, 4, &rest);
		import_clear(im);
		if (rest[0] == '\0' && w[3][0] != '\0' && strspn(w[3], "0123456789") == strlen(w[3])) {
			im->imported = strtoull(w[3], NULL, 10);
			im->got_count = 1;
			import_finish(im, ctl_err_exit(w[1], w[2]));
		} else {
			snprintf(msg, sizeof msg, "%s%s%s%s%s", w[2], w[3][0] ? " " : "", w[3],
				 rest[0] ? " " : "", rest);
			import_finish(im, ctl_err_exit(w[1], msg));
		}
	} else if (im->ended && reply_split(line, w, 3, &rest) == 3 && strcmp(w[0], "OK") == 0) {
		im->imported = strtoull(w[1], NULL, 10);
		im->remote_bad = strtoull(w[2], NULL, 10);
		im->got_count = 1;
		import_finish(im, im->local_bad + im->remote_bad > 0 ? SC_ERROR : SC_OK);
	} else {
		import_clear(im);
		sc_err("unexpected answer from mxcached: %.80s", line);
		import_finish(im, SC_ERROR);
	}
}

static void import_recv(struct import *im)
{
	ssize_t r = recv(im->sock, im->rbuf + im->rlen, MXS_CTL_LINE_MAX - im->rlen, MSG_DONTWAIT);
	char *p, *nl;

	if (r < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			import_gone(im);
		return;
	}
	if (r == 0) {
		import_gone(im);
		return;
	}
	im->rlen += (size_t)r;
	p = im->rbuf;
	while (!im->finished && (nl = memchr(p, '\n', im->rlen - (size_t)(p - im->rbuf))) != NULL) {
		*nl = '\0';
		import_reply(im, p);
		p = nl + 1;
	}
	im->rlen -= (size_t)(p - im->rbuf);
	memmove(im->rbuf, p, im->rlen);
	if (im->rlen == MXS_CTL_LINE_MAX && !im->finished) {
		import_clear(im);
		sc_err("mxcached sent an over-long line");
		import_finish(im, SC_ERROR);
	}
}

static void import_loop(struct import *im)
{
	struct pollfd pf[2];
	int want, nfds;

	while (!im->finished) {
		want = import_fill(im);
		nfds = 1;
		pf[0].fd = im->sock;
		pf[0].events = POLLIN;
		pf[0].revents = 0;
		if (im->olen > im->ohead && !im->broken)
			pf[0].events |= POLLOUT;
		if (want && !im->in_eof) {
			pf[1].fd = im->in;
			pf[1].events = POLLIN;
			pf[1].revents = 0;
			nfds = 2;
		}
		/* no timeout on the import itself: a large last batch may take
		 * long to commit; only the progress line wakes us */
		if (poll(pf, (nfds_t)nfds, im->progress ? PROGRESS_MS : -1) < 0) {
			if (errno == EINTR)
				continue;
			sc_err("poll: %s", strerror(errno));
			import_finish(im, SC_ERROR);
			break;
		}
		if (nfds == 2 && pf[1].revents != 0)
			import_read(im);
		if (pf[0].revents & POLLOUT)
			import_send(im);
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR))
			import_recv(im);
		if (im->progress && !im->finished)
			import_draw(im);
	}
}

/* count_lines - lines in fd from offset at, for the progress total */
static uint64_t count_lines(int fd, off_t at)
{
	char buf[64 * 1024], last = '\n', *p;
	uint64_t lines = 0;
	ssize_t r;

	while ((r = pread(fd, buf, sizeof buf, at)) > 0) {
		for (p = buf; (p = memchr(p, '\n', (size_t)(buf + r - p))) != NULL; p++)
			lines++;
		last = buf[r - 1];
		at += r;
	}
	if (r < 0)
		return 0;
	return lines + (last != '\n');
}

int sc_cmd_override_import(const struct sc_ctx *c, char **av, int ac)
{
	struct import *im;
	struct timespec end;
	struct stat sb;
	off_t at;
	int ex = SC_ERROR;

	(void)ac;
	if ((im = calloc(1, sizeof *im)) == NULL) {
		sc_err("out of memory");
		return SC_ERROR;
	}
	im->sock = -1;
	csv_scan_reset(&im->scan);
	if (strcmp(av[0], "-") == 0) {
		im->in = STDIN_FILENO;
		im->name = "<stdin>";
	} else if ((im->in = open(av[0], O_RDONLY | O_CLOEXEC)) == -1) {
		sc_err("%s: %s", av[0], strerror(errno));
		goto out;
	} else {
		im->own_in = 1;
		im->name = av[0];
	}
	if (fstat(im->in, &sb) == 0 && S_ISREG(sb.st_mode)) {
		at = lseek(im->in, 0, SEEK_CUR);
		at = at < 0 ? 0 : at;
		im->size = sb.st_size > at ? (uint64_t)(sb.st_size - at) : 0;
	}
	im->progress = isatty(STDERR_FILENO);
	if (im->progress && im->size > 0 && im->size <= PRECOUNT_MAX)
		im->total = count_lines(im->in, lseek(im->in, 0, SEEK_CUR));
	/* the daemon is contacted only once the file is known to be readable */
	if ((ex = ctl_connect(c, &im->sock)) != SC_OK)
		goto out;
	im->olen = (size_t)snprintf(im->obuf, sizeof im->obuf, "IMPORT\n");
	clock_gettime(CLOCK_MONOTONIC, &im->t0);
	im->drawn = im->t0;
	import_loop(im);
	ex = im->ex;
	clock_gettime(CLOCK_MONOTONIC, &end);
	import_clear(im);
	if (im->got_count)
		fprintf(stderr, "import: %" PRIu64 " imported, %" PRIu64 " rejected, %.1f s\n", im->imported,
			im->local_bad + im->remote_bad, secs_between(&im->t0, &end));
	else
		fprintf(stderr, "import: stopped after %" PRIu64 " lines, %" PRIu64 " rejected, %.1f s\n",
			im->lineno, im->local_bad + im->remote_bad, secs_between(&im->t0, &end));
out:
	if (im->sock != -1)
		close(im->sock);
	if (im->own_in)
		close(im->in);
	free(im);
	return ex;
}
