/* log.c — structured one-line log events on stderr. */
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "util.h"

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

const char *pl_log_q(char *buf, size_t len, const char *value)
{
    size_t o = 0;
    if (len < 3) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (const char *p = value ? value : ""; *p && o + 3 < len; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            buf[o++] = c == '\n' ? ' ' : '?';
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* Turns "a=1 b=\"x y\"" into JSON members.  Values that are already quoted
 * stay strings; bare values become strings too, which keeps parsing simple
 * for log shippers. */
static void fields_to_json(pl_buf_t *out, const char *s)
{
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        const char *eq = strchr(s, '=');
        if (!eq)
            break;
        pl_buf_puts(out, ",\"");
        pl_buf_append(out, s, (size_t)(eq - s));
        pl_buf_puts(out, "\":\"");
        s = eq + 1;
        if (*s == '"') {
            s++;
            while (*s && *s != '"') {
                if (*s == '\\' && s[1])
                    pl_buf_append(out, s++, 1);
                pl_buf_append(out, s++, 1);
            }
            if (*s == '"')
                s++;
        } else {
            while (*s && *s != ' ') {
                if (*s == '"' || *s == '\\')
                    pl_buf_puts(out, "\\");
                pl_buf_append(out, s++, 1);
            }
        }
        pl_buf_puts(out, "\"");
    }
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
    if (fields)
        pl_buf_vprintf(&f, fields, ap);
    if (log->json) {
        pl_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"%s\"", ts,
                      level_names[level], event);
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
