/*
 * tests/tools/lookup_loop.c - a client that keeps looking up, for the
 * hostile-user tests: it must outlive whatever another user does.
 *
 *   lookup_loop DIR KEY SECONDS
 *
 * Resolves KEY through one handle for SECONDS, posting a delivery event
 * every 1000 lookups.  Prints "lookups N errors E" and exits 0 if every
 * lookup answered (found or not found), 1 otherwise.  A crash (SIGBUS,
 * SIGSEGV) is the failure the tests look for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "client/mxcache.h"

int main(int argc, char **argv)
{
	struct timespec now, end;
	char host[256];
	unsigned long n = 0, bad = 0;
	mxc_t *h;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: lookup_loop DIR KEY SECONDS\n");
		return 2;
	}
	if ((rc = mxc_open(argv[1], &h)) != MXC_OK) {
		fprintf(stderr, "lookup_loop: %s\n", mxc_strerror(rc));
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += atol(argv[3]);
	do {
		rc = mxc_resolve(h, argv[2], host, sizeof(host));
		if (rc != MXC_OK && rc != MXC_NOTFOUND)
			bad++;
		if (++n % 1000 == 0)
			(void)mxc_record_success(h, "loop.example", 1, MXC_TRANSPORT_SMTP);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
	printf("lookups %lu errors %lu\n", n, bad);
	mxc_close(h);
	return bad == 0 ? 0 : 1;
}
