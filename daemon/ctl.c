/*
 * daemon/ctl.c - admin connections: read lines, check, hand to the writer.
 *
 * Every word a client sends is validated here (override_parse) before the
 * writer sees it: validation is pure, so connections do it in parallel,
 * and an import can answer BAD for a record as soon as it reads it.
 */
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <urcu.h>

#include "arena.h"
#include "clock.h"
#include "config.h"
#include "counters.h"
#include "fed.h"
#include "log.h"
#include "override.h"
#include "sts.h"
#include "writer.h"
#include "shm/ctl.h"
#include "shm/fed.h"

#define CTL_BACKLOG     64
#define CTL_PEER_GROUPS_MAX 256      /* supplementary groups of a peer we look at */
#define CTL_REFUSE_WAIT_MS  200      /* a turned-away peer's request may arrive this long */
/* Turned-away peers waiting for that request; one more closes the
 * oldest at once, so a peer that connects in a loop costs a descriptor
 * each, never the accept thread's time. */
#define CTL_AWAY_MAX        64
#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS   59           /* Linux 4.13; older kernels: primary group only */
#endif
#define CTL_ERR_MAX     256
/* After accept() fails for want of descriptors, wait before the next try
 * instead of spinning on a queue we cannot drain. */
#define CTL_ACCEPT_PAUSE_MS 100

/* Results of ctl_readline(). */
#define CTL_LINE      1
#define CTL_EOF       0
#define CTL_ERROR   (-1)
#define CTL_TIMEOUT (-2)
#define CTL_LONG    (-3)

struct ctl_conn {
	struct ctl *ctl;
	struct ctl_conn *prev, *next;
	int fd;
	uid_t uid;
	pid_t pid;
	int may_change;         /* root, our uid, or [ctl] admin_group */
	size_t off;             /* start of unread data in buf */
	size_t len;             /* end of data in buf */
	char buf[MXC_CTL_LINE_MAX];
};

struct ctl {
	struct writer *w;
	struct sts *sts;        /* MTA-STS and MX fetches; set before ctl_start */
	int lfd;
	int stopfd;             /* eventfd: wakes the accept thread */
	struct ctl_away {
		int fd;
		uint64_t until_ms;      /* close by then (mono_ms) */
	} away[CTL_AWAY_MAX];   /* accept thread only, oldest first */
	int naway;
	pthread_t accept_thread;
	int started;            /* accept_thread runs */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	pthread_mutex_t mu;     /* guards what follows */
	pthread_cond_t cv;      /* nconn went down */
	struct ctl_conn *conns;
	int nconn;
	int nreadonly;          /* of them, peers that may not change anything */
};

/* One import batch: the records and the arena holding their strings. */
struct ctl_batch {
	struct override *recs;
	size_t n;
	struct arena arena;
	struct writer_cmd cmd;
	int inflight;
};

/* --- the line format ----------------------------------------------------- */

/*
 * Escape and join the NULL-terminated words into out with a '\n'.
 * Returns the length, or -1 if the line would exceed MXC_CTL_LINE_MAX
 * (replies are built from bounded fields, so that is a bug).
 */
static int ctl_vformat(char *out, size_t outlen, const char *first, va_list ap)
{
	const char *w = first;
	size_t o = 0;
	int n;

	if (outlen > MXC_CTL_LINE_MAX)
		outlen = MXC_CTL_LINE_MAX;
	while (w != NULL) {
		if (o > 0) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = ' ';
		}
		n = mxc_ctl_escape(w, strlen(w), out + o, outlen - o - 1);
		if (n < 0)
			return -1;
		o += (size_t)n;
		w = va_arg(ap, const char *);
	}
	out[o++] = '\n';
	return (int)o;
}

static int ctl_format(char *out, size_t outlen, const char *first, ...) __attribute__((sentinel));

static int ctl_format(char *out, size_t outlen, const char *first, ...)
{
	va_list ap;
	int n;

	va_start(ap, first);
	n = ctl_vformat(out, outlen, first, ap);
	va_end(ap);
	return n;
}

static int ctl_write(int fd, const char *p, size_t n)
{
	ssize_t k;

	while (n > 0) {
		k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int ctl_send(struct ctl_conn *cn, const char *first, ...) __attribute__((sentinel));

/* Send one reply line.  Returns 0, or -1 when the client is gone. */
static int ctl_send(struct ctl_conn *cn, const char *first, ...)
{
	char line[MXC_CTL_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, first);
	n = ctl_vformat(line, sizeof(line), first, ap);
	va_end(ap);
	if (n < 0) {
		log_warnx("ctl: reply to pid %ld does not fit in a line", (long)cn->pid);
		n = ctl_format(line, sizeof(line), "ERR", MXC_CTL_EPROTO, "reply too long", (char *)NULL);
	}
	return ctl_write(cn->fd, line, (size_t)n);
}

static int ctl_err(struct ctl_conn *cn, const char *code, const char *msg)
{
	return ctl_send(cn, "ERR", code, msg, (char *)NULL);
}

/*
 * Next line into *line (NUL-terminated, '\n' dropped).  The line stays
 * valid until the next call.
 */
static int ctl_readline(struct ctl_conn *cn, char **line, size_t *linelen)
{
	char *nl;
	ssize_t k;

	for (;;) {
		nl = memchr(cn->buf + cn->off, '\n', cn->len - cn->off);
		if (nl != NULL) {
			*nl = '\0';
			*line = cn->buf + cn->off;
			*linelen = (size_t)(nl - *line);
			cn->off = (size_t)(nl - cn->buf) + 1;
			return CTL_LINE;
		}
		if (cn->off > 0) {
			memmove(cn->buf, cn->buf + cn->off, cn->len - cn->off);
			cn->len -= cn->off;
			cn->off = 0;
		}
		/* the '\n' counts towards MXC_CTL_LINE_MAX */
		if (cn->len == sizeof(cn->buf))
			return CTL_LONG;
		k = read(cn->fd, cn->buf + cn->len, sizeof(cn->buf) - cn->len);
		if (k == 0)
			return CTL_EOF;     /* a last line without '\n' is dropped */
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? CTL_TIMEOUT : CTL_ERROR;
		}
		cn->len += (size_t)k;
	}
}

/*
 * Split a line into words.  Bytes <= 0x20 (space excepted) and 0x7f
 * must travel escaped; mxc_ctl_split would pass them, and a NUL would
 * silently cut the line short.
 */
static int ctl_words(char *line, size_t len, char **words)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20) || c == 0x7f)
			return -1;
	}
	return mxc_ctl_split(line, words, MXC_CTL_WORDS_MAX);
}

