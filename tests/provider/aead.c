/*
 * aead.c - AES-128/192/256-GCM and ChaCha20-Poly1305 of the acrypto
 * provider through the EVP API, against OpenSSL's default provider.
 *
 *   aead MODULE_DIR
 *
 *  - the fetched cipher comes from acrypto (EVP_CIPHER_get0_provider);
 *  - random keys, nonces, AAD and message lengths (0 to 20000 bytes), AAD
 *    and data fed in random update chunks: ciphertext and tag equal the
 *    default provider's, and acrypto decrypts them back;
 *  - a tampered tag, AAD or ciphertext: decryption final fails and the
 *    output buffer is left as it was (no plaintext released);
 *  - a context copied mid-message finishes as the original;
 *  - bad use is an error: an IV length other than 12, decryption final
 *    without a tag, AAD after data, a second message on a used IV, a tag
 *    asked for before final;
 *  - a seal and an open inside an ASYNC job (the job pauses while acrypto
 *    works) give the default provider's bytes;
 *  - SHA2-256 digest updates inside an ASYNC job pause the job (not block)
 *    and give the default provider's digest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include <openssl/async.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

static int passed, failed;

#define CHECK(c)                                                             \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #c);   \
            ERR_print_errors_fp(stderr);                                     \
            failed++;                                                        \
            return 0;                                                        \
        }                                                                    \
    } while (0)

static OSSL_LIB_CTX *lacp, *ldef;
static OSSL_PROVIDER *pa, *pad, *pd;

static unsigned rnd(unsigned n)
{
    unsigned v;

    RAND_bytes((unsigned char *)&v, sizeof(v));
    return n != 0 ? v % n : 0;
}

/* Feeds buf in random chunks through update (out NULL = AAD). */
static int feed(EVP_CIPHER_CTX *c, unsigned char *out, int *outl, const unsigned char *in, size_t len)
{
    size_t off = 0;
    int total = 0, l;

    while (off < len) {
        size_t n = 1 + rnd((unsigned)(len - off));

        if (!EVP_CipherUpdate(c, out != NULL ? out + total : NULL, &l, in + off, (int)n))
            return 0;
        if (out != NULL)
            total += l;
        off += n;
    }
    *outl = total;
    return 1;
}

/* One seal: ct (len bytes) and a 16-byte tag; 1 on success. */
static int seal(const EVP_CIPHER *c, const unsigned char *key, const unsigned char *iv, const unsigned char *aad,
                size_t aadl, const unsigned char *pt, size_t len, unsigned char *ct, unsigned char *tag)
{
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int l = 0, f = 0, ok;

    ok = x != NULL && EVP_EncryptInit_ex2(x, c, key, iv, NULL) && feed(x, NULL, &l, aad, aadl)
         && feed(x, ct, &l, pt, len) && EVP_EncryptFinal_ex(x, ct + l, &f) && (size_t)(l + f) == len
         && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, tag) > 0;
    EVP_CIPHER_CTX_free(x);
    return ok;
}

/* One open; 1 when the tag verifies and len bytes come out. */
static int open_(const EVP_CIPHER *c, const unsigned char *key, const unsigned char *iv, const unsigned char *aad,
                 size_t aadl, const unsigned char *ct, size_t len, const unsigned char *tag, unsigned char *pt)
{
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int l = 0, f = 0, ok;

    ok = x != NULL && EVP_DecryptInit_ex2(x, c, key, iv, NULL)
         && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, 16, (void *)tag) > 0 && feed(x, NULL, &l, aad, aadl)
         && feed(x, pt, &l, ct, len) && EVP_DecryptFinal_ex(x, pt + l, &f) && (size_t)(l + f) == len;
    EVP_CIPHER_CTX_free(x);
    return ok;
}

#define MAXLEN 20000

