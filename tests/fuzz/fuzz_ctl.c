/*
 * fuzz_ctl - the admin protocol's line format (shm/ctl.h): splitting and
 * unescaping a line from a client, and escaping back what came out.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[MXS_CTL_LINE_MAX + 1], esc[3 * MXS_CTL_LINE_MAX + 4], *words[MXS_CTL_WORDS_MAX];
	int n, i;

	if (size > MXS_CTL_LINE_MAX)
		size = MXS_CTL_LINE_MAX;
	memcpy(line, data, size);
	line[size] = '\0';
	n = mxc_ctl_split(line, words, MXS_CTL_WORDS_MAX);
	if (n > MXS_CTL_WORDS_MAX)
		abort();
	for (i = 0; i < n; i++)
		if (mxc_ctl_escape(words[i], strlen(words[i]), esc, sizeof(esc)) < 0)
			abort();
	return 0;
}
