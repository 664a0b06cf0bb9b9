/* jid.c — JIDs per RFC 7622: splitting "local@domain/resource", normalising
 * each part (case folding, hostname and IP-literal checks, UTF-8 validation)
 * and comparing.  Self-contained: no locale, no ICU, no global state. */
#include "xmpp/jid.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/utf8.h"
#include "lib/util.h"

#define JID_LABEL_MAX 63


/* ---- character classes ---- */

static int is_control(uint32_t cp) { return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f); }

static int is_space(uint32_t cp)
{
    return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* Invisible formatting characters, private use, specials and noncharacters:
 * PRECIS disallows them in identifiers because they let two different
 * strings look the same on screen. */
static int is_invisible_or_reserved(uint32_t cp)
{
    return cp == 0xad || cp == 0x34f || cp == 0x61c || cp == 0x180e ||
           (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2060 && cp <= 0x206f) || (cp >= 0xfe00 && cp <= 0xfe0f) || cp == 0xfeff ||
           (cp >= 0xe000 && cp <= 0xf8ff) || (cp >= 0xfdd0 && cp <= 0xfdef) ||
           (cp >= 0xfff0 && cp <= 0xffff) || (cp & 0xfffe) == 0xfffe ||
           (cp >= 0xe0000 && cp <= 0xe0fff) || cp >= 0xf0000;
}

/* PRECIS width mapping, limited to the fullwidth forms of printable ASCII
 * (U+FF01..U+FF5E), which is what users actually type by accident. */
static uint32_t map_width(uint32_t cp)
{
    if (cp >= 0xff01 && cp <= 0xff5e)
        return cp - 0xff01 + 0x21;
    return cp;
}

/* Upper case to lower case without locale state.  Covers ASCII, Latin-1
 * Supplement, Latin Extended-A, Latin Extended Additional (Vietnamese), Greek,
 * Cyrillic (with Supplement) and Armenian; everything else is returned
 * unchanged.  These are Unicode's simple lowercase mappings; U+0130 is
 * handled by the caller because its full mapping is two code points. */
static uint32_t fold_lower(uint32_t cp)
{
    if (cp < 0x80)
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7)
        return cp + 32;
    if (cp >= 0x100 && cp <= 0x17f) {
        if (cp == 0x178)
            return 0xff;
        if ((cp <= 0x12f || (cp >= 0x132 && cp <= 0x137) || (cp >= 0x14a && cp <= 0x177)) &&
            cp % 2 == 0)
            return cp + 1;
        if (((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e)) && cp % 2 == 1)
            return cp + 1;
        return cp;
    }
    if (cp >= 0x370 && cp <= 0x3ff) {
        if (cp == 0x386)
            return 0x3ac;
        if (cp >= 0x388 && cp <= 0x38a)
            return cp + 37;
        if (cp == 0x38c)
            return 0x3cc;
        if (cp == 0x38e || cp == 0x38f)
            return cp + 63;
        if ((cp >= 0x391 && cp <= 0x3a1) || (cp >= 0x3a3 && cp <= 0x3ab))
            return cp + 32;
        if (((cp >= 0x370 && cp <= 0x373) || cp == 0x376 || (cp >= 0x3d8 && cp <= 0x3ef)) &&
            cp % 2 == 0)
            return cp + 1;
        switch (cp) {
        case 0x37f: return 0x3f3;
        case 0x3cf: return 0x3d7;
        case 0x3f4: return 0x3b8;
        case 0x3f7: return 0x3f8;
        case 0x3f9: return 0x3f2;
        case 0x3fa: return 0x3fb;
        case 0x3fd: case 0x3fe: case 0x3ff: return cp - 130;
        default: return cp;
        }
    }
    if (cp >= 0x400 && cp <= 0x52f) {
        if (cp <= 0x40f)
            return cp + 80;
        if (cp <= 0x42f)
            return cp + 32;
        if (cp == 0x4c0)
            return 0x4cf;
        if (((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48a && cp <= 0x4bf) || cp >= 0x4d0) &&
            cp % 2 == 0)
            return cp + 1;
        if (cp >= 0x4c1 && cp <= 0x4ce && cp % 2 == 1)
            return cp + 1;
        return cp;
    }
    if (cp >= 0x531 && cp <= 0x556)
        return cp + 48;
    if (cp >= 0x1e00 && cp <= 0x1eff) {
        if (cp == 0x1e9e)
            return 0xdf;
        if ((cp <= 0x1e94 || cp >= 0x1ea0) && cp % 2 == 0)
            return cp + 1;
    }
    return cp;
}

