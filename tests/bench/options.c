/* options.c — parley-bench's command line: defaults, parsing and the
 * checks that keep the rest of the program from meeting nonsense (account
 * patterns with one %d, nothing in names that would need XML escaping). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/bench/bench.h"

static const char usage_text[] =
    "usage: parley-bench [options]\n"
    "Drives many XMPP client sessions against a server and reports rates and latencies.\n"
    "\n"
    "scenario\n"
    "  --scenario NAME        login | hold | chat | presence | setup-rosters | mam | muc\n"
    "                         (default login)\n"
    "  --setup-rosters        the same as --scenario setup-rosters\n"
    "  --duration SEC         length of the measured phase (default 10)\n"
    "  --interval SEC         chat/presence/mam/muc: each account acts once per interval\n"
    "                         (default 1)\n"
    "  --neighbours K         chat: messages to K neighbours per turn (default 1)\n"
    "  --roster-size R        presence/setup-rosters: contacts per account, even (default 10)\n"
    "  --body-size BYTES      chat/muc: pad message bodies to about this many bytes\n"
    "  --to-bare              chat: address bare JIDs (default: the neighbour's full JID)\n"
    "  --page N               mam: messages asked per archive query (default 50)\n"
    "  --with-neighbour       mam: page through the conversation with the next account\n"
    "                         only (default: the whole archive)\n"
    "  --rooms R              muc: rooms (default 10)\n"
    "  --occupants K          muc: accounts in each room, at most --users (default 10);\n"
    "                         R x K above --users puts accounts in several rooms\n"
    "  --muc-service DOMAIN   muc: the rooms' service (default groups.<--domain>)\n"
    "  --room-pattern P       muc: localpart of room r, printf style (default bench%d)\n"
    "  --fast                 muc: each occupant posts again as soon as the echo of its\n"
    "                         last message is back, instead of once per --interval\n"
    "  --keep                 login: log each account in once and keep it, no cycling\n"
    "  --drain SEC            after chat/presence/mam/muc, wait at most this long for late\n"
    "                         deliveries or answers (default 5)\n"
    "\n"
    "server and accounts\n"
    "  --host ADDR            server address, IPv4 or IPv6 (default 127.0.0.1)\n"
    "  --port N               default 5222, or 5223 with --tls direct\n"
    "  --domain NAME          XMPP domain of the accounts (default localhost)\n"
    "  --tls MODE             starttls | direct | none (default starttls)\n"
    "  --sasl MECH            SCRAM-SHA-256 | SCRAM-SHA-1 | PLAIN (default SCRAM-SHA-256)\n"
    "  --user-pattern P       localpart of account n, printf style (default user%d)\n"
    "  --password-pattern P   password of account n (default pass%d)\n"
    "  --resource R           resource to bind (default bench)\n"
    "  --users N              number of accounts (default 10)\n"
    "  --first N              number of the first account (default 1)\n"
    "  --no-roster            skip the roster get after binding\n"
    "  --no-presence          skip the initial presence\n"
    "  --no-scram-cache       run PBKDF2 on every login instead of caching SCRAM keys\n"
    "  --tls-resume           resume each account's previous TLS session (a ticket),\n"
    "                         as a reconnecting phone does; default: full handshakes\n"
    "\n"
    "load shape\n"
    "  --rate N               logins started per second, 0 = as fast as --concurrency\n"
    "                         allows (default 0)\n"
    "  --concurrency N        logins in progress at once (default 200)\n"
    "  --timeout SEC          a login not done by then fails (default 30)\n"
    "  --source-addrs N       spread connections over N source addresses (default 4 for\n"
    "                         an IPv4 loopback server, else 0 = the kernel's choice)\n"
    "  --source-base ADDR     first source address (default 127.0.0.2)\n"
    "  --threads N            event loops (threads) in each process (default 1)\n"
    "  --procs N              processes, each with its share of the accounts (default 1)\n"
    "\n"
    "report\n"
    "  --server-pid PID       read the server's CPU time and memory from /proc\n"
    "  --label TEXT           copied into the JSON line\n"
    "  --quiet                no progress lines on stderr\n"
    "  --help\n"
    "\n"
    "The report ends with one line starting \"BENCH-JSON \" (see docs/BENCHMARK.md).\n";

const char *bench_scenario_name(bench_scenario_t s)
{
    switch (s) {
    case BENCH_LOGIN: return "login";
    case BENCH_HOLD: return "hold";
    case BENCH_CHAT: return "chat";
    case BENCH_PRESENCE: return "presence";
    case BENCH_SETUP_ROSTERS: return "setup-rosters";
    case BENCH_MAM: return "mam";
    case BENCH_MUC: return "muc";
    }
    return "?";
}

const char *bench_tls_name(bench_tls_t t)
{
    switch (t) {
    case BENCH_TLS_STARTTLS: return "starttls";
    case BENCH_TLS_DIRECT: return "direct";
    case BENCH_TLS_NONE: return "none";
    }
    return "?";
}

void bench_user_name(const bench_opts_t *o, uint32_t n, char *buf, size_t len)
{
    snprintf(buf, len, o->user_pattern, (int)n);
}

void bench_user_password(const bench_opts_t *o, uint32_t n, char *buf, size_t len)
{
    snprintf(buf, len, o->password_pattern, (int)n);
}

/* ---- value parsers: each prints its own complaint ---- */

