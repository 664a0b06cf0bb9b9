/* report.c — merging the workers' figures and printing them: a table, then
 * one line "BENCH-JSON {...}" whose fields docs/BENCHMARK.md describes.
 * Rates are counts over the phase they belong to; latencies are
 * percentiles of the histograms, never means alone. */
#include "tests/bench/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const bench_fail_names[BENCH_FAIL_COUNT] = {
    [BENCH_FAIL_FDLIMIT] = "fd-limit",    [BENCH_FAIL_SOURCE] = "source-address",
    [BENCH_FAIL_CONNECT] = "connect",     [BENCH_FAIL_TLS] = "tls",
    [BENCH_FAIL_STREAM] = "stream-error", [BENCH_FAIL_FEATURES] = "features",
    [BENCH_FAIL_AUTH] = "auth",           [BENCH_FAIL_BIND] = "bind",
    [BENCH_FAIL_ROSTER] = "roster",       [BENCH_FAIL_TIMEOUT] = "timeout",
    [BENCH_FAIL_CLOSED] = "closed",       [BENCH_FAIL_XML] = "xml",
};

void bench_stats_init(bench_stats_t *s)
{
    memset(s, 0, sizeof(*s));
    bench_hist_init(&s->login);
    bench_hist_init(&s->chat);
    bench_hist_init(&s->pres);
    bench_hist_init(&s->mam);
    bench_hist_init(&s->muc);
    bench_hist_init(&s->join);
}

/* Earliest non-zero stamp. */
static uint64_t min_set(uint64_t a, uint64_t b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    return a < b ? a : b;
}

void bench_stats_merge(bench_stats_t *into, const bench_stats_t *from)
{
    for (int i = 0; i < BENCH_C_COUNT; i++)
        into->c[i] += from->c[i];
    for (int i = 0; i < BENCH_FAIL_COUNT; i++)
        into->fail[i] += from->fail[i];
    bench_hist_merge(&into->login, &from->login);
    bench_hist_merge(&into->chat, &from->chat);
    bench_hist_merge(&into->pres, &from->pres);
    bench_hist_merge(&into->mam, &from->mam);
    bench_hist_merge(&into->muc, &from->muc);
    bench_hist_merge(&into->join, &from->join);
    into->join_t0 = min_set(into->join_t0, from->join_t0);
    if (from->join_t1 > into->join_t1)
        into->join_t1 = from->join_t1;
    into->login_t0 = min_set(into->login_t0, from->login_t0);
    into->run_t0 = min_set(into->run_t0, from->run_t0);
    if (from->login_t1 > into->login_t1)
        into->login_t1 = from->login_t1;
    if (from->run_t1 > into->run_t1)
        into->run_t1 = from->run_t1;
    if (from->last_recv > into->last_recv)
        into->last_recv = from->last_recv;
    into->gen_cpu_s += from->gen_cpu_s;
    into->gen_cpu_run_s += from->gen_cpu_run_s;
    into->gen_rss_kb += from->gen_rss_kb;
    into->gen_hwm_kb += from->gen_hwm_kb;
    if (!into->first_error[0])
        memcpy(into->first_error, from->first_error, sizeof(into->first_error));
}

uint64_t bench_error_count(const bench_stats_t *s)
{
    return s->c[BENCH_C_LOGIN_FAILED] + s->c[BENCH_C_LOST] + s->c[BENCH_C_CHAT_ERRORS] +
           s->c[BENCH_C_PRES_ERRORS] + s->c[BENCH_C_IQ_ERRORS] + s->c[BENCH_C_MAM_ERRORS] +
           s->c[BENCH_C_MUC_ERRORS] + s->c[BENCH_C_MUC_JOIN_FAILED] +
           s->c[BENCH_C_MUC_CONFIG_ERRORS];
}

/* ---- derived figures ---- */

static double span_s(uint64_t t0, uint64_t t1)
{
    return t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
}
static double per_s(uint64_t n, double s)
{
    return s > 0 ? (double)n / s : 0;
}
static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

