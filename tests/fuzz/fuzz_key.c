/*
 * fuzz_key - the one key normaliser (shm/key.c) on arbitrary bytes:
 * domains, IP literals, Unicode for IDNA.  The canonical form must be
 * canonical: normalising it again gives itself, with the same kind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm/key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[MXK_MAX_INPUT + 1], out[MXK_MAX_LEN + 1], again[MXK_MAX_LEN + 1];
	size_t len, len2;
	int kind, kind2;

	if (size > MXK_MAX_INPUT)
		size = MXK_MAX_INPUT;
	memcpy(in, data, size);
	in[size] = '\0';
	if (mxk_normalize(in, out, sizeof(out), &len, &kind) != MXK_OK)
		return 0;
	if (len != strlen(out) || len == 0 || len > MXK_MAX_LEN)
		abort();
	if (mxk_normalize(out, again, sizeof(again), &len2, &kind2) != MXK_OK || strcmp(out, again) != 0 ||
	    kind != kind2)
		abort();
	return 0;
}
