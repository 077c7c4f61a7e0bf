/*
 * acrypto_aead.c - AES-128/192/256-GCM and ChaCha20-Poly1305 on acrypto,
 * with the parameters of OpenSSL's own AEAD ciphers
 * (providers/implementations/ciphers/ciphercommon_gcm.c and
 * cipher_chacha20_poly1305.c).
 *
 * acrypto's AEAD is one-shot: one request seals or opens a whole message.
 * So a context buffers what update gives it (AAD through update with
 * out == NULL, then the data, bounded by acrypto's per-request limit of
 * ACRYPTO_MAX_DATA_LEN: beyond it update fails with an error) and runs the
 * seal or open at final, which writes the whole output: update reports 0
 * bytes, final all of them (as OpenSSL's own, final ignores outsize: the
 * caller's buffer at final must hold the whole message). A decryption
 * releases no plaintext unless the tag verifies (acrypto writes nothing on
 * a failed open). libssl's TLS 1.3 record layer (tls13_enc) takes lenu 0
 * from update and the rest from final.
 *
 *  - IV: 12 bytes (the only nonce length acrypto's AEAD takes); any other
 *    "ivlen" is refused with an error. After a final the IV is used up: a
 *    new message needs a new IV (init with one), as OpenSSL's GCM.
 *  - Tag: "tag" get after an encryption's final (1 to 16 bytes), set before
 *    a decryption's final (GCM 12 to 16 bytes, the lengths acrypto's open
 *    takes; ChaCha20-Poly1305 16), "taglen". A tag set before the init
 *    that gives key and IV is kept (as OpenSSL's GCM keeps it); a tag
 *    checks one message (a decryption final uses it up).
 *  - TLS 1.2 records: "tlsaad" (13 bytes; returns the pad, "tlsaadpad"),
 *    then one update over the whole record in place. GCM: "tlsivfixed" (the
 *    4-byte fixed part; the 8-byte explicit part is counted by the context
 *    on encryption and read from the record on decryption), "tlsivgen" and
 *    "tlsivinv" as libssl uses them. ChaCha20-Poly1305: the nonce is the IV
 *    XOR the record's sequence number (RFC 7905).
 * Inside an ASYNC job the seal/open pauses the job (acp_run).
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/proverr.h>
#include <openssl/rand.h>

#include "acrypto_buf.h"
#include "acrypto_prov.h"

#define ACP_AEAD_IVLEN 12
#define ACP_AEAD_TAGLEN 16
#define ACP_TLS_AAD_LEN 13 /* EVP_AEAD_TLS1_AAD_LEN */
#define ACP_GCM_FIXED_LEN 4 /* EVP_GCM_TLS_FIXED_IV_LEN */
#define ACP_GCM_EXPLICIT_LEN 8 /* EVP_GCM_TLS_EXPLICIT_IV_LEN */

typedef struct acp_aead_info {
    uint32_t alg;
    unsigned int mode; /* EVP_CIPH_GCM_MODE, or 0 (stream) for ChaCha20-Poly1305 */
    size_t keylen;
    size_t min_dec_tag; /* shortest tag acrypto's open takes */
} ACP_AEAD_INFO;

typedef struct acp_aead_ctx {
    ACP_PROV *prov;
    const ACP_AEAD_INFO *info;
    ACP_SESS sess;
    int sess_enc;
    unsigned int enc : 1;
    unsigned int key_set : 1;
    unsigned int iv_set : 1; /* an IV for the next message */
    unsigned int iv_gen : 1; /* GCM TLS: fixed part set, the context counts */
    unsigned int data_seen : 1; /* data given: no more AAD */
    unsigned int tag_ready : 1; /* encryption: tag computed by final */
    unsigned int tag_given : 1; /* decryption: expected tag set */
    size_t taglen; /* 0 = not set (16) */
    size_t tls_aad_len; /* 0 or 13: next update is a TLS record */
    size_t tls_payload; /* ChaCha TLS: payload length from the AAD */
    unsigned char key[32];
    unsigned char iv[ACP_AEAD_IVLEN];
    unsigned char tag[ACP_AEAD_TAGLEN];
    unsigned char tls_aad[ACP_TLS_AAD_LEN];
    ACP_BUF aad;
    ACP_BUF data;
} ACP_AEAD_CTX;

