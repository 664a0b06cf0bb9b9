/* helpers.c — stanzas from strings and throw-away directories and stores,
 * shared by the unit test files (tests/unit/helpers.h). */
#include "tests/unit/helpers.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmpp/xml.h"

static void keep_stanza(void *ud, pl_stanza_t *s)
{
    pl_stanza_t **out = ud;
    pl_stanza_unref(out);
    *out = pl_stanza_ref(s);
}

pl_stanza_t *ut_parse(const char *xml)
{
    static const pl_xml_callbacks_t cb = {.stanza = keep_stanza};
    pl_stanza_t *s = NULL;
    pl_xml_parser_t *p = pl_xml_parser_new(NULL, &cb, &s);
    const char *hdr = "<stream:stream xmlns='jabber:client' "
                      "xmlns:stream='http://etherx.jabber.org/streams'>";
    ck_assert_int_eq(pl_xml_parser_feed(p, hdr, strlen(hdr)), 0);
    ck_assert_int_eq(pl_xml_parser_feed(p, xml, strlen(xml)), 0);
    pl_xml_parser_free(p);
    ck_assert_ptr_nonnull(s);
    return s;
}

void ut_tmpdir_new(char *dir, const char *what)
{
    ck_assert_int_lt(snprintf(dir, 64, "/tmp/pl-%s-XXXXXX", what), 64);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

void ut_tmpdir_free(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

pl_storage_t *ut_storage_open(const char *dir)
{
    pl_storage_opts_t o = {.dir = dir, .threaded = 0};
    char *err = NULL;
    pl_storage_t *st = NULL;
    int rc = pl_storage_open(&st, &o, &err);
    ck_assert_msg(rc == 0, "open %s: %d %s", dir, rc, err ? err : "(no message)");
    return st;
}
