/*
 * tests/tools/https_srv.c - a scriptable, misbehaving HTTPS server for the
 * MTA-STS fetch tests.
 *
 *   https_srv (-p PORT | -P PORTFILE) -d SITEDIR
 *
 * Listens on 127.0.0.1:PORT.  With -P it binds port 0 and writes the port
 * it got to PORTFILE (atomically, by rename), so that tests need not guess
 * a free port; the file appearing means the server is accepting.
 *
 * SITEDIR/certs.map picks the certificate by SNI name, one
 * "HOSTNAME CERTFILE KEYFILE" per line ('#' comments; relative paths are
 * relative to SITEDIR); a "*" line is the default (else the first line),
 * and a "*.SUFFIX" line serves every name ending in ".SUFFIX".
 *
 * For a request with SNI name HOST the response is SITEDIR/HOST.resp, sent
 * byte for byte (status line, headers, blank line, body: the test writes
 * whatever it wants to see), or a 404 if there is none.  Lines at the very
 * top starting with "#!" are directives, not sent:
 *
 *   #!delay-ms N        wait N ms before the response
 *   #!trickle-ms N      send one byte every N ms
 *   #!close-after N     send only the first N bytes of the response
 *   #!no-response       read the request, then answer nothing until the
 *                       client goes away or the server is stopped
 *   #!no-close-notify   close TCP without a TLS close_notify
 *   #!reset             read the request, then reset the connection (TCP
 *                       RST: SO_LINGER 0), sending nothing
 *   #!handshake-stall   never finish the TLS handshake: after the
 *                       ClientHello, wait until the client goes away
 *   #!handshake-garbage answer the ClientHello with bytes that are not TLS
 *
 * The two handshake directives are read from the SNI callback, so they
 * work only for clients that send SNI (all of mxcached's fetches do).
 *
 * Every request is appended to SITEDIR/requests.log as "HOST PATH" (HOST
 * "-" without SNI), and SITEDIR/HOST.count holds the number of requests
 * for HOST so far; both are written before the response is sent.
 *
 * SIGTERM or SIGINT: stop accepting, cut open connections, exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define CONN_MAX     256            /* connections served at once */
#define CERTS_MAX    64             /* certs.map lines */
#define HOSTS_MAX    256            /* distinct hosts counted */
#define HOST_MAX     253
#define REQ_MAX      8192           /* request head */
#define RESP_MAX     (4 << 20)      /* a .resp file: room for oversized bodies */
#define PATH_BUF     4096
#define IO_TIMEOUT_S 30             /* a silent client cannot pin a thread for ever */
#define STOP_WAIT_MS 5000           /* connections get this long to finish at exit */
#define DIRECTIVE_MAX 64            /* bytes of a .resp file's first line we look at */

static const char not_found[] =
	"HTTP/1.1 404 Not Found\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Length: 10\r\n"
	"Connection: close\r\n"
	"\r\n"
	"not found\n";

struct cert {
	char host[HOST_MAX + 1];
	SSL_CTX *ctx;
};

struct resp {
	long delay_ms, trickle_ms, close_after;   /* close_after -1: all */
	int no_response, no_close_notify, reset;
	char *data;                               /* whole file, directives included */
	size_t off, len;                          /* what to send: data[off..len) */
};

static const char *sitedir;
static struct cert certs[CERTS_MAX];
static int ncerts;
static SSL_CTX *default_ctx;

/* lock guards everything below it */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conn_gone = PTHREAD_COND_INITIALIZER;
static int conn_fd[CONN_MAX];
static int nconns;
static int stopping;
static char count_host[HOSTS_MAX][HOST_MAX + 1];
static unsigned long count_n[HOSTS_MAX];
static int ncounts;

static void die(const char *what)
{
	fprintf(stderr, "https_srv: %s: %s\n", what, errno ? strerror(errno) : "failed");
	ERR_print_errors_fp(stderr);
	exit(1);
}

static void site_path(char *buf, size_t len, const char *name, const char *suffix)
{
	int n;

	if (name[0] == '/')
		n = snprintf(buf, len, "%s%s", name, suffix);
	else
		n = snprintf(buf, len, "%s/%s%s", sitedir, name, suffix);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		die(name);
	}
}

/* --- certificates -------------------------------------------------------- */

static SSL_CTX *make_ctx(const char *crt, const char *key)
{
	char cpath[PATH_BUF], kpath[PATH_BUF];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	site_path(cpath, sizeof(cpath), crt, "");
	site_path(kpath, sizeof(kpath), key, "");
	if (!ctx || !SSL_CTX_use_certificate_chain_file(ctx, cpath) ||
	    !SSL_CTX_use_PrivateKey_file(ctx, kpath, SSL_FILETYPE_PEM) ||
	    !SSL_CTX_check_private_key(ctx)) {
		fprintf(stderr, "https_srv: %s / %s:\n", cpath, kpath);
		errno = 0;
		die("certificate");
	}
	return ctx;
}

