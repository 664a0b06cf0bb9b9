/* log.c — structured one-line log events on stderr. */
#include "lib/log.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "lib/utf8.h"
#include "lib/util.h"

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void pl_log_init(pl_log_t *log, int level, int json)
{
    memset(log, 0, sizeof(*log));
    log->level = level;
    log->json = json;
    log->out = stderr;
}

void pl_log_set_trace(pl_log_t *log, char *const *jids, size_t n)
{
    for (size_t i = 0; i < log->ntrace; i++)
        free(log->trace[i]);
    free(log->trace);
    log->trace = NULL;
    log->ntrace = 0;
    if (n == 0)
        return;
    log->trace = pl_xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        log->trace[i] = pl_xstrdup(jids[i]);
    log->ntrace = n;
}

void pl_log_deinit(pl_log_t *log) { pl_log_set_trace(log, NULL, 0); }

int pl_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return PL_LOG_WARN;
    return -1;
}

int pl_log_enabled(const pl_log_t *log, int level)
{
    return log && (level == PL_LOG_TRACE || level <= log->level);
}

int pl_log_traced(const pl_log_t *log, const char *bare_jid)
{
    if (!log || !bare_jid)
        return 0;
    for (size_t i = 0; i < log->ntrace; i++)
        if (strcmp(log->trace[i], bare_jid) == 0)
            return 1;
    return 0;
}

/* ---- values ----
 *
 * A log line must stay one event with the fields its format names, whatever
 * a peer put in a resource, a stanza or a user agent.  The format strings
 * are code's; the arguments may be anybody's.  So pl_logv formats each
 * conversion on its own and writes the text of %s (and %c) arguments
 * through write_value: quoted and escaped where they stand as a field's
 * value, escaped where the format already quotes them, and never able to
 * start a line or a field. */

/* A UTF-8 sequence's length when it is well formed, else 0 (then each
 * byte is escaped on its own). */
static size_t utf8_len(const unsigned char *s, size_t len)
{
    size_t end = 0;
    uint32_t cp;
    return pl_utf8_next(s, len, &end, &cp) == 0 ? end : 0;
}

/* 1 when the value cannot stand bare after "key=": it is empty, or holds a
 * space, '=', a quote, a backslash, a control character or broken UTF-8. */
static int needs_quotes(const char *v, size_t len)
{
    if (len == 0)
        return 1;
    const unsigned char *u = (const unsigned char *)v;
    for (size_t i = 0; i < len;) {
        if (u[i] <= ' ' || u[i] == '=' || u[i] == '"' || u[i] == '\\' || u[i] == 0x7f)
            return 1;
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_len(u + i, len - i);
        if (!n)
            return 1;
        i += n;
    }
    return 0;
}

/* Escapes for the inside of a quoted value: \" \\ \n \r \t, and for other
 * control bytes and broken UTF-8 \xNN (text) or \u00NN / U+FFFD (JSON,
 * whose text must stay UTF-8); the rest as it is. */
static void escape_into_as(pl_buf_t *out, const char *v, size_t len, int json)
{
    const unsigned char *u = (const unsigned char *)v;
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        size_t n = 1;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            pl_buf_append(out, e, 2);
        } else if (c == '\n') {
            pl_buf_puts(out, "\\n");
        } else if (c == '\r') {
            pl_buf_puts(out, "\\r");
        } else if (c == '\t') {
            pl_buf_puts(out, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            pl_buf_printf(out, json ? "\\u%04x" : "\\x%02x", c);
        } else if (c >= 0x80 && !(n = utf8_len(u + i, len - i))) {
            if (json)
                pl_buf_puts(out, "\\ufffd");
            else
                pl_buf_printf(out, "\\x%02x", c);
            n = 1;
        } else {
            pl_buf_append(out, v + i, n);
        }
        i += n;
    }
}

static void escape_into(pl_buf_t *out, const char *v, size_t len)
{
    escape_into_as(out, v, len, 0);
}

typedef enum value_pos {
    POS_VALUE,  /* right after "key=": a whole value */
    POS_QUOTED, /* inside quotes the format opened */
    POS_OTHER,  /* anywhere else: code's own text (" sasl2=1") */
} value_pos_t;

static void write_value(pl_buf_t *out, const char *v, size_t len, value_pos_t pos)
{
    if (pos == POS_VALUE && needs_quotes(v, len)) {
        pl_buf_append(out, "\"", 1);
        escape_into(out, v, len);
        pl_buf_append(out, "\"", 1);
        return;
    }
    if (pos == POS_OTHER) {
        /* Not a value, so not quoted; still never a line break. */
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
                pl_buf_append(out, v, i);
                escape_into(out, v + i, len - i);
                return;
            }
        pl_buf_append(out, v, len);
        return;
    }
    escape_into(out, v, len);
}

