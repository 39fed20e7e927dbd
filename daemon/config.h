/*
 * daemon/config.h - mxcached's configuration file (INI, libinih).
 *
 * Keys, with their defaults (docs/daemon.md lists the same):
 *
 *   [region]
 *   group       = NAME|GID   group of the region's files and ctl.sock;
 *                            default: the daemon's primary group ([daemon]
 *                            user's, when set)
 *   slots       = N          reader slots, MXS_SLOTS_MIN..MXS_SLOTS_MAX,
 *                            default MXS_SLOTS_DEFAULT
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
 *   retries     = N          extra tries, 0..CONFIG_DNS_RETRIES_MAX, default 1
 *   [tls]
 *   ca_file     = PATH       default: the system store (SSL_CERT_FILE)
 *   [sts]                    the MTA-STS fetcher (docs/daemon.md)
 *   workers     = N          concurrent fetches, 1..CONFIG_STS_WORKERS_MAX, default 16
 *   refresh_s   = N          revisit a policy this often, default 43200
 *   forget_after_s = N       drop entries unused this long, default 15552000
 *   backoff_s   = N          after a failed fetch with nothing cached, default 300
 *   connect_timeout_ms = N   per address, default 5000
 *   fetch_timeout_ms = N     whole fetch, default 20000
 *   content_types = LIST     allowed policy media types, "" for any;
 *                            default text/plain
 *   policy_port = N          HTTPS port of the policy host, default 443
 *                            (for tests against servers on loopback)
 *   recheck_s   = N          a policy in use whose TXT record was looked at
 *                            longer ago than this is re-checked in the
 *                            background, 0..CONFIG_STS_RECHECK_MAX, 0 never;
 *                            default 300
 *   [socketmap]
 *   listen      = PORT | ADDR:PORT | [IPV6]:PORT   a bare PORT is on
 *                                                  127.0.0.1; default: only the
 *                                                  unix socket
 *   strict_testing = yes|no  answer testing policies as enforce, default no
 *   tlsrpt      = yes|no     TLSRPT attributes on mtasts too, default no
 *   miss_wait_ms = N         a key with nothing cached waits this long for
 *                            the daemon's check, 0..CONFIG_SM_MISS_WAIT_MAX,
 *                            0 answers at once; default 3000
 *   transport   = NAME       master.cf service of transport answers, default smtp
 *   idle_timeout_s = N       close a connection idle, or with a request
 *                            not complete, this long; default 60
 *   max_connections = N      in all, default 1024
 *   unix_max_connections = N    on DIR/socketmap.sock; default: what
 *                               listen_max_connections leaves
 *   listen_max_connections = N  on the listen address; default: what
 *                               unix_max_connections leaves, half when
 *                               neither is set
 *   max_connections_per_address = N  per TCP peer address (IPv6: /64),
 *                                    default 256
 *   max_connections_per_uid = N      per unix peer uid, default 512
 *   program     = PATH       the server, default mxcache-socketmap beside mxcached
 *   [daemon]
 *   user        = NAME|UID   started as root, run as this user (its primary
 *                            group, its supplementary groups); default: stay
 *   [ctl]
 *   admin_group = NAME|GID   members may change the caches over ctl.sock
 *                            besides root and the daemon's user; default none
 *   [limits]                 what a peer can make the daemon keep or do
 *   sts_entries = N          policy cache entries, default 1000000
 *   mx_entries  = N          MX cache entries, default 1000000
 *   stats_domains = N        domains with delivery stats, default 1000000
 *   servers     = N          values per tracker set, default 1000000
 *   client_events_per_s = N  events accepted per client slot, default 20000
 *   client_misses_per_s = N  MTA-STS and MX misses checked per client slot,
 *                            default 100
 *   sts_miss_entries = N     never-confirmed MTA-STS entries (domains only
 *                            ever missed, never a policy), default 0: half
 *                            of sts_entries
 *   [metrics]
 *   listen      = ADDR:PORT  serve GET /metrics over HTTP; loopback only;
 *                            default: none
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
#define CONFIG_DNS_RETRIES_MAX  5
#define CONFIG_DNS_RETRIES_DEF  1
#define CONFIG_STS_WORKERS_MAX  256
#define CONFIG_STS_WORKERS_DEF  16
#define CONFIG_STS_REFRESH_MAX  31557600
#define CONFIG_STS_REFRESH_DEF  43200     /* RFC 8461 §5: refresh at least daily */
#define CONFIG_STS_FORGET_MAX   (10 * 31557600)
#define CONFIG_STS_FORGET_DEF   15552000  /* 180 days */
#define CONFIG_STS_BACKOFF_DEF  300       /* RFC 8461 §3.3's five minutes */
#define CONFIG_STS_TIMEOUT_MAX  120000
#define CONFIG_STS_CONNECT_DEF  5000
#define CONFIG_STS_FETCH_DEF    20000
#define CONFIG_STS_CTYPES_MAX   128
#define CONFIG_STS_CTYPES_DEF   "text/plain"
#define CONFIG_STS_RECHECK_MAX  86400     /* a day: the refresher's pace at the least */
#define CONFIG_STS_RECHECK_DEF  300
#define CONFIG_SM_TRANSPORT_MAX 32
#define CONFIG_SM_IDLE_DEF      60
#define CONFIG_SM_CONN_DEF      1024
#define CONFIG_SM_CONN_MAX      65536
#define CONFIG_SM_ADDR_DEF      256   /* per TCP peer address */
#define CONFIG_SM_UID_DEF       512   /* per unix uid: all of a local Postfix is one */
#define CONFIG_SM_MISS_WAIT_MAX 30000 /* ms: Postfix's own map timeout is not much longer */
#define CONFIG_SM_MISS_WAIT_DEF 3000

