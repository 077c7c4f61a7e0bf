/*
 * acrypto_ciphers.c - AES-128/192/256-ECB/CBC/CTR and AES-128/256-XTS on
 * acrypto, with the context semantics of OpenSSL's own ciphers
 * (providers/implementations/ciphers/ciphercommon.c):
 *  - init with a key, an IV, or both; an init without an IV restarts CBC
 *    from the last IV given; CTR continues its counter;
 *  - ECB/CBC keep a partial block across updates, pad on encryption and
 *    check and strip the padding on decryption when padding is on (a
 *    decryption holds its last full block back until final), and demand
 *    whole blocks when it is off;
 *  - CTR carries the keystream (and "num", the offset in its block) across
 *    calls of any length;
 *  - XTS takes one data unit per update (at least 16 bytes), all with the
 *    IV as the tweak, and refuses keys whose halves are equal;
 *  - dupctx copies the whole state (a new acrypto session on the same key);
 *  - TLS CBC records ("tls-version"): padding added on encryption, explicit
 *    IV and padding stripped on decryption; only encrypt-then-MAC records
 *    ("tls-mac-size" 0): a MAC inside the record is refused with an error.
 * The key is kept in the context (cleansed when freed) so that a forked
 * child, or a change of direction without a new key, can remake the session.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/prov_ssl.h>
#include <openssl/proverr.h>

#include "acrypto_prov.h"

#define ACP_BLOCK 16
#define ACP_MAX_KEY 64
/* IEEE Std 1619-2018: at most 2^20 blocks per data unit (as OpenSSL). */
#define ACP_XTS_MAX (((size_t)1 << 20) * ACP_BLOCK)

typedef struct acp_cipher_info {
    uint32_t alg; /* acrypto_alg */
    unsigned int mode; /* EVP_CIPH_*_MODE */
    size_t keylen;
    size_t ivlen;
    size_t blocksize; /* 16 for ECB/CBC, 1 for the stream modes */
} ACP_CIPHER_INFO;

typedef struct acp_cipher_ctx {
    ACP_PROV *prov;
    const ACP_CIPHER_INFO *info;
    ACP_SESS sess;
    int sess_enc; /* direction the session was made for */
    unsigned int enc : 1;
    unsigned int key_set : 1;
    unsigned int iv_set : 1;
    unsigned int pad : 1;
    unsigned char key[ACP_MAX_KEY];
    unsigned char oiv[ACP_BLOCK]; /* the IV given at init */
    unsigned char iv[ACP_BLOCK]; /* CBC chaining value, CTR counter */
    unsigned char buf[ACP_BLOCK]; /* ECB/CBC partial block; CTR keystream */
    size_t bufsz;
    unsigned int num; /* CTR: bytes of buf's keystream used */
    unsigned int tlsversion;
} ACP_CIPHER_CTX;

static OSSL_FUNC_cipher_freectx_fn acp_cipher_freectx;
static OSSL_FUNC_cipher_dupctx_fn acp_cipher_dupctx;
static OSSL_FUNC_cipher_encrypt_init_fn acp_cipher_einit;
static OSSL_FUNC_cipher_decrypt_init_fn acp_cipher_dinit;
static OSSL_FUNC_cipher_update_fn acp_block_update;
static OSSL_FUNC_cipher_final_fn acp_block_final;
static OSSL_FUNC_cipher_update_fn acp_stream_update;
static OSSL_FUNC_cipher_final_fn acp_stream_final;
static OSSL_FUNC_cipher_cipher_fn acp_cipher_cipher;
static OSSL_FUNC_cipher_get_ctx_params_fn acp_cipher_get_ctx_params;
static OSSL_FUNC_cipher_set_ctx_params_fn acp_cipher_set_ctx_params;
static OSSL_FUNC_cipher_gettable_ctx_params_fn acp_cipher_gettable_ctx_params;
static OSSL_FUNC_cipher_settable_ctx_params_fn acp_cipher_settable_ctx_params;

static void *acp_cipher_newctx_info(void *provctx, const ACP_CIPHER_INFO *info)
{
    ACP_CIPHER_CTX *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->prov = provctx;
    ctx->info = info;
    ctx->pad = 1;
    return ctx;
}

static void acp_cipher_freectx(void *vctx)
{
    ACP_CIPHER_CTX *ctx = vctx;

    if (ctx == NULL)
        return;
    acp_sess_free(&ctx->sess);
    OPENSSL_clear_free(ctx, sizeof(*ctx));
}

