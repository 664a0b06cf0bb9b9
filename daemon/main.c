/* main.c — parleyd: parse the command line, load and check the
 * configuration, then run the server until SIGTERM. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/default-config.h"
#include "core/core.h"
#include "core/module-conf.h"
#include "lib/tls.h"
#include "lib/util.h"
#include "modules/registry.h"

static void usage(FILE *f)
{
    fputs("usage: parleyd [-c FILE] [--check-config] [--gen-cert] [--print-default-config]\n"
          "  -c, --config FILE        configuration file (default: the built-in demo config)\n"
          "      --check-config       validate the configuration, report errors, exit\n"
          "      --gen-cert           write a self-signed certificate to the configured\n"
          "                           tls.cert/tls.key if they do not exist, then exit\n"
          "      --print-default-config  print the built-in configuration and exit\n"
          "  -h, --help               this text\n",
          f);
}

/* Writes a self-signed certificate for every host when none exists yet. */
static int ensure_certificate(const pl_config_t *c, int verbose)
{
    if (access(c->tls_cert, F_OK) == 0 || access(c->tls_key, F_OK) == 0)
        return 0;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", c->tls_cert);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        /* mkdir -p for the certificate's folder, which usually sits in the
         * data directory and holds the private key: owner only. */
        for (char *p = dir + 1; *p; p++) {
            if (*p == '/') {
                *p = '\0';
                mkdir(dir, 0700);
                *p = '/';
            }
        }
        mkdir(dir, 0700);
    }
    const char **hosts = pl_xcalloc(c->nhosts, sizeof(char *));
    for (size_t i = 0; i < c->nhosts; i++)
        hosts[i] = c->hosts[i].name;
    char *error = NULL;
    int rc = pl_tls_generate_selfsigned(c->tls_cert, c->tls_key, hosts, c->nhosts, 825, &error);
    free(hosts);
    if (rc != 0) {
        fprintf(stderr, "parleyd: %s\n", error);
        free(error);
        return -1;
    }
    if (verbose)
        fprintf(stderr, "parleyd: wrote a self-signed ECDSA P-256 certificate to %s\n",
                c->tls_cert);
    return 0;
}

int main(int argc, char **argv)
{
    /* Everything parleyd writes is someone's messages, account keys or a
     * private key: nothing it creates is for other local users, whatever
     * umask it was started with.  (Each file is also created owner-only on
     * its own; this covers what a library creates behind our back.) */
    umask(077);
    const char *config_path = NULL;
    int check = 0, gen_cert = 0;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'k'},
        {"gen-cert", no_argument, NULL, 'g'},
        {"print-default-config", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'k': check = 1; break;
        case 'g': gen_cert = 1; break;
        case 'p': fputs(pl_default_config_text(), stdout); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    char *error = NULL;
    pl_config_t *config =
        pl_config_load_modules(config_path, pl_module_registry, pl_module_registry_size, &error);
    if (!config) {
        fprintf(stderr, "%s", error ? error : "parleyd: invalid configuration\n");
        if (error && error[strlen(error) - 1] != '\n')
            fputc('\n', stderr);
        free(error);
        return 1;
    }
    if (check) {
        printf("%s: configuration OK (%zu host%s, %zu listener%s)\n",
               config_path ? config_path : "built-in default", config->nhosts,
               config->nhosts == 1 ? "" : "s", config->nlisten, config->nlisten == 1 ? "" : "s");
        pl_config_free(&config);
        return 0;
    }
    /* The built-in demo config brings its own certificate; a real config
     * asks for one explicitly with --gen-cert. */
    if (gen_cert || !config_path) {
        if (ensure_certificate(config, 1) != 0) {
            pl_config_free(&config);
            return 1;
        }
        if (gen_cert) {
            pl_config_free(&config);
            return 0;
        }
    }
    pl_server_t *srv = pl_server_new(config, pl_module_registry, pl_module_registry_size);
    int rc = pl_server_run(srv);
    pl_server_free(&srv);
    return rc;
}
