/*
 * test_https - daemon/https.c against tests/tools/https_srv on loopback:
 * statuses, framings, content types, size limits, certificate failures,
 * connect failures and fallbacks, deadlines, and concurrent fetches.
 *
 * The server is found through $MXC_HTTPS_SRV, else next to this binary
 * (DIR/tools/https_srv, as the Makefile builds it), else
 * $BUILD/tests/tools/https_srv.  tests/certs.sh through $MXC_CERTS_SH,
 * else from the current directory (the runner's: the top of the tree),
 * else relative to this binary.  Everything lives in one mkdtemp()
 * directory, removed at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/https.h"
#include "tests/tap.h"

#define PATH_BUF       4096
#define SRV_START_MS   20000  /* a sanitized server can be slow to start */
#define FILLERS_MAX    8      /* connections to fill a backlog-0 listener */
#define CONC_THREADS   8
#define CONC_PER       2
#define POLICY \
	"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 86400\r\n"

static char tmp[] = "/tmp/mxc-test-https.XXXXXX";
static char certs[PATH_BUF], site[PATH_BUF];
static pid_t srv_pid = -1;
static uint16_t port;
static struct sockaddr_storage lo[2];   /* 127.0.0.1 twice */
static socklen_t lo_len[2];

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void addr4(struct sockaddr_storage *ss, socklen_t *len, const char *ip)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
	*len = sizeof(*sin);
}

static void bail(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	if (srv_pid > 0)
		kill(srv_pid, SIGKILL);
	exit(1);
}

/* join - out = a "/" b, or bail out if it does not fit */
static void join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		bail(a);
	}
}

/* --- files --------------------------------------------------------------- */

static void put(const char *host, const char *data, size_t len)
{
	char path[PATH_BUF];
	FILE *f;

	char name[PATH_BUF / 2];

	snprintf(name, sizeof(name), "%.250s.resp", host);
	join(path, sizeof(path), site, name);
	f = fopen(path, "w");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		bail(path);
}

static void putf(const char *host, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(const char *host, const char *fmt, ...)
{
	char buf[PATH_BUF];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		bail("putf: too long");
	put(host, buf, (size_t)n);
}

/* A 200 whose body is n bytes of 'x': with a Content-Length, or to close. */
static void put_big(const char *host, size_t n, int with_length)
{
	char head[256], *buf;
	int hl;

	if (with_length)
		hl = snprintf(head, sizeof(head),
			      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n", n);
	else
		hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
	buf = malloc((size_t)hl + n);
	if (!buf)
		bail("malloc");
	memcpy(buf, head, (size_t)hl);
	memset(buf + hl, 'x', n);
	put(host, buf, (size_t)hl + n);
	free(buf);
}

/* requests for host in requests.log */
static int requests(const char *host)
{
	char path[PATH_BUF], line[PATH_BUF];
	size_t hl = strlen(host);
	FILE *f;
	int n = 0;

	join(path, sizeof(path), site, "requests.log");
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, host, hl) == 0 && line[hl] == ' ')
			n++;
	fclose(f);
	return n;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* --- processes ----------------------------------------------------------- */

static int run(char *const argv[])
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		bail("fork");
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int executable(const char *p)
{
	return access(p, X_OK) == 0;
}

static void find_server(const char *argv0, char *out, size_t len)
{
	char self[PATH_BUF];
	const char *env = getenv("MXC_HTTPS_SRV"), *build = getenv("BUILD");

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return;
	}
	snprintf(self, sizeof(self), "%s", argv0);
	snprintf(out, len, "%s/tools/https_srv", dirname(self));
	if (executable(out))
		return;
	snprintf(out, len, "%s/tests/tools/https_srv", build && *build ? build : "build");
}

