/* directory.h — the personal-directory extras of DIR-5 (custom contacts
 * without a JID, the order of contact groups), kept in private XML storage
 * under urn:parley:directory:0 and checked before they are stored.  The
 * format is documented in docs/extensions/directory.md. */
#ifndef PL_PRIVATE_DIRECTORY_H
#define PL_PRIVATE_DIRECTORY_H

#include <stddef.h>

#include "xmpp/stanza.h"

#define PL_NS_PARLEY_DIRECTORY "urn:parley:directory:0"

#define DIRECTORY_MAX_GROUPS 256    /* <group/> entries in <group-order/> */
#define DIRECTORY_MAX_CONTACTS 1000 /* <contact/> entries */
#define DIRECTORY_MAX_CONTACT_GROUPS 32
#define DIRECTORY_MAX_ID 64      /* bytes in a contact id */
#define DIRECTORY_MAX_FIELD 1024 /* bytes in a name, phone, email, org, group name */
#define DIRECTORY_MAX_NOTE 4096  /* bytes in a note */

/* Checks a <directory/> element.  Returns 0 when it follows the format, or
 * -1 with a sentence for the client in `why` (at most whylen bytes). */
int directory_validate(const pl_xml_t *dir, char *why, size_t whylen);

#endif
