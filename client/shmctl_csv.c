/*
 * shmctl_csv.c - the CSV that override import reads and override export
 * writes: key,target[,comment], RFC 4180.
 *
 * Our own rather than a library: a record holds at most three fields, and
 * no CSV library is in Debian's core set.  Reading comes in two steps:
 * csv_scan finds where a record ends (a quoted field may hold line breaks,
 * so a record can span lines), fed the input as it arrives; csv_split then
 * splits the whole record.  The two share one reading of where a quoted
 * field starts, so text between quotes is never taken for a record of its
 * own, whatever it looks like.
 */
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client/mxcache.h"
#include "client/shmctl.h"

/* csv_blank - the blanks dropped around unquoted fields */
static int csv_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

void csv_scan_reset(struct csv_scan *cs)
{
	cs->state = CSV_REC_START;
	cs->newlines = 0;
}

size_t csv_scan(struct csv_scan *cs, const char *p, size_t n, int *end)
{
	size_t i;
	char ch;

	*end = 0;
	for (i = 0; i < n; i++) {
		ch = p[i];
		if (ch == '\n')
			cs->newlines++;
		switch (cs->state) {
		case CSV_REC_START:
			/* as import_record: a first non-blank '#' makes a comment
			 * line, and quotes in it open nothing */
			if (ch == '#') {
				cs->state = CSV_COMMENT;
				continue;
			}
			/* fall through */
		case CSV_FIELD_START:
			if (csv_blank(ch))
				continue;
			if (ch == '"')
				cs->state = CSV_QUOTED;
			else if (ch == ',')
				cs->state = CSV_FIELD_START;
			else if (ch != '\n')
				cs->state = CSV_UNQUOTED;
			break;
		case CSV_UNQUOTED:
			/* a quote inside an unquoted field is a plain character */
			if (ch == ',')
				cs->state = CSV_FIELD_START;
			break;
		case CSV_QUOTED:
			if (ch == '"')
				cs->state = CSV_QUOTE_SEEN;
			continue;       /* a line break here is part of the field */
		case CSV_QUOTE_SEEN:
			/* "" is a quote inside the field; anything else closes it,
			 * and text after the closing quote is csv_split's error */
			if (ch == '"')
				cs->state = CSV_QUOTED;
			else if (ch == ',')
				cs->state = CSV_FIELD_START;
			else if (ch != '\n')
				cs->state = CSV_UNQUOTED;
			break;
		case CSV_COMMENT:
			break;
		}
		if (ch == '\n') {
			cs->state = CSV_REC_START;
			*end = 1;
			return i + 1;
		}
	}
	return n;
}

int csv_split(char *s, size_t n, char **f, size_t *flen, const char **why)
{
	char *end = s + n, *p = s, *out, *e;
	int nf = 0;

	for (;;) {
		while (p < end && csv_blank(*p))
			p++;
		if (nf == CSV_FIELDS) {
			*why = "too many fields (expected key,target[,comment]; quote a comment with commas)";
			return -1;
		}
		if (p < end && *p == '"') {
			f[nf] = out = ++p;
			for (;;) {
				if (p == end) {
					/* csv_scan ends a record only past the closing
					 * quote, but for the end of the input */
					*why = "unterminated quoted field";
					return -1;
				}
				if (*p == '"' && p + 1 < end && p[1] == '"') {
					*out++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*out++ = *p++;
				}
			}
			flen[nf] = (size_t)(out - f[nf]);
			while (p < end && csv_blank(*p))
				p++;
			if (p < end && *p != ',') {
				*why = "text after a closing quote";
				return -1;
			}
		} else {
			for (f[nf] = p; p < end && *p != ','; p++)
				;
			for (e = p; e > f[nf] && csv_blank(e[-1]); e--)
				;
			flen[nf] = (size_t)(e - f[nf]);
		}
		nf++;
		if (p == end)
			return nf;
		p++;	/* the comma */
	}
}

static const char *const csv_field_name[CSV_FIELDS] = { "key", "target", "comment" };

static int csv_is(const char *f, size_t n, const char *word)
{
	return n == strlen(word) && strncasecmp(f, word, n) == 0;
}

int csv_is_header(char *const *f, const size_t *flen, int nf)
{
	return nf >= 2 && csv_is(f[0], flen[0], csv_field_name[0]) && csv_is(f[1], flen[1], csv_field_name[1]) &&
	       (nf == 2 || csv_is(f[2], flen[2], csv_field_name[2]));
}

