/*
 * tests/tools/stats_post.c - post delivery events through libmxcache, for
 * the stats tests.
 *
 *   stats_post DIR DOMAIN N queue|dequeue|success|failure [retry|drop] [THREADS [PAUSE_MS [HOLD_MS [ROUNDS]]]]
 *
 * Posts N events per thread (queue: +1; dequeue: -1; success: 10 ms over
 * SMTP; failure: HTTPS).  retry: an MXC_EFULL is retried until it goes through,
 * so the count that arrives is exact; drop: an MXC_EFULL is dropped, and
 * the drops are printed.  Prints "posted P dropped D".  ROUNDS (default 1)
 * times: wait PAUSE_MS, then post N per thread; then keep the handle (and
 * the registration) HOLD_MS longer.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/mxcache.h"

static mxc_t *h;
static const char *domain, *kind;
static long n;
static int retry;
static long dropped_total;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static int post(void)
{
	if (strcmp(kind, "queue") == 0)
		return mxc_queue_add(h, domain, 1);
	if (strcmp(kind, "dequeue") == 0)
		return mxc_queue_add(h, domain, -1);
	if (strcmp(kind, "success") == 0)
		return mxc_record_success(h, domain, 10, MXC_TRANSPORT_SMTP);
	return mxc_record_failure(h, domain, MXC_TRANSPORT_HTTPS);
}

static void *run(void *arg)
{
	struct timespec pause = { 0, 100000 };
	long i, dropped = 0;
	int rc;

	(void)arg;
	for (i = 0; i < n; i++) {
		while ((rc = post()) == MXC_EFULL && retry)
			nanosleep(&pause, NULL);
		if (rc == MXC_EFULL)
			dropped++;
		else if (rc != MXC_OK) {
			fprintf(stderr, "stats_post: %s\n", mxc_strerror(rc));
			exit(1);
		}
	}
	pthread_mutex_lock(&mu);
	dropped_total += dropped;
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

int main(int argc, char **argv)
{
	pthread_t t[64];
	int i, nt = 1;
	long pause_ms = 0, hold_ms = 0, rounds = 1, r;

	if (argc < 5) {
		fprintf(stderr, "usage: stats_post DIR DOMAIN N queue|success|failure [retry|drop] [THREADS [PAUSE_MS "
				"[HOLD_MS [ROUNDS]]]]\n");
		return 2;
	}
	domain = argv[2];
	n = atol(argv[3]);
	kind = argv[4];
	retry = argc < 6 || strcmp(argv[5], "retry") == 0;
	if (argc > 6)
		nt = atoi(argv[6]);
	if (argc > 7)
		pause_ms = atol(argv[7]);
	if (argc > 8)
		hold_ms = atol(argv[8]);
	if (argc > 9)
		rounds = atol(argv[9]);
	if (nt < 1 || nt > 64 || pause_ms < 0 || hold_ms < 0 || rounds < 1 || mxc_open(argv[1], &h) != MXC_OK)
		return 2;
	for (r = 0; r < rounds; r++) {
		sleep_ms(pause_ms);
		for (i = 0; i < nt; i++)
			pthread_create(&t[i], NULL, run, NULL);
		for (i = 0; i < nt; i++)
			pthread_join(t[i], NULL);
	}
	printf("posted %ld dropped %ld\n", n * nt * rounds - dropped_total, dropped_total);
	fflush(stdout);
	sleep_ms(hold_ms);
	mxc_close(h);
	return 0;
}