static void *acp_cipher_dupctx(void *vctx)
{
    ACP_CIPHER_CTX *in = vctx, *out;

    if ((out = OPENSSL_malloc(sizeof(*out))) == NULL)
        return NULL;
    *out = *in;
    out->sess.sess = NULL;
    out->sess.gen = 0;
    if (in->key_set
        && !acp_sess_make(out->prov, &out->sess, out->info->alg,
                          out->enc || out->info->mode == EVP_CIPH_CTR_MODE ? ACRYPTO_OP_ENCRYPT
                                                                             : ACRYPTO_OP_DECRYPT,
                          out->key, out->info->keylen)) {
        OPENSSL_clear_free(out, sizeof(*out));
        return NULL;
    }
    out->sess_enc = in->sess_enc;
    return out;
}

/* The session for the current direction (made lazily, remade after fork). */
static acrypto_session *acp_cipher_session(ACP_CIPHER_CTX *ctx)
{
    /* CTR is its own inverse: one session serves both directions. */
    int enc = ctx->enc || ctx->info->mode == EVP_CIPH_CTR_MODE;

    if (!ctx->key_set) {
        acp_raise(ctx->prov, PROV_R_NO_KEY_SET, "no key set");
        return NULL;
    }
    if (!acp_sess_live(&ctx->sess) || ctx->sess_enc != enc) {
        if (!acp_sess_make(ctx->prov, &ctx->sess, ctx->info->alg,
                           enc ? ACRYPTO_OP_ENCRYPT : ACRYPTO_OP_DECRYPT, ctx->key,
                           ctx->info->keylen))
            return NULL;
        ctx->sess_enc = enc;
    }
    return ctx->sess.sess;
}

/* One acrypto request over len bytes (in may equal out). */
static int acp_cipher_req(ACP_CIPHER_CTX *ctx, unsigned char *out, const unsigned char *in,
                          size_t len, const unsigned char *iv)
{
    acrypto_session *sess = acp_cipher_session(ctx);
    acrypto_request req = {
        .data = in,
        .data_len = len,
        .out = out,
        .out_len = len,
        .iv = iv,
        .iv_len = iv != NULL ? ctx->info->ivlen : 0,
    };
    acrypto_status st;

    if (sess == NULL)
        return 0;
    if ((st = acp_run(sess, &req, NULL)) != ACRYPTO_STATUS_OK) {
        acp_raise_status(ctx->prov, st, acrypto_alg_name(ctx->info->alg));
        return 0;
    }
    return 1;
}

/* Adds n to the 128-bit big-endian counter. */
static void acp_ctr_add(unsigned char ctr[ACP_BLOCK], uint64_t n)
{
    int i;

    for (i = ACP_BLOCK - 1; i >= 0 && n != 0; i--) {
        n += ctr[i];
        ctr[i] = (unsigned char)n;
        n >>= 8;
    }
}

static int acp_ctr(ACP_CIPHER_CTX *ctx, unsigned char *out, const unsigned char *in, size_t len)
{
    size_t full, tail;

    /* First the rest of the keystream block of the previous call. */
    while (ctx->num != 0 && len != 0) {
        *out++ = *in++ ^ ctx->buf[ctx->num];
        ctx->num = (ctx->num + 1) % ACP_BLOCK;
        len--;
    }
    if (len == 0)
        return 1;
    full = len & ~(size_t)(ACP_BLOCK - 1);
    tail = len - full;
    if (full != 0) {
        if (!acp_cipher_req(ctx, out, in, full, ctx->iv))
            return 0;
        acp_ctr_add(ctx->iv, full / ACP_BLOCK);
    }
    if (tail != 0) {
        /* A block of input padded with zeros: its output past the data is keystream. */
        unsigned char blk[ACP_BLOCK] = { 0 };

        memcpy(blk, in + full, tail);
        if (!acp_cipher_req(ctx, blk, blk, ACP_BLOCK, ctx->iv)) {
            OPENSSL_cleanse(blk, sizeof(blk));
            return 0;
        }
        memcpy(out + full, blk, tail);
        memcpy(ctx->buf + tail, blk + tail, ACP_BLOCK - tail);
        OPENSSL_cleanse(blk, sizeof(blk));
        acp_ctr_add(ctx->iv, 1);
        ctx->num = (unsigned int)tail;
    }
    return 1;
}

