/* parleyctl.c — the operator's command line: accounts, who is online, and
 * keys for encryption at rest.  It talks to the running server over its
 * control socket; when no server is running, account commands open the
 * storage directly.  Key commands only touch the key file.  The commands,
 * their arguments, their help and where each runs come from the table in
 * core/control-commands.c, which the server's control socket shares. */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "config/config.h"
#include "core/accounts-admin.h"
#include "core/control-commands.h"
#include "core/control.h"
#include "core/module-conf.h"
#include "lib/util.h"
#include "modules/registry.h"
#include "storage/seal.h"
#include "storage/storage.h"

/* The help: every command of the shared table (control-commands.c). */
static void usage(FILE *f)
{
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_puts(&b, "usage: parleyctl [-c FILE] COMMAND\n");
    pl_control_help(&b);
    fputs(pl_buf_cstr(&b), f);
    pl_buf_deinit(&b);
}

/* Reads a password from stdin: without echo on a terminal, else one line. */
static char *read_password(void)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fputs("Password: ", stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (n <= 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

/* Sends the words to the control socket and prints the answer.  Returns
 * the exit code, or -1 when no server is listening. */
static int via_server(const char *path, char **words, size_t n)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        close(fd);
        return -1;
    }
    strcpy(addr.sun_path, path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        close(fd);
        return -1;
    }
    pl_buf_t req;
    pl_buf_init(&req);
    for (size_t i = 0; i < n; i++)
        pl_buf_append(&req, words[i], strlen(words[i]) + 1);
    pl_buf_append(&req, "", 1);
    if (n == 0)
        pl_buf_append(&req, "", 1);
    ssize_t w = write(fd, req.data, req.len);
    pl_buf_deinit(&req);
    if (w < 0) {
        close(fd);
        return -1;
    }
    pl_buf_t ans;
    pl_buf_init(&ans);
    char buf[4096];
    ssize_t r;
    while ((r = read(fd, buf, sizeof(buf))) > 0)
        pl_buf_append(&ans, buf, (size_t)r);
    close(fd);
    const char *text = pl_buf_cstr(&ans);
    int rc;
    if (strncmp(text, "ok\n", 3) == 0) {
        fputs(text + 3, stdout);
        rc = 0;
    } else {
        /* The server stopped (or crashed) while working on the request: a
         * change may or may not have been made, and the admin must know. */
        fprintf(stderr, "parleyctl: %s",
                text[0] ? text
                        : "no answer from server (did it stop?); the change may or may not have "
                          "been made: check with 'parleyctl user list'\n");
        rc = 1;
    }
    pl_buf_deinit(&ans);
    return rc;
}

static int print_account(void *ud, const pl_account_t *acc)
{
    (void)ud;
    printf("%s%s\n", acc->jid, (acc->flags & PL_ACCOUNT_DISABLED) ? " (disabled)" : "");
    return 0;
}

/* The SCRAM iteration count of the host an account JID belongs to. */
static uint32_t iterations_for(const pl_config_t *c, const char *jid)
{
    const char *at = strrchr(jid, '@');
    const char *domain = at ? at + 1 : jid;
    for (size_t i = 0; i < c->nhosts; i++)
        if (strcasecmp(domain, c->hosts[i].name) == 0)
            return (uint32_t)c->hosts[i].scram_iterations;
    return 10000;
}

/* One write transaction's worth of accounts for `user import`. */
typedef struct import_batch {
    pl_admin_job_t jobs[500];
    size_t n;
    size_t added, existing;
    const char *failed; /* the storage error that ended the batch, if any */
} import_batch_t;

static int import_run(pl_wtxn_t *txn, void *ud)
{
    import_batch_t *b = ud;
    for (size_t i = 0; i < b->n; i++) {
        if (pl_admin_job_run(txn, &b->jobs[i]) == 0) {
            b->added++;
        } else if (strstr(b->jobs[i].error, "already exists")) {
            b->existing++;
        } else {
            b->failed = b->jobs[i].error;
            return -1;
        }
    }
    return 0;
}

static int import_flush(pl_storage_t *st, import_batch_t *b, size_t *added, size_t *existing)
{
    b->added = b->existing = 0;
    b->failed = NULL;
    int rc = b->n ? pl_storage_write_sync(st, import_run, b) : 0;
    if (rc != 0)
        fprintf(stderr, "parleyctl: import stopped: %s (the last %zu accounts were not written)\n",
                b->failed ? b->failed : "storage failure", b->n);
    else {
        *added += b->added;
        *existing += b->existing;
    }
    for (size_t i = 0; i < b->n; i++)
        pl_admin_job_deinit(&b->jobs[i]);
    b->n = 0;
    return rc;
}

