/*
 * acrypto_rand.c - a RAND ("ACRYPTO-RNG") backed by acrypto's rng devices.
 *
 * Every generate is one acrypto rng request (through acp_run, so it pauses
 * an ASYNC job like any other operation). acrypto's rng is seeded by its
 * devices, so the parent OpenSSL may give it is not used, and reseed and
 * additional input have nothing to do. It can stand as the primary DRBG of
 * a library context (openssl.cnf: [random] random = ACRYPTO-RNG). Contexts
 * are shared between threads by OpenSSL: the session is made at
 * instantiate and remade under the context's lock after fork().
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/proverr.h>

#include "acrypto_prov.h"

/* Largest request: one acrypto request per call (OpenSSL splits larger ones). */
#define ACP_RAND_MAX_REQUEST ((size_t)1 << 16)
#define ACP_RAND_STRENGTH 256

typedef struct acp_rand_ctx {
    ACP_PROV *prov;
    pthread_mutex_t lock;
    ACP_SESS sess;
    int state; /* EVP_RAND_STATE_* */
} ACP_RAND_CTX;

static OSSL_FUNC_rand_newctx_fn acp_rand_newctx;
static OSSL_FUNC_rand_freectx_fn acp_rand_freectx;
static OSSL_FUNC_rand_instantiate_fn acp_rand_instantiate;
static OSSL_FUNC_rand_uninstantiate_fn acp_rand_uninstantiate;
static OSSL_FUNC_rand_generate_fn acp_rand_generate;
static OSSL_FUNC_rand_reseed_fn acp_rand_reseed;
static OSSL_FUNC_rand_enable_locking_fn acp_rand_enable_locking;
static OSSL_FUNC_rand_lock_fn acp_rand_lock;
static OSSL_FUNC_rand_unlock_fn acp_rand_unlock;
static OSSL_FUNC_rand_get_ctx_params_fn acp_rand_get_ctx_params;
static OSSL_FUNC_rand_gettable_ctx_params_fn acp_rand_gettable_ctx_params;
static OSSL_FUNC_rand_set_ctx_params_fn acp_rand_set_ctx_params;
static OSSL_FUNC_rand_settable_ctx_params_fn acp_rand_settable_ctx_params;

/* EVP_RAND_STATE_* without including evp.h's whole world here. */
enum { ACP_STATE_UNINIT = 0, ACP_STATE_READY = 1, ACP_STATE_ERROR = 2 };

static void *acp_rand_newctx(void *provctx, void *parent, const OSSL_DISPATCH *parent_calls)
{
    ACP_RAND_CTX *ctx = OPENSSL_zalloc(sizeof(*ctx));

    (void)parent;
    (void)parent_calls;
    if (ctx == NULL)
        return NULL;
    ctx->prov = provctx;
    pthread_mutex_init(&ctx->lock, NULL);
    return ctx;
}

static void acp_rand_freectx(void *vctx)
{
    ACP_RAND_CTX *ctx = vctx;

    if (ctx == NULL)
        return;
    acp_sess_free(&ctx->sess);
    pthread_mutex_destroy(&ctx->lock);
    OPENSSL_free(ctx);
}

/* The live session; NULL with an error raised. */
static acrypto_session *acp_rand_session(ACP_RAND_CTX *ctx)
{
    acrypto_session *s = NULL;

    pthread_mutex_lock(&ctx->lock);
    if (acp_sess_live(&ctx->sess)
        || acp_sess_make(ctx->prov, &ctx->sess, ACRYPTO_ALG_RNG, ACRYPTO_OP_GENERATE, NULL, 0))
        s = ctx->sess.sess;
    pthread_mutex_unlock(&ctx->lock);
    return s;
}

static int acp_rand_instantiate(void *vctx, unsigned int strength, int prediction_resistance,
                                const unsigned char *pstr, size_t pstr_len, const OSSL_PARAM params[])
{
    ACP_RAND_CTX *ctx = vctx;

    (void)prediction_resistance;
    (void)pstr;
    (void)pstr_len;
    if (strength > ACP_RAND_STRENGTH) {
        acp_raise(ctx->prov, PROV_R_INSUFFICIENT_DRBG_STRENGTH, "strength %u asked, %u given", strength,
                  ACP_RAND_STRENGTH);
        return 0;
    }
    if (!acp_rand_set_ctx_params(ctx, params) || acp_rand_session(ctx) == NULL) {
        ctx->state = ACP_STATE_ERROR;
        return 0;
    }
    ctx->state = ACP_STATE_READY;
    return 1;
}

static int acp_rand_uninstantiate(void *vctx)
{
    ACP_RAND_CTX *ctx = vctx;

    pthread_mutex_lock(&ctx->lock);
    acp_sess_free(&ctx->sess);
    ctx->state = ACP_STATE_UNINIT;
    pthread_mutex_unlock(&ctx->lock);
    return 1;
}