static int ctl_uint(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return (errno != 0 || *end != '\0') ? -1 : 0;
}

/* --- requests ------------------------------------------------------------ */

/* The ERR code of a writer status. */
static const char *ctl_code(int status)
{
	switch (status) {
	case WRITER_ESTORE:
		return MXC_CTL_ESTORE;
	case WRITER_EREGION:
		return MXC_CTL_EREGION;
	default:
		return MXC_CTL_EINVAL;
	}
}

static int ctl_set(struct ctl_conn *cn, char **words, int n)
{
	struct override_buf b;
	struct override o;
	struct writer_cmd cmd;
	char err[OVERRIDE_ERR_MAX];
	int rc;

	if (n != 4)
		return ctl_err(cn, MXC_CTL_EPROTO, "usage: SET <key> <target> <comment>");
	if (override_parse(words[1], words[2], words[3], &b, &o, err, sizeof(err)) != 0)
		return ctl_err(cn, MXC_CTL_EINVAL, err);
	writer_cmd_init(&cmd, WRITER_SET, &o, 1);
	writer_run(cn->ctl->w, &cmd);
	if (cmd.status == WRITER_OK) {
		log_info("ctl: uid %lu set %s -> %s", (unsigned long)cn->uid, o.key, o.target);
		rc = ctl_send(cn, "OK", o.key, o.target, (char *)NULL);
	} else {
		rc = ctl_err(cn, ctl_code(cmd.status), cmd.msg);
	}
	writer_cmd_destroy(&cmd);
	return rc;
}

static int ctl_del(struct ctl_conn *cn, char **words, int n)
{
	struct override o;
	struct writer_cmd cmd;
	char key[MXK_MAX_LEN + 1], err[OVERRIDE_ERR_MAX];
	size_t klen;
	int rc;

	if (n != 2)
		return ctl_err(cn, MXC_CTL_EPROTO, "usage: DEL <key>");
	if (override_key(words[1], key, &klen, err, sizeof(err)) != 0)
		return ctl_err(cn, MXC_CTL_EINVAL, err);
	memset(&o, 0, sizeof(o));
	o.key = key;
	o.klen = (uint16_t)klen;
	o.target = o.comment = "";
	writer_cmd_init(&cmd, WRITER_DEL, &o, 1);
	writer_run(cn->ctl->w, &cmd);
	if (cmd.status == WRITER_OK) {
		log_info("ctl: uid %lu deleted %s", (unsigned long)cn->uid, key);
		rc = ctl_send(cn, "OK", key, (char *)NULL);
	} else if (cmd.status == WRITER_NOTFOUND) {
		rc = ctl_send(cn, "NOTFOUND", key, (char *)NULL);
	} else {
		rc = ctl_err(cn, ctl_code(cmd.status), cmd.msg);
	}
	writer_cmd_destroy(&cmd);
	return rc;
}

/* --- MTA-STS and MX --------------------------------------------------------- */

/* The domain of an STS/MX request, canonical; an error reply if it is not one. */
static int ctl_domain(struct ctl_conn *cn, const char *in, char *out)
{
	size_t len;
	int kind;

	if (mxk_normalize(in, out, MXK_MAX_LEN + 1, &len, &kind) != MXK_OK || kind != MXK_DOMAIN) {
		ctl_err(cn, MXC_CTL_EINVAL, "not a domain name");
		return -1;
	}
	return 0;
}

/* STS-FETCH <domain> -> OK <policy|none|failed> <summary> */
static int ctl_sts_fetch(struct ctl_conn *cn, char **words, int n)
{
	static const char *const cls[] = { "policy", "none", "failed" };
	char d[MXK_MAX_LEN + 1], msg[512];
	int rc;

	if (n != 2)
		return ctl_err(cn, MXC_CTL_EPROTO, "usage: STS-FETCH <domain>");
	if (ctl_domain(cn, words[1], d) != 0)
		return 0;
	rc = sts_fetch_now(cn->ctl->sts, d, msg, sizeof(msg));
	if (rc < 0 || rc > STS_CHECK_FAILED)
		return ctl_err(cn, MXC_CTL_ESTORE, msg);
	log_info("ctl: uid %lu fetched the MTA-STS policy of %s: %s", (unsigned long)cn->uid, d, msg);
	return ctl_send(cn, "OK", cls[rc], msg, (char *)NULL);
}

