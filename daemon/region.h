/*
 * daemon/region.h - the writer's side of the shared-memory region.
 *
 * Owns the data file and the reader blocks of one state directory: builds
 * a region, publishes table changes copy-on-write, runs grace periods and
 * reclaims memory, grows the region by building a larger one and retiring
 * the old.  Layout and reader protocol: shm/layout.h, shm/table.h,
 * shm/rcu.h.
 *
 * Thread safety: a struct region belongs to the writer thread alone; none
 * of these functions may run concurrently on one region.
 */
#ifndef MXC_DAEMON_REGION_H
#define MXC_DAEMON_REGION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../shm/events.h"
#include "../shm/table.h"

struct region;

struct region_opts {
	const char *dir;          /* state directory */
	uint32_t nslots;          /* reader slots per client process (MXS_SLOTS_MIN..MAX) */
	gid_t gid;                /* group for the files, (gid_t)-1: ours */
	const char *shm_dir;      /* tmpfs directory, default "/dev/shm" */
};

/*
 * region_create - build a new, empty region sized for expect entries, in
 * state INIT under a temporary name, and start taking client processes'
 * reader blocks on DIR/readers.sock.  Clients cannot see it until
 * region_go_live().  Removes temporary files a killed predecessor left;
 * refuses (EPERM) when the region's public names belong to another user
 * and this process is not root.  Returns 0, or -1 with errno set (and a
 * log line saying what failed).
 */
int region_create(const struct region_opts *o, uint64_t expect, struct region **out);

/*
 * region_disown - before a daemon started as root becomes uid: remove
 * every file under DIR's region names that uid does not own, retiring a
 * region of root's first so that its clients move over.  Nothing under
 * those names is ever handed to uid: a file it did not create in this
 * start could have been planted, or be held open for writing by whoever
 * planted it.  Returns 0 or -1.
 */
int region_disown(const char *dir, const char *shm_dir, uid_t uid);

/*
 * region_go_live - make r the region clients find: mark it LIVE, rename it
 * over the public name, then mark the region it replaced RETIRED so
 * clients still mapping it move over on their next call.  Returns 0 or -1.
 */
int region_go_live(struct region *r);

/*
 * region_reserve - make sure n more entries of about bytes key+value+meta
 * bytes in all can be put without running out of room, growing the region
 * (a new, larger file; the old one retired) if needed.  Call before
 * committing a batch to SQLite so that publishing it cannot fail.
 * Returns 0, or -1 with errno (ENOSPC, ENOMEM, EFBIG).
 */
int region_reserve(struct region *r, uint64_t n, uint64_t bytes);

/*
 * region_put - insert or replace key (canonical, klen bytes) in table tab
 * with value val/vlen and a meta record meta/mlen (may be NULL/0).  The
 * change is visible to readers when this returns.  Returns 1 if it
 * replaced an entry, 0 if it added one, -1 with errno (EINVAL: lengths
 * out of range; ENOSPC: no room even after growing).
 */
int region_put(struct region *r, unsigned tab, const char *key, size_t klen,
	       const void *val, size_t vlen, const void *meta, size_t mlen);

/*
 * region_del - remove key from table tab.  Returns 1 if removed, 0 if
 * absent, -1 with errno (ENOSPC: no room to copy the bucket).
 */
int region_del(struct region *r, unsigned tab, const char *key, size_t klen);

/*
 * region_publish - end of a batch of changes: bump the generation, stamp
 * the publish time and counts.  Cheap; call once per batch.
 */
void region_publish(struct region *r);

/*
 * region_tick - housekeeping, call every 100 ms or so: refresh the
 * heartbeat, open a grace period if memory awaits one, free what every
 * live reader has moved past, reset slots of dead readers.
 */
void region_tick(struct region *r);

/*
 * region_close - on a clean exit: stamp the writer's exit time and unmap.
 * The files stay so clients keep answering while the daemon is down.
 * r may be NULL.
 */
void region_close(struct region *r);

/*
 * region_readers - the client processes' reader blocks (daemon/readers.h):
 * their events are drained through it.  Lives as long as r.  Thread
 * safety: safe; the readers module locks for itself.
 */
struct readers *region_readers(struct region *r);

#endif /* MXC_DAEMON_REGION_H */