static OSSL_FUNC_cipher_freectx_fn acp_aead_freectx;
static OSSL_FUNC_cipher_dupctx_fn acp_aead_dupctx;
static OSSL_FUNC_cipher_encrypt_init_fn acp_aead_einit;
static OSSL_FUNC_cipher_decrypt_init_fn acp_aead_dinit;
static OSSL_FUNC_cipher_update_fn acp_aead_update;
static OSSL_FUNC_cipher_final_fn acp_aead_final;
static OSSL_FUNC_cipher_cipher_fn acp_aead_cipher;
static OSSL_FUNC_cipher_get_ctx_params_fn acp_aead_get_ctx_params;
static OSSL_FUNC_cipher_set_ctx_params_fn acp_aead_set_ctx_params;
static OSSL_FUNC_cipher_gettable_ctx_params_fn acp_aead_gettable_ctx_params;
static OSSL_FUNC_cipher_settable_ctx_params_fn acp_aead_settable_ctx_params;

static void *acp_aead_newctx_info(void *provctx, const ACP_AEAD_INFO *info)
{
    ACP_AEAD_CTX *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->prov = provctx;
    ctx->info = info;
    return ctx;
}

static void acp_aead_freectx(void *vctx)
{
    ACP_AEAD_CTX *ctx = vctx;

    if (ctx == NULL)
        return;
    acp_sess_free(&ctx->sess);
    acp_buf_free(&ctx->aad);
    acp_buf_free(&ctx->data);
    OPENSSL_clear_free(ctx, sizeof(*ctx));
}

static acrypto_session *acp_aead_session(ACP_AEAD_CTX *ctx)
{
    int enc = ctx->enc;

    if (!ctx->key_set) {
        acp_raise(ctx->prov, PROV_R_NO_KEY_SET, "no key set");
        return NULL;
    }
    if (!acp_sess_live(&ctx->sess) || ctx->sess_enc != enc) {
        if (!acp_sess_make(ctx->prov, &ctx->sess, ctx->info->alg, enc ? ACRYPTO_OP_ENCRYPT : ACRYPTO_OP_DECRYPT,
                           ctx->key, ctx->info->keylen))
            return NULL;
        ctx->sess_enc = enc;
    }
    return ctx->sess.sess;
}

static void *acp_aead_dupctx(void *vctx)
{
    ACP_AEAD_CTX *in = vctx, *out;

    if ((out = OPENSSL_malloc(sizeof(*out))) == NULL)
        return NULL;
    *out = *in;
    out->sess.sess = NULL;
    out->sess.gen = 0;
    memset(&out->aad, 0, sizeof(out->aad));
    memset(&out->data, 0, sizeof(out->data));
    if (!acp_buf_copy(&out->aad, &in->aad) || !acp_buf_copy(&out->data, &in->data)
        || (in->key_set && acp_aead_session(out) == NULL)) {
        acp_aead_freectx(out);
        return NULL;
    }
    return out;
}

static void acp_aead_reset_msg(ACP_AEAD_CTX *ctx)
{
    acp_buf_reset(&ctx->aad);
    acp_buf_reset(&ctx->data);
    ctx->data_seen = 0;
    ctx->tag_ready = 0;
}

