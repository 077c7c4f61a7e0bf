/*
 * acrypto_prov.c - the OpenSSL 3 provider's entry point: init, teardown,
 * the algorithm query, provider parameters, the engine it shares between
 * its instances, and what happens after fork().
 *
 * One acrypto engine serves every instance of the module in the process.
 * It is built on first use (so that loading the module costs nothing) and
 * freed, its threads joined, when the last instance is torn down. A
 * forked child does not inherit the engine's threads: the child-side
 * fork handler forgets the parent's engine (without touching it, its locks
 * may be held by threads that do not exist in the child) and bumps the
 * generation, so the next operation builds a new engine and every context
 * remakes its session from the key it kept.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/proverr.h>

#include "acrypto_prov.h"
#include "acrypto_buf.h"

#define ACP_NAME "acrypto provider"

static OSSL_FUNC_core_get_params_fn *c_get_params;
static OSSL_FUNC_core_new_error_fn *c_new_error;
static OSSL_FUNC_core_set_error_debug_fn *c_set_error_debug;
static OSSL_FUNC_core_vset_error_fn *c_vset_error;

static OSSL_FUNC_provider_teardown_fn acp_teardown;
static OSSL_FUNC_provider_gettable_params_fn acp_gettable_params;
static OSSL_FUNC_provider_get_params_fn acp_get_params;
static OSSL_FUNC_provider_query_operation_fn acp_query;
static OSSL_FUNC_provider_get_reason_strings_fn acp_reason_strings;

/* The shared engine (see the top of the file). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static acrypto_engine *g_engine;
static uint64_t g_gen = 1;
static unsigned g_instances;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void acp_atfork_child(void)
{
    /* The parent's engine lives on in the parent; here its threads are gone. */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_lock = fresh;
    g_engine = NULL;
    __atomic_add_fetch(&g_gen, 1, __ATOMIC_SEQ_CST);
}

static void acp_register_atfork(void)
{
    pthread_atfork(NULL, NULL, acp_atfork_child);
}

uint64_t acp_engine_gen(void)
{
    return __atomic_load_n(&g_gen, __ATOMIC_ACQUIRE);
}

void acp_raise(const ACP_PROV *prov, int reason, const char *fmt, ...)
{
    va_list ap;

    if (prov == NULL || c_new_error == NULL) {
        ERR_raise(ERR_LIB_PROV, reason);
        return;
    }
    va_start(ap, fmt);
    c_new_error(prov->handle);
    c_set_error_debug(prov->handle, OPENSSL_FILE, OPENSSL_LINE, "acrypto");
    c_vset_error(prov->handle, ERR_PACK(ERR_LIB_PROV, 0, reason), fmt, ap);
    va_end(ap);
}

void acp_raise_status(const ACP_PROV *prov, acrypto_status st, const char *what)
{
    int reason;

    switch (st) {
    case ACRYPTO_STATUS_INVALID_KEY:
        reason = PROV_R_INVALID_KEY;
        break;
    case ACRYPTO_STATUS_INVALID_LENGTH:
        reason = PROV_R_INVALID_INPUT_LENGTH;
        break;
    case ACRYPTO_STATUS_VERIFY_FAILED:
        reason = PROV_R_BAD_DECRYPT;
        break;
    case ACRYPTO_STATUS_BAD_PADDING:
        reason = PROV_R_BAD_DECRYPT;
        break;
    case ACRYPTO_STATUS_UNSUPPORTED:
        reason = PROV_R_NOT_SUPPORTED;
        break;
    default:
        reason = PROV_R_CIPHER_OPERATION_FAILED;
        break;
    }
    acp_raise(prov, reason, "%s: %s (%s)", what, acrypto_strerror(st),
              acrypto_last_error() != NULL ? acrypto_last_error() : "");
}

acrypto_engine *acp_engine(const ACP_PROV *prov, uint64_t *gen)
{
    acrypto_engine *e;
    acrypto_status st = ACRYPTO_STATUS_OK;

    pthread_mutex_lock(&g_lock);
    if (g_engine == NULL) {
        acrypto_engine_config *cfg = NULL;

        st = acrypto_engine_config_new(&cfg);
        if (st == ACRYPTO_STATUS_OK && prov != NULL && prov->devices[0] != '\0')
            st = acrypto_engine_config_set_devices(cfg, prov->devices);
        if (st == ACRYPTO_STATUS_OK)
            st = acrypto_engine_new_config(cfg, &g_engine);
        acrypto_engine_config_free(cfg);
    }
    e = g_engine;
    *gen = acp_engine_gen();
    pthread_mutex_unlock(&g_lock);
    if (e == NULL)
        acp_raise_status(prov, st, "cannot build the acrypto engine");
    return e;
}