/* STS-DEL <domain> -> OK <domain> | NOTFOUND <domain> */
static int ctl_sts_del(struct ctl_conn *cn, char **words, int n)
{
	char d[MXK_MAX_LEN + 1], msg[256];
	int rc;

	if (n != 2)
		return ctl_err(cn, MXC_CTL_EPROTO, "usage: STS-DEL <domain>");
	if (ctl_domain(cn, words[1], d) != 0)
		return 0;
	rc = sts_forget(cn->ctl->sts, d, msg, sizeof(msg));
	if (rc < 0)
		return ctl_err(cn, MXC_CTL_ESTORE, msg);
	if (rc == 0)
		return ctl_send(cn, "NOTFOUND", d, (char *)NULL);
	log_info("ctl: uid %lu deleted the MTA-STS entry of %s", (unsigned long)cn->uid, d);
	return ctl_send(cn, "OK", d, (char *)NULL);
}

/* MX-FETCH <domain> -> OK <summary> */
static int ctl_mx_fetch(struct ctl_conn *cn, char **words, int n)
{
	char d[MXK_MAX_LEN + 1], msg[512];

	if (n != 2)
		return ctl_err(cn, MXC_CTL_EPROTO, "usage: MX-FETCH <domain>");
	if (ctl_domain(cn, words[1], d) != 0)
		return 0;
	if (sts_mx_fetch_now(cn->ctl->sts, d, msg, sizeof(msg)) != 0)
		return ctl_err(cn, MXC_CTL_ESTORE, msg);
	return ctl_send(cn, "OK", msg, (char *)NULL);
}

/* --- federation ------------------------------------------------------------- */

/* Apply one federation change and answer it; the log names name and what. */
static int ctl_fed_change(struct ctl_conn *cn, const char *name, enum fed_op op, const char *d, int arg,
			  const char *what)
{
	char msg[256], num[24];
	uint64_t count = 0;
	int rc;

	rc = fed_change(cn->ctl->w, op, d, arg, &count, msg, sizeof(msg));
	if (rc < 0)
		return ctl_err(cn, MXC_CTL_ESTORE, msg);
	log_info("ctl: uid %lu federation: %s %s", (unsigned long)cn->uid, name, what);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)count);
	switch (op) {
	case FED_POLICY:
		return ctl_send(cn, "OK", arg == MXC_FED_REJECT ? "REJECT" : "ACCEPT", num, (char *)NULL);
	case FED_LOCAL:
		return ctl_send(cn, "OK", d, (char *)NULL);
	case FED_ADD:
		return ctl_send(cn, "OK", num, rc == FED_EXISTS ? "exists" : "added", (char *)NULL);
	default:
		return ctl_send(cn, rc == FED_NOTFOUND ? "NOTFOUND" : "OK", num, (char *)NULL);
	}
}

/* FED-POLICY accept|reject -> OK <ACCEPT|REJECT> <rules> */
static int ctl_fed_policy(struct ctl_conn *cn, char **words, int n)
{
	int arg;

	if (n != 2 || (strcasecmp(words[1], "accept") != 0 && strcasecmp(words[1], "reject") != 0))
		return ctl_err(cn, MXC_CTL_EPROTO, "usage: FED-POLICY accept|reject");
	arg = strcasecmp(words[1], "reject") == 0 ? MXC_FED_REJECT : MXC_FED_ACCEPT;
	return ctl_fed_change(cn, words[0], FED_POLICY, "", arg, words[1]);
}

/* FED-LOCAL, FED-ADD and FED-DEL: one domain or IP literal, made canonical;
 * FED-LOCAL also takes an empty word, which clears the local domain. */
static int ctl_fed_domain(struct ctl_conn *cn, char **words, int n, enum fed_op op)
{
	char d[MXK_MAX_LEN + 1] = "";
	size_t len;

	if (n != 2)
		return ctl_err(cn, MXC_CTL_EPROTO, "usage: FED-LOCAL|FED-ADD|FED-DEL <domain>");
	if (!(op == FED_LOCAL && words[1][0] == '\0') && mxk_normalize(words[1], d, sizeof(d), &len, NULL) != MXK_OK)
		return ctl_err(cn, MXC_CTL_EINVAL, "not a domain name or IP literal");
	return ctl_fed_change(cn, words[0], op, d, 0, d);
}

/* FED-LOCAL <domain>|%- -> OK <domain> */
static int ctl_fed_local(struct ctl_conn *cn, char **words, int n)
{
	return ctl_fed_domain(cn, words, n, FED_LOCAL);
}

/* FED-ADD <domain> -> OK <rules> added|exists */
static int ctl_fed_add(struct ctl_conn *cn, char **words, int n)
{
	return ctl_fed_domain(cn, words, n, FED_ADD);
}

/* FED-DEL <domain> -> OK <rules> | NOTFOUND <rules> */
static int ctl_fed_del(struct ctl_conn *cn, char **words, int n)
{
	return ctl_fed_domain(cn, words, n, FED_DEL);
}

/* FED-FLUSH -> OK <removed> */
static int ctl_fed_flush(struct ctl_conn *cn, char **words, int n)
{
	if (n != 1)
		return ctl_err(cn, MXC_CTL_EPROTO, "usage: FED-FLUSH");
	return ctl_fed_change(cn, words[0], FED_FLUSH, "", 0, "");
}

/* --- IMPORT ---------------------------------------------------------------- */

struct ctl_import {
	struct ctl_batch b[2];
	int cur;                /* the batch being filled */
	uint64_t imported;      /* committed and published */
	uint64_t bad;
	int failed;             /* a batch failed: the import is over */
	char fail_code[16];
	char fail_msg[WRITER_MSG_MAX];
};

static int ctl_import_init(struct ctl_import *im)
{
	int i;

	memset(im, 0, sizeof(*im));
	for (i = 0; i < 2; i++) {
		arena_init(&im->b[i].arena);
		im->b[i].recs = malloc(MXC_CTL_BATCH * sizeof(*im->b[i].recs));
		if (im->b[i].recs == NULL)
			return -1;
	}
	return 0;
}