typedef struct figures {
    double login_s, login_rate;
    double run_s, recv_s;
    uint64_t chat_lost, pres_expected;
    double chat_sent_rate, chat_recv_rate, pres_sent_rate, pres_recv_rate;
    double mam_rate, mam_items_rate;
    /* muc */
    double join_s, muc_sent_rate, muc_recv_rate, muc_per_receiver;
    uint64_t muc_expected, muc_lost;
    double cpu_run_s, cpu_join_s;
    long rss_per_room_b, rss_per_member_b;
    int have_per_room;
    long rss_per_session_b;
    double rss_slope_b;
    int have_per_session, have_slope;
} figures_t;

/* Least-squares slope of server RSS against sessions, in bytes per
 * session: the growth that extrapolates, whatever the server's base size. */
static int curve_slope(const bench_run_t *r, double *slope)
{
    if (r->ncurve < 2)
        return 0;
    double n = r->ncurve, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (uint32_t i = 0; i < r->ncurve; i++) {
        double x = (double)r->curve[i].sessions, y = (double)r->curve[i].rss_kb * 1024.0;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    double den = n * sxx - sx * sx;
    if (den <= 0)
        return 0;
    *slope = (n * sxy - sx * sy) / den;
    return 1;
}

static void derive(const bench_opts_t *o, const bench_stats_t *s, const bench_run_t *r,
                   figures_t *f)
{
    memset(f, 0, sizeof(*f));
    int cycling = o->scenario == BENCH_LOGIN && !o->keep;
    f->login_s = cycling ? span_s(s->run_t0, s->run_t1) : span_s(s->login_t0, s->login_t1);
    f->login_rate = per_s(s->c[BENCH_C_LOGIN_OK], f->login_s);
    f->run_s = span_s(s->run_t0, s->run_t1);
    uint64_t recv_end = s->last_recv > s->run_t1 ? s->last_recv : s->run_t1;
    f->recv_s = span_s(s->run_t0, recv_end);
    uint64_t accounted = s->c[BENCH_C_CHAT_RECV] + s->c[BENCH_C_CHAT_ERRORS];
    f->chat_lost = s->c[BENCH_C_CHAT_SENT] > accounted ? s->c[BENCH_C_CHAT_SENT] - accounted : 0;
    f->pres_expected = s->c[BENCH_C_PRES_SENT] * o->roster_size;
    f->chat_sent_rate = per_s(s->c[BENCH_C_CHAT_SENT], f->run_s);
    f->chat_recv_rate = per_s(s->c[BENCH_C_CHAT_RECV], f->recv_s);
    f->pres_sent_rate = per_s(s->c[BENCH_C_PRES_SENT], f->run_s);
    f->pres_recv_rate = per_s(s->c[BENCH_C_PRES_RECV], f->recv_s);
    f->mam_rate = per_s(s->c[BENCH_C_MAM_DONE], f->recv_s);
    f->mam_items_rate = per_s(s->c[BENCH_C_MAM_ITEMS], f->recv_s);
    f->join_s = span_s(s->join_t0, s->join_t1);
    f->muc_sent_rate = per_s(s->c[BENCH_C_MUC_SENT], f->run_s);
    f->muc_recv_rate = per_s(s->c[BENCH_C_MUC_RECV], f->recv_s);
    if (s->c[BENCH_C_MUC_JOINED])
        f->muc_per_receiver = f->muc_recv_rate / (double)s->c[BENCH_C_MUC_JOINED];
    /* Every message should reach the K-1 other occupants of its room. */
    f->muc_expected = s->c[BENCH_C_MUC_SENT] * (o->occupants > 1 ? o->occupants - 1 : 0);
    f->muc_lost =
        f->muc_expected > s->c[BENCH_C_MUC_RECV] ? f->muc_expected - s->c[BENCH_C_MUC_RECV] : 0;
    if (r->have_server) {
        /* The measured phase's CPU starts after the joins when there were. */
        const bench_procstat_t *from = r->have_joined ? &r->srv_joined : &r->srv_held;
        f->cpu_run_s = r->have_run_end ? r->srv_run_end.cpu_s - from->cpu_s : 0.0;
        if (r->have_joined && r->have_held) {
            f->cpu_join_s = r->srv_joined.cpu_s - r->srv_held.cpu_s;
            if (r->srv_joined.rss_kb >= 0 && r->srv_held.rss_kb >= 0) {
                long grown = (r->srv_joined.rss_kb - r->srv_held.rss_kb) * 1024;
                f->rss_per_room_b = grown / (long)o->rooms;
                f->rss_per_member_b =
                    s->c[BENCH_C_MUC_JOINED] ? grown / (long)s->c[BENCH_C_MUC_JOINED] : 0;
                f->have_per_room = 1;
            }
        }
    }
    if (r->have_server) {
        /* Memory per session: the end of the hold if there was one (the
         * server has settled by then), else the moment all were in. */
        const bench_procstat_t *at = r->have_run_end ? &r->srv_run_end : &r->srv_held;
        uint64_t online = r->have_run_end ? r->online_run_end : r->online_held;
        if ((r->have_run_end || r->have_held) && online > 0 && at->rss_kb >= 0 &&
            r->srv_base.rss_kb >= 0) {
            f->rss_per_session_b = (at->rss_kb - r->srv_base.rss_kb) * 1024 / (long)online;
            f->have_per_session = 1;
        }
        f->have_slope = curve_slope(r, &f->rss_slope_b);
    }
}

/* ---- the table ---- */

static void table_latency(const char *what, uint64_t count, double rate, const bench_hist_t *h)
{
    if (h->count == 0) {
        printf("  %-20s %10llu %10.1f %9s\n", what, (unsigned long long)count, rate, "-");
        return;
    }
    printf("  %-20s %10llu %10.1f %9.2f %9.2f %9.2f %9.2f %9.2f\n", what, (unsigned long long)count,
           rate, ms(bench_hist_quantile(h, 0.5)), ms(bench_hist_quantile(h, 0.9)),
           ms(bench_hist_quantile(h, 0.99)), ms(bench_hist_quantile(h, 0.999)), ms(h->max_us));
}

static void print_table(const bench_opts_t *o, const bench_stats_t *s, const bench_run_t *r,
                        const figures_t *f)
{
    printf("\nparley-bench %s: %s port %d, domain %s, %s, %s; %u accounts from %u; %d "
           "process(es) x %d loop(s); %.1f s\n",
           bench_scenario_name(o->scenario), o->host, o->port, o->domain, bench_tls_name(o->tls),
           bench_mech_name(o->mech), o->users, o->first, r->procs, r->threads, r->wall_s);
    printf("  %-20s %10s %10s %9s %9s %9s %9s %9s\n", "", "count", "per s", "p50 ms", "p90 ms",
           "p99 ms", "p99.9 ms", "max ms");
    table_latency("logins", s->c[BENCH_C_LOGIN_OK], f->login_rate, &s->login);
    if (o->tls_resume)
        printf("  TLS: %llu handshakes resumed a session (--tls-resume)\n",
               (unsigned long long)s->c[BENCH_C_TLS_RESUMED]);
    if (s->c[BENCH_C_CHAT_SENT]) {
        printf("  %-20s %10llu %10.1f\n", "messages sent",
               (unsigned long long)s->c[BENCH_C_CHAT_SENT], f->chat_sent_rate);
        table_latency("messages delivered", s->c[BENCH_C_CHAT_RECV], f->chat_recv_rate, &s->chat);
    }
    if (s->c[BENCH_C_PRES_SENT]) {
        printf("  %-20s %10llu %10.1f\n", "presence sent",
               (unsigned long long)s->c[BENCH_C_PRES_SENT], f->pres_sent_rate);
        table_latency("presence delivered", s->c[BENCH_C_PRES_RECV], f->pres_recv_rate, &s->pres);
    }
    if (s->c[BENCH_C_MAM_SENT]) {
        printf("  %-20s %10llu %10.1f\n", "archive queries sent",
               (unsigned long long)s->c[BENCH_C_MAM_SENT], per_s(s->c[BENCH_C_MAM_SENT], f->run_s));
        table_latency("archive pages", s->c[BENCH_C_MAM_DONE], f->mam_rate, &s->mam);
        printf("  %-20s %10llu %10.1f\n", "archived messages",
               (unsigned long long)s->c[BENCH_C_MAM_ITEMS], f->mam_items_rate);
        printf("  archive: %llu queries refused, %llu pagings reached the start (page of %u%s)\n",
               (unsigned long long)s->c[BENCH_C_MAM_ERRORS],
               (unsigned long long)s->c[BENCH_C_MAM_WRAPS], o->page,
               o->mam_with ? ", one conversation" : ", whole archive");
        if (s->c[BENCH_C_MAM_DONE] && !s->c[BENCH_C_MAM_ITEMS])
            printf("  archive: every page was empty: fill the archives first (a chat run)\n");
    }
    if (o->scenario == BENCH_MUC) {
        table_latency("room joins", s->c[BENCH_C_MUC_JOINED],
                      per_s(s->c[BENCH_C_MUC_JOINED], f->join_s), &s->join);
        printf("  %-20s %10llu %10.1f\n", "groupchat sent",
               (unsigned long long)s->c[BENCH_C_MUC_SENT], f->muc_sent_rate);
        table_latency("groupchat delivered", s->c[BENCH_C_MUC_RECV], f->muc_recv_rate, &s->muc);
        printf("  rooms: %u x %u occupants at %s%s; %llu of %llu memberships entered in %.2f s "
               "(%llu failed, %llu retries while locked, %llu rooms made here, %llu "
               "configurations refused)\n",
               o->rooms, o->occupants, o->muc_service, o->muc_fast ? ", --fast" : "",
               (unsigned long long)s->c[BENCH_C_MUC_JOINED],
               (unsigned long long)o->rooms * o->occupants, f->join_s,
               (unsigned long long)s->c[BENCH_C_MUC_JOIN_FAILED],
               (unsigned long long)s->c[BENCH_C_MUC_JOIN_RETRIES],
               (unsigned long long)s->c[BENCH_C_MUC_CREATED],
               (unsigned long long)s->c[BENCH_C_MUC_CONFIG_ERRORS]);
        printf("  groupchat: %llu delivered of %llu expected (K-1 per message), %.1f per "
               "receiver per s; %llu echoes to senders (not counted as deliveries); %llu "
               "bounced\n",
               (unsigned long long)s->c[BENCH_C_MUC_RECV], (unsigned long long)f->muc_expected,
               f->muc_per_receiver, (unsigned long long)s->c[BENCH_C_MUC_ECHO],
               (unsigned long long)s->c[BENCH_C_MUC_ERRORS]);
    }
    if (o->scenario == BENCH_SETUP_ROSTERS)
        printf("  rosters: %llu subscriptions asked, %llu of %llu accounts complete (r = %u)\n",
               (unsigned long long)s->c[BENCH_C_SUB_SENT],
               (unsigned long long)s->c[BENCH_C_SUB_DONE],
               (unsigned long long)s->c[BENCH_C_LOGIN_OK], o->roster_size);
    printf("  sessions: peak %llu online, %llu lost after login\n",
           (unsigned long long)r->peak_online, (unsigned long long)s->c[BENCH_C_LOST]);
    if (s->c[BENCH_C_CHAT_SENT])
        printf("  messages: %llu bounced, %llu not delivered by the end of the drain\n",
               (unsigned long long)s->c[BENCH_C_CHAT_ERRORS], (unsigned long long)f->chat_lost);
    if (s->c[BENCH_C_PRES_SENT])
        printf("  presence: %llu delivered of %llu expected (r = %u), %llu errors\n",
               (unsigned long long)s->c[BENCH_C_PRES_RECV], (unsigned long long)f->pres_expected,
               o->roster_size, (unsigned long long)s->c[BENCH_C_PRES_ERRORS]);

    printf("  login failures:");
    int any = 0;
    for (int i = 0; i < BENCH_FAIL_COUNT; i++)
        if (s->fail[i]) {
            printf(" %s %llu", bench_fail_names[i], (unsigned long long)s->fail[i]);
            any = 1;
        }
    uint64_t abandoned =
        s->c[BENCH_C_LOGIN_STARTED] - s->c[BENCH_C_LOGIN_OK] - s->c[BENCH_C_LOGIN_FAILED];
    printf("%s", any ? "" : " none");
    if (abandoned)
        printf(" (%llu still in progress at the end, not counted)", (unsigned long long)abandoned);
    printf("\n");
    if (s->first_error[0])
        printf("  first error: %s\n", s->first_error);

    if (r->have_server) {
        printf("  server pid %d: cpu %.2f s (measured phase %.2f s), rss %ld KiB (before %ld, "
               "peak %ld)\n",
               (int)o->server_pid, r->srv_end.cpu_s - r->srv_base.cpu_s, f->cpu_run_s,
               r->srv_end.rss_kb, r->srv_base.rss_kb, r->srv_end.hwm_kb);
        if (f->have_per_room)
            printf("  server for the rooms: cpu %.2f s to enter them, rss +%ld KiB: %ld bytes "
                   "per room, %ld per occupant\n",
                   f->cpu_join_s, r->srv_joined.rss_kb - r->srv_held.rss_kb, f->rss_per_room_b,
                   f->rss_per_member_b);
        if (f->have_per_session)
            printf("  server memory: %ld bytes per session (%llu sessions)", f->rss_per_session_b,
                   (unsigned long long)(r->have_run_end ? r->online_run_end : r->online_held));
        if (f->have_slope)
            printf("%s growth %.0f bytes per added session over %u samples",
                   f->have_per_session ? ";" : "  server memory:", f->rss_slope_b, r->ncurve);
        if (f->have_per_session || f->have_slope)
            printf("\n");
    }
    printf("  generator: cpu %.2f s (measured phase %.2f s), rss %ld KiB, peak %ld KiB%s\n",
           s->gen_cpu_s, s->gen_cpu_run_s, s->gen_rss_kb, s->gen_hwm_kb,
           r->procs > 1 ? " (summed over processes)" : "");
}

/* ---- the JSON line ---- */

static void json_latency(FILE *j, const bench_hist_t *h)
{
    fprintf(j, "{\"count\":%llu", (unsigned long long)h->count);
    if (h->count)
        fprintf(j,
                ",\"mean\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
                "\"min\":%.3f,\"max\":%.3f",
                ms(h->sum_us / h->count), ms(bench_hist_quantile(h, 0.5)),
                ms(bench_hist_quantile(h, 0.9)), ms(bench_hist_quantile(h, 0.99)),
                ms(bench_hist_quantile(h, 0.999)), ms(h->min_us), ms(h->max_us));
    fputc('}', j);
}

static void json_procstat(FILE *j, const char *key, const bench_procstat_t *p)
{
    fprintf(j, ",\"%s\":{\"cpu_s\":%.2f,\"rss_kb\":%ld}", key, p->cpu_s, p->rss_kb);
}

static void print_json(const bench_opts_t *o, const bench_stats_t *s, const bench_run_t *r,
                       const figures_t *f)
{
    char *text = NULL;
    size_t len = 0;
    FILE *j = open_memstream(&text, &len);
    if (!j)
        return;
    fprintf(j,
            "{\"version\":1,\"scenario\":\"%s\",\"label\":\"%s\",\"host\":\"%s\",\"port\":%d,"
            "\"domain\":\"%s\",\"tls\":\"%s\",\"sasl\":\"%s\",\"users\":%u,\"first\":%u,"
            "\"procs\":%d,\"threads\":%d,\"source_addrs\":%d,\"rate\":%.1f,\"concurrency\":%u,"
            "\"duration_s\":%.3f,\"interval_s\":%.3f,\"neighbours\":%u,\"roster_size\":%u,"
            "\"body_size\":%u,\"wall_s\":%.3f",
            bench_scenario_name(o->scenario), o->label, o->host, o->port, o->domain,
            bench_tls_name(o->tls), bench_mech_name(o->mech), o->users, o->first, r->procs,
            r->threads, o->source_addrs, o->rate, o->concurrency, o->duration_s, o->interval_s,
            o->neighbours, o->roster_size, o->body_bytes, r->wall_s);
    fprintf(j, ",\"sessions\":{\"peak\":%llu,\"lost\":%llu}", (unsigned long long)r->peak_online,
            (unsigned long long)s->c[BENCH_C_LOST]);
    fprintf(j,
            ",\"login\":{\"started\":%llu,\"ok\":%llu,\"failed\":%llu,\"elapsed_s\":%.3f,"
            "\"per_s\":%.1f,\"tls_resume\":%s,\"tls_resumed\":%llu,\"latency_ms\":",
            (unsigned long long)s->c[BENCH_C_LOGIN_STARTED],
            (unsigned long long)s->c[BENCH_C_LOGIN_OK],
            (unsigned long long)s->c[BENCH_C_LOGIN_FAILED], f->login_s, f->login_rate,
            o->tls_resume ? "true" : "false", (unsigned long long)s->c[BENCH_C_TLS_RESUMED]);
    json_latency(j, &s->login);
    fprintf(j, "},\"failures\":{");
    for (int i = 0; i < BENCH_FAIL_COUNT; i++)
        fprintf(j, "%s\"%s\":%llu", i ? "," : "", bench_fail_names[i],
                (unsigned long long)s->fail[i]);
    fprintf(j,
            "},\"chat\":{\"sent\":%llu,\"delivered\":%llu,\"errors\":%llu,"
            "\"undelivered\":%llu,\"sent_per_s\":%.1f,\"delivered_per_s\":%.1f,"
            "\"latency_ms\":",
            (unsigned long long)s->c[BENCH_C_CHAT_SENT],
            (unsigned long long)s->c[BENCH_C_CHAT_RECV],
            (unsigned long long)s->c[BENCH_C_CHAT_ERRORS], (unsigned long long)f->chat_lost,
            f->chat_sent_rate, f->chat_recv_rate);
    json_latency(j, &s->chat);
    fprintf(j,
            "},\"presence\":{\"sent\":%llu,\"delivered\":%llu,\"expected\":%llu,"
            "\"errors\":%llu,\"sent_per_s\":%.1f,\"delivered_per_s\":%.1f,\"latency_ms\":",
            (unsigned long long)s->c[BENCH_C_PRES_SENT],
            (unsigned long long)s->c[BENCH_C_PRES_RECV], (unsigned long long)f->pres_expected,
            (unsigned long long)s->c[BENCH_C_PRES_ERRORS], f->pres_sent_rate, f->pres_recv_rate);
    json_latency(j, &s->pres);
    fprintf(j,
            "},\"mam\":{\"sent\":%llu,\"answered\":%llu,\"errors\":%llu,\"items\":%llu,"
            "\"wraps\":%llu,\"page\":%u,\"with\":%s,\"answered_per_s\":%.1f,"
            "\"items_per_s\":%.1f,\"latency_ms\":",
            (unsigned long long)s->c[BENCH_C_MAM_SENT], (unsigned long long)s->c[BENCH_C_MAM_DONE],
            (unsigned long long)s->c[BENCH_C_MAM_ERRORS],
            (unsigned long long)s->c[BENCH_C_MAM_ITEMS],
            (unsigned long long)s->c[BENCH_C_MAM_WRAPS], o->page, o->mam_with ? "true" : "false",
            f->mam_rate, f->mam_items_rate);
    json_latency(j, &s->mam);
    fprintf(j, "},\"rosters\":{\"subscribe_sent\":%llu,\"complete\":%llu,\"iq_errors\":%llu}",
            (unsigned long long)s->c[BENCH_C_SUB_SENT], (unsigned long long)s->c[BENCH_C_SUB_DONE],
            (unsigned long long)s->c[BENCH_C_IQ_ERRORS]);
    fprintf(j,
            ",\"muc\":{\"rooms\":%u,\"occupants\":%u,\"service\":\"%s\",\"fast\":%s,"
            "\"memberships\":%llu,\"joined\":%llu,\"join_failed\":%llu,\"join_retries\":%llu,"
            "\"created\":%llu,\"config_errors\":%llu,\"join_s\":%.3f",
            o->rooms, o->occupants, o->muc_service ? o->muc_service : "",
            o->muc_fast ? "true" : "false", (unsigned long long)o->rooms * o->occupants,
            (unsigned long long)s->c[BENCH_C_MUC_JOINED],
            (unsigned long long)s->c[BENCH_C_MUC_JOIN_FAILED],
            (unsigned long long)s->c[BENCH_C_MUC_JOIN_RETRIES],
            (unsigned long long)s->c[BENCH_C_MUC_CREATED],
            (unsigned long long)s->c[BENCH_C_MUC_CONFIG_ERRORS], f->join_s);
    /* The flat counts first, the two latency objects last. */
    fprintf(j,
            ",\"sent\":%llu,\"delivered\":%llu,\"expected\":%llu,\"undelivered\":%llu,"
            "\"echoes\":%llu,\"errors\":%llu,\"sent_per_s\":%.1f,\"delivered_per_s\":%.1f,"
            "\"per_receiver_per_s\":%.2f,\"latency_ms\":",
            (unsigned long long)s->c[BENCH_C_MUC_SENT], (unsigned long long)s->c[BENCH_C_MUC_RECV],
            (unsigned long long)f->muc_expected, (unsigned long long)f->muc_lost,
            (unsigned long long)s->c[BENCH_C_MUC_ECHO],
            (unsigned long long)s->c[BENCH_C_MUC_ERRORS], f->muc_sent_rate, f->muc_recv_rate,
            f->muc_per_receiver);
    json_latency(j, &s->muc);
    fprintf(j, ",\"join_ms\":");
    json_latency(j, &s->join);
    fprintf(j, "}");
    fprintf(j, ",\"measured_s\":%.3f", f->run_s);
    if (r->have_server) {
        fprintf(j,
                ",\"server\":{\"pid\":%d,\"cpu_s\":%.2f,\"cpu_run_s\":%.2f,\"rss_kb\":%ld,"
                "\"hwm_kb\":%ld,\"rss_base_kb\":%ld",
                (int)o->server_pid, r->srv_end.cpu_s - r->srv_base.cpu_s, f->cpu_run_s,
                r->srv_end.rss_kb, r->srv_end.hwm_kb, r->srv_base.rss_kb);
        if (r->have_joined)
            fprintf(j, ",\"rss_joined_kb\":%ld,\"cpu_join_s\":%.2f", r->srv_joined.rss_kb,
                    f->cpu_join_s);
        if (f->have_per_room)
            fprintf(j, ",\"rss_per_room_b\":%ld,\"rss_per_occupant_b\":%ld", f->rss_per_room_b,
                    f->rss_per_member_b);
        if (r->have_held)
            fprintf(j, ",\"rss_held_kb\":%ld,\"sessions_held\":%llu", r->srv_held.rss_kb,
                    (unsigned long long)r->online_held);
        if (r->have_run_end)
            fprintf(j, ",\"rss_run_end_kb\":%ld,\"sessions_run_end\":%llu", r->srv_run_end.rss_kb,
                    (unsigned long long)r->online_run_end);
        if (f->have_per_session)
            fprintf(j, ",\"rss_per_session_b\":%ld", f->rss_per_session_b);
        if (f->have_slope)
            fprintf(j, ",\"rss_slope_b\":%.0f", f->rss_slope_b);
        fprintf(j, ",\"rss_curve\":[");
        for (uint32_t i = 0; i < r->ncurve; i++)
            fprintf(j, "%s[%llu,%ld]", i ? "," : "", (unsigned long long)r->curve[i].sessions,
                    r->curve[i].rss_kb);
        fprintf(j, "]");
        json_procstat(j, "base", &r->srv_base);
        fprintf(j, "}");
    } else {
        fprintf(j, ",\"server\":null");
    }
    fprintf(j, ",\"generator\":{\"cpu_s\":%.2f,\"cpu_run_s\":%.2f,\"rss_kb\":%ld,\"hwm_kb\":%ld}",
            s->gen_cpu_s, s->gen_cpu_run_s, s->gen_rss_kb, s->gen_hwm_kb);
    fprintf(j, ",\"bytes\":{\"in\":%llu,\"out\":%llu}", (unsigned long long)s->c[BENCH_C_BYTES_IN],
            (unsigned long long)s->c[BENCH_C_BYTES_OUT]);
    fprintf(j, ",\"errors\":%llu}", (unsigned long long)bench_error_count(s));
    fclose(j);
    printf("BENCH-JSON %s\n", text);
    free(text);
}

void bench_report(const bench_opts_t *o, const bench_stats_t *s, const bench_run_t *r)
{
    figures_t f;
    derive(o, s, r, &f);
    print_table(o, s, r, &f);
    print_json(o, s, r, &f);
    fflush(stdout);
}
