/*
 * evp.c - the acrypto OpenSSL provider driven through the EVP API.
 *
 *   evp MODULES_DIR CIPHER_VECTORS DIGEST_VECTORS MAC_VECTORS AEAD_VECTORS
 *
 * Loads acrypto and default into a library context and checks, for every
 * cipher acrypto offers:
 *  - the algorithm fetched with "provider=acrypto" really comes from acrypto
 *    (EVP_CIPHER_get0_provider);
 *  - random keys, IVs, sizes and padding settings, fed in random update
 *    chunkings, give the default provider's bytes, both ways;
 *  - a context copied mid-stream (dupctx) continues exactly like the
 *    original; init with the key only then the IV only equals both at once;
 *  - contexts made in the parent keep working in a forked child;
 *  - inside ASYNC jobs the operation pauses, with exactly one wait fd per
 *    wait context, and resumes that come too early pause again;
 *  - SHA1 and SHA2-256 digests and HMAC over them equal the default
 *    provider in random chunkings; digest contexts copied mid-stream go on
 *    alike; a MAC re-initialized without a key uses the previous one;
 *  - OpenSSL's own evp test records (the four files) pass; each cipher
 *    record (ECB/CBC/CTR, and GCM, XTS, ChaCha20-Poly1305 with their AAD,
 *    tags, IV lengths, expected failures) runs through acrypto and through
 *    the default provider, in one update and in random chunks, and must
 *    give the record's result (XTS: the record is one data unit; chunked,
 *    a second update of the same input, a second data unit under the same
 *    tweak, must give the same output); where acrypto refuses what the default
 *    provider accepts (non-12-byte GCM IVs, XTS keys with equal halves on
 *    decryption: documented in the provider's README) the refusal is what
 *    is expected. Records are counted per cipher, and a cipher with none
 *    is a failure;
 *  - bad use (wrong key length, update/final without a key, XTS with equal
 *    key halves, a data unit too short, bad padding) is an OpenSSL error;
 *  - ACRYPTO-RNG generates, and the provider's counters grew.
 * Prints "evp: N passed, M failed"; exits non-zero on any failure.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/async.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

static int passed, failed;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (cond) {                                                                        \
            passed++;                                                                      \
        } else {                                                                           \
            failed++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
            ERR_print_errors_fp(stderr);                                                   \
        }                                                                                  \
    } while (0)

/* A call that must fail and leave an OpenSSL error behind. */
#define CHECK_ERR(call)                                                                    \
    do {                                                                                   \
        ERR_clear_error();                                                                 \
        int ok_ = (call);                                                                  \
        unsigned long e_ = ERR_peek_last_error();                                          \
        if (ok_ <= 0 && e_ != 0) {                                                         \
            passed++;                                                                      \
        } else {                                                                           \
            failed++;                                                                      \
            fprintf(stderr, "%s:%d: %s gave %d (error %lx), want an error\n", __FILE__,    \
                    __LINE__, #call, ok_, e_);                                             \
        }                                                                                  \
        ERR_clear_error();                                                                 \
    } while (0)

static OSSL_LIB_CTX *libctx;
static OSSL_PROVIDER *prov_acrypto, *prov_default;

static const char *const cipher_names[] = {
    "AES-128-ECB", "AES-192-ECB", "AES-256-ECB", "AES-128-CBC", "AES-192-CBC", "AES-256-CBC",
    "AES-128-CTR", "AES-192-CTR", "AES-256-CTR", "AES-128-XTS", "AES-256-XTS",
};
#define N_CIPHERS (sizeof(cipher_names) / sizeof(cipher_names[0]))

/* A small deterministic generator, seeded from the command line or the clock. */
static unsigned long long rng_state;

static unsigned long long rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t rnd_below(size_t n)
{
    return n == 0 ? 0 : (size_t)(rnd() % n);
}

static void rnd_bytes(unsigned char *p, size_t n)
{
    while (n--)
        *p++ = (unsigned char)rnd();
}

static EVP_CIPHER *fetch(const char *name, const char *props)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(libctx, name, props);

    if (c == NULL) {
        fprintf(stderr, "cannot fetch %s (%s)\n", name, props);
        ERR_print_errors_fp(stderr);
    }
    return c;
}

static int is_mode(const EVP_CIPHER *c, int mode)
{
    return EVP_CIPHER_get_mode(c) == mode;
}

static void random_key(const EVP_CIPHER *c, unsigned char *key)
{
    int kl = EVP_CIPHER_get_key_length(c);

    rnd_bytes(key, kl);
    if (is_mode(c, EVP_CIPH_XTS_MODE) && memcmp(key, key + kl / 2, kl / 2) == 0)
        key[0] ^= 1;
}

/*
 * One operation with chunked updates: the chunk sizes come from rnd() when
 * chunked, else one update. Returns the output length, or -1.
 */
static int run(const EVP_CIPHER *c, int enc, int pad, const unsigned char *key, const unsigned char *iv,
               const unsigned char *in, size_t inl, unsigned char *out, int chunked)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl, total = 0;
    size_t off = 0;

    if (ctx == NULL || !EVP_CipherInit_ex2(ctx, c, key, iv, enc, NULL)
        || !EVP_CIPHER_CTX_set_padding(ctx, pad))
        goto fail;
    while (off < inl) {
        size_t n = inl - off;

        if (chunked && !is_mode(c, EVP_CIPH_XTS_MODE))
            n = 1 + rnd_below(n < 100 ? n : (rnd() & 1 ? 17 : n));
        if (!EVP_CipherUpdate(ctx, out + total, &outl, in + off, (int)n))
            goto fail;
        total += outl;
        off += n;
    }
    if (!EVP_CipherFinal_ex(ctx, out + total, &outl))
        goto fail;
    total += outl;
    EVP_CIPHER_CTX_free(ctx);
    return total;
fail:
    EVP_CIPHER_CTX_free(ctx);
    return -1;
}

static void test_provenance(void)
{
    size_t i;

    for (i = 0; i < N_CIPHERS; i++) {
        EVP_CIPHER *c = fetch(cipher_names[i], "provider=acrypto");

        CHECK(c != NULL);
        if (c == NULL)
            continue;
        CHECK(EVP_CIPHER_get0_provider(c) == prov_acrypto);
        CHECK(strcmp(OSSL_PROVIDER_get0_name(EVP_CIPHER_get0_provider(c)), "acrypto") == 0);
        EVP_CIPHER_free(c);
    }
    /* Aliases and OIDs resolve to acrypto too. */
    {
        EVP_CIPHER *c = fetch("AES128", "provider=acrypto");
        EVP_CIPHER *d = fetch("2.16.840.1.101.3.4.1.42", "provider=acrypto");

        CHECK(c != NULL && EVP_CIPHER_get0_provider(c) == prov_acrypto);
        CHECK(d != NULL && EVP_CIPHER_get0_provider(d) == prov_acrypto && EVP_CIPHER_get_key_length(d) == 32);
        EVP_CIPHER_free(c);
        EVP_CIPHER_free(d);
    }
}

