/*
 * client/shmctl.h - what the parts of shmctl share; private to shmctl.
 *
 *   shmctl.c         main, the command table, usage; resolve, resolve-mx,
 *                    override get and list (through libmxcache)
 *   shmctl_region.c  status, metrics, verify, readers, unlink
 *   shmctl_access.c  which group a refused file needs
 *   shmctl_complete.c  the bash completion, from the command table
 *   shmctl_ctl.c     every override change (through mxcached on
 *                    DIR/ctl.sock), import
 *   shmctl_csv.c     the CSV of import and export
 *   shmctl_sts.c, shmctl_fed.c, shmctl_stats.c, shmctl_servers.c
 *                    MTA-STS, federation, delivery stats, servers
 *   shmctl_tls.c     TLS pins
 */
#ifndef MXC_SHMCTL_H
#define MXC_SHMCTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* exit statuses, fixed by the interface contract */
enum {
	SC_OK       = 0,	/* found / done */
	SC_NOTFOUND = 1,
	SC_USAGE    = 2,
	SC_UNAVAIL  = 3,	/* daemon or region unavailable */
	SC_ERROR    = 4,
};

struct sc_ctx {
	const char *dir;	/* state directory, resolved */
	int json;		/* --json given */
	int verbose;		/* --verbose given */
	const char *sort;	/* --sort KEY, or NULL */
};

/*
 * The command table (shmctl.c): one descriptor per command, which main
 * dispatches on and from which the usage and the shell completion
 * (shmctl_complete.c) are made.  A command is named by one to
 * SC_WORDS_MAX words ("federation rule add"); no command's words are the
 * first words of another's.
 */
#define SC_WORDS_MAX   3
#define SC_SORT_KEYS   "queued failures latency"	/* stats --sort */
#define SC_ARG_FILE    "@file"			/* complete: a file name */

enum {
	SC_F_JSON    = 1 << 0,	/* takes --json */
	SC_F_SORT    = 1 << 1,	/* takes --sort KEY */
	SC_F_VERBOSE = 1 << 2,	/* takes --verbose */
	SC_F_CTL     = 1 << 3,	/* a request to mxcached on DIR/ctl.sock */
	SC_F_LOCAL   = 1 << 4,	/* neither: files in tmpfs, or nothing at all */
};

struct sc_command {
	const char *words[SC_WORDS_MAX];	/* NULL after the last */
	int min, max;			/* positional arguments after the words */
	unsigned flags;			/* SC_F_* */
	int (*run)(const struct sc_ctx *, char **, int);
	const char *args;		/* the arguments, for the usage: "KEY TARGET [COMMENT]" */
	const char *complete;		/* the first argument's values, blank-separated; SC_ARG_FILE; NULL */
	const char *what;		/* one line for the usage */
};

extern const struct sc_command sc_commands[];
extern const size_t sc_ncommands;

/* sc_synopsis - "override set KEY TARGET [COMMENT]" with its options */
void sc_synopsis(const struct sc_command *cmd, char *buf, size_t len);

/* shell completion (shmctl_complete.c): completion bash */
int sc_cmd_completion(const struct sc_ctx *c, char **av, int ac);

/* sc_err - "shmctl: <message>\n" on stderr */
void sc_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sc_print_clean - s with control bytes as \xNN: comments are user data,
 * and a stray ESC must not reach the terminal */
void sc_print_clean(FILE *f, const char *s);

/* Shared by the command files (shmctl.c). */
struct json_object;
struct mxc;
const char *sc_iso_time(int64_t t, char *buf, size_t len);   /* "-" for t <= 0 */
void sc_jset(struct json_object *o, const char *k, struct json_object *v, int *oom);
void sc_jstr(struct json_object *o, const char *k, const char *v, int *oom);
void sc_jint(struct json_object *o, const char *k, int64_t v, int *oom);
void sc_juint(struct json_object *o, const char *k, uint64_t v, int *oom);
int sc_json_print(struct json_object *o, int oom);          /* prints and frees o */
int sc_region_open(const struct sc_ctx *c, struct mxc **h);  /* SC_* */