/* The mode's transformation of len bytes (whole blocks for ECB/CBC). */
static int acp_cipher_hw(ACP_CIPHER_CTX *ctx, unsigned char *out, const unsigned char *in, size_t len)
{
    unsigned char next[ACP_BLOCK];

    if (len == 0)
        return 1;
    switch (ctx->info->mode) {
    case EVP_CIPH_ECB_MODE:
        return acp_cipher_req(ctx, out, in, len, NULL);
    case EVP_CIPH_CBC_MODE:
        /* The next chaining value: the last ciphertext block (read it before an in-place decrypt). */
        if (!ctx->enc)
            memcpy(next, in + len - ACP_BLOCK, ACP_BLOCK);
        if (!acp_cipher_req(ctx, out, in, len, ctx->iv))
            return 0;
        memcpy(ctx->iv, ctx->enc ? out + len - ACP_BLOCK : next, ACP_BLOCK);
        return 1;
    case EVP_CIPH_CTR_MODE:
        return acp_ctr(ctx, out, in, len);
    case EVP_CIPH_XTS_MODE:
        if (!ctx->iv_set) {
            acp_raise(ctx->prov, PROV_R_INVALID_IV_LENGTH, "XTS needs a tweak (IV)");
            return 0;
        }
        if (len < ACP_BLOCK) {
            acp_raise(ctx->prov, PROV_R_INVALID_INPUT_LENGTH, "an XTS data unit has 16 bytes or more");
            return 0;
        }
        if (len > ACP_XTS_MAX) {
            acp_raise(ctx->prov, PROV_R_XTS_DATA_UNIT_IS_TOO_LARGE, "XTS data unit too large");
            return 0;
        }
        return acp_cipher_req(ctx, out, in, len, ctx->iv);
    default:
        return 0;
    }
}

static int acp_cipher_init(ACP_CIPHER_CTX *ctx, const unsigned char *key, size_t keylen,
                           const unsigned char *iv, size_t ivlen, const OSSL_PARAM params[], int enc)
{
    const ACP_CIPHER_INFO *info = ctx->info;

    if (key != NULL && keylen != info->keylen) {
        acp_raise(ctx->prov, PROV_R_INVALID_KEY_LENGTH, "key of %zu bytes, %zu wanted", keylen,
                  info->keylen);
        return 0;
    }
    if (iv != NULL && info->mode != EVP_CIPH_ECB_MODE && ivlen != info->ivlen) {
        acp_raise(ctx->prov, PROV_R_INVALID_IV_LENGTH, "IV of %zu bytes, %zu wanted", ivlen,
                  info->ivlen);
        return 0;
    }
    if (key != NULL && info->mode == EVP_CIPH_XTS_MODE
        && CRYPTO_memcmp(key, key + keylen / 2, keylen / 2) == 0) {
        acp_raise(ctx->prov, PROV_R_XTS_DUPLICATED_KEYS, "XTS key halves are equal");
        return 0;
    }
    ctx->num = 0;
    ctx->bufsz = 0;
    ctx->enc = enc ? 1 : 0;
    if (iv != NULL && info->mode != EVP_CIPH_ECB_MODE) {
        memcpy(ctx->oiv, iv, info->ivlen);
        memcpy(ctx->iv, iv, info->ivlen);
        ctx->iv_set = 1;
    } else if (ctx->iv_set && info->mode == EVP_CIPH_CBC_MODE) {
        /* Repeated encryption with the same key and IV. */
        memcpy(ctx->iv, ctx->oiv, info->ivlen);
    }
    if (key != NULL) {
        memcpy(ctx->key, key, keylen);
        ctx->key_set = 1;
        acp_sess_free(&ctx->sess);
        if (acp_cipher_session(ctx) == NULL) {
            OPENSSL_cleanse(ctx->key, sizeof(ctx->key));
            ctx->key_set = 0;
            return 0;
        }
    }
    return acp_cipher_set_ctx_params(ctx, params);
}

static int acp_cipher_einit(void *vctx, const unsigned char *key, size_t keylen,
                            const unsigned char *iv, size_t ivlen, const OSSL_PARAM params[])
{
    return acp_cipher_init(vctx, key, keylen, iv, ivlen, params, 1);
}

static int acp_cipher_dinit(void *vctx, const unsigned char *key, size_t keylen,
                            const unsigned char *iv, size_t ivlen, const OSSL_PARAM params[])
{
    return acp_cipher_init(vctx, key, keylen, iv, ivlen, params, 0);
}

/*
 * Strips a TLS 1.1+ CBC record's explicit IV and its padding (the MAC was
 * already checked: encrypt-then-MAC). The padding check runs in time that
 * does not depend on the padding's value.
 */
static int acp_tls_unpad(ACP_CIPHER_CTX *ctx, unsigned char *buf, size_t *len)
{
    size_t n = *len, pad, i, to_check;
    unsigned int bad = 0;

    if (ctx->tlsversion != TLS1_VERSION) {
        if (n < ACP_BLOCK)
            return 0;
        buf += ACP_BLOCK;
        n -= ACP_BLOCK;
    }
    if (n < 1)
        return 0;
    pad = buf[n - 1];
    /* bad != 0 when the record is shorter than its padding. */
    bad |= (unsigned int)((n - (pad + 1)) >> (sizeof(size_t) * 8 - 1));
    to_check = n < 256 ? n : 256;
    for (i = 0; i < to_check; i++) {
        /* mask = 0xff when i <= pad. */
        unsigned int in_pad = (unsigned int)(((size_t)i - pad - 1) >> (sizeof(size_t) * 8 - 1));
        unsigned int mask = 0u - in_pad;

        bad |= mask & (buf[n - 1 - i] ^ (unsigned int)pad);
    }
    if (bad != 0)
        return 0;
    *len = n - (pad + 1);
    return 1;
}