/* `user import FILE`: accounts in batches of a few hundred per write
 * transaction, so tens of thousands take seconds rather than one commit
 * each.  The storage is opened directly (LMDB and SQLite both allow a
 * second process), so this works whether or not the server is running. */
static int import_accounts(const pl_config_t *c, pl_storage_t *st, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "parleyctl: cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    const char **hosts = pl_xcalloc(c->nhosts ? c->nhosts : 1, sizeof(char *));
    for (size_t i = 0; i < c->nhosts; i++)
        hosts[i] = c->hosts[i].name;
    import_batch_t *b = pl_xcalloc(1, sizeof(*b));
    size_t added = 0, existing = 0, bad = 0, lineno = 0;
    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        lineno++;
        char *save = NULL;
        char *jid = strtok_r(line, " \t\r\n", &save);
        if (!jid || jid[0] == '#')
            continue;
        char *password = strtok_r(NULL, "\r\n", &save);
        while (password && (*password == ' ' || *password == '\t'))
            password++;
        pl_admin_job_t *job = &b->jobs[b->n];
        if (pl_admin_job_init(job, PL_ADMIN_ADD, jid, password, iterations_for(c, jid), hosts,
                              c->nhosts) != 0) {
            fprintf(stderr, "parleyctl: %s line %zu: %s\n", path, lineno, job->error);
            pl_admin_job_deinit(job);
            bad++;
            continue;
        }
        if (++b->n == sizeof(b->jobs) / sizeof(b->jobs[0]))
            rc = import_flush(st, b, &added, &existing);
    }
    if (rc == 0)
        rc = import_flush(st, b, &added, &existing);
    if (line) {
        OPENSSL_cleanse(line, cap);
        free(line);
    }
    if (f != stdin)
        fclose(f);
    free(b);
    free(hosts);
    printf("%zu added, %zu already existed, %zu rejected\n", added, existing, bad);
    return rc != 0 || bad ? 1 : 0;
}

/* `key generate FILE`: needs neither the configuration nor the server, so
 * a key file can be made before the first start. */
static int key_generate(char **args, size_t nargs)
{
    const char *path = args[0];
    uint32_t id = 0;
    char *error = NULL;
    if (pl_seal_generate(path, &id, &error) != 0) {
        fprintf(stderr, "parleyctl: %s\n", error ? error : "cannot write the key file");
        free(error);
        return 1;
    }
    printf("%s: key %u added (the current key once the server loads the file)\n", path, id);
    return 0;
}

/* `user add|del|passwd JID [PASSWORD]` on the storage. */
static int account_change(const pl_config_t *c, pl_storage_t *st, const pl_control_cmd_t *cmd,
                          char **args, size_t nargs)
{
    static const struct {
        pl_admin_op_t op;
        const char *done;
    } ops[PL_CTL__COUNT] = {
        [PL_CTL_USER_ADD] = {.op = PL_ADMIN_ADD, .done = "added"},
        [PL_CTL_USER_DEL] = {.op = PL_ADMIN_DEL, .done = "deleted"},
        [PL_CTL_USER_PASSWD] = {.op = PL_ADMIN_PASSWD, .done = "password changed"},
    };
    const char **hosts = pl_xcalloc(c->nhosts ? c->nhosts : 1, sizeof(char *));
    uint32_t iterations = iterations_for(c, args[0]);
    for (size_t i = 0; i < c->nhosts; i++)
        hosts[i] = c->hosts[i].name;
    pl_admin_job_t job;
    int bad = pl_admin_job_init(&job, ops[cmd->id].op, args[0], nargs > 1 ? args[1] : NULL,
                                iterations, hosts, c->nhosts);
    job.modules = pl_module_registry;
    job.nmodules = pl_module_registry_size;
    int rc = 0;
    if (bad != 0 || pl_storage_write_sync(st, pl_admin_job_run, &job) != 0) {
        fprintf(stderr, "parleyctl: %s\n", job.error[0] ? job.error : "storage failure");
        rc = 1;
    } else {
        printf("%s: %s\n", job.bare, ops[cmd->id].done);
    }
    pl_admin_job_deinit(&job);
    free(hosts);
    return rc;
}

