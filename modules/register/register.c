/* register.c — XEP-0077 for logged-in users: a client changes its own
 * password in-band.  Open registration and in-band account removal are not
 * offered; accounts are created by an administrator (parleyctl). */
#include <stdlib.h>
#include <string.h>

#include "core/module.h"
#include "core/server.h"
#include "lib/util.h"
#include "xmpp/ns.h"

typedef struct pending {
    pl_server_t *server;
    char *host;
    char *to;
    char *id;
} pending_t;

static void reply_later(pending_t *p, int status)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", status == 0 ? "result" : "error");
    pl_build_attr(b, "id", p->id);
    pl_build_attr(b, "from", p->host);
    pl_build_attr(b, "to", p->to);
    if (status != 0) {
        pl_build_child(b, "error", PL_NS_CLIENT);
        pl_build_attr(b, "type", "wait"); /* a failed write may work later */
        pl_build_child(b, pl_stanza_err_name(PL_ERR_INTERNAL_SERVER_ERROR), PL_NS_STANZA_ERRORS);
        pl_build_up(b);
        pl_build_up(b);
    }
    pl_route_take(p->server, pl_build_finish(b));
}

static void password_saved(void *ud, int status)
{
    pending_t *p = ud;
    reply_later(p, status);
    free(p->host);
    free(p->to);
    free(p->id);
    free(p);
}

static pl_hook_result_t register_get(pl_hook_ctx_t *hc)
{
    if (!hc->session) {
        pl_reply_error(hc, PL_ERR_NOT_ALLOWED, "registration is closed");
        return PL_DONE;
    }
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    pl_build_child(b, "query", PL_NS_REGISTER);
    pl_build_text_child(b, "registered", PL_NS_REGISTER, "");
    pl_build_text_child(b, "username", PL_NS_REGISTER, hc->from->local);
    pl_build_text_child(b, "password", PL_NS_REGISTER, "");
    pl_reply_take(hc, pl_build_finish(b));
    return PL_DONE;
}

static pl_hook_result_t register_set(pl_hook_ctx_t *hc)
{
    if (!hc->session || !hc->from->local || strcmp(hc->from->domain, pl_host_name(hc->host)) != 0) {
        pl_reply_error(hc, PL_ERR_NOT_ALLOWED, "registration is closed");
        return PL_DONE;
    }
    if (pl_xml_child(hc->payload, "remove", PL_NS_REGISTER)) {
        pl_reply_error(hc, PL_ERR_NOT_ALLOWED, "accounts are removed by an administrator");
        return PL_DONE;
    }
    pl_buf_t user, pass;
    pl_buf_init(&user);
    pl_buf_init(&pass);
    int have_user = pl_xml_child_text(hc->payload, "username", PL_NS_REGISTER, &user);
    int have_pass = pl_xml_child_text(hc->payload, "password", PL_NS_REGISTER, &pass);
    char *local = have_user ? pl_jid_norm_local(user.data ? user.data : "", user.len) : NULL;
    if (!have_user || !have_pass || !local || strcmp(local, hc->from->local) != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "username must be your own, with a password");
    } else if (pass.len == 0 || pass.len > 1023) {
        pl_reply_error(hc, PL_ERR_NOT_ACCEPTABLE, "the password must be 1 to 1023 bytes");
    } else {
        pending_t *p = pl_xcalloc(1, sizeof(*p));
        p->server = hc->server;
        p->host = pl_xstrdup(pl_host_name(hc->host));
        p->to = pl_xstrdup(hc->from->full);
        p->id = pl_xstrdup(hc->id);
        if (pl_server_set_password(hc->server, hc->from->bare, pl_buf_cstr(&pass), password_saved,
                                   p) != 0) {
            password_saved(p, -1);
        } else {
            pl_module_log(hc->module, PL_LOG_INFO, "password_change", "jid=%s", hc->from->bare);
        }
    }
    free(local);
    pl_buf_deinit(&user);
    if (pass.data)
        memset(pass.data, 0, pass.len);
    pl_buf_deinit(&pass);
    return PL_DONE;
}

static const char *const features[] = {PL_NS_REGISTER, NULL};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ, .targets = PL_TO_HOST | PL_TO_SELF, .ns = PL_NS_REGISTER,
     .element = "query", .type = "get", .priority = PL_PRIO_HANDLER, .handler = register_get},
    {.event = PL_EV_IQ, .targets = PL_TO_HOST | PL_TO_SELF, .ns = PL_NS_REGISTER,
     .element = "query", .type = "set", .priority = PL_PRIO_HANDLER, .handler = register_set},
    {0},
};

const pl_module_desc_t pl_mod_register = {
    .name = "register",
    .abi = PL_MODULE_ABI,
    .description = "In-band password change (XEP-0077)",
    .features = features,
    .hooks = hooks,
};