static int acp_tls_update(ACP_CIPHER_CTX *ctx, unsigned char *out, size_t *outl, size_t outsize,
                          const unsigned char *in, size_t inl)
{
    /* Each update is one record, encrypted in place and padded on its own. */
    if (in == NULL || in != out || outsize < inl || !ctx->pad) {
        acp_raise(ctx->prov, PROV_R_CIPHER_OPERATION_FAILED, "TLS record: bad buffers");
        return 0;
    }
    if (ctx->enc) {
        size_t padnum = ACP_BLOCK - (inl % ACP_BLOCK), i;

        if (outsize < inl + padnum) {
            acp_raise(ctx->prov, PROV_R_OUTPUT_BUFFER_TOO_SMALL, "TLS record");
            return 0;
        }
        for (i = inl; i < inl + padnum; i++)
            out[i] = (unsigned char)(padnum - 1);
        inl += padnum;
    }
    if (inl % ACP_BLOCK != 0) {
        acp_raise(ctx->prov, PROV_R_WRONG_FINAL_BLOCK_LENGTH, "TLS record");
        return 0;
    }
    if (!acp_cipher_hw(ctx, out, in, inl))
        return 0;
    *outl = inl;
    if (!ctx->enc && !acp_tls_unpad(ctx, out, outl)) {
        acp_raise(ctx->prov, PROV_R_CIPHER_OPERATION_FAILED, "TLS record: bad padding");
        return 0;
    }
    return 1;
}

static int acp_block_update(void *vctx, unsigned char *out, size_t *outl, size_t outsize,
                            const unsigned char *in, size_t inl)
{
    ACP_CIPHER_CTX *ctx = vctx;
    size_t outlint = 0, nextblocks, take;

    if (!ctx->key_set) {
        acp_raise(ctx->prov, PROV_R_NO_KEY_SET, "no key set");
        return 0;
    }
    if (ctx->tlsversion > 0)
        return acp_tls_update(ctx, out, outl, outsize, in, inl);
    if (ctx->bufsz != 0) {
        take = ACP_BLOCK - ctx->bufsz;
        if (inl < take)
            take = inl;
        memcpy(ctx->buf + ctx->bufsz, in, take);
        ctx->bufsz += take;
        in += take;
        inl -= take;
    }
    nextblocks = inl & ~(size_t)(ACP_BLOCK - 1);
    /*
     * A decryption with padding that ends on a block boundary holds the last
     * block back: it may be the padded one, for final.
     */
    if (ctx->bufsz == ACP_BLOCK && (ctx->enc || inl > 0 || !ctx->pad)) {
        if (outsize < ACP_BLOCK) {
            acp_raise(ctx->prov, PROV_R_OUTPUT_BUFFER_TOO_SMALL, "update");
            return 0;
        }
        if (!acp_cipher_hw(ctx, out, ctx->buf, ACP_BLOCK))
            return 0;
        ctx->bufsz = 0;
        outlint = ACP_BLOCK;
        out += ACP_BLOCK;
    }
    if (nextblocks > 0) {
        if (!ctx->enc && ctx->pad && nextblocks == inl)
            nextblocks -= ACP_BLOCK;
        if (outsize < outlint + nextblocks) {
            acp_raise(ctx->prov, PROV_R_OUTPUT_BUFFER_TOO_SMALL, "update");
            return 0;
        }
        outlint += nextblocks;
    }
    if (nextblocks > 0) {
        if (!acp_cipher_hw(ctx, out, in, nextblocks))
            return 0;
        in += nextblocks;
        inl -= nextblocks;
    }
    if (inl != 0) {
        /* The trailing partial (or held-back) block. */
        memcpy(ctx->buf + ctx->bufsz, in, inl);
        ctx->bufsz += inl;
    }
    *outl = outlint;
    return 1;
}

