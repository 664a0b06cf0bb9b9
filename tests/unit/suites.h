/* suites.h — the one list of unit test suites.  Every tests/unit/test_NAME.c
 * defines NAME_suite() and has its line here; main.c runs them in this
 * order.  `make unit` runs scripts/check-unit-suites.sh first, which fails
 * when a test file is missing from this list or a listed suite has no file,
 * and a listed suite whose constructor is gone does not link: a suite can
 * no longer drop out of the run without anyone noticing. */
#ifndef PL_TEST_SUITES_H
#define PL_TEST_SUITES_H

#include <check.h>

/* X(name) for each suite, one a line (the check script reads these lines). */
#define PL_UNIT_SUITES(X)                                                                          \
    X(xml)                                                                                         \
    X(stanza)                                                                                      \
    X(jid)                                                                                         \
    X(scram)                                                                                       \
    X(storage)                                                                                     \
    X(config)                                                                                      \
    X(hooks)                                                                                       \
    X(router)                                                                                      \
    X(limits)                                                                                      \
    X(caps)                                                                                        \
    X(roster)                                                                                      \
    X(presence)                                                                                    \
    X(carbons)                                                                                     \
    X(seal)                                                                                        \
    X(inbox)                                                                                       \
    X(offline)                                                                                     \
    X(archive)                                                                                     \
    X(rsm)                                                                                         \
    X(log)                                                                                         \
    X(buf)                                                                                         \
    X(arena)                                                                                       \
    X(map)                                                                                         \
    X(utf8)                                                                                        \
    X(base64)                                                                                      \
    X(util)                                                                                        \
    X(module_api)                                                                                  \
    X(muc)                                                                                         \
    X(muc_mention)                                                                                 \
    X(mam_query)                                                                                   \
    X(control)

#define PL_UNIT_SUITE_DECLARE(name) Suite *name##_suite(void);
PL_UNIT_SUITES(PL_UNIT_SUITE_DECLARE)
#undef PL_UNIT_SUITE_DECLARE

#endif
