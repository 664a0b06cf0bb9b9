/* mention.c — who a room message mentions (Parley issue #16, GRP-7), so
 * that mentioned members hear of it through inbox and push even when they
 * are not in the room.  Two forms: XEP-0372 references
 * (<reference xmlns='urn:xmpp:reference:0' type='mention' uri='xmpp:…'/>)
 * naming a member's bare JID or an occupant's room@service/nick, and a
 * plain "@name" in the body, where name is the nick an occupant uses in
 * the room or a member's localpart (the room has no reserved nicks).
 * Pure functions over the message and a list of candidates, for the unit
 * tests; docs/extensions/groups.md states the rules. */
#include <string.h>

#include "modules/muc/muc-private.h"

#define NS_REFERENCE "urn:xmpp:reference:0"

/* Bounds on the work one message may cause, whatever it holds: so many
 * '@' signs and references are looked at, no more. */
enum { MENTION_MAX_AT = 64, MENTION_MAX_REFS = 64 };

/* The code point starting at s (len bytes left), its length in *n; a
 * broken sequence counts as one byte, U+FFFD. */
static unsigned code_point(const unsigned char *s, size_t len, size_t *n)
{
    unsigned c = s[0];
    size_t k = c < 0x80             ? 1
               : (c & 0xe0) == 0xc0 ? 2
               : (c & 0xf0) == 0xe0 ? 3
               : (c & 0xf8) == 0xf0 ? 4
                                    : 0;
    if (k == 0 || k > len) {
        *n = 1;
        return 0xfffd;
    }
    unsigned v = k == 1 ? c : k == 2 ? c & 0x1f : k == 3 ? c & 0x0f : c & 0x07;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *n = 1;
            return 0xfffd;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    *n = k;
    return v;
}

/* Scripts written without spaces between words (CJK, kana, Hangul, their
 * punctuation and full-width forms): a name in them ends where it ends. */
static int unspaced(unsigned c)
{
    return (c >= 0x2e80 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7af) ||
           (c >= 0xf900 && c <= 0xfaff) || (c >= 0xff00 && c <= 0xffef) ||
           (c >= 0x20000 && c <= 0x3ffff);
}

/* An ASCII character that may be part of a name or an address: such a
 * character right before '@' makes it an address (bob@example.com), right
 * after a name makes the name longer than the one matched. */
static int word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '+' || c == '@';
}

/* The last code point of s[0..len). */
static unsigned last_code_point(const char *s, size_t len)
{
    size_t start = len;
    while (start > 0 && ((unsigned char)s[start - 1] & 0xc0) == 0x80)
        start--;
    if (start > 0)
        start--;
    size_t n;
    return code_point((const unsigned char *)s + start, len - start, &n);
}

/* Does `name` stand at text[0..len) as a whole name?  ASCII letters
 * compare without case; the name must end at the end of the text, before
 * a character that is not part of a name (space, punctuation), or next to
 * a character of an unspaced script. */
