/* suites.h — one constructor per unit test file.  Declared weak while the
 * tree is being built up so a missing suite is skipped, not a link error. */
#ifndef PL_TEST_SUITES_H
#define PL_TEST_SUITES_H

#include <check.h>

#define PL_SUITE(name) Suite *name(void) __attribute__((weak))
PL_SUITE(xml_suite);
PL_SUITE(stanza_suite);
PL_SUITE(jid_suite);
PL_SUITE(scram_suite);
PL_SUITE(storage_suite);
PL_SUITE(config_suite);
PL_SUITE(router_suite);
PL_SUITE(limits_suite);
PL_SUITE(caps_suite);
PL_SUITE(roster_suite);
PL_SUITE(presence_suite);
PL_SUITE(carbons_suite);
PL_SUITE(seal_suite);
PL_SUITE(inbox_suite);
PL_SUITE(offline_suite);
PL_SUITE(archive_suite);
PL_SUITE(rsm_suite);
PL_SUITE(log_suite);
PL_SUITE(module_api_suite);
PL_SUITE(control_suite);

#endif
