/*
 * daemon/ctl_cmd.c - the admin requests: the command table and a handler
 * for each command.
 *
 * Every word a client sends is validated here (override_parse) before the
 * writer sees it: validation is pure, so connections do it in parallel,
 * and an import can answer BAD for a record as soon as it reads it.
 */
#include "ctl_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <urcu.h>

#include "arena.h"
#include "config.h"
#include "counters.h"
#include "fed.h"
#include "log.h"
#include "override.h"
#include "sts.h"
#include "tlspin.h"
#include "writer.h"
#include "shm/fed.h"
#include "shm/key.h"

/* --- the overrides ---------------------------------------------------------- */

/* The ERR code of a writer status. */
static const char *ctl_code(int status)
{
	switch (status) {
	case WRITER_ESTORE:
		return MXS_CTL_ESTORE;
	case WRITER_EREGION:
		return MXS_CTL_EREGION;
	default:
		return MXS_CTL_EINVAL;
	}
}

/* SET <key> <target> <comment> -> OK <key> <target> */
static int ctl_set(struct ctl_conn *cn, char **words, int n)
{
	struct override_buf b;
	struct override o;
	struct writer_cmd cmd;
	char err[OVERRIDE_ERR_MAX];
	int rc;

	if (n != 4)
		return ctl_err(cn, MXS_CTL_EPROTO, "usage: SET <key> <target> <comment>");
	if (override_parse(words[1], words[2], words[3], &b, &o, err, sizeof(err)) != 0)
		return ctl_err(cn, MXS_CTL_EINVAL, err);
	writer_cmd_init(&cmd, WRITER_SET, &o, 1);
	writer_run(cn->w, &cmd);
	if (cmd.status == WRITER_OK) {
		log_info("ctl: uid %lu set %s -> %s", (unsigned long)cn->uid, o.key, o.target);
		rc = ctl_send(cn, "OK", o.key, o.target, (char *)NULL);
	} else {
		rc = ctl_err(cn, ctl_code(cmd.status), cmd.msg);
	}
	writer_cmd_destroy(&cmd);
	return rc;
}

/* DEL <key> -> OK <key> | NOTFOUND <key> */
static int ctl_del(struct ctl_conn *cn, char **words, int n)
{
	struct override o;
	struct writer_cmd cmd;
	char key[MXK_MAX_LEN + 1], err[OVERRIDE_ERR_MAX];
	size_t klen;
	int rc;

	if (n != 2)
		return ctl_err(cn, MXS_CTL_EPROTO, "usage: DEL <key>");
	if (override_key(words[1], key, &klen, err, sizeof(err)) != 0)
		return ctl_err(cn, MXS_CTL_EINVAL, err);
	memset(&o, 0, sizeof(o));
	o.key = key;
	o.klen = (uint16_t)klen;
	o.target = o.comment = "";
	writer_cmd_init(&cmd, WRITER_DEL, &o, 1);
	writer_run(cn->w, &cmd);
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
		ctl_err(cn, MXS_CTL_EINVAL, "not a domain name");
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
		return ctl_err(cn, MXS_CTL_EPROTO, "usage: STS-FETCH <domain>");
	if (ctl_domain(cn, words[1], d) != 0)
		return 0;
	rc = sts_fetch_now(cn->sts, d, msg, sizeof(msg));
	if (rc < 0 || rc > STS_CHECK_FAILED)
		return ctl_err(cn, MXS_CTL_ESTORE, msg);
	log_info("ctl: uid %lu fetched the MTA-STS policy of %s: %s", (unsigned long)cn->uid, d, msg);
	return ctl_send(cn, "OK", cls[rc], msg, (char *)NULL);
}

