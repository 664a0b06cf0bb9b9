/* accounts-admin.c — add, delete and re-key accounts.  Passwords become
 * salted SCRAM keys (SHA-1 and SHA-256) here and are never stored. */
#include "core/accounts-admin.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/module.h"
#include "lib/util.h"
#include "storage/storage.h"
#include "xmpp/jid.h"

int pl_admin_job_init(pl_admin_job_t *job, pl_admin_op_t op, const char *jid, const char *password,
                      uint32_t iterations, const char *const *hosts, size_t nhosts)
{
    memset(job, 0, sizeof(*job));
    job->op = op;
    job->iterations = iterations;
    pl_jid_t j;
    if (pl_jid_parse(&j, jid) != 0) {
        snprintf(job->error, sizeof(job->error), "'%s' is not a valid JID", jid);
        return -1;
    }
    if (!j.local || j.resource) {
        snprintf(job->error, sizeof(job->error), "'%s' is not an account JID (user@host)", jid);
        pl_jid_deinit(&j);
        return -1;
    }
    int served = 0;
    for (size_t i = 0; i < nhosts; i++)
        served |= strcmp(hosts[i], j.domain) == 0;
    if (!served) {
        snprintf(job->error, sizeof(job->error), "host '%s' is not configured", j.domain);
        pl_jid_deinit(&j);
        return -1;
    }
    job->bare = pl_xstrdup(j.bare);
    pl_jid_deinit(&j);
    if (op != PL_ADMIN_DEL) {
        if (!password || !*password) {
            snprintf(job->error, sizeof(job->error), "a password is required");
            return -1;
        }
        job->password = pl_xstrdup(password);
    }
    return 0;
}

void pl_admin_job_after(pl_admin_job_t *job, pl_server_t *srv)
{
    for (size_t i = 0; job->notes && i < job->nmodules; i++) {
        const pl_module_desc_t *m = job->modules[i];
        if (job->notes[i] && m->account_removed_after)
            m->account_removed_after(srv, job->bare, job->notes[i]);
        job->notes[i] = NULL;
    }
}

void pl_admin_job_deinit(pl_admin_job_t *job)
{
    pl_admin_job_after(job, NULL);
    free(job->notes);
    job->notes = NULL;
    if (job->password) {
        OPENSSL_cleanse(job->password, strlen(job->password));
        free(job->password);
    }
    free(job->bare);
    job->password = job->bare = NULL;
}


int pl_account_set_password(pl_account_t *acc, const char *password, uint32_t iterations)
{
    if (!acc || !password || iterations == 0)
        return -EINVAL;
    /* Both or neither: an account must never end up with one hash's keys
     * from the new password and the other's from the old one. */
    pl_scram_keys_t k1, k256;
    if (pl_scram_derive(PL_SCRAM_SHA1, password, NULL, 0, iterations, &k1) != 0 ||
        pl_scram_derive(PL_SCRAM_SHA256, password, NULL, 0, iterations, &k256) != 0)
        return -EINVAL;
    acc->sha1 = k1;
    acc->sha256 = k256;
    return 0;
}

/* Modules first: their secondary data is found through records the sweep
 * removes (e.g. offline messages through the account's keys). */
static int delete_account(pl_wtxn_t *txn, pl_admin_job_t *job)
{
    pl_admin_job_after(job, NULL); /* notes of an attempt that did not commit */
    if (!job->notes && job->nmodules)
        job->notes = pl_xcalloc(job->nmodules, sizeof(*job->notes));
    for (size_t i = 0; i < job->nmodules; i++) {
        const pl_module_desc_t *m = job->modules[i];
        if (m->account_removed && m->account_removed(txn, job->bare, &job->notes[i]) < 0) {
            snprintf(job->error, sizeof(job->error), "module %s could not remove the data of %s",
                     m->name, job->bare);
            return -1;
        }
    }
    if (pl_storage_forget_account(txn, job->bare) < 0) {
        snprintf(job->error, sizeof(job->error), "storage error removing the data of %s",
                 job->bare);
        return -1;
    }
    return pl_accounts_del(txn, job->bare) < 0 ? -1 : 0;
}

int pl_admin_job_run(pl_wtxn_t *txn, void *ud)
{
    pl_admin_job_t *job = ud;
    pl_storage_t *st = pl_wtxn_storage(txn);
    pl_account_t *acc = pl_xcalloc(1, sizeof(*acc));
    int rc = pl_accounts_get(st, job->bare, acc);
    if (rc < 0) {
        snprintf(job->error, sizeof(job->error), "storage error reading %s", job->bare);
        goto out;
    }
    switch (job->op) {
    case PL_ADMIN_ADD:
        if (rc == 1) {
            snprintf(job->error, sizeof(job->error), "account %s already exists", job->bare);
            rc = -1;
            goto out;
        }
        memset(acc, 0, sizeof(*acc));
        snprintf(acc->jid, sizeof(acc->jid), "%s", job->bare);
        acc->created = (int64_t)time(NULL);
        break;
    case PL_ADMIN_PASSWD:
    case PL_ADMIN_DEL:
        if (rc == 0) {
            snprintf(job->error, sizeof(job->error), "no account %s", job->bare);
            rc = -1;
            goto out;
        }
        break;
    }
    if (job->op == PL_ADMIN_DEL) {
        rc = delete_account(txn, job);
    } else if (pl_account_set_password(acc, job->password, job->iterations) != 0) {
        snprintf(job->error, sizeof(job->error), "the password is not acceptable (SASLprep)");
        rc = -1;
        goto out;
    } else {
        rc = pl_accounts_put(txn, acc);
    }
    if (rc < 0 && !job->error[0])
        snprintf(job->error, sizeof(job->error), "storage error writing %s", job->bare);
out:
    OPENSSL_cleanse(acc, sizeof(*acc));
    free(acc);
    return rc < 0 ? -1 : 0;
}
