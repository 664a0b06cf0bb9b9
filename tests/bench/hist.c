/* hist.c — log-linear latency histogram (see hist.h).  The layout is the
 * one HdrHistogram made popular: an exponent picks a row, the next few bits
 * of the value pick a column, so the relative error is the same everywhere. */
#include "tests/bench/hist.h"

#include <math.h>
#include <string.h>

void bench_hist_init(bench_hist_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min_us = UINT64_MAX;
}

static unsigned bucket_of(uint64_t v)
{
    if (v < BENCH_HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* floor(log2 v), >= SUB_BITS */
    if (e >= BENCH_HIST_MAX_EXP)
        return BENCH_HIST_BUCKETS - 1;
    unsigned shift = e - BENCH_HIST_SUB_BITS;
    unsigned sub = (unsigned)(v >> shift) - BENCH_HIST_SUB;
    return (e - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_SUB + sub;
}

/* The smallest value of bucket i, and the width of the bucket. */
static uint64_t bucket_low(unsigned i, uint64_t *width)
{
    if (i < BENCH_HIST_SUB) {
        *width = 1;
        return i;
    }
    unsigned row = i / BENCH_HIST_SUB; /* 1 for values in [SUB, 2*SUB) */
    unsigned shift = row - 1;
    *width = (uint64_t)1 << shift;
    return (uint64_t)(BENCH_HIST_SUB + i % BENCH_HIST_SUB) << shift;
}

void bench_hist_record(bench_hist_t *h, uint64_t us)
{
    h->bucket[bucket_of(us)]++;
    h->count++;
    h->sum_us += us;
    if (us < h->min_us)
        h->min_us = us;
    if (us > h->max_us)
        h->max_us = us;
}

void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from)
{
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        into->bucket[i] += from->bucket[i];
    into->count += from->count;
    into->sum_us += from->sum_us;
    if (from->count && from->min_us < into->min_us)
        into->min_us = from->min_us;
    if (from->max_us > into->max_us)
        into->max_us = from->max_us;
}

uint64_t bench_hist_quantile(const bench_hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    /* The rank of the value wanted, 1-based: q = 0.99 of 1000 values is the
     * 990th smallest. */
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t width, low = bucket_low(i, &width);
            uint64_t mid = low + width / 2;
            /* The exact extremes are known; never report beyond them. */
            if (mid < h->min_us)
                mid = h->min_us;
            if (mid > h->max_us)
                mid = h->max_us;
            return mid;
        }
    }
    return h->max_us;
}