static void test_random_against_default(int rounds)
{
    size_t i;
    int r;
    unsigned char key[64], iv[16];
    unsigned char *pt = malloc(9000), *ref = malloc(9100), *got = malloc(9100), *back = malloc(9100);

    for (i = 0; i < N_CIPHERS; i++) {
        EVP_CIPHER *a = fetch(cipher_names[i], "provider=acrypto");
        EVP_CIPHER *d = fetch(cipher_names[i], "provider=default");
        int bad = 0;

        if (a == NULL || d == NULL) {
            CHECK(0);
            continue;
        }
        for (r = 0; r < rounds; r++) {
            int block = is_mode(a, EVP_CIPH_ECB_MODE) || is_mode(a, EVP_CIPH_CBC_MODE);
            int pad = block ? (int)(rnd() & 1) : 1;
            size_t len = rnd_below(r < rounds / 2 ? 80 : 9000);
            int n_ref, n_got, n_back;

            if (is_mode(a, EVP_CIPH_XTS_MODE) && len < 16)
                len = 16 + len;
            if (block && !pad)
                len &= ~(size_t)15;
            random_key(a, key);
            rnd_bytes(iv, sizeof(iv));
            rnd_bytes(pt, len);
            n_ref = run(d, 1, pad, key, iv, pt, len, ref, 0);
            n_got = run(a, 1, pad, key, iv, pt, len, got, 1);
            n_back = run(a, 0, pad, key, iv, got, n_got > 0 ? (size_t)n_got : 0, back, 1);
            if (n_ref < 0 || n_got != n_ref || memcmp(ref, got, n_ref) != 0 || n_back != (int)len
                || memcmp(back, pt, len) != 0) {
                fprintf(stderr, "%s: round %d, %zu bytes, pad %d: ref %d got %d back %d\n",
                        cipher_names[i], r, len, pad, n_ref, n_got, n_back);
                ERR_print_errors_fp(stderr);
                bad++;
            }
        }
        CHECK(bad == 0);
        EVP_CIPHER_free(a);
        EVP_CIPHER_free(d);
    }
    free(pt);
    free(ref);
    free(got);
    free(back);
}

/* Key only, then IV only; and a copy taken mid-stream. */
static void test_init_forms_and_dup(void)
{
    static const char *const names[] = { "AES-128-CBC", "AES-256-CTR", "AES-192-ECB" };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        EVP_CIPHER *a = fetch(names[i], "provider=acrypto");
        EVP_CIPHER *d = fetch(names[i], "provider=default");
        unsigned char key[32], iv[16], pt[1000], ref[1100], o1[1100], o2[1100];
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new(), *cp = EVP_CIPHER_CTX_new();
        int n_ref, l, n1 = 0, n2 = 0, split = 333;

        rnd_bytes(key, sizeof(key));
        rnd_bytes(iv, sizeof(iv));
        rnd_bytes(pt, sizeof(pt));
        n_ref = run(d, 1, 1, key, iv, pt, sizeof(pt), ref, 0);
        CHECK(n_ref > 0);

        /* Key first, IV second. */
        CHECK(EVP_EncryptInit_ex2(ctx, a, key, NULL, NULL));
        CHECK(EVP_EncryptInit_ex2(ctx, NULL, NULL, iv, NULL));
        CHECK(EVP_EncryptUpdate(ctx, o1, &l, pt, split));
        n1 = l;
        /* Copy mid-stream (a partial block is buffered, CTR has keystream left). */
        CHECK(EVP_CIPHER_CTX_copy(cp, ctx));
        n2 = n1;
        memcpy(o2, o1, n1);
        CHECK(EVP_EncryptUpdate(ctx, o1 + n1, &l, pt + split, (int)sizeof(pt) - split));
        n1 += l;
        CHECK(EVP_EncryptFinal_ex(ctx, o1 + n1, &l));
        n1 += l;
        CHECK(EVP_EncryptUpdate(cp, o2 + n2, &l, pt + split, (int)sizeof(pt) - split));
        n2 += l;
        CHECK(EVP_EncryptFinal_ex(cp, o2 + n2, &l));
        n2 += l;
        CHECK(n1 == n_ref && memcmp(o1, ref, n_ref) == 0);
        CHECK(n2 == n_ref && memcmp(o2, ref, n_ref) == 0);

        /* IV first, key second. */
        CHECK(EVP_EncryptInit_ex2(ctx, a, NULL, iv, NULL));
        CHECK(EVP_EncryptInit_ex2(ctx, NULL, key, NULL, NULL));
        CHECK(EVP_EncryptUpdate(ctx, o1, &l, pt, (int)sizeof(pt)));
        n1 = l;
        CHECK(EVP_EncryptFinal_ex(ctx, o1 + n1, &l));
        n1 += l;
        CHECK(n1 == n_ref && memcmp(o1, ref, n_ref) == 0);

        /* A provider context: "updated-iv" after CBC is the last ciphertext block. */
        if (is_mode(a, EVP_CIPH_CBC_MODE)) {
            unsigned char uiv[16];

            CHECK(EVP_CIPHER_CTX_get_updated_iv(ctx, uiv, sizeof(uiv)));
            CHECK(memcmp(uiv, o1 + n1 - 16, 16) == 0);
        }
        EVP_CIPHER_CTX_free(ctx);
        EVP_CIPHER_CTX_free(cp);
        EVP_CIPHER_free(a);
        EVP_CIPHER_free(d);
    }
}

/* A context made in the parent goes on in a child (a new engine there). */
static void test_fork(void)
{
    EVP_CIPHER *a = fetch("AES-128-CTR", "provider=acrypto");
    EVP_CIPHER *d = fetch("AES-128-CTR", "provider=default");
    unsigned char key[16], iv[16], pt[4096], ref[4096], out[4096];
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int l, status = -1;
    pid_t pid;

    rnd_bytes(key, sizeof(key));
    rnd_bytes(iv, sizeof(iv));
    rnd_bytes(pt, sizeof(pt));
    CHECK(run(d, 1, 1, key, iv, pt, sizeof(pt), ref, 0) == (int)sizeof(pt));
    CHECK(EVP_EncryptInit_ex2(ctx, a, key, iv, NULL));
    CHECK(EVP_EncryptUpdate(ctx, out, &l, pt, 1000));
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int ok = EVP_EncryptUpdate(ctx, out + 1000, &l, pt + 1000, (int)sizeof(pt) - 1000)
                 && memcmp(out, ref, sizeof(pt)) == 0;
        /* And a fresh operation in the child. */
        unsigned char out2[4096];

        ok = ok && run(a, 1, 1, key, iv, pt, sizeof(pt), out2, 1) == (int)sizeof(pt)
             && memcmp(out2, ref, sizeof(pt)) == 0;
        if (!ok)
            ERR_print_errors_fp(stderr);
        _exit(ok ? 0 : 1);
    }
    CHECK(pid > 0);
    if (pid > 0)
        waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The parent's context is unaffected by the child. */
    CHECK(EVP_EncryptUpdate(ctx, out + 1000, &l, pt + 1000, (int)sizeof(pt) - 1000));
    CHECK(memcmp(out, ref, sizeof(pt)) == 0);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(a);
    EVP_CIPHER_free(d);
}

