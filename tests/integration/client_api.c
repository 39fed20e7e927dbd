/*
 * client_api - a program that uses libmxcache the way an MTA would, built
 * against the installed header and library (pkg-config mxcache) by
 * test_pkgconfig.sh.  Expects the overrides that script sets.
 * Usage: client_api DIR
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <mxcache.h>

#define THREADS 4
#define LOOKUPS 200000

static mxc_t *h;
static int n_ok, n_fail;

static void check(int cond, const char *what)
{
	if (cond)
		printf("ok %d - %s\n", ++n_ok + n_fail, what);
	else
		printf("not ok %d - %s\n", n_ok + ++n_fail, what);
}

static void *worker(void *arg)
{
	char host[MXC_HOST_MAX + 1];
	long bad = 0;
	int i;

	(void)arg;
	for (i = 0; i < LOOKUPS; i++) {
		if (mxc_resolve(h, (i & 1) ? "EXAMPLE.org." : "example.org", host, sizeof(host)) != MXC_OK ||
		    strcmp(host, "10.9.8.7") != 0)
			bad++;
		if (mxc_resolve(h, "unknown.example", host, sizeof(host)) != MXC_NOTFOUND)
			bad++;
	}
	return (void *)bad;
}

int main(int argc, char **argv)
{
	char host[MXC_HOST_MAX + 1], norm[MXC_HOST_MAX + 1];
	struct mxc_mx mx[4];
	struct mxc_override ov;
	pthread_t t[THREADS];
	size_t n = 0;
	int from = 0, i, rc;
	long bad = 0;
	void *ret;

	if (argc != 2)
		return 2;
	check(MXC_API_VERSION == 1, "API version 1");
	rc = mxc_open(argv[1], &h);
	check(rc == MXC_OK, "mxc_open");
	if (rc != MXC_OK) {
		printf("# %s\n", mxc_strerror(rc));
		return 1;
	}
	check(mxc_resolve(h, "example.org", host, sizeof(host)) == MXC_OK && strcmp(host, "10.9.8.7") == 0,
	      "mxc_resolve finds the override");
	check(mxc_resolve(h, "[1.1.1.1]", host, sizeof(host)) == MXC_OK && strcmp(host, "1.1.1.1") == 0,
	      "mxc_resolve returns an IP literal itself");
	check(mxc_resolve(h, "unknown.example", host, sizeof(host)) == MXC_NOTFOUND, "NOTFOUND means use DNS");
	check(mxc_resolve_mx(h, "example.org", mx, 4, &n, &from) == MXC_OK && n == 1 && mx[0].pref == 0 &&
		      strcmp(mx[0].host, "10.9.8.7") == 0 && from == 1,
	      "mxc_resolve_mx gives one synthetic record");
	check(mxc_override_get(h, "example.org", &ov) == MXC_OK && strcmp(ov.comment, "migration") == 0,
	      "mxc_override_get has the comment");
	check(mxc_normalize("Bücher.Example.", norm, sizeof(norm)) == MXC_OK &&
		      strcmp(norm, "xn--bcher-kva.example") == 0,
	      "mxc_normalize turns Unicode into an A-label");
	for (rc = -7; rc <= 2; rc++)
		if (mxc_strerror(rc) == NULL)
			bad++;
	check(bad == 0, "mxc_strerror never returns NULL");
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], &ret);
		bad += (long)ret;
	}
	check(bad == 0, "4 threads x 400,000 lookups on one handle, every answer right");
	mxc_close(h);
	printf("1..%d\n", n_ok + n_fail);
	return n_fail != 0;
}