const char *pl_log_q(char *buf, size_t len, const char *value)
{
    if (len < 3) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_append(&b, "\"", 1);
    escape_into(&b, value ? value : "", value ? strlen(value) : 0);
    pl_buf_append(&b, "\"", 1);
    if (b.len >= len) {
        /* Truncated, but still closed (and not in the middle of an escape
         * that would swallow the closing quote). */
        size_t keep = len - 2;
        while (keep > 1 && b.data[keep - 1] == '\\') {
            size_t run = 0;
            while (run < keep - 1 && b.data[keep - 1 - run] == '\\')
                run++;
            if (run % 2 == 0)
                break;
            keep--;
        }
        b.len = keep;
        pl_buf_append(&b, "\"", 1);
    }
    memcpy(buf, b.data, b.len);
    buf[b.len] = '\0';
    pl_buf_deinit(&b);
    return buf;
}

/* ---- the format ----
 * A small printf: each conversion is formatted on its own (vsnprintf of a
 * one-conversion format), so %s values can go through write_value.  Only
 * what C99 printf knows is accepted; %n is never honoured. */

typedef struct spec {
    char fmt[32]; /* the conversion alone, "%-5.3lld" */
    char conv;
    int star_width, star_prec, has_prec;
    enum { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T, LEN_BIG_L } len;
} spec_t;

/* Parses the conversion at *f (just after '%'); returns 0 when it is not one
 * this logger knows (then it is written as text). */
static int parse_spec(const char **f, spec_t *sp)
{
    const char *p = *f;
    memset(sp, 0, sizeof(*sp));
    while (*p && strchr("-+ #0", *p))
        p++;
    if (*p == '*')
        sp->star_width = 1, p++;
    else
        while (*p >= '0' && *p <= '9')
            p++;
    if (*p == '.') {
        sp->has_prec = 1;
        p++;
        if (*p == '*')
            sp->star_prec = 1, p++;
        else
            while (*p >= '0' && *p <= '9')
                p++;
    }
    if (p[0] == 'h' && p[1] == 'h')
        sp->len = LEN_HH, p += 2;
    else if (p[0] == 'l' && p[1] == 'l')
        sp->len = LEN_LL, p += 2;
    else if (*p == 'h')
        sp->len = LEN_H, p++;
    else if (*p == 'l')
        sp->len = LEN_L, p++;
    else if (*p == 'z')
        sp->len = LEN_Z, p++;
    else if (*p == 'j')
        sp->len = LEN_J, p++;
    else if (*p == 't')
        sp->len = LEN_T, p++;
    else if (*p == 'L')
        sp->len = LEN_BIG_L, p++;
    if (!*p || !strchr("diouxXcspfFeEgGaA", *p))
        return 0;
    sp->conv = *p++;
    size_t n = (size_t)(p - *f);
    if (n + 2 > sizeof(sp->fmt))
        return 0;
    sp->fmt[0] = '%';
    memcpy(sp->fmt + 1, *f, n);
    sp->fmt[n + 1] = '\0';
    *f = p;
    return 1;
}

/* snprintf of one conversion with one argument (and its '*' ints). */
#define PUT_ONE(out, sp, w, pr, value)                                                             \
    do {                                                                                           \
        char one_[128];                                                                            \
        if ((sp)->star_width && (sp)->star_prec)                                                   \
            snprintf(one_, sizeof(one_), (sp)->fmt, w, pr, value);                                 \
        else if ((sp)->star_width)                                                                 \
            snprintf(one_, sizeof(one_), (sp)->fmt, w, value);                                     \
        else if ((sp)->star_prec)                                                                  \
            snprintf(one_, sizeof(one_), (sp)->fmt, pr, value);                                    \
        else                                                                                       \
            snprintf(one_, sizeof(one_), (sp)->fmt, value);                                        \
        pl_buf_puts(out, one_);                                                                    \
    } while (0)

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-security"
static void format_fields(pl_buf_t *out, const char *fmt, va_list ap)
{
    const char *f = fmt;
    int in_quotes = 0; /* inside a "..." the format itself opened */
    while (*f) {
        if (*f != '%') {
            if (*f == '"')
                in_quotes = !in_quotes;
            pl_buf_append(out, f, 1);
            f++;
            continue;
        }
        if (f[1] == '%') {
            pl_buf_append(out, "%", 1);
            f += 2;
            continue;
        }
        const char *at = f;
        f++;
        spec_t sp;
        if (!parse_spec(&f, &sp)) {
            pl_buf_append(out, "%", 1);
            continue;
        }
        int w = sp.star_width ? va_arg(ap, int) : 0;
        int pr = sp.star_prec ? va_arg(ap, int) : 0;
        value_pos_t pos = in_quotes ? POS_QUOTED : POS_OTHER;
        if (!in_quotes && at > fmt && at[-1] == '=')
            pos = POS_VALUE;
        switch (sp.conv) {
        case 's': {
            const char *v = va_arg(ap, const char *);
            if (!v)
                v = "(null)";
            /* With a precision the argument need not be NUL-terminated
             * (a network buffer logged as %.*s): never read past it. */
            size_t len;
            long limit = -1;
            if (sp.has_prec)
                limit = sp.star_prec ? pr : atol(strchr(sp.fmt, '.') + 1);
            len = limit >= 0 ? strnlen(v, (size_t)limit) : strlen(v);
            write_value(out, v, len, pos);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            write_value(out, &c, 1, pos);
            break;
        }
        case 'p': PUT_ONE(out, &sp, w, pr, va_arg(ap, void *)); break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
        case 'a':
        case 'A':
            if (sp.len == LEN_BIG_L)
                PUT_ONE(out, &sp, w, pr, va_arg(ap, long double));
            else
                PUT_ONE(out, &sp, w, pr, va_arg(ap, double));
            break;
        case 'd':
        case 'i':
            switch (sp.len) {
            case LEN_L: PUT_ONE(out, &sp, w, pr, va_arg(ap, long)); break;
            case LEN_LL: PUT_ONE(out, &sp, w, pr, va_arg(ap, long long)); break;
            case LEN_Z: PUT_ONE(out, &sp, w, pr, va_arg(ap, ssize_t)); break;
            case LEN_J: PUT_ONE(out, &sp, w, pr, va_arg(ap, intmax_t)); break;
            case LEN_T: PUT_ONE(out, &sp, w, pr, va_arg(ap, ptrdiff_t)); break;
            default: PUT_ONE(out, &sp, w, pr, va_arg(ap, int)); break;
            }
            break;
        default: /* o u x X */
            switch (sp.len) {
            case LEN_L: PUT_ONE(out, &sp, w, pr, va_arg(ap, unsigned long)); break;
            case LEN_LL: PUT_ONE(out, &sp, w, pr, va_arg(ap, unsigned long long)); break;
            case LEN_Z: PUT_ONE(out, &sp, w, pr, va_arg(ap, size_t)); break;
            case LEN_J: PUT_ONE(out, &sp, w, pr, va_arg(ap, uintmax_t)); break;
            case LEN_T: PUT_ONE(out, &sp, w, pr, va_arg(ap, ptrdiff_t)); break;
            default: PUT_ONE(out, &sp, w, pr, va_arg(ap, unsigned)); break;
            }
            break;
        }
    }
}
#pragma GCC diagnostic pop

