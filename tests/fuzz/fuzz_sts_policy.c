/*
 * fuzz_sts_policy - RFC 8461 policy bodies and TXT records from the
 * network (daemon/sts_parse.c).  A successful parse must satisfy the
 * invariants the cache relies on; nothing may read past the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sts_parse.h"
#include "shm/sts_match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sts_policy p;
	char err[256], id[STS_ID_MAX + 1];
	size_t i;

	if (sts_policy_parse((const char *)data, size, &p, err, sizeof(err)) == 0) {
		if (p.mode < STS_MODE_NONE || p.mode > STS_MODE_ENFORCE || p.max_age > STS_MAX_AGE_CAP ||
		    p.nmx > STS_MX_MAX || (p.mode != STS_MODE_NONE && p.nmx == 0))
			abort();
		for (i = 0; i < p.nmx; i++) {
			size_t l = strnlen(p.mx[i], STS_MX_LEN + 1);

			if (l == 0 || l > STS_MX_LEN)
				abort();
			/* a pattern matches a host built from it */
			(void)mxc_sts_pattern_match(p.mx[i], l, p.mx[i], l);
		}
	}
	if (sts_txt_parse((const char *)data, size, id, err, sizeof(err)) == STS_TXT_OK) {
		size_t l = strlen(id);

		if (l == 0 || l > STS_ID_MAX)
			abort();
	}
	return 0;
}