#define CONFIG_USER_MAX         64
#define CONFIG_LIMIT_ENTRIES_MAX  100000000u
#define CONFIG_LIMIT_ENTRIES_DEF  1000000u
#define CONFIG_LIMIT_EVENTS_MAX   100000000u
#define CONFIG_LIMIT_EVENTS_DEF   20000u
#define CONFIG_LIMIT_MISSES_DEF   100u

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
	int group_given;              /* set in the file, not the default */
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
	unsigned dns_retries;

	/* [sts] */
	unsigned sts_workers;
	unsigned sts_refresh_s;
	unsigned sts_forget_s;
	unsigned sts_backoff_s;
	unsigned sts_connect_ms;
	unsigned sts_fetch_ms;
	unsigned sts_port;
	char sts_content_types[CONFIG_STS_CTYPES_MAX];
	unsigned sts_recheck_s;       /* 0: never on use, only the refresher */

	/* [tls] */
	char tls_ca_file[CONFIG_PATH_MAX];   /* "" = system store */

	/* [socketmap] */
	struct config_addr sm_listen;
	int sm_has_listen;            /* 0: only DIR/socketmap.sock */
	unsigned sm_strict_testing;
	unsigned sm_tlsrpt;
	unsigned sm_miss_wait_ms;     /* 0: answer a miss at once */
	char sm_transport[CONFIG_SM_TRANSPORT_MAX + 1];
	unsigned sm_idle_s;
	unsigned sm_max_conn;         /* in all */
	unsigned sm_unix_max_conn;    /* each listener's: after config_load, */
	unsigned sm_listen_max_conn;  /* set or its share of sm_max_conn */
	unsigned sm_max_per_addr;
	unsigned sm_max_per_uid;
	char sm_program[CONFIG_PATH_MAX];   /* "" = beside mxcached */

	/* [daemon] */
	char user[CONFIG_USER_MAX];   /* "" = do not change user */
	uid_t uid;                    /* of user, when set */
	gid_t user_gid;               /* its primary group */

	/* [ctl] */
	char admin_group[CONFIG_GROUP_MAX];   /* "" = none */
	gid_t admin_gid;

	/* [metrics] */
	struct config_addr metrics_listen;
	int metrics_has_listen;       /* 0: only shmctl metrics */

	/* [limits] */
	unsigned lim_sts;
	unsigned lim_mx;
	unsigned lim_stats;
	unsigned lim_servers;
	unsigned lim_events;
	unsigned lim_misses;          /* client_misses_per_s */
	unsigned lim_sts_miss;        /* sts_miss_entries; 0: half of lim_sts */

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