/* A map line "*.SUFFIX" serves every name ending in ".SUFFIX", at any
 * depth: a way to give thousands of benchmark hosts a few certificates. */
static int suffix_of(const char *pat, const char *name)
{
	size_t pl = strlen(pat), nl = strlen(name);

	return pl > 2 && pat[0] == '*' && pat[1] == '.' && nl > pl - 1 &&
	       strcasecmp(name + nl - (pl - 1), pat + 1) == 0;
}

static const char *safe_host(const char *name);

/*
 * handshake_trick - the "#!handshake-stall" and "#!handshake-garbage"
 * directives of HOST's .resp (its first line only).  Runs inside
 * SSL_accept, from the SNI callback: 1 when the handshake must fail.
 */
static int handshake_trick(SSL *ssl, const char *name)
{
	static const char garbage[] = "\x17\x03\x03\xff\xffGARBAGE, NOT TLS\r\n";
	static const char d_garbage[] = "#!handshake-garbage\n", d_stall[] = "#!handshake-stall\n";
	char path[PATH_BUF], line[DIRECTIVE_MAX + 1], buf[512];
	const char *host = safe_host(name);
	int fd = SSL_get_fd(ssl), f;
	ssize_t n;

	if (strcmp(host, "-") == 0 || fd < 0)
		return 0;
	site_path(path, sizeof(path), host, ".resp");
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	n = read(f, line, DIRECTIVE_MAX);
	close(f);
	line[n > 0 ? n : 0] = '\0';
	if (strncmp(line, d_garbage, sizeof(d_garbage) - 1) == 0) {
		send(fd, garbage, sizeof(garbage) - 1, MSG_NOSIGNAL);   /* whatever arrives, it fails */
		return 1;
	}
	if (strncmp(line, d_stall, sizeof(d_stall) - 1) != 0)
		return 0;
	/* until the client closes (or stop() shuts the socket down) */
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return 1;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
	}
}

static int sni_cb(SSL *ssl, int *alert, void *arg)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	int i;

	(void)arg;
	if (name && handshake_trick(ssl, name)) {
		*alert = SSL_AD_HANDSHAKE_FAILURE;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	for (i = 0; name && i < ncerts; i++)
		if (strcmp(certs[i].host, "*") != 0 &&
		    (strcasecmp(certs[i].host, name) == 0 || suffix_of(certs[i].host, name))) {
			SSL_set_SSL_CTX(ssl, certs[i].ctx);
			break;
		}
	return SSL_TLSEXT_ERR_OK;
}

static void load_certs(void)
{
	char path[PATH_BUF], line[3 * PATH_BUF], host[HOST_MAX + 1], crt[PATH_BUF], key[PATH_BUF];
	FILE *f;
	int i;

	site_path(path, sizeof(path), "certs.map", "");
	f = fopen(path, "r");
	if (!f)
		die(path);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || strspn(line, " \t\r\n") == strlen(line))
			continue;
		if (sscanf(line, "%253s %4095s %4095s", host, crt, key) != 3 || ncerts == CERTS_MAX) {
			errno = 0;
			die("certs.map: bad line, or too many");
		}
		snprintf(certs[ncerts].host, sizeof(certs[ncerts].host), "%s", host);
		certs[ncerts].ctx = make_ctx(crt, key);
		ncerts++;
	}
	fclose(f);
	if (ncerts == 0) {
		errno = 0;
		die("certs.map: no certificates");
	}
	default_ctx = certs[0].ctx;
	for (i = 0; i < ncerts; i++)
		if (strcmp(certs[i].host, "*") == 0)
			default_ctx = certs[i].ctx;
	SSL_CTX_set_tlsext_servername_callback(default_ctx, sni_cb);
}

/* --- bookkeeping --------------------------------------------------------- */

/* Names that are safe as a file name in SITEDIR; anything else is "-". */
static const char *safe_host(const char *name)
{
	size_t i;

	if (!name || !name[0] || name[0] == '.' || strlen(name) > HOST_MAX || strstr(name, ".."))
		return "-";
	for (i = 0; name[i]; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_", name[i]))
			return "-";
	return name;
}

static void write_file(const char *path, const char *data, size_t len)
{
	char tmp[PATH_BUF + 16];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, data, len) != (ssize_t)len || close(fd) < 0 || rename(tmp, path) < 0)
		unlink(tmp);
}

