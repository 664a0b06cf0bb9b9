/* log.h — structured logs: one event a line, "key=value" (or JSON) fields.
 *
 *   ts=2026-11-22T17:20:00.123Z level=info event=c2s.auth ok=1 jid=alice@demo.local ip=127.0.0.1
 *
 * A logger is a value owned by the server context (no globals); the level
 * and the per-account trace list can change at run time (SIGHUP). */
#ifndef PL_LOG_H
#define PL_LOG_H

#include <stdarg.h>
#include <stdio.h>

/* PL_LOG_TRACE is printed whatever the level: it is used for the traffic of
 * traced accounts (log.trace in the config). */
enum { PL_LOG_ERROR = 0, PL_LOG_WARN = 1, PL_LOG_INFO = 2, PL_LOG_DEBUG = 3, PL_LOG_TRACE = 4 };

typedef struct pl_log {
    int level;
    int json;
    FILE *out; /* stderr by default */
    char **trace; /* bare JIDs traced at debug whatever the level */
    size_t ntrace;
} pl_log_t;

void pl_log_init(pl_log_t *log, int level, int json);
/* Replaces the trace list (copies the strings). */
void pl_log_set_trace(pl_log_t *log, char *const *jids, size_t n);
void pl_log_deinit(pl_log_t *log);
/* "error"|"warn"|"info"|"debug" -> level, or -1. */
int pl_log_level_parse(const char *s);
int pl_log_enabled(const pl_log_t *log, int level);
/* 1 when `bare_jid` is on the trace list. */
int pl_log_traced(const pl_log_t *log, const char *bare_jid);

/* `fields` is a printf format producing space-separated key=value pairs.
 * Arguments may come from the network: a %s (or %c) right after "key=" is
 * written bare when it is a plain token and otherwise quoted, with \" \\
 * \n \r \t and \xNN (control bytes, broken UTF-8) escaped; inside quotes
 * the format opened (error="%s") it is escaped the same way; anywhere else
 * (code's own text, " sasl2=1") only control characters are escaped.  So
 * one event is always one line, and no value can make up another field.
 * Numbers are formatted as printf does.  JSON output gets the same fields
 * as JSON strings. */
void pl_log(const pl_log_t *log, int level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 4, 5)));
void pl_logv(const pl_log_t *log, int level, const char *event, const char *fields, va_list ap);

/* Quotes a value into buf the way pl_log quotes values ("..." with the
 * escapes above, truncated to the buffer), for text built outside pl_log.
 * Not needed (and not wanted: it would be quoted twice) for pl_log's own
 * arguments.  Returns buf. */
const char *pl_log_q(char *buf, size_t len, const char *value);

#endif
