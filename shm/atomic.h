/*
 * shm/atomic.h - the atomic accesses every shared-memory word goes through.
 *
 * Normal builds use Concurrency Kit's ck_pr, whose x86-64 port is plain
 * movs and xchg with exactly the fences the protocol needs.  ThreadSanitizer
 * cannot see through ck's inline assembly and volatile accesses, so a TSan
 * build (MXC_TSAN) maps the same names onto the compiler's __atomic
 * builtins, which it models.  Nothing else in the tree touches shared words
 * directly: grep for "mxa_" to find every shared access.
 */
#ifndef MXC_SHM_ATOMIC_H
#define MXC_SHM_ATOMIC_H

#include <stdint.h>

#if defined(MXC_TSAN)

static inline uint64_t mxa_load64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline uint32_t mxa_load32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void mxa_store64(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void mxa_store32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline uint64_t mxa_xchg64(uint64_t *p, uint64_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
static inline int mxa_cas32(uint32_t *p, uint32_t old, uint32_t nv)
{ return __atomic_compare_exchange_n(p, &old, nv, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); }
static inline uint64_t mxa_inc64(uint64_t *p) { return __atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST); }
static inline uint64_t mxa_add64(uint64_t *p, uint64_t d) { return __atomic_add_fetch(p, d, __ATOMIC_SEQ_CST); }
/*
 * GCC warns that TSan does not model atomic_thread_fence (-Wtsan, fatal
 * under -Werror).  A locked RMW on a private word is a full barrier on
 * x86 all the same, and TSan accepts it.
 */
static uint64_t mxa_fence_word;
static inline void mxa_fence_full(void) { (void)__atomic_fetch_add(&mxa_fence_word, 0, __ATOMIC_SEQ_CST); }
static inline void mxa_store64_plain(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
/* Load-load ordering for the optimistic (slotless) read; under TSan the
 * acquire loads above already order it. */
static inline void mxa_fence_load(void) { }

#else

#include <ck_pr.h>

/*
 * On x86-64 a plain mov is an acquire load and a release store; ck_pr
 * keeps the compiler from reordering or tearing them.  Other ports get the
 * explicit fences.
 */
static inline uint64_t mxa_load64(const uint64_t *p)
{ uint64_t v = ck_pr_load_64(p); ck_pr_fence_acquire(); return v; }
static inline uint32_t mxa_load32(const uint32_t *p)
{ uint32_t v = ck_pr_load_32(p); ck_pr_fence_acquire(); return v; }
static inline void mxa_store64(uint64_t *p, uint64_t v)
{ ck_pr_fence_release(); ck_pr_store_64(p, v); }
static inline void mxa_store32(uint32_t *p, uint32_t v)
{ ck_pr_fence_release(); ck_pr_store_32(p, v); }
/* A release store with no store-load barrier: the asymmetric announcement
 * (shm/rcu.h), where the writer's membarrier supplies the barrier. */
static inline void mxa_store64_plain(uint64_t *p, uint64_t v) { ck_pr_store_64(p, v); ck_pr_barrier(); }
/* xchg: a store that is also a full (store-load) barrier. */
static inline uint64_t mxa_xchg64(uint64_t *p, uint64_t v) { return ck_pr_fas_64(p, v); }
static inline int mxa_cas32(uint32_t *p, uint32_t old, uint32_t nv)
{ return ck_pr_cas_32(p, old, nv); }
static inline uint64_t mxa_inc64(uint64_t *p) { return ck_pr_faa_64(p, 1) + 1; }
static inline uint64_t mxa_add64(uint64_t *p, uint64_t d) { return ck_pr_faa_64(p, d) + d; }
static inline void mxa_fence_full(void) { ck_pr_fence_memory(); }
static inline void mxa_fence_load(void) { ck_pr_fence_load(); }

#endif

#endif /* MXC_SHM_ATOMIC_H */
