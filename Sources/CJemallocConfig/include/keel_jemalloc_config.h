#ifndef KEEL_JEMALLOC_CONFIG_H
#define KEEL_JEMALLOC_CONFIG_H

/// The options the keel server gives jemalloc (see keel_jemalloc_config.c); exported for the log.
extern const char *keel_jemalloc_options(void);

#endif
