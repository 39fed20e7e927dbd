/*
 * daemon/sts_parse.h - MTA-STS (RFC 8461) policy file and TXT record
 * parsers.
 *
 * Both take untrusted bytes straight off the network (an HTTPS body, a DNS
 * TXT record), so they read exactly len bytes (no NUL needed, a NUL inside
 * is an error), never allocate, and fill fixed-size results.  Errors come
 * back as one line of text for the log and for shmctl, naming the line of
 * the policy where there is one.
 *
 * Policy file rules (section 3.2, plus the choices made here):
 *   - lines end in LF or CRLF, the last may lack one; a lone CR is an
 *     error; a line is at most STS_LINE_MAX bytes, the body at most
 *     STS_BODY_MAX;
 *   - empty lines are ignored (the ABNF has none, but a blank line says
 *     nothing and rejecting it would drop a domain's protection over
 *     cosmetics);
 *   - "key:value", no space before ':', SP/TAB after it and at the end of
 *     the line; keys are case-sensitive, (ALPHA/DIGIT) then up to 31 of
 *     ALPHA/DIGIT/"_"/"-"/"."; values are printable ASCII, TAB/SP inside,
 *     or well-formed UTF-8, and not empty;
 *   - version must be "STSv1", mode enforce|testing|none, max_age 1..10
 *     digits; values over STS_MAX_AGE_CAP are capped to it (Errata 7282),
 *     with max_age_capped set;
 *   - mx is "[*.]" plus LDH labels (1..63, no hyphen at either end), at
 *     most 253 bytes in all, ASCII only (U-labels are rejected, the
 *     publisher must write A-labels), no trailing dot; stored lower-case;
 *     a repeat of a pattern already seen is dropped;
 *   - an mx value that is an IP address (a dotted quad, IPv6, either in
 *     brackets, "[IPv6:...]") is never a pattern: RFC 8461 section 4.1
 *     matches MX host names, and a sender would match a certificate
 *     against a name no MX can have.  It is dropped, counted in nmx_ip
 *     (the first kept in mx_ip for the log), and the policy stands on
 *     its other patterns;
 *   - for every key but mx the first occurrence wins; a later one is still
 *     checked as a well-formed line, but its value is not interpreted;
 *   - unknown keys are kept, in order, as extensions (first wins, at most
 *     STS_EXT_MAX distinct keys); an extension value longer than
 *     STS_EXT_VAL_MAX is cut at a UTF-8 character boundary: extensions are
 *     kept for display and reports only, never used in a decision, and a
 *     long one is legal, so it must not cost the domain its policy;
 *   - version, mode and max_age are required; at least one mx pattern
 *     unless mode is none (IP addresses not counted).
 *
 * TXT record rules (section 3.1): "v=STSv1" exactly, then SP/TAB, then ';'
 * or the end, else it is not an STS record at all.  Then fields separated
 * by ';' with SP/TAB allowed around ';' and '=' (as mox accepts), a
 * trailing ';' allowed, ";;" not; "id" is 1..32 of [A-Za-z0-9] and
 * required; for a repeated key the first wins (every repeat is still
 * checked); extension names as in the policy file, values 1* of printable
 * ASCII other than '=' and ';'.
 */
#ifndef MXC_DAEMON_STS_PARSE_H
#define MXC_DAEMON_STS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define STS_BODY_MAX     65536      /* section 3.3 via mox; the fetcher stops here too */
#define STS_LINE_MAX     1024       /* one policy line, CR LF not counted */
#define STS_MAX_AGE_CAP  31557600   /* section 3.2: one year of seconds */
#define STS_MX_MAX       64         /* distinct mx patterns per policy */
#define STS_MX_LEN       253        /* one pattern, "*." included */
#define STS_EXT_MAX      32         /* distinct extension keys per policy */
#define STS_EXT_KEY_MAX  32         /* ABNF: 1 + 31 characters */
#define STS_EXT_VAL_MAX  255        /* bytes kept of an extension value */
#define STS_ID_MAX       32         /* TXT id: 1..32 alphanumerics */
#define STS_MX_IP_MAX    64         /* "[IPv6:" + an IPv6 address + "]" fits */

enum sts_mode {
	STS_MODE_NONE    = 0,
	STS_MODE_TESTING = 1,
	STS_MODE_ENFORCE = 2,
};

/*
 * About 26 KiB, fixed size: callers put it on the stack or the heap as
 * suits them, and copying one never shares a pointer.
 */
struct sts_policy {
	int mode;                       /* enum sts_mode */
	uint32_t max_age;               /* seconds, <= STS_MAX_AGE_CAP */
	int max_age_capped;             /* 1: the file said more than the cap */
	size_t nmx;
	char mx[STS_MX_MAX][STS_MX_LEN + 1];    /* canonical, "*.x" as written */
	size_t nmx_ip;                  /* mx values dropped as IP addresses */
	char mx_ip[STS_MX_IP_MAX + 1];  /* the first of them, as written */
	size_t next;
	struct {
		char key[STS_EXT_KEY_MAX + 1];
		char val[STS_EXT_VAL_MAX + 1];
		int truncated;          /* 1: val is the start of a longer value */
	} ext[STS_EXT_MAX];
};

enum sts_txt_rc {
	STS_TXT_OK      = 0,
	STS_TXT_NOT_STS = 1,            /* some other TXT record: skip it */
	STS_TXT_BAD     = -1,           /* an STS record, but malformed */
};

/*
 * sts_policy_parse - parse a policy file body of len bytes.
 * Returns 0 with *p filled, or -1 with *p zeroed and a one-line message in
 * err ("line 3: mode: 'bad' is not enforce, testing or none").  err may be
 * NULL or errlen 0.
 * Thread safety: safe, no shared state.
 */
int sts_policy_parse(const char *body, size_t len, struct sts_policy *p, char *err, size_t errlen);

/*
 * sts_txt_parse - parse one TXT record of len bytes (its strings joined).
 * Returns STS_TXT_OK with the id in id (NUL-terminated); otherwise id is
 * set to "" and err (may be NULL) says why, also for STS_TXT_NOT_STS.
 * Counting STS records among a name's TXT set (exactly one must parse, RFC
 * 8461 section 3.1) is the caller's business.
 * Thread safety: safe, no shared state.
 */
int sts_txt_parse(const char *txt, size_t len, char id[STS_ID_MAX + 1], char *err, size_t errlen);

/*
 * sts_mode_name - "none", "testing" or "enforce"; "invalid" for anything
 * else.  Static text.
 * Thread safety: safe.
 */
const char *sts_mode_name(int mode);

/*
 * sts_policy_text - *p as a policy file (CRLF lines: version, mode, the mx
 * lines, max_age, the extensions), which sts_policy_parse() reads back to
 * the same mode, max_age, patterns and extensions (the two flags, having
 * done their work, read back as 0).  Works like snprintf(): writes at most
 * outlen bytes, always NUL-terminated when outlen > 0, and returns the
 * length the whole text needs (without the NUL), or -1 if mode, nmx or
 * next is out of range.
 * Thread safety: safe, no shared state.
 */
int sts_policy_text(const struct sts_policy *p, char *out, size_t outlen);

#endif /* MXC_DAEMON_STS_PARSE_H */