static int bad(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "parley-bench: %s '%s': %s\n", opt, val, why);
    return -1;
}

static int parse_uint(const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
        char why[80];
        snprintf(why, sizeof(why), "expected a whole number from %u to %u", min, max);
        return bad(opt, s, why);
    }
    *out = (uint32_t)v;
    return 0;
}

/* Seconds: "2", "0.5", "500ms", "2s", "1m". */
static int parse_seconds(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double scale = 1;
    if (strcmp(end, "ms") == 0)
        scale = 0.001;
    else if (strcmp(end, "m") == 0)
        scale = 60;
    else if (*end && strcmp(end, "s") != 0)
        return bad(opt, s, "expected seconds, e.g. 10, 0.5, 500ms, 2m");
    if (errno || end == s || v < 0 || v > 1e7)
        return bad(opt, s, "expected seconds, e.g. 10, 0.5, 500ms, 2m");
    *out = v * scale;
    return 0;
}

/* A pattern must hold exactly one %d conversion (flags and width allowed,
 * "%%" for a percent sign) and nothing XML would need escaped. */
static int check_pattern(const char *opt, const char *p)
{
    int conversions = 0;
    for (const char *s = p; *s; s++) {
        if (strchr("<>&'\"", *s))
            return bad(opt, p, "must not contain < > & ' or \"");
        if (*s != '%')
            continue;
        if (s[1] == '%') {
            s++;
            continue;
        }
        s++;
        while (*s == '0' || *s == '-')
            s++;
        while (*s >= '0' && *s <= '9')
            s++;
        if (*s != 'd')
            return bad(opt, p, "the only conversion allowed is %d (e.g. user%d, u%05d)");
        conversions++;
    }
    if (conversions != 1)
        return bad(opt, p, "needs exactly one %d for the account number");
    return 0;
}

static int check_name(const char *opt, const char *v)
{
    if (!*v || strpbrk(v, "<>&'\"/@ "))
        return bad(opt, v, "must be non-empty, without < > & ' \" / @ or spaces");
    return 0;
}

static int set_scenario(bench_opts_t *o, const char *v)
{
    static const bench_scenario_t all[] = {BENCH_LOGIN,        BENCH_HOLD, BENCH_CHAT,
                                           BENCH_PRESENCE,     BENCH_MAM,  BENCH_MUC,
                                           BENCH_SETUP_ROSTERS};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(v, bench_scenario_name(all[i])) == 0) {
            o->scenario = all[i];
            return 0;
        }
    return bad("--scenario", v, "expected login, hold, chat, presence, setup-rosters, mam or muc");
}

static int set_address(bench_opts_t *o)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)&o->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&o->addr;
    memset(&o->addr, 0, sizeof(o->addr));
    if (inet_pton(AF_INET, o->host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)o->port);
        o->addrlen = sizeof(*a4);
        return 0;
    }
    if (inet_pton(AF_INET6, o->host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)o->port);
        o->addrlen = sizeof(*a6);
        return 0;
    }
    return bad("--host", o->host, "expected a numeric IPv4 or IPv6 address");
}

