/*
 * tests/tools/server_post.c - report connecting servers through
 * libmxcache, for the tracker tests.
 *
 *   server_post DIR IP SENDER [N]
 *
 * Calls mxc_record_server(IP, SENDER) N times (default 1), retrying a full
 * ring; SENDER "-" means none.  Exit 0, 1 on an error (printed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/mxcache.h"

int main(int argc, char **argv)
{
	struct timespec pause = { 0, 100000 };
	const char *sender;
	long n = 1, i;
	mxc_t *h;
	int rc;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: server_post DIR IP SENDER [N]\n");
		return 2;
	}
	sender = strcmp(argv[3], "-") == 0 ? NULL : argv[3];
	if (argc == 5)
		n = atol(argv[4]);
	if (mxc_open(argv[1], &h) != MXC_OK)
		return 2;
	for (i = 0; i < n; i++) {
		while ((rc = mxc_record_server(h, argv[2], sender)) == MXC_EFULL)
			nanosleep(&pause, NULL);
		if (rc != MXC_OK) {
			fprintf(stderr, "server_post: %s\n", mxc_strerror(rc));
			mxc_close(h);
			return 1;
		}
	}
	mxc_close(h);
	return 0;
}