/* ---- ASYNC jobs ---- */

struct job_arg {
    const EVP_CIPHER *c;
    const unsigned char *key, *iv, *in;
    size_t len;
    unsigned char *out;
    int outl;
};

static int job_fn(void *varg)
{
    struct job_arg *a = *(struct job_arg **)varg;
    size_t off = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int l, total = 0, ok = ctx != NULL && EVP_EncryptInit_ex2(ctx, a->c, a->key, a->iv, NULL);

    /* Several updates, each one a pause. */
    while (ok && off < a->len) {
        size_t n = a->len - off < 1504 ? a->len - off : 1504;

        ok = EVP_EncryptUpdate(ctx, a->out + total, &l, a->in + off, (int)n);
        total += l;
        off += n;
    }
    ok = ok && EVP_EncryptFinal_ex(ctx, a->out + total, &l);
    a->outl = ok ? total + l : -1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

static void test_async(void)
{
    enum { JOBS = 8, LEN = 6000 };
    EVP_CIPHER *a = fetch("AES-128-CBC", "provider=acrypto");
    EVP_CIPHER *d = fetch("AES-128-CBC", "provider=default");
    unsigned char key[16], iv[16], pt[LEN], ref[LEN + 16], out[JOBS][LEN + 16];
    ASYNC_JOB *job[JOBS] = { 0 };
    ASYNC_WAIT_CTX *w[JOBS];
    struct job_arg args[JOBS];
    int running = 0, pauses = 0, early = 0, one_fd = 1, ret, i, n_ref;

    CHECK(ASYNC_init_thread(JOBS, JOBS));
    rnd_bytes(key, sizeof(key));
    rnd_bytes(iv, sizeof(iv));
    rnd_bytes(pt, sizeof(pt));
    n_ref = run(d, 1, 1, key, iv, pt, LEN, ref, 0);
    for (i = 0; i < JOBS; i++) {
        struct job_arg *p = &args[i];

        w[i] = ASYNC_WAIT_CTX_new();
        args[i] = (struct job_arg){ a, key, iv, pt, LEN, out[i], 0 };
        switch (ASYNC_start_job(&job[i], w[i], &ret, job_fn, &p, sizeof(p))) {
        case ASYNC_PAUSE:
            running++;
            pauses++;
            break;
        case ASYNC_FINISH:
            job[i] = NULL;
            break;
        default:
            CHECK(0);
            job[i] = NULL;
        }
    }
    CHECK(running == JOBS); /* every job paused on its first update */
    while (running > 0) {
        fd_set fds;
        int maxfd = -1;

        FD_ZERO(&fds);
        for (i = 0; i < JOBS; i++) {
            OSSL_ASYNC_FD fd[4];
            size_t nfd = 0;

            if (job[i] == NULL)
                continue;
            if (!ASYNC_WAIT_CTX_get_all_fds(w[i], NULL, &nfd) || nfd != 1 || nfd > 4) {
                one_fd = 0;
                continue;
            }
            ASYNC_WAIT_CTX_get_all_fds(w[i], fd, &nfd);
            FD_SET(fd[0], &fds);
            if (fd[0] > maxfd)
                maxfd = fd[0];
        }
        /* Every other round resumes without waiting: a resume that may come too early. */
        if (early++ % 2 == 0)
            select(maxfd + 1, &fds, NULL, NULL, NULL);
        for (i = 0; i < JOBS; i++) {
            struct job_arg *p = &args[i];

            if (job[i] == NULL)
                continue;
            switch (ASYNC_start_job(&job[i], w[i], &ret, job_fn, &p, sizeof(p))) {
            case ASYNC_PAUSE:
                pauses++;
                break;
            case ASYNC_FINISH:
                CHECK(ret == 1);
                job[i] = NULL;
                running--;
                break;
            default:
                CHECK(0);
                job[i] = NULL;
                running--;
            }
        }
    }
    CHECK(one_fd);
    CHECK(pauses >= JOBS * 4); /* 4 updates and a final per job, most of them paused */
    for (i = 0; i < JOBS; i++) {
        CHECK(args[i].outl == n_ref && memcmp(out[i], ref, n_ref) == 0);
        ASYNC_WAIT_CTX_free(w[i]);
    }
    ASYNC_cleanup_thread();
    EVP_CIPHER_free(a);
    EVP_CIPHER_free(d);
}

/* ---- bad use ---- */

static void test_bad_use(void)
{
    EVP_CIPHER *cbc = fetch("AES-128-CBC", "provider=acrypto");
    EVP_CIPHER *xts = fetch("AES-128-XTS", "provider=acrypto");
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char key[32] = { 1, 2, 3 }, iv[16] = { 0 }, buf[64] = { 0 }, out[128];
    size_t seventeen = 17, eleven = 11;
    OSSL_PARAM keylen[] = { OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_KEYLEN, &seventeen), OSSL_PARAM_END };
    OSSL_PARAM ivlen[] = { OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_IVLEN, &eleven), OSSL_PARAM_END };
    int l;

    /* Wrong key length. */
    CHECK_ERR(EVP_EncryptInit_ex2(ctx, cbc, key, iv, keylen));
    CHECK_ERR(EVP_CIPHER_CTX_set_key_length(ctx, 17));
    /* Wrong IV length (fixed for these ciphers). */
    CHECK_ERR(EVP_CIPHER_CTX_set_params(ctx, ivlen));
    /* Update and final without a key. */
    CHECK(EVP_EncryptInit_ex2(ctx, cbc, NULL, iv, NULL));
    CHECK_ERR(EVP_EncryptUpdate(ctx, out, &l, buf, 32));
    CHECK_ERR(EVP_EncryptFinal_ex(ctx, out, &l));
    /* Final on a context never initialized. */
    {
        EVP_CIPHER_CTX *fresh = EVP_CIPHER_CTX_new();

        CHECK_ERR(EVP_EncryptFinal_ex(fresh, out, &l));
        EVP_CIPHER_CTX_free(fresh);
    }
    /* XTS: equal key halves; a data unit shorter than a block; no tweak. */
    memset(key, 7, sizeof(key));
    CHECK_ERR(EVP_EncryptInit_ex2(ctx, xts, key, iv, NULL));
    CHECK_ERR(EVP_DecryptInit_ex2(ctx, xts, key, iv, NULL));
    key[31] ^= 1;
    CHECK(EVP_EncryptInit_ex2(ctx, xts, key, iv, NULL));
    CHECK_ERR(EVP_EncryptUpdate(ctx, out, &l, buf, 15));
    CHECK(EVP_EncryptInit_ex2(ctx, xts, key, NULL, NULL));
    CHECK_ERR(EVP_EncryptUpdate(ctx, out, &l, buf, 32));
    /* Bad padding; a partial block with padding off. */
    CHECK(EVP_DecryptInit_ex2(ctx, cbc, key, iv, NULL));
    CHECK(EVP_DecryptUpdate(ctx, out, &l, buf, 32));
    CHECK_ERR(EVP_DecryptFinal_ex(ctx, out + l, &l));
    CHECK(EVP_EncryptInit_ex2(ctx, cbc, key, iv, NULL));
    CHECK(EVP_CIPHER_CTX_set_padding(ctx, 0));
    CHECK(EVP_EncryptUpdate(ctx, out, &l, buf, 20));
    CHECK_ERR(EVP_EncryptFinal_ex(ctx, out + l, &l));
    /* TLS records with the MAC inside (MAC-then-encrypt) are refused. */
    {
        unsigned int v = 0x0303;
        size_t mac = 20;
        OSSL_PARAM tls[] = { OSSL_PARAM_uint(OSSL_CIPHER_PARAM_TLS_VERSION, &v),
                             OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_TLS_MAC_SIZE, &mac), OSSL_PARAM_END };

        CHECK_ERR(EVP_CIPHER_CTX_set_params(ctx, tls));
    }
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cbc);
    EVP_CIPHER_free(xts);
}