static int random_case(const EVP_CIPHER *a, const EVP_CIPHER *d, size_t keylen)
{
    unsigned char key[32], iv[12], aad[300], tag[16], tagd[16];
    static unsigned char pt[MAXLEN], ct[MAXLEN], ctd[MAXLEN], back[MAXLEN], guard[MAXLEN];
    size_t len = rnd(8) == 0 ? 0 : rnd(MAXLEN), aadl = rnd(4) == 0 ? 0 : rnd(sizeof(aad));
    size_t i;

    RAND_bytes(key, (int)keylen);
    RAND_bytes(iv, sizeof(iv));
    RAND_bytes(aad, sizeof(aad));
    RAND_bytes(pt, MAXLEN);
    CHECK(seal(a, key, iv, aad, aadl, pt, len, ct, tag));
    CHECK(seal(d, key, iv, aad, aadl, pt, len, ctd, tagd));
    CHECK(memcmp(ct, ctd, len) == 0 && memcmp(tag, tagd, 16) == 0);
    CHECK(open_(a, key, iv, aad, aadl, ct, len, tag, back) && memcmp(back, pt, len) == 0);
    /* Tampered tag, AAD, ciphertext: no plaintext. */
    for (i = 0; i < 3; i++) {
        unsigned char *p = i == 0 ? tag : i == 1 ? aad : ct;
        size_t n = i == 0 ? 16 : i == 1 ? aadl : len, at;
        unsigned char orig;

        if (n == 0)
            continue;
        at = rnd((unsigned)n);
        orig = p[at];
        p[at] ^= (unsigned char)(1 + rnd(255));
        memset(back, 0xa5, MAXLEN);
        memset(guard, 0xa5, MAXLEN);
        CHECK(!open_(a, key, iv, aad, aadl, ct, len, tag, back));
        CHECK(memcmp(back, guard, MAXLEN) == 0);
        ERR_clear_error();
        CHECK(!open_(d, key, iv, aad, aadl, ct, len, tag, back)); /* the reference agrees */
        ERR_clear_error();
        p[at] = orig;
    }
    passed++;
    return 1;
}

/* A context copied mid-message (EVP_CIPHER_CTX_copy) finishes as the original. */
static int dup_case(const EVP_CIPHER *a, const EVP_CIPHER *d, size_t keylen)
{
    unsigned char key[32], iv[12], aad[40], pt[3000], c1[3000], c2[3000], cr[3000], t1[16], t2[16], tr[16];
    size_t half = rnd(sizeof(pt));
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new(), *y = EVP_CIPHER_CTX_new();
    int l1 = 0, l2 = 0, l, f1 = 0, f2 = 0;

    CHECK(x != NULL && y != NULL);
    RAND_bytes(key, (int)keylen);
    RAND_bytes(iv, sizeof(iv));
    RAND_bytes(aad, sizeof(aad));
    RAND_bytes(pt, sizeof(pt));
    CHECK(seal(d, key, iv, aad, sizeof(aad), pt, sizeof(pt), cr, tr));
    CHECK(EVP_EncryptInit_ex2(x, a, key, iv, NULL) && EVP_EncryptUpdate(x, NULL, &l, aad, sizeof(aad)));
    CHECK(EVP_EncryptUpdate(x, c1, &l1, pt, (int)half) && EVP_CIPHER_CTX_copy(y, x));
    l2 = l1;
    memcpy(c2, c1, (size_t)l1);
    CHECK(EVP_EncryptUpdate(x, c1 + l1, &l, pt + half, (int)(sizeof(pt) - half)));
    l1 += l;
    CHECK(EVP_EncryptUpdate(y, c2 + l2, &l, pt + half, (int)(sizeof(pt) - half)));
    l2 += l;
    CHECK(EVP_EncryptFinal_ex(x, c1 + l1, &f1) && EVP_EncryptFinal_ex(y, c2 + l2, &f2));
    CHECK(l1 + f1 == (int)sizeof(pt) && l2 + f2 == (int)sizeof(pt));
    CHECK(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, t1) > 0 && EVP_CIPHER_CTX_ctrl(y, EVP_CTRL_AEAD_GET_TAG, 16, t2) > 0);
    CHECK(memcmp(c1, cr, sizeof(pt)) == 0 && memcmp(c2, cr, sizeof(pt)) == 0);
    CHECK(memcmp(t1, tr, 16) == 0 && memcmp(t2, tr, 16) == 0);
    EVP_CIPHER_CTX_free(x);
    EVP_CIPHER_CTX_free(y);
    passed++;
    return 1;
}

