/*
 * acrypto_digests.c - SHA1 and SHA2-256 on acrypto.
 *
 * A context is an acrypto stream (acrypto_stream_*): every update is
 * absorbed as it comes, so memory stays bounded whatever the message
 * length; dupctx copies the stream mid-way (acrypto_stream_dup). One
 * session per algorithm serves every context of the process (digests have
 * no key); it is remade after fork(). A context started before fork() is
 * refused in the child (its stream belongs to the parent's engine).
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/proverr.h>

#include "acrypto_prov.h"

typedef struct acp_md_info {
    uint32_t alg;
    size_t size;
    size_t blocksize;
} ACP_MD_INFO;

typedef struct acp_md_ctx {
    ACP_PROV *prov;
    const ACP_MD_INFO *info;
    ACP_STREAM stream;
} ACP_MD_CTX;

static OSSL_FUNC_digest_freectx_fn acp_md_freectx;
static OSSL_FUNC_digest_dupctx_fn acp_md_dupctx;
static OSSL_FUNC_digest_init_fn acp_md_init;
static OSSL_FUNC_digest_update_fn acp_md_update;
static OSSL_FUNC_digest_final_fn acp_md_final;
static OSSL_FUNC_digest_gettable_params_fn acp_md_gettable_params;

/* The shared keyless sessions, by algorithm. */
static pthread_mutex_t md_lock = PTHREAD_MUTEX_INITIALIZER;
static ACP_SESS md_sess[ACRYPTO_ALG_COUNT];

acrypto_session *acp_keyless_session(const ACP_PROV *prov, uint32_t alg)
{
    acrypto_session *s = NULL;

    if (alg >= ACRYPTO_ALG_COUNT)
        return NULL;
    pthread_mutex_lock(&md_lock);
    if (acp_sess_live(&md_sess[alg])
        || acp_sess_make(prov, &md_sess[alg], alg, ACRYPTO_OP_DIGEST, NULL, 0))
        s = md_sess[alg].sess;
    pthread_mutex_unlock(&md_lock);
    return s;
}

void acp_keyless_sessions_free(void)
{
    size_t i;

    pthread_mutex_lock(&md_lock);
    for (i = 0; i < ACRYPTO_ALG_COUNT; i++)
        acp_sess_free(&md_sess[i]);
    pthread_mutex_unlock(&md_lock);
}

static void *acp_md_newctx_info(void *provctx, const ACP_MD_INFO *info)
{
    ACP_MD_CTX *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->prov = provctx;
    ctx->info = info;
    return ctx;
}

static void acp_md_freectx(void *vctx)
{
    ACP_MD_CTX *ctx = vctx;

    if (ctx == NULL)
        return;
    acp_mds_free(&ctx->stream);
    OPENSSL_free(ctx);
}

static void *acp_md_dupctx(void *vctx)
{
    ACP_MD_CTX *in = vctx, *out = OPENSSL_zalloc(sizeof(*out));

    if (out == NULL)
        return NULL;
    out->prov = in->prov;
    out->info = in->info;
    if (!acp_mds_copy(&out->stream, &in->stream)) {
        OPENSSL_free(out);
        return NULL;
    }
    return out;
}

static int acp_md_init(void *vctx, const OSSL_PARAM params[])
{
    ACP_MD_CTX *ctx = vctx;

    (void)params;
    return acp_mds_start(ctx->prov, &ctx->stream, acp_keyless_session(ctx->prov, ctx->info->alg),
                            acrypto_alg_name(ctx->info->alg));
}

static int acp_md_update(void *vctx, const unsigned char *in, size_t inl)
{
    ACP_MD_CTX *ctx = vctx;

    return acp_mds_update(ctx->prov, &ctx->stream, in, inl, acrypto_alg_name(ctx->info->alg));
}

int acp_mds_start(const ACP_PROV *prov, ACP_STREAM *s, acrypto_session *sess, const char *what)
{
    acrypto_stream *st = NULL;
    acrypto_status rc;

    acp_mds_free(s);
    if (sess == NULL)
        return 0;
    rc = acrypto_stream_new(sess, NULL, 0, &st);
    if (rc != ACRYPTO_STATUS_OK) {
        acp_raise_status(prov, rc, what);
        return 0;
    }
    s->st = st;
    s->gen = acp_engine_gen();
    return 1;
}

static int acp_mds_usable(const ACP_PROV *prov, const ACP_STREAM *s, const char *what)
{
    if (s->st == NULL) {
        acp_raise(prov, PROV_R_INVALID_STATE, "%s: update or final without init", what);
        return 0;
    }
    if (s->gen != acp_engine_gen()) {
        acp_raise(prov, PROV_R_INVALID_STATE, "%s: context started before fork(); init it again", what);
        return 0;
    }
    return 1;
}

int acp_mds_update(const ACP_PROV *prov, ACP_STREAM *s, const unsigned char *in, size_t inl, const char *what)
{
    static const unsigned char empty[1];
    acrypto_status rc;

    if (!acp_mds_usable(prov, s, what))
        return 0;
    if (inl == 0)
        return 1;
    rc = acp_stream_update_run(s->st, in != NULL ? in : empty, inl);
    if (rc != ACRYPTO_STATUS_OK) {
        acp_raise_status(prov, rc, what);
        return 0;
    }
    return 1;
}

