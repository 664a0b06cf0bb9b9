/* config.c — the muc#roomconfig form (XEP-0045 §10.2, §15.5.3): the form
 * an owner gets, with the room's current values, and the submitted form
 * applied all or nothing.  Fields this service does not know are ignored,
 * as the XEP allows; a known field with a value it cannot take refuses the
 * whole form. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"
#include "xep/forms.h"

#define F(name) "muc#roomconfig_" name

typedef struct flag_field {
    const char *var, *label;
    unsigned flag;
} flag_field_t;

static const flag_field_t flag_fields[] = {
    {F("persistentroom"), "Make room persistent", MUC_CONF_PERSISTENT},
    {F("publicroom"), "Make room publicly searchable", MUC_CONF_PUBLIC},
    {F("membersonly"), "Make room members-only", MUC_CONF_MEMBERS_ONLY},
    {F("moderatedroom"), "Make room moderated", MUC_CONF_MODERATED},
    {F("passwordprotectedroom"), "Password required to enter", MUC_CONF_PASSWORD},
    {F("changesubject"), "Allow occupants to change the subject", MUC_CONF_CHANGE_SUBJECT},
};

static void option(pl_builder_t *b, const char *label, const char *value)
{
    pl_build_child(b, "option", PL_NS_DATA_FORMS);
    pl_build_attr(b, "label", label);
    pl_build_text_child(b, "value", PL_NS_DATA_FORMS, value);
    pl_build_up(b);
}

void muc_config_form(pl_builder_t *b, const muc_room_t *r, const muc_conf_t *conf)
{
    const muc_config_t *c = &r->config;
    pl_form_build_begin(b, "form", MUC_FORM_ROOMCONFIG);
    pl_form_build_field(b, F("roomname"), "text-single", "Room name", c->name ? c->name : "");
    pl_form_build_field(b, F("roomdesc"), "text-single", "Description",
                        c->description ? c->description : "");
    for (size_t i = 0; i < sizeof(flag_fields) / sizeof(flag_fields[0]); i++)
        pl_form_build_field(b, flag_fields[i].var, "boolean", flag_fields[i].label,
                            (c->flags & flag_fields[i].flag) ? "1" : "0");
    pl_form_build_field(b, F("roomsecret"), "text-private", "Password",
                        c->password ? c->password : "");
    char num[32];
    snprintf(num, sizeof(num), "%ld", c->max_occupants > 0 ? c->max_occupants : 0);
    pl_build_child(b, "field", PL_NS_DATA_FORMS);
    pl_build_attr(b, "var", F("maxusers"));
    pl_build_attr(b, "type", "list-single");
    pl_build_attr(b, "label", "Maximum number of occupants");
    pl_build_text_child(b, "value", PL_NS_DATA_FORMS, c->max_occupants > 0 ? num : "none");
    static const long sizes[] = {10, 20, 30, 50, 100, 200, 500, 1000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (sizes[i] > conf->max_occupants)
            break;
        snprintf(num, sizeof(num), "%ld", sizes[i]);
        option(b, num, num);
    }
    option(b, "the service's limit", "none");
    pl_build_up(b);
    pl_build_child(b, "field", PL_NS_DATA_FORMS);
    pl_build_attr(b, "var", F("whois"));
    pl_build_attr(b, "type", "list-single");
    pl_build_attr(b, "label", "Who may discover real JIDs?");
    pl_build_text_child(b, "value", PL_NS_DATA_FORMS,
                        (c->flags & MUC_CONF_WHOIS_ANYONE) ? "anyone" : "moderators");
    option(b, "Moderators only", "moderators");
    option(b, "Anyone", "anyone");
    pl_build_up(b);
    pl_build_child(b, "field", PL_NS_DATA_FORMS);
    pl_build_attr(b, "var", F("allowpm"));
    pl_build_attr(b, "type", "list-single");
    pl_build_attr(b, "label", "Who may send private messages?");
    pl_build_text_child(b, "value", PL_NS_DATA_FORMS,
                        (c->flags & MUC_CONF_ALLOW_PM) ? "anyone" : "none");
    option(b, "Anyone", "anyone");
    option(b, "Nobody", "none");
    pl_build_up(b);
    pl_form_build_field(b, F("enablearchiving"), "boolean",
                        "Keep the room's archive (persistent rooms)",
                        (c->flags & MUC_CONF_NO_ARCHIVE) ? "0" : "1");
    pl_form_build_field(b, F("allowinvites"), "boolean",
                        "Allow members (or, in an open room, occupants) to invite others",
                        (c->flags & MUC_CONF_NO_INVITES) ? "0" : "1");
    pl_build_up(b); /* x */
}

/* XEP-0004 booleans: 1 / 0, or -1 for anything else. */
static int boolean(const char *v)
{
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
        return 1;
    if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
        return 0;
    return -1;
}

