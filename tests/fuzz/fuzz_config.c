/*
 * fuzz_config - mxcached's configuration file (daemon/config.c, on
 * libinih): any bytes as a file give a config or a one-line error, never
 * a crash or an overrun.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64], err[512];
	struct config *c = NULL;

	if (fd < 0) {
		log_init(1, LOG_WARNING);
		fd = memfd_create("fuzz-config", 0);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (config_load(path, &c, err, sizeof(err)) == 0) {
		if (c->sts_workers < 1 || c->dns_nservers > CONFIG_DNS_SERVERS_MAX)
			abort();
		config_free(c);
	} else if (memchr(err, '\n', strlen(err)) != NULL) {
		abort();          /* an error is one line */
	}
	return 0;
}
