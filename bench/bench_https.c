/*
 * bench_https - cost of one MTA-STS policy fetch through daemon/https.h.
 *
 * Makes a throw-away PKI with tests/certs.sh, starts tests/tools/https_srv
 * on loopback with a 200 policy, then fetches it N times in a row, one
 * TLS connection per fetch as the daemon does, and prints fetches/s, the
 * CPU time per fetch of this process (the client; the server is another
 * process) and the peak RSS.  Only the public interface is used, so the
 * same file measures any implementation of https.h: link it with another
 * https.c to compare (see the opening comment of daemon/https.c).
 *
 *   bench_https [-n FETCHES] [-s HTTPS_SRV] [-c CERTS_SH] [-b BODY_BYTES]
 *
 * Defaults: 1000 fetches, build/tests/tools/https_srv, tests/certs.sh,
 * the 80-byte policy.  Exit status 1 if any fetch fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/https.h"

#define PATH_BUF      4096
#define SRV_START_MS  20000
#define HOST          "mta-sts.bench.test"
#define POLICY \
	"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 86400\r\n"

static char tmp[] = "/tmp/mxc-bench-https.XXXXXX";
static pid_t srv_pid = -1;

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (srv_pid > 0) {
		kill(srv_pid, SIGTERM);
		waitpid(srv_pid, NULL, 0);
		srv_pid = -1;
	}
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what)
{
	fprintf(stderr, "bench_https: %s: %s\n", what, errno ? strerror(errno) : "failed");
	cleanup();
	exit(1);
}

static void put_file(const char *path, const char *head, size_t body)
{
	FILE *f = fopen(path, "w");
	size_t i;

	if (!f)
		die(path);
	fputs(head, f);
	for (i = 0; i < body; i++)
		fputc(POLICY[i % (sizeof(POLICY) - 1)], f);
	if (fclose(f) != 0)
		die(path);
}

static uint16_t start_server(const char *srv, const char *site)
{
	char portfile[PATH_BUF], buf[32];
	int64_t dl = now_us() + (int64_t)SRV_START_MS * 1000;
	FILE *f;

	snprintf(portfile, sizeof(portfile), "%s/port", tmp);
	fflush(NULL);
	srv_pid = fork();
	if (srv_pid < 0)
		die("fork");
	if (srv_pid == 0) {
		execl(srv, srv, "-P", portfile, "-d", site, (char *)NULL);
		_exit(127);
	}
	while (now_us() < dl) {
		f = fopen(portfile, "r");
		if (f) {
			buf[0] = '\0';
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = '\0';
			fclose(f);
			return (uint16_t)atoi(buf);
		}
		if (waitpid(srv_pid, NULL, WNOHANG) == srv_pid) {
			srv_pid = -1;
			break;
		}
		usleep(10000);
	}
	errno = 0;
	die(srv);
	return 0;
}

int main(int argc, char **argv)
{
	const char *srv = "build/tests/tools/https_srv", *certs_sh = "tests/certs.sh";
	char certs[128], site[128], path[PATH_BUF], head[256], err[256], cmd[PATH_BUF * 2];
	struct sockaddr_storage lo;
	socklen_t lo_len = sizeof(struct sockaddr_in);
	struct https_result res;
	struct rusage ru0, ru1;
	struct https *h;
	long n = 1000, i, bad = 0;
	size_t body = sizeof(POLICY) - 1;
	int64_t t0, el;
	double cpu;
	FILE *f;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:c:b:")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 's': srv = optarg; break;
		case 'c': certs_sh = optarg; break;
		case 'b': body = (size_t)atol(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n FETCHES] [-s HTTPS_SRV] [-c CERTS_SH] [-b BODY_BYTES]\n",
				argv[0]);
			return 2;
		}
	}
	if (n < 1 || body > HTTPS_BODY_MAX) {
		fprintf(stderr, "bench_https: -n at least 1, -b at most %d\n", HTTPS_BODY_MAX);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(tmp))
		die("mkdtemp");
	snprintf(certs, sizeof(certs), "%s/certs", tmp);
	snprintf(site, sizeof(site), "%s/site", tmp);
	if (mkdir(site, 0700) < 0)
		die(site);
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s' " HOST, certs_sh, certs);
	errno = 0;
	if (system(cmd) != 0)
		die(cmd);
	snprintf(path, sizeof(path), "%s/certs.map", site);
	f = fopen(path, "w");
	if (!f)
		die(path);
	fprintf(f, "* %1$s/good.crt %1$s/good.key\n", certs);
	if (fclose(f) != 0)
		die(path);
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n", body);
	snprintf(path, sizeof(path), "%s/" HOST ".resp", site);
	put_file(path, head, body);

	memset(&lo, 0, sizeof(lo));
	((struct sockaddr_in *)&lo)->sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &((struct sockaddr_in *)&lo)->sin_addr);
	snprintf(path, sizeof(path), "%s/ca.crt", certs);
	{
		struct https_cfg cfg = {
			.ca_file = path,
			.connect_timeout_ms = 2000,
			.total_timeout_ms = 10000,
			.content_types = HTTPS_CTYPES_DEF,
			.port = start_server(srv, site),
		};

		h = https_new(&cfg, err, sizeof(err));
	}
	if (!h) {
		errno = 0;
		die(err);
	}
	/* one fetch first: libraries load lazily, and the server warms up */
	https_get(h, HOST, NULL, &lo, &lo_len, 1, &res);
	https_result_free(&res);

	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_us();
	for (i = 0; i < n; i++) {
		if (https_get(h, HOST, NULL, &lo, &lo_len, 1, &res) != HTTPS_OK || res.len != body) {
			if (bad++ == 0)
				fprintf(stderr, "bench_https: fetch %ld: %s: %s\n", i, https_rc_name(res.rc),
					res.detail);
		}
		https_result_free(&res);
	}
	el = now_us() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
		       ru0.ru_stime.tv_sec) * 1e6 +
	      (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
		       ru0.ru_stime.tv_usec);
	printf("fetches %ld  failed %ld  body %zu B\n", n, bad, body);
	printf("fetches/s %.0f  wall us/fetch %.0f  client cpu us/fetch %.0f  peak rss KiB %ld\n",
	       (double)n * 1e6 / (double)el, (double)el / (double)n, cpu / (double)n, ru1.ru_maxrss);
	https_free(h);
	cleanup();
	return bad ? 1 : 0;
}