static int text(const pl_form_t *f, const char *var, size_t max, char **slot, const char **why)
{
    const pl_form_field_t *fl = pl_form_field(f, var);
    if (!fl)
        return 0;
    const char *v = fl->nvalues ? fl->values[0] : "";
    if (strlen(v) > max) {
        *why = "a value is too long";
        return -EINVAL;
    }
    free(*slot);
    *slot = *v ? pl_xstrdup(v) : NULL;
    return 0;
}

int muc_config_apply(muc_room_t *r, const pl_xml_t *x, const muc_conf_t *conf, const char **why)
{
    pl_form_t f;
    if (pl_form_parse(x, &f) != 0) {
        *why = "not a data form";
        return -EBADMSG;
    }
    const char *ft = pl_form_value(&f, "FORM_TYPE");
    if (ft && strcmp(ft, MUC_FORM_ROOMCONFIG) != 0) {
        pl_form_deinit(&f);
        *why = "not a muc#roomconfig form";
        return -EBADMSG;
    }
    /* Worked on a copy, installed only when every field is good. */
    muc_config_t n = {
        .name = r->config.name ? pl_xstrdup(r->config.name) : NULL,
        .description = r->config.description ? pl_xstrdup(r->config.description) : NULL,
        .password = r->config.password ? pl_xstrdup(r->config.password) : NULL,
        .flags = r->config.flags,
        .max_occupants = r->config.max_occupants,
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof(flag_fields) / sizeof(flag_fields[0]) && rc == 0; i++) {
        const char *v = pl_form_value(&f, flag_fields[i].var);
        if (!v)
            continue;
        int b = boolean(v);
        if (b < 0) {
            *why = "a boolean field holds something else";
            rc = -EINVAL;
        } else if (b) {
            n.flags |= flag_fields[i].flag;
        } else {
            n.flags &= ~flag_fields[i].flag;
        }
    }
    if (rc == 0)
        rc = text(&f, F("roomname"), MUC_MAX_NAME, &n.name, why);
    if (rc == 0)
        rc = text(&f, F("roomdesc"), MUC_MAX_DESCRIPTION, &n.description, why);
    if (rc == 0)
        rc = text(&f, F("roomsecret"), MUC_MAX_PASSWORD, &n.password, why);
    const char *v;
    if (rc == 0 && (v = pl_form_value(&f, F("maxusers")))) {
        char *end;
        long m = strcmp(v, "none") == 0 ? 0 : strtol(v, &end, 10);
        if (strcmp(v, "none") != 0 && (!*v || *end || m < 1 || m > conf->max_occupants)) {
            *why = "maxusers is a number up to the service's limit, or none";
            rc = -EINVAL;
        } else {
            n.max_occupants = m;
        }
    }
    if (rc == 0 && (v = pl_form_value(&f, F("whois")))) {
        if (strcmp(v, "anyone") == 0)
            n.flags |= MUC_CONF_WHOIS_ANYONE;
        else if (strcmp(v, "moderators") == 0)
            n.flags &= ~(unsigned)MUC_CONF_WHOIS_ANYONE;
        else {
            *why = "whois is moderators or anyone";
            rc = -EINVAL;
        }
    }
    if (rc == 0 && (v = pl_form_value(&f, F("allowpm")))) {
        int b = boolean(v);
        if (strcmp(v, "none") == 0 || b == 0)
            n.flags &= ~(unsigned)MUC_CONF_ALLOW_PM;
        else if (b == 1 || strcmp(v, "anyone") == 0 || strcmp(v, "participants") == 0 ||
                 strcmp(v, "moderators") == 0)
            n.flags |= MUC_CONF_ALLOW_PM;
        else {
            *why = "allowpm is anyone, participants, moderators or none";
            rc = -EINVAL;
        }
    }
    if (rc == 0 && (v = pl_form_value(&f, F("enablearchiving")))) {
        int b = boolean(v);
        if (b < 0) {
            *why = "a boolean field holds something else";
            rc = -EINVAL;
        } else if (b) {
            n.flags &= ~(unsigned)MUC_CONF_NO_ARCHIVE;
        } else {
            n.flags |= MUC_CONF_NO_ARCHIVE;
        }
    }
    if (rc == 0 && (v = pl_form_value(&f, F("allowinvites")))) {
        int b = boolean(v);
        if (b < 0) {
            *why = "a boolean field holds something else";
            rc = -EINVAL;
        } else if (b) {
            n.flags &= ~(unsigned)MUC_CONF_NO_INVITES;
        } else {
            n.flags |= MUC_CONF_NO_INVITES;
        }
    }
    if (rc == 0 && (n.flags & MUC_CONF_PASSWORD) && !n.password) {
        *why = "a password-protected room needs a roomsecret";
        rc = -EINVAL;
    }
    if (rc == 0 && !(n.flags & MUC_CONF_PASSWORD)) {
        free(n.password);
        n.password = NULL;
    }
    pl_form_deinit(&f);
    if (rc != 0) {
        muc_config_deinit(&n);
        return rc;
    }
    muc_config_deinit(&r->config);
    r->config = n;
    return 0;
}
