/* A NumPy data allocator that keeps a few large freed blocks for reuse.
 *
 * cyloss' outputs are fresh arrays. A [2048, 32000] float32 gradient is 262 MB;
 * allocating it afresh on every call means ~64000 page faults and the kernel
 * zeroing every page, which costs more than computing the gradient. A training
 * loop frees the previous step's gradient before (or while) asking for the
 * next one, so cyloss installs this handler around its own allocations
 * (cyloss._autodiff) and a block freed by such an array comes back to the next
 * request of about its size, already mapped. (TensorFlow's own BFC allocator
 * does the same for its tensors.)
 *
 * - Every block carries a 64-byte header holding its capacity and the size
 *   asked for, so a block is reused for any request of up to its capacity and
 *   freed correctly whatever size NumPy reports; data stay 64-byte aligned.
 * - Only blocks of at least CYL_POOL_MIN bytes are kept, at most CYL_POOL_SLOTS
 *   of them and at most cyl_pool_limit bytes in all (CYLOSS_POOL_MB, read by
 *   cyloss._runtime; 0 turns the pool off); the oldest goes first. A request
 *   takes the smallest kept block whose capacity is between the request and
 *   5/4 of it.
 * - NumPy calls these functions with the GIL held; a spin lock guards the
 *   table anyway, and is never held across a system call.
 * - POSIX only (posix_memalign); elsewhere cyloss does not install it.
 */
#ifndef CYLOSS_POOL_H
#define CYLOSS_POOL_H

#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <Python.h>
#include <numpy/arrayobject.h>

#if defined(__GNUC__) && !defined(_WIN32)
#define CYL_POOL_AVAILABLE 1
/* Under AddressSanitizer a kept block is poisoned, and a reused one stays
 * poisoned beyond the bytes requested: a use after free or an overrun into the
 * spare capacity is reported as it would be without the pool. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define CYL_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define CYL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define CYL_POISON(p, n) ((void)(p), (void)(n))
#define CYL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define CYL_POOL_MIN ((size_t)1 << 20)
#define CYL_POOL_SLOTS 8
#define CYL_POOL_HEADER 64

static struct { char *block; size_t cap; uint64_t age; } cyl_pool[CYL_POOL_SLOTS];
static size_t cyl_pool_held = 0, cyl_pool_limit = 0;
static uint64_t cyl_pool_clock = 0, cyl_pool_hits = 0, cyl_pool_misses = 0;
static volatile int cyl_pool_busy = 0;

static inline void cyl_pool_lock(void)
{
    while (__atomic_exchange_n(&cyl_pool_busy, 1, __ATOMIC_ACQUIRE))
        ;
}
static inline void cyl_pool_unlock(void) { __atomic_store_n(&cyl_pool_busy, 0, __ATOMIC_RELEASE); }

/* The header: the block's capacity, then the size of the current request. */
static inline size_t cyl_pool_cap(const char *data) { return ((const size_t *)(data - CYL_POOL_HEADER))[0]; }
static inline size_t *cyl_pool_size(char *data) { return (size_t *)(data - CYL_POOL_HEADER) + 1; }

static void *cyl_pool_new(size_t size)
{
    void *block;
    if (size > SIZE_MAX - CYL_POOL_HEADER
            || posix_memalign(&block, CYL_POOL_HEADER, size + CYL_POOL_HEADER) != 0)
        return NULL;
    ((size_t *)block)[0] = ((size_t *)block)[1] = size;
    return (char *)block + CYL_POOL_HEADER;
}

/* Give a block back to the system. */
static void cyl_pool_drop(char *data)
{
    CYL_UNPOISON(data, cyl_pool_cap(data));
    free(data - CYL_POOL_HEADER);
}

static void *cyl_pool_malloc(void *ctx, size_t size)
{
    (void)ctx;
    if (size >= CYL_POOL_MIN) {
        int best = -1;
        cyl_pool_lock();
        for (int i = 0; i < CYL_POOL_SLOTS; i++) {
            size_t cap = cyl_pool[i].cap;
            if (cyl_pool[i].block && cap >= size && cap - size <= size / 4
                    && (best < 0 || cap < cyl_pool[best].cap))
                best = i;
        }
        if (best >= 0) {
            char *data = cyl_pool[best].block;
            cyl_pool[best].block = NULL;
            cyl_pool_held -= cyl_pool[best].cap;
            cyl_pool_hits++;
            cyl_pool_unlock();
            CYL_UNPOISON(data, size);
            *cyl_pool_size(data) = size;
            return data;
        }
        cyl_pool_misses++;
        cyl_pool_unlock();
    }
    return cyl_pool_new(size);
}