/* Appends the lower-case form of cp and returns how many code points that
 * took: only U+0130 (I with dot above) lowers to two, "i" plus U+0307
 * combining dot above. */
static size_t put_lower(pl_buf_t *b, uint32_t cp)
{
    if (cp == 0x130) {
        pl_utf8_put(b, 'i');
        pl_utf8_put(b, 0x307);
        return 2;
    }
    pl_utf8_put(b, fold_lower(cp));
    return 1;
}

/* Returns the buffer's contents as a heap string if 1..PL_JID_PART_MAX bytes,
 * else frees it and returns NULL. */
static char *finish_part(pl_buf_t *b)
{
    if (b->len == 0 || b->len > PL_JID_PART_MAX) {
        pl_buf_deinit(b);
        return NULL;
    }
    char *out = pl_xstrndup(b->data, b->len);
    pl_buf_deinit(b);
    return out;
}

/* 1 when s[0..len) is all ASCII: then each part has a simple, byte-wise
 * normalisation (below), the same as the code-point one gives for ASCII,
 * without decoding UTF-8 or growing a buffer a code point at a time.  Every
 * routed stanza parses two JIDs, so this is on the path of every delivery. */
static int all_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* ---- localpart ---- */

static int local_forbidden(uint32_t cp)
{
    switch (cp) {
    case '"': case '&': case '\'': case '/': case ':': case '<': case '>': case '@':
        return 1;
    default:
        return is_control(cp) || is_space(cp) || is_invisible_or_reserved(cp);
    }
}

char *pl_jid_norm_local(const char *s, size_t len)
{
    /* Lower-casing can change the byte length, so the limit is applied to the
     * result; the input bound only stops absurd inputs early. */
    if (!s || len == 0 || len > 4 * PL_JID_PART_MAX)
        return NULL;
    if (len <= PL_JID_PART_MAX && all_ascii(s, len)) {
        char *out = pl_xmalloc(len + 1);
        for (size_t k = 0; k < len; k++) {
            unsigned char ch = (unsigned char)s[k];
            if (local_forbidden(ch)) {
                free(out);
                return NULL;
            }
            out[k] = (char)fold_lower(ch);
        }
        out[len] = '\0';
        return out;
    }
    const unsigned char *u = (const unsigned char *)s;
    pl_buf_t b;
    pl_buf_init(&b);
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        if (pl_utf8_next(u, len, &i, &cp) != 0)
            goto bad;
        cp = map_width(cp);
        if (local_forbidden(cp))
            goto bad;
        put_lower(&b, cp);
    }
    return finish_part(&b);
bad:
    pl_buf_deinit(&b);
    return NULL;
}

/* ---- domainpart ---- */

/* A rough "is a letter or digit" test for characters outside ASCII in
 * domain labels: it excludes the symbol and punctuation blocks, spaces and
 * the invisible characters, which is as far as we can go without Unicode
 * property tables.  IDNA2008's full PVALID rules are not applied. */
static int domain_nonascii_ok(uint32_t cp)
{
    if (cp < 0xc0 || cp == 0xd7 || cp == 0xf7)
        return 0;
    if (is_space(cp) || is_invisible_or_reserved(cp))
        return 0;
    if (cp >= 0x2000 && cp <= 0x2bff) /* punctuation, symbols, arrows, maths, shapes */
        return 0;
    if (cp >= 0x3000 && cp <= 0x3003) /* ideographic space, comma, full stop */
        return 0;
    if (cp >= 0xff61 && cp <= 0xff64) /* halfwidth full stop and friends */
        return 0;
    return 1;
}