static void find_certs_sh(const char *argv0, char *out, size_t len)
{
	char self[PATH_BUF];
	const char *env = getenv("MXC_CERTS_SH");

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return;
	}
	snprintf(out, len, "tests/certs.sh");
	if (access(out, R_OK) == 0)
		return;
	snprintf(self, sizeof(self), "%s", argv0);
	snprintf(out, len, "%s/../../tests/certs.sh", dirname(self));
}

static int start_server(const char *srv)
{
	char portfile[PATH_BUF], buf[32];
	int64_t dl = now_ms() + SRV_START_MS;
	FILE *f;

	join(portfile, sizeof(portfile), tmp, "port");
	fflush(NULL);
	srv_pid = fork();
	if (srv_pid < 0)
		bail("fork");
	if (srv_pid == 0) {
		execl(srv, srv, "-P", portfile, "-d", site, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", srv, strerror(errno));
		_exit(127);
	}
	while (now_ms() < dl) {
		f = fopen(portfile, "r");
		if (f) {
			if (fgets(buf, sizeof(buf), f))
				port = (uint16_t)atoi(buf);
			fclose(f);
			return port != 0;
		}
		if (waitpid(srv_pid, NULL, WNOHANG) == srv_pid) {
			srv_pid = -1;
			return 0;
		}
		usleep(10000);
	}
	return 0;
}

static int stop_server(void)
{
	int status;

	if (srv_pid <= 0)
		return -1;
	kill(srv_pid, SIGTERM);
	if (waitpid(srv_pid, &status, 0) != srv_pid)
		return -1;
	srv_pid = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A port on 127.0.0.1 that nothing listens on (just closed). */
static uint16_t closed_port(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint16_t p;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	addr4(&ss, &len, "127.0.0.1");
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		bail("closed_port");
	p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	close(fd);
	return p;
}

/*
 * A listener on IP:PORT that never accepts, with its backlog full, so that
 * a further connect gets no answer at all (Linux drops the SYN).  The
 * filler sockets go into fill[]; returns the listener, or -1.
 */
static int black_hole(const char *ip, uint16_t p, int fill[FILLERS_MAX], int *nfill)
{
	struct sockaddr_storage ss;
	struct pollfd pfd;
	socklen_t len;
	int lfd, fd, one = 1;

	*nfill = 0;
	addr4(&ss, &len, ip);
	((struct sockaddr_in *)&ss)->sin_port = htons(p);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) < 0 || listen(lfd, 0) < 0) {
		close(lfd);
		return -1;
	}
	while (*nfill < FILLERS_MAX) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
			close(fd);
			break;
		}
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, 200) <= 0) {
			close(fd);    /* no answer: the backlog is full */
			return lfd;
		}
		fill[(*nfill)++] = fd;
	}
	while (*nfill > 0)
		close(fill[--*nfill]);
	close(lfd);
	return -1;
}

/* --- fetching ------------------------------------------------------------ */

static struct https *mk(const char *ca, unsigned conn_ms, unsigned total_ms, const char *ctypes,
			uint16_t p)
{
	struct https_cfg cfg = {
		.ca_file = ca,
		.connect_timeout_ms = conn_ms,
		.total_timeout_ms = total_ms,
		.content_types = ctypes,
		.port = p,
	};
	char err[256];
	struct https *h = https_new(&cfg, err, sizeof(err));

	if (!h) {
		printf("Bail out! https_new: %s\n", err);
		if (srv_pid > 0)
			kill(srv_pid, SIGKILL);
		exit(1);
	}
	return h;
}

static int fetch(struct https *h, const char *host, struct https_result *res)
{
	return https_get(h, host, NULL, lo, lo_len, 1, res);
}

/* expect - one fetch, its rc, and (if want_detail) a word in the detail. */
static void expect(struct https *h, const char *host, int want, const char *want_detail)
{
	struct https_result res;
	int rc = fetch(h, host, &res);

	if (!ok(rc == want && res.rc == rc && (rc == HTTPS_OK) == (res.body != NULL), "%s: %s", host,
		https_rc_name(want)))
		printf("#   got %s (%d): %s\n", https_rc_name(rc), rc, res.detail);
	if (want_detail && !ok(strstr(res.detail, want_detail) != NULL, "%s: detail mentions '%s'", host,
			       want_detail))
		printf("#   detail: %s\n", res.detail);
	https_result_free(&res);
}

