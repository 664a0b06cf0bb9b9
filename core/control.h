/* control.h — the local control socket parleyctl talks to: a Unix socket
 * (mode 0600, in the data directory by default) on loop 0.  A request is
 * the command's words, each NUL-terminated, then one more NUL; the answer
 * is "ok\n" or "error: ...\n" followed by any output, then the server
 * closes the connection.  The commands, with their argument counts, are
 * those of control-commands.h that a server runs; the future HTTP admin
 * API maps onto the same table. */
#ifndef PL_CONTROL_H
#define PL_CONTROL_H

typedef struct pl_server pl_server_t;

int pl_control_start(pl_server_t *srv, char **error);
void pl_control_stop(pl_server_t *srv);
/* After the loops and the storage have closed: frees what is left. */
void pl_control_free(pl_server_t *srv);

#define PL_CONTROL_MAX_REQUEST 8192

#endif