int acp_sess_make(const ACP_PROV *prov, ACP_SESS *s, uint32_t alg, uint32_t op,
                  const unsigned char *key, size_t keylen)
{
    acrypto_step step = { .alg = alg, .op = op, .key = key, .key_len = keylen, .device = NULL };
    acrypto_engine *e;
    acrypto_session *sess = NULL;
    acrypto_status st;
    uint64_t gen;

    acp_sess_free(s);
    if ((e = acp_engine(prov, &gen)) == NULL)
        return 0;
    /* DIRECT: the completion (a flag and an eventfd write) runs on the device
     * thread, without a hop through a completion worker. */
    st = acrypto_session_new(e, &step, 1, 0, ACRYPTO_SESSION_DIRECT, NULL, &sess);
    if (st != ACRYPTO_STATUS_OK) {
        acp_raise_status(prov, st, acrypto_alg_name(alg));
        return 0;
    }
    s->sess = sess;
    s->gen = gen;
    return 1;
}

int acp_sess_live(const ACP_SESS *s)
{
    return s->sess != NULL && s->gen == acp_engine_gen();
}

void acp_sess_free(ACP_SESS *s)
{
    /* A session of the parent's engine is left alone (see the top). */
    if (acp_sess_live(s))
        acrypto_session_free(s->sess);
    s->sess = NULL;
    s->gen = 0;
}

/* Engine counters, for the provider parameters and the statistics file. */
static int acp_stats(acrypto_stats *out)
{
    int ok = 0;

    pthread_mutex_lock(&g_lock);
    if (g_engine != NULL)
        ok = acrypto_engine_stats(g_engine, out) == ACRYPTO_STATUS_OK;
    pthread_mutex_unlock(&g_lock);
    return ok;
}

/*
 * With ACRYPTO_PROVIDER_STATS=FILE in the environment, teardown appends one
 * line with the engine's counters to FILE: how a test learns that an
 * unmodified program (openssl s_server, ...) ran its crypto through acrypto.
 */
static void acp_write_stats(acrypto_engine *e)
{
    const char *path = getenv("ACRYPTO_PROVIDER_STATS");
    acrypto_stats s;
    FILE *f;

    if (path == NULL || *path == '\0' || acrypto_engine_stats(e, &s) != ACRYPTO_STATUS_OK)
        return;
    if ((f = fopen(path, "a")) == NULL)
        return;
    fprintf(f, "submitted=%llu ok=%llu err=%llu bytes=%llu\n", (unsigned long long)s.submitted,
            (unsigned long long)s.completed_ok, (unsigned long long)s.completed_err,
            (unsigned long long)s.bytes);
    fclose(f);
}

static void *acp_free_engine_thread(void *e)
{
    acp_write_stats(e);
    acrypto_engine_free(e);
    return NULL;
}

/*
 * Frees the engine and joins its threads, on a thread of its own: teardown
 * often runs from OPENSSL_cleanup in exit(), after the calling thread's
 * thread-local storage is gone, which the engine's shutdown uses.
 */
static void acp_free_engine(acrypto_engine *e)
{
    pthread_t t;

    if (pthread_create(&t, NULL, acp_free_engine_thread, e) == 0)
        pthread_join(t, NULL);
    else
        acp_free_engine_thread(e);
}

static void acp_teardown(void *provctx)
{
    ACP_PROV *prov = provctx;
    acrypto_engine *e = NULL;

    pthread_mutex_lock(&g_lock);
    if (g_instances > 0 && --g_instances == 0) {
        e = g_engine;
        g_engine = NULL;
    }
    pthread_mutex_unlock(&g_lock);
    /* The engine's threads are joined before the module can be unmapped. */
    if (e != NULL) {
        acp_keyless_sessions_free();
        acp_free_engine(e);
    }
    OPENSSL_free(prov);
}

