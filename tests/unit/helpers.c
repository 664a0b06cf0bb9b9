/* helpers.c — stanzas from strings, throw-away directories and stores, and
 * a server without loops, shared by the unit test files
 * (tests/unit/helpers.h). */
#include "tests/unit/helpers.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/module-conf.h"
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
    pl_xml_parser_free(&p);
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

pl_server_t *ut_server_new(const char *hosts, const pl_module_desc_t *const *registry, size_t n,
                           const char *dir)
{
    char *text = NULL, *err = NULL;
    /* The TLS files are never opened: nothing here starts TLS. */
    ck_assert_int_ge(asprintf(&text,
                              "tls = { cert = \"unused.pem\"; key = \"unused.pem\"; };\n"
                              "listen = ( { type = \"c2s\"; port = 0; } );\n"
                              "log = { level = \"error\"; };\n"
                              "%s\n",
                              hosts),
                     0);
    pl_config_t *c = pl_config_load_string_modules(text, "unit.cfg", registry, n, &err);
    ck_assert_msg(c != NULL, "the test configuration does not load:\n%s\n%s", err, text);
    free(text);
    pl_server_t *srv = pl_server_new(c, registry, n);
    if (dir)
        srv->storage = ut_storage_open(dir);
    ck_assert_msg(pl_hosts_create(srv, &err) == 0, "hosts: %s", err);
    return srv;
}

void ut_server_free(pl_server_t **srv)
{
    if (!*srv)
        return;
    pl_hosts_stop(*srv);
    pl_server_free(srv);
}