static int bad_use(const EVP_CIPHER *a)
{
    unsigned char key[32] = { 1 }, iv[16] = { 2 }, buf[64] = { 0 }, tag[16];
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    int l, f;

    CHECK(x != NULL);
    /* An IV length other than 12. */
    CHECK(EVP_EncryptInit_ex2(x, a, NULL, NULL, NULL));
    CHECK(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 8, NULL) <= 0);
    ERR_clear_error();
    CHECK(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 16, NULL) <= 0);
    ERR_clear_error();
    /* A tag before final; AAD after data; a second message on a used IV. */
    CHECK(EVP_EncryptInit_ex2(x, a, key, iv, NULL));
    CHECK(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, tag) <= 0);
    ERR_clear_error();
    CHECK(EVP_EncryptUpdate(x, buf, &l, buf, 10));
    CHECK(!EVP_EncryptUpdate(x, NULL, &l, buf, 10));
    ERR_clear_error();
    CHECK(EVP_EncryptFinal_ex(x, buf, &f) && f == 10);
    CHECK(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, tag) > 0);
    CHECK(!EVP_EncryptUpdate(x, buf, &l, buf, 10));
    ERR_clear_error();
    CHECK(!EVP_EncryptFinal_ex(x, buf, &f));
    ERR_clear_error();
    /* Decryption final without a tag; a tag set on an encryption. */
    CHECK(EVP_DecryptInit_ex2(x, a, key, iv, NULL));
    CHECK(EVP_DecryptUpdate(x, buf, &l, buf, 10));
    CHECK(!EVP_DecryptFinal_ex(x, buf, &f));
    ERR_clear_error();
    CHECK(EVP_EncryptInit_ex2(x, a, key, iv, NULL));
    CHECK(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, 16, tag) <= 0);
    ERR_clear_error();
    /* Final without a key. */
    EVP_CIPHER_CTX_free(x);
    CHECK((x = EVP_CIPHER_CTX_new()) != NULL);
    CHECK(EVP_EncryptInit_ex2(x, a, NULL, NULL, NULL));
    CHECK(!EVP_EncryptFinal_ex(x, buf, &f));
    ERR_clear_error();
    EVP_CIPHER_CTX_free(x);
    passed++;
    return 1;
}

struct jarg {
    const EVP_CIPHER *a;
    const unsigned char *key, *iv, *pt;
    size_t len;
    unsigned char *ct, *tag, *back;
    int ok;
};

static int job_fn(void *varg)
{
    struct jarg *j = *(struct jarg **)varg;

    j->ok = seal(j->a, j->key, j->iv, j->pt, 13, j->pt, j->len, j->ct, j->tag)
            && open_(j->a, j->key, j->iv, j->pt, 13, j->ct, j->len, j->tag, j->back);
    return j->ok;
}

static int async_case(const EVP_CIPHER *a, const EVP_CIPHER *d)
{
    unsigned char key[32], iv[12], tag[16], tagd[16];
    static unsigned char pt[4096], ct[4096], ctd[4096], back[4096];
    struct jarg j = { a, key, iv, pt, sizeof(pt), ct, tag, back, 0 }, *jp = &j;
    ASYNC_JOB *job = NULL;
    ASYNC_WAIT_CTX *w = ASYNC_WAIT_CTX_new();
    int ret = 0, st, pauses = 0;

    CHECK(w != NULL);
    RAND_bytes(key, 32);
    RAND_bytes(iv, 12);
    RAND_bytes(pt, sizeof(pt));
    while ((st = ASYNC_start_job(&job, w, &ret, job_fn, &jp, sizeof(jp))) == ASYNC_PAUSE)
        pauses++;
    ASYNC_WAIT_CTX_free(w);
    CHECK(st == ASYNC_FINISH && ret == 1 && j.ok);
    CHECK(seal(d, key, iv, pt, 13, pt, sizeof(pt), ctd, tagd));
    CHECK(memcmp(ct, ctd, sizeof(ct)) == 0 && memcmp(tag, tagd, 16) == 0 && memcmp(back, pt, sizeof(pt)) == 0);
    printf("aead: %s in an ASYNC job: equal to the default provider (%d pauses)\n", EVP_CIPHER_get0_name(a), pauses);
    passed++;
    return 1;
}

/*
 * A SHA2-256 digest of 16 updates of 64 KiB inside an ASYNC job: the updates
 * pause the job. Then 32 digests of 1000 bytes each, equal to the default
 * provider's: their finals pause the job too (counted while in_final is set).
 */
static unsigned char dbuf[1 << 16], dmd[32];
static volatile int in_final;
static EVP_MD *dmd_default;