static void log_request(const char *host, const char *path)
{
	char file[PATH_BUF], line[REQ_MAX + HOST_MAX + 4], num[32];
	int fd, i, n;

	n = snprintf(line, sizeof(line), "%s %s\n", host, path);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	pthread_mutex_lock(&lock);
	site_path(file, sizeof(file), "requests.log", "");
	fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) != n)
			fprintf(stderr, "https_srv: %s: short write\n", file);
		close(fd);
	}
	for (i = 0; i < ncounts && strcmp(count_host[i], host) != 0; i++)
		;
	if (i == ncounts && ncounts < HOSTS_MAX)
		snprintf(count_host[ncounts++], sizeof(count_host[0]), "%s", host);
	if (i < ncounts) {
		count_n[i]++;
		site_path(file, sizeof(file), host, ".count");
		n = snprintf(num, sizeof(num), "%lu\n", count_n[i]);
		write_file(file, num, (size_t)n);
	}
	pthread_mutex_unlock(&lock);
}

/* --- responses ----------------------------------------------------------- */

static void load_resp(const char *host, struct resp *r)
{
	char path[PATH_BUF], *nl, *p;
	struct stat st;
	ssize_t n;
	int fd;

	memset(r, 0, sizeof(*r));
	r->close_after = -1;
	site_path(path, sizeof(path), host, ".resp");
	fd = strcmp(host, "-") ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > RESP_MAX ||
	    !(r->data = malloc((size_t)st.st_size + 1))) {
		if (fd >= 0)
			fprintf(stderr, "https_srv: %s: unreadable or over %d bytes\n", path, RESP_MAX);
		goto fallback;
	}
	for (r->len = 0; r->len < (size_t)st.st_size; r->len += (size_t)n) {
		n = read(fd, r->data + r->len, (size_t)st.st_size - r->len);
		if (n <= 0)
			break;
	}
	close(fd);
	fd = -1;
	r->data[r->len] = '\0';
	while (r->len - r->off >= 2 && memcmp(r->data + r->off, "#!", 2) == 0) {
		p = r->data + r->off + 2;
		nl = memchr(p, '\n', r->len - r->off - 2);
		if (!nl)
			break;
		*nl = '\0';
		if (sscanf(p, "delay-ms %ld", &r->delay_ms) == 1 ||
		    sscanf(p, "trickle-ms %ld", &r->trickle_ms) == 1 ||
		    sscanf(p, "close-after %ld", &r->close_after) == 1)
			;
		else if (strcmp(p, "no-response") == 0)
			r->no_response = 1;
		else if (strcmp(p, "no-close-notify") == 0)
			r->no_close_notify = 1;
		else if (strcmp(p, "reset") == 0)
			r->reset = 1;
		else if (strcmp(p, "handshake-stall") == 0 || strcmp(p, "handshake-garbage") == 0)
			;   /* done in the SNI callback; reached only without SNI */
		else
			fprintf(stderr, "https_srv: %s: unknown directive '#!%s'\n", path, p);
		r->off = (size_t)(nl - r->data) + 1;
	}
	return;
fallback:
	if (fd >= 0)
		close(fd);
	free(r->data);
	r->data = NULL;
	r->off = 0;
	r->len = sizeof(not_found) - 1;
}

/*
 * pause_ms - sleep, but come back at once when the client closes or the
 * server stops (shutdown() makes the socket readable); 1 if so.
 */
static int pause_ms(int fd, long ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms > INT32_MAX ? -1 : (int)ms) != 0;
}

