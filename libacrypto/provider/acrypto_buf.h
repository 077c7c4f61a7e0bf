/*
 * acrypto_buf.h - the growable message buffer of digest and MAC contexts
 * (cleansed when freed or reset: a MAC's message may be secret).
 */
#ifndef ACRYPTO_BUF_H
#define ACRYPTO_BUF_H

#include <string.h>

#include <openssl/crypto.h>

#include "acrypto_prov.h"

typedef struct acp_buf {
    unsigned char *data;
    size_t len;
    size_t cap;
} ACP_BUF;

static inline void acp_buf_reset(ACP_BUF *b)
{
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->len);
    b->len = 0;
}

static inline void acp_buf_free(ACP_BUF *b)
{
    OPENSSL_clear_free(b->data, b->cap);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* 0 when the message would pass ACRYPTO_MAX_DATA_LEN or memory runs out. */
static inline int acp_buf_append(ACP_BUF *b, const unsigned char *p, size_t n)
{
    if (n == 0)
        return 1;
    if (n > (size_t)ACRYPTO_MAX_DATA_LEN - b->len)
        return 0;
    if (b->len + n > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 4096;
        unsigned char *d;

        while (cap < b->len + n)
            cap *= 2;
        if ((d = OPENSSL_clear_realloc(b->data, b->cap, cap)) == NULL)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 1;
}

static inline int acp_buf_copy(ACP_BUF *dst, const ACP_BUF *src)
{
    memset(dst, 0, sizeof(*dst));
    return acp_buf_append(dst, src->data, src->len);
}

/* acrypto_digests.c: one request over a whole message; the shared keyless sessions. */
int acp_digest_run(const ACP_PROV *prov, acrypto_session *sess, uint32_t alg, const ACP_BUF *msg,
                   unsigned char *out, size_t len);
acrypto_session *acp_keyless_session(const ACP_PROV *prov, uint32_t alg);
void acp_keyless_sessions_free(void);

#endif /* ACRYPTO_BUF_H */