/* A TLS 1.2 CBC record through the record parameters, as libssl does it. */
static void test_tls_record(void)
{
    EVP_CIPHER *cbc = fetch("AES-128-CBC", "provider=acrypto");
    EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new(), *dctx = EVP_CIPHER_CTX_new();
    unsigned char key[16], iv[16], rec[16 + 100 + 16], orig[100];
    unsigned int v = 0x0303;
    size_t mac = 0;
    OSSL_PARAM tls[] = { OSSL_PARAM_uint(OSSL_CIPHER_PARAM_TLS_VERSION, &v),
                         OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_TLS_MAC_SIZE, &mac), OSSL_PARAM_END };
    int l = 0, m = 0;

    rnd_bytes(key, sizeof(key));
    rnd_bytes(iv, sizeof(iv));
    rnd_bytes(rec, 16 + 100); /* explicit IV, then the payload */
    memcpy(orig, rec + 16, 100);
    CHECK(EVP_EncryptInit_ex2(e, cbc, key, iv, tls));
    CHECK(EVP_CipherUpdate(e, rec, &l, rec, 116));
    CHECK(l == 128); /* padded to whole blocks */
    CHECK(EVP_DecryptInit_ex2(dctx, cbc, key, iv, tls));
    CHECK(EVP_CipherUpdate(dctx, rec, &m, rec, l));
    CHECK(m == 100 && memcmp(rec + 16, orig, 100) == 0); /* explicit IV and padding gone */
    /* A flipped byte in the last block breaks the padding: an error. */
    CHECK(EVP_EncryptInit_ex2(e, cbc, key, iv, tls));
    CHECK(EVP_CipherUpdate(e, rec, &l, rec, 116));
    rec[l - 1] ^= 0x55;
    CHECK(EVP_DecryptInit_ex2(dctx, cbc, key, iv, tls));
    CHECK_ERR(EVP_CipherUpdate(dctx, rec, &m, rec, l));
    EVP_CIPHER_CTX_free(e);
    EVP_CIPHER_CTX_free(dctx);
    EVP_CIPHER_free(cbc);
}

/* ---- OpenSSL's evp test records ---- */

static size_t unhex(const char *s, unsigned char *out, size_t max)
{
    size_t n = 0;

    while (isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]) && n < max) {
        char b[3] = { s[0], s[1], 0 };

        out[n++] = (unsigned char)strtoul(b, NULL, 16);
        s += 2;
    }
    return n;
}

/*
 * One cipher record of an evp test file, read as OpenSSL's test/evp_test.c
 * reads it: Cipher, Key, IV (IVlen: the length to set, if not the IV's),
 * AAD, Tag (TagLen: the tag length to ask for on encryption), Plaintext,
 * Ciphertext, Operation (ENCRYPT, DECRYPT, or both when absent), Result
 * (the stage that must fail) and Availablein (records for "fips" only are
 * skipped). NextIV is not checked.
 */
struct record {
    char cipher[64], result[32], avail[16];
    unsigned char key[64], iv[128], aad[1024], tag[16], pt[2048], ct[2048];
    size_t keyl, ivl, aadl, tagl, ptl, ctl, ivlen_set, taglen_get;
    int op; /* -1 both, 1 encrypt, 0 decrypt */
    int line;
};

/* The ciphers each file must have records of, and how many it had. */
struct record_count {
    const char *name;
    int records, refused;
};

static int is_aead(const EVP_CIPHER *c)
{
    return (EVP_CIPHER_get_flags(c) & EVP_CIPH_FLAG_AEAD_CIPHER) != 0;
}

/*
 * One direction of a record through cipher c, chunked at random or not.
 * Returns NULL when every stage passed and the output (and, encrypting an
 * AEAD, the tag) equals the record's, else the first stage that failed, in
 * evp_test's words.
 */
