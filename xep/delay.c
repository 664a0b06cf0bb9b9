/* delay.c — XEP-0203 <delay/> stamps added through pl_build_from, so the
 * stanza keeps every child it had and only gains the stamp. */
#include "xep/delay.h"

#include <string.h>

#include "lib/util.h"
#include "xmpp/ns.h"

void pl_delay_stamp(int64_t unix_ms, char out[PL_DELAY_STAMP_SIZE])
{
    pl_format_time(unix_ms, out, PL_DELAY_STAMP_SIZE, 1);
}

pl_stanza_t *pl_delay_add(const pl_stanza_t *st, const char *from, int64_t unix_ms,
                          const char *reason)
{
    char stamp[PL_DELAY_STAMP_SIZE];
    pl_delay_stamp(unix_ms, stamp);
    pl_builder_t *b = pl_build_from(st, NULL, NULL);
    pl_build_child(b, "delay", PL_NS_DELAY);
    if (from)
        pl_build_attr(b, "from", from);
    pl_build_attr(b, "stamp", stamp);
    if (reason && *reason)
        pl_build_text(b, reason, strlen(reason));
    pl_build_up(b);
    return pl_build_finish(b);
}

int pl_delay_has(const pl_stanza_t *st, const char *from)
{
    for (const pl_xml_t *d = pl_xml_child(pl_stanza_root(st), "delay", PL_NS_DELAY); d;
         d = pl_xml_next(d, "delay", PL_NS_DELAY)) {
        const char *f = pl_xml_attr(d, "from");
        if (f && from && strcmp(f, from) == 0)
            return 1;
    }
    return 0;
}
