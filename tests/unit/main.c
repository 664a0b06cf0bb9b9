/* main.c — the unit test runner: every suite of the list in suites.h, in
 * its order.  Check runs each test in its own process (CK_FORK), so a crash
 * fails one test. */
#include <check.h>
#include <stdlib.h>

#include "tests/unit/suites.h"

#define PL_UNIT_SUITE_ENTRY(name) name##_suite,
static Suite *(*const suites[])(void) = {PL_UNIT_SUITES(PL_UNIT_SUITE_ENTRY)};
#undef PL_UNIT_SUITE_ENTRY

int main(void)
{
    SRunner *sr = srunner_create(NULL);
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        srunner_add_suite(sr, suites[i]());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
