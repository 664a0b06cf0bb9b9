/* procstat.h — what /proc says about a process: CPU seconds used and
 * resident memory, for the report's server and generator figures. */
#ifndef BENCH_PROCSTAT_H
#define BENCH_PROCSTAT_H

#include <sys/types.h>

typedef struct bench_procstat {
    double cpu_s; /* utime + stime */
    long rss_kb;  /* VmRSS */
    long hwm_kb;  /* VmHWM: the peak resident size */
} bench_procstat_t;

/* Fills *out for `pid` (0 = this process).  0 on success, -1 when the
 * process is gone or /proc is unreadable (fields are then -1). */
int bench_procstat_read(pid_t pid, bench_procstat_t *out);

#endif
