/* helpers.h — what several unit test files share: a stanza parsed from a
 * string by the real stream parser, and temporary directories and stores
 * made and removed for one test. */
#ifndef PL_UNIT_HELPERS_H
#define PL_UNIT_HELPERS_H

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

#endif