enum {
    OPT_SCENARIO = 256,
    OPT_SETUP,
    OPT_DURATION,
    OPT_INTERVAL,
    OPT_NEIGHBOURS,
    OPT_ROSTER,
    OPT_BODY,
    OPT_TO_BARE,
    OPT_PAGE,
    OPT_MAM_WITH,
    OPT_ROOMS,
    OPT_OCCUPANTS,
    OPT_MUC_SERVICE,
    OPT_ROOM_PATTERN,
    OPT_FAST,
    OPT_KEEP,
    OPT_DRAIN,
    OPT_HOST,
    OPT_PORT,
    OPT_DOMAIN,
    OPT_TLS,
    OPT_SASL,
    OPT_UPAT,
    OPT_PPAT,
    OPT_RESOURCE,
    OPT_USERS,
    OPT_FIRST,
    OPT_NO_ROSTER,
    OPT_NO_PRESENCE,
    OPT_NO_CACHE,
    OPT_TLS_RESUME,
    OPT_RATE,
    OPT_CONC,
    OPT_TIMEOUT,
    OPT_SRC_N,
    OPT_SRC_BASE,
    OPT_THREADS,
    OPT_PROCS,
    OPT_PID,
    OPT_LABEL,
    OPT_QUIET,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"scenario", required_argument, NULL, OPT_SCENARIO},
    {"setup-rosters", no_argument, NULL, OPT_SETUP},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"neighbours", required_argument, NULL, OPT_NEIGHBOURS},
    {"neighbors", required_argument, NULL, OPT_NEIGHBOURS},
    {"roster-size", required_argument, NULL, OPT_ROSTER},
    {"body-size", required_argument, NULL, OPT_BODY},
    {"to-bare", no_argument, NULL, OPT_TO_BARE},
    {"page", required_argument, NULL, OPT_PAGE},
    {"with-neighbour", no_argument, NULL, OPT_MAM_WITH},
    {"with-neighbor", no_argument, NULL, OPT_MAM_WITH},
    {"rooms", required_argument, NULL, OPT_ROOMS},
    {"occupants", required_argument, NULL, OPT_OCCUPANTS},
    {"muc-service", required_argument, NULL, OPT_MUC_SERVICE},
    {"room-pattern", required_argument, NULL, OPT_ROOM_PATTERN},
    {"fast", no_argument, NULL, OPT_FAST},
    {"keep", no_argument, NULL, OPT_KEEP},
    {"drain", required_argument, NULL, OPT_DRAIN},
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"domain", required_argument, NULL, OPT_DOMAIN},
    {"tls", required_argument, NULL, OPT_TLS},
    {"sasl", required_argument, NULL, OPT_SASL},
    {"user-pattern", required_argument, NULL, OPT_UPAT},
    {"password-pattern", required_argument, NULL, OPT_PPAT},
    {"resource", required_argument, NULL, OPT_RESOURCE},
    {"users", required_argument, NULL, OPT_USERS},
    {"first", required_argument, NULL, OPT_FIRST},
    {"no-roster", no_argument, NULL, OPT_NO_ROSTER},
    {"no-presence", no_argument, NULL, OPT_NO_PRESENCE},
    {"no-scram-cache", no_argument, NULL, OPT_NO_CACHE},
    {"tls-resume", no_argument, NULL, OPT_TLS_RESUME},
    {"rate", required_argument, NULL, OPT_RATE},
    {"concurrency", required_argument, NULL, OPT_CONC},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"source-addrs", required_argument, NULL, OPT_SRC_N},
    {"source-base", required_argument, NULL, OPT_SRC_BASE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"procs", required_argument, NULL, OPT_PROCS},
    {"server-pid", required_argument, NULL, OPT_PID},
    {"label", required_argument, NULL, OPT_LABEL},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {0},
};

static void set_defaults(bench_opts_t *o, const char *argv0)
{
    memset(o, 0, sizeof(*o));
    o->scenario = BENCH_LOGIN;
    o->host = "127.0.0.1";
    o->port = -1;
    o->domain = "localhost";
    o->tls = BENCH_TLS_STARTTLS;
    o->mech = BENCH_MECH_SCRAM_SHA_256;
    o->user_pattern = "user%d";
    o->password_pattern = "pass%d";
    o->resource = "bench";
    o->users = 10;
    o->first = 1;
    o->source_addrs = -1;
    inet_pton(AF_INET, "127.0.0.2", &o->source_base);
    o->threads = 1;
    o->procs = 1;
    o->concurrency = 200;
    o->duration_s = 10;
    o->interval_s = 1;
    o->drain_s = 5;
    o->timeout_s = 30;
    o->neighbours = 1;
    o->roster_size = 10;
    o->page = 50;
    o->rooms = 10;
    o->occupants = 10;
    o->room_pattern = "bench%d";
    o->roster_get = 1;
    o->initial_presence = 1;
    o->scram_cache = 1;
    o->label = "";
    o->argv0 = argv0;
}