static int acp_rand_generate(void *vctx, unsigned char *out, size_t outlen, unsigned int strength,
                             int prediction_resistance, const unsigned char *adin, size_t adin_len)
{
    ACP_RAND_CTX *ctx = vctx;
    acrypto_session *sess;
    acrypto_status st;

    (void)prediction_resistance;
    (void)adin;
    (void)adin_len;
    if (ctx->state != ACP_STATE_READY) {
        acp_raise(ctx->prov, PROV_R_NOT_INSTANTIATED, "ACRYPTO-RNG not instantiated");
        return 0;
    }
    if (strength > ACP_RAND_STRENGTH) {
        acp_raise(ctx->prov, PROV_R_INSUFFICIENT_DRBG_STRENGTH, "strength %u asked", strength);
        return 0;
    }
    if (outlen > ACP_RAND_MAX_REQUEST) {
        acp_raise(ctx->prov, PROV_R_REQUEST_TOO_LARGE_FOR_DRBG, "%zu bytes asked", outlen);
        return 0;
    }
    if (outlen == 0)
        return 1;
    if ((sess = acp_rand_session(ctx)) == NULL)
        return 0;
    {
        acrypto_request req = { .data = NULL, .data_len = outlen, .out = out, .out_len = outlen };

        st = acp_run(sess, &req, NULL);
    }
    if (st != ACRYPTO_STATUS_OK) {
        acp_raise_status(ctx->prov, st, "rng");
        return 0;
    }
    return 1;
}

static int acp_rand_reseed(void *vctx, int prediction_resistance, const unsigned char *ent,
                           size_t ent_len, const unsigned char *adin, size_t adin_len)
{
    (void)vctx;
    (void)prediction_resistance;
    (void)ent;
    (void)ent_len;
    (void)adin;
    (void)adin_len;
    return 1; /* acrypto's rng devices seed themselves */
}

static int acp_rand_enable_locking(void *vctx)
{
    (void)vctx;
    return 1; /* always thread-safe */
}

static int acp_rand_lock(void *vctx)
{
    (void)vctx;
    return 1;
}

static void acp_rand_unlock(void *vctx)
{
    (void)vctx;
}

static int acp_rand_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    ACP_RAND_CTX *ctx = vctx;
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STATE)) != NULL && !OSSL_PARAM_set_int(p, ctx->state))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STRENGTH)) != NULL
        && !OSSL_PARAM_set_uint(p, ACP_RAND_STRENGTH))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_MAX_REQUEST)) != NULL
        && !OSSL_PARAM_set_size_t(p, ACP_RAND_MAX_REQUEST))
        return 0;
    return 1;
}

static const OSSL_PARAM acp_rand_gettable[] = {
    OSSL_PARAM_int(OSSL_RAND_PARAM_STATE, NULL),
    OSSL_PARAM_uint(OSSL_RAND_PARAM_STRENGTH, NULL),
    OSSL_PARAM_size_t(OSSL_RAND_PARAM_MAX_REQUEST, NULL),
    OSSL_PARAM_END
};

static const OSSL_PARAM *acp_rand_gettable_ctx_params(void *vctx, void *provctx)
{
    (void)vctx;
    (void)provctx;
    return acp_rand_gettable;
}

static int acp_rand_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    /* The DRBG reseed settings OpenSSL sets on a primary have no meaning here. */
    (void)vctx;
    (void)params;
    return 1;
}

static const OSSL_PARAM acp_rand_settable[] = {
    OSSL_PARAM_END
};

static const OSSL_PARAM *acp_rand_settable_ctx_params(void *vctx, void *provctx)
{
    (void)vctx;
    (void)provctx;
    return acp_rand_settable;
}

static const OSSL_DISPATCH acp_rand_fns[] = {
    { OSSL_FUNC_RAND_NEWCTX, (void (*)(void))acp_rand_newctx },
    { OSSL_FUNC_RAND_FREECTX, (void (*)(void))acp_rand_freectx },
    { OSSL_FUNC_RAND_INSTANTIATE, (void (*)(void))acp_rand_instantiate },
    { OSSL_FUNC_RAND_UNINSTANTIATE, (void (*)(void))acp_rand_uninstantiate },
    { OSSL_FUNC_RAND_GENERATE, (void (*)(void))acp_rand_generate },
    { OSSL_FUNC_RAND_RESEED, (void (*)(void))acp_rand_reseed },
    { OSSL_FUNC_RAND_ENABLE_LOCKING, (void (*)(void))acp_rand_enable_locking },
    { OSSL_FUNC_RAND_LOCK, (void (*)(void))acp_rand_lock },
    { OSSL_FUNC_RAND_UNLOCK, (void (*)(void))acp_rand_unlock },
    { OSSL_FUNC_RAND_GET_CTX_PARAMS, (void (*)(void))acp_rand_get_ctx_params },
    { OSSL_FUNC_RAND_GETTABLE_CTX_PARAMS, (void (*)(void))acp_rand_gettable_ctx_params },
    { OSSL_FUNC_RAND_SET_CTX_PARAMS, (void (*)(void))acp_rand_set_ctx_params },
    { OSSL_FUNC_RAND_SETTABLE_CTX_PARAMS, (void (*)(void))acp_rand_settable_ctx_params },
    { 0, NULL }
};

const OSSL_ALGORITHM acp_rands[] = {
    { "ACRYPTO-RNG", ACP_PROPS, acp_rand_fns, "acrypto's rng devices" },
    { NULL, NULL, NULL, NULL }
};
