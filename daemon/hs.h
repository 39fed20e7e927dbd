/*
 * daemon/hs.h - the allocator the daemon's ck_hs sets share.
 *
 * Every set in the daemon (the pending fetches, the stats records, the
 * tracker's digests) is touched by one thread, or only under a lock, so
 * no reader can be inside a map while it is replaced: realloc and free
 * act at once, and the deferral ck_hs offers for lock-free readers is not
 * needed.
 */
#ifndef MXC_DAEMON_HS_H
#define MXC_DAEMON_HS_H

#include <ck_malloc.h>

extern struct ck_malloc hs_alloc;

#endif /* MXC_DAEMON_HS_H */