static int acp_aead_init(ACP_AEAD_CTX *ctx, const unsigned char *key, size_t keylen, const unsigned char *iv,
                         size_t ivlen, const OSSL_PARAM params[], int enc)
{
    if (key != NULL && keylen != ctx->info->keylen) {
        acp_raise(ctx->prov, PROV_R_INVALID_KEY_LENGTH, "key of %zu bytes, %zu wanted", keylen, ctx->info->keylen);
        return 0;
    }
    if (iv != NULL && ivlen != ACP_AEAD_IVLEN) {
        acp_raise(ctx->prov, PROV_R_INVALID_IV_LENGTH, "IV of %zu bytes: acrypto's AEAD takes 12", ivlen);
        return 0;
    }
    ctx->enc = enc ? 1 : 0;
    acp_aead_reset_msg(ctx);
    ctx->tls_aad_len = 0;
    if (iv != NULL) {
        memcpy(ctx->iv, iv, ACP_AEAD_IVLEN);
        ctx->iv_set = 1;
        ctx->iv_gen = 0;
    }
    /*
     * A decryption keeps a tag set before this init (OpenSSL's GCM does:
     * evp_test sets the tag, then the key and IV); an encryption has none.
     */
    if (ctx->enc)
        ctx->tag_given = 0;
    if (key != NULL) {
        memcpy(ctx->key, key, keylen);
        ctx->key_set = 1;
        acp_sess_free(&ctx->sess);
        if (acp_aead_session(ctx) == NULL) {
            OPENSSL_cleanse(ctx->key, sizeof(ctx->key));
            ctx->key_set = 0;
            return 0;
        }
    }
    return acp_aead_set_ctx_params(ctx, params);
}

static int acp_aead_einit(void *vctx, const unsigned char *key, size_t keylen, const unsigned char *iv,
                          size_t ivlen, const OSSL_PARAM params[])
{
    return acp_aead_init(vctx, key, keylen, iv, ivlen, params, 1);
}

static int acp_aead_dinit(void *vctx, const unsigned char *key, size_t keylen, const unsigned char *iv,
                          size_t ivlen, const OSSL_PARAM params[])
{
    return acp_aead_init(vctx, key, keylen, iv, ivlen, params, 0);
}

/*
 * One seal (enc) or open over len bytes: out gets len bytes; a seal writes
 * its 16-byte tag to tag, an open checks taglen bytes of tag. 1, or 0 with
 * an error raised (an open that fails writes nothing to out).
 */
static int acp_aead_run(ACP_AEAD_CTX *ctx, unsigned char *out, const unsigned char *in, size_t len,
                        const unsigned char *iv, const unsigned char *aad, size_t aadlen, unsigned char *tag,
                        size_t taglen)
{
    acrypto_session *sess = acp_aead_session(ctx);
    acrypto_request req = {
        .data = in,
        .data_len = len,
        .out = out,
        .out_len = len,
        .iv = iv,
        .iv_len = ACP_AEAD_IVLEN,
        .tag = tag,
        .tag_len = taglen,
        .aad = aad,
        .aad_len = aadlen,
    };
    acrypto_status st;

    if (sess == NULL)
        return 0;
    /* acrypto reads from and writes to no buffer for an empty message. */
    if (len == 0) {
        req.data = NULL;
        req.out = NULL;
        req.out_len = 0;
    }
    if ((st = acp_run(sess, &req, NULL)) != ACRYPTO_STATUS_OK) {
        if (st == ACRYPTO_STATUS_VERIFY_FAILED)
            acp_raise(ctx->prov, PROV_R_BAD_DECRYPT, "%s: the tag does not verify", acrypto_alg_name(ctx->info->alg));
        else
            acp_raise_status(ctx->prov, st, acrypto_alg_name(ctx->info->alg));
        return 0;
    }
    return 1;
}

/* The big-endian 64-bit invocation field of a GCM TLS nonce, plus one. */
static void acp_ctr64_inc(unsigned char *c)
{
    int i;

    for (i = 7; i >= 0; i--)
        if (++c[i] != 0)
            break;
}

