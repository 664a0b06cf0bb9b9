/* base64.c — RFC 4648 base64 (standard alphabet, padded) on OpenSSL's
 * codec, with the strict input check OpenSSL leaves out: SASL, FAST tokens
 * and sealed records all take base64 from peers. */
#include "lib/base64.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "lib/util.h"

char *pl_base64_encode(const uint8_t *data, size_t len)
{
    if (len > (size_t)INT_MAX / 4 * 3 - 3)
        return NULL;
    char *out = pl_xmalloc((len + 2) / 3 * 4 + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

char *pl_base64url_encode(const uint8_t *data, size_t len)
{
    char *out = pl_base64_encode(data, len);
    if (!out)
        return NULL;
    char *p = out;
    for (; *p && *p != '='; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    *p = '\0';
    return out;
}

static int b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

uint8_t *pl_base64_decode(const char *s, size_t len, size_t *out_len)
{
    /* EVP_DecodeBlock skips surrounding whitespace and counts padding as
     * data, so the input is checked strictly here first: whole quanta of
     * alphabet characters, with at most two '=' and only at the very end. */
    *out_len = 0;
    if (!s || len % 4 != 0 || len > INT_MAX)
        return NULL;
    size_t pad = 0;
    if (len >= 1 && s[len - 1] == '=')
        pad = len >= 2 && s[len - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < len - pad; i++)
        if (!b64_char((unsigned char)s[i]))
            return NULL;
    uint8_t *out = pl_xmalloc(len / 4 * 3 + 1);
    if (len > 0 && EVP_DecodeBlock(out, (const unsigned char *)s, (int)len) < 0) {
        free(out);
        return NULL;
    }
    *out_len = len / 4 * 3 - pad;
    out[*out_len] = '\0';
    return out;
}