static int digest_job(void *varg)
{
    EVP_MD *md = *(EVP_MD **)varg;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char small[32], ref[32];
    unsigned int l = 0;
    int i, ok = m != NULL && EVP_DigestInit_ex(m, md, NULL);

    for (i = 0; ok && i < 16; i++)
        ok = EVP_DigestUpdate(m, dbuf, sizeof(dbuf));
    ok = ok && EVP_DigestFinal_ex(m, dmd, &l) && l == 32;
    for (i = 0; ok && i < 32; i++) {
        ok = EVP_DigestInit_ex(m, md, NULL) && EVP_DigestUpdate(m, dbuf + i, 1000);
        in_final = 1;
        ok = ok && EVP_DigestFinal_ex(m, small, &l) && l == 32;
        in_final = 0;
        ok = ok && EVP_Digest(dbuf + i, 1000, ref, NULL, dmd_default, NULL) && memcmp(small, ref, 32) == 0;
    }
    EVP_MD_CTX_free(m);
    return ok;
}

static int digest_async(void)
{
    EVP_MD *md = EVP_MD_fetch(lacp, "SHA2-256", "provider=acrypto");
    ASYNC_JOB *job = NULL;
    ASYNC_WAIT_CTX *w = ASYNC_WAIT_CTX_new();
    unsigned char ref[32];
    int ret = 0, st, pauses = 0, final_pauses = 0, i;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_MD *dm = EVP_MD_fetch(ldef, "SHA2-256", NULL);

    CHECK(md != NULL && w != NULL && m != NULL && dm != NULL);
    dmd_default = dm;
    RAND_bytes(dbuf, sizeof(dbuf));
    while ((st = ASYNC_start_job(&job, w, &ret, digest_job, &md, sizeof(md))) == ASYNC_PAUSE) {
        pauses++;
        final_pauses += in_final;
    }
    ASYNC_WAIT_CTX_free(w);
    CHECK(st == ASYNC_FINISH && ret == 1);
    CHECK(EVP_DigestInit_ex(m, dm, NULL));
    for (i = 0; i < 16; i++)
        CHECK(EVP_DigestUpdate(m, dbuf, sizeof(dbuf)));
    CHECK(EVP_DigestFinal_ex(m, ref, NULL));
    CHECK(memcmp(ref, dmd, 32) == 0);
    /* The updates and the finals submitted and paused instead of blocking the job. */
    CHECK(pauses > final_pauses && final_pauses > 0);
    printf("aead: SHA2-256 digest updates and finals in an ASYNC job: equal to the default provider "
           "(%d pauses, %d of them in 32 finals)\n",
           pauses, final_pauses);
    EVP_MD_CTX_free(m);
    EVP_MD_free(md);
    EVP_MD_free(dm);
    passed++;
    return 1;
}

/*
 * Known answers through the provider: NIST CAVP GCM files (.rsp: Key, IV,
 * PT, AAD, CT, Tag, FAIL) and the ChaCha20-Poly1305 files of
 * tests/vectors (OpenSSL's evpciph records: Plaintext, Ciphertext, Result =
 * CIPHERFINAL_ERROR; BoringSSL's: KEY, NONCE, IN, AD, CT, TAG). Every record
 * with a 12-byte IV seals to its ciphertext and tag (unless it is a failing
 * one) and opens back, a failing one fails at final with the output buffer
 * untouched; an IV of another length, or a decryption tag shorter than acrypto
 * takes (GCM 12-16 bytes), must be refused with an error (the tag's at final,
 * releasing nothing).
 */
struct krec {
    unsigned char key[32], iv[128], aad[1024], pt[4096], ct[4096], tag[16];
    size_t keyl, ivl, aadl, ptl, ctl, tagl;
    int fail, have_pt, have;
};

static size_t kparse(const char *v, unsigned char *out, size_t max)
{
    size_t n = 0;

    while (*v == ' ')
        v++;
    if (*v == '"') {
        const char *end = strrchr(v + 1, '"');

        for (v++; end != NULL && v < end && n < max; v++)
            out[n++] = (unsigned char)*v;
        return n;
    }
    while (v[0] && v[1] && n < max && isxdigit((unsigned char)v[0])) {
        unsigned int b;

        if (sscanf(v, "%2x", &b) != 1)
            break;
        out[n++] = (unsigned char)b;
        v += 2;
    }
    return n;
}

