/* control-commands.c — the table of administration commands that the
 * control socket, parleyctl and (later) the HTTP admin API share, and the
 * lookups and help text made from it.  Pure data and string work: no
 * server, no storage. */
#include "core/control-commands.h"

#include <string.h>

const pl_control_cmd_t pl_control_commands[] = {
    {
        .id = PL_CTL_USER_ADD,
        .words = {"user", "add"},
        .min_args = 1,
        .max_args = 2,
        .args = "JID [PASSWORD]",
        .help = "create an account (password read from stdin if omitted)",
        .where = PL_CTL_SERVER_OR_STORAGE,
        .password_last = 1,
    },
    {
        .id = PL_CTL_USER_DEL,
        .words = {"user", "del"},
        .min_args = 1,
        .max_args = 1,
        .args = "JID",
        .help = "delete an account and end its sessions",
        .where = PL_CTL_SERVER_OR_STORAGE,
    },
    {
        .id = PL_CTL_USER_PASSWD,
        .words = {"user", "passwd"},
        .min_args = 1,
        .max_args = 2,
        .args = "JID [PASSWORD]",
        .help = "set a new password",
        .where = PL_CTL_SERVER_OR_STORAGE,
        .password_last = 1,
    },
    {
        .id = PL_CTL_USER_LIST,
        .words = {"user", "list"},
        .min_args = 0,
        .max_args = 1,
        .args = "[DOMAIN]",
        .help = "list accounts",
        .where = PL_CTL_SERVER_OR_STORAGE,
    },
    {
        .id = PL_CTL_USER_IMPORT,
        .words = {"user", "import"},
        .min_args = 1,
        .max_args = 1,
        .args = "FILE",
        .help = "create many accounts: one 'JID PASSWORD' per line\n"
                "('-' reads stdin; existing accounts are skipped)",
        /* In batches of hundreds per write transaction, which the control
         * socket's one request, one answer does not carry. */
        .where = PL_CTL_STORAGE_ONLY,
    },
    {
        .id = PL_CTL_ONLINE,
        .words = {"online"},
        .help = "list connected sessions (server must be running)",
        .where = PL_CTL_SERVER_ONLY,
    },
    {
        .id = PL_CTL_STATS,
        .words = {"stats"},
        .help = "what peers make the server hold: connections,\n"
                "sessions, queued bytes (server must be running)",
        .where = PL_CTL_SERVER_ONLY,
    },
    {
        .id = PL_CTL_KEY_GENERATE,
        .words = {"key", "generate"},
        .min_args = 1,
        .max_args = 1,
        .args = "FILE",
        .help = "append a new random key for encryption at rest to\n"
                "FILE (created with mode 0600); it becomes the\n"
                "current key once the server loads the file",
        .where = PL_CTL_LOCAL,
    },
    {.id = 0},
};

const pl_control_cmd_t *pl_control_find(char *const *words, size_t n, size_t *nargs)
{
    for (const pl_control_cmd_t *cmd = pl_control_commands; cmd->id; cmd++) {
        size_t k = cmd->words[1] ? 2 : 1;
        if (n < k || strcmp(words[0], cmd->words[0]) != 0 ||
            (k == 2 && strcmp(words[1], cmd->words[1]) != 0))
            continue;
        *nargs = n - k;
        return cmd;
    }
    return NULL;
}

int pl_control_args_ok(const pl_control_cmd_t *cmd, size_t nargs)
{
    return nargs >= cmd->min_args && nargs <= cmd->max_args;
}

void pl_control_synopsis(const pl_control_cmd_t *cmd, pl_buf_t *out)
{
    pl_buf_puts(out, cmd->words[0]);
    if (cmd->words[1])
        pl_buf_printf(out, " %s", cmd->words[1]);
    if (cmd->args)
        pl_buf_printf(out, " %s", cmd->args);
}

/* The synopsis column's width: the longest today ("user passwd JID
 * [PASSWORD]") and two spaces before the text. */
#define HELP_NAME_WIDTH 26

void pl_control_help(pl_buf_t *out)
{
    pl_buf_t name;
    pl_buf_init(&name);
    for (const pl_control_cmd_t *cmd = pl_control_commands; cmd->id; cmd++) {
        pl_buf_reset(&name);
        pl_control_synopsis(cmd, &name);
        const char *line = cmd->help;
        const char *first = pl_buf_cstr(&name);
        for (;;) {
            size_t len = strcspn(line, "\n");
            pl_buf_printf(out, "  %-*s  %.*s\n", HELP_NAME_WIDTH, first, (int)len, line);
            if (!line[len])
                break;
            line += len + 1;
            first = "";
        }
    }
    pl_buf_deinit(&name);
}