struct conc {
	struct https *h;
	int rc[CONC_PER];
	int body_ok[CONC_PER];
};

static void *conc_main(void *arg)
{
	struct conc *c = arg;
	struct https_result res;
	int i;

	for (i = 0; i < CONC_PER; i++) {
		c->rc[i] = fetch(c->h, "mta-sts.good.test", &res);
		c->body_ok[i] = res.body && strcmp(res.body, POLICY) == 0;
		https_result_free(&res);
	}
	return NULL;
}

/* --- the cases ----------------------------------------------------------- */

static void t_good(struct https *h)
{
	struct https_result res;
	int rc;

	putf("mta-sts.good.test",
	     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	     "Cache-Control: no-store\r\n\r\n%s", strlen(POLICY), POLICY);
	rc = fetch(h, "mta-sts.good.test", &res);
	is_int(rc, HTTPS_OK, "good: ok");
	is_int(res.status, 200, "good: status 200");
	is_str(res.body, POLICY, "good: body");
	is_int(res.len, strlen(POLICY), "good: len");
	is_str(res.detail, "", "good: no detail");
	https_result_free(&res);
	ok(res.body == NULL && res.len == 0, "https_result_free clears body and len");
	is_int(requests("mta-sts.good.test"), 1, "good: one request logged");

	putf("charset.wild.test",
	     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\nabc");
	expect(h, "charset.wild.test", HTTPS_OK, NULL);
	putf("case.wild.test",
	     "HTTP/1.1 200 OK\r\ncontent-type:TEXT/Plain ;charset=\"utf-8\"\r\ncontent-length: 3\r\n\r\nabc");
	expect(h, "case.wild.test", HTTPS_OK, NULL);
	putf("mta-sts.crlf.test",
	     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s", strlen(POLICY),
	     POLICY);
	expect(h, "mta-sts.crlf.test", HTTPS_OK, NULL);
	putf("lf.wild.test", "HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 6\n\nmx: a\n");
	rc = fetch(h, "lf.wild.test", &res);
	is_int(rc, HTTPS_OK, "LF-only head: ok");
	is_str(res.body, "mx: a\n", "LF-only head: body");
	https_result_free(&res);
	putf("http10.wild.test", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nold");
	rc = fetch(h, "http10.wild.test", &res);
	is_int(rc, HTTPS_OK, "HTTP/1.0, read to close_notify: ok");
	is_str(res.body, "old", "HTTP/1.0: body");
	https_result_free(&res);
	putf("interim.wild.test",
	     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	     "Content-Length: 2\r\n\r\nhi");
	expect(h, "interim.wild.test", HTTPS_OK, NULL);
	putf("empty.wild.test", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n");
	rc = fetch(h, "empty.wild.test", &res);
	ok(rc == HTTPS_OK && res.body && res.len == 0 && res.body[0] == '\0', "empty body: ok, \"\"");
	https_result_free(&res);

	putf("chunked.wild.test",
	     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "5;name=value\r\nhello\r\n7\r\n world!\r\nA \r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n");
	rc = fetch(h, "chunked.wild.test", &res);
	is_int(rc, HTTPS_OK, "chunked: ok");
	is_str(res.body, "hello world!0123456789", "chunked: decoded");
	https_result_free(&res);
	putf("chunklf.wild.test",
	     "HTTP/1.1 200 OK\nContent-Type: text/plain\nTransfer-Encoding: gzip, chunked\n\n"
	     "3\nabc\n0\n\n");
	rc = fetch(h, "chunklf.wild.test", &res);
	is_str(res.body, "abc", "chunked with LF line ends: decoded");
	https_result_free(&res);
	putf("badchunk.wild.test",
	     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "zz\r\nhello\r\n0\r\n\r\n");
	expect(h, "badchunk.wild.test", HTTPS_PROTOCOL, "chunk");
	putf("chunkcut.wild.test",
	     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
	     "10\r\nshort");
	expect(h, "chunkcut.wild.test", HTTPS_PROTOCOL, "truncated");
	putf("gzip.wild.test",
	     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip\r\n\r\nxx");
	expect(h, "gzip.wild.test", HTTPS_PROTOCOL, "gzip");

}

static void t_status(struct https *h)
{
	struct https_result res;
	int before;

	/* no .resp file: the server's own 404 */
	expect(h, "missing.wild.test", HTTPS_NOT_FOUND, "404");
	putf("gone.wild.test", "HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n");
	expect(h, "gone.wild.test", HTTPS_NOT_FOUND, "410");
	putf("error.wild.test",
	     "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\noops");
	fetch(h, "error.wild.test", &res);
	ok(res.rc == HTTPS_HTTP_STATUS && res.status == 500 && !res.body, "500: http status, status 500");
	https_result_free(&res);

	before = requests("target.wild.test");
	putf("redirect.wild.test",
	     "HTTP/1.1 301 Moved Permanently\r\nLocation: https://target.wild.test/.well-known/mta-sts.txt\r\n"
	     "Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n");
	putf("target.wild.test", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi");
	fetch(h, "redirect.wild.test", &res);
	ok(res.rc == HTTPS_HTTP_STATUS && res.status == 301, "301: http status");
	is_str(res.detail, "status 301", "301: detail");
	https_result_free(&res);
	is_int(requests("redirect.wild.test"), 1, "301: one request");
	is_int(requests("target.wild.test"), before, "301: Location not followed");
	putf("temp.wild.test", "HTTP/1.1 307 Temporary Redirect\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n");
	expect(h, "temp.wild.test", HTTPS_HTTP_STATUS, "307");
	putf("nocontent.wild.test", "HTTP/1.1 204 No Content\r\n\r\n");
	expect(h, "nocontent.wild.test", HTTPS_HTTP_STATUS, "204");
}

static void t_ctype(struct https *h, struct https *anytype, struct https *two)
{
	putf("html.wild.test",
	     "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 3\r\n\r\nabc");
	expect(h, "html.wild.test", HTTPS_CONTENT_TYPE, "content type text/html");
	expect(anytype, "html.wild.test", HTTPS_OK, NULL);
	expect(two, "html.wild.test", HTTPS_OK, NULL);
	putf("noctype.wild.test", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
	expect(h, "noctype.wild.test", HTTPS_CONTENT_TYPE, "no content type");
	expect(anytype, "noctype.wild.test", HTTPS_OK, NULL);
	putf("prefix.wild.test",
	     "HTTP/1.1 200 OK\r\nContent-Type: text/plainer\r\nContent-Length: 3\r\n\r\nabc");
	expect(h, "prefix.wild.test", HTTPS_CONTENT_TYPE, "text/plainer");
}

static void t_size(struct https *h)
{
	struct https_result res;
	char *buf;
	size_t i, n;
	int rc;

	put_big("big.wild.test", HTTPS_BODY_MAX + 2, 1);
	expect(h, "big.wild.test", HTTPS_TOO_LARGE, "Content-Length");
	put_big("bigclose.wild.test", HTTPS_BODY_MAX + 2, 0);
	expect(h, "bigclose.wild.test", HTTPS_TOO_LARGE, NULL);
	put_big("exact.wild.test", HTTPS_BODY_MAX, 1);
	rc = fetch(h, "exact.wild.test", &res);
	ok(rc == HTTPS_OK && res.len == HTTPS_BODY_MAX && res.body[HTTPS_BODY_MAX] == '\0' &&
		   res.body[0] == 'x' && res.body[HTTPS_BODY_MAX - 1] == 'x',
	   "exactly 64 KiB with Content-Length: ok");
	https_result_free(&res);
	put_big("exactclose.wild.test", HTTPS_BODY_MAX, 0);
	rc = fetch(h, "exactclose.wild.test", &res);
	ok(rc == HTTPS_OK && res.len == HTTPS_BODY_MAX, "exactly 64 KiB read to close: ok");
	https_result_free(&res);
	putf("hugelen.wild.test",
	     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 99999999999999999999999\r\n\r\nabc");
	expect(h, "hugelen.wild.test", HTTPS_TOO_LARGE, NULL);

	/* 1-byte chunks: the framing is 6 times the body, the body just over */
	n = HTTPS_BODY_MAX + 1;
	buf = malloc(256 + n * 6 + 16);
	if (!buf)
		bail("malloc");
	i = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n");
	for (; n > 0; n--)
		i += (size_t)sprintf(buf + i, "1\r\ny\r\n");
	i += (size_t)sprintf(buf + i, "0\r\n\r\n");
	put("bigchunk.wild.test", buf, i);
	free(buf);
	expect(h, "bigchunk.wild.test", HTTPS_TOO_LARGE, "chunked");

	/* a head that never ends within HTTPS_HEADER_MAX */
	n = HTTPS_HEADER_MAX + 100;
	buf = malloc(n + 256);
	if (!buf)
		bail("malloc");
	i = (size_t)sprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Big: ");
	memset(buf + i, 'h', n);
	i += n;
	i += (size_t)sprintf(buf + i, "\r\nContent-Length: 2\r\n\r\nok");
	put("bighead.wild.test", buf, i);
	free(buf);
	expect(h, "bighead.wild.test", HTTPS_PROTOCOL, "head");
}

static void t_protocol(struct https *h)
{
	putf("trunc.wild.test",
	     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly fifty?");
	expect(h, "trunc.wild.test", HTTPS_PROTOCOL, "truncated");
	putf("cut.wild.test",
	     "#!close-after 70\n"
	     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s", strlen(POLICY),
	     POLICY);
	expect(h, "cut.wild.test", HTTPS_PROTOCOL, "truncated");
	putf("cuthead.wild.test", "#!close-after 20\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
	expect(h, "cuthead.wild.test", HTTPS_PROTOCOL, "head");
	putf("garbage.wild.test", "HTTX/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc");
	expect(h, "garbage.wild.test", HTTPS_PROTOCOL, "status line");
	putf("garbage2.wild.test", "HTTP/1.1 2000 OK\r\n\r\n");
	expect(h, "garbage2.wild.test", HTTPS_PROTOCOL, "status line");
	putf("garbage3.wild.test", "SSH-2.0-OpenSSH_9.2\r\n\r\n");
	expect(h, "garbage3.wild.test", HTTPS_PROTOCOL, "status line");
	/* not TLS at all: a fetch error, not a certificate one */
	putf("hsgarbage.wild.test", "#!handshake-garbage\n");
	expect(h, "hsgarbage.wild.test", HTTPS_TLS, "TLS handshake");
	putf("silent.wild.test", "%s", "");
	expect(h, "silent.wild.test", HTTPS_PROTOCOL, "without a response");
	putf("badheader.wild.test", "HTTP/1.1 200 OK\r\nContent-Type text/plain\r\n\r\nabc");
	expect(h, "badheader.wild.test", HTTPS_PROTOCOL, "header");
	putf("twolen.wild.test",
	     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");
	expect(h, "twolen.wild.test", HTTPS_PROTOCOL, "Content-Length");
	/* to-close bodies need close_notify; counted ones do not */
	putf("noclose.wild.test",
	     "#!no-close-notify\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n%s", POLICY);
	expect(h, "noclose.wild.test", HTTPS_PROTOCOL, "close_notify");
	putf("nocloselen.wild.test",
	     "#!no-close-notify\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
	     strlen(POLICY), POLICY);
	expect(h, "nocloselen.wild.test", HTTPS_OK, NULL);
}

static void t_tls(struct https *h, struct https *sys, struct https *wrong_ca)
{
	expect(h, "mta-sts.expired.test", HTTPS_CERT, "expired");
	expect(h, "mta-sts.wrongname.test", HTTPS_CERT, "mismatch");
	expect(h, "mta-sts.selfsigned.test", HTTPS_CERT, "self-signed");
	/* *.wild.test covers one label only, and not wild.test itself */
	expect(h, "a.b.wild.test", HTTPS_CERT, "mismatch");
	expect(h, "wild.test", HTTPS_CERT, "mismatch");
	expect(wrong_ca, "mta-sts.good.test", HTTPS_CERT, "issuer");
	expect(sys, "mta-sts.good.test", HTTPS_CERT, "issuer");
}

static void t_connect(struct https *h)
{
	struct sockaddr_storage two[2];
	socklen_t two_len[2];
	struct https_result res;
	struct https *closed;
	int fill[FILLERS_MAX], nfill, hole;
	int64_t t0, el;
	int rc;

	closed = mk(certs, 1000, 3000, "text/plain", closed_port());
	rc = https_get(closed, "mta-sts.good.test", NULL, lo, lo_len, 2, &res);
	is_int(rc, HTTPS_CONNECT, "closed port, two addresses: connect");
	ok(strstr(res.detail, "127.0.0.1") != NULL, "connect: detail names the address");
	https_result_free(&res);
	https_free(closed);

	rc = https_get(h, "mta-sts.good.test", NULL, lo, lo_len, 0, &res);
	is_int(rc, HTTPS_CONNECT, "no addresses: connect");

	/* 127.0.0.2 is loopback too, but the server listens on 127.0.0.1 only */
	addr4(&two[0], &two_len[0], "127.0.0.2");
	addr4(&two[1], &two_len[1], "127.0.0.1");
	rc = https_get(h, "mta-sts.good.test", NULL, two, two_len, 2, &res);
	ok(rc == HTTPS_OK && res.body && strcmp(res.body, POLICY) == 0, "refused first address, second: ok");
	https_result_free(&res);

	/* same port as the server, on an address where SYNs go unanswered */
	hole = black_hole("127.0.0.3", port, fill, &nfill);
	if (hole < 0) {
		printf("# could not build a backlog-full listener; connect timeouts not checked\n");
		return;
	}
	addr4(&two[0], &two_len[0], "127.0.0.3");
	t0 = now_ms();
	rc = https_get(h, "mta-sts.good.test", NULL, two, two_len, 1, &res);
	el = now_ms() - t0;
	is_int(rc, HTTPS_TIMEOUT, "unanswered connect: timeout");
	ok(el >= 250 && el < 1300, "unanswered connect: after the connect timeout (%lld ms)", (long long)el);
	https_result_free(&res);
	t0 = now_ms();
	rc = https_get(h, "mta-sts.good.test", NULL, two, two_len, 2, &res);
	el = now_ms() - t0;
	is_int(rc, HTTPS_OK, "unanswered first address, second: ok");
	ok(el >= 250 && el < 2000, "second address after the first's connect timeout (%lld ms)",
	   (long long)el);
	https_result_free(&res);
	while (nfill > 0)
		close(fill[--nfill]);
	close(hole);
}

static void t_timeout(void)
{
	struct https_result res;
	struct https *h = mk(certs, 300, 1000, "text/plain", port);
	struct https *slow_connect = mk(certs, 5000, 1000, "text/plain", port);
	int64_t t0, el;
	int rc;

	putf("noresp.wild.test", "#!no-response\nHTTP/1.1 200 OK\r\n\r\n");
	t0 = now_ms();
	rc = fetch(h, "noresp.wild.test", &res);
	el = now_ms() - t0;
	is_int(rc, HTTPS_TIMEOUT, "no response: timeout");
	ok(el >= 900 && el < 2000, "no response: within total timeout + 1 s (%lld ms)", (long long)el);
	ok(strstr(res.detail, "waiting for the response") != NULL, "no response: detail says where (%s)",
	   res.detail);
	https_result_free(&res);

	putf("trickle.wild.test",
	     "#!trickle-ms 50\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
	     strlen(POLICY), POLICY);
	t0 = now_ms();
	rc = fetch(slow_connect, "trickle.wild.test", &res);
	el = now_ms() - t0;
	is_int(rc, HTTPS_TIMEOUT, "trickle: timeout");
	ok(el >= 900 && el < 2000, "trickle: within total timeout + 1 s (%lld ms)", (long long)el);
	https_result_free(&res);

	putf("delay.wild.test",
	     "#!delay-ms 200\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
	expect(h, "delay.wild.test", HTTPS_OK, NULL);
	putf("late.wild.test",
	     "#!delay-ms 3000\nHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
	expect(h, "late.wild.test", HTTPS_TIMEOUT, NULL);
	https_free(h);
	https_free(slow_connect);
}

static void t_concurrent(struct https *h)
{
	struct conc c[CONC_THREADS];
	pthread_t t[CONC_THREADS];
	int i, j, started = 0, good = 0;

	for (i = 0; i < CONC_THREADS; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].h = h;
		if (pthread_create(&t[i], NULL, conc_main, &c[i]) == 0)
			started++;
		else
			break;
	}
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < started; i++)
		for (j = 0; j < CONC_PER; j++)
			good += c[i].rc[j] == HTTPS_OK && c[i].body_ok[j];
	is_int(good, CONC_THREADS * CONC_PER, "16 fetches from 8 threads on one struct https: all ok");
}

static void t_api(void)
{
	struct https_cfg cfg = { .ca_file = "/nonexistent/ca.pem" };
	struct https_result res;
	struct https *h;
	char err[256], big[HTTPS_CTYPES_MAX + 2];

	err[0] = '\0';
	h = https_new(&cfg, err, sizeof(err));
	ok(!h && strstr(err, "No such file"), "https_new: missing ca_file (%s)", err);
	https_free(h);
	cfg.ca_file = site;     /* a directory: no certificates in it */
	h = https_new(&cfg, err, sizeof(err));
	ok(!h, "https_new: ca_file that holds no certificate (%s)", err);
	https_free(h);
	cfg.ca_file = NULL;
	cfg.total_timeout_ms = HTTPS_TIMEOUT_MAX_MS + 1;
	h = https_new(&cfg, err, sizeof(err));
	ok(!h, "https_new: timeout over the maximum (%s)", err);
	cfg.total_timeout_ms = 0;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cfg.content_types = big;
	h = https_new(&cfg, err, sizeof(err));
	ok(!h, "https_new: content types too long (%s)", err);
	cfg.content_types = NULL;
	h = https_new(&cfg, err, sizeof(err));
	ok(h != NULL, "https_new: defaults, system store");
	if (h) {
		is_int(https_get(h, "bad host\r\nX: y", NULL, lo, lo_len, 1, &res), HTTPS_SYS,
		       "https_get: host with CR LF refused");
		is_int(https_get(h, "ok.test", "no-slash", lo, lo_len, 1, &res), HTTPS_SYS,
		       "https_get: relative path refused");
	}
	https_free(h);
	https_free(NULL);

	is_str(https_rc_name(HTTPS_OK), "ok", "rc name ok");
	is_str(https_rc_name(HTTPS_NOT_FOUND), "not found", "rc name not found");
	is_str(https_rc_name(HTTPS_HTTP_STATUS), "http status", "rc name http status");
	is_str(https_rc_name(HTTPS_TLS), "tls", "rc name tls");
	is_str(https_rc_name(HTTPS_CERT), "certificate", "rc name certificate");
	is_str(https_rc_name(HTTPS_CONNECT), "connect", "rc name connect");
	is_str(https_rc_name(HTTPS_TIMEOUT), "timeout", "rc name timeout");
	is_str(https_rc_name(HTTPS_TOO_LARGE), "too large", "rc name too large");
	is_str(https_rc_name(HTTPS_CONTENT_TYPE), "content type", "rc name content type");
	is_str(https_rc_name(HTTPS_PROTOCOL), "protocol", "rc name protocol");
	is_str(https_rc_name(HTTPS_SYS), "system", "rc name system");
	is_str(https_rc_name(42), "unknown", "rc name unknown");
}

int main(int argc, char **argv)
{
	char srv[PATH_BUF], script[PATH_BUF], ca[PATH_BUF], wrong[PATH_BUF], map[PATH_BUF];
	struct https *h, *anytype, *two, *sys, *wrong_ca;
	FILE *f;
	int rc;

	(void)argc;
	/* the daemon ignores SIGPIPE too; the module must not need it, but a
	 * test that dies of it says nothing useful */
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(tmp))
		bail("mkdtemp");
	join(certs, sizeof(certs), tmp, "certs");
	join(site, sizeof(site), tmp, "site");
	if (mkdir(site, 0700) < 0)
		bail(site);
	find_server(argv[0], srv, sizeof(srv));
	find_certs_sh(argv[0], script, sizeof(script));

	{
		char sh[] = "sh", n1[] = "mta-sts.good.test", n2[] = "mta-sts.crlf.test";
		char *cargv[] = { sh, script, certs, n1, n2, NULL };

		rc = run(cargv);
	}
	if (!ok(rc == 0, "certs.sh made the test PKI")) {
		printf("Bail out! %s exited %d\n", script, rc);
		goto out;
	}
	join(ca, sizeof(ca), certs, "ca.crt");
	join(wrong, sizeof(wrong), certs, "selfsigned.crt");
	join(map, sizeof(map), site, "certs.map");
	f = fopen(map, "w");
	if (!f)
		bail(map);
	fprintf(f, "# HOST CERT KEY\n* %1$s/good.crt %1$s/good.key\n"
		   "mta-sts.expired.test %1$s/expired.crt %1$s/expired.key\n"
		   "mta-sts.wrongname.test %1$s/wrongname.crt %1$s/wrongname.key\n"
		   "mta-sts.selfsigned.test %1$s/selfsigned.crt %1$s/selfsigned.key\n", certs);
	if (fclose(f) != 0)
		bail(map);

	if (!ok(start_server(srv), "https_srv started (%s)", srv)) {
		printf("Bail out! no server\n");
		goto out;
	}
	addr4(&lo[0], &lo_len[0], "127.0.0.1");
	addr4(&lo[1], &lo_len[1], "127.0.0.1");

	snprintf(certs, sizeof(certs), "%s", ca);    /* from here on, mk()'s CA file */
	h = mk(certs, 300, 5000, "text/plain", port);
	anytype = mk(certs, 300, 5000, "", port);
	two = mk(certs, 300, 5000, "application/json  TEXT/HTML", port);
	sys = mk(NULL, 300, 5000, "text/plain", port);
	wrong_ca = mk(wrong, 300, 5000, "text/plain", port);

	t_good(h);
	t_status(h);
	t_ctype(h, anytype, two);
	t_size(h);
	t_protocol(h);
	t_tls(h, sys, wrong_ca);
	t_connect(h);
	t_timeout();
	t_concurrent(h);
	t_api();

	https_free(h);
	https_free(anytype);
	https_free(two);
	https_free(sys);
	https_free(wrong_ca);
	is_int(stop_server(), 0, "https_srv exits 0 on SIGTERM");
out:
	if (srv_pid > 0) {
		kill(srv_pid, SIGKILL);
		waitpid(srv_pid, NULL, 0);
	}
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