static int acp_block_final(void *vctx, unsigned char *out, size_t *outl, size_t outsize)
{
    ACP_CIPHER_CTX *ctx = vctx;
    size_t i, pad;

    if (!ctx->key_set) {
        acp_raise(ctx->prov, PROV_R_NO_KEY_SET, "final without a key");
        return 0;
    }
    if (ctx->tlsversion > 0) {
        *outl = 0;
        return 1;
    }
    if (ctx->enc) {
        if (ctx->pad) {
            pad = ACP_BLOCK - ctx->bufsz;
            for (i = ctx->bufsz; i < ACP_BLOCK; i++)
                ctx->buf[i] = (unsigned char)pad;
        } else if (ctx->bufsz == 0) {
            *outl = 0;
            return 1;
        } else if (ctx->bufsz != ACP_BLOCK) {
            acp_raise(ctx->prov, PROV_R_WRONG_FINAL_BLOCK_LENGTH, "data not a multiple of the block size");
            return 0;
        }
        if (outsize < ACP_BLOCK) {
            acp_raise(ctx->prov, PROV_R_OUTPUT_BUFFER_TOO_SMALL, "final");
            return 0;
        }
        if (!acp_cipher_hw(ctx, out, ctx->buf, ACP_BLOCK))
            return 0;
        ctx->bufsz = 0;
        *outl = ACP_BLOCK;
        return 1;
    }
    if (ctx->bufsz != ACP_BLOCK) {
        if (ctx->bufsz == 0 && !ctx->pad) {
            *outl = 0;
            return 1;
        }
        acp_raise(ctx->prov, PROV_R_WRONG_FINAL_BLOCK_LENGTH, "data not a multiple of the block size");
        return 0;
    }
    if (!acp_cipher_hw(ctx, ctx->buf, ctx->buf, ACP_BLOCK))
        return 0;
    if (ctx->pad) {
        unsigned int bad;

        pad = ctx->buf[ACP_BLOCK - 1];
        bad = pad == 0 || pad > ACP_BLOCK;
        for (i = 0; !bad && i < pad; i++)
            bad |= ctx->buf[ACP_BLOCK - 1 - i] != pad;
        if (bad) {
            ctx->bufsz = 0;
            acp_raise(ctx->prov, PROV_R_BAD_DECRYPT, "bad padding");
            return 0;
        }
        ctx->bufsz = ACP_BLOCK - pad;
    }
    if (outsize < ctx->bufsz) {
        acp_raise(ctx->prov, PROV_R_OUTPUT_BUFFER_TOO_SMALL, "final");
        return 0;
    }
    memcpy(out, ctx->buf, ctx->bufsz);
    *outl = ctx->bufsz;
    ctx->bufsz = 0;
    return 1;
}

static int acp_stream_update(void *vctx, unsigned char *out, size_t *outl, size_t outsize,
                             const unsigned char *in, size_t inl)
{
    ACP_CIPHER_CTX *ctx = vctx;

    if (!ctx->key_set) {
        acp_raise(ctx->prov, PROV_R_NO_KEY_SET, "no key set");
        return 0;
    }
    if (inl == 0) {
        *outl = 0;
        return 1;
    }
    if (outsize < inl) {
        acp_raise(ctx->prov, PROV_R_OUTPUT_BUFFER_TOO_SMALL, "update");
        return 0;
    }
    if (!acp_cipher_hw(ctx, out, in, inl))
        return 0;
    *outl = inl;
    return 1;
}

static int acp_stream_final(void *vctx, unsigned char *out, size_t *outl, size_t outsize)
{
    ACP_CIPHER_CTX *ctx = vctx;

    (void)out;
    (void)outsize;
    if (!ctx->key_set) {
        acp_raise(ctx->prov, PROV_R_NO_KEY_SET, "final without a key");
        return 0;
    }
    *outl = 0;
    return 1;
}

static int acp_cipher_cipher(void *vctx, unsigned char *out, size_t *outl, size_t outsize,
                             const unsigned char *in, size_t inl)
{
    ACP_CIPHER_CTX *ctx = vctx;

    if (!ctx->key_set) {
        acp_raise(ctx->prov, PROV_R_NO_KEY_SET, "no key set");
        return 0;
    }
    if (outsize < inl) {
        acp_raise(ctx->prov, PROV_R_OUTPUT_BUFFER_TOO_SMALL, "cipher");
        return 0;
    }
    if (ctx->info->blocksize > 1 && inl % ACP_BLOCK != 0) {
        acp_raise(ctx->prov, PROV_R_WRONG_FINAL_BLOCK_LENGTH, "cipher: not whole blocks");
        return 0;
    }
    if (!acp_cipher_hw(ctx, out, in, inl))
        return 0;
    *outl = inl;
    return 1;
}

static int acp_set_octets(OSSL_PARAM *p, const void *v, size_t len)
{
    if (p->data_type == OSSL_PARAM_OCTET_PTR)
        return OSSL_PARAM_set_octet_ptr(p, v, len);
    return OSSL_PARAM_set_octet_string(p, v, len);
}