/* STS-DEL <domain> -> OK <domain> | NOTFOUND <domain> */
static int ctl_sts_del(struct ctl_conn *cn, char **words, int n)
{
	char d[MXK_MAX_LEN + 1], msg[256];
	int rc;

	if (n != 2)
		return ctl_err(cn, MXS_CTL_EPROTO, "usage: STS-DEL <domain>");
	if (ctl_domain(cn, words[1], d) != 0)
		return 0;
	rc = sts_forget(cn->sts, d, msg, sizeof(msg));
	if (rc < 0)
		return ctl_err(cn, MXS_CTL_ESTORE, msg);
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
		return ctl_err(cn, MXS_CTL_EPROTO, "usage: MX-FETCH <domain>");
	if (ctl_domain(cn, words[1], d) != 0)
		return 0;
	if (sts_mx_fetch_now(cn->sts, d, msg, sizeof(msg)) != 0)
		return ctl_err(cn, MXS_CTL_ESTORE, msg);
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

	rc = fed_change(cn->w, op, d, arg, &count, msg, sizeof(msg));
	if (rc < 0)
		return ctl_err(cn, MXS_CTL_ESTORE, msg);
	log_info("ctl: uid %lu federation: %s %s", (unsigned long)cn->uid, name, what);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)count);
	switch (op) {
	case FED_POLICY:
		return ctl_send(cn, "OK", arg == MXS_FED_REJECT ? "REJECT" : "ACCEPT", num, (char *)NULL);
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
		return ctl_err(cn, MXS_CTL_EPROTO, "usage: FED-POLICY accept|reject");
	arg = strcasecmp(words[1], "reject") == 0 ? MXS_FED_REJECT : MXS_FED_ACCEPT;
	return ctl_fed_change(cn, words[0], FED_POLICY, "", arg, words[1]);
}

/* FED-LOCAL, FED-ADD and FED-DEL: one domain or IP literal, made canonical;
 * FED-LOCAL also takes an empty word, which clears the local domain. */
static int ctl_fed_domain(struct ctl_conn *cn, char **words, int n, enum fed_op op)
{
	char d[MXK_MAX_LEN + 1] = "";
	size_t len;

	if (n != 2)
		return ctl_err(cn, MXS_CTL_EPROTO, "usage: FED-LOCAL|FED-ADD|FED-DEL <domain>");
	if (!(op == FED_LOCAL && words[1][0] == '\0') && mxk_normalize(words[1], d, sizeof(d), &len, NULL) != MXK_OK)
		return ctl_err(cn, MXS_CTL_EINVAL, "not a domain name or IP literal");
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
		return ctl_err(cn, MXS_CTL_EPROTO, "usage: FED-FLUSH");
	return ctl_fed_change(cn, words[0], FED_FLUSH, "", 0, "");
}

/* --- TLS pins --------------------------------------------------------------- */

/* TLS-SET <domain> <policy> -> OK <domain> <policy> */
static int ctl_tls_set(struct ctl_conn *cn, char **words, int n)
{
	char d[MXK_MAX_LEN + 1], err[TLSPIN_ERR_MAX], msg[WRITER_MSG_MAX];
	size_t dlen;
	int rc;

	if (n != 3)
		return ctl_err(cn, MXS_CTL_EPROTO, "usage: TLS-SET <domain> <policy>");
	if (tlspin_domain(words[1], d, &dlen, err, sizeof(err)) != 0 ||
	    tlspin_policy(words[2], err, sizeof(err)) != 0)
		return ctl_err(cn, MXS_CTL_EINVAL, err);
	rc = tlspin_change(cn->w, d, words[2], NULL, NULL, msg, sizeof(msg));
	if (rc < 0)
		return ctl_err(cn, MXS_CTL_ESTORE, msg);
	log_info("ctl: uid %lu pinned the TLS policy of %s: %s", (unsigned long)cn->uid, d, words[2]);
	return ctl_send(cn, "OK", d, words[2], (char *)NULL);
}

