/*
 * fuzz_socketmap - the socketmap server's request parser (netstrings,
 * "name key", every map) on arbitrary bytes, fed in arbitrary pieces as a
 * socket delivers them.  The server's own file is compiled in; with no
 * region open every map answers from its error path, which is what this
 * exercises beside the framing (client/sm_conn.c is linked for the loop
 * the server's main would run; the harness calls the parser alone).
 */
#define main socketmap_main
#include "client/socketmap.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conn c;
	size_t off = 0, piece;

	memset(&c, 0, offsetof(struct conn, in));
	c.inlen = 0;
	c.out = NULL;
	c.outlen = c.outoff = c.outcap = 0;
	/* the first byte chooses the piece size: framing split anywhere */
	piece = size > 0 ? (size_t)data[0] % 64 + 1 : 1;
	while (off < size && !c.closing) {
		size_t k = size - off < piece ? size - off : piece;

		if (k > sizeof(c.in) - c.inlen)
			k = sizeof(c.in) - c.inlen;
		if (k == 0)
			break;
		memcpy(c.in + c.inlen, data + off, k);
		c.inlen += k;
		off += k;
		if (sm_parse(&c, 0) != 0)
			break;
		if (c.outlen > 4 * SM_REPLY_MAX)
			c.outlen = c.outoff = 0;    /* as if written out */
	}
	free(c.out);
	return 0;
}