static int acp_cipher_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    ACP_CIPHER_CTX *ctx = vctx;
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_IVLEN)) != NULL
        && !OSSL_PARAM_set_size_t(p, ctx->info->ivlen))
        goto fail;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_KEYLEN)) != NULL
        && !OSSL_PARAM_set_size_t(p, ctx->info->keylen))
        goto fail;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_PADDING)) != NULL
        && !OSSL_PARAM_set_uint(p, ctx->pad))
        goto fail;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_NUM)) != NULL
        && !OSSL_PARAM_set_uint(p, ctx->num))
        goto fail;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_IV)) != NULL
        && !acp_set_octets(p, ctx->oiv, ctx->info->ivlen))
        goto fail;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_UPDATED_IV)) != NULL
        && !acp_set_octets(p, ctx->iv, ctx->info->ivlen))
        goto fail;
    if (OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_TLS_MAC) != NULL) {
        /* Only encrypt-then-MAC records: no MAC is ever inside one. */
        acp_raise(ctx->prov, PROV_R_NOT_SUPPORTED, "tls-mac: MAC-then-encrypt records are not supported");
        return 0;
    }
    return 1;
fail:
    acp_raise(ctx->prov, PROV_R_FAILED_TO_SET_PARAMETER, "get_ctx_params");
    return 0;
}

static int acp_cipher_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    ACP_CIPHER_CTX *ctx = vctx;
    const OSSL_PARAM *p;
    unsigned int u;
    size_t sz;

    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_PADDING)) != NULL) {
        if (!OSSL_PARAM_get_uint(p, &u))
            goto fail;
        ctx->pad = u ? 1 : 0;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_NUM)) != NULL) {
        if (!OSSL_PARAM_get_uint(p, &u) || u >= ACP_BLOCK
            || (ctx->info->mode != EVP_CIPH_CTR_MODE && u != 0))
            goto fail;
        ctx->num = u;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_KEYLEN)) != NULL) {
        if (!OSSL_PARAM_get_size_t(p, &sz) || sz != ctx->info->keylen) {
            acp_raise(ctx->prov, PROV_R_INVALID_KEY_LENGTH, "keylen is fixed at %zu", ctx->info->keylen);
            return 0;
        }
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_IVLEN)) != NULL) {
        if (!OSSL_PARAM_get_size_t(p, &sz) || sz != ctx->info->ivlen) {
            acp_raise(ctx->prov, PROV_R_INVALID_IV_LENGTH, "ivlen is fixed at %zu", ctx->info->ivlen);
            return 0;
        }
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_TLS_VERSION)) != NULL) {
        if (!OSSL_PARAM_get_uint(p, &u))
            goto fail;
        if (ctx->info->mode != EVP_CIPH_CBC_MODE || u < TLS1_VERSION || u > TLS1_2_VERSION) {
            acp_raise(ctx->prov, PROV_R_NOT_SUPPORTED, "tls-version %#x: TLS 1.0-1.2 CBC records only", u);
            return 0;
        }
        ctx->tlsversion = u;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_TLS_MAC_SIZE)) != NULL) {
        if (!OSSL_PARAM_get_size_t(p, &sz))
            goto fail;
        if (sz != 0) {
            acp_raise(ctx->prov, PROV_R_NOT_SUPPORTED,
                      "tls-mac-size %zu: MAC-then-encrypt records are not supported (use encrypt-then-mac)", sz);
            return 0;
        }
    }
    return 1;
fail:
    acp_raise(ctx->prov, PROV_R_FAILED_TO_SET_PARAMETER, "set_ctx_params");
    return 0;
}

static const OSSL_PARAM acp_cipher_known_gettable[] = {
    OSSL_PARAM_uint(OSSL_CIPHER_PARAM_MODE, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_KEYLEN, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_IVLEN, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_BLOCK_SIZE, NULL),
    OSSL_PARAM_int(OSSL_CIPHER_PARAM_AEAD, NULL),
    OSSL_PARAM_int(OSSL_CIPHER_PARAM_CUSTOM_IV, NULL),
    OSSL_PARAM_int(OSSL_CIPHER_PARAM_CTS, NULL),
    OSSL_PARAM_int(OSSL_CIPHER_PARAM_TLS1_MULTIBLOCK, NULL),
    OSSL_PARAM_int(OSSL_CIPHER_PARAM_HAS_RAND_KEY, NULL),
    OSSL_PARAM_END
};

const OSSL_PARAM *acp_cipher_gettable_params(void *provctx)
{
    (void)provctx;
    return acp_cipher_known_gettable;
}

int acp_cipher_params(OSSL_PARAM params[], unsigned int mode, size_t keylen, size_t ivlen, size_t blocksize,
                      int aead, int custom_iv)
{
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_MODE)) != NULL && !OSSL_PARAM_set_uint(p, mode))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_KEYLEN)) != NULL && !OSSL_PARAM_set_size_t(p, keylen))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_IVLEN)) != NULL && !OSSL_PARAM_set_size_t(p, ivlen))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_BLOCK_SIZE)) != NULL
        && !OSSL_PARAM_set_size_t(p, blocksize))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_AEAD)) != NULL && !OSSL_PARAM_set_int(p, aead))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_CUSTOM_IV)) != NULL && !OSSL_PARAM_set_int(p, custom_iv))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_CTS)) != NULL && !OSSL_PARAM_set_int(p, 0))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_TLS1_MULTIBLOCK)) != NULL && !OSSL_PARAM_set_int(p, 0))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_HAS_RAND_KEY)) != NULL && !OSSL_PARAM_set_int(p, 0))
        return 0;
    return 1;
}

