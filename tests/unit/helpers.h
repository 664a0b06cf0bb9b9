/* helpers.h — what several unit test files share: a stanza parsed from a
 * string by the real stream parser, temporary directories and stores made
 * and removed for one test, and a server with hosts and modules but no
 * loop, socket or TLS, to route stanzas and run hooks on the test's thread. */
#ifndef PL_UNIT_HELPERS_H
#define PL_UNIT_HELPERS_H

#include "core/module.h"
#include "storage/storage.h"
#include "xmpp/stanza.h"

/* Parses `xml`, one stanza, as the content of a jabber:client stream (a
 * header is put in front) with the default limits; fails the test unless
 * it gives a stanza.  Returns a new reference. */
pl_stanza_t *ut_parse(const char *xml);

/* Makes a new empty directory "/tmp/pl-WHAT-XXXXXX" into dir (64 bytes);
 * fails the test when it cannot. */
void ut_tmpdir_new(char *dir, const char *what);
/* Removes the directory and everything below it. */
void ut_tmpdir_free(const char *dir);

/* Opens storage in `dir`, unthreaded (jobs run at once on the caller's
 * thread); fails the test when it cannot. */
pl_storage_t *ut_storage_open(const char *dir);

/* A server configured with `hosts` (the text of a `hosts = ( ... );`
 * setting, modules taken from `registry`), its hosts and module contexts
 * created (each module's init has run) but nothing started: no loop,
 * listener, TLS or control socket, so routing and hooks run right here on
 * the caller's thread.  With `dir`, storage is opened there as well
 * (accounts can exist); without it nothing may touch storage.  Fails the
 * test when the configuration does not load. */
pl_server_t *ut_server_new(const char *hosts, const pl_module_desc_t *const *registry, size_t n,
                           const char *dir);
/* Stops the hosts and frees the server (and its storage); clears *srv. */
void ut_server_free(pl_server_t **srv);

#endif