static char *norm_ip6_literal(const char *s, size_t len)
{
    char inner[INET6_ADDRSTRLEN];
    if (len < 4 || s[len - 1] != ']' || len - 2 >= sizeof(inner))
        return NULL;
    memcpy(inner, s + 1, len - 2);
    inner[len - 2] = '\0';
    struct in6_addr addr;
    if (inet_pton(AF_INET6, inner, &addr) != 1)
        return NULL;
    /* Canonical RFC 5952 text, so "[0:0::1]" and "[::1]" compare equal. */
    char canon[INET6_ADDRSTRLEN + 2];
    canon[0] = '[';
    if (!inet_ntop(AF_INET6, &addr, canon + 1, INET6_ADDRSTRLEN))
        return NULL;
    strcat(canon, "]");
    return pl_xstrdup(canon);
}

/* State of the label being scanned in norm_domain. */
typedef struct domain_label {
    size_t chars;
    int first_hyphen;
    uint32_t last;
    int all_digits;
} domain_label_t;

static int label_ok(const domain_label_t *l)
{
    return l->chars >= 1 && l->chars <= JID_LABEL_MAX && !l->first_hyphen && l->last != '-';
}

/* A name numeric in its last label can only be an IPv4 address; a
 * hostname's top-level label is never all digits (RFC 3696 §2).  The glibc
 * parser rejects leading zeros and anything but four parts. */
static int ipv4_ok(const char *name)
{
    struct in_addr addr;
    return inet_pton(AF_INET, name, &addr) == 1;
}

/* pl_jid_norm_domain for an all-ASCII name of at most PL_JID_PART_MAX bytes
 * (no trailing dot, not an IPv6 literal): the same rules, byte by byte. */
