/* default-config.h — the configuration built into parleyd, used when no
 * file is given (`parleyd` with no -c) and shown by --print-default-config. */
#ifndef PL_DEFAULT_CONFIG_H
#define PL_DEFAULT_CONFIG_H

/* The default configuration as libconfig text: a static string, never freed. */
const char *pl_default_config_text(void);

#endif