static const OSSL_PARAM acp_cipher_known_gettable_ctx[] = {
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_KEYLEN, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_IVLEN, NULL),
    OSSL_PARAM_uint(OSSL_CIPHER_PARAM_PADDING, NULL),
    OSSL_PARAM_uint(OSSL_CIPHER_PARAM_NUM, NULL),
    OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_IV, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_UPDATED_IV, NULL, 0),
    OSSL_PARAM_END
};

static const OSSL_PARAM *acp_cipher_gettable_ctx_params(void *cctx, void *provctx)
{
    (void)cctx;
    (void)provctx;
    return acp_cipher_known_gettable_ctx;
}

static const OSSL_PARAM acp_cipher_known_settable_ctx[] = {
    OSSL_PARAM_uint(OSSL_CIPHER_PARAM_PADDING, NULL),
    OSSL_PARAM_uint(OSSL_CIPHER_PARAM_NUM, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_KEYLEN, NULL),
    OSSL_PARAM_uint(OSSL_CIPHER_PARAM_TLS_VERSION, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_TLS_MAC_SIZE, NULL),
    OSSL_PARAM_END
};

static const OSSL_PARAM *acp_cipher_settable_ctx_params(void *cctx, void *provctx)
{
    (void)cctx;
    (void)provctx;
    return acp_cipher_known_settable_ctx;
}

/* One dispatch table per algorithm: its own newctx and get_params. */
#define ACP_CIPHER(lc, ALG, MODE, KEYLEN, IVLEN, BLK, UPD, FIN)                                 \
    static const ACP_CIPHER_INFO acp_info_##lc = { ALG, MODE, KEYLEN, IVLEN, BLK };            \
    static OSSL_FUNC_cipher_newctx_fn acp_newctx_##lc;                                          \
    static OSSL_FUNC_cipher_get_params_fn acp_get_params_##lc;                                  \
    static void *acp_newctx_##lc(void *provctx)                                                 \
    {                                                                                           \
        return acp_cipher_newctx_info(provctx, &acp_info_##lc);                                 \
    }                                                                                           \
    static int acp_get_params_##lc(OSSL_PARAM params[])                                         \
    {                                                                                           \
        const ACP_CIPHER_INFO *i = &acp_info_##lc;                                              \
        return acp_cipher_params(params, i->mode, i->keylen, i->ivlen, i->blocksize, 0,         \
                                 i->mode == EVP_CIPH_XTS_MODE);                                 \
    }                                                                                           \
    static const OSSL_DISPATCH acp_fns_##lc[] = {                                               \
        { OSSL_FUNC_CIPHER_NEWCTX, (void (*)(void))acp_newctx_##lc },                           \
        { OSSL_FUNC_CIPHER_FREECTX, (void (*)(void))acp_cipher_freectx },                       \
        { OSSL_FUNC_CIPHER_DUPCTX, (void (*)(void))acp_cipher_dupctx },                         \
        { OSSL_FUNC_CIPHER_ENCRYPT_INIT, (void (*)(void))acp_cipher_einit },                    \
        { OSSL_FUNC_CIPHER_DECRYPT_INIT, (void (*)(void))acp_cipher_dinit },                    \
        { OSSL_FUNC_CIPHER_UPDATE, (void (*)(void))UPD },                                       \
        { OSSL_FUNC_CIPHER_FINAL, (void (*)(void))FIN },                                        \
        { OSSL_FUNC_CIPHER_CIPHER, (void (*)(void))acp_cipher_cipher },                         \
        { OSSL_FUNC_CIPHER_GET_PARAMS, (void (*)(void))acp_get_params_##lc },                   \
        { OSSL_FUNC_CIPHER_GETTABLE_PARAMS, (void (*)(void))acp_cipher_gettable_params },       \
        { OSSL_FUNC_CIPHER_GET_CTX_PARAMS, (void (*)(void))acp_cipher_get_ctx_params },         \
        { OSSL_FUNC_CIPHER_SET_CTX_PARAMS, (void (*)(void))acp_cipher_set_ctx_params },         \
        { OSSL_FUNC_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))acp_cipher_gettable_ctx_params }, \
        { OSSL_FUNC_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))acp_cipher_settable_ctx_params }, \
        { 0, NULL }                                                                             \
    };

#define ACP_BLOCK_CIPHER(lc, ALG, MODE, KEYLEN, IVLEN) \
    ACP_CIPHER(lc, ALG, MODE, KEYLEN, IVLEN, 16, acp_block_update, acp_block_final)
