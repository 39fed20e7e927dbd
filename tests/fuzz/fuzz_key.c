/*
 * fuzz_key - the one key normaliser (shm/key.c) on arbitrary bytes:
 * domains, IP literals, Unicode for IDNA.  The canonical form must be
 * canonical: normalising it again gives itself, with the same kind.  The
 * fast path for plain host names must agree with the general parser
 * (mxk_normalize_full) on every input: return code, key, length, kind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm/key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[MXK_MAX_INPUT + 1], out[MXK_MAX_LEN + 1], again[MXK_MAX_LEN + 1], full[MXK_MAX_LEN + 1];
	size_t len = 0, len2, len_full = 0;
	int kind = 0, kind2, kind_full = 0, rc, rc_full;

	if (size > MXK_MAX_INPUT)
		size = MXK_MAX_INPUT;
	memcpy(in, data, size);
	in[size] = '\0';
	rc = mxk_normalize(in, out, sizeof(out), &len, &kind);
	rc_full = mxk_normalize_full(in, full, sizeof(full), &len_full, &kind_full);
	if (rc != rc_full || len != len_full || kind != kind_full || (rc == MXK_OK && strcmp(out, full) != 0))
		abort();
	if (rc != MXK_OK)
		return 0;
	if (len != strlen(out) || len == 0 || len > MXK_MAX_LEN)
		abort();
	if (mxk_normalize(out, again, sizeof(again), &len2, &kind2) != MXK_OK || strcmp(out, again) != 0 ||
	    kind != kind2)
		abort();
	return 0;
}
