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

/* A stream update, pausing the caller's ASYNC job as acp_run does. */
acrypto_status acp_stream_update_run(acrypto_stream *st, const unsigned char *in, size_t inl);

/* A stream's end (digest or MAC into tag), pausing the caller's ASYNC job as acp_run does. */
acrypto_status acp_stream_finish_run(acrypto_stream *st, unsigned char *tag, size_t tag_cap, size_t *tag_len);

/*
 * A hash or MAC stream (acrypto_stream_*) of an operation context: bounded
 * memory whatever the message length. A stream made under another engine
 * generation (before fork) is the parent's: it is refused, never touched.
 */
typedef struct acp_stream {
    acrypto_stream *st;
    uint64_t gen;
} ACP_STREAM;

/* Starts a new stream on sess (freeing s's previous one); 1 or 0 with an error raised. */
int acp_mds_start(const ACP_PROV *prov, ACP_STREAM *s, acrypto_session *sess, const char *what);
/* Absorbs in; 1 or 0 with an error raised. */
int acp_mds_update(const ACP_PROV *prov, ACP_STREAM *s, const unsigned char *in, size_t inl, const char *what);
/* Ends the stream into out (exactly len bytes); 1 or 0 with an error raised. */
int acp_mds_final(const ACP_PROV *prov, ACP_STREAM *s, unsigned char *out, size_t len, const char *what);
/* out = a copy of in (taken mid-stream); 1 or 0. */
int acp_mds_copy(ACP_STREAM *out, const ACP_STREAM *in);
/* Frees the stream if it belongs to the current engine, then clears s. */
void acp_mds_free(ACP_STREAM *s);

/* A cipher's get_params (acrypto_ciphers.c), for both cipher files: the
 * algorithm's fixed parameters, and the table of their names. */
OSSL_FUNC_cipher_gettable_params_fn acp_cipher_gettable_params;
int acp_cipher_params(OSSL_PARAM params[], unsigned int mode, size_t keylen, size_t ivlen, size_t blocksize,
                      int aead, int custom_iv);

/* Dispatch tables of the families. */
extern const OSSL_ALGORITHM acp_ciphers[];
/* acrypto_aead.c: AES-GCM and ChaCha20-Poly1305 (listed in acp_ciphers). */
extern const OSSL_DISPATCH acp_fns_aes128gcm[], acp_fns_aes192gcm[], acp_fns_aes256gcm[],
    acp_fns_chacha20poly1305[];
extern const OSSL_ALGORITHM acp_rands[];
extern const OSSL_ALGORITHM acp_digests[];
extern const OSSL_ALGORITHM acp_macs[];

#define ACP_PROPS "provider=acrypto"

#endif /* ACRYPTO_PROV_H */
