/* control-commands.h — the administration commands, described once: each
 * command's name (one or two words), how many arguments follow it, its
 * synopsis and help text, and where it runs.  The control socket
 * (control.c) serves the ones a running server answers, parleyctl checks
 * its arguments and writes its help from the same table, and the HTTP
 * admin API is to map its routes onto it. */
#ifndef PL_CONTROL_COMMANDS_H
#define PL_CONTROL_COMMANDS_H

#include <stddef.h>

#include "lib/buf.h"

typedef enum pl_control_cmd_id {
    PL_CTL_USER_ADD = 1,
    PL_CTL_USER_DEL,
    PL_CTL_USER_PASSWD,
    PL_CTL_USER_LIST,
    PL_CTL_USER_IMPORT,
    PL_CTL_ONLINE,
    PL_CTL_STATS,
    PL_CTL_KEY_GENERATE,
    PL_CTL__COUNT
} pl_control_cmd_id_t;

/* Where a command runs. */
typedef enum pl_control_where {
    /* The running server, over the control socket; when none runs,
     * parleyctl does it on the storage itself. */
    PL_CTL_SERVER_OR_STORAGE = 1,
    /* Only a running server can answer (what its connections hold). */
    PL_CTL_SERVER_ONLY,
    /* parleyctl on the storage, whether or not a server runs. */
    PL_CTL_STORAGE_ONLY,
    /* parleyctl alone: needs neither the configuration nor a server. */
    PL_CTL_LOCAL,
} pl_control_where_t;

typedef struct pl_control_cmd {
    pl_control_cmd_id_t id;
    const char *words[2];      /* the name: {"online"} or {"user", "add"} */
    size_t min_args, max_args; /* arguments after the name */
    const char *args;          /* their synopsis, "JID [PASSWORD]", or NULL */
    const char *help;          /* what it does; '\n' starts a continuation line */
    pl_control_where_t where;
    /* The last argument is a password: when it is left out, parleyctl
     * reads it from stdin (so it shows in no process list or history). */
    int password_last;
} pl_control_cmd_t;

/* Every command, in the order the help lists them, then an entry with id 0. */
extern const pl_control_cmd_t pl_control_commands[];

/* The command the first words of `words` name, with *nargs set to the
 * number of words after its name; NULL when no command has that name.  The
 * count is checked separately (pl_control_args_ok), so a caller can tell
 * an unknown command from a misused one. */
const pl_control_cmd_t *pl_control_find(char *const *words, size_t n, size_t *nargs);
/* 1 when `nargs` arguments are what the command takes. */
int pl_control_args_ok(const pl_control_cmd_t *cmd, size_t nargs);
/* Appends "user add JID [PASSWORD]": the name and the arguments' synopsis. */
void pl_control_synopsis(const pl_control_cmd_t *cmd, pl_buf_t *out);
/* Appends one block of help lines per command, synopsis and text in two
 * columns ("  user del JID                delete an account ..."). */
void pl_control_help(pl_buf_t *out);

#endif
