/* server.h — what modules may ask of the server core beyond module.h: the
 * host's name, sessions' identities, the storage, and logging. */
#ifndef PL_SERVER_H
#define PL_SERVER_H

#include <stddef.h>

#include "jid.h"
#include "log.h"
#include "stanza.h"

typedef struct pl_server pl_server_t;
typedef struct pl_host pl_host_t;
typedef struct pl_session pl_session_t;
typedef struct pl_storage pl_storage_t;

const char *pl_host_name(const pl_host_t *h);
pl_server_t *pl_host_server(const pl_host_t *h);
const pl_log_t *pl_server_log(const pl_server_t *srv);
pl_storage_t *pl_server_storage(pl_server_t *srv);
/* Number of stream sessions (clients and components) across all loops. */
size_t pl_server_session_count(const pl_server_t *srv);
/* 1 if `bare` has an account on a local host. */
int pl_server_account_exists(pl_server_t *srv, const char *bare);
/* Disco features/identities of every module enabled on the host, for
 * disco#info.  The callback is called once per item. */
void pl_host_each_feature(const pl_host_t *h, int account, void (*fn)(void *ud, const char *var),
                          void *ud);
void pl_host_each_identity(const pl_host_t *h, void (*fn)(void *ud, const char *category,
                                                          const char *type, const char *name),
                           void *ud);
/* Component domains attached to the host (disco#items). */
void pl_host_each_component(const pl_host_t *h, void (*fn)(void *ud, const char *domain),
                            void *ud);

const pl_jid_t *pl_session_jid(const pl_session_t *s);
pl_host_t *pl_session_host(const pl_session_t *s);
const char *pl_session_ip(const pl_session_t *s);
int pl_session_is_available(const pl_session_t *s);

/* Changes an account's password (SCRAM keys with the host's iteration
 * count) asynchronously; `done` runs on the calling loop with 0 or <0. */
int pl_server_set_password(pl_server_t *srv, const char *bare, const char *password,
                           void (*done)(void *ud, int status), void *ud);

/* Builds an error reply to `orig` (addresses swapped, same id) with the
 * RFC 6120 condition; returns a new reference. */
pl_stanza_t *pl_stanza_error(const pl_stanza_t *orig, int cond, const char *text);
const char *pl_stanza_err_name(int cond);
const char *pl_stanza_err_type(int cond);

#endif
