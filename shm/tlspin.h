/*
 * shm/tlspin.h - the TLS pin table's value (table MXS_TAB_TLSPIN): a TLS
 * policy the operator set for one domain (shmctl tls set), answered by
 * the mtasts maps before anything DANE or MTA-STS would say.
 *
 * Key: the domain, canonical (shm/key.h).  Value, byte-packed:
 *
 *     i64 created   unix seconds
 *     i64 updated   unix seconds
 *     u16 plen      policy length, 1..MXS_PIN_POLICY_MAX
 *     policy        plen bytes: a Postfix TLS security level and its
 *                   attributes, as smtp_tls_policy_maps takes them
 *                   ("dane-only", "secure match=mx.example.net"), no NUL
 *
 * Pure: encode, decode and validate; no I/O, no allocation.
 */
#ifndef MXC_SHM_TLSPIN_H
#define MXC_SHM_TLSPIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MXS_PIN_POLICY_MAX 1024     /* bytes of a pinned policy */
#define MXS_PIN_VALUE_HDR  18
#define MXS_PIN_VALUE_MAX  (MXS_PIN_VALUE_HDR + MXS_PIN_POLICY_MAX)

/*
 * The security levels of Postfix's smtp_tls_policy_maps (postconf(5),
 * smtp_tls_security_level), the first word of a pin.
 */
static inline int mxc_pin_level_known(const char *w, size_t n)
{
	static const char *const levels[] = { "none", "may", "encrypt", "dane", "dane-only",
					      "fingerprint", "verify", "secure" };
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strlen(levels[i]) == n && memcmp(levels[i], w, n) == 0)
			return 1;
	return 0;
}

/*
 * mxc_pin_policy_check - is p (len bytes) a policy a pin may hold?  A
 * known level first; then attributes "name=value" separated by single
 * spaces; printable ASCII only (no control characters, no NUL, nothing
 * over 0x7e: Postfix reads the answer as one line of words); at most
 * MXS_PIN_POLICY_MAX bytes.  Returns 0, or -1 with what is wrong in why.
 */
static inline int mxc_pin_policy_check(const char *p, size_t len, const char **why)
{
	size_t i, w0;

	if (len == 0) {
		*why = "empty policy";
		return -1;
	}
	if (len > MXS_PIN_POLICY_MAX) {
		*why = "policy longer than 1024 bytes";
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e) {
			*why = "control character or non-ASCII byte in the policy";
			return -1;
		}
	for (w0 = 0; w0 < len && p[w0] != ' '; w0++)
		;
	if (!mxc_pin_level_known(p, w0)) {
		*why = "unknown TLS security level (none, may, encrypt, dane, dane-only, fingerprint, verify, secure)";
		return -1;
	}
	for (i = w0; i < len;) {
		size_t s = ++i, eq = 0;

		while (i < len && p[i] != ' ') {
			if (p[i] == '=' && eq == 0)
				eq = i;
			i++;
		}
		if (i == s || eq == 0 || eq == s || eq + 1 == i) {
			*why = "attributes must be name=value, one space apart";
			return -1;
		}
	}
	return 0;
}

/* mxc_pin_value_encode - into out (MXS_PIN_VALUE_MAX bytes); its length,
 * or 0 when the policy is empty or too long. */
static inline size_t mxc_pin_value_encode(uint8_t *out, int64_t created, int64_t updated, const char *policy,
					  size_t plen)
{
	uint16_t l = (uint16_t)plen;

	if (plen == 0 || plen > MXS_PIN_POLICY_MAX)
		return 0;
	memcpy(out, &created, 8);
	memcpy(out + 8, &updated, 8);
	memcpy(out + 16, &l, 2);
	memcpy(out + MXS_PIN_VALUE_HDR, policy, plen);
	return MXS_PIN_VALUE_HDR + plen;
}

/* mxc_pin_value_decode - 0, or -1 when val is not a pin's value.
 * *policy points into val. */
static inline int mxc_pin_value_decode(const uint8_t *val, size_t vlen, int64_t *created, int64_t *updated,
				       const char **policy, size_t *plen)
{
	uint16_t l;

	if (vlen <= MXS_PIN_VALUE_HDR || vlen > MXS_PIN_VALUE_MAX)
		return -1;
	memcpy(&l, val + 16, 2);
	if (l == 0 || (size_t)l != vlen - MXS_PIN_VALUE_HDR)
		return -1;
	memcpy(created, val, 8);
	memcpy(updated, val + 8, 8);
	*policy = (const char *)val + MXS_PIN_VALUE_HDR;
	*plen = l;
	return 0;
}

#endif /* MXC_SHM_TLSPIN_H */