/* Wait for batch i if it is with the writer; count or record its result. */
static void ctl_import_wait(struct ctl_import *im, int i)
{
	struct ctl_batch *b = &im->b[i];

	if (!b->inflight)
		return;
	writer_wait(&b->cmd);
	b->inflight = 0;
	im->imported += b->cmd.committed;
	if (b->cmd.status != WRITER_OK && !im->failed) {
		im->failed = 1;
		snprintf(im->fail_code, sizeof(im->fail_code), "%s", ctl_code(b->cmd.status));
		snprintf(im->fail_msg, sizeof(im->fail_msg), "%s", b->cmd.msg);
	}
	writer_cmd_destroy(&b->cmd);
	b->n = 0;
	arena_reset(&b->arena);
}

static void ctl_import_wait_all(struct ctl_import *im)
{
	ctl_import_wait(im, im->cur ^ 1);
	ctl_import_wait(im, im->cur);
}

/* Hand the batch being filled to the writer; at most one waits there. */
static void ctl_import_flush(struct ctl_conn *cn, struct ctl_import *im)
{
	struct ctl_batch *b = &im->b[im->cur];

	if (b->n == 0)
		return;
	ctl_import_wait(im, im->cur ^ 1);
	if (im->failed)
		return;
	writer_cmd_init(&b->cmd, WRITER_IMPORT, b->recs, b->n);
	writer_submit(cn->ctl->w, &b->cmd);
	b->inflight = 1;
	im->cur ^= 1;
}

static void ctl_import_free(struct ctl_import *im)
{
	int i;

	ctl_import_wait_all(im);
	for (i = 0; i < 2; i++) {
		free(im->b[i].recs);
		arena_free(&im->b[i].arena);
	}
}

/* One REC: 0 to go on, -1 when the connection must end. */
static int ctl_import_rec(struct ctl_conn *cn, struct ctl_import *im, char **words, int n, uint64_t lineno)
{
	struct ctl_batch *b = &im->b[im->cur];
	struct override_buf ob;
	struct override o, *r;
	char err[OVERRIDE_ERR_MAX], num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)lineno);
	if (n != 5) {
		im->bad++;
		return ctl_send(cn, "BAD", num, "expected REC <lineno> <key> <target> <comment>", (char *)NULL);
	}
	if (override_parse(words[2], words[3], words[4], &ob, &o, err, sizeof(err)) != 0) {
		im->bad++;
		return ctl_send(cn, "BAD", num, err, (char *)NULL);
	}
	r = &b->recs[b->n];
	*r = o;
	r->line = lineno;
	r->key = arena_memdup(&b->arena, o.key, o.klen);
	r->target = arena_memdup(&b->arena, o.target, o.tlen);
	r->comment = arena_memdup(&b->arena, o.comment, o.clen);
	if (r->key == NULL || r->target == NULL || r->comment == NULL) {
		log_warnx("ctl: import: out of memory");
		im->failed = 1;
		snprintf(im->fail_code, sizeof(im->fail_code), "%s", MXC_CTL_ESTORE);
		snprintf(im->fail_msg, sizeof(im->fail_msg), "mxcached is out of memory");
		return -1;
	}
	if (++b->n == MXC_CTL_BATCH)
		ctl_import_flush(cn, im);
	return im->failed ? -1 : 0;
}

/* Reply with the failure of a batch and the count committed so far. */
static int ctl_import_fail(struct ctl_conn *cn, struct ctl_import *im)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)im->imported);
	log_warnx("ctl: import by uid %lu stopped after %llu records: %s", (unsigned long)cn->uid,
		  (unsigned long long)im->imported, im->fail_msg);
	return ctl_send(cn, "ERR", im->fail_code, im->fail_msg, num, (char *)NULL);
}

/*
 * An import that ends early (a protocol error) still says how many records
 * went in: the batches already handed to the writer are committed, the
 * one being filled is dropped.
 */
static void ctl_import_abort(struct ctl_conn *cn, struct ctl_import *im, const char *msg)
{
	char num[24];

	ctl_import_wait_all(im);
	if (im->failed) {
		ctl_import_fail(cn, im);
		return;
	}
	snprintf(num, sizeof(num), "%llu", (unsigned long long)im->imported);
	ctl_send(cn, "ERR", MXC_CTL_EPROTO, msg, num, (char *)NULL);
}

/*
 * REC lines until END.  Returns 0 to keep the connection, -1 to close it
 * (client gone, protocol error, failed batch).
 */
static int ctl_import_run(struct ctl_conn *cn)
{
	struct ctl_import im;
	char *line, *words[MXC_CTL_WORDS_MAX], num1[24], num2[24];
	size_t len;
	uint64_t lineno, lines_read = 0;
	int rc = -1, n, r;

	if (ctl_import_init(&im) != 0) {
		ctl_err(cn, MXC_CTL_ESTORE, "mxcached is out of memory");
		goto done;
	}
	for (;;) {
		r = ctl_readline(cn, &line, &len);
		if (r == CTL_LONG) {
			ctl_import_abort(cn, &im, "line longer than 8192 bytes");
			goto done;
		}
		if (r != CTL_LINE)
			goto done;          /* client gone: submitted batches stay */
		n = ctl_words(line, len, words);
		if (n >= 2 && strcmp(words[0], "REC") == 0 && ctl_uint(words[1], &lineno) == 0) {
			if (ctl_import_rec(cn, &im, words, n, lineno) != 0) {
				ctl_import_wait_all(&im);
				if (im.failed)
					ctl_import_fail(cn, &im);
				goto done;
			}
			continue;
		}
		if (n == 2 && strcmp(words[0], "END") == 0 && ctl_uint(words[1], &lines_read) == 0)
			break;
		ctl_import_abort(cn, &im, "expected REC <lineno> <key> <target> <comment> or END <lines-read>");
		goto done;
	}
	ctl_import_flush(cn, &im);
	ctl_import_wait_all(&im);
	if (im.failed) {
		ctl_import_fail(cn, &im);
		goto done;
	}
	log_info("ctl: import by uid %lu: %llu lines, %llu imported, %llu bad", (unsigned long)cn->uid,
		 (unsigned long long)lines_read, (unsigned long long)im.imported, (unsigned long long)im.bad);
	snprintf(num1, sizeof(num1), "%llu", (unsigned long long)im.imported);
	snprintf(num2, sizeof(num2), "%llu", (unsigned long long)im.bad);
	rc = ctl_send(cn, "OK", num1, num2, (char *)NULL);
done:
	ctl_import_free(&im);
	return rc;
}

