/*
 * shm/fed.h - the federation table (MXS_TAB_FED): which peer domains mail
 * may be exchanged with.
 *
 * One table holds the policy and its rules:
 *
 *   key "."      the settings (a single dot is never a canonical domain,
 *                so it cannot collide with a rule):
 *                  u8 policy (MXS_FED_ACCEPT / MXS_FED_REJECT), u8 llen,
 *                  u16 reserved, u32 reserved, i64 updated,
 *                  local domain (llen bytes, canonical; 0: none)
 *   key DOMAIN   one rule, DOMAIN canonical: i64 created
 *
 * The decision (the one key normaliser in front, so "bad.com." cannot
 * slip past a "bad.com" rule; tests/unit/test_fed.c has it as a table):
 * the local domain is always allowed; under ACCEPT every domain is allowed
 * except the rules (a blocklist); under REJECT every domain is denied
 * except the rules (an allowlist); with no settings stored, ACCEPT.
 *
 * Pure: encode into a caller's buffer, decode with every length checked.
 */
#ifndef MXC_SHM_FED_H
#define MXC_SHM_FED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MXS_FED_ACCEPT       1
#define MXS_FED_REJECT       2
#define MXS_FED_SETTINGS_KEY "."
#define MXS_FED_HDR          16
#define MXS_FED_LOCAL_MAX    253
#define MXS_FED_VALUE_MAX    (MXS_FED_HDR + MXS_FED_LOCAL_MAX)
#define MXS_FED_RULE_LEN     8

static inline size_t mxc_fed_settings_encode(uint8_t *out, int policy, int64_t updated, const char *local,
					     size_t llen)
{
	if ((policy != MXS_FED_ACCEPT && policy != MXS_FED_REJECT) || llen > MXS_FED_LOCAL_MAX)
		return 0;
	memset(out, 0, MXS_FED_HDR);
	out[0] = (uint8_t)policy;
	out[1] = (uint8_t)llen;
	memcpy(out + 8, &updated, 8);
	if (llen > 0)
		memcpy(out + MXS_FED_HDR, local, llen);
	return MXS_FED_HDR + llen;
}

/* 0, or -1 when v is not a settings value. */
static inline int mxc_fed_settings_decode(const uint8_t *v, size_t vlen, int *policy, int64_t *updated,
					  const uint8_t **local, size_t *llen)
{
	if (vlen < MXS_FED_HDR || (v[0] != MXS_FED_ACCEPT && v[0] != MXS_FED_REJECT) ||
	    vlen != MXS_FED_HDR + (size_t)v[1])
		return -1;
	*policy = v[0];
	memcpy(updated, v + 8, 8);
	*local = v + MXS_FED_HDR;
	*llen = v[1];
	return 0;
}

/* 0, or -1 when v is not a rule value. */
static inline int mxc_fed_rule_decode(const uint8_t *v, size_t vlen, int64_t *created)
{
	if (vlen != MXS_FED_RULE_LEN)
		return -1;
	memcpy(created, v, 8);
	return 0;
}

#endif /* MXC_SHM_FED_H */
