/*
 * acrypto_prov.h - what the files of the OpenSSL 3 provider share.
 *
 * The provider (acrypto.so) runs OpenSSL's cipher, digest, MAC and RAND
 * operations on an acrypto engine. acrypto_prov.c owns the engine (built
 * lazily, rebuilt in a forked child); acrypto_async.c runs one request,
 * pausing the caller's ASYNC job while acrypto works; the other files are
 * one operation family each.
 */
#ifndef ACRYPTO_PROV_H
#define ACRYPTO_PROV_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include "acrypto.h"

/* The provider's context: one per loaded instance of the module. */
typedef struct acp_prov {
    const OSSL_CORE_HANDLE *handle;
    OSSL_LIB_CTX *libctx;
    /* Device specification from the configuration ("devices = soft:2"). */
    char devices[128];
} ACP_PROV;

/* Raises an OpenSSL error (ERR_LIB_PROV reason, see openssl/proverr.h). */
void acp_raise(const ACP_PROV *prov, int reason, const char *fmt, ...);
/* Raises the error for an acrypto status. */
void acp_raise_status(const ACP_PROV *prov, acrypto_status st, const char *what);

/*
 * The engine of this process, built on first use; NULL (with an error
 * raised) when it cannot be built. *gen is set to its generation, which
 * changes when a forked child builds its own engine: sessions made under
 * another generation belong to the parent's engine and must be remade.
 */
acrypto_engine *acp_engine(const ACP_PROV *prov, uint64_t *gen);
/* The current engine generation (cheap). */
uint64_t acp_engine_gen(void);

/*
 * A session of one step (alg, op, key) kept by an operation context,
 * remade when the engine generation changes (after fork).
 */
typedef struct acp_sess {
    acrypto_session *sess;
    uint64_t gen;
} ACP_SESS;

/* Makes s->sess for the step; 1 on success, 0 with an error raised. */
int acp_sess_make(const ACP_PROV *prov, ACP_SESS *s, uint32_t alg, uint32_t op,
                  const unsigned char *key, size_t keylen);
/* Frees the session if it belongs to the current engine, then clears s. */
void acp_sess_free(ACP_SESS *s);
/* 1 when s holds a session of the current engine. */
int acp_sess_live(const ACP_SESS *s);

/*
 * Runs one request on a session: inside an ASYNC job it submits it and
 * pauses the job until it completes (resumes that find it still running
 * pause again); outside a job it runs it inline. Returns the request's
 * status and, on success, its completion in *done (may be NULL).
 */
acrypto_status acp_run(acrypto_session *sess, acrypto_request *req, acrypto_completion *done);

/* Dispatch tables of the families. */
extern const OSSL_ALGORITHM acp_ciphers[];
extern const OSSL_ALGORITHM acp_rands[];
extern const OSSL_ALGORITHM acp_digests[];
extern const OSSL_ALGORITHM acp_macs[];

#define ACP_PROPS "provider=acrypto"

#endif /* ACRYPTO_PROV_H */