/* IMPORT, then REC lines and END -> BAD <lineno> <reason>..., OK <imported> <bad> */
static int ctl_import(struct ctl_conn *cn, char **words, int n)
{
	(void)words;
	if (n != 1)
		return ctl_err(cn, MXC_CTL_EPROTO, "usage: IMPORT");
	return ctl_import_run(cn);
}

/* --- the command table ----------------------------------------------------- */

/* ctl_who_may - the refusal of a change, naming this daemon's user and
 * admin group as configured, so the refused peer knows what to ask for */
static const char *ctl_who_may(char *buf, size_t len)
{
	struct config *cfg;
	char user[CONFIG_USER_MAX + 16];

	rcu_read_lock();
	cfg = config_current();
	if (cfg != NULL && cfg->user[0] != '\0')
		snprintf(user, sizeof(user), "%s", cfg->user);
	else
		snprintf(user, sizeof(user), "uid %lu", (unsigned long)geteuid());
	if (cfg != NULL && cfg->admin_group[0] != '\0')
		snprintf(buf, len, "only root, mxcached's own user and [ctl] admin_group may change the caches "
			 "(mxcached runs as %s; admin_group is %s)", user, cfg->admin_group);
	else
		snprintf(buf, len, "only root, mxcached's own user and [ctl] admin_group may change the caches "
			 "(mxcached runs as %s; no admin_group is set)", user);
	rcu_read_unlock();
	return buf;
}

/* PING -> OK <pid> (extra words are ignored) */
static int ctl_ping(struct ctl_conn *cn, char **words, int n)
{
	char num[24];

	(void)words;
	(void)n;
	snprintf(num, sizeof(num), "%ld", (long)getpid());
	return ctl_send(cn, "OK", num, (char *)NULL);
}

/* QUIT -> OK, then the close */
static int ctl_quit(struct ctl_conn *cn, char **words, int n)
{
	(void)words;
	(void)n;
	ctl_send(cn, "OK", (char *)NULL);
	return -1;
}

static int ctl_unknown(struct ctl_conn *cn, char **words, int n)
{
	(void)words;
	(void)n;
	return ctl_err(cn, MXC_CTL_EPROTO, "unknown command");
}

/* What a command needs before its handler runs. */
#define CTL_NEEDS_CHANGE 0x1    /* change rights: root, our uid or [ctl] admin_group */
#define CTL_NEEDS_STS    0x2    /* the MTA-STS manager (ctl_set_sts) */

/*
 * A request word and its handler.  The handler checks the other words
 * (answering its usage when they do not fit), answers, and returns 0 to
 * go on or -1 to close the connection.  A name ending in '*' stands for
 * every word with that prefix that no row before it names.
 */
struct ctl_cmd {
	const char *name;
	int needs;              /* CTL_NEEDS_* */
	int (*run)(struct ctl_conn *cn, char **words, int n);
};

/* shm/ctl.h describes each request; a new one is a row here and a handler */
static const struct ctl_cmd ctl_cmds[] = {
	{ "PING",       0,                                 ctl_ping },
	{ "QUIT",       0,                                 ctl_quit },
	{ "SET",        CTL_NEEDS_CHANGE,                  ctl_set },
	{ "DEL",        CTL_NEEDS_CHANGE,                  ctl_del },
	{ "IMPORT",     CTL_NEEDS_CHANGE,                  ctl_import },
	{ "STS-FETCH",  CTL_NEEDS_CHANGE | CTL_NEEDS_STS,  ctl_sts_fetch },
	{ "STS-DEL",    CTL_NEEDS_CHANGE | CTL_NEEDS_STS,  ctl_sts_del },
	{ "MX-FETCH",   CTL_NEEDS_CHANGE | CTL_NEEDS_STS,  ctl_mx_fetch },
	{ "FED-POLICY", CTL_NEEDS_CHANGE,                  ctl_fed_policy },
	{ "FED-LOCAL",  CTL_NEEDS_CHANGE,                  ctl_fed_local },
	{ "FED-ADD",    CTL_NEEDS_CHANGE,                  ctl_fed_add },
	{ "FED-DEL",    CTL_NEEDS_CHANGE,                  ctl_fed_del },
	{ "FED-FLUSH",  CTL_NEEDS_CHANGE,                  ctl_fed_flush },
	/* every FED- word is a change: a peer without change rights is
	 * refused one before it learns whether the word exists */
	{ "FED-*",      CTL_NEEDS_CHANGE,                  ctl_unknown },
};

static const struct ctl_cmd *ctl_cmd_find(const char *name)
{
	const struct ctl_cmd *c;
	size_t len;

	for (c = ctl_cmds; c < ctl_cmds + sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); c++) {
		len = strlen(c->name);
		if (c->name[len - 1] == '*' ? strncmp(name, c->name, len - 1) == 0 : strcmp(name, c->name) == 0)
			return c;
	}
	return NULL;
}

