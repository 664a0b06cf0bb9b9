/* test_control.c — the table of administration commands that the control
 * socket and parleyctl share: which words name which command, how many
 * arguments each takes, and the help parleyctl prints from it. */
#include <check.h>
#include <string.h>

#include "core/control-commands.h"
#include "tests/unit/suites.h"

/* Looks `line` up as a command line split at spaces; NULL when no command
 * has that name, and *nargs the words after the name. */
static const pl_control_cmd_t *find(const char *line, size_t *nargs)
{
    char copy[256] = "";
    char *words[16];
    size_t n = 0;
    strncpy(copy, line, sizeof(copy) - 1);
    for (char *save = NULL, *w = strtok_r(copy, " ", &save); w && n < 16;
         w = strtok_r(NULL, " ", &save))
        words[n++] = w;
    return pl_control_find(words, n, nargs);
}

/* 1 when `line` names a command and gives it an argument count it takes. */
static int accepted(const char *line)
{
    size_t nargs = 0;
    const pl_control_cmd_t *cmd = find(line, &nargs);
    return cmd && pl_control_args_ok(cmd, nargs);
}

START_TEST(each_command_is_named_by_its_words_and_the_rest_are_arguments)
{
    size_t nargs = 99;
    const pl_control_cmd_t *cmd = find("user add alice@demo.local secret", &nargs);
    ck_assert_ptr_nonnull(cmd);
    ck_assert_int_eq(cmd->id, PL_CTL_USER_ADD);
    ck_assert_uint_eq(nargs, 2);
    cmd = find("online", &nargs);
    ck_assert_ptr_nonnull(cmd);
    ck_assert_int_eq(cmd->id, PL_CTL_ONLINE);
    ck_assert_uint_eq(nargs, 0);
    cmd = find("key generate k.key", &nargs);
    ck_assert_ptr_nonnull(cmd);
    ck_assert_int_eq(cmd->id, PL_CTL_KEY_GENERATE);
    ck_assert_uint_eq(nargs, 1);
    ck_assert_ptr_null(find("user", &nargs));
    ck_assert_ptr_null(find("user frobnicate", &nargs));
    ck_assert_ptr_null(find("key", &nargs));
    ck_assert_ptr_null(find("", &nargs));
    ck_assert_ptr_null(find("User add a@demo.local pw", &nargs)); /* words are exact */
}
END_TEST

/* The argument counts parleyctl has always checked, now read from the
 * table by parleyctl and by the server alike. */
START_TEST(argument_counts_are_those_parleyctl_has_always_taken)
{
    ck_assert(!accepted("user add"));
    ck_assert(accepted("user add a@demo.local"));
    ck_assert(accepted("user add a@demo.local pw"));
    ck_assert(!accepted("user add a@demo.local pw extra"));
    ck_assert(!accepted("user del"));
    ck_assert(accepted("user del a@demo.local"));
    ck_assert(!accepted("user del a@demo.local extra"));
    ck_assert(accepted("user passwd a@demo.local"));
    ck_assert(accepted("user passwd a@demo.local pw"));
    ck_assert(!accepted("user passwd a@demo.local pw extra"));
    ck_assert(accepted("user list"));
    ck_assert(accepted("user list demo.local"));
    ck_assert(!accepted("user list demo.local extra"));
    ck_assert(!accepted("user import"));
    ck_assert(accepted("user import users.txt"));
    ck_assert(!accepted("user import users.txt extra"));
    ck_assert(accepted("online"));
    ck_assert(!accepted("online extra"));
    ck_assert(accepted("stats"));
    ck_assert(!accepted("stats extra"));
    ck_assert(!accepted("key generate"));
    ck_assert(accepted("key generate k.key"));
    ck_assert(!accepted("key generate k.key extra"));
}
END_TEST

/* Where each command runs decides what parleyctl does without a server
 * and what the server serves: a password left out is read from stdin. */