static void *cyl_pool_calloc(void *ctx, size_t n, size_t elsize)
{
    if (elsize && n > SIZE_MAX / elsize)
        return NULL;
    void *data = cyl_pool_malloc(ctx, n * elsize);
    if (data)
        memset(data, 0, n * elsize);
    return data;
}

static void cyl_pool_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx; (void)size;      /* the header knows the capacity */
    char *data = (char *)ptr, *evict[CYL_POOL_SLOTS + 1];
    int n_evict = 0;
    if (!data)
        return;
    size_t cap = cyl_pool_cap(data);
    if (cap < CYL_POOL_MIN) {
        free(data - CYL_POOL_HEADER);
        return;
    }
    CYL_POISON(data, cap);
    cyl_pool_lock();
    if (cap > cyl_pool_limit) {
        evict[n_evict++] = data;
    } else {
        /* make room: drop the oldest kept blocks until it fits a free slot */
        for (;;) {
            int free_slot = -1, oldest = -1;
            for (int i = 0; i < CYL_POOL_SLOTS; i++) {
                if (!cyl_pool[i].block)
                    free_slot = i;
                else if (oldest < 0 || cyl_pool[i].age < cyl_pool[oldest].age)
                    oldest = i;
            }
            if (free_slot >= 0 && cyl_pool_held + cap <= cyl_pool_limit) {
                cyl_pool[free_slot].block = data;
                cyl_pool[free_slot].cap = cap;
                cyl_pool[free_slot].age = ++cyl_pool_clock;
                cyl_pool_held += cap;
                break;
            }
            evict[n_evict++] = cyl_pool[oldest].block;
            cyl_pool_held -= cyl_pool[oldest].cap;
            cyl_pool[oldest].block = NULL;
        }
    }
    cyl_pool_unlock();
    for (int i = 0; i < n_evict; i++)
        cyl_pool_drop(evict[i]);
}

static void *cyl_pool_realloc(void *ctx, void *ptr, size_t size)
{
    if (!ptr)
        return cyl_pool_malloc(ctx, size);
    size_t cap = cyl_pool_cap((char *)ptr), old = *cyl_pool_size((char *)ptr);
    if (size <= cap && cap - size <= size / 4) {
        CYL_UNPOISON(ptr, size);
        CYL_POISON((char *)ptr + size, cap - size);
        *cyl_pool_size((char *)ptr) = size;
        return ptr;
    }
    void *data = cyl_pool_malloc(ctx, size);
    if (data) {
        memcpy(data, ptr, old < size ? old : size);
        cyl_pool_free(ctx, ptr, old);
    }
    return data;
}

/* Give every kept block back to the system; returns the bytes released. */
static size_t cyl_pool_release(void)
{
    char *evict[CYL_POOL_SLOTS];
    int n_evict = 0;
    size_t held;
    cyl_pool_lock();
    held = cyl_pool_held;
    for (int i = 0; i < CYL_POOL_SLOTS; i++)
        if (cyl_pool[i].block) {
            evict[n_evict++] = cyl_pool[i].block;
            cyl_pool[i].block = NULL;
        }
    cyl_pool_held = 0;
    cyl_pool_unlock();
    for (int i = 0; i < n_evict; i++)
        cyl_pool_drop(evict[i]);
    return held;
}

static PyDataMem_Handler cyl_pool_handler = {
    "cyloss_pool", 1,
    {NULL, cyl_pool_malloc, cyl_pool_calloc, cyl_pool_realloc, cyl_pool_free},
};
#else
#define CYL_POOL_AVAILABLE 0
static void cyl_pool_unlock(void) {}
static size_t cyl_pool_held = 0, cyl_pool_limit = 0;
static uint64_t cyl_pool_hits = 0, cyl_pool_misses = 0;
static size_t cyl_pool_release(void) { return 0; }
static PyDataMem_Handler cyl_pool_handler;
#endif

#endif /* CYLOSS_POOL_H */