const char *csv_line_break(char *const *f, const size_t *flen, int nf)
{
	int i;

	for (i = 0; i < nf; i++)
		if (memchr(f[i], '\n', flen[i]) != NULL)
			return csv_field_name[i];
	return NULL;
}

const char *csv_span(uint64_t a, uint64_t b, char *buf, size_t len)
{
	if (a >= b)
		snprintf(buf, len, "line %" PRIu64, a);
	else
		snprintf(buf, len, "lines %" PRIu64 "-%" PRIu64, a, b);
	return buf;
}

/* --- override export ------------------------------------------------------ */

/*
 * csv_put - one field, quoted when import would read it otherwise: with a
 * comma, a quote or a line break in it, or blanks at either end (dropped
 * from unquoted fields).  Keys and targets never need it; comments may.
 */
static void csv_put(FILE *f, const char *s)
{
	size_t n = strlen(s);

	if (strpbrk(s, ",\"\r\n") == NULL && (n == 0 || (!csv_blank(s[0]) && !csv_blank(s[n - 1])))) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static int export_one(const struct mxc_override *o, void *arg)
{
	FILE *f = arg;

	csv_put(f, o->key);
	fputc(',', f);
	csv_put(f, o->target);
	fputc(',', f);
	csv_put(f, o->comment);
	fputc('\n', f);
	return ferror(f) ? 1 : 0;	/* a closed pipe or a full disk: stop walking */
}

/*
 * export_open - FILE is written under a temporary name beside it and
 * renamed over it only once complete and flushed to disk: an export that
 * fails half-way (a full disk, a killed shmctl) never leaves a cut-off
 * backup in FILE's place, and a reader of FILE sees the old or the new
 * one whole.  The temporary name is made by mkstemp (O_EXCL), so nothing
 * planted in the directory is followed or written through.
 */
static FILE *export_open(const char *file, char *tmp, size_t tmplen)
{
	mode_t um;
	FILE *f;
	int fd;

	if ((size_t)snprintf(tmp, tmplen, "%s.XXXXXX", file) >= tmplen) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if ((fd = mkstemp(tmp)) < 0)
		return NULL;
	/* mkstemp makes it 0600: give it what a plain "> FILE" would */
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) != 0 || (f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return NULL;
	}
	return f;
}

static int export_close(FILE *f, const char *tmp, const char *file, int ok)
{
	int bad = !ok || fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
	int e = errno;

	if (fclose(f) != 0 && !bad) {
		bad = 1;
		e = errno;
	}
	if (!bad && rename(tmp, file) == 0)
		return 0;
	if (!bad)
		e = errno;
	unlink(tmp);
	errno = e;
	return -1;
}

int sc_cmd_override_export(const struct sc_ctx *c, char **av, int ac)
{
	const char *file = (ac > 0 && strcmp(av[0], "-") != 0) ? av[0] : NULL;
	char tmp[PATH_MAX];
	mxc_t *h = NULL;
	FILE *f = stdout;
	int ex, rc;

	if ((ex = sc_region_open(c, &h)) != SC_OK)
		goto out;
	if (file != NULL && (f = export_open(file, tmp, sizeof tmp)) == NULL) {
		sc_err("%s: %s", file, strerror(errno));
		ex = SC_ERROR;
		goto out;
	}
	/* the header import skips; comments are written as they are stored
	 * (the daemon keeps no control characters in them), not cleaned for
	 * a terminal: the output is data, to be imported again */
	fputs("key,target,comment\n", f);
	rc = mxc_override_foreach(h, export_one, f);
	if (rc < 0) {
		sc_err("%s: %s", c->dir, mxc_strerror(rc));
		ex = SC_ERROR;
	}
	if (file != NULL && export_close(f, tmp, file, ex == SC_OK) != 0 && ex == SC_OK) {
		sc_err("%s: %s (nothing written)", file, strerror(errno));
		ex = SC_ERROR;
	} else if (file == NULL && (fflush(stdout) != 0 || ferror(stdout)) && ex == SC_OK) {
		sc_err("stdout: %s", strerror(errno));
		ex = SC_ERROR;
	}
out:
	mxc_close(h);
	return ex;
}