static int send_all(SSL *ssl, const char *p, size_t len)
{
	int n;

	while (len > 0) {
		n = SSL_write(ssl, p, len > 16384 ? 16384 : (int)len);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void respond(SSL *ssl, int fd, struct resp *r)
{
	const char *p = r->data ? r->data + r->off : not_found;
	size_t len = r->len - r->off, i;

	if (r->no_response) {
		while (!pause_ms(fd, -1))
			;
		return;
	}
	if (r->reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		/* the close in conn_main then sends an RST, not a FIN */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		return;
	}
	if (r->delay_ms > 0 && pause_ms(fd, r->delay_ms))
		return;
	if (r->close_after >= 0 && (size_t)r->close_after < len)
		len = (size_t)r->close_after;
	if (r->trickle_ms > 0) {
		for (i = 0; i < len; i++)
			if (send_all(ssl, p + i, 1) < 0 || pause_ms(fd, r->trickle_ms))
				return;
	} else if (send_all(ssl, p, len) < 0) {
		return;
	}
	if (!r->no_close_notify)
		SSL_shutdown(ssl);
}

/* --- connections --------------------------------------------------------- */

static void conn_serve(int fd)
{
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	char req[REQ_MAX + 1], path[REQ_MAX + 1];
	const char *host;
	struct resp r = { .data = NULL };
	size_t have = 0;
	SSL *ssl = NULL;
	int n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ssl = SSL_new(default_ctx);
	if (!ssl || !SSL_set_fd(ssl, fd) || SSL_accept(ssl) != 1)
		goto out;
	while (have < REQ_MAX) {
		n = SSL_read(ssl, req + have, (int)(REQ_MAX - have));
		if (n <= 0)
			goto out;
		have += (size_t)n;
		req[have] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[have] = '\0';
	if (sscanf(req, "%*s %8192s", path) != 1)
		strcpy(path, "-");
	host = safe_host(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
	log_request(host, path);
	load_resp(host, &r);
	respond(ssl, fd, &r);
out:
	free(r.data);
	SSL_free(ssl);
	ERR_clear_error();
}

static void *conn_main(void *arg)
{
	int slot = (int)(intptr_t)arg, fd;

	pthread_mutex_lock(&lock);
	fd = conn_fd[slot];
	pthread_mutex_unlock(&lock);
	conn_serve(fd);
	/* now, not in a thread-exit destructor that could run after main() exits */
	OPENSSL_thread_stop();
	/* closed under the lock, so that stop() never shuts down a reused fd */
	pthread_mutex_lock(&lock);
	close(fd);
	conn_fd[slot] = -1;
	nconns--;
	pthread_cond_signal(&conn_gone);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void start_conn(int fd)
{
	pthread_attr_t attr;
	pthread_t t;
	int slot;

	pthread_mutex_lock(&lock);
	for (slot = 0; slot < CONN_MAX && conn_fd[slot] >= 0; slot++)
		;
	if (slot == CONN_MAX || stopping) {
		pthread_mutex_unlock(&lock);
		close(fd);
		return;
	}
	conn_fd[slot] = fd;
	nconns++;
	pthread_mutex_unlock(&lock);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, conn_main, (void *)(intptr_t)slot) != 0) {
		pthread_mutex_lock(&lock);
		close(fd);
		conn_fd[slot] = -1;
		nconns--;
		pthread_mutex_unlock(&lock);
	}
	pthread_attr_destroy(&attr);
}

/* stop - cut every connection and wait (bounded) for their threads. */
static int stop(void)
{
	struct timespec dl;
	int i, left;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += STOP_WAIT_MS / 1000;
	pthread_mutex_lock(&lock);
	stopping = 1;
	for (i = 0; i < CONN_MAX; i++)
		if (conn_fd[i] >= 0)
			shutdown(conn_fd[i], SHUT_RDWR);
	while (nconns > 0)
		if (pthread_cond_timedwait(&conn_gone, &lock, &dl) != 0)
			break;
	left = nconns;
	pthread_mutex_unlock(&lock);
	return left;
}

static void write_portfile(const char *file, int lfd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char buf[16];
	int n;

	if (getsockname(lfd, (struct sockaddr *)&sin, &len) < 0)
		die("getsockname");
	n = snprintf(buf, sizeof(buf), "%u\n", (unsigned)ntohs(sin.sin_port));
	write_file(file, buf, (size_t)n);
	if (access(file, F_OK) < 0)
		die(file);
}

static void usage(void)
{
	fprintf(stderr, "usage: https_srv (-p PORT | -P PORTFILE) -d SITEDIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct pollfd pfd[2];
	const char *portfile = NULL;
	long port = -1;
	sigset_t sigs;
	int opt, lfd, sfd, fd, one = 1, i;

	while ((opt = getopt(argc, argv, "p:P:d:")) != -1) {
		switch (opt) {
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'P':
			portfile = optarg;
			break;
		case 'd':
			sitedir = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !sitedir || (port < 0) == !portfile || port > 65535)
		usage();

	signal(SIGPIPE, SIG_IGN);
	/* blocked before any thread exists, so only the signalfd sees them */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd");
	for (i = 0; i < CONN_MAX; i++)
		conn_fd[i] = -1;
	load_certs();

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(portfile ? 0 : (uint16_t)port);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind");
	if (listen(lfd, 128) < 0)
		die("listen");
	if (portfile)
		write_portfile(portfile, lfd);

	pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents) {
			fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				start_conn(fd);
		}
	}
	close(lfd);
	close(sfd);
	if (stop() > 0) {
		/* a thread still uses the contexts: leave them to exit() */
		fprintf(stderr, "https_srv: connections still open at exit\n");
		return 0;
	}
	for (i = 0; i < ncerts; i++)
		SSL_CTX_free(certs[i].ctx);
	return 0;
}