START_TEST(where_each_command_runs)
{
    size_t nargs;
    ck_assert_int_eq(find("user add a", &nargs)->where, PL_CTL_SERVER_OR_STORAGE);
    ck_assert_int_eq(find("user del a", &nargs)->where, PL_CTL_SERVER_OR_STORAGE);
    ck_assert_int_eq(find("user passwd a", &nargs)->where, PL_CTL_SERVER_OR_STORAGE);
    ck_assert_int_eq(find("user list", &nargs)->where, PL_CTL_SERVER_OR_STORAGE);
    ck_assert_int_eq(find("user import f", &nargs)->where, PL_CTL_STORAGE_ONLY);
    ck_assert_int_eq(find("online", &nargs)->where, PL_CTL_SERVER_ONLY);
    ck_assert_int_eq(find("stats", &nargs)->where, PL_CTL_SERVER_ONLY);
    ck_assert_int_eq(find("key generate f", &nargs)->where, PL_CTL_LOCAL);
    ck_assert(find("user add a", &nargs)->password_last);
    ck_assert(find("user passwd a", &nargs)->password_last);
    ck_assert(!find("user del a", &nargs)->password_last);
    /* Every id once, in the enum's range. */
    int seen[PL_CTL__COUNT] = {0};
    for (const pl_control_cmd_t *cmd = pl_control_commands; cmd->id; cmd++) {
        ck_assert(cmd->id > 0 && cmd->id < PL_CTL__COUNT);
        ck_assert_int_eq(seen[cmd->id]++, 0);
        ck_assert(cmd->min_args <= cmd->max_args);
        ck_assert(!cmd->password_last || cmd->max_args > cmd->min_args);
    }
    for (int id = 1; id < PL_CTL__COUNT; id++)
        ck_assert_msg(seen[id], "command %d is not in the table", id);
}
END_TEST

/* The help parleyctl prints, as it read before the table made it. */
START_TEST(help_lists_every_command_as_parleyctl_always_has)
{
    pl_buf_t b;
    pl_buf_init(&b);
    pl_control_help(&b);
    ck_assert_str_eq(
        pl_buf_cstr(&b),
        "  user add JID [PASSWORD]     create an account (password read from stdin if omitted)\n"
        "  user del JID                delete an account and end its sessions\n"
        "  user passwd JID [PASSWORD]  set a new password\n"
        "  user list [DOMAIN]          list accounts\n"
        "  user import FILE            create many accounts: one 'JID PASSWORD' per line\n"
        "                              ('-' reads stdin; existing accounts are skipped)\n"
        "  online                      list connected sessions (server must be running)\n"
        "  stats                       what peers make the server hold: connections,\n"
        "                              sessions, queued bytes (server must be running)\n"
        "  key generate FILE           append a new random key for encryption at rest to\n"
        "                              FILE (created with mode 0600); it becomes the\n"
        "                              current key once the server loads the file\n");
    pl_buf_reset(&b);
    size_t nargs;
    pl_control_synopsis(find("user list", &nargs), &b);
    ck_assert_str_eq(pl_buf_cstr(&b), "user list [DOMAIN]");
    pl_buf_reset(&b);
    pl_control_synopsis(find("stats", &nargs), &b);
    ck_assert_str_eq(pl_buf_cstr(&b), "stats");
    pl_buf_deinit(&b);
}
END_TEST

Suite *control_suite(void)
{
    Suite *s = suite_create("control");
    TCase *tc = tcase_create("commands");
    tcase_add_test(tc, each_command_is_named_by_its_words_and_the_rest_are_arguments);
    tcase_add_test(tc, argument_counts_are_those_parleyctl_has_always_taken);
    tcase_add_test(tc, where_each_command_runs);
    tcase_add_test(tc, help_lists_every_command_as_parleyctl_always_has);
    suite_add_tcase(s, tc);
    return s;
}
