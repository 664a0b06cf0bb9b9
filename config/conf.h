/* conf.h — typed configuration keys, shared by the core's own settings and
 * every module's `conf[]` table (nginx-style: key, type, offset, default,
 * bounds).  The core validates all keys of all modules before anything
 * starts and hands each module a read-only struct. */
#ifndef PL_CONF_H
#define PL_CONF_H

#include <stddef.h>
#include <stdint.h>

typedef enum pl_conf_type {
    PL_CONF_BOOL = 1, /* int: 0/1 */
    PL_CONF_INT,      /* long long, bounds min..max */
    PL_CONF_STRING,   /* char * (heap, owned by the config generation) */
    PL_CONF_DURATION, /* long long milliseconds; written as a number of seconds
                         or a string "500ms", "30s", "10m", "2h", "7d" */
    PL_CONF_SIZE,     /* long long bytes; a number or "64k", "10M", "1G" */
} pl_conf_type_t;

typedef struct pl_conf_def {
    const char *key;
    pl_conf_type_t type;
    size_t offset; /* offsetof(struct mymod_conf, field) */
    /* Default, written as it would be in the config file ("30s", "true",
     * "4096", "text"); NULL for strings means NULL, for others zero. */
    const char *def;
    long long min, max; /* for INT/DURATION/SIZE; both 0 = unbounded */
    /* Optional extra check; returns 0, or -1 with a message in err. */
    int (*validate)(const void *field, char *err, size_t errlen);
    const char *help; /* one line, used by docs and --check-config */
} pl_conf_def_t;

#endif