static int krun(const EVP_CIPHER *c, const struct krec *r, int *refused)
{
    unsigned char out[4096];
    EVP_CIPHER_CTX *x;
    int l = 0, f = 0, ok;
    size_t i;

    if (r->ivl != 12) {
        x = EVP_CIPHER_CTX_new();
        ok = x != NULL && EVP_EncryptInit_ex2(x, c, NULL, NULL, NULL)
             && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, (int)r->ivl, NULL) > 0;
        EVP_CIPHER_CTX_free(x);
        CHECK(!ok && ERR_peek_last_error() != 0);
        ERR_clear_error();
        (*refused)++;
        passed++;
        return 1;
    }
    if (!r->fail) {
        unsigned char tag[16];

        CHECK(r->ptl == r->ctl);
        x = EVP_CIPHER_CTX_new();
        ok = x != NULL && EVP_EncryptInit_ex2(x, c, r->key, r->iv, NULL)
             && (r->aadl == 0 || EVP_EncryptUpdate(x, NULL, &l, r->aad, (int)r->aadl))
             && EVP_EncryptUpdate(x, out, &l, r->pt, (int)r->ptl) && EVP_EncryptFinal_ex(x, out + l, &f)
             && (size_t)(l + f) == r->ptl && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, (int)r->tagl, tag) > 0;
        EVP_CIPHER_CTX_free(x);
        CHECK(ok && memcmp(out, r->ct, r->ctl) == 0 && memcmp(tag, r->tag, r->tagl) == 0);
    }
    x = EVP_CIPHER_CTX_new();
    CHECK(x != NULL && EVP_DecryptInit_ex2(x, c, r->key, r->iv, NULL));
    if (EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, (int)r->tagl, (void *)r->tag) <= 0) {
        EVP_CIPHER_CTX_free(x);
        CHECK(r->tagl < 12 && ERR_peek_last_error() != 0);
        ERR_clear_error();
        (*refused)++;
        passed++;
        return 1;
    }
    memset(out, 0xa5, sizeof(out));
    l = f = 0;
    ok = (r->aadl == 0 || EVP_DecryptUpdate(x, NULL, &l, r->aad, (int)r->aadl))
         && EVP_DecryptUpdate(x, out, &l, r->ct, (int)r->ctl) && EVP_DecryptFinal_ex(x, out + l, &f);
    EVP_CIPHER_CTX_free(x);
    if (r->fail || r->tagl < 12) {
        /* a failing record, or a tag shorter than acrypto takes (refused at final) */
        CHECK(!ok && (r->fail || ERR_peek_last_error() != 0));
        ERR_clear_error();
        for (i = 0; i < sizeof(out); i++)
            CHECK(out[i] == 0xa5);
        if (!r->fail)
            (*refused)++;
    } else {
        CHECK(ok && (size_t)(l + f) == r->ctl && memcmp(out, r->pt, r->ptl) == 0);
    }
    passed++;
    return 1;
}