int acp_mds_final(const ACP_PROV *prov, ACP_STREAM *s, unsigned char *out, size_t len, const char *what)
{
    size_t got = 0;
    acrypto_status rc;

    if (!acp_mds_usable(prov, s, what))
        return 0;
    rc = acp_stream_finish_run(s->st, out, len, &got);
    acp_mds_free(s);
    if (rc != ACRYPTO_STATUS_OK || got != len) {
        acp_raise_status(prov, rc != ACRYPTO_STATUS_OK ? rc : ACRYPTO_STATUS_INTERNAL, what);
        return 0;
    }
    return 1;
}

int acp_mds_copy(ACP_STREAM *out, const ACP_STREAM *in)
{
    out->st = NULL;
    out->gen = in->gen;
    if (in->st == NULL || in->gen != acp_engine_gen())
        return 1; /* nothing (usable) to copy: the copy refuses use like the original */
    return acrypto_stream_dup(in->st, &out->st) == ACRYPTO_STATUS_OK;
}

void acp_mds_free(ACP_STREAM *s)
{
    if (s->st != NULL && s->gen == acp_engine_gen())
        acrypto_stream_free(s->st);
    s->st = NULL;
}

static int acp_md_final(void *vctx, unsigned char *out, size_t *outl, size_t outsz)
{
    ACP_MD_CTX *ctx = vctx;

    if (outsz < ctx->info->size) {
        acp_raise(ctx->prov, PROV_R_OUTPUT_BUFFER_TOO_SMALL, "digest");
        return 0;
    }
    if (!acp_mds_final(ctx->prov, &ctx->stream, out, ctx->info->size, acrypto_alg_name(ctx->info->alg)))
        return 0;
    *outl = ctx->info->size;
    return 1;
}

static const OSSL_PARAM acp_md_known_gettable[] = {
    OSSL_PARAM_size_t(OSSL_DIGEST_PARAM_BLOCK_SIZE, NULL),
    OSSL_PARAM_size_t(OSSL_DIGEST_PARAM_SIZE, NULL),
    OSSL_PARAM_int(OSSL_DIGEST_PARAM_XOF, NULL),
    OSSL_PARAM_int(OSSL_DIGEST_PARAM_ALGID_ABSENT, NULL),
    OSSL_PARAM_END
};

static const OSSL_PARAM *acp_md_gettable_params(void *provctx)
{
    (void)provctx;
    return acp_md_known_gettable;
}

static int acp_md_get_params(OSSL_PARAM params[], const ACP_MD_INFO *info)
{
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_BLOCK_SIZE)) != NULL
        && !OSSL_PARAM_set_size_t(p, info->blocksize))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_SIZE)) != NULL && !OSSL_PARAM_set_size_t(p, info->size))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_XOF)) != NULL && !OSSL_PARAM_set_int(p, 0))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_DIGEST_PARAM_ALGID_ABSENT)) != NULL && !OSSL_PARAM_set_int(p, 1))
        return 0;
    return 1;
}

#define ACP_DIGEST(lc, ALG, SIZE, BLK)                                                  \
    static const ACP_MD_INFO acp_md_info_##lc = { ALG, SIZE, BLK };                     \
    static OSSL_FUNC_digest_newctx_fn acp_md_newctx_##lc;                               \
    static OSSL_FUNC_digest_get_params_fn acp_md_get_params_##lc;                       \
    static void *acp_md_newctx_##lc(void *provctx)                                      \
    {                                                                                   \
        return acp_md_newctx_info(provctx, &acp_md_info_##lc);                          \
    }                                                                                   \
    static int acp_md_get_params_##lc(OSSL_PARAM params[])                              \
    {                                                                                   \
        return acp_md_get_params(params, &acp_md_info_##lc);                            \
    }                                                                                   \
    static const OSSL_DISPATCH acp_md_fns_##lc[] = {                                    \
        { OSSL_FUNC_DIGEST_NEWCTX, (void (*)(void))acp_md_newctx_##lc },                \
        { OSSL_FUNC_DIGEST_FREECTX, (void (*)(void))acp_md_freectx },                   \
        { OSSL_FUNC_DIGEST_DUPCTX, (void (*)(void))acp_md_dupctx },                     \
        { OSSL_FUNC_DIGEST_INIT, (void (*)(void))acp_md_init },                         \
        { OSSL_FUNC_DIGEST_UPDATE, (void (*)(void))acp_md_update },                     \
        { OSSL_FUNC_DIGEST_FINAL, (void (*)(void))acp_md_final },                       \
        { OSSL_FUNC_DIGEST_GET_PARAMS, (void (*)(void))acp_md_get_params_##lc },        \
        { OSSL_FUNC_DIGEST_GETTABLE_PARAMS, (void (*)(void))acp_md_gettable_params },   \
        { 0, NULL }                                                                     \
    };

ACP_DIGEST(sha1, ACRYPTO_ALG_SHA1, 20, 64)
ACP_DIGEST(sha256, ACRYPTO_ALG_SHA256, 32, 64)

/* OpenSSL's names (providers/implementations/include/prov/names.h). */
const OSSL_ALGORITHM acp_digests[] = {
    { "SHA1:SHA-1:SSL3-SHA1:1.3.14.3.2.26", ACP_PROPS, acp_md_fns_sha1, "SHA1 on acrypto" },
    { "SHA2-256:SHA-256:SHA256:2.16.840.1.101.3.4.2.1", ACP_PROPS, acp_md_fns_sha256, "SHA2-256 on acrypto" },
    { NULL, NULL, NULL, NULL }
};
