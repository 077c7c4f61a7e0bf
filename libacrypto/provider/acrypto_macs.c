/*
 * acrypto_macs.c - HMAC over SHA1 and SHA2-256 on acrypto (other digests handed over).
 *
 * As with the digests (acrypto_digests.c), a context is an acrypto stream
 * (bounded memory; dupctx copies it mid-way). The key is kept (cleansed when freed) so that
 * an init without a key starts a new MAC under the previous one, as
 * OpenSSL's HMAC does; each key has its acrypto session.
 *
 * HMAC over a digest acrypto lacks (SHA2-384 in TLS 1.3's
 * TLS_AES_256_GCM_SHA384 key schedule, SHA2-512, ...) is handed, context and
 * all, to the HMAC of another provider of the same library context
 * ("provider!=acrypto", the default provider when it is loaded): an
 * application that loads acrypto next to default loses no HMAC.
 */
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/proverr.h>

#include "acrypto_prov.h"

typedef struct acp_mac_ctx {
    ACP_PROV *prov;
    uint32_t alg; /* ACRYPTO_ALG_HMAC_SHA1 or _SHA256; 0 until a digest is set */
    size_t size;
    unsigned char *key;
    size_t keylen;
    int key_set;
    ACP_SESS sess;
    ACP_STREAM stream;
    EVP_MAC_CTX *other; /* non-NULL: another provider's HMAC does this context's work */
} ACP_MAC_CTX;

static OSSL_FUNC_mac_newctx_fn acp_mac_newctx;
static OSSL_FUNC_mac_dupctx_fn acp_mac_dupctx;
static OSSL_FUNC_mac_freectx_fn acp_mac_freectx;
static OSSL_FUNC_mac_init_fn acp_mac_init;
static OSSL_FUNC_mac_update_fn acp_mac_update;
static OSSL_FUNC_mac_final_fn acp_mac_final;
static OSSL_FUNC_mac_get_ctx_params_fn acp_mac_get_ctx_params;
static OSSL_FUNC_mac_gettable_ctx_params_fn acp_mac_gettable_ctx_params;
static OSSL_FUNC_mac_set_ctx_params_fn acp_mac_set_ctx_params;
static OSSL_FUNC_mac_settable_ctx_params_fn acp_mac_settable_ctx_params;

static void *acp_mac_newctx(void *provctx)
{
    ACP_MAC_CTX *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx != NULL)
        ctx->prov = provctx;
    return ctx;
}

static void acp_mac_freectx(void *vctx)
{
    ACP_MAC_CTX *ctx = vctx;

    if (ctx == NULL)
        return;
    acp_sess_free(&ctx->sess);
    acp_mds_free(&ctx->stream);
    EVP_MAC_CTX_free(ctx->other);
    OPENSSL_clear_free(ctx->key, ctx->keylen);
    OPENSSL_free(ctx);
}

static void *acp_mac_dupctx(void *vctx)
{
    ACP_MAC_CTX *in = vctx, *out = OPENSSL_zalloc(sizeof(*out));

    if (out == NULL)
        return NULL;
    out->prov = in->prov;
    out->alg = in->alg;
    out->size = in->size;
    out->key_set = in->key_set;
    if (in->key != NULL && (out->key = OPENSSL_memdup(in->key, in->keylen ? in->keylen : 1)) == NULL)
        goto fail;
    out->keylen = in->keylen;
    if (!acp_mds_copy(&out->stream, &in->stream))
        goto fail;
    if (in->other != NULL && (out->other = EVP_MAC_CTX_dup(in->other)) == NULL)
        goto fail;
    return out; /* its session is made on first use */
fail:
    acp_mac_freectx(out);
    return NULL;
}

static int acp_mac_set_key(ACP_MAC_CTX *ctx, const unsigned char *key, size_t keylen)
{
    unsigned char *k;

    if (keylen > ACRYPTO_MAX_KEY_LEN) {
        acp_raise(ctx->prov, PROV_R_INVALID_KEY_LENGTH, "HMAC keys up to %d bytes", ACRYPTO_MAX_KEY_LEN);
        return 0;
    }
    if ((k = OPENSSL_malloc(keylen ? keylen : 1)) == NULL)
        return 0;
    if (keylen != 0)
        memcpy(k, key, keylen);
    OPENSSL_clear_free(ctx->key, ctx->keylen);
    ctx->key = k;
    ctx->keylen = keylen;
    ctx->key_set = 1;
    acp_sess_free(&ctx->sess);
    return 1;
}

