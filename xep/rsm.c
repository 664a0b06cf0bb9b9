/* xep/rsm.c — XEP-0059 request parsing and answer building (see rsm.h). */
#include "xep/rsm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/buf.h"

/* A decimal number of at most 9 digits (a page size or an index: anything
 * larger is no request a client means); 0 or -EINVAL. */
static int parse_count(const char *s, size_t len, size_t *out)
{
    while (len && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
        s++;
        len--;
    }
    while (len &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
        len--;
    if (len == 0 || len > 9)
        return -EINVAL;
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int copy_id(const pl_buf_t *text, char *out)
{
    if (text->len > PL_RSM_MAX_ID || (text->len && memchr(text->data, '\0', text->len)))
        return -EINVAL;
    if (text->len)
        memcpy(out, text->data, text->len);
    out[text->len] = '\0';
    return 0;
}

int pl_rsm_parse(const pl_xml_t *set, size_t default_max, size_t cap, pl_rsm_t *out)
{
    memset(out, 0, sizeof(*out));
    out->max = default_max < cap ? default_max : cap;
    if (!set)
        return 0;
    int has_max = 0, rc = 0;
    pl_buf_t text;
    pl_buf_init(&text);
    for (const pl_xml_t *c = pl_xml_first_element(set); c && rc == 0;
         c = pl_xml_next(c, NULL, NULL)) {
        if (strcmp(c->ns, PL_NS_RSM) != 0)
            continue;
        pl_buf_reset(&text);
        pl_xml_text(c, &text);
        if (strcmp(c->name, "max") == 0) {
            size_t v;
            if (has_max++ || parse_count(text.data ? text.data : "", text.len, &v) != 0) {
                rc = -EINVAL;
            } else {
                out->max_capped = v > cap;
                out->max = v > cap ? cap : v;
            }
        } else if (strcmp(c->name, "after") == 0) {
            /* An empty <after/> names no item: there is nothing to page from. */
            if (out->has_after++ || text.len == 0 || copy_id(&text, out->after) != 0)
                rc = -EINVAL;
        } else if (strcmp(c->name, "before") == 0) {
            if (out->has_before++ || copy_id(&text, out->before) != 0)
                rc = -EINVAL;
        } else if (strcmp(c->name, "index") == 0) {
            if (out->has_index++ ||
                parse_count(text.data ? text.data : "", text.len, &out->index) != 0)
                rc = -EINVAL;
        }
    }
    pl_buf_deinit(&text);
    if (rc == 0 && ((out->has_after && out->has_before) ||
                    (out->has_index && (out->has_after || out->has_before))))
        rc = -EINVAL;
    return rc;
}

void pl_rsm_build(pl_builder_t *b, const char *first, long long first_index, const char *last,
                  long long count)
{
    char num[24];
    pl_build_child(b, "set", PL_NS_RSM);
    if (first) {
        pl_build_child(b, "first", PL_NS_RSM);
        if (first_index >= 0) {
            snprintf(num, sizeof(num), "%lld", first_index);
            pl_build_attr(b, "index", num);
        }
        pl_build_text(b, first, strlen(first));
        pl_build_up(b);
        pl_build_text_child(b, "last", PL_NS_RSM, last ? last : first);
    }
    if (count >= 0) {
        snprintf(num, sizeof(num), "%lld", count);
        pl_build_text_child(b, "count", PL_NS_RSM, num);
    }
    pl_build_up(b);
}
