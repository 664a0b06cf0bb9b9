/* record.c — a persistent room as one record in the module's "rooms"
 * store: its configuration, subject and affiliations (with when each was
 * granted).  Occupants and history are not stored: they belong to live
 * sessions.  The record is versioned text with length-prefixed fields, so
 * names and descriptions may hold any character, and a record that does
 * not decode is refused rather than half-loaded. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"

int muc_record_key(pl_buf_t *k, const char *service, const char *local)
{
    pl_buf_reset(k);
    pl_buf_append(k, service, strlen(service) + 1);
    pl_buf_puts(k, local);
    return k->len <= MUC_KEY_MAX ? 0 : -1;
}

static void put_field(pl_buf_t *out, char tag, const char *v, size_t len)
{
    pl_buf_printf(out, "%c %zu\n", tag, len);
    pl_buf_append(out, v, len);
    pl_buf_append(out, "\n", 1);
}

static void put_str(pl_buf_t *out, char tag, const char *v)
{
    if (v)
        put_field(out, tag, v, strlen(v));
}

void muc_record_encode(const muc_room_t *r, pl_buf_t *out)
{
    pl_buf_printf(out, "muc1 %llu %u %ld %" PRId64 " %" PRId64 "\n", r->gen, r->config.flags,
                  r->config.max_occupants, r->created_ms, r->active_ms);
    put_str(out, 'n', r->config.name);
    put_str(out, 'd', r->config.description);
    put_str(out, 'p', r->config.password);
    put_str(out, 's', r->subject);
    put_str(out, 'b', r->subject_by);
    if (r->kind != MUC_KIND_ROOM)
        put_str(out, 'g', muc_kind_name(r->kind));
    put_str(out, 'u', r->bulletin);
    pl_buf_t a;
    pl_buf_init(&a);
    for (size_t i = 0; i < r->naffs; i++) {
        pl_buf_reset(&a);
        pl_buf_printf(&a, "%d %" PRId64 " %s", (int)r->affs[i].affil, r->affs[i].since_ms,
                      r->affs[i].jid);
        put_field(out, 'a', a.data, a.len);
    }
    pl_buf_deinit(&a);
}

/* The header line, parsed; 0 or -EBADMSG. */
static int read_header(const char *data, size_t len, const char **body, unsigned long long *gen,
                       unsigned *flags, long *maxocc, int64_t *created, int64_t *active)
{
    const char *nl = memchr(data, '\n', len);
    if (!nl || nl - data > 120)
        return -EBADMSG;
    char head[128];
    memcpy(head, data, (size_t)(nl - data));
    head[nl - data] = '\0';
    int used = 0;
    if (sscanf(head, "muc1 %llu %u %ld %" SCNd64 " %" SCNd64 "%n", gen, flags, maxocc, created,
               active, &used) != 5 ||
        head[used] != '\0')
        return -EBADMSG;
    *body = nl + 1;
    return 0;
}

unsigned long long muc_record_gen(const char *data, size_t len)
{
    const char *body;
    unsigned long long gen;
    unsigned flags;
    long maxocc;
    int64_t c, a;
    return read_header(data, len, &body, &gen, &flags, &maxocc, &c, &a) == 0 ? gen : 0;
}

static int set_once(char **slot, const char *v, size_t len, size_t max)
{
    if (*slot || len > max || memchr(v, '\0', len))
        return -EBADMSG;
    *slot = pl_xstrndup(v, len);
    return 0;
}

static int read_affil(muc_room_t *r, const char *v, size_t len)
{
    char buf[PL_JID_PART_MAX * 2 + 64];
    if (len >= sizeof(buf) || memchr(v, '\0', len))
        return -EBADMSG;
    memcpy(buf, v, len);
    buf[len] = '\0';
    int rank, used = 0;
    int64_t since;
    if (sscanf(buf, "%d %" SCNd64 " %n", &rank, &since, &used) != 2 || used == 0 ||
        rank < MUC_AFFIL_OUTCAST || rank > MUC_AFFIL_OWNER || rank == MUC_AFFIL_NONE ||
        !buf[used] || strchr(buf + used, ' ') || muc_room_aff(r, buf + used) ||
        r->naffs >= MUC_MAX_AFFILIATIONS)
        return -EBADMSG;
    muc_room_set_affil(r, buf + used, (muc_affil_t)rank, since);
    return 0;
}

/* A group's kind (absent: a plain room). */
static int read_kind(muc_room_t *r, const char *v, size_t len)
{
    char buf[16];
    if (r->kind != MUC_KIND_ROOM || len >= sizeof(buf))
        return -EBADMSG;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return muc_kind_parse(buf, &r->kind) == 0 && r->kind != MUC_KIND_ROOM ? 0 : -EBADMSG;
}

int muc_record_decode(const char *jid, const char *data, size_t len, size_t hist_cap,
                      muc_room_t **out)
{
    *out = NULL;
    const char *p;
    unsigned long long gen;
    unsigned flags;
    long maxocc;
    int64_t created, active;
    if (read_header(data, len, &p, &gen, &flags, &maxocc, &created, &active) != 0 ||
        (flags & ~(unsigned)MUC_CONF__ALL) || maxocc < 0)
        return -EBADMSG;
    muc_room_t *r = muc_room_new(jid, hist_cap, created);
    r->gen = gen;
    r->config.flags = flags;
    r->config.max_occupants = maxocc;
    r->active_ms = active;
    const char *end = data + len;
    int rc = 0;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        char tag;
        size_t flen;
        int used = 0;
        char head[32];
        if (!nl || nl - p >= (ptrdiff_t)sizeof(head)) {
            rc = -EBADMSG;
            break;
        }
        memcpy(head, p, (size_t)(nl - p));
        head[nl - p] = '\0';
        if (sscanf(head, "%c %zu%n", &tag, &flen, &used) != 2 || head[used] != '\0' ||
            flen > (size_t)(end - nl - 1) || (size_t)(end - nl - 1) - flen < 1 ||
            nl[1 + flen] != '\n') {
            rc = -EBADMSG;
            break;
        }
        const char *v = nl + 1;
        switch (tag) {
        case 'n': rc = set_once(&r->config.name, v, flen, MUC_MAX_NAME); break;
        case 'd': rc = set_once(&r->config.description, v, flen, MUC_MAX_DESCRIPTION); break;
        case 'p': rc = set_once(&r->config.password, v, flen, MUC_MAX_PASSWORD); break;
        case 's': rc = set_once(&r->subject, v, flen, MUC_MAX_SUBJECT); break;
        case 'b': rc = set_once(&r->subject_by, v, flen, PL_JID_PART_MAX); break;
        case 'a': rc = read_affil(r, v, flen); break;
        case 'g': rc = read_kind(r, v, flen); break;
        case 'u': rc = set_once(&r->bulletin, v, flen, MUC_MAX_BULLETIN); break;
        default: rc = -EBADMSG; /* a v1 record has no other field */
        }
        p = v + flen + 1;
    }
    if (rc == 0 && muc_room_count_affil(r, MUC_AFFIL_OWNER) == 0)
        rc = -EBADMSG; /* a stored room always has an owner */
    if (rc != 0) {
        muc_room_free(&r);
        return -EBADMSG;
    }
    *out = r;
    return 0;
}
