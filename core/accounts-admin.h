/* accounts-admin.h — account administration shared by the server's control
 * socket and by parleyctl when the server is not running: each operation is
 * a storage write job, run on the storage thread (server) or synchronously
 * (parleyctl). */
#ifndef PL_ACCOUNTS_ADMIN_H
#define PL_ACCOUNTS_ADMIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct pl_wtxn pl_wtxn_t;
typedef struct pl_module_desc pl_module_desc_t;
typedef struct pl_server pl_server_t;
typedef struct pl_account pl_account_t;

typedef enum pl_admin_op { PL_ADMIN_ADD = 1, PL_ADMIN_DEL, PL_ADMIN_PASSWD } pl_admin_op_t;

typedef struct pl_admin_job {
    pl_admin_op_t op;
    char *bare;     /* normalised bare JID */
    char *password; /* wiped and freed by pl_admin_job_deinit */
    uint32_t iterations;
    /* PL_ADMIN_DEL: the compiled-in modules, whose account_removed runs
     * inside the deletion (set by the caller after init; borrowed). */
    const pl_module_desc_t *const *modules;
    size_t nmodules;
    void **notes; /* what each module's account_removed left (nmodules) */
    char error[256]; /* set when run fails */
} pl_admin_job_t;

/* Validates the JID for an account on one of `hosts` and fills the job;
 * returns 0 or -1 with job->error set. */
int pl_admin_job_init(pl_admin_job_t *job, pl_admin_op_t op, const char *jid, const char *password,
                      uint32_t iterations, const char *const *hosts, size_t nhosts);
/* Empties a job (the struct itself is the caller's): wipes the password and
 * frees what init and the run allocated. */
void pl_admin_job_deinit(pl_admin_job_t *job);
/* After a deletion committed on a running server (on its control loop):
 * the modules tell online users what changed for them (roster pushes).
 * pl_admin_job_deinit drops what is left untold. */
void pl_admin_job_after(pl_admin_job_t *job, pl_server_t *srv);
/* The storage job: returns 0, or negative with job->error set.  Deleting
 * removes, in this one transaction, the account record, what each module's
 * account_removed removes, and the account's keys in every store
 * (pl_storage_forget_account). */
int pl_admin_job_run(pl_wtxn_t *txn, void *job);

/* Fills both SCRAM key sets from a password (iterations from the caller),
 * with fresh random salts; both or neither change.  Derived here, in the
 * layer that owns authentication: storage only keeps the keys.  0, or
 * -EINVAL (e.g. SASLprep refused it). */
int pl_account_set_password(pl_account_t *acc, const char *password, uint32_t iterations);

#endif