/* One whole TLS 1.2 record, in place (after "tlsaad"). */
static int acp_aead_tls(ACP_AEAD_CTX *ctx, unsigned char *out, size_t *outl, const unsigned char *in, size_t len)
{
    size_t aadlen = ctx->tls_aad_len, n;
    int ok;

    ctx->tls_aad_len = 0; /* one record per tlsaad */
    if (in == NULL || out != in) {
        acp_raise(ctx->prov, PROV_R_CIPHER_OPERATION_FAILED, "TLS record: not in place");
        return 0;
    }
    if (ctx->info->mode == EVP_CIPH_GCM_MODE) {
        unsigned char nonce[ACP_AEAD_IVLEN];

        if (!ctx->iv_gen || len < ACP_GCM_EXPLICIT_LEN + ACP_AEAD_TAGLEN) {
            acp_raise(ctx->prov, PROV_R_CIPHER_OPERATION_FAILED, "TLS GCM record: no fixed IV or too short");
            return 0;
        }
        n = len - ACP_GCM_EXPLICIT_LEN - ACP_AEAD_TAGLEN;
        if (ctx->enc) {
            memcpy(out, ctx->iv + ACP_GCM_FIXED_LEN, ACP_GCM_EXPLICIT_LEN);
            memcpy(nonce, ctx->iv, ACP_AEAD_IVLEN);
            acp_ctr64_inc(ctx->iv + ACP_GCM_FIXED_LEN);
        } else {
            memcpy(ctx->iv + ACP_GCM_FIXED_LEN, in, ACP_GCM_EXPLICIT_LEN);
            memcpy(nonce, ctx->iv, ACP_AEAD_IVLEN);
        }
        ok = acp_aead_run(ctx, out + ACP_GCM_EXPLICIT_LEN, in + ACP_GCM_EXPLICIT_LEN, n, nonce, ctx->tls_aad, aadlen,
                          out + ACP_GCM_EXPLICIT_LEN + n, ACP_AEAD_TAGLEN);
        if (!ok)
            return 0;
        *outl = ctx->enc ? len : n;
        return 1;
    }
    /* ChaCha20-Poly1305 (RFC 7905): nonce = IV XOR (0^32 || sequence number). */
    {
        unsigned char nonce[ACP_AEAD_IVLEN];
        int i;

        n = ctx->tls_payload;
        if (len != n + ACP_AEAD_TAGLEN) {
            acp_raise(ctx->prov, PROV_R_CIPHER_OPERATION_FAILED, "TLS ChaCha20-Poly1305 record: wrong length");
            return 0;
        }
        memcpy(nonce, ctx->iv, ACP_AEAD_IVLEN);
        for (i = 0; i < 8; i++)
            nonce[4 + i] ^= ctx->tls_aad[i];
        if (!acp_aead_run(ctx, out, in, n, nonce, ctx->tls_aad, aadlen, out + n, ACP_AEAD_TAGLEN))
            return 0;
        *outl = ctx->enc ? len : n;
        return 1;
    }
}

static int acp_aead_update(void *vctx, unsigned char *out, size_t *outl, size_t outsize, const unsigned char *in,
                           size_t inl)
{
    ACP_AEAD_CTX *ctx = vctx;

    (void)outsize;
    if (!ctx->key_set) {
        acp_raise(ctx->prov, PROV_R_NO_KEY_SET, "no key set");
        return 0;
    }
    if (ctx->tls_aad_len != 0)
        return acp_aead_tls(ctx, out, outl, in, inl);
    if (!ctx->iv_set) {
        acp_raise(ctx->prov, PROV_R_INVALID_IV_LENGTH, "no IV set (a used IV needs renewing)");
        return 0;
    }
    *outl = 0;
    if (inl == 0)
        return 1;
    if (in == NULL) {
        acp_raise(ctx->prov, PROV_R_INVALID_INPUT_LENGTH, "update: no input");
        return 0;
    }
    if (out == NULL) {
        if (ctx->data_seen) {
            acp_raise(ctx->prov, PROV_R_CIPHER_OPERATION_FAILED, "AAD after data");
            return 0;
        }
        if (!acp_buf_append(&ctx->aad, in, inl)) {
            acp_raise(ctx->prov, PROV_R_INVALID_INPUT_LENGTH, "AAD beyond acrypto's per-request limit (%d bytes)",
                      ACRYPTO_MAX_DATA_LEN);
            return 0;
        }
        return 1;
    }
    ctx->data_seen = 1;
    if (!acp_buf_append(&ctx->data, in, inl)) {
        acp_raise(ctx->prov, PROV_R_INVALID_INPUT_LENGTH,
                  "message beyond acrypto's per-request limit (%d bytes): acrypto's AEAD is one-shot",
                  ACRYPTO_MAX_DATA_LEN);
        return 0;
    }
    return 1;
}

