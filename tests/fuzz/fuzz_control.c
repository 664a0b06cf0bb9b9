/* fuzz_control.c — libFuzzer target for the control socket (core/control.c)
 * on the in-process server (server-harness.h): request framing (words, each
 * NUL-terminated, then an empty one), argument parsing and the commands
 * themselves — user add/del/passwd/list, online — with their storage writes,
 * and deletion of accounts whose sessions are online when the script logs
 * them in first.  Every answer must be "ok\n..." or "error: ...".
 *
 * Input: a script (server-harness.h) whose first connection is a control
 * connection; 0xff 'C' opens another. */
#include <stdint.h>

#include "tests/fuzz/server-harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run('C', data, size);
    return 0;
}
