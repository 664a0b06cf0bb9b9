/* hist.h — a log-linear histogram of durations in microseconds, for the
 * load generator's latency percentiles.  Fixed size, no allocation, so each
 * worker keeps its own and they are summed at the end. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

/* Every power of two is split into 2^BENCH_HIST_SUB_BITS equal buckets, so a
 * recorded value is known to within 1/64 of itself (a bucket is reported by
 * its midpoint).  Values below 2^BENCH_HIST_SUB_BITS are exact; values from
 * 2^BENCH_HIST_MAX_EXP microseconds (about 12 days) up land in the last bucket. */
#define BENCH_HIST_SUB_BITS 5
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_MAX_EXP 40
#define BENCH_HIST_BUCKETS ((BENCH_HIST_MAX_EXP - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_SUB)

typedef struct bench_hist {
    uint64_t count;
    uint64_t sum_us; /* for the mean, which the report shows beside the percentiles */
    uint64_t min_us, max_us;
    uint64_t bucket[BENCH_HIST_BUCKETS];
} bench_hist_t;

void bench_hist_init(bench_hist_t *h);
void bench_hist_record(bench_hist_t *h, uint64_t us);
/* Adds every value of `from` into `into`. */
void bench_hist_merge(bench_hist_t *into, const bench_hist_t *from);
/* The value below which a fraction `q` (0..1) of the recorded values lie,
 * in microseconds; 0 when nothing was recorded. */
uint64_t bench_hist_quantile(const bench_hist_t *h, double q);

#endif