static int acp_aead_final(void *vctx, unsigned char *out, size_t *outl, size_t outsize)
{
    ACP_AEAD_CTX *ctx = vctx;
    size_t n;
    int ok;

    /* As OpenSSL's own AEADs, final ignores outsize (EVP passes 0 for a stream cipher). */
    (void)outsize;
    if (!ctx->key_set) {
        acp_raise(ctx->prov, PROV_R_NO_KEY_SET, "final without a key");
        return 0;
    }
    if (!ctx->iv_set) {
        acp_raise(ctx->prov, PROV_R_INVALID_IV_LENGTH, "final without an IV");
        return 0;
    }
    n = ctx->data.len;
    if (n != 0 && out == NULL) {
        acp_raise(ctx->prov, PROV_R_CIPHER_OPERATION_FAILED, "final: no output buffer");
        return 0;
    }
    if (ctx->enc) {
        ok = acp_aead_run(ctx, out, ctx->data.data, n, ctx->iv, ctx->aad.data, ctx->aad.len, ctx->tag,
                          ACP_AEAD_TAGLEN);
    } else {
        size_t tl = ctx->taglen != 0 ? ctx->taglen : ACP_AEAD_TAGLEN;

        if (!ctx->tag_given) {
            acp_raise(ctx->prov, PROV_R_TAG_NOT_SET, "decryption final without a tag");
            ok = 0;
        } else if (tl < ctx->info->min_dec_tag) {
            acp_raise(ctx->prov, PROV_R_INVALID_TAG_LENGTH, "a tag of %zu bytes: acrypto's open takes %zu to 16", tl,
                      ctx->info->min_dec_tag);
            ok = 0;
        } else {
            ok = acp_aead_run(ctx, out, ctx->data.data, n, ctx->iv, ctx->aad.data, ctx->aad.len, ctx->tag, tl);
        }
    }
    /*
     * The IV is used up, whatever the outcome (no nonce reuse by mistake),
     * and so is a decryption's tag (it checks one message).
     */
    ctx->iv_set = 0;
    ctx->tag_given = 0;
    acp_aead_reset_msg(ctx);
    if (!ok)
        return 0;
    ctx->tag_ready = ctx->enc;
    *outl = n;
    return 1;
}

static int acp_aead_cipher(void *vctx, unsigned char *out, size_t *outl, size_t outsize, const unsigned char *in,
                           size_t inl)
{
    ACP_AEAD_CTX *ctx = vctx;

    if (ctx->tls_aad_len != 0)
        return acp_aead_update(vctx, out, outl, outsize, in, inl);
    if (in == NULL)
        return acp_aead_final(vctx, out, outl, outsize);
    return acp_aead_update(vctx, out, outl, outsize, in, inl);
}