/* One request line.  Returns 0 to go on, -1 to close. */
static int ctl_request(struct ctl_conn *cn, char *line, size_t len)
{
	char *words[MXC_CTL_WORDS_MAX], msg[CONFIG_USER_MAX + CONFIG_GROUP_MAX + 160];
	const struct ctl_cmd *cmd;
	int n = ctl_words(line, len, words);

	if (n < 0)
		return ctl_err(cn, MXC_CTL_EPROTO, "malformed line");
	cmd = ctl_cmd_find(words[0]);
	if (cmd == NULL)
		return ctl_unknown(cn, words, n);
	if ((cmd->needs & CTL_NEEDS_CHANGE) && !cn->may_change) {
		ctr_limit(MXC_CTR_CTL_DENIED, "ctl: uid %lu (pid %ld) may not change the caches: refused",
			  (unsigned long)cn->uid, (long)cn->pid);
		return ctl_err(cn, MXC_CTL_EPERM, ctl_who_may(msg, sizeof(msg)));
	}
	if ((cmd->needs & CTL_NEEDS_STS) && cn->ctl->sts == NULL)
		return ctl_err(cn, MXC_CTL_EPROTO, "MTA-STS is not running");
	return cmd->run(cn, words, n);
}

/* --- connections ----------------------------------------------------------- */

static void *ctl_conn_main(void *arg)
{
	struct ctl_conn *cn = arg;
	struct ctl *c = cn->ctl;
	char *line;
	size_t len;
	int r;

	pthread_setname_np(pthread_self(), "ctl-conn");
	/* requests may read the config (config_current) */
	rcu_register_thread();
	for (;;) {
		r = ctl_readline(cn, &line, &len);
		if (r == CTL_LONG) {
			ctl_err(cn, MXC_CTL_EPROTO, "line longer than 8192 bytes");
			break;
		}
		if (r == CTL_TIMEOUT) {
			ctl_err(cn, MXC_CTL_EPROTO, "idle too long");
			break;
		}
		if (r != CTL_LINE || ctl_request(cn, line, len) != 0)
			break;
	}
	rcu_unregister_thread();

	/* off the list before close, so ctl_stop never shuts a reused fd */
	pthread_mutex_lock(&c->mu);
	if (cn->prev != NULL)
		cn->prev->next = cn->next;
	else
		c->conns = cn->next;
	if (cn->next != NULL)
		cn->next->prev = cn->prev;
	close(cn->fd);
	c->nconn--;
	c->nreadonly -= !cn->may_change;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	free(cn);
	return NULL;
}
_Static_assert(MXC_CTL_LINE_MAX == 8192, "the overlong-line messages say 8192");

/*
 * Turn a peer away: one ERR line, then the close.  Its first request may
 * arrive first, briefly: a client that writes to a closed socket gets
 * EPIPE and never reads the answer waiting for it.  So the close waits
 * for that request, CTL_REFUSE_WAIT_MS at most, in c->away: the accept
 * thread polls those descriptors with the listener and never waits on a
 * peer it refused, nor blocks on one that does not read.
 */
static void ctl_turn_away(struct ctl *c, int fd, const char *code, const char *why)
{
	char line[160];
	int n = ctl_format(line, sizeof(line), "ERR", code, why, (char *)NULL);

	if (n > 0 && send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* it learns from the close */
	}
	if (c->naway == CTL_AWAY_MAX) {
		close(c->away[0].fd);
		memmove(c->away, c->away + 1, (CTL_AWAY_MAX - 1) * sizeof(c->away[0]));
		c->naway--;
	}
	c->away[c->naway].fd = fd;
	c->away[c->naway].until_ms = mono_ms() + CTL_REFUSE_WAIT_MS;
	c->naway++;
}

/* Close the turned-away peers whose request came (revents) or whose
 * time is up; pfd[i] is away[i]. */
