/*
 * shm/ctl.h - the admin protocol on DIR/ctl.sock, shared by mxcached and
 * shmctl.
 *
 * A stream of lines, each at most MXS_CTL_LINE_MAX bytes with its '\n'.
 * A line is words separated by one space; each word is escaped so that it
 * holds no byte <= 0x20, no 0x7f and no '%': such bytes travel as %XX
 * (upper-case hex).  An empty word travels as "%-".
 *
 * Requests (one line, one reply unless stated):
 *   PING                                 -> OK <pid>
 *   SET <key> <target> <comment>         -> OK <key> <target> | ERR ...
 *   DEL <key>                            -> OK <key> | NOTFOUND <key> | ERR
 *   IMPORT                               -> starts a bulk import; then the
 *        client sends REC <lineno> <key> <target> <comment> lines and
 *        finally END <lines-read>.  The daemon answers, while reading,
 *        BAD <lineno> <reason> for each rejected record, and after END,
 *        once every good record is committed and published,
 *        OK <imported> <bad>.  A batch that cannot be committed ends the
 *        import with ERR and the count committed so far.
 *   STS-FETCH <domain>                   -> OK <policy|none|failed> <summary>
 *        (checks the domain's MTA-STS policy now; replies when the result
 *        is committed and published)
 *   STS-DEL <domain>                     -> OK <domain> | NOTFOUND <domain>
 *   MX-FETCH <domain>                    -> OK <summary> (resolves MX now)
 *   FED-POLICY accept|reject             -> OK <ACCEPT|REJECT> <rules>
 *   FED-LOCAL <domain>                   -> OK <domain> ("%-" clears it)
 *   FED-ADD <domain>                     -> OK <rules> added|exists
 *   FED-DEL <domain>                     -> OK <rules> | NOTFOUND <rules>
 *   FED-FLUSH                            -> OK <removed>
 *   TLS-SET <domain> <policy>            -> OK <domain> <policy> (pins the
 *        domain's TLS policy; replies once committed and published)
 *   TLS-DEL <domain>                     -> OK <domain> | NOTFOUND <domain>
 *   QUIT                                 -> OK, then the daemon closes
 * Errors: ERR <code> <message>, code one of the MXS_CTL_E* words below.
 *
 * The daemon accepts changes only from root, its own uid and the members
 * of [ctl] admin_group (SO_PEERCRED, SO_PEERGROUPS; docs/daemon.md);
 * anyone else who can connect may only PING (and QUIT).
 *
 * Pure helpers, no I/O.  Thread safety: safe.
 */
#ifndef MXC_SHM_CTL_H
#define MXC_SHM_CTL_H

#include <stddef.h>
#include <string.h>

#define MXS_CTL_SOCK       "ctl.sock"
#define MXS_CTL_LINE_MAX   8192      /* bytes per line, '\n' included */
#define MXS_CTL_WORDS_MAX  8         /* words per line */
#define MXS_CTL_BATCH      20000     /* import records per transaction */

/* Error words after ERR; shmctl maps them to exit status. */
#define MXS_CTL_EINVAL  "EINVAL"     /* bad key, target or request (exit 4) */
#define MXS_CTL_EPERM   "EPERM"      /* caller may not change anything (4) */
#define MXS_CTL_ESTORE  "ESTORE"     /* SQLite refused the change (4) */
#define MXS_CTL_EREGION "EREGION"    /* region could not take it (4) */
#define MXS_CTL_EBUSY   "EBUSY"      /* too many admin connections (3) */
#define MXS_CTL_EPROTO  "EPROTO"     /* malformed line (2) */

/*
 * mxc_ctl_escape - escape n bytes of in into out (outlen bytes, NUL added).
 * Returns the escaped length, or -1 if out is too small.
 */
static inline int mxc_ctl_escape(const char *in, size_t n, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, i;

	if (n == 0) {
		if (outlen < 3)
			return -1;
		memcpy(out, "%-", 3);
		return 2;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c <= 0x20 || c == 0x7f || c == '%') {
			if (outlen - o < 4)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			if (outlen - o < 2)
				return -1;
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return (int)o;
}

static inline int mxc_ctl_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * mxc_ctl_unescape - decode word w in place (NUL-terminated).  Returns the
 * decoded length, or -1 for a malformed escape or an embedded NUL.
 */
static inline int mxc_ctl_unescape(char *w)
{
	size_t i = 0, o = 0;

	if (strcmp(w, "%-") == 0) {
		w[0] = '\0';
		return 0;
	}
	while (w[i] != '\0') {
		if (w[i] == '%') {
			int a = mxc_ctl_hexval(w[i + 1]), b;
			if (a < 0)
				return -1;
			b = mxc_ctl_hexval(w[i + 2]);
			if (b < 0 || (a == 0 && b == 0))
				return -1;
			w[o++] = (char)(a * 16 + b);
			i += 3;
		} else {
			w[o++] = w[i++];
		}
	}
	w[o] = '\0';
	return (int)o;
}

/*
 * mxc_ctl_split - split line (NUL-terminated, no '\n') in place into at
 * most max words and unescape each.  Returns the word count, or -1 when
 * there are too many words, an empty word or a bad escape.
 */
static inline int mxc_ctl_split(char *line, char **words, int max)
{
	int n = 0;
	char *p = line, *sp;

	if (*p == '\0')
		return -1;
	for (;;) {
		if (n == max)
			return -1;
		words[n] = p;
		sp = strchr(p, ' ');
		if (sp != NULL)
			*sp = '\0';
		if (*p == '\0' || mxc_ctl_unescape(p) < 0)
			return -1;
		n++;
		if (sp == NULL)
			return n;
		p = sp + 1;
	}
}

#endif /* MXC_SHM_CTL_H */