static int acp_aead_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    ACP_AEAD_CTX *ctx = vctx;
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_IVLEN)) != NULL
        && !OSSL_PARAM_set_size_t(p, ACP_AEAD_IVLEN))
        goto fail;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_KEYLEN)) != NULL
        && !OSSL_PARAM_set_size_t(p, ctx->info->keylen))
        goto fail;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_AEAD_TAGLEN)) != NULL
        && !OSSL_PARAM_set_size_t(p, ctx->taglen != 0 ? ctx->taglen : ACP_AEAD_TAGLEN))
        goto fail;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD)) != NULL
        && !OSSL_PARAM_set_size_t(p, ACP_AEAD_TAGLEN))
        goto fail;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_IV)) != NULL
        && !OSSL_PARAM_set_octet_string(p, ctx->iv, ACP_AEAD_IVLEN)
        && !OSSL_PARAM_set_octet_ptr(p, ctx->iv, ACP_AEAD_IVLEN))
        goto fail;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_UPDATED_IV)) != NULL
        && !OSSL_PARAM_set_octet_string(p, ctx->iv, ACP_AEAD_IVLEN)
        && !OSSL_PARAM_set_octet_ptr(p, ctx->iv, ACP_AEAD_IVLEN))
        goto fail;
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_AEAD_TAG)) != NULL) {
        if (p->data_type != OSSL_PARAM_OCTET_STRING || p->data_size == 0 || p->data_size > ACP_AEAD_TAGLEN) {
            acp_raise(ctx->prov, PROV_R_INVALID_TAG_LENGTH, "tag of %zu bytes", p->data_size);
            return 0;
        }
        if (!ctx->enc || !ctx->tag_ready) {
            acp_raise(ctx->prov, PROV_R_TAG_NOT_SET, "the tag is known after an encryption's final");
            return 0;
        }
        memcpy(p->data, ctx->tag, p->data_size);
        p->return_size = p->data_size;
    }
    if ((p = OSSL_PARAM_locate(params, OSSL_CIPHER_PARAM_AEAD_TLS1_GET_IV_GEN)) != NULL) {
        /* GCM: the nonce's last bytes for this record, then count on. */
        size_t sz = p->data_size;

        if (ctx->info->mode != EVP_CIPH_GCM_MODE || !ctx->iv_gen || !ctx->key_set
            || p->data_type != OSSL_PARAM_OCTET_STRING) {
            acp_raise(ctx->prov, PROV_R_CIPHER_OPERATION_FAILED, "tlsivgen: no fixed IV set");
            return 0;
        }
        if (sz == 0 || sz > ACP_AEAD_IVLEN)
            sz = ACP_AEAD_IVLEN;
        memcpy(p->data, ctx->iv + ACP_AEAD_IVLEN - sz, sz);
        p->return_size = sz;
        acp_ctr64_inc(ctx->iv + ACP_GCM_FIXED_LEN);
        ctx->iv_set = 1;
    }
    return 1;
fail:
    acp_raise(ctx->prov, PROV_R_FAILED_TO_SET_PARAMETER, "get_ctx_params");
    return 0;
}

/* "tlsaad": the 13-byte TLS 1.2 additional data (sequence, type, version, length). */
static int acp_aead_tls_aad(ACP_AEAD_CTX *ctx, const OSSL_PARAM *p)
{
    size_t len;

    if (p->data_type != OSSL_PARAM_OCTET_STRING || p->data_size != ACP_TLS_AAD_LEN) {
        acp_raise(ctx->prov, PROV_R_INVALID_AAD, "tlsaad of %zu bytes, 13 wanted", p->data_size);
        return 0;
    }
    memcpy(ctx->tls_aad, p->data, ACP_TLS_AAD_LEN);
    len = (size_t)ctx->tls_aad[ACP_TLS_AAD_LEN - 2] << 8 | ctx->tls_aad[ACP_TLS_AAD_LEN - 1];
    if (ctx->info->mode == EVP_CIPH_GCM_MODE) {
        if (len < ACP_GCM_EXPLICIT_LEN)
            goto bad;
        len -= ACP_GCM_EXPLICIT_LEN;
    }
    if (!ctx->enc) {
        if (len < ACP_AEAD_TAGLEN)
            goto bad;
        len -= ACP_AEAD_TAGLEN;
    }
    ctx->tls_aad[ACP_TLS_AAD_LEN - 2] = (unsigned char)(len >> 8);
    ctx->tls_aad[ACP_TLS_AAD_LEN - 1] = (unsigned char)len;
    ctx->tls_payload = len;
    ctx->tls_aad_len = ACP_TLS_AAD_LEN;
    return 1;
bad:
    acp_raise(ctx->prov, PROV_R_INVALID_AAD, "tlsaad: record length too short");
    return 0;
}

