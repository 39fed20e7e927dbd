/*
 * tests/tools/sts_client.c - the MTA-STS calls of libmxcache, one process
 * at a time, for the shell tests.
 *
 *   sts_client DIR flood DOMAIN SECONDS   mxc_sts_get in a loop on one
 *                                         handle; prints "lookups N"
 *
 * Exit 0 when every call answered (a policy, not found, backoff), 1 when
 * one failed otherwise, 2 on a usage error.
 */
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

int main(int argc, char **argv)
{
	mxc_t *h;
	int rc;

	if (argc != 5 || strcmp(argv[2], "flood") != 0) {
		fprintf(stderr, "usage: sts_client DIR flood DOMAIN SECONDS\n");
		return 2;
	}
	if ((rc = mxc_open(argv[1], &h)) != MXC_OK) {
		fprintf(stderr, "sts_client: %s\n", mxc_strerror(rc));
		return 2;
	}
	rc = flood(h, argv[3], atol(argv[4]));
	mxc_close(h);
	return rc;
}