/* ---- JSON ----
 * The text fields are parsed back (they are unambiguous now: a value is
 * bare, or quoted with the escapes above) and written as JSON members. */

static void json_string(pl_buf_t *out, const char *v, size_t len)
{
    pl_buf_append(out, "\"", 1);
    escape_into_as(out, v, len, 1);
    pl_buf_append(out, "\"", 1);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static void fields_to_json(pl_buf_t *out, const char *s)
{
    pl_buf_t v;
    pl_buf_init(&v);
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        const char *key = s;
        while (*s && *s != '=' && *s != ' ')
            s++;
        size_t keylen = (size_t)(s - key);
        pl_buf_reset(&v);
        if (*s == '=') {
            s++;
            if (*s == '"') {
                for (s++; *s && *s != '"'; s++) {
                    if (*s != '\\' || !s[1]) {
                        pl_buf_append(&v, s, 1);
                        continue;
                    }
                    s++;
                    char c = *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s == 't' ? '\t' : *s;
                    if (*s == 'x' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
                        c = (char)(hexval(s[1]) * 16 + hexval(s[2]));
                        s += 2;
                    }
                    pl_buf_append(&v, &c, 1);
                }
                if (*s == '"')
                    s++;
            } else {
                const char *b = s;
                while (*s && *s != ' ')
                    s++;
                pl_buf_append(&v, b, (size_t)(s - b));
            }
        }
        pl_buf_append(out, ",", 1);
        json_string(out, key, keylen);
        pl_buf_append(out, ":", 1);
        json_string(out, v.data ? v.data : "", v.len);
    }
    pl_buf_deinit(&v);
}

void pl_logv(const pl_log_t *log, int level, const char *event, const char *fields, va_list ap)
{
    if (!pl_log_enabled(log, level))
        return;
    char ts[40];
    pl_format_time(pl_now_ms(), ts, sizeof(ts), 1);
    pl_buf_t f, line;
    pl_buf_init(&f);
    pl_buf_init(&line);
    if (fields) {
        va_list ap2;
        va_copy(ap2, ap);
        format_fields(&f, fields, ap2);
        va_end(ap2);
    }
    if (log->json) {
        pl_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts, level_names[level]);
        json_string(&line, event, strlen(event));
        fields_to_json(&line, pl_buf_cstr(&f));
        pl_buf_puts(&line, "}\n");
    } else {
        pl_buf_printf(&line, "ts=%s level=%s event=%s%s%s\n", ts, level_names[level], event,
                      f.len ? " " : "", pl_buf_cstr(&f));
    }
    fwrite(line.data, 1, line.len, log->out ? log->out : stderr);
    fflush(log->out ? log->out : stderr);
    pl_buf_deinit(&f);
    pl_buf_deinit(&line);
}

void pl_log(const pl_log_t *log, int level, const char *event, const char *fields, ...)
{
    va_list ap;
    va_start(ap, fields);
    pl_logv(log, level, event, fields, ap);
    va_end(ap);
}
