/*
 * daemon/config.h - mxcached's configuration file (INI, libinih).
 *
 * Keys, with their defaults (docs/daemon.md lists the same):
 *
 *   [region]
 *   group       = NAME|GID   group of the region's files and ctl.sock;
 *                            default: the daemon's primary group
 *   slots       = N          reader slots, MXC_SLOTS_MIN..MXC_SLOTS_MAX,
 *                            default MXC_SLOTS_DEFAULT
 *   shm_dir     = PATH       tmpfs directory of the region; default
 *                            $MXCACHE_SHM_DIR, then /dev/shm (clients look
 *                            there, so change both or neither)
 *   [store]
 *   synchronous = full|normal                      default full
 *   [log]
 *   level       = debug|info|warning               default info
 *   [dns]
 *   servers     = ADDR[:PORT] [IPV6]:PORT ...      default: /etc/resolv.conf
 *   timeout_ms  = N          1..CONFIG_DNS_TIMEOUT_MAX, default 2000
 *   [tls]
 *   ca_file     = PATH       default: the system store (SSL_CERT_FILE)
 *   [socketmap]
 *   listen      = ADDR:PORT | [IPV6]:PORT          default: only the
 *                                                  unix socket
 *
 * Comments start with ';' or '#' at the start of a line, or after
 * whitespace inside a line.  A line is at most CONFIG_LINE_MAX bytes.  An
 * unknown section or key, a repeated key (servers excepted: repeats add to
 * the list) or a bad value is an error naming file:line.
 *
 * The running daemon shares its current config between threads through
 * liburcu: readers call config_current() inside rcu_read_lock() (from a
 * thread registered with rcu_register_thread()), the main thread publishes
 * a reloaded one with config_swap().
 */
#ifndef MXC_DAEMON_CONFIG_H
#define MXC_DAEMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <urcu.h>

#define CONFIG_LINE_MAX         196   /* libinih's line buffer, less CR LF NUL */
#define CONFIG_GROUP_MAX        64
#define CONFIG_PATH_MAX         192
#define CONFIG_DNS_SERVERS_MAX  8
#define CONFIG_DNS_TIMEOUT_MAX  60000 /* ms */
#define CONFIG_DNS_TIMEOUT_DEF  2000

#define CONFIG_SYNC_NORMAL 1          /* PRAGMA synchronous values */
#define CONFIG_SYNC_FULL   2

struct config_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];                /* as written, for log lines */
};

struct config {
	char path[CONFIG_PATH_MAX];   /* file read, "" for built-in defaults */

	/* [region] */
	char group[CONFIG_GROUP_MAX]; /* name, or the number as text */
	gid_t gid;
	uint32_t slots;
	char shm_dir[CONFIG_PATH_MAX];

	/* [store] */
	int synchronous;              /* CONFIG_SYNC_* */

	/* [log] */
	int log_level;                /* LOG_DEBUG, LOG_INFO, LOG_WARNING */

	/* [dns] */
	struct config_addr dns_servers[CONFIG_DNS_SERVERS_MAX];
	size_t dns_nservers;          /* 0: use /etc/resolv.conf */
	unsigned dns_timeout_ms;

	/* [tls] */
	char tls_ca_file[CONFIG_PATH_MAX];   /* "" = system store */

	/* [socketmap] */
	struct config_addr sm_listen;
	int sm_has_listen;            /* 0: only DIR/socketmap.sock */

	struct rcu_head rcu;          /* private: deferred free */
};

/*
 * config_load - read path (NULL: built-in defaults only) into a new config.
 * Returns 0 and sets *out (free with config_free), or -1 with a one-line
 * message in err ("FILE:LINE: ..." for errors inside the file).
 * Thread safety: safe.
 */
int config_load(const char *path, struct config **out, char *err, size_t errlen);

/* config_free - free c (may be NULL); c must not be published. */
void config_free(struct config *c);

/*
 * config_current - the published config, or NULL before the first
 * config_swap().  Call inside rcu_read_lock(); the pointer is valid until
 * rcu_read_unlock().
 */
struct config *config_current(void);

/*
 * config_swap - publish c (may be NULL at shutdown) and free the previous
 * config after a grace period.  Main thread only; it must be registered
 * with urcu.
 */
void config_swap(struct config *c);

/*
 * config_shutdown - unpublish and free the current config, and wait for
 * every config still queued by config_swap() to be freed.  Main thread,
 * registered with urcu, after every reader thread has stopped.
 */
void config_shutdown(void);

#endif /* MXC_DAEMON_CONFIG_H */