static const OSSL_PARAM acp_param_types[] = {
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, NULL, 0),
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, NULL, 0),
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_BUILDINFO, OSSL_PARAM_UTF8_PTR, NULL, 0),
    OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, NULL, 0),
    OSSL_PARAM_DEFN("acrypto-submitted", OSSL_PARAM_UNSIGNED_INTEGER, NULL, 0),
    OSSL_PARAM_DEFN("acrypto-bytes", OSSL_PARAM_UNSIGNED_INTEGER, NULL, 0),
    OSSL_PARAM_END
};

static const OSSL_PARAM *acp_gettable_params(void *provctx)
{
    (void)provctx;
    return acp_param_types;
}

static int acp_get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;
    acrypto_stats s;
    int have = -1;

    (void)provctx;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, ACP_NAME))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, acrypto_version()))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
    if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "acrypto " __DATE__))
        return 0;
    p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
    if (p != NULL && !OSSL_PARAM_set_int(p, 1))
        return 0;
    if ((p = OSSL_PARAM_locate(params, "acrypto-submitted")) != NULL) {
        have = acp_stats(&s);
        if (!OSSL_PARAM_set_uint64(p, have ? s.submitted : 0))
            return 0;
    }
    if ((p = OSSL_PARAM_locate(params, "acrypto-bytes")) != NULL) {
        if (have < 0)
            have = acp_stats(&s);
        if (!OSSL_PARAM_set_uint64(p, have ? s.bytes : 0))
            return 0;
    }
    return 1;
}

static const OSSL_ALGORITHM *acp_query(void *provctx, int operation_id, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_CIPHER:
        return acp_ciphers;
    case OSSL_OP_RAND:
        return acp_rands;
    case OSSL_OP_DIGEST:
        return acp_digests;
    case OSSL_OP_MAC:
        return acp_macs;
    default:
        return NULL;
    }
}

static const OSSL_ITEM acp_reasons[] = {
    { 0, NULL }
};

static const OSSL_ITEM *acp_reason_strings(void *provctx)
{
    (void)provctx;
    return acp_reasons;
}

static const OSSL_DISPATCH acp_dispatch[] = {
    { OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))acp_teardown },
    { OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))acp_gettable_params },
    { OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))acp_get_params },
    { OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))acp_query },
    { OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))acp_reason_strings },
    { 0, NULL }
};

/* The one exported symbol (everything else is hidden, see acrypto.map). */
__attribute__((visibility("default"))) OSSL_provider_init_fn OSSL_provider_init;

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx)
{
    OSSL_FUNC_core_get_libctx_fn *c_get_libctx = NULL;
    ACP_PROV *prov;

    for (; in->function_id != 0; in++) {
        switch (in->function_id) {
        case OSSL_FUNC_CORE_GET_PARAMS:
            c_get_params = OSSL_FUNC_core_get_params(in);
            break;
        case OSSL_FUNC_CORE_GET_LIBCTX:
            c_get_libctx = OSSL_FUNC_core_get_libctx(in);
            break;
        case OSSL_FUNC_CORE_NEW_ERROR:
            c_new_error = OSSL_FUNC_core_new_error(in);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            c_set_error_debug = OSSL_FUNC_core_set_error_debug(in);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            c_vset_error = OSSL_FUNC_core_vset_error(in);
            break;
        default:
            break;
        }
    }
    if (c_new_error == NULL || c_set_error_debug == NULL || c_vset_error == NULL)
        c_new_error = NULL; /* acp_raise falls back to ERR_raise */

    if ((prov = OPENSSL_zalloc(sizeof(*prov))) == NULL)
        return 0;
    prov->handle = handle;
    if (c_get_libctx != NULL)
        prov->libctx = (OSSL_LIB_CTX *)c_get_libctx(handle);
    if (c_get_params != NULL) {
        /* "devices = soft:2" in the provider's section of openssl.cnf. */
        char *devices = NULL;
        OSSL_PARAM req[] = {
            OSSL_PARAM_utf8_ptr("devices", &devices, 0),
            OSSL_PARAM_END
        };

        if (c_get_params(handle, req) && devices != NULL) {
            if (strlen(devices) >= sizeof(prov->devices)) {
                acp_raise(NULL, PROV_R_INVALID_CONFIG_DATA, "devices: too long");
                OPENSSL_free(prov);
                return 0;
            }
            strcpy(prov->devices, devices);
        }
    }
    pthread_once(&g_atfork_once, acp_register_atfork);
    pthread_mutex_lock(&g_lock);
    g_instances++;
    pthread_mutex_unlock(&g_lock);

    *out = acp_dispatch;
    *provctx = prov;
    return 1;
}
