/*
 * daemon/tlspin.h - TLS pins: a TLS policy the operator set for one
 * domain (shmctl tls set), which the mtasts maps answer before anything
 * DANE or MTA-STS would say.
 *
 * A pin lives in SQLite (table tls_pins: domain, policy, created, updated)
 * and in the region (table MXS_TAB_TLSPIN, value shm/tlspin.h).  A change
 * runs as a writer job: committed, then published, then answered, so a
 * pin reported set survives a kill -9 and is seen by the next lookup.
 *
 * Thread safety: tlspin_domain and tlspin_policy are pure and safe
 * anywhere; tlspin_change from any thread (it waits on the writer).
 */
#ifndef MXC_DAEMON_TLSPIN_H
#define MXC_DAEMON_TLSPIN_H

#include <stddef.h>
#include <stdint.h>

#include "shm/key.h"
#include "shm/tlspin.h"

struct module_ops;
struct writer;

/* Room for messages like "domain '1.2.3.4': an IP literal; ...". */
#define TLSPIN_ERR_MAX 192

/*
 * tlspin_domain - canonical form of a user's domain into out
 * (MXK_MAX_LEN + 1 bytes), its length into *len.  A pin is for a domain:
 * an IP literal is refused.  0, or -1 with a message in err.
 */
int tlspin_domain(const char *in, char *out, size_t *len, char *err, size_t errlen);

/*
 * tlspin_policy - is policy one a pin may hold (mxc_pin_policy_check: a
 * known Postfix level, name=value attributes, printable ASCII, at most
 * MXS_PIN_POLICY_MAX bytes)?  0, or -1 with a message in err.
 */
int tlspin_policy(const char *policy, char *err, size_t errlen);

#define TLSPIN_OK       0
#define TLSPIN_NOTFOUND 1       /* delete of a domain without a pin */

/*
 * tlspin_change - set (policy != NULL) or delete (policy NULL) the pin of
 * domain, both already checked (domain canonical), through the writer,
 * and wait until it is committed and published.  A set fills *created
 * and *updated (unix seconds; may be NULL).  Returns TLSPIN_OK,
 * TLSPIN_NOTFOUND, or -1 with a message in msg.
 */
int tlspin_change(struct writer *w, const char *domain, const char *policy, int64_t *created, int64_t *updated,
		  char *msg, size_t msglen);

/* tlspin_module - the pins' part in main's steps (daemon/module.h):
 * rebuild. */
extern const struct module_ops tlspin_module;

#endif /* MXC_DAEMON_TLSPIN_H */