static int acp_aead_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    ACP_AEAD_CTX *ctx = vctx;
    const OSSL_PARAM *p;
    size_t sz;

    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_KEYLEN)) != NULL) {
        if (!OSSL_PARAM_get_size_t(p, &sz) || sz != ctx->info->keylen) {
            acp_raise(ctx->prov, PROV_R_INVALID_KEY_LENGTH, "keylen is fixed at %zu", ctx->info->keylen);
            return 0;
        }
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_AEAD_IVLEN)) != NULL) {
        if (!OSSL_PARAM_get_size_t(p, &sz) || sz != ACP_AEAD_IVLEN) {
            acp_raise(ctx->prov, PROV_R_INVALID_IV_LENGTH, "IV length %zu: acrypto's AEAD takes 12-byte nonces only",
                      sz);
            return 0;
        }
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_AEAD_TAG)) != NULL) {
        if (p->data_type != OSSL_PARAM_OCTET_STRING || p->data_size == 0 || p->data_size > ACP_AEAD_TAGLEN) {
            acp_raise(ctx->prov, PROV_R_INVALID_TAG_LENGTH, "tag of %zu bytes (1 to 16)", p->data_size);
            return 0;
        }
        if (p->data != NULL) {
            if (ctx->enc) {
                acp_raise(ctx->prov, PROV_R_TAG_NOT_NEEDED, "an encryption computes its tag");
                return 0;
            }
            memcpy(ctx->tag, p->data, p->data_size);
            ctx->tag_given = 1;
        }
        ctx->taglen = p->data_size;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_AEAD_TLS1_AAD)) != NULL && !acp_aead_tls_aad(ctx, p))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED)) != NULL) {
        if (p->data_type != OSSL_PARAM_OCTET_STRING)
            goto fail;
        sz = p->data_size;
        if (ctx->info->mode == EVP_CIPH_GCM_MODE) {
            if (sz == ACP_AEAD_IVLEN) {
                memcpy(ctx->iv, p->data, sz);
            } else if (sz >= ACP_GCM_FIXED_LEN && ACP_AEAD_IVLEN - sz >= ACP_GCM_EXPLICIT_LEN) {
                memcpy(ctx->iv, p->data, sz);
                /* The invocation field starts at random on encryption (as OpenSSL). */
                if (ctx->enc && RAND_bytes_ex(ctx->prov->libctx, ctx->iv + sz, ACP_AEAD_IVLEN - sz, 0) <= 0)
                    return 0;
            } else {
                acp_raise(ctx->prov, PROV_R_INVALID_IV_LENGTH, "tlsivfixed of %zu bytes", sz);
                return 0;
            }
            ctx->iv_gen = 1;
            ctx->iv_set = 1;
        } else {
            if (sz != ACP_AEAD_IVLEN) {
                acp_raise(ctx->prov, PROV_R_INVALID_IV_LENGTH, "tlsivfixed of %zu bytes, 12 wanted", sz);
                return 0;
            }
            memcpy(ctx->iv, p->data, sz);
            ctx->iv_set = 1;
        }
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_CIPHER_PARAM_AEAD_TLS1_SET_IV_INV)) != NULL) {
        if (p->data_type != OSSL_PARAM_OCTET_STRING || ctx->info->mode != EVP_CIPH_GCM_MODE || !ctx->iv_gen
            || ctx->enc || p->data_size == 0 || p->data_size > ACP_GCM_EXPLICIT_LEN) {
            acp_raise(ctx->prov, PROV_R_CIPHER_OPERATION_FAILED, "tlsivinv: a decryption's explicit IV after tlsivfixed");
            return 0;
        }
        memcpy(ctx->iv + ACP_AEAD_IVLEN - p->data_size, p->data, p->data_size);
        ctx->iv_set = 1;
    }
    return 1;
fail:
    acp_raise(ctx->prov, PROV_R_FAILED_TO_SET_PARAMETER, "set_ctx_params");
    return 0;
}

static const OSSL_PARAM acp_aead_known_gettable_ctx[] = {
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_KEYLEN, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_IVLEN, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_AEAD_TAGLEN, NULL),
    OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_IV, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_UPDATED_IV, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, NULL, 0),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_AEAD_TLS1_AAD_PAD, NULL),
    OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_GET_IV_GEN, NULL, 0),
    OSSL_PARAM_END
};