static void known_answers(const char *cipher, const char *path, int min_records)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(lacp, cipher, "provider=acrypto");
    FILE *fp = fopen(path, "r");
    static char line[1 << 14];
    static struct krec r;
    int n = 0, refused = 0, before = failed;

    if (c == NULL || fp == NULL) {
        fprintf(stderr, "%s: %s: cannot open or fetch\n", cipher, path);
        failed++;
        EVP_CIPHER_free(c);
        if (fp != NULL)
            fclose(fp);
        return;
    }
    memset(&r, 0, sizeof(r));
    for (;;) {
        char *got = fgets(line, sizeof(line), fp), *v;
        int start = got != NULL && (strncmp(line, "Count", 5) == 0 || strncmp(line, "COUNT", 5) == 0);

        if (got == NULL || start) {
            if (r.have) {
                n++;
                krun(c, &r, &refused);
            }
            memset(&r, 0, sizeof(r));
            r.have = start;
            if (got == NULL)
                break;
            continue;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "FAIL") == 0 || strstr(line, "CIPHERFINAL_ERROR") != NULL) {
            r.fail = 1;
            continue;
        }
        if (line[0] == '#' || line[0] == '[' || (v = strchr(line, '=')) == NULL)
            continue;
        *v++ = '\0';
        line[strcspn(line, " ")] = '\0';
        if (strcmp(line, "Key") == 0 || strcmp(line, "KEY") == 0)
            r.keyl = kparse(v, r.key, sizeof(r.key));
        else if (strcmp(line, "IV") == 0 || strcmp(line, "NONCE") == 0)
            r.ivl = kparse(v, r.iv, sizeof(r.iv));
        else if (strcmp(line, "AAD") == 0 || strcmp(line, "AD") == 0)
            r.aadl = kparse(v, r.aad, sizeof(r.aad));
        else if (strcmp(line, "PT") == 0 || strcmp(line, "Plaintext") == 0 || strcmp(line, "IN") == 0)
            r.ptl = kparse(v, r.pt, sizeof(r.pt)), r.have_pt = 1;
        else if (strcmp(line, "CT") == 0 || strcmp(line, "Ciphertext") == 0)
            r.ctl = kparse(v, r.ct, sizeof(r.ct));
        else if (strcmp(line, "Tag") == 0 || strcmp(line, "TAG") == 0)
            r.tagl = kparse(v, r.tag, sizeof(r.tag));
    }
    fclose(fp);
    EVP_CIPHER_free(c);
    printf("aead: %s: %d known-answer records of %s (%d refused as acrypto does not take their IV or tag length), %d failures\n",
           cipher, n, strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path, refused, failed - before);
    if (n < min_records) {
        fprintf(stderr, "%s: only %d records\n", path, n);
        failed++;
    }
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        size_t keylen;
    } algs[] = { { "AES-128-GCM", 16 }, { "AES-192-GCM", 24 }, { "AES-256-GCM", 32 }, { "ChaCha20-Poly1305", 32 } };
    size_t i;
    int k;

    if (argc != 3) {
        fprintf(stderr, "usage: aead MODULE_DIR VECTORS_DIR\n");
        return 2;
    }
    lacp = OSSL_LIB_CTX_new();
    ldef = OSSL_LIB_CTX_new();
    if (lacp == NULL || ldef == NULL || !OSSL_PROVIDER_set_default_search_path(lacp, argv[1])
        || (pa = OSSL_PROVIDER_load(lacp, "acrypto")) == NULL || (pad = OSSL_PROVIDER_load(lacp, "default")) == NULL
        || (pd = OSSL_PROVIDER_load(ldef, "default")) == NULL || !ASYNC_init_thread(4, 4)) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        EVP_CIPHER *a = EVP_CIPHER_fetch(lacp, algs[i].name, "provider=acrypto");
        EVP_CIPHER *d = EVP_CIPHER_fetch(ldef, algs[i].name, NULL);
        int before = failed;

        if (a == NULL || d == NULL || strcmp(OSSL_PROVIDER_get0_name(EVP_CIPHER_get0_provider(a)), "acrypto") != 0) {
            fprintf(stderr, "%s: not fetched from acrypto\n", algs[i].name);
            ERR_print_errors_fp(stderr);
            return 1;
        }
        if (!(EVP_CIPHER_get_flags(a) & EVP_CIPH_FLAG_AEAD_CIPHER) || EVP_CIPHER_get_iv_length(a) != 12
            || EVP_CIPHER_get_mode(a) != EVP_CIPHER_get_mode(d)) {
            fprintf(stderr, "%s: flags, IV length or mode differ from the default provider's\n", algs[i].name);
            failed++;
        }
        for (k = 0; k < 60; k++)
            random_case(a, d, algs[i].keylen);
        for (k = 0; k < 5; k++)
            dup_case(a, d, algs[i].keylen);
        bad_use(a);
        async_case(a, d);
        printf("aead: %s: %d failures in 60 random cases (split updates, tampered tag/AAD/ciphertext) and bad use\n",
               algs[i].name, failed - before);
        EVP_CIPHER_free(a);
        EVP_CIPHER_free(d);
    }
    {
        static const char *gcm[][2] = { { "AES-128-GCM", "128" }, { "AES-192-GCM", "192" }, { "AES-256-GCM", "256" } };
        char path[4096];

        for (i = 0; i < 3; i++) {
            snprintf(path, sizeof(path), "%s/aes-gcm/gcmEncryptExtIV%s.rsp", argv[2], gcm[i][1]);
            known_answers(gcm[i][0], path, 400);
            snprintf(path, sizeof(path), "%s/aes-gcm/gcmDecrypt%s.rsp", argv[2], gcm[i][1]);
            known_answers(gcm[i][0], path, 400);
        }
        snprintf(path, sizeof(path), "%s/chacha20-poly1305/openssl.txt", argv[2]);
        known_answers("ChaCha20-Poly1305", path, 5);
        snprintf(path, sizeof(path), "%s/chacha20-poly1305/boringssl.txt", argv[2]);
        known_answers("ChaCha20-Poly1305", path, 60);
    }
    digest_async();
    ASYNC_cleanup_thread();
    OSSL_PROVIDER_unload(pa);
    OSSL_PROVIDER_unload(pad);
    OSSL_PROVIDER_unload(pd);
    OSSL_LIB_CTX_free(lacp);
    OSSL_LIB_CTX_free(ldef);
    printf("aead: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
