/*
 * test_siphash - the keyed table hash against the SipHash reference
 * vectors (SipHash-2-4, key 00..0f, message 00..len-1), which exercise
 * the same code with c = 2, d = 4; then properties of the 1-3 variant the
 * tables use; then the word-at-a-time code against a byte-at-a-time
 * reference (ref_siphash, written from the paper and checked against the
 * same vectors) on random keys and every length a key can have and more.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shm/siphash.h"
#include "tests/tap.h"

/* Random lengths 0..DIFF_LEN_MAX (a canonical key is at most 253 bytes)
 * at random offsets, DIFF_ROUNDS times, under a random key each. */
#define DIFF_ROUNDS  20000
#define DIFF_LEN_MAX 300
#define DIFF_SEED    UINT64_C(0x7369706861736821)

static uint64_t ref_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void ref_round(uint64_t v[4])
{
	v[0] += v[1]; v[1] = ref_rotl(v[1], 13); v[1] ^= v[0]; v[0] = ref_rotl(v[0], 32);
	v[2] += v[3]; v[3] = ref_rotl(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = ref_rotl(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = ref_rotl(v[1], 17); v[1] ^= v[2]; v[2] = ref_rotl(v[2], 32);
}

/* SipHash-c-d as the paper states it: bytes gathered one at a time,
 * little-endian, the length in the top byte of the last block. */
static uint64_t ref_siphash(const uint8_t k[16], const uint8_t *m, size_t len, int c, int d)
{
	uint64_t k0 = 0, k1 = 0, v[4], w;
	size_t i, j;
	int r;

	for (i = 0; i < 8; i++) {
		k0 |= (uint64_t)k[i] << (8 * i);
		k1 |= (uint64_t)k[8 + i] << (8 * i);
	}
	v[0] = k0 ^ 0x736f6d6570736575ULL;
	v[1] = k1 ^ 0x646f72616e646f6dULL;
	v[2] = k0 ^ 0x6c7967656e657261ULL;
	v[3] = k1 ^ 0x7465646279746573ULL;
	for (i = 0; i <= len / 8; i++) {
		w = 0;
		for (j = 0; j < 8 && 8 * i + j < len; j++)
			w |= (uint64_t)m[8 * i + j] << (8 * j);
		if (i == len / 8)
			w |= (uint64_t)(len & 0xff) << 56;
		v[3] ^= w;
		for (r = 0; r < c; r++)
			ref_round(v);
		v[0] ^= w;
	}
	v[2] ^= 0xff;
	for (r = 0; r < d; r++)
		ref_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Each message copied to the end of a heap block of exactly its length,
 * so that under AddressSanitizer a read past the end is caught. */
static void differential(void)
{
	uint64_t s = DIFF_SEED;
	uint8_t k[16], buf[DIFF_LEN_MAX + 8], *exact;
	unsigned bad13 = 0, bad24 = 0, i;
	size_t len, j, off;

	for (i = 0; i < DIFF_ROUNDS; i++) {
		for (j = 0; j < 16; j++)
			k[j] = (uint8_t)next_rand(&s);
		len = i <= DIFF_LEN_MAX ? i : (size_t)(next_rand(&s) % (DIFF_LEN_MAX + 1));
		off = (size_t)(next_rand(&s) % 8);
		for (j = 0; j < len; j++)
			buf[off + j] = (uint8_t)next_rand(&s);
		exact = malloc(len != 0 ? len : 1);
		if (exact == NULL)
			break;
		memcpy(exact, buf + off, len);
		if (mxc_siphash13(k, exact, len) != ref_siphash(k, exact, len, 1, 3) ||
		    mxc_siphash13(k, buf + off, len) != ref_siphash(k, exact, len, 1, 3))
			bad13++;
		if (mxc_siphash(k, exact, len, 2, 4) != ref_siphash(k, exact, len, 2, 4))
			bad24++;
		free(exact);
	}
	ok(i == DIFF_ROUNDS && bad13 == 0, "SipHash-1-3 equals the byte-at-a-time reference (%u of %u differ)", bad13,
	   i);
	ok(i == DIFF_ROUNDS && bad24 == 0, "SipHash-2-4 equals the byte-at-a-time reference (%u of %u differ)", bad24,
	   i);
}

int main(void)
{
	static const struct {
		size_t len;
		uint64_t want;
	} vec[] = {
		{0, 0x726fdb47dd0e0e31ULL},
		{1, 0x74f839c593dc67fdULL},
		{15, 0xa129ca6149be45e5ULL},
	};
	uint8_t key[16], msg[64], key2[16];
	size_t i;

	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		uint64_t got = mxc_siphash(key, msg, vec[i].len, 2, 4);
		ok(got == vec[i].want, "SipHash-2-4 reference vector, %zu bytes", vec[i].len);
		ok(ref_siphash(key, msg, vec[i].len, 2, 4) == vec[i].want,
		   "the byte-at-a-time reference: SipHash-2-4 vector, %zu bytes", vec[i].len);
	}
	/* 1-3 against the reference code built with cROUNDS=1, dROUNDS=3
	 * (all-zero key, message 00..len-1; the values other SipHash-1-3
	 * implementations test against), then: every byte, the length and
	 * the key matter */
	{
		static const uint8_t zero[16];

		ok(mxc_siphash13(zero, msg, 0) == 0xd1fba762150c532cULL, "SipHash-1-3 reference, 0 bytes");
		ok(mxc_siphash13(zero, msg, 1) == 0x68a914128e01e473ULL, "SipHash-1-3 reference, 1 byte");
		ok(ref_siphash(zero, msg, 1, 1, 3) == 0x68a914128e01e473ULL,
		   "the byte-at-a-time reference: SipHash-1-3, 1 byte");
	}
	ok(mxc_siphash13(key, "example.org", 11) != mxc_siphash13(key, "example.orh", 11), "last byte matters");
	ok(mxc_siphash13(key, "example.org", 11) != mxc_siphash13(key, "example.org", 10), "length matters");
	memcpy(key2, key, 16);
	key2[15] ^= 1;
	ok(mxc_siphash13(key, "example.org", 11) != mxc_siphash13(key2, "example.org", 11), "key matters");
	ok(mxc_siphash13(key, msg, 8) != mxc_siphash13(key, msg, 16), "block boundary");
	differential();
	return tap_done();
}