static void ctl_away_sweep(struct ctl *c, const struct pollfd *pfd)
{
	uint64_t now = mono_ms();
	char buf[512];
	int i, j, k = 0;

	for (i = 0; i < c->naway; i++) {
		if ((pfd != NULL && pfd[i].revents != 0) || now >= c->away[i].until_ms) {
			/* what it sent is read first: a unix socket closed with
			 * unread data resets its peer, who then misses the ERR */
			for (j = 0; j < MXC_CTL_LINE_MAX / (int)sizeof(buf); j++)
				if (recv(c->away[i].fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
					break;
			close(c->away[i].fd);
			continue;
		}
		c->away[k++] = c->away[i];
	}
	c->naway = k;
}


/* Is the peer of fd (credentials uc) a member of group g, primary or not? */
static int ctl_peer_in_group(int fd, const struct ucred *uc, gid_t g)
{
	gid_t groups[CTL_PEER_GROUPS_MAX];
	socklen_t len = sizeof(groups);
	size_t i;

	if (uc->gid == g)
		return 1;
	/* ERANGE: more groups than we look at; they count as not members */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return 0;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == g)
			return 1;
	return 0;
}

/* What ctl_admit() found: the peer may connect, or the limit it is past. */
enum { CTL_ADMIT_OK, CTL_ADMIT_UID, CTL_ADMIT_READONLY, CTL_ADMIT_FULL };

/*
 * May one more connection of uid (may_change: its rights) be served?
 * The pools leave room for those who may change things whatever the
 * others hold: read-only peers share CTL_READONLY_CONN connections, and
 * each uid but root (which can stop the daemon anyway) has at most
 * CTL_UID_CONN, so neither a reader nor one admin's runaway script takes
 * the rest.  Call with c->mu held.
 */
static int ctl_admit(struct ctl *c, uid_t uid, int may_change)
{
	const struct ctl_conn *cn;
	int n = 0;

	if (uid != 0) {
		for (cn = c->conns; cn != NULL; cn = cn->next)
			n += cn->uid == uid;
		if (n >= CTL_UID_CONN)
			return CTL_ADMIT_UID;
	}
	if (!may_change && c->nreadonly >= CTL_READONLY_CONN)
		return CTL_ADMIT_READONLY;
	if (c->nconn >= CTL_MAX_CONN)
		return CTL_ADMIT_FULL;
	return CTL_ADMIT_OK;
}
_Static_assert(CTL_MAX_CONN == 32 && CTL_READONLY_CONN == 8 && CTL_UID_CONN == 8,
	       "the EBUSY messages and the counters' help say 32 and 8");
_Static_assert(CTL_READONLY_CONN < CTL_MAX_CONN && CTL_UID_CONN < CTL_MAX_CONN,
	       "read-only peers and one uid leave connections for the others");

/* Answer a peer past limit (ctl_admit) EBUSY; count it, log once a limit. */
static void ctl_refuse(struct ctl *c, int fd, const struct ucred *uc, int limit)
{
	char why[96];

	switch (limit) {
	case CTL_ADMIT_UID:
		ctr_limit(MXC_CTR_LIMIT_CTL_UID,
			  "ctl: refused pid %ld: %d admin connections from uid %lu open, the most one uid but root may hold",
			  (long)uc->pid, CTL_UID_CONN, (unsigned long)uc->uid);
		snprintf(why, sizeof(why), "too many admin connections from uid %lu (8)", (unsigned long)uc->uid);
		break;
	case CTL_ADMIT_READONLY:
		ctr_limit(MXC_CTR_LIMIT_CTL_READONLY,
			  "ctl: refused uid %lu (pid %ld): %d read-only admin connections open, the most peers "
			  "without change rights may hold", (unsigned long)uc->uid, (long)uc->pid, CTL_READONLY_CONN);
		snprintf(why, sizeof(why), "too many read-only admin connections (8)");
		break;
	default:
		ctr_limit(MXC_CTR_LIMIT_CTL_CONN, "ctl: refused pid %ld: %d admin connections open", (long)uc->pid,
			  CTL_MAX_CONN);
		snprintf(why, sizeof(why), "too many admin connections (32)");
		break;
	}
	ctl_turn_away(c, fd, MXC_CTL_EBUSY, why);
}

static void ctl_accept_one(struct ctl *c, int fd)
{
	struct timeval tv = { .tv_sec = CTL_IDLE_TIMEOUT_S, .tv_usec = 0 };
	struct ucred uc;
	socklen_t ulen = sizeof(uc);
	struct ctl_conn *cn;
	struct config *cfg;
	gid_t read_gid, admin_gid;
	int has_admin, may_change, limit;
	pthread_attr_t attr;
	pthread_t t;
	int e;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ulen) != 0) {
		log_warn("ctl: SO_PEERCRED");
		close(fd);
		return;
	}
	/*
	 * The socket's mode already keeps out whoever is not in its group;
	 * the credentials decide what a peer may do, and keep out a peer
	 * that got in through a looser mode set by hand.
	 */
	rcu_read_lock();
	cfg = config_current();
	read_gid = cfg != NULL ? cfg->gid : getegid();
	has_admin = cfg != NULL && cfg->admin_group[0] != '\0';
	admin_gid = has_admin ? cfg->admin_gid : 0;
	rcu_read_unlock();
	may_change = uc.uid == 0 || uc.uid == geteuid() || (has_admin && ctl_peer_in_group(fd, &uc, admin_gid));
	if (!may_change && !ctl_peer_in_group(fd, &uc, read_gid)) {
		ctr_limit(MXC_CTR_CTL_DENIED,
			  "ctl: refused uid %lu (pid %ld): not root, not mxcached's user, not in its groups",
			  (unsigned long)uc.uid, (long)uc.pid);
		ctl_turn_away(c, fd, MXC_CTL_EPERM,
			      "not root, not mxcached's user, not in [region] group or [ctl] admin_group");
		return;
	}
	pthread_mutex_lock(&c->mu);
	limit = ctl_admit(c, uc.uid, may_change);
	pthread_mutex_unlock(&c->mu);
	if (limit != CTL_ADMIT_OK) {
		ctl_refuse(c, fd, &uc, limit);
		return;
	}

	/* idle clients, and clients that stop reading replies, time out */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
		log_warn("ctl: setsockopt");
		close(fd);
		return;
	}
	cn = calloc(1, sizeof(*cn));
	if (cn == NULL) {
		log_warnx("ctl: out of memory");
		close(fd);
		return;
	}
	cn->ctl = c;
	cn->fd = fd;
	cn->uid = uc.uid;
	cn->pid = uc.pid;
	cn->may_change = may_change;

	pthread_mutex_lock(&c->mu);
	cn->next = c->conns;
	if (c->conns != NULL)
		c->conns->prev = cn;
	c->conns = cn;
	c->nconn++;
	c->nreadonly += !may_change;
	pthread_mutex_unlock(&c->mu);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&t, &attr, ctl_conn_main, cn);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		log_warnx("ctl: cannot start a connection thread: %s", strerror(e));
		pthread_mutex_lock(&c->mu);
		c->conns = cn->next;    /* nobody else adds: we are the accept thread */
		if (cn->next != NULL)
			cn->next->prev = NULL;
		c->nconn--;
		c->nreadonly -= !may_change;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		close(fd);
		free(cn);
	}
}