/* TLS-DEL <domain> -> OK <domain> | NOTFOUND <domain> */
static int ctl_tls_del(struct ctl_conn *cn, char **words, int n)
{
	char d[MXK_MAX_LEN + 1], err[TLSPIN_ERR_MAX], msg[WRITER_MSG_MAX];
	size_t dlen;
	int rc;

	if (n != 2)
		return ctl_err(cn, MXS_CTL_EPROTO, "usage: TLS-DEL <domain>");
	if (tlspin_domain(words[1], d, &dlen, err, sizeof(err)) != 0)
		return ctl_err(cn, MXS_CTL_EINVAL, err);
	rc = tlspin_change(cn->w, d, NULL, NULL, NULL, msg, sizeof(msg));
	if (rc < 0)
		return ctl_err(cn, MXS_CTL_ESTORE, msg);
	if (rc == TLSPIN_NOTFOUND)
		return ctl_send(cn, "NOTFOUND", d, (char *)NULL);
	log_info("ctl: uid %lu deleted the TLS pin of %s", (unsigned long)cn->uid, d);
	return ctl_send(cn, "OK", d, (char *)NULL);
}

/* --- IMPORT ---------------------------------------------------------------- */

/* One import batch: the records and the arena holding their strings. */
struct ctl_batch {
	struct override *recs;
	size_t n;
	struct arena arena;
	struct writer_cmd cmd;
	int inflight;
};

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
		im->b[i].recs = malloc(MXS_CTL_BATCH * sizeof(*im->b[i].recs));
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
	writer_submit(cn->w, &b->cmd);
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
		snprintf(im->fail_code, sizeof(im->fail_code), "%s", MXS_CTL_ESTORE);
		snprintf(im->fail_msg, sizeof(im->fail_msg), "mxcached is out of memory");
		return -1;
	}
	if (++b->n == MXS_CTL_BATCH)
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
	ctl_send(cn, "ERR", MXS_CTL_EPROTO, msg, num, (char *)NULL);
}

/*
 * REC lines until END.  Returns 0 to keep the connection, -1 to close it
 * (client gone, protocol error, failed batch).
 */
static int ctl_import_run(struct ctl_conn *cn)
{
	struct ctl_import im;
	char *line, *words[MXS_CTL_WORDS_MAX], num1[24], num2[24];
	size_t len;
	uint64_t lineno, lines_read = 0;
	int rc = -1, n, r;

	if (ctl_import_init(&im) != 0) {
		ctl_err(cn, MXS_CTL_ESTORE, "mxcached is out of memory");
		goto done;
	}
	for (;;) {
		r = ctl_readline(cn, &line, &len);
		if (r == CTL_LONG) {
			ctl_import_abort(cn, &im, CTL_LONG_MSG);
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
		return ctl_err(cn, MXS_CTL_EPROTO, "usage: IMPORT");
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
	return ctl_err(cn, MXS_CTL_EPROTO, "unknown command");
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
	{ "TLS-SET",    CTL_NEEDS_CHANGE,                  ctl_tls_set },
	{ "TLS-DEL",    CTL_NEEDS_CHANGE,                  ctl_tls_del },
	/* as FED-: a peer without change rights learns nothing */
	{ "TLS-*",      CTL_NEEDS_CHANGE,                  ctl_unknown },
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

int ctl_request(struct ctl_conn *cn, char *line, size_t len)
{
	char *words[MXS_CTL_WORDS_MAX], msg[CONFIG_USER_MAX + CONFIG_GROUP_MAX + 160];
	const struct ctl_cmd *cmd;
	int n = ctl_words(line, len, words);

	if (n < 0)
		return ctl_err(cn, MXS_CTL_EPROTO, "malformed line");
	cmd = ctl_cmd_find(words[0]);
	if (cmd == NULL)
		return ctl_unknown(cn, words, n);
	if ((cmd->needs & CTL_NEEDS_CHANGE) && !cn->may_change) {
		ctr_limit(MXS_CTR_CTL_DENIED, "ctl: uid %lu (pid %ld) may not change the caches: refused",
			  (unsigned long)cn->uid, (long)cn->pid);
		return ctl_err(cn, MXS_CTL_EPERM, ctl_who_may(msg, sizeof(msg)));
	}
	if ((cmd->needs & CTL_NEEDS_STS) && cn->sts == NULL)
		return ctl_err(cn, MXS_CTL_EPROTO, "MTA-STS is not running");
	return cmd->run(cn, words, n);
}
