/* fuzz_mention.c — libFuzzer target for the group mention parser
 * (modules/muc/mention.c, GRP-7): who a room message mentions, from its
 * XEP-0372 references and the "@name" forms in its body.  Both come from
 * any occupant, so the parser must stay inside its bounds whatever the
 * names and the message are.  Checked: the count is at most the cap and
 * the number of candidates, it is the number of hits marked, every mark is
 * 0 or 1, and the same input gives the same answer.
 *
 * Input: one byte (low nibble: how many candidates, at most 15; high
 * nibble: the cap), then one line per candidate, "bare<TAB>nick" (no tab:
 * a member who is not joined, no nick), then the content of a client
 * stream whose message stanzas are looked at. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"
#include "tests/fuzz/helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_WHO = 15 };

typedef struct input {
    muc_mention_who_t who[MAX_WHO];
    size_t n, max;
} input_t;

static void on_stanza(void *ud, const pl_stanza_t *st)
{
    const input_t *in = ud;
    const pl_xml_t *root = pl_stanza_root(st);
    if (strcmp(root->name, "message") != 0)
        return;
    unsigned char hit[MAX_WHO], again[MAX_WHO];
    memset(hit, 0xee, sizeof(hit));
    size_t found = muc_mentions_find(root, "room@groups.example.test", in->who, in->n, in->max, hit);
    size_t marked = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (hit[i] > 1)
            pl_die("mention: hit[%zu] = %u", i, hit[i]);
        marked += hit[i];
    }
    if (found > in->max || found > in->n || found != marked)
        pl_die("mention: found %zu, marked %zu, cap %zu, candidates %zu", found, marked, in->max,
               in->n);
    if (muc_mentions_find(root, "room@groups.example.test", in->who, in->n, in->max, again) !=
            found ||
        memcmp(hit, again, in->n) != 0)
        pl_die("mention: the same message gave another answer");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    input_t in = {.max = data[0] >> 4};
    size_t want = data[0] & 0x0f, pos = 1;
    /* Copies of the lines, so each name ends with a NUL. */
    char *lines[MAX_WHO] = {0};
    while (in.n < want && pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
        char *line = pl_xmalloc(len + 1);
        memcpy(line, data + pos, len);
        line[len] = '\0';
        lines[in.n] = line;
        char *tab = strchr(line, '\t');
        if (tab)
            *tab = '\0';
        in.who[in.n++] = (muc_mention_who_t){.bare = line, .nick = tab ? tab + 1 : NULL};
        pos += len + (nl ? 1 : 0);
    }
    fuzz_each_stanza(data + pos, size - pos, on_stanza, &in);
    for (size_t i = 0; i < in.n; i++)
        free(lines[i]);
    return 0;
}