#define ACP_STREAM_CIPHER(lc, ALG, MODE, KEYLEN) \
    ACP_CIPHER(lc, ALG, MODE, KEYLEN, 16, 1, acp_stream_update, acp_stream_final)

ACP_BLOCK_CIPHER(aes128ecb, ACRYPTO_ALG_AES_128_ECB, EVP_CIPH_ECB_MODE, 16, 0)
ACP_BLOCK_CIPHER(aes192ecb, ACRYPTO_ALG_AES_192_ECB, EVP_CIPH_ECB_MODE, 24, 0)
ACP_BLOCK_CIPHER(aes256ecb, ACRYPTO_ALG_AES_256_ECB, EVP_CIPH_ECB_MODE, 32, 0)
ACP_BLOCK_CIPHER(aes128cbc, ACRYPTO_ALG_AES_128_CBC, EVP_CIPH_CBC_MODE, 16, 16)
ACP_BLOCK_CIPHER(aes192cbc, ACRYPTO_ALG_AES_192_CBC, EVP_CIPH_CBC_MODE, 24, 16)
ACP_BLOCK_CIPHER(aes256cbc, ACRYPTO_ALG_AES_256_CBC, EVP_CIPH_CBC_MODE, 32, 16)
ACP_STREAM_CIPHER(aes128ctr, ACRYPTO_ALG_AES_128_CTR, EVP_CIPH_CTR_MODE, 16)
ACP_STREAM_CIPHER(aes192ctr, ACRYPTO_ALG_AES_192_CTR, EVP_CIPH_CTR_MODE, 24)
ACP_STREAM_CIPHER(aes256ctr, ACRYPTO_ALG_AES_256_CTR, EVP_CIPH_CTR_MODE, 32)
ACP_STREAM_CIPHER(aes128xts, ACRYPTO_ALG_AES_128_XTS, EVP_CIPH_XTS_MODE, 32)
ACP_STREAM_CIPHER(aes256xts, ACRYPTO_ALG_AES_256_XTS, EVP_CIPH_XTS_MODE, 64)

/* OpenSSL's names, aliases and OIDs (providers/implementations/include/prov/names.h). */
const OSSL_ALGORITHM acp_ciphers[] = {
    { "AES-256-ECB:2.16.840.1.101.3.4.1.41", ACP_PROPS, acp_fns_aes256ecb, "AES-256-ECB on acrypto" },
    { "AES-192-ECB:2.16.840.1.101.3.4.1.21", ACP_PROPS, acp_fns_aes192ecb, "AES-192-ECB on acrypto" },
    { "AES-128-ECB:2.16.840.1.101.3.4.1.1", ACP_PROPS, acp_fns_aes128ecb, "AES-128-ECB on acrypto" },
    { "AES-256-CBC:AES256:2.16.840.1.101.3.4.1.42", ACP_PROPS, acp_fns_aes256cbc, "AES-256-CBC on acrypto" },
    { "AES-192-CBC:AES192:2.16.840.1.101.3.4.1.22", ACP_PROPS, acp_fns_aes192cbc, "AES-192-CBC on acrypto" },
    { "AES-128-CBC:AES128:2.16.840.1.101.3.4.1.2", ACP_PROPS, acp_fns_aes128cbc, "AES-128-CBC on acrypto" },
    { "AES-256-CTR", ACP_PROPS, acp_fns_aes256ctr, "AES-256-CTR on acrypto" },
    { "AES-192-CTR", ACP_PROPS, acp_fns_aes192ctr, "AES-192-CTR on acrypto" },
    { "AES-128-CTR", ACP_PROPS, acp_fns_aes128ctr, "AES-128-CTR on acrypto" },
    { "AES-256-XTS:1.3.111.2.1619.0.1.2", ACP_PROPS, acp_fns_aes256xts, "AES-256-XTS on acrypto" },
    { "AES-128-XTS:1.3.111.2.1619.0.1.1", ACP_PROPS, acp_fns_aes128xts, "AES-128-XTS on acrypto" },
    { "AES-256-GCM:id-aes256-GCM:2.16.840.1.101.3.4.1.46", ACP_PROPS, acp_fns_aes256gcm, "AES-256-GCM on acrypto" },
    { "AES-192-GCM:id-aes192-GCM:2.16.840.1.101.3.4.1.26", ACP_PROPS, acp_fns_aes192gcm, "AES-192-GCM on acrypto" },
    { "AES-128-GCM:id-aes128-GCM:2.16.840.1.101.3.4.1.6", ACP_PROPS, acp_fns_aes128gcm, "AES-128-GCM on acrypto" },
    { "ChaCha20-Poly1305", ACP_PROPS, acp_fns_chacha20poly1305, "ChaCha20-Poly1305 on acrypto" },
    { NULL, NULL, NULL, NULL }
};
