/* fuzz_component.c — libFuzzer target for XEP-0114 component streams on the
 * in-process server (server-harness.h): the jabber:component:accept header,
 * the <handshake/> (0xff 'h' in the script sends the right one, so what
 * follows reaches routing), then stanzas to and from users, who may be
 * logged in on other connections of the same script.
 *
 * Input: a script (server-harness.h) whose first connection is a raw
 * component connection. */
#include <stdint.h>

#include "tests/fuzz/server-harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run('k', data, size);
    return 0;
}
