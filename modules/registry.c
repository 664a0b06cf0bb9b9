/* registry.c — every module compiled into parleyd, in one table.  The
 * config enables them per host; the core orders them by dependency. */
#include "modules/registry.h"

extern const pl_module_desc_t pl_mod_disco, pl_mod_ping, pl_mod_version, pl_mod_time,
    pl_mod_register, pl_mod_private, pl_mod_vcard, pl_mod_last, pl_mod_roster, pl_mod_presence,
    pl_mod_pep, pl_mod_bookmarks, pl_mod_blocking, pl_mod_client_policy, pl_mod_push,
    pl_mod_carbons, pl_mod_inbox, pl_mod_offline, pl_mod_mam, pl_mod_muc;

const pl_module_desc_t *const pl_module_registry[] = {
    &pl_mod_disco,    &pl_mod_ping,     &pl_mod_version,  &pl_mod_time,
    &pl_mod_register, &pl_mod_private,  &pl_mod_vcard,    &pl_mod_last,
    &pl_mod_roster,   &pl_mod_presence, &pl_mod_pep,      &pl_mod_bookmarks,
    &pl_mod_blocking, &pl_mod_client_policy, &pl_mod_push,    &pl_mod_carbons,
    &pl_mod_inbox,    &pl_mod_offline,  &pl_mod_mam,
    &pl_mod_muc,
};

const size_t pl_module_registry_size = sizeof(pl_module_registry) / sizeof(pl_module_registry[0]);