static const char *record_once(const EVP_CIPHER *c, const struct record *r, int enc, int chunked)
{
    const unsigned char *in = enc ? r->pt : r->ct, *want = enc ? r->ct : r->pt;
    size_t inl = enc ? r->ptl : r->ctl, wantl = enc ? r->ctl : r->ptl, off = 0;
    unsigned char out[2100], tag[16];
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    const char *err = NULL;
    int aead = is_aead(c), xts = is_mode(c, EVP_CIPH_XTS_MODE), outl = 0, total = 0;
    size_t ivlen = r->ivlen_set ? r->ivlen_set : r->ivl;

    if (ctx == NULL || !EVP_CipherInit_ex2(ctx, c, NULL, NULL, enc, NULL)) {
        err = "CIPHERINIT_ERROR";
        goto done;
    }
    if (aead && ivlen != 0 && (int)ivlen != EVP_CIPHER_CTX_get_iv_length(ctx)) {
        OSSL_PARAM p[] = { OSSL_PARAM_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivlen), OSSL_PARAM_END };

        if (!EVP_CIPHER_CTX_set_params(ctx, p)) {
            err = "INVALID_IV_LENGTH";
            goto done;
        }
    }
    if (aead && !enc && r->tagl > 0) {
        OSSL_PARAM p[] = { OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, (void *)r->tag, r->tagl),
                           OSSL_PARAM_END };

        if (!EVP_CIPHER_CTX_set_params(ctx, p)) {
            err = "TAG_SET_ERROR";
            goto done;
        }
    }
    if (!EVP_CipherInit_ex2(ctx, NULL, r->key, r->ivl ? r->iv : NULL, enc, NULL)) {
        err = "KEY_SET_ERROR";
        goto done;
    }
    if (!aead && !EVP_CIPHER_CTX_set_padding(ctx, 0)) {
        err = "CIPHERINIT_ERROR";
        goto done;
    }
    /* AAD in random pieces (update with out NULL). */
    while (aead && off < r->aadl) {
        size_t n = chunked ? 1 + rnd_below(r->aadl - off) : r->aadl - off;

        if (!EVP_CipherUpdate(ctx, NULL, &outl, r->aad + off, (int)n)) {
            err = "AAD_SET_ERROR";
            goto done;
        }
        off += n;
    }
    /* The data in random pieces; XTS takes the record as one data unit. */
    off = 0;
    do {
        size_t n = inl - off;

        if (chunked && !xts && n > 0)
            n = 1 + rnd_below(n < 100 ? n : (rnd() & 1 ? 17 : n));
        if (!EVP_CipherUpdate(ctx, out + total, &outl, in + off, (int)n)) {
            err = "CIPHERUPDATE_ERROR";
            goto done;
        }
        total += outl;
        off += n;
    } while (off < inl);
    /*
     * XTS, chunked: a second update is a second data unit under the same
     * tweak (the IV is not advanced), so the same input gives the same
     * output again.
     */
    if (xts && chunked && inl > 0 && (size_t)total == inl) {
        unsigned char again[2100];

        if (!EVP_CipherUpdate(ctx, again, &outl, in, (int)inl)) {
            err = "CIPHERUPDATE_ERROR";
            goto done;
        }
        if ((size_t)outl != inl || memcmp(again, out, inl) != 0) {
            err = "VALUE_MISMATCH";
            goto done;
        }
    }
    if (!EVP_CipherFinal_ex(ctx, out + total, &outl)) {
        err = "CIPHERFINAL_ERROR";
        goto done;
    }
    total += outl;
    if (aead && enc && (r->tagl > 0 || r->taglen_get > 0)) {
        size_t tl = r->taglen_get ? r->taglen_get : r->tagl;
        OSSL_PARAM p[] = { OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, tl), OSSL_PARAM_END };

        if (tl > sizeof(tag) || !EVP_CIPHER_CTX_get_params(ctx, p)) {
            err = "TAG_RETRIEVE_ERROR";
            goto done;
        }
        if (r->tagl > 0 && (tl != r->tagl || memcmp(tag, r->tag, tl) != 0)) {
            err = "TAG_VALUE_MISMATCH";
            goto done;
        }
    }
    if ((size_t)total != wantl || memcmp(out, want, wantl) != 0)
        err = "VALUE_MISMATCH";
done:
    EVP_CIPHER_CTX_free(ctx);
    return err;
}

/*
 * What acrypto is documented to refuse where the default provider accepts
 * (libacrypto/provider/README.md): AES-GCM IVs other than 12 bytes, and XTS
 * keys with equal halves in both directions. NULL if nothing.
 */
static const char *acrypto_refusal(const EVP_CIPHER *c, const struct record *r)
{
    size_t ivlen = r->ivlen_set ? r->ivlen_set : r->ivl;

    if (is_mode(c, EVP_CIPH_GCM_MODE) && ivlen != 12)
        return "INVALID_IV_LENGTH";
    if (is_mode(c, EVP_CIPH_XTS_MODE) && r->keyl >= 2 && memcmp(r->key, r->key + r->keyl / 2, r->keyl / 2) == 0)
        return "KEY_SET_ERROR";
    return NULL;
}

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * Runs a record through the default provider (one update, then random
 * chunks) and through acrypto (random chunks, then one update): each must
 * give the record's result. Returns 1 if all did; *refused is set when
 * acrypto's result was a documented refusal.
 */
static int run_record(const struct record *r, int *refused)
{
    EVP_CIPHER *a = fetch(r->cipher, "provider=acrypto"), *d = fetch(r->cipher, "provider=default");
    const char *want = r->result[0] ? r->result : NULL;
    int ok = a != NULL && d != NULL && EVP_CIPHER_get0_provider(a) == prov_acrypto
             && EVP_CIPHER_get0_provider(d) == prov_default,
        enc;

    *refused = 0;
    for (enc = 1; ok && enc >= 0; enc--) {
        const char *want_a = acrypto_refusal(a, r), *got;
        int chunked;

        if (r->op != -1 && r->op != enc)
            continue;
        /* A documented refusal comes first (at the IV length or the key). */
        if (want_a != NULL && !same(want_a, want))
            *refused = 1;
        else
            want_a = want;
        for (chunked = 0; ok && chunked <= 1; chunked++) {
            got = record_once(d, r, enc, chunked);
            if (!same(got, want)) {
                fprintf(stderr, "record at line %d (%s, %s, default provider%s): %s, want %s\n", r->line,
                        r->cipher, enc ? "encrypt" : "decrypt", chunked ? ", chunked" : "", got ? got : "success",
                        want ? want : "success");
                ok = 0;
            }
            got = record_once(a, r, enc, !chunked);
            if (!same(got, want_a)) {
                fprintf(stderr, "record at line %d (%s, %s, acrypto%s): %s, want %s\n", r->line, r->cipher,
                        enc ? "encrypt" : "decrypt", !chunked ? ", chunked" : "", got ? got : "success",
                        want_a ? want_a : "success");
                ok = 0;
            }
        }
    }
    if (!ok)
        ERR_print_errors_fp(stderr);
    ERR_clear_error();
    EVP_CIPHER_free(a);
    EVP_CIPHER_free(d);
    return ok;
}

static void count_record(struct record_count *counts, const char *cipher, int refused)
{
    for (; counts->name != NULL; counts++)
        if (strcasecmp(counts->name, cipher) == 0) {
            counts->records++;
            counts->refused += refused;
            return;
        }
    fprintf(stderr, "a record of %s, which the file should not have\n", cipher);
    failed++;
}

