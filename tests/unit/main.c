/* main.c — the unit test runner: every suite is listed once here.  Check
 * runs each test in its own process (CK_FORK), so a crash fails one test. */
#include <check.h>
#include <stdlib.h>

#include "tests/unit/suites.h"

int main(void)
{
    Suite *(*const suites[])(void) = {
        xml_suite,    stanza_suite, jid_suite,     scram_suite,   storage_suite,  config_suite,
        router_suite, limits_suite, caps_suite,    roster_suite,  presence_suite, carbons_suite,
        seal_suite,   inbox_suite,  offline_suite, archive_suite, rsm_suite,      log_suite,
        module_api_suite, control_suite,
    };
    SRunner *sr = srunner_create(NULL);
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        if (suites[i])
            srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