static char *norm_ascii_domain(const char *s, size_t len)
{
    char *out = pl_xmalloc(len + 1);
    domain_label_t label = {.all_digits = 1};
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = fold_lower((unsigned char)s[i]);
        out[i] = (char)cp;
        if (cp == '.') {
            if (!label_ok(&label))
                goto bad;
            label = (domain_label_t){.all_digits = 1};
            continue;
        }
        if (!((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') || cp == '-'))
            goto bad;
        if (label.chars == 0)
            label.first_hyphen = cp == '-';
        label.chars++;
        label.last = cp;
        if (cp < '0' || cp > '9')
            label.all_digits = 0;
    }
    out[len] = '\0';
    if (!label_ok(&label) || (label.all_digits && !ipv4_ok(out)))
        goto bad;
    return out;
bad:
    free(out);
    return NULL;
}

char *pl_jid_norm_domain(const char *s, size_t len)
{
    if (!s || len == 0 || len > 4 * PL_JID_PART_MAX)
        return NULL;
    /* RFC 7622 §3.2: one trailing label separator is not part of the name. */
    if (s[len - 1] == '.')
        len--;
    if (len == 0)
        return NULL;
    if (s[0] == '[')
        return norm_ip6_literal(s, len);
    if (len <= PL_JID_PART_MAX && all_ascii(s, len))
        return norm_ascii_domain(s, len);
    const unsigned char *u = (const unsigned char *)s;
    pl_buf_t b;
    pl_buf_init(&b);
    domain_label_t label = {.all_digits = 1};
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        if (pl_utf8_next(u, len, &i, &cp) != 0)
            goto bad;
        cp = fold_lower(map_width(cp));
        if (cp == '.') {
            if (!label_ok(&label))
                goto bad;
            label = (domain_label_t){.all_digits = 1};
            pl_buf_append(&b, ".", 1);
            continue;
        }
        int ascii_ok = (cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') || cp == '-';
        if (!ascii_ok && (cp < 0x80 || !domain_nonascii_ok(cp)))
            goto bad;
        if (label.chars == 0)
            label.first_hyphen = cp == '-';
        /* Counted as written, so the result parses again to itself. */
        label.chars += put_lower(&b, cp);
        label.last = cp;
        if (cp < '0' || cp > '9')
            label.all_digits = 0;
    }
    if (!label_ok(&label))
        goto bad;
    if (label.all_digits && !ipv4_ok(pl_buf_cstr(&b)))
        goto bad;
    return finish_part(&b);
bad:
    pl_buf_deinit(&b);
    return NULL;
}

/* ---- resourcepart ---- */

char *pl_jid_norm_resource(const char *s, size_t len)
{
    if (!s || len == 0 || len > PL_JID_PART_MAX)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (u[i] < 0x80) { /* ASCII: one byte, one code point */
            if (is_control(u[i++]))
                return NULL;
            continue;
        }
        uint32_t cp;
        if (pl_utf8_next(u, len, &i, &cp) != 0 || is_control(cp))
            return NULL;
    }
    return pl_xstrndup(s, len);
}

/* ---- whole JIDs ---- */

/* Normalises the given parts into out; local/resource NULL when absent.  An
 * absent domain is a malformed JID.  On failure out is left zeroed. */
static int jid_build(pl_jid_t *out, const char *local, size_t llen, const char *domain,
                     size_t dlen, const char *res, size_t rlen)
{
    memset(out, 0, sizeof(*out));
    if (!domain)
        return -1;
    pl_buf_t b;
    out->domain = pl_jid_norm_domain(domain, dlen);
    if (!out->domain)
        goto bad;
    if (local && !(out->local = pl_jid_norm_local(local, llen)))
        goto bad;
    if (res && !(out->resource = pl_jid_norm_resource(res, rlen)))
        goto bad;

    pl_buf_init(&b);
    size_t ll = out->local ? strlen(out->local) : 0, dl = strlen(out->domain);
    size_t rl = out->resource ? strlen(out->resource) : 0;
    pl_buf_reserve(&b, ll + dl + rl + 3);
    if (out->local) {
        pl_buf_append(&b, out->local, ll);
        pl_buf_append(&b, "@", 1);
    }
    pl_buf_append(&b, out->domain, dl);
    out->bare = pl_xstrndup(b.data, b.len);
    if (out->resource) {
        pl_buf_append(&b, "/", 1);
        pl_buf_append(&b, out->resource, rl);
    }
    out->full = pl_xstrndup(b.data, b.len);
    pl_buf_deinit(&b);
    return 0;
bad:
    pl_jid_deinit(out);
    return -1;
}

int pl_jid_parse(pl_jid_t *out, const char *s)
{
    if (!s) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    /* RFC 7622 §3.1: the resource is everything after the first '/', and
     * the localpart is what precedes the first '@' before that.  Any later
     * '@' therefore lands in the domain, which rejects it. */
    const char *slash = strchr(s, '/');
    size_t head = slash ? (size_t)(slash - s) : strlen(s);
    const char *at = memchr(s, '@', head);
    const char *domain = at ? at + 1 : s;
    size_t dlen = head - (size_t)(domain - s);
    const char *res = slash ? slash + 1 : NULL;
    return jid_build(out, at ? s : NULL, at ? (size_t)(at - s) : 0, domain, dlen, res,
                     res ? strlen(res) : 0);
}

int pl_jid_from_parts(pl_jid_t *out, const char *local, const char *domain, const char *resource)
{
    return jid_build(out, local, local ? strlen(local) : 0, domain, domain ? strlen(domain) : 0,
                     resource, resource ? strlen(resource) : 0);
}

void pl_jid_deinit(pl_jid_t *j)
{
    if (!j)
        return;
    free(j->local);
    free(j->domain);
    free(j->resource);
    free(j->bare);
    free(j->full);
    memset(j, 0, sizeof(*j));
}

static char *dup_or_null(const char *s) { return s ? pl_xstrdup(s) : NULL; }

int pl_jid_dup(pl_jid_t *out, const pl_jid_t *in)
{
    memset(out, 0, sizeof(*out));
    if (!in || !in->domain || !in->bare || !in->full)
        return -1;
    out->local = dup_or_null(in->local);
    out->domain = pl_xstrdup(in->domain);
    out->resource = dup_or_null(in->resource);
    out->bare = pl_xstrdup(in->bare);
    out->full = pl_xstrdup(in->full);
    return 0;
}

int pl_jid_equal(const pl_jid_t *a, const pl_jid_t *b)
{
    return a && b && a->full && b->full && strcmp(a->full, b->full) == 0;
}

int pl_jid_bare_equal(const pl_jid_t *a, const pl_jid_t *b)
{
    return a && b && a->bare && b->bare && strcmp(a->bare, b->bare) == 0;
}