static void test_vectors(const char *path, struct record_count *counts)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    struct record r;
    struct record_count *k;
    int have = 0, lineno = 0, count = 0, bad = 0, skipped = 0, refused;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

    CHECK(f != NULL);
    if (f == NULL)
        return;
    memset(&r, 0, sizeof(r));
    r.op = -1;
    for (;;) {
        char *got = fgets(line, sizeof(line), f), *v;

        lineno++;
        if (got == NULL || line[0] == '\n' || line[0] == '\r') {
            if (have && strcmp(r.avail, "fips") == 0) {
                skipped++;
            } else if (have) {
                count++;
                bad += !run_record(&r, &refused);
                count_record(counts, r.cipher, refused);
            }
            have = 0;
            memset(&r, 0, sizeof(r));
            r.op = -1;
            if (got == NULL)
                break;
            continue;
        }
        if (line[0] == '#')
            continue;
        v = strstr(line, " =");
        if (v == NULL)
            continue;
        *v = '\0';
        v += 2;
        v += *v == ' ';
        v[strcspn(v, "\r\n")] = '\0';
        if (strcmp(line, "Cipher") == 0) {
            snprintf(r.cipher, sizeof(r.cipher), "%s", v);
            r.line = lineno;
            have = 1;
        } else if (strcmp(line, "Key") == 0) {
            r.keyl = unhex(v, r.key, sizeof(r.key));
        } else if (strcmp(line, "IV") == 0) {
            r.ivl = unhex(v, r.iv, sizeof(r.iv));
        } else if (strcmp(line, "IVlen") == 0) {
            r.ivlen_set = strtoul(v, NULL, 10);
        } else if (strcmp(line, "AAD") == 0) {
            r.aadl = unhex(v, r.aad, sizeof(r.aad));
        } else if (strcmp(line, "Tag") == 0) {
            r.tagl = unhex(v, r.tag, sizeof(r.tag));
        } else if (strcmp(line, "TagLen") == 0) {
            r.taglen_get = strtoul(v, NULL, 10);
        } else if (strcmp(line, "Plaintext") == 0) {
            r.ptl = unhex(v, r.pt, sizeof(r.pt));
        } else if (strcmp(line, "Ciphertext") == 0) {
            r.ctl = unhex(v, r.ct, sizeof(r.ct));
        } else if (strcmp(line, "Operation") == 0) {
            r.op = strcmp(v, "ENCRYPT") == 0 ? 1 : strcmp(v, "DECRYPT") == 0 ? 0 : -1;
        } else if (strcmp(line, "Result") == 0) {
            snprintf(r.result, sizeof(r.result), "%s", v);
        } else if (strcmp(line, "Availablein") == 0) {
            snprintf(r.avail, sizeof(r.avail), "%s", v);
        }
    }
    fclose(f);
    printf("evp: %s: %d OpenSSL test records (%d FIPS-only skipped), %d failed:", base, count, skipped, bad);
    for (k = counts; k->name != NULL; k++)
        printf(" %s %d", k->name, k->records);
    printf("\n");
    for (k = counts; k->name != NULL; k++) {
        if (k->refused)
            printf("evp: %s: %s: %d of its records refused by acrypto as documented (README)\n", base, k->name,
                   k->refused);
        if (k->records == 0)
            fprintf(stderr, "%s: no records of %s\n", base, k->name);
        CHECK(k->records > 0);
    }
    CHECK(bad == 0);
}

/* ---- digests and MACs ---- */

static void test_digests(void)
{
    static const char *const names[] = { "SHA1", "SHA2-256", "SHA256", "SHA-1" };
    size_t i;
    int r;
    unsigned char *msg = malloc(70000);

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        EVP_MD *a = EVP_MD_fetch(libctx, names[i], "provider=acrypto");
        EVP_MD *d = EVP_MD_fetch(libctx, names[i], "provider=default");
        int bad = 0;

        CHECK(a != NULL && d != NULL && EVP_MD_get0_provider(a) == prov_acrypto);
        if (a == NULL || d == NULL)
            continue;
        for (r = 0; r < 30; r++) {
            size_t len = rnd_below(r < 15 ? 200 : 70000), off = 0, split = rnd_below(len + 1);
            unsigned char ref[64], got[64], cp[64];
            unsigned int lref = 0, lgot = 0, lcp = 0;
            EVP_MD_CTX *ctx = EVP_MD_CTX_new(), *copy = EVP_MD_CTX_new();
            int ok;

            rnd_bytes(msg, len);
            ok = EVP_Digest(msg, len, ref, &lref, d, NULL) && EVP_DigestInit_ex2(ctx, a, NULL);
            /* Random chunks up to the split, a copy there, both go on. */
            while (ok && off < split) {
                size_t n = 1 + rnd_below(split - off);

                ok = EVP_DigestUpdate(ctx, msg + off, n);
                off += n;
            }
            ok = ok && EVP_MD_CTX_copy_ex(copy, ctx) && EVP_DigestUpdate(ctx, msg + off, len - off)
                 && EVP_DigestUpdate(copy, msg + off, len - off) && EVP_DigestFinal_ex(ctx, got, &lgot)
                 && EVP_DigestFinal_ex(copy, cp, &lcp);
            if (!ok || lgot != lref || lcp != lref || memcmp(ref, got, lref) != 0 || memcmp(ref, cp, lref) != 0) {
                fprintf(stderr, "%s: %zu bytes split at %zu differ\n", names[i], len, split);
                ERR_print_errors_fp(stderr);
                bad++;
            }
            EVP_MD_CTX_free(ctx);
            EVP_MD_CTX_free(copy);
        }
        CHECK(bad == 0);
        EVP_MD_free(a);
        EVP_MD_free(d);
    }
    free(msg);
}

static int mac_once(EVP_MAC *mac, const char *digest, const unsigned char *key, size_t keylen,
                    const unsigned char *msg, size_t len, unsigned char *out, size_t *outl, int chunked)
{
    OSSL_PARAM params[] = { OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0), OSSL_PARAM_END };
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    size_t off = 0;
    int ok = ctx != NULL && EVP_MAC_init(ctx, key, keylen, params);

    while (ok && off < len) {
        size_t n = chunked ? 1 + rnd_below(len - off) : len - off;

        ok = EVP_MAC_update(ctx, msg + off, n);
        off += n;
    }
    ok = ok && EVP_MAC_final(ctx, out, outl, 64);
    EVP_MAC_CTX_free(ctx);
    return ok;
}

