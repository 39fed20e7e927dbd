/*
 * tests/tools/sts_client.c - the MTA-STS calls of libmxcache, one process
 * at a time, for the shell tests.
 *
 *   sts_client DIR flood DOMAIN SECONDS   mxc_sts_get in a loop on one
 *                                         handle; prints "lookups N"
 *   sts_client DIR wait DOMAIN TIMEOUT_MS mxc_sts_wait in a thread of its
 *                                         own (as a server would call it);
 *                                         prints "NAME MS": its result and
 *                                         how long it took
 *
 * Exit 0 when every call answered (a policy, not found, backoff), 1 when
 * one failed otherwise, 2 on a usage error.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/mxcache.h"

static int flood(mxc_t *h, const char *domain, long seconds)
{
	struct timespec now, end;
	struct mxc_sts *p = malloc(sizeof(*p));
	unsigned long n = 0, bad = 0;
	int rc;

	if (p == NULL)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	do {
		rc = mxc_sts_get(h, domain, p);
		if (rc != MXC_OK && rc != MXC_NOTFOUND && rc != MXC_BACKOFF)
			bad++;
		n++;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
	printf("lookups %lu errors %lu\n", n, bad);
	free(p);
	return bad == 0 ? 0 : 1;
}

struct wait_arg {
	mxc_t *h;
	const char *domain;
	int timeout_ms, rc;
};

static void *wait_thread(void *arg)
{
	struct wait_arg *w = arg;

	w->rc = mxc_sts_wait(w->h, w->domain, w->timeout_ms);
	return NULL;
}

static int wait_for_check(mxc_t *h, const char *domain, int timeout_ms)
{
	struct wait_arg w = { h, domain, timeout_ms, MXC_ESYS };
	struct timespec t0, t1;
	pthread_t t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pthread_create(&t, NULL, wait_thread, &w) != 0)
		return 1;
	pthread_join(t, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%s %lld\n", w.rc == MXC_OK ? "ok" : w.rc == MXC_NOTFOUND ? "notfound" : mxc_strerror(w.rc),
	       (long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	return w.rc == MXC_OK || w.rc == MXC_NOTFOUND ? 0 : 1;
}

int main(int argc, char **argv)
{
	mxc_t *h;
	int rc;

	if (argc != 5 || (strcmp(argv[2], "flood") != 0 && strcmp(argv[2], "wait") != 0)) {
		fprintf(stderr, "usage: sts_client DIR flood DOMAIN SECONDS\n"
				"       sts_client DIR wait DOMAIN TIMEOUT_MS\n");
		return 2;
	}
	if ((rc = mxc_open(argv[1], &h)) != MXC_OK) {
		fprintf(stderr, "sts_client: %s\n", mxc_strerror(rc));
		return 2;
	}
	if (strcmp(argv[2], "flood") == 0)
		rc = flood(h, argv[3], atol(argv[4]));
	else
		rc = wait_for_check(h, argv[3], atoi(argv[4]));
	mxc_close(h);
	return rc;
}