/* The region itself (shmctl_region.c). */
int sc_cmd_status(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_metrics(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_verify(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_readers(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_unlink(const struct sc_ctx *c, char **av, int ac);

/* After "Permission denied" (shmctl_access.c): sc_access_hint says which
 * group path is open to and how this process stands with it, who being
 * what membership would allow; sc_region_denied reports a region that
 * cannot be read, with the hint. */
void sc_access_hint(const char *path, const char *who);
void sc_region_denied(const struct sc_ctx *c);

/* MTA-STS commands (shmctl_sts.c). */
int sc_cmd_sts_get(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_sts_list(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_sts_fetch(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_sts_del(const struct sc_ctx *c, char **av, int ac);

/* TLS pins (shmctl_tls.c). */
int sc_cmd_tls_set(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_tls_del(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_tls_get(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_tls_list(const struct sc_ctx *c, char **av, int ac);

/* Delivery stats (shmctl_stats.c), server tracker (shmctl_servers.c). */
int sc_cmd_stats(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_servers(const struct sc_ctx *c, char **av, int ac);

/* Federation commands (shmctl_fed.c). */
int sc_cmd_fed_policy(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_fed_local(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_fed_rule_add(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_fed_rule_del(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_fed_rule_flush(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_fed_rule_list(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_fed_check(const struct sc_ctx *c, char **av, int ac);

/* sc_ctl_request - one request line to mxcached, its reply's words in
 * w[0..nw) (shmctl_ctl.c).  Returns SC_*; errors already printed. */
int sc_ctl_request(const struct sc_ctx *c, const char *req, size_t reqlen, char *reply, char **w, int nw);
/* sc_ctl_line - build "WORD ARG\n" escaped into req; -1 if too long */
int sc_ctl_line(char *req, size_t cap, size_t *len, const char *word, const char *arg);

/* Commands that go through mxcached (shmctl_ctl.c).  av holds ac positional
 * arguments after the command words; each returns an exit status. */
int sc_cmd_ping(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_override_set(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_override_del(const struct sc_ctx *c, char **av, int ac);
int sc_cmd_override_import(const struct sc_ctx *c, char **av, int ac);

/*
 * CSV (shmctl_csv.c): key,target[,comment] records, RFC 4180.  A quoted
 * field may hold commas, "" for a quote, and line breaks: a record ends at
 * the first line break outside quotes.  A line whose first non-blank is
 * '#' is a comment, quotes in it included.
 */
#define CSV_FIELDS 3            /* key, target, comment */

enum csv_state {
	CSV_REC_START,          /* nothing but blanks yet */
	CSV_FIELD_START,        /* after a comma, blanks skipped */
	CSV_UNQUOTED,
	CSV_QUOTED,             /* inside quotes: commas and line breaks are data */
	CSV_QUOTE_SEEN,         /* a quote inside quotes: "" or the closing one */
	CSV_COMMENT,
};

struct csv_scan {
	enum csv_state state;
	uint64_t newlines;      /* line breaks passed, for the caller to take */
};

/* csv_scan_reset - before the first record */
void csv_scan_reset(struct csv_scan *cs);

/*
 * csv_scan - go on scanning a record through p[0..n), which continues
 * what the earlier calls since the last record end were given.  Returns
 * the bytes taken: up to and including the line break that ends the
 * record (*end = 1, the state ready for the next one), or n (*end = 0).
 * At the end of the input, cs->state == CSV_QUOTED is a quote never closed.
 */
size_t csv_scan(struct csv_scan *cs, const char *p, size_t n, int *end);

/*
 * csv_split - split one whole record of n bytes (its line break removed)
 * in place into at most CSV_FIELDS fields f[] of flen[] bytes (not
 * NUL-terminated; a quoted one unescaped, and may hold line breaks).
 * Blanks around a field are dropped (keys and targets cannot hold them;
 * quote a comment to keep them).  Returns the field count, or -1 and *why.
 */
int csv_split(char *s, size_t n, char **f, size_t *flen, const char **why);

/* csv_is_header - fields that read key,target[,comment], in any case */
int csv_is_header(char *const *f, const size_t *flen, int nf);

/* csv_line_break - the name of the first field ("key", "target",
 * "comment") holding a line break, or NULL */
const char *csv_line_break(char *const *f, const size_t *flen, int nf);

/* csv_span - "line A", or "lines A-B" when the record spans lines */
#define CSV_SPAN_LEN 48
const char *csv_span(uint64_t a, uint64_t b, char *buf, size_t len);

/* override export: every override as CSV that import reads back. */
int sc_cmd_override_export(const struct sc_ctx *c, char **av, int ac);

#endif /* MXC_SHMCTL_H */
