/* fuzz_c2s_session.c — libFuzzer target for a logged-in client stream on
 * the in-process server (server-harness.h): the input arrives after a
 * PLAIN login and resource binding, as stanzas and nonzas — messages,
 * presence and IQs for every module, stream management (<enable/>, <r/>,
 * <a/>, and <resume/> from a new connection with @SMID@), client state
 * indication — and may open more connections (a second resource, the peer
 * account) to talk to.
 *
 * Input: a script (server-harness.h) whose first connection is
 * fuzz@fuzz.test/fuzz1, logged in and bound. */
#include <stdint.h>

#include "tests/fuzz/server-harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run('l', data, size);
    return 0;
}
