/* AEAD through OpenSSL's libcrypto, the independent implementation for
 * tests/aead.rs (`openssl enc` refuses AEAD ciphers).
 *
 * Reads jobs from stdin, one a line:
 *   s|o ALG KEY NONCE AAD DATA TAG      (hex, "-" for empty; ALG as acrypto names it)
 * and answers one line each:
 *   seal: CIPHERTEXT TAG (16 bytes)     open: PLAINTEXT, or FAIL     bad job: ERR
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEX (1 << 22)

static char line[5 * MAX_HEX + 256];

static int unhex(const char *s, unsigned char *out, size_t cap, size_t *len) {
    size_t n = strlen(s);
    if (strcmp(s, "-") == 0) {
        *len = 0;
        return 0;
    }
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (unsigned char)v;
    }
    *len = n / 2;
    return 0;
}

static void put_hex(const unsigned char *b, size_t n) {
    if (n == 0)
        fputc('-', stdout);
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

static const EVP_CIPHER *cipher_of(const char *name) {
    if (strcmp(name, "aes-128-gcm") == 0)
        return EVP_aes_128_gcm();
    if (strcmp(name, "aes-192-gcm") == 0)
        return EVP_aes_192_gcm();
    if (strcmp(name, "aes-256-gcm") == 0)
        return EVP_aes_256_gcm();
    if (strcmp(name, "chacha20-poly1305") == 0)
        return EVP_chacha20_poly1305();
    return NULL;
}

static unsigned char key[64], nonce[256], tag[16];
static unsigned char aad[MAX_HEX], data[MAX_HEX], out[MAX_HEX + 16];

/* 1: done (output printed), 0: tag mismatch, -1: bad job. */
static int job(char op, const EVP_CIPHER *c, size_t klen, size_t nlen, size_t alen, size_t dlen, size_t tlen) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int enc = op == 's', n = 0, f = 0, ok = -1;
    if (ctx == NULL)
        return -1;
    if ((int)klen != EVP_CIPHER_get_key_length(c))
        goto out;
    if (EVP_CipherInit_ex(ctx, c, NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)nlen, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
        goto out;
    if (alen > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)alen) != 1)
        goto out;
    if (EVP_CipherUpdate(ctx, out, &n, data, (int)dlen) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, (int)tlen, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + n, &f) != 1) {
        ok = enc ? -1 : 0;
        goto out;
    }
    if (enc) {
        unsigned char t[16];
        if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, t) != 1)
            goto out;
        put_hex(out, (size_t)(n + f));
        fputc(' ', stdout);
        put_hex(t, 16);
    } else {
        put_hex(out, (size_t)(n + f));
    }
    ok = 1;
out:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

int main(void) {
    while (fgets(line, sizeof line, stdin) != NULL) {
        char *f[7];
        size_t klen, nlen, alen, dlen, tlen;
        int i = 0;
        for (char *p = strtok(line, " \n"); p != NULL && i < 7; p = strtok(NULL, " \n"))
            f[i++] = p;
        const EVP_CIPHER *c = i == 7 ? cipher_of(f[1]) : NULL;
        int r = -1;
        if (c != NULL && (f[0][0] == 's' || f[0][0] == 'o') && unhex(f[2], key, sizeof key, &klen) == 0 &&
            unhex(f[3], nonce, sizeof nonce, &nlen) == 0 && nlen > 0 && unhex(f[4], aad, sizeof aad, &alen) == 0 &&
            unhex(f[5], data, sizeof data, &dlen) == 0 && unhex(f[6], tag, sizeof tag, &tlen) == 0)
            r = job(f[0][0], c, klen, nlen, alen, dlen, tlen);
        if (r == 0)
            fputs("FAIL", stdout);
        else if (r < 0)
            fputs("ERR", stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    return 0;
}
