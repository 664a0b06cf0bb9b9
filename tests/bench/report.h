/* report.h — the end of a run: a table for people and one BENCH-JSON line
 * for scripts, from the merged figures and what /proc said about the
 * server and the generator. */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include "tests/bench/bench.h"
#include "tests/bench/procstat.h"

#define BENCH_CURVE_MAX 64

/* What the coordinator saw around the workers' figures. */
typedef struct bench_run {
    double wall_s;
    uint64_t peak_online;
    int procs, threads;
    /* The server (--server-pid): before any connection, when every session
     * was in, at the end of the measured phase, after the sessions closed. */
    int have_server;
    bench_procstat_t srv_base, srv_held, srv_run_end, srv_end;
    int have_held, have_run_end;
    /* muc: when every room was entered (srv_held is then before the joins). */
    bench_procstat_t srv_joined;
    int have_joined;
    uint64_t online_held, online_run_end;
    /* Server memory as sessions came in: (sessions, RSS KiB) pairs. */
    uint32_t ncurve;
    struct {
        uint64_t sessions;
        long rss_kb;
    } curve[BENCH_CURVE_MAX];
} bench_run_t;

/* Prints the table to stdout, then the BENCH-JSON line. */
void bench_report(const bench_opts_t *o, const bench_stats_t *s, const bench_run_t *r);
/* Everything that went wrong: failed logins, lost sessions, bounced
 * messages and presences, refused IQs. */
uint64_t bench_error_count(const bench_stats_t *s);

#endif