static int name_at(const char *text, size_t len, const char *name, size_t nlen)
{
    if (nlen == 0 || nlen > len)
        return 0;
    for (size_t i = 0; i < nlen; i++) {
        unsigned char a = (unsigned char)text[i], b = (unsigned char)name[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (unsigned char)(b - 'A' + 'a');
        if (a != b)
            return 0;
    }
    if (nlen == len)
        return 1;
    unsigned char next = (unsigned char)text[nlen];
    if (next < 0x80) {
        /* '.' and '-' end a sentence or a clause as often as they join
         * words: only when a letter or digit follows do they continue. */
        if (next == '.' || next == '-')
            return nlen + 1 == len || !word_byte((unsigned char)text[nlen + 1]) ||
                   text[nlen + 1] == '.' || text[nlen + 1] == '-';
        return !word_byte(next);
    }
    size_t n;
    unsigned c = code_point((const unsigned char *)text + nlen, len - nlen, &n);
    return unspaced(c) || unspaced(last_code_point(name, nlen)) || (c >= 0x2000 && c <= 0x206f) ||
           c == 0xa0;
}

static size_t local_len(const char *bare)
{
    const char *at = strchr(bare, '@');
    return at ? (size_t)(at - bare) : 0;
}

static void hit_one(unsigned char *hit, size_t i, size_t *found)
{
    if (!hit[i]) {
        hit[i] = 1;
        (*found)++;
    }
}

/* "@name" in the body. */
static void find_in_text(const char *text, size_t len, const muc_mention_who_t *who, size_t n,
                         size_t max, unsigned char *hit, size_t *found)
{
    size_t ats = 0;
    for (size_t p = 0; p < len && *found < max && ats < MENTION_MAX_AT; p++) {
        if (text[p] != '@')
            continue;
        ats++;
        if (p > 0 && (unsigned char)text[p - 1] < 0x80 && word_byte((unsigned char)text[p - 1]))
            continue; /* an address, not a mention */
        const char *at = text + p + 1;
        size_t left = len - p - 1;
        /* The longest name that stands there: "@Ann Lee" is Ann Lee, not
         * Ann, when both are in the room. */
        size_t best_len = 0;
        for (size_t i = 0; i < n; i++) {
            size_t l = who[i].nick ? strlen(who[i].nick) : 0;
            if (l > best_len && name_at(at, left, who[i].nick, l))
                best_len = l;
            l = local_len(who[i].bare);
            if (l > best_len && name_at(at, left, who[i].bare, l))
                best_len = l;
        }
        if (best_len == 0)
            continue;
        /* Every candidate of that name (a nick may also be another
         * member's localpart). */
        for (size_t i = 0; i < n && *found < max; i++) {
            size_t nl = who[i].nick ? strlen(who[i].nick) : 0, ll = local_len(who[i].bare);
            if ((nl == best_len && name_at(at, left, who[i].nick, nl)) ||
                (ll == best_len && name_at(at, left, who[i].bare, ll)))
                hit_one(hit, i, found);
        }
        p += best_len;
    }
}

static int hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The JID an xmpp: URI names (RFC 5122: percent-decoded, without a query
 * or fragment), into out; 0, or -1 when it is not one. */
static int uri_jid(const char *uri, char *out, size_t cap)
{
    if (strncmp(uri, "xmpp:", 5) != 0)
        return -1;
    const char *s = uri + 5;
    if (s[0] == '/' && s[1] == '/')
        return -1; /* an authority: xmpp://me@host/them, not a plain JID */
    size_t o = 0;
    for (; *s && *s != '?' && *s != '#'; s++) {
        char c = *s;
        if (c == '%') {
            int h = hex(s[1]), l = h >= 0 ? hex(s[2]) : -1;
            if (l < 0)
                return -1;
            c = (char)(h * 16 + l);
            s += 2;
        }
        if (c == '\0' || o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return o ? 0 : -1;
}

/* XEP-0372 mention references. */
static void find_in_refs(const pl_xml_t *root, const char *room, const muc_mention_who_t *who,
                         size_t n, size_t max, unsigned char *hit, size_t *found)
{
    size_t refs = 0;
    for (const pl_xml_t *x = pl_xml_child(root, "reference", NS_REFERENCE);
         x && *found < max && refs < MENTION_MAX_REFS;
         x = pl_xml_next(x, "reference", NS_REFERENCE)) {
        refs++;
        const char *type = pl_xml_attr(x, "type"), *uri = pl_xml_attr(x, "uri");
        char raw[MUC_JID_MAX];
        pl_jid_t j;
        if (!type || strcmp(type, "mention") != 0 || !uri || uri_jid(uri, raw, sizeof(raw)) != 0 ||
            pl_jid_parse(&j, raw) != 0)
            continue;
        int occupant = j.resource && strcmp(j.bare, room) == 0;
        for (size_t i = 0; i < n && *found < max; i++) {
            if (occupant ? who[i].nick && strcmp(who[i].nick, j.resource) == 0
                         : !j.resource && strcmp(who[i].bare, j.bare) == 0)
                hit_one(hit, i, found);
        }
        pl_jid_deinit(&j);
    }
}

size_t muc_mentions_find(const pl_xml_t *msg, const char *room, const muc_mention_who_t *who,
                         size_t n, size_t max, unsigned char *hit)
{
    size_t found = 0;
    memset(hit, 0, n);
    find_in_refs(msg, room, who, n, max, hit, &found);
    pl_buf_t body;
    pl_buf_init(&body);
    if (found < max && pl_xml_child_text(msg, "body", PL_NS_CLIENT, &body) && body.len)
        find_in_text(body.data, body.len, who, n, max, hit, &found);
    pl_buf_deinit(&body);
    return found;
}