static int account_list(const pl_config_t *c, pl_storage_t *st, const pl_control_cmd_t *cmd,
                        char **args, size_t nargs)
{
    pl_accounts_list(st, nargs ? args[0] : NULL, print_account, NULL);
    return 0;
}

static int account_import(const pl_config_t *c, pl_storage_t *st, const pl_control_cmd_t *cmd,
                          char **args, size_t nargs)
{
    return import_accounts(c, st, args[0]);
}

/* What parleyctl does itself (the shared table, control-commands.c, says
 * when): a command on the storage when no server answers it, or always for
 * import; a local one without configuration.  Each gets the arguments
 * after the command's name, as many as the table allows. */
typedef int (*on_storage_fn)(const pl_config_t *c, pl_storage_t *st, const pl_control_cmd_t *cmd,
                             char **args, size_t nargs);
static const struct {
    on_storage_fn on_storage;
    int (*local)(char **args, size_t nargs);
} commands[PL_CTL__COUNT] = {
    [PL_CTL_USER_ADD] = {.on_storage = account_change},
    [PL_CTL_USER_DEL] = {.on_storage = account_change},
    [PL_CTL_USER_PASSWD] = {.on_storage = account_change},
    [PL_CTL_USER_LIST] = {.on_storage = account_list},
    [PL_CTL_USER_IMPORT] = {.on_storage = account_import},
    [PL_CTL_KEY_GENERATE] = {.local = key_generate},
};

/* The command against the storage, for when the server is down. */
static int direct(const pl_config_t *c, const pl_control_cmd_t *cmd, char **args, size_t nargs)
{
    pl_storage_t *st = NULL;
    char *error = NULL;
    pl_storage_opts_t so = {.dir = c->data_dir, .lmdb_map_size = (size_t)c->lmdb_map_size};
    if (pl_storage_open(&st, &so, &error) != 0) {
        fprintf(stderr, "parleyctl: %s\n", error ? error : "cannot open storage");
        free(error);
        return 1;
    }
    int rc = commands[cmd->id].on_storage(c, st, cmd, args, nargs);
    pl_storage_close(&st);
    return rc;
}

int main(int argc, char **argv)
{
    /* parleyctl opens the storage itself when no server runs, and may be
     * the first to create the data directory and its databases: owner only,
     * as parleyd makes them. */
    umask(077);
    const char *config_path = NULL;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
        config_path = argv[i + 1];
        i += 2;
    }
    char **words = argv + i;
    size_t n = (size_t)(argc - i);
    if (n == 0 || strcmp(words[0], "-h") == 0 || strcmp(words[0], "--help") == 0) {
        usage(n == 0 ? stderr : stdout);
        return n == 0 ? 2 : 0;
    }
    size_t nargs = 0;
    const pl_control_cmd_t *cmd = pl_control_find(words, n, &nargs);
    if (!cmd || !pl_control_args_ok(cmd, nargs)) {
        usage(stderr);
        return 2;
    }
    size_t nname = n - nargs; /* the words of the command's name */
    if (cmd->where == PL_CTL_LOCAL)
        return commands[cmd->id].local(words + nname, nargs);
    char *error = NULL;
    pl_config_t *c =
        pl_config_load_modules(config_path, pl_module_registry, pl_module_registry_size, &error);
    if (!c) {
        fprintf(stderr, "%s\n", error ? error : "parleyctl: invalid configuration");
        free(error);
        return 1;
    }
    /* A password left off the command line comes from stdin, so it does not
     * show up in the process list or shell history. */
    char *typed = NULL;
    char **full = NULL;
    if (cmd->password_last && nargs < cmd->max_args) {
        typed = read_password();
        if (!typed || !*typed) {
            fprintf(stderr, "parleyctl: no password given\n");
            free(typed);
            pl_config_free(&c);
            return 1;
        }
        full = pl_xcalloc(n + 1, sizeof(char *));
        memcpy(full, words, n * sizeof(char *));
        full[n++] = typed;
        nargs++;
        words = full;
    }
    int rc = cmd->where == PL_CTL_STORAGE_ONLY ? -1 : via_server(c->control_socket, words, n);
    if (rc < 0) {
        if (cmd->where == PL_CTL_SERVER_ONLY) {
            fprintf(stderr, "parleyctl: the server is not running (no control socket at %s)\n",
                    c->control_socket);
            rc = 1;
        } else {
            rc = direct(c, cmd, words + nname, nargs);
        }
    }
    if (typed) {
        memset(typed, 0, strlen(typed));
        free(typed);
    }
    free(full);
    pl_config_free(&c);
    return rc;
}
