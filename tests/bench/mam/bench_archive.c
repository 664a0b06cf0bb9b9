/* bench_archive.c — how fast a large archive answers paged queries (issue
 * #5 point 2): fills one account's archive through the repository (in write
 * transactions of 1,000 messages, as group commit would) and times the
 * queries a client makes.  Usage: parley-bench-archive [messages] [repeats] */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/archive.h"

#define T0 1700000000000000LL
#define PEERS 20

static const char *const words[] = {"hello",    "meeting", "lunch",  "report", "call", "tomorrow",
                                    "thanks",   "project", "review", "ok",     "see",  "you",
                                    "deadline", "budget",  "coffee", "later"};

typedef struct fill {
    long from, to;
} fill_t;

static int fill_run(pl_wtxn_t *txn, void *ud)
{
    const fill_t *f = ud;
    for (long i = f->from; i < f->to; i++) {
        char peer[32], body[160], stanza[512];
        snprintf(peer, sizeof(peer), "peer%ld@bench.test", i % PEERS);
        int n = 0;
        for (int w = 0; w < 6; w++)
            n += snprintf(body + n, sizeof(body) - (size_t)n, "%s ",
                          words[(unsigned long)(i * 7 + w * 13) % 16]);
        if (i % 1000 == 500)
            snprintf(body + n, sizeof(body) - (size_t)n, "xylophone");
        int len = snprintf(stanza, sizeof(stanza),
                           "<message xmlns='jabber:client' from='%s/phone' to='owner@bench.test' "
                           "type='chat' id='m%ld'><body>%s</body><stanza-id xmlns='urn:xmpp:sid:0' "
                           "by='owner@bench.test' id='%ld'/></message>",
                           peer, i, body, i);
        pl_archive_msg_t m = {.owner = "owner@bench.test",
                              .key = T0 + i * 1000,
                              .peer = peer,
                              .peer_resource = "phone",
                              .dir = i % 2,
                              .stanza = stanza,
                              .stanza_len = (size_t)len,
                              .body = body,
                              .body_len = strlen(body)};
        int rc = pl_archive_insert(txn, &m);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs q `repeats` times; prints median and worst time, items and count. */
static void measure(pl_archive_t *a, const char *name, const pl_archive_query_t *q, int repeats)
{
    double *t = calloc((size_t)repeats, sizeof(double));
    size_t n = 0;
    long long count = 0;
    for (int r = 0; r < repeats; r++) {
        pl_archive_page_t p;
        double s = now_ms();
        int rc = pl_archive_query(a, q, &p);
        t[r] = now_ms() - s;
        if (rc != 0) {
            printf("%-34s error %d\n", name, rc);
            free(t);
            return;
        }
        n = p.n;
        count = p.count;
        pl_archive_page_deinit(&p);
    }
    qsort(t, (size_t)repeats, sizeof(double), cmp_double);
    printf("%-34s %8.3f ms median %8.3f ms max   %3zu items  count %lld\n", name, t[repeats / 2],
           t[repeats - 1], n, count);
    free(t);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? atol(argv[1]) : 100000;
    int repeats = argc > 2 ? atoi(argv[2]) : 50;
    if (total < 1000 || repeats < 1) {
        fprintf(stderr, "usage: %s [messages >= 1000] [repeats]\n", argv[0]);
        return 2;
    }
    char dir[] = "/tmp/pl-bench-archive-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    pl_storage_opts_t o = {.dir = dir};
    pl_storage_t *st;
    char *err = NULL;
    if (pl_storage_open(&st, &o, &err) != 0) {
        fprintf(stderr, "open: %s\n", err ? err : "?");
        return 1;
    }
    double s = now_ms();
    for (long i = 0; i < total; i += 1000) {
        fill_t f = {.from = i, .to = i + 1000 < total ? i + 1000 : total};
        if (pl_storage_write_sync(st, fill_run, &f) != 0) {
            fprintf(stderr, "fill failed\n");
            return 1;
        }
    }
    double fill = now_ms() - s;
    printf("filled %ld messages in %.0f ms (%.0f inserts/s, 1,000 per transaction)\n", total, fill,
           total / (fill / 1e3));

    pl_archive_t *a;
    pl_archive_open(st, &a);
    const char *owner = "owner@bench.test";
    int64_t middle = T0 + (total / 2) * 1000;
    measure(a, "first page (max 50)", &(pl_archive_query_t){.owner = owner, .max = 50}, repeats);
    measure(a, "last page (<before/>)",
            &(pl_archive_query_t){.owner = owner, .max = 50, .last_page = 1}, repeats);
    measure(a, "middle page (after id)",
            &(pl_archive_query_t){.owner = owner, .max = 50, .page_after = middle}, repeats);
    measure(a, "middle page (before id)",
            &(pl_archive_query_t){.owner = owner, .max = 50, .page_before = middle}, repeats);
    measure(a, "with one peer, last page",
            &(pl_archive_query_t){
                .owner = owner, .max = 50, .last_page = 1, .with = "peer7@bench.test"},
            repeats);
    measure(a, "start/end (1% window)",
            &(pl_archive_query_t){
                .owner = owner, .max = 50, .start = middle, .end = middle + total * 10},
            repeats);
    measure(a, "count only (max 0)", &(pl_archive_query_t){.owner = owner, .max = 0}, repeats);
    measure(a, "full text, rare word",
            &(pl_archive_query_t){.owner = owner, .max = 50, .fulltext = "xylophone"}, repeats);
    measure(a, "full text, common word, last page",
            &(pl_archive_query_t){.owner = owner, .max = 50, .fulltext = "budget", .last_page = 1},
            repeats);
    pl_archive_close(&a);
    pl_storage_close(&st);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