static void test_macs(void)
{
    static const char *const digests[] = { "SHA1", "SHA2-256", "SHA256" };
    EVP_MAC *a = EVP_MAC_fetch(libctx, "HMAC", "provider=acrypto");
    EVP_MAC *d = EVP_MAC_fetch(libctx, "HMAC", "provider=default");
    unsigned char *msg = malloc(20000), key[300];
    size_t i;
    int r;

    CHECK(a != NULL && d != NULL && EVP_MAC_get0_provider(a) == prov_acrypto);
    if (a == NULL || d == NULL)
        return;
    for (i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
        int bad = 0;

        for (r = 0; r < 20; r++) {
            size_t len = rnd_below(20000), keylen = 1 + rnd_below(sizeof(key) - 1), lref = 0, lgot = 0;
            unsigned char ref[64], got[64];

            rnd_bytes(msg, len);
            rnd_bytes(key, keylen);
            if (!mac_once(d, digests[i], key, keylen, msg, len, ref, &lref, 0)
                || !mac_once(a, digests[i], key, keylen, msg, len, got, &lgot, 1) || lref != lgot
                || memcmp(ref, got, lref) != 0) {
                fprintf(stderr, "HMAC-%s: key %zu, %zu bytes differ\n", digests[i], keylen, len);
                ERR_print_errors_fp(stderr);
                bad++;
            }
        }
        CHECK(bad == 0);
    }
    /* Re-init with the previous key (no key given), and a copy mid-MAC. */
    {
        OSSL_PARAM params[] = { OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0), OSSL_PARAM_END };
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(a), *cp;
        unsigned char m1[64], m2[64], m3[64], ref2[64];
        size_t l1, l2, l3, lr;

        rnd_bytes(key, 32);
        rnd_bytes(msg, 1000);
        CHECK(EVP_MAC_init(ctx, key, 32, params) && EVP_MAC_update(ctx, msg, 500));
        CHECK((cp = EVP_MAC_CTX_dup(ctx)) != NULL);
        CHECK(EVP_MAC_update(ctx, msg + 500, 500) && EVP_MAC_final(ctx, m1, &l1, sizeof(m1)));
        CHECK(cp != NULL && EVP_MAC_update(cp, msg + 500, 500) && EVP_MAC_final(cp, m3, &l3, sizeof(m3)));
        CHECK(EVP_MAC_init(ctx, NULL, 0, NULL) && EVP_MAC_update(ctx, msg + 1, 999)
              && EVP_MAC_final(ctx, m2, &l2, sizeof(m2)));
        CHECK(mac_once(d, "SHA256", key, 32, msg + 1, 999, ref2, &lr, 0));
        CHECK(l2 == lr && memcmp(m2, ref2, lr) == 0);
        CHECK(mac_once(d, "SHA256", key, 32, msg, 1000, ref2, &lr, 0));
        CHECK(l1 == lr && memcmp(m1, ref2, lr) == 0 && l3 == lr && memcmp(m3, ref2, lr) == 0);
        /*
         * A digest acrypto lacks (SHA2-512) is handed to the default
         * provider's HMAC, mid-context (the key set before goes with it):
         * the same MAC as the default provider's.
         */
        {
            OSSL_PARAM p512[] = { OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA512", 0), OSSL_PARAM_END };

            CHECK(EVP_MAC_init(ctx, NULL, 0, p512) && EVP_MAC_update(ctx, msg, 1000)
                  && EVP_MAC_final(ctx, m2, &l2, sizeof(m2)));
            CHECK(mac_once(d, "SHA512", key, 32, msg, 1000, ref2, &lr, 0));
            CHECK(l2 == 64 && l2 == lr && memcmp(m2, ref2, lr) == 0);
            /* and back to SHA2-256 on acrypto */
            CHECK(EVP_MAC_init(ctx, NULL, 0, params) && EVP_MAC_update(ctx, msg, 1000)
                  && EVP_MAC_final(ctx, m2, &l2, sizeof(m2)));
            CHECK(l2 == 32 && memcmp(m2, m1, 32) == 0);
        }
        /* Bad use: a digest no provider has, final without init. */
        {
            OSSL_PARAM bad[] = { OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, "NO-SUCH-DIGEST", 0), OSSL_PARAM_END };
            EVP_MAC_CTX *fresh = EVP_MAC_CTX_new(a);

            CHECK_ERR(EVP_MAC_init(ctx, key, 32, bad));
            CHECK_ERR(EVP_MAC_final(fresh, m1, &l1, sizeof(m1)));
            EVP_MAC_CTX_free(fresh);
        }
        EVP_MAC_CTX_free(ctx);
        EVP_MAC_CTX_free(cp);
    }
    EVP_MAC_free(a);
    EVP_MAC_free(d);
    free(msg);
}

/* One value of an evp test file: "text" or hex; returns its length. */
static size_t parse_value(const char *v, unsigned char *out, size_t max)
{
    if (v[0] == '"') {
        const char *end = strrchr(v + 1, '"');
        size_t n = end != NULL ? (size_t)(end - v - 1) : 0;

        if (n > max)
            n = max;
        memcpy(out, v + 1, n);
        return n;
    }
    return unhex(v, out, max);
}

struct chunk {
    unsigned char *data;
    size_t len, count;
};

struct hrecord {
    int is_mac;
    char alg[32];
    unsigned char key[300], out[64];
    size_t keyl, outl;
    struct chunk in[8];
    int nin;
    int line;
};

static int run_hrecord(const struct hrecord *r)
{
    unsigned char out[64];
    size_t outl = 0;
    int ok = 1, i;
    size_t c;

    if (!r->is_mac) {
        EVP_MD *md = EVP_MD_fetch(libctx, r->alg, "provider=acrypto");
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned int l = 0;

        ok = md != NULL && EVP_MD_get0_provider(md) == prov_acrypto && EVP_DigestInit_ex2(ctx, md, NULL);
        for (i = 0; ok && i < r->nin; i++)
            for (c = 0; ok && c < r->in[i].count; c++)
                ok = EVP_DigestUpdate(ctx, r->in[i].data, r->in[i].len);
        ok = ok && EVP_DigestFinal_ex(ctx, out, &l);
        outl = l;
        EVP_MD_CTX_free(ctx);
        EVP_MD_free(md);
    } else {
        EVP_MAC *mac = EVP_MAC_fetch(libctx, "HMAC", "provider=acrypto");
        OSSL_PARAM params[] = { OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)r->alg, 0), OSSL_PARAM_END };
        EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;

        ok = ctx != NULL && EVP_MAC_init(ctx, r->key, r->keyl, params);
        for (i = 0; ok && i < r->nin; i++)
            for (c = 0; ok && c < r->in[i].count; c++)
                ok = EVP_MAC_update(ctx, r->in[i].data, r->in[i].len);
        ok = ok && EVP_MAC_final(ctx, out, &outl, sizeof(out));
        EVP_MAC_CTX_free(ctx);
        EVP_MAC_free(mac);
    }
    ok = ok && outl == r->outl && memcmp(out, r->out, outl) == 0;
    if (!ok) {
        fprintf(stderr, "record at line %d (%s) failed\n", r->line, r->alg);
        ERR_print_errors_fp(stderr);
    }
    return ok;
}

static void free_hrecord(struct hrecord *r)
{
    int i;

    for (i = 0; i < r->nin; i++)
        free(r->in[i].data);
    memset(r, 0, sizeof(*r));
}

