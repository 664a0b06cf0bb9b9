/* fuzz_rsm.c — libFuzzer target for XEP-0059 result set requests
 * (xep/rsm.c, used by archive and inbox queries): every
 * <set xmlns='http://jabber.org/protocol/rsm'/> anywhere in the input's
 * stanzas is parsed with a default page size and cap taken from the first
 * input byte.  An accepted request must respect what rsm.h promises, and a
 * request written from what was read must read back the same.
 *
 * Input: one byte (page size options), then the content of a client stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "tests/fuzz/helpers.h"
#include "xep/rsm.h"
#include "xmpp/ns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct opts {
    size_t default_max, cap;
} opts_t;

static void check(const pl_rsm_t *r, const opts_t *o)
{
    if (r->max > o->cap || (r->max_capped && r->max != o->cap))
        pl_die("rsm: max %zu over the cap %zu", r->max, o->cap);
    if (strlen(r->after) > PL_RSM_MAX_ID || strlen(r->before) > PL_RSM_MAX_ID)
        pl_die("rsm: an id over %d bytes", PL_RSM_MAX_ID);
    if ((r->has_after && (r->has_before || !r->after[0])) ||
        (r->has_index && (r->has_after || r->has_before)))
        pl_die("rsm: an impossible combination was accepted");
    if (r->has_index && r->index > 999999999)
        pl_die("rsm: index %zu", r->index);
}

/* The request written again from what was read, read again. */
static void check_rewrite(const pl_rsm_t *r, const opts_t *o)
{
    char num[24];
    pl_builder_t *b = pl_build_new("set", PL_NS_RSM);
    snprintf(num, sizeof(num), "%zu", r->max);
    pl_build_text_child(b, "max", PL_NS_RSM, num);
    if (r->has_after)
        pl_build_text_child(b, "after", PL_NS_RSM, r->after);
    if (r->has_before)
        pl_build_text_child(b, "before", PL_NS_RSM, r->before);
    if (r->has_index) {
        snprintf(num, sizeof(num), "%zu", r->index);
        pl_build_text_child(b, "index", PL_NS_RSM, num);
    }
    pl_stanza_t *st = pl_build_finish(b);
    pl_rsm_t again;
    if (pl_rsm_parse(pl_stanza_root(st), o->default_max, o->cap, &again) != 0)
        pl_die("rsm: a request written from an accepted one is refused");
    if (again.max != r->max || again.has_after != r->has_after ||
        again.has_before != r->has_before || again.has_index != r->has_index ||
        again.index != r->index || strcmp(again.after, r->after) != 0 ||
        strcmp(again.before, r->before) != 0)
        pl_die("rsm: the rewritten request reads back differently");
    pl_stanza_unref(&st);
    /* And the answer a handler would write. */
    b = pl_build_new("iq", PL_NS_CLIENT);
    pl_rsm_build(b, r->has_after ? r->after : NULL, (long long)r->index - 1, NULL,
                 (long long)r->max);
    st = pl_build_finish(b);
    pl_stanza_bytes(st, NULL);
    pl_stanza_unref(&st);
}

static void on_element(void *ud, const pl_xml_t *e)
{
    const opts_t *o = ud;
    if (strcmp(e->name, "set") != 0 || strcmp(e->ns, PL_NS_RSM) != 0)
        return;
    pl_rsm_t r;
    if (pl_rsm_parse(e, o->default_max, o->cap, &r) == 0) {
        check(&r, o);
        check_rewrite(&r, o);
    }
}

static void on_stanza(void *ud, const pl_stanza_t *st)
{
    fuzz_each_element(pl_stanza_root(st), on_element, ud);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[] = {0, 1, 10, 50, 100, 250, 1000, 999999999};
    if (size < 1)
        return 0;
    opts_t o = {.default_max = caps[(data[0] >> 3) & 7], .cap = caps[data[0] & 7]};
    pl_rsm_t none;
    if (pl_rsm_parse(NULL, o.default_max, o.cap, &none) != 0 || none.max > o.cap)
        pl_die("rsm: no <set/> is not the defaults");
    fuzz_each_stanza(data + 1, size - 1, on_stanza, &o);
    return 0;
}
