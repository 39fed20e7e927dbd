/*
 * shm/servers.h - the unique-server tracker's counts (MXS_TAB_SERVERS):
 * one entry under the key ".": u64 boot_time, unique_conn_ips,
 * unique_domains, unique_ip_servers (the fields of DIR/servers.json).  The values
 * counted are never in the region, only how many there were: the daemon
 * keeps keyed hashes of them in its own memory (daemon/tracker.c).
 */
#ifndef MXC_SHM_SERVERS_H
#define MXC_SHM_SERVERS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MXS_SERVERS_KEY       "."
#define MXS_SERVERS_VALUE_LEN 32

static inline void mxc_servers_encode(uint8_t *out, const uint64_t v[4])
{
	memcpy(out, v, MXS_SERVERS_VALUE_LEN);
}

static inline int mxc_servers_decode(const uint8_t *val, size_t vlen, uint64_t v[4])
{
	if (vlen != MXS_SERVERS_VALUE_LEN)
		return -1;
	memcpy(v, val, MXS_SERVERS_VALUE_LEN);
	return 0;
}

#endif /* MXC_SHM_SERVERS_H */