static void test_hash_vectors(const char *path, int min_records)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    unsigned char tmp[4096];
    struct hrecord r;
    int have = 0, lineno = 0, count = 0, bad = 0;

    CHECK(f != NULL);
    if (f == NULL)
        return;
    memset(&r, 0, sizeof(r));
    for (;;) {
        char *got = fgets(line, sizeof(line), f), *v;

        lineno++;
        if (got == NULL || line[0] == '\n' || line[0] == '\r') {
            if (have) {
                count++;
                bad += !run_hrecord(&r);
            }
            have = 0;
            free_hrecord(&r);
            if (got == NULL)
                break;
            continue;
        }
        if (line[0] == '#' || (v = strstr(line, " = ")) == NULL)
            continue;
        *v = '\0';
        v += 3;
        v[strcspn(v, "\r\n")] = '\0';
        if (strcmp(line, "Digest") == 0 || strcmp(line, "MAC") == 0) {
            r.is_mac = line[0] == 'M';
            if (!r.is_mac)
                snprintf(r.alg, sizeof(r.alg), "%s", v);
            r.line = lineno;
            have = 1;
        } else if (strcmp(line, "Algorithm") == 0) {
            snprintf(r.alg, sizeof(r.alg), "%s", v);
        } else if (strcmp(line, "Key") == 0) {
            r.keyl = parse_value(v, r.key, sizeof(r.key));
        } else if (strcmp(line, "Output") == 0) {
            r.outl = parse_value(v, r.out, sizeof(r.out));
        } else if (strcmp(line, "Input") == 0 && r.nin < 8) {
            size_t n = parse_value(v, tmp, sizeof(tmp));

            r.in[r.nin].data = malloc(n ? n : 1);
            memcpy(r.in[r.nin].data, tmp, n);
            r.in[r.nin].len = n;
            r.in[r.nin].count = 1;
            r.nin++;
        } else if (strcmp(line, "Ncopy") == 0 && r.nin > 0) {
            struct chunk *c = &r.in[r.nin - 1];
            size_t k, times = strtoul(v, NULL, 10);
            unsigned char *d = malloc(c->len * times + 1);

            for (k = 0; k < times; k++)
                memcpy(d + k * c->len, c->data, c->len);
            free(c->data);
            c->data = d;
            c->len *= times;
        } else if (strcmp(line, "Count") == 0 && r.nin > 0) {
            r.in[r.nin - 1].count = strtoul(v, NULL, 10);
        }
    }
    fclose(f);
    printf("evp: %d OpenSSL test records in %s, %d failed\n", count, strrchr(path, '/') ? strrchr(path, '/') + 1 : path, bad);
    CHECK(count >= min_records);
    CHECK(bad == 0);
}

static void test_rand(void)
{
    EVP_RAND *rand = EVP_RAND_fetch(libctx, "ACRYPTO-RNG", "provider=acrypto");
    EVP_RAND_CTX *ctx = rand != NULL ? EVP_RAND_CTX_new(rand, NULL) : NULL;
    unsigned char a[1000], b[1000], zero[1000] = { 0 };

    CHECK(rand != NULL && EVP_RAND_get0_provider(rand) == prov_acrypto);
    CHECK(ctx != NULL && EVP_RAND_instantiate(ctx, 256, 0, NULL, 0, NULL));
    CHECK(EVP_RAND_get_state(ctx) == EVP_RAND_STATE_READY);
    CHECK(EVP_RAND_generate(ctx, a, sizeof(a), 256, 0, NULL, 0));
    CHECK(EVP_RAND_generate(ctx, b, sizeof(b), 256, 0, NULL, 0));
    CHECK(memcmp(a, b, sizeof(a)) != 0 && memcmp(a, zero, sizeof(a)) != 0);
    /* A request larger than max_request is split by EVP. */
    {
        unsigned char *big = malloc(200000);

        CHECK(big != NULL && EVP_RAND_generate(ctx, big, 200000, 256, 0, NULL, 0));
        free(big);
    }
    CHECK_ERR(EVP_RAND_instantiate(ctx, 1024, 0, NULL, 0, NULL));
    EVP_RAND_CTX_free(ctx);
    EVP_RAND_free(rand);
}

static uint64_t submitted(void)
{
    uint64_t n = 0;
    OSSL_PARAM p[] = { OSSL_PARAM_uint64("acrypto-submitted", &n), OSSL_PARAM_END };

    OSSL_PROVIDER_get_params(prov_acrypto, p);
    return n;
}

int main(int argc, char **argv)
{
    uint64_t before, after;
    const char *seed = getenv("EVP_TEST_SEED");

    if (argc != 6) {
        fprintf(stderr, "usage: %s MODULES_DIR CIPHER_VECTORS DIGEST_VECTORS MAC_VECTORS AEAD_VECTORS\n", argv[0]);
        return 2;
    }
    rng_state = seed != NULL ? strtoull(seed, NULL, 0) : (unsigned long long)time(NULL) * 2654435761u;
    if (rng_state == 0)
        rng_state = 1;
    printf("evp: seed %llu (EVP_TEST_SEED to repeat)\n", rng_state);
    libctx = OSSL_LIB_CTX_new();
    if (libctx == NULL || !OSSL_PROVIDER_set_default_search_path(libctx, argv[1])
        || (prov_acrypto = OSSL_PROVIDER_load(libctx, "acrypto")) == NULL
        || (prov_default = OSSL_PROVIDER_load(libctx, "default")) == NULL) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    before = submitted();
    test_provenance();
    test_random_against_default(60);
    test_init_forms_and_dup();
    test_fork();
    test_async();
    test_bad_use();
    test_tls_record();
    {
        struct record_count basic[] = { { "AES-128-ECB", 0, 0 }, { "AES-192-ECB", 0, 0 }, { "AES-256-ECB", 0, 0 },
                                        { "AES-128-CBC", 0, 0 }, { "AES-192-CBC", 0, 0 }, { "AES-256-CBC", 0, 0 },
                                        { "AES-128-CTR", 0, 0 }, { "AES-192-CTR", 0, 0 }, { "AES-256-CTR", 0, 0 },
                                        { NULL, 0, 0 } };
        struct record_count aead[] = { { "AES-128-GCM", 0, 0 },      { "AES-192-GCM", 0, 0 },
                                       { "AES-256-GCM", 0, 0 },      { "AES-128-XTS", 0, 0 },
                                       { "AES-256-XTS", 0, 0 },      { "ChaCha20-Poly1305", 0, 0 },
                                       { NULL, 0, 0 } };

        test_vectors(argv[2], basic);
        test_vectors(argv[5], aead);
    }
    test_digests();
    test_macs();
    test_hash_vectors(argv[3], 6);
    test_hash_vectors(argv[4], 6);
    test_rand();
    after = submitted();
    CHECK(after > before + 1000);
    printf("evp: %llu acrypto requests\n", (unsigned long long)(after - before));

    OSSL_PROVIDER_unload(prov_acrypto);
    OSSL_PROVIDER_unload(prov_default);
    OSSL_LIB_CTX_free(libctx);
    printf("evp: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
