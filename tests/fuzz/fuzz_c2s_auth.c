/* fuzz_c2s_auth.c — libFuzzer target for a client stream before and during
 * login, on the in-process server (server-harness.h): stream headers,
 * features, SASL (SCRAM, PLAIN), SASL2 <authenticate/> with its inline
 * children (user-agent, bind2, SM resume, FAST request-token and <fast/>),
 * FAST logins (@HT@ fills in a valid HT-SHA-256-NONE response), aborts and
 * restarts, over as many connections as the script opens.
 *
 * Input: a script (server-harness.h) whose first connection is a raw
 * client connection: the bytes start with the client's stream header. */
#include <stdint.h>

#include "tests/fuzz/server-harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run('n', data, size);
    return 0;
}
