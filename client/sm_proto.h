/*
 * client/sm_proto.h - Postfix's socketmap_table protocol as
 * mxcache-socketmap speaks it, with no socket in sight: bytes in, replies
 * out (client/sm_proto.c).  A request is a netstring "name key"; a reply
 * is a netstring "OK data", "NOTFOUND ", "TEMP reason" or "PERM reason".
 * The maps: mtasts, mtasts-tlsrpt, transport, federation.
 *
 * First contact: an mtasts request for a domain the region knows nothing
 * about waits for the daemon's check, up to miss_wait_ms.  The stream
 * then holds that request unanswered (waiting), and the requests behind
 * it on the same connection wait behind it, so replies keep their order;
 * the caller stops reading the connection meanwhile and calls sm_parse
 * again when the region changes or the wait is over (sm_wait_due).
 *
 * One thread: nothing here is thread-safe.
 */
#ifndef MXC_CLIENT_SM_PROTO_H
#define MXC_CLIENT_SM_PROTO_H

#include <stddef.h>
#include <time.h>

#include "mxcache.h"
#include "../shm/smstats.h"

#define SM_QUERY_MAX      10000      /* Postfix's own limit for a query */
#define SM_REPLY_MAX      100000     /* Postfix's limit for a reply (socketmap_max_reply_size) */
#define SM_LEN_DIGITS     10         /* digits of a length, leading zeros included */
#define SM_IN_MAX         (SM_LEN_DIGITS + 1 + SM_QUERY_MAX + 1)
#define SM_TRANSPORT_MAX  32         /* bytes of the transport in transport answers */
#define SM_OUT_START      4096       /* a connection's first reply buffer; it doubles */

/* One connection's protocol state: request bytes waiting, replies queued. */
struct sm_stream {
	int closing;                 /* close once out is flushed */
	time_t idle_since;           /* accepted, or the last request answered */
	time_t req_since;            /* first byte of the incomplete request, or 0 */
	size_t inlen;
	char in[SM_IN_MAX];
	char *out;                   /* replies, outoff..outlen not yet sent */
	size_t outlen, outoff, outcap;
	int waiting;                 /* the first request in `in` waits for a check */
	int64_t wait_until_ms;       /* monotonic ms: then it is answered NOTFOUND */
	int64_t wait_asked_ms;       /* when the check was last asked for */
};

/* What the maps answer from. */
struct sm_maps_conf {
	mxc_t *h;                    /* the region, open */
	int strict_testing;          /* a testing-mode policy answered as enforce */
	int tlsrpt;                  /* TLSRPT attributes in mtasts answers (mtasts-tlsrpt: always) */
	int miss_wait_ms;            /* first contact: wait this long for the check (0: never) */
	char transport[SM_TRANSPORT_MAX + 1];   /* transport answers' transport */
	size_t transport_len;        /* set by sm_proto_init */
};

/* mxcached's counters, or NULL when run without --stats-fd */
extern struct mxc_sm_stats *sm_stats;

/* sm_proto_init - the maps answer from (a copy of) conf from now on. */
void sm_proto_init(const struct sm_maps_conf *conf);

/*
 * sm_parse - answer every complete netstring in c->in, bytes that arrived
 * at now, into c->out; a request completed sets c->idle_since, the first
 * byte of one still incomplete c->req_since.  Returns 0, or -1 when the
 * stream is broken (a PERM reply is queued and c->closing set) or memory
 * ran out.
 */
int sm_parse(struct sm_stream *c, time_t now);

#define SM_ASK_AGAIN_MS 1000        /* a waiting request asks for its check again this often */

/* sm_mono_ms - the monotonic clock in ms, as wait_until_ms is kept. */
int64_t sm_mono_ms(void);

#endif