/* One option; 0 ok, -1 bad value. */
static int apply(bench_opts_t *o, int opt, const char *v)
{
    uint32_t u;
    switch (opt) {
    case OPT_SCENARIO: return set_scenario(o, v);
    case OPT_SETUP: o->scenario = BENCH_SETUP_ROSTERS; return 0;
    case OPT_DURATION: return parse_seconds("--duration", v, &o->duration_s);
    case OPT_INTERVAL: return parse_seconds("--interval", v, &o->interval_s);
    case OPT_DRAIN: return parse_seconds("--drain", v, &o->drain_s);
    case OPT_TIMEOUT: return parse_seconds("--timeout", v, &o->timeout_s);
    case OPT_NEIGHBOURS: return parse_uint("--neighbours", v, 1, 1000, &o->neighbours);
    case OPT_ROSTER: return parse_uint("--roster-size", v, 2, 10000, &o->roster_size);
    case OPT_BODY: return parse_uint("--body-size", v, 0, 4000, &o->body_bytes);
    case OPT_TO_BARE: o->to_bare = 1; return 0;
    case OPT_PAGE: return parse_uint("--page", v, 1, 1000, &o->page);
    case OPT_MAM_WITH: o->mam_with = 1; return 0;
    case OPT_ROOMS: return parse_uint("--rooms", v, 1, 1000000, &o->rooms);
    case OPT_OCCUPANTS: return parse_uint("--occupants", v, 2, 100000, &o->occupants);
    case OPT_MUC_SERVICE: o->muc_service = v; return check_name("--muc-service", v);
    case OPT_ROOM_PATTERN:
        o->room_pattern = v;
        if (strpbrk(v, "@/ "))
            return bad("--room-pattern", v, "must not contain @, / or spaces");
        return check_pattern("--room-pattern", v);
    case OPT_FAST: o->muc_fast = 1; return 0;
    case OPT_KEEP: o->keep = 1; return 0;
    case OPT_HOST: o->host = v; return 0;
    case OPT_PORT:
        if (parse_uint("--port", v, 1, 65535, &u) != 0)
            return -1;
        o->port = (int)u;
        return 0;
    case OPT_DOMAIN: o->domain = v; return check_name("--domain", v);
    case OPT_TLS:
        if (strcmp(v, "starttls") == 0)
            o->tls = BENCH_TLS_STARTTLS;
        else if (strcmp(v, "direct") == 0)
            o->tls = BENCH_TLS_DIRECT;
        else if (strcmp(v, "none") == 0 || strcmp(v, "plain") == 0)
            o->tls = BENCH_TLS_NONE;
        else
            return bad("--tls", v, "expected starttls, direct or none");
        return 0;
    case OPT_SASL:
        if (bench_mech_parse(v, &o->mech) != 0)
            return bad("--sasl", v, "expected SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN");
        return 0;
    case OPT_UPAT: o->user_pattern = v; return check_pattern("--user-pattern", v);
    case OPT_PPAT: o->password_pattern = v; return check_pattern("--password-pattern", v);
    case OPT_RESOURCE: o->resource = v; return check_name("--resource", v);
    case OPT_USERS: return parse_uint("--users", v, 1, 10000000, &o->users);
    case OPT_FIRST: return parse_uint("--first", v, 0, 1000000000, &o->first);
    case OPT_NO_ROSTER: o->roster_get = 0; return 0;
    case OPT_NO_PRESENCE: o->initial_presence = 0; return 0;
    case OPT_NO_CACHE: o->scram_cache = 0; return 0;
    case OPT_TLS_RESUME: o->tls_resume = 1; return 0;
    case OPT_RATE: {
        char *end;
        o->rate = strtod(v, &end);
        if (end == v || *end || o->rate < 0 || o->rate > 1e7)
            return bad("--rate", v, "expected logins per second, 0 for no pacing");
        return 0;
    }
    case OPT_CONC: return parse_uint("--concurrency", v, 1, 10000000, &o->concurrency);
    case OPT_SRC_N:
        if (parse_uint("--source-addrs", v, 0, 250, &u) != 0)
            return -1;
        o->source_addrs = (int)u;
        return 0;
    case OPT_SRC_BASE:
        if (inet_pton(AF_INET, v, &o->source_base) != 1)
            return bad("--source-base", v, "expected an IPv4 address");
        return 0;
    case OPT_THREADS:
        if (parse_uint("--threads", v, 1, 64, &u) != 0)
            return -1;
        o->threads = (int)u;
        return 0;
    case OPT_PROCS:
        if (parse_uint("--procs", v, 1, 64, &u) != 0)
            return -1;
        o->procs = (int)u;
        return 0;
    case OPT_PID:
        if (parse_uint("--server-pid", v, 1, INT_MAX, &u) != 0)
            return -1;
        o->server_pid = (pid_t)u;
        return 0;
    case OPT_LABEL:
        if (strpbrk(v, "\"\\\n"))
            return bad("--label", v, "must not contain quotes, backslashes or newlines");
        o->label = v;
        return 0;
    case OPT_QUIET: o->quiet = 1; return 0;
    }
    return -1;
}