static const OSSL_PARAM *acp_aead_gettable_ctx_params(void *cctx, void *provctx)
{
    (void)cctx;
    (void)provctx;
    return acp_aead_known_gettable_ctx;
}

static const OSSL_PARAM acp_aead_known_settable_ctx[] = {
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_KEYLEN, NULL),
    OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, NULL),
    OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_AAD, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_SET_IV_INV, NULL, 0),
    OSSL_PARAM_END
};

static const OSSL_PARAM *acp_aead_settable_ctx_params(void *cctx, void *provctx)
{
    (void)cctx;
    (void)provctx;
    return acp_aead_known_settable_ctx;
}

#define ACP_AEAD(lc, ALG, MODE, KEYLEN, MINTAG)                                                \
    static const ACP_AEAD_INFO acp_ainfo_##lc = { ALG, MODE, KEYLEN, MINTAG };                \
    static OSSL_FUNC_cipher_newctx_fn acp_anewctx_##lc;                                        \
    static OSSL_FUNC_cipher_get_params_fn acp_aget_params_##lc;                                \
    static void *acp_anewctx_##lc(void *provctx)                                               \
    {                                                                                          \
        return acp_aead_newctx_info(provctx, &acp_ainfo_##lc);                                 \
    }                                                                                          \
    static int acp_aget_params_##lc(OSSL_PARAM params[])                                       \
    {                                                                                          \
        return acp_cipher_params(params, acp_ainfo_##lc.mode, acp_ainfo_##lc.keylen,           \
                                 ACP_AEAD_IVLEN, 1, 1, 1);                                     \
    }                                                                                          \
    const OSSL_DISPATCH acp_fns_##lc[] = {                                                     \
        { OSSL_FUNC_CIPHER_NEWCTX, (void (*)(void))acp_anewctx_##lc },                         \
        { OSSL_FUNC_CIPHER_FREECTX, (void (*)(void))acp_aead_freectx },                        \
        { OSSL_FUNC_CIPHER_DUPCTX, (void (*)(void))acp_aead_dupctx },                          \
        { OSSL_FUNC_CIPHER_ENCRYPT_INIT, (void (*)(void))acp_aead_einit },                     \
        { OSSL_FUNC_CIPHER_DECRYPT_INIT, (void (*)(void))acp_aead_dinit },                     \
        { OSSL_FUNC_CIPHER_UPDATE, (void (*)(void))acp_aead_update },                          \
        { OSSL_FUNC_CIPHER_FINAL, (void (*)(void))acp_aead_final },                            \
        { OSSL_FUNC_CIPHER_CIPHER, (void (*)(void))acp_aead_cipher },                          \
        { OSSL_FUNC_CIPHER_GET_PARAMS, (void (*)(void))acp_aget_params_##lc },                 \
        { OSSL_FUNC_CIPHER_GETTABLE_PARAMS, (void (*)(void))acp_cipher_gettable_params },        \
        { OSSL_FUNC_CIPHER_GET_CTX_PARAMS, (void (*)(void))acp_aead_get_ctx_params },          \
        { OSSL_FUNC_CIPHER_SET_CTX_PARAMS, (void (*)(void))acp_aead_set_ctx_params },          \
        { OSSL_FUNC_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))acp_aead_gettable_ctx_params }, \
        { OSSL_FUNC_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))acp_aead_settable_ctx_params }, \
        { 0, NULL }                                                                            \
    };

ACP_AEAD(aes128gcm, ACRYPTO_ALG_AES_128_GCM, EVP_CIPH_GCM_MODE, 16, 12)
ACP_AEAD(aes192gcm, ACRYPTO_ALG_AES_192_GCM, EVP_CIPH_GCM_MODE, 24, 12)
ACP_AEAD(aes256gcm, ACRYPTO_ALG_AES_256_GCM, EVP_CIPH_GCM_MODE, 32, 12)
ACP_AEAD(chacha20poly1305, ACRYPTO_ALG_CHACHA20_POLY1305, 0, 32, 16)
