/* fuzz_jid.c — libFuzzer target for JID parsing and normalisation
 * (xmpp/jid.c, RFC 7622): every address in every stanza, SASL username
 * and control request goes through it.  A JID that parses must be stable
 * (its normalised form parses to itself), its parts must respect the
 * bounds and characters jid.h promises and add up to bare and full, and
 * building it from its parts must give the same JID.
 *
 * Input: a JID (up to the first NUL). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "xmpp/jid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_part(const char *what, const char *p, const char *forbidden)
{
    size_t n = strlen(p);
    if (n == 0 || n > PL_JID_PART_MAX)
        pl_die("jid: %s of %zu bytes", what, n);
    for (const unsigned char *c = (const unsigned char *)p; *c; c++)
        if (*c < 0x20 || *c == 0x7f || (forbidden && strchr(forbidden, *c)))
            pl_die("jid: %s holds byte 0x%02x", what, *c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = pl_xstrndup((const char *)data, size);
    pl_jid_t j;
    if (pl_jid_parse(&j, s) != 0) {
        if (j.local || j.domain || j.resource || j.bare || j.full)
            pl_die("jid: refused but not left zeroed");
        free(s);
        return 0;
    }
    check_part("domain", j.domain, "@/ ");
    if (j.local)
        check_part("local", j.local, "\"&'/:<>@ ");
    if (j.resource)
        check_part("resource", j.resource, NULL);
    /* bare and full are the parts put together. */
    char buf[3 * PL_JID_PART_MAX + 8];
    snprintf(buf, sizeof(buf), "%s%s%s", j.local ? j.local : "", j.local ? "@" : "", j.domain);
    if (strcmp(buf, j.bare) != 0)
        pl_die("jid: bare %s is not %s", j.bare, buf);
    snprintf(buf, sizeof(buf), "%s%s%s", j.bare, j.resource ? "/" : "",
             j.resource ? j.resource : "");
    if (strcmp(buf, j.full) != 0)
        pl_die("jid: full %s is not %s", j.full, buf);
    /* Normalised is a fixed point, and the parts rebuild it. */
    pl_jid_t again, parts, copy;
    if (pl_jid_parse(&again, j.full) != 0 || strcmp(again.full, j.full) != 0 ||
        !pl_jid_equal(&again, &j) || !pl_jid_bare_equal(&again, &j))
        pl_die("jid: %s does not parse to itself", j.full);
    if (pl_jid_from_parts(&parts, j.local, j.domain, j.resource) != 0 ||
        strcmp(parts.full, j.full) != 0)
        pl_die("jid: %s cannot be built from its parts", j.full);
    if (pl_jid_dup(&copy, &j) != 0 || strcmp(copy.full, j.full) != 0)
        pl_die("jid: the copy of %s differs", j.full);
    char *nl = j.local ? pl_jid_norm_local(j.local, strlen(j.local)) : NULL;
    char *nd = pl_jid_norm_domain(j.domain, strlen(j.domain));
    if ((j.local && (!nl || strcmp(nl, j.local) != 0)) || !nd || strcmp(nd, j.domain) != 0)
        pl_die("jid: normalising the parts of %s again changes them", j.full);
    free(nl);
    free(nd);
    pl_jid_deinit(&copy);
    pl_jid_deinit(&parts);
    pl_jid_deinit(&again);
    pl_jid_deinit(&j);
    free(s);
    return 0;
}
