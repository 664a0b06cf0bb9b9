/* server-harness.h — a real server in the fuzzing process, for the targets
 * that speak to it as a peer would (client streams, components, the control
 * socket).  The server is started once, from a configuration string, with a
 * temporary data directory and two accounts; each input then runs as a
 * script of connections over socketpairs, and ends with every connection
 * closed and every session freed.
 *
 * A script is bytes to send to the current connection, cut by commands: the
 * byte 0xff followed by a command letter (0xff never occurs in UTF-8, so it
 * takes nothing from the XML a client sends; NUL stays available for the
 * control protocol).  Before each command the server runs until it is quiet
 * (nothing left to read, write, commit or compute).
 *   n   a new client connection (raw: the script writes the stream)
 *   l   a new client connection, logged in (SCRAM) as fuzz@fuzz.test and
 *       bound to resource fuzzN
 *   a   the same, authenticated but not bound (to resume an SM session)
 *   p   a new client connection logged in and bound as peer@fuzz.test
 *   k   a new component connection (raw)
 *   h   the right <handshake/> for the current component connection
 *   C   a new control-socket connection (parleyctl's protocol)
 *   c   close the current connection (the peer vanishes: EOF)
 *   s   put the current session to sleep, as after a second of silence
 *   t   the current session's timer fires as after the idle timeout (login
 *       timeout, or a ping, then the ping timeout)
 *   x   detached stream-management sessions reach their resume timeout
 *   w   only wait
 *   0-7 make connection N the current one
 * Other bytes after 0xff are sent as they are.  In the bytes sent,
 * "@SMID@" becomes the last stream-management id the server gave, "@TOKEN@"
 * the last FAST token, and "@HT@" the base64 HT-SHA-256-NONE initial
 * response of fuzz@fuzz.test for that token.
 *
 * Checked for every input: what the server writes on each client and
 * component stream parses as XML (segment by segment, a segment being what
 * follows each of its stream headers); each control answer starts with
 * "ok\n" or "error: "; and once all connections are closed no session is
 * left (not in the loop, the session table, the resumable map).
 *
 * PARLEY_FUZZ_TRACE=1 prints what each connection received, to see what a
 * seed or a finding does. */
#ifndef PL_FUZZ_SERVER_HARNESS_H
#define PL_FUZZ_SERVER_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#define FZ_DOMAIN "fuzz.test"
#define FZ_COMPONENT "bot.fuzz.test"
#define FZ_COMPONENT_SECRET "fuzz-secret"

/* Runs one input: `first` is the command that opens the first connection
 * ('n', 'l', 'k', 'C', ...), then `data` is played as a script. */
void fz_run(char first, const uint8_t *data, size_t size);

#endif
