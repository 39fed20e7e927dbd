/*
 * daemon/ctl_line.c - the admin protocol's line format on the daemon's
 * side (shm/ctl.h): reading lines from a connection, splitting them into
 * words, and writing replies.
 */
#include "ctl_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/*
 * Escape and join the NULL-terminated words into out with a '\n'.
 * Returns the length, or -1 if the line would exceed MXS_CTL_LINE_MAX
 * (replies are built from bounded fields, so that is a bug).
 */
static int ctl_vformat(char *out, size_t outlen, const char *first, va_list ap)
{
	const char *w = first;
	size_t o = 0;
	int n;

	if (outlen > MXS_CTL_LINE_MAX)
		outlen = MXS_CTL_LINE_MAX;
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

int ctl_format(char *out, size_t outlen, const char *first, ...)
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

int ctl_send(struct ctl_conn *cn, const char *first, ...)
{
	char line[MXS_CTL_LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, first);
	n = ctl_vformat(line, sizeof(line), first, ap);
	va_end(ap);
	if (n < 0) {
		log_warnx("ctl: reply to pid %ld does not fit in a line", (long)cn->pid);
		n = ctl_format(line, sizeof(line), "ERR", MXS_CTL_EPROTO, "reply too long", (char *)NULL);
	}
	return ctl_write(cn->fd, line, (size_t)n);
}

int ctl_err(struct ctl_conn *cn, const char *code, const char *msg)
{
	return ctl_send(cn, "ERR", code, msg, (char *)NULL);
}

int ctl_readline(struct ctl_conn *cn, char **line, size_t *linelen)
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
		/* the '\n' counts towards MXS_CTL_LINE_MAX */
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
int ctl_words(char *line, size_t len, char **words)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20) || c == 0x7f)
			return -1;
	}
	return mxc_ctl_split(line, words, MXS_CTL_WORDS_MAX);
}

int ctl_uint(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return (errno != 0 || *end != '\0') ? -1 : 0;
}
