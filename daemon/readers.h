/*
 * daemon/readers.h - the client processes' reader blocks (shm/readers.h):
 * registration on DIR/readers.sock, the writer's scan of their slots, the
 * drain of their event rings, and the readers listing.
 *
 * Thread safety: every function may be called from any thread; the
 * registry is guarded by one mutex, held only for a scan, a drain pass or
 * a listing.  A listener thread of the module's own takes registrations
 * and notices closed connections.
 */
#ifndef MXC_DAEMON_READERS_H
#define MXC_DAEMON_READERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../shm/events.h"

/* Registered processes at most, and per user id (those gone counted
 * until their blocks are freed): each costs the daemon a descriptor and a
 * mapping.  Every block has the region's slot count (h_nslots). */
#define READERS_MAX          4096
#define READERS_PER_UID_MAX  1024

struct readers;

/*
 * readers_start - listen on DIR/readers.sock (mode 0660, group gid unless
 * (gid_t)-1) and accept blocks of nslots slots for regions stamped with
 * writer_id.  Refuses to take over a socket another process answers on.
 * Returns 0, or -1 with errno set and a log line.
 */
int readers_start(const char *dir, gid_t gid, uint32_t nslots, uint64_t writer_id, struct readers **out);

/*
 * readers_stop - stop listening, remove the socket, close every
 * registration and unmap every block.  Take the last events first
 * (readers_drain with all): taken records are wiped as they are taken, and
 * what is left in a block is its client's, in memory only it maps now.
 * rd may be NULL.  No other call on rd may run or follow.
 */
void readers_stop(struct readers *rd);

/*
 * readers_min_epoch - the writer's scan (shm/rcu.h): the smallest epoch
 * announced in a live block's slot for the region of incarnation inc,
 * UINT64_MAX if none.  Call after the full barrier of a grace period.
 */
uint64_t readers_min_epoch(struct readers *rd, uint64_t inc);

/*
 * readers_drain - take up to MXS_EV_RING_SIZE records from each claimed
 * slot's ring (every ring with all, and every ring of a process that is
 * gone, which is then forgotten), wiping each, and call fn for every
 * valid one.  src identifies the slot of one registration (a rate-limit
 * key), pid is the registering process.  fn runs after the registry is
 * unlocked (it may wait for the writer, whose scan takes that lock), one
 * drain at a time: it must not call readers_drain.  Each pass starts one
 * block further along.  Returns the records taken.
 */
typedef void (*readers_event_fn)(void *arg, uint64_t src, uint32_t pid, const struct mxc_event *ev);
size_t readers_drain(struct readers *rd, int all, readers_event_fn fn, void *arg);

/*
 * The event thread's sleep (the doorbell, shm/readers.h).  When no event
 * came for a while: readers_rest_arm (every live block's doorbell armed,
 * then a full barrier), then one more readers_drain with all, then
 * readers_rest: a sleep of timeout_ms at most if that drain took nothing
 * (pass 0 when it took some).  The sleep ends early when a client rings,
 * a process registers or goes, or readers_wake is called (for a stop).
 * Only the event thread calls the first two.
 */
void readers_rest_arm(struct readers *rd);
void readers_rest(struct readers *rd, int timeout_ms);
void readers_wake(struct readers *rd);

/* What the registered processes add up to (hints the clients wrote
 * excepted: posted and dropped are their ring counters). */
struct readers_totals {
	uint32_t procs, slots, claimed;
	uint64_t posted, dropped;
};
void readers_totals(struct readers *rd, struct readers_totals *t);
/* The totals the last listing showed: what clients read in it, so that
 * the metrics endpoint and shmctl metrics say the same. */
void readers_totals_listed(struct readers *rd, struct readers_totals *t);

/*
 * readers_list_write - replace the listing at path (shm/readers.h) with
 * every claimed slot, stalled ones being those inside a lookup of region
 * inc begun before epoch; rd NULL: an empty listing (a stopped daemon
 * keeps the name, so nobody else can take it between two runs).
 * Returns 0 or -1 (logged once per failure run).
 */
int readers_list_write(struct readers *rd, const char *path, gid_t gid, uint64_t inc, uint64_t epoch);

#endif /* MXC_DAEMON_READERS_H */