static int acp_mac_init(void *vctx, const unsigned char *key, size_t keylen, const OSSL_PARAM params[])
{
    ACP_MAC_CTX *ctx = vctx;

    if (!acp_mac_set_ctx_params(ctx, params))
        return 0;
    if (ctx->other != NULL) {
        /* kept too, for a later switch back to a digest acrypto has */
        if (key != NULL && !acp_mac_set_key(ctx, key, keylen))
            return 0;
        return EVP_MAC_init(ctx->other, key, keylen, NULL);
    }
    if (key != NULL && !acp_mac_set_key(ctx, key, keylen))
        return 0;
    if (ctx->alg == 0) {
        acp_raise(ctx->prov, PROV_R_MISSING_MESSAGE_DIGEST, "HMAC needs a digest (SHA1 or SHA2-256)");
        return 0;
    }
    if (!ctx->key_set) {
        acp_raise(ctx->prov, PROV_R_NO_KEY_SET, "HMAC without a key");
        return 0;
    }
    if (!acp_sess_live(&ctx->sess)
        && !acp_sess_make(ctx->prov, &ctx->sess, ctx->alg, ACRYPTO_OP_DIGEST, ctx->key, ctx->keylen))
        return 0;
    return acp_mds_start(ctx->prov, &ctx->stream, ctx->sess.sess, acrypto_alg_name(ctx->alg));
}

static int acp_mac_update(void *vctx, const unsigned char *in, size_t inl)
{
    ACP_MAC_CTX *ctx = vctx;

    if (ctx->other != NULL)
        return EVP_MAC_update(ctx->other, in, inl);
    return acp_mds_update(ctx->prov, &ctx->stream, in, inl, "HMAC");
}

static int acp_mac_final(void *vctx, unsigned char *out, size_t *outl, size_t outsize)
{
    ACP_MAC_CTX *ctx = vctx;

    if (ctx->other != NULL)
        return EVP_MAC_final(ctx->other, out, outl, outsize);
    if (!ctx->key_set || ctx->alg == 0) {
        acp_raise(ctx->prov, PROV_R_NO_KEY_SET, "HMAC final without init");
        return 0;
    }
    if (outsize < ctx->size) {
        acp_raise(ctx->prov, PROV_R_OUTPUT_BUFFER_TOO_SMALL, "HMAC");
        return 0;
    }
    if (!acp_mds_final(ctx->prov, &ctx->stream, out, ctx->size, "HMAC"))
        return 0;
    *outl = ctx->size;
    return 1;
}

static int acp_mac_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    ACP_MAC_CTX *ctx = vctx;
    OSSL_PARAM *p;

    if (ctx->other != NULL)
        return EVP_MAC_CTX_get_params(ctx->other, params);
    if ((p = OSSL_PARAM_locate(params, OSSL_MAC_PARAM_SIZE)) != NULL && !OSSL_PARAM_set_size_t(p, ctx->size))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_MAC_PARAM_BLOCK_SIZE)) != NULL
        && !OSSL_PARAM_set_size_t(p, ctx->alg != 0 ? 64 : 0))
        return 0;
    return 1;
}

static const OSSL_PARAM acp_mac_known_gettable_ctx[] = {
    OSSL_PARAM_size_t(OSSL_MAC_PARAM_SIZE, NULL),
    OSSL_PARAM_size_t(OSSL_MAC_PARAM_BLOCK_SIZE, NULL),
    OSSL_PARAM_END
};

static const OSSL_PARAM *acp_mac_gettable_ctx_params(void *vctx, void *provctx)
{
    (void)vctx;
    (void)provctx;
    return acp_mac_known_gettable_ctx;
}

/*
 * Sets params on the other provider's HMAC, without "properties": a query
 * that names acrypto (provider=acrypto) would make it refuse the very digest
 * acrypto lacks.
 */
static int acp_mac_other_set(EVP_MAC_CTX *other, const OSSL_PARAM params[])
{
    OSSL_PARAM copy[16];
    size_t n = 0;

    for (; params != NULL && params->key != NULL; params++) {
        if (strcmp(params->key, OSSL_MAC_PARAM_PROPERTIES) == 0)
            continue;
        if (n == sizeof(copy) / sizeof(copy[0]) - 1)
            return 0;
        copy[n++] = *params;
    }
    copy[n] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(other, copy);
}

/*
 * A digest acrypto lacks: this context's work goes to another provider's
 * HMAC from here on (the key set so far goes with it).
 */
