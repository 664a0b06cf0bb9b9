/* version.h — the release this tree builds. */
#ifndef PL_VERSION_H
#define PL_VERSION_H
#define PL_VERSION "0.1.0"
#endif