static void *ctl_accept_main(void *arg)
{
	struct ctl *c = arg;
	struct pollfd pfd[2 + CTL_AWAY_MAX];
	uint64_t now, left;
	int fd, i, timeout, ready;

	pthread_setname_np(pthread_self(), "ctl");
	rcu_register_thread();
	for (;;) {
		/* the turned-away peers first: pfd[i] is away[i] for the sweep */
		timeout = -1;
		now = mono_ms();
		for (i = 0; i < c->naway; i++) {
			pfd[i].fd = c->away[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			left = c->away[i].until_ms > now ? c->away[i].until_ms - now : 0;
			if (timeout == -1 || left < (uint64_t)timeout)
				timeout = (int)left;
		}
		pfd[c->naway].fd = c->lfd;
		pfd[c->naway].events = POLLIN;
		pfd[c->naway + 1].fd = c->stopfd;
		pfd[c->naway + 1].events = POLLIN;
		if (poll(pfd, (nfds_t)c->naway + 2, timeout) < 0) {
			if (errno != EINTR)
				log_warn("ctl: poll");
			continue;
		}
		if (pfd[c->naway + 1].revents != 0)
			break;
		ready = pfd[c->naway].revents & POLLIN;
		ctl_away_sweep(c, pfd);
		if (!ready)
			continue;
		fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("ctl: accept");
				poll(NULL, 0, CTL_ACCEPT_PAUSE_MS);
			}
			continue;
		}
		ctl_accept_one(c, fd);
	}
	/* whoever was turned away learns it from the close */
	for (i = 0; i < c->naway; i++)
		close(c->away[i].fd);
	c->naway = 0;
	rcu_unregister_thread();
	return NULL;
}

/* --- start and stop ---------------------------------------------------------- */

/*
 * A socket file left behind is removed only if nothing answers on it: a
 * live daemon's socket must never be taken over.
 */
static int ctl_clear_stale(const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat sb;
	int fd, rc = -1;

	if (lstat(sun->sun_path, &sb) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "ctl: %s: %s", sun->sun_path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		snprintf(err, errlen, "ctl: %s exists and is not a socket; remove it", sun->sun_path);
		return -1;
	}
	/* non-blocking: a daemon too busy to accept still counts as alive */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(err, errlen, "ctl: socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 || errno == EAGAIN ||
	    errno == EINPROGRESS) {
		snprintf(err, errlen, "ctl: a daemon already answers on %s", sun->sun_path);
		goto done;
	}
	if (errno != ECONNREFUSED && errno != ENOENT) {
		snprintf(err, errlen, "ctl: %s: %s", sun->sun_path, strerror(errno));
		goto done;
	}
	if (unlink(sun->sun_path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "ctl: cannot remove stale %s: %s", sun->sun_path, strerror(errno));
		goto done;
	}
	log_info("ctl: removed stale %s", sun->sun_path);
	rc = 0;
done:
	close(fd);
	return rc;
}

int ctl_open(const char *dir, gid_t gid, struct ctl **out, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct ctl *c;
	int n, bound = 0;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "ctl: out of memory");
		return -1;
	}
	c->lfd = -1;
	c->stopfd = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, MXC_CTL_SOCK);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "ctl: %s/%s: longer than a socket path may be (%zu bytes)", dir, MXC_CTL_SOCK,
			 sizeof(sun.sun_path) - 1);
		goto fail;
	}
	memcpy(c->path, sun.sun_path, sizeof(c->path));
	if (ctl_clear_stale(&sun, err, errlen) != 0)
		goto fail;

	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->lfd == -1) {
		snprintf(err, errlen, "ctl: socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(c->lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		snprintf(err, errlen, "ctl: bind %s: %s", c->path, strerror(errno));
		goto fail;
	}
	bound = 1;
	/* mode after bind: fchmod on a socket does not reach the file */
	if (chmod(c->path, 0660) != 0) {
		snprintf(err, errlen, "ctl: chmod %s: %s", c->path, strerror(errno));
		goto fail;
	}
	if (gid != getegid() && chown(c->path, (uid_t)-1, gid) != 0) {
		snprintf(err, errlen, "ctl: cannot give %s to group %lu: %s", c->path, (unsigned long)gid,
			 strerror(errno));
		goto fail;
	}
	if (listen(c->lfd, CTL_BACKLOG) != 0) {
		snprintf(err, errlen, "ctl: listen %s: %s", c->path, strerror(errno));
		goto fail;
	}
	c->stopfd = eventfd(0, EFD_CLOEXEC);
	if (c->stopfd == -1) {
		snprintf(err, errlen, "ctl: eventfd: %s", strerror(errno));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (c->stopfd != -1)
		close(c->stopfd);
	if (c->lfd != -1)
		close(c->lfd);
	if (bound)
		unlink(c->path);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return -1;
}

void ctl_set_sts(struct ctl *c, struct sts *s)
{
	c->sts = s;
}

int ctl_start(struct ctl *c, struct writer *w, char *err, size_t errlen)
{
	int e;

	c->w = w;
	e = pthread_create(&c->accept_thread, NULL, ctl_accept_main, c);
	if (e != 0) {
		snprintf(err, errlen, "ctl: cannot start the accept thread: %s", strerror(e));
		return -1;
	}
	c->started = 1;
	return 0;
}

void ctl_stop(struct ctl *c)
{
	struct ctl_conn *cn;
	uint64_t one = 1;

	if (c == NULL)
		return;
	if (c->started) {
		if (write(c->stopfd, &one, sizeof(one)) < 0)
			log_warn("ctl: eventfd");
		pthread_join(c->accept_thread, NULL);
	}
	close(c->lfd);
	unlink(c->path);

	/* wake every connection; each finishes what the writer holds for it */
	pthread_mutex_lock(&c->mu);
	for (cn = c->conns; cn != NULL; cn = cn->next)
		shutdown(cn->fd, SHUT_RDWR);
	while (c->nconn > 0)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);

	close(c->stopfd);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