static int acp_mac_hand_over(ACP_MAC_CTX *ctx, const char *digest, const OSSL_PARAM params[])
{
    if (ctx->other == NULL) {
        EVP_MAC *mac = EVP_MAC_fetch(ctx->prov->libctx, "HMAC", "provider!=acrypto");

        ctx->other = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
        EVP_MAC_free(mac);
        if (ctx->other == NULL) {
            acp_raise(ctx->prov, PROV_R_INVALID_DIGEST,
                      "HMAC over %s: acrypto has SHA1 and SHA2-256, and no other provider has HMAC", digest);
            return 0;
        }
    }
    acp_sess_free(&ctx->sess);
    acp_mds_free(&ctx->stream);
    ctx->alg = 0;
    /* The digest first: the other HMAC keys itself under the digest it has. */
    if (!acp_mac_other_set(ctx->other, params))
        return 0;
    if (ctx->key_set && OSSL_PARAM_locate_const(params, OSSL_MAC_PARAM_KEY) == NULL) {
        OSSL_PARAM kp[2] = { OSSL_PARAM_octet_string(OSSL_MAC_PARAM_KEY, ctx->key, ctx->keylen), OSSL_PARAM_END };

        return EVP_MAC_CTX_set_params(ctx->other, kp);
    }
    return 1;
}

static int acp_mac_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    ACP_MAC_CTX *ctx = vctx;
    const OSSL_PARAM *p;

    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_MAC_PARAM_DIGEST)) != NULL) {
        const char *name = NULL;
        uint32_t alg;

        if (!OSSL_PARAM_get_utf8_string_ptr(p, &name))
            return 0;
        if (strcasecmp(name, "SHA1") == 0 || strcasecmp(name, "SHA-1") == 0 || strcasecmp(name, "SSL3-SHA1") == 0) {
            alg = ACRYPTO_ALG_HMAC_SHA1;
            ctx->size = 20;
        } else if (strcasecmp(name, "SHA2-256") == 0 || strcasecmp(name, "SHA256") == 0
                   || strcasecmp(name, "SHA-256") == 0) {
            alg = ACRYPTO_ALG_HMAC_SHA256;
            ctx->size = 32;
        } else {
            return acp_mac_hand_over(ctx, name, params);
        }
        if (alg != ctx->alg)
            acp_sess_free(&ctx->sess);
        ctx->alg = alg;
        EVP_MAC_CTX_free(ctx->other);
        ctx->other = NULL;
    } else if (ctx->other != NULL) {
        return acp_mac_other_set(ctx->other, params);
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_MAC_PARAM_KEY)) != NULL) {
        if (p->data_type != OSSL_PARAM_OCTET_STRING || !acp_mac_set_key(ctx, p->data, p->data_size))
            return 0;
    }
    /* "properties", "digest-noinit", "digest-oneshot", "tls-data-size": nothing to do. */
    return 1;
}

static const OSSL_PARAM acp_mac_known_settable_ctx[] = {
    OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_PROPERTIES, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_MAC_PARAM_KEY, NULL, 0),
    OSSL_PARAM_END
};

static const OSSL_PARAM *acp_mac_settable_ctx_params(void *vctx, void *provctx)
{
    (void)vctx;
    (void)provctx;
    return acp_mac_known_settable_ctx;
}

static const OSSL_DISPATCH acp_hmac_fns[] = {
    { OSSL_FUNC_MAC_NEWCTX, (void (*)(void))acp_mac_newctx },
    { OSSL_FUNC_MAC_DUPCTX, (void (*)(void))acp_mac_dupctx },
    { OSSL_FUNC_MAC_FREECTX, (void (*)(void))acp_mac_freectx },
    { OSSL_FUNC_MAC_INIT, (void (*)(void))acp_mac_init },
    { OSSL_FUNC_MAC_UPDATE, (void (*)(void))acp_mac_update },
    { OSSL_FUNC_MAC_FINAL, (void (*)(void))acp_mac_final },
    { OSSL_FUNC_MAC_GET_CTX_PARAMS, (void (*)(void))acp_mac_get_ctx_params },
    { OSSL_FUNC_MAC_GETTABLE_CTX_PARAMS, (void (*)(void))acp_mac_gettable_ctx_params },
    { OSSL_FUNC_MAC_SET_CTX_PARAMS, (void (*)(void))acp_mac_set_ctx_params },
    { OSSL_FUNC_MAC_SETTABLE_CTX_PARAMS, (void (*)(void))acp_mac_settable_ctx_params },
    { 0, NULL }
};

const OSSL_ALGORITHM acp_macs[] = {
    { "HMAC", ACP_PROPS, acp_hmac_fns, "HMAC-SHA1 and HMAC-SHA2-256 on acrypto" },
    { NULL, NULL, NULL, NULL }
};
