/* test_fuzz_findings.c — what the fuzz targets (tests/fuzz, docs/FUZZING.md)
 * found, replayed against the real server over real sockets, so each fix
 * stays proven where a user would see it.  The minimal reproducers
 * themselves are kept in tests/fuzz/regress/ and replayed by
 * `make fuzz-smoke`. */
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw",
    NULL,
};
// clang-format on

/* fuzz_xml: a CDATA section between stanzas, left open while the session
 * went idle, let the parser sleep inside it; woken, it parsed the section's
 * text as markup, so a message written as character data was routed (and
 * the "]]>" then broke the stream). */
static void cdata_between_stanzas_survives_sleep(h_server_t *srv)
{
    h_raw_t r;
    if (!CHECK(h_raw_login(&r, srv, "alice", "alice-pw", "cdata"))) {
        h_raw_close(&r);
        return;
    }
    h_raw_sendf(&r, "<![CDATA[some text ");
    /* Idle sessions are put to sleep by the one-second housekeeping. */
    usleep(2500 * 1000);
    h_raw_sendf(&r, "<message to='alice@example.test/cdata' id='hidden'>"
                    "<body>only text</body></message>]]>"
                    "<iq type='get' id='after' to='example.test'>"
                    "<ping xmlns='urn:xmpp:ping'/></iq>");
    CHECK_MSG(h_raw_wait(&r, "id='after'", 5000), "no answer to the ping after the CDATA section");
    r.seen = 0;
    CHECK_MSG(!strstr(r.buf ? r.buf : "", "id='hidden'"),
              "text inside a CDATA section was routed as a message");
    CHECK(!strstr(r.buf ? r.buf : "", "stream:error"));
    h_raw_close(&r);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {.accounts = accounts};
    if (h_server_start(&srv, &opts) == 0)
        H_RUN(cdata_between_stanzas_survives_sleep, &srv);
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