/* Checks that involve several options. */
static int check_together(bench_opts_t *o)
{
    if (o->port < 0)
        o->port = o->tls == BENCH_TLS_DIRECT ? 5223 : 5222;
    if (set_address(o) != 0)
        return -1;
    if (o->source_addrs < 0) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)&o->addr;
        int loop4 = o->addr.ss_family == AF_INET && (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
        o->source_addrs = loop4 ? 4 : 0;
    }
    if (o->source_addrs > 0 && o->addr.ss_family != AF_INET) {
        fprintf(stderr, "parley-bench: --source-addrs needs an IPv4 server address\n");
        return -1;
    }
    if ((uint64_t)o->first + o->users > (uint64_t)INT_MAX) {
        fprintf(stderr, "parley-bench: --first + --users must stay below %d\n", INT_MAX);
        return -1;
    }
    if (o->procs > 1 && o->users < (uint32_t)o->procs) {
        fprintf(stderr, "parley-bench: --procs %d needs at least as many --users\n", o->procs);
        return -1;
    }
    if (o->scenario == BENCH_CHAT && o->neighbours >= o->users) {
        fprintf(stderr, "parley-bench: --neighbours must be below --users (%u)\n", o->users);
        return -1;
    }
    if (o->scenario == BENCH_PRESENCE || o->scenario == BENCH_SETUP_ROSTERS) {
        if (o->roster_size % 2 != 0 || o->roster_size >= o->users) {
            fprintf(stderr,
                    "parley-bench: --roster-size must be even and below --users (%u): the "
                    "contacts of account n are its r/2 neighbours on each side\n",
                    o->users);
            return -1;
        }
    }
    if (o->scenario == BENCH_SETUP_ROSTERS && !o->roster_get) {
        fprintf(stderr, "parley-bench: setup-rosters reads the roster: drop --no-roster\n");
        return -1;
    }
    if (o->scenario == BENCH_MAM && o->mam_with && o->users < 2) {
        fprintf(stderr, "parley-bench: --with-neighbour needs at least 2 --users\n");
        return -1;
    }
    if (o->scenario == BENCH_MUC) {
        if (o->occupants > o->users) {
            fprintf(stderr,
                    "parley-bench: --occupants (%u) must not exceed --users (%u): a room's "
                    "occupants are distinct accounts\n",
                    o->occupants, o->users);
            return -1;
        }
        if ((uint64_t)o->rooms * o->occupants > 100000000ull ||
            ((uint64_t)o->rooms * o->occupants + o->users - 1) / o->users > 65535) {
            fprintf(stderr, "parley-bench: --rooms x --occupants is too large for --users\n");
            return -1;
        }
        if (!o->muc_service) {
            snprintf(o->muc_service_buf, sizeof(o->muc_service_buf), "groups.%s", o->domain);
            o->muc_service = o->muc_service_buf;
        }
    }
    if ((o->scenario == BENCH_CHAT || o->scenario == BENCH_PRESENCE || o->scenario == BENCH_MAM ||
         (o->scenario == BENCH_MUC && !o->muc_fast)) &&
        o->interval_s <= 0) {
        fprintf(stderr, "parley-bench: --interval must be above 0\n");
        return -1;
    }
    if (o->timeout_s <= 0)
        o->timeout_s = 30;
    return 0;
}

int bench_opts_parse(bench_opts_t *o, int argc, char **argv)
{
    set_defaults(o, argv[0]);
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(usage_text, stdout);
            return 1;
        }
        if (opt == '?') {
            fprintf(stderr, "parley-bench: unknown option or missing value: %s\n",
                    argv[optind - 1]);
            fputs("Try parley-bench --help.\n", stderr);
            return -1;
        }
        if (apply(o, opt, optarg) != 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "parley-bench: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return check_together(o);
}
