/* stream: the C stream API and AEAD associated data, against libcrypto.
 *
 * - AEAD (aes-*-gcm, chacha20-poly1305) with random keys, nonces, AAD and
 *   lengths: acrypto's seal equals libcrypto's ciphertext and tag; open
 *   round-trips; a flipped AAD bit fails with VERIFY_FAILED and writes
 *   nothing to out; AAD on a non-AEAD session is refused.
 * - Streams for every hash, HMAC and AES cbc/ecb/ctr: random split points
 *   (empty updates included), synchronous and asynchronous, equal
 *   libcrypto's one-shot result; a verify stream takes the right MAC and
 *   refuses a flipped one.
 * - Every stream export with NULL and bad arguments gives an error status.
 */
#include "callbacks.h"
#include "check.h"
#include <acrypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdint.h>

static uint64_t rng_state = 0x5eed1234abcdULL;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}
static void fill(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)rnd();
}

/* ---- async completion plumbing ---- */
/* The next completion after the *seen already taken. */
static acrypto_completion wait_one(int *seen)
{
	return wait_callbacks(++*seen);
}

/* ---- AEAD with AAD ---- */
static const EVP_CIPHER *aead_evp(uint32_t alg)
{
	switch (alg) {
	case ACRYPTO_ALG_AES_128_GCM: return EVP_aes_128_gcm();
	case ACRYPTO_ALG_AES_192_GCM: return EVP_aes_192_gcm();
	case ACRYPTO_ALG_AES_256_GCM: return EVP_aes_256_gcm();
	default: return EVP_chacha20_poly1305();
	}
}

static void evp_seal(uint32_t alg, const unsigned char *key, const unsigned char *nonce,
		     const unsigned char *aad, int aad_len, const unsigned char *pt, int len,
		     unsigned char *ct, unsigned char *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0;
	CHECK(EVP_EncryptInit_ex(c, aead_evp(alg), NULL, NULL, NULL) == 1);
	CHECK(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1);
	CHECK(EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) == 1);
	if (aad_len > 0)
		CHECK(EVP_EncryptUpdate(c, NULL, &n, aad, aad_len) == 1);
	if (len > 0)
		CHECK(EVP_EncryptUpdate(c, ct, &n, pt, len) == 1);
	CHECK(EVP_EncryptFinal_ex(c, ct + (len > 0 ? n : 0), &n) == 1);
	CHECK(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1);
	EVP_CIPHER_CTX_free(c);
}

static void aead_with_aad(acrypto_engine *e)
{
	static unsigned char pt[3000], ct[3000], want_ct[3000], out[3000], aad[400];
	unsigned char key[32], nonce[12], tag[16], want_tag[16];
	const uint32_t algs[] = { ACRYPTO_ALG_AES_128_GCM, ACRYPTO_ALG_AES_192_GCM, ACRYPTO_ALG_AES_256_GCM,
				  ACRYPTO_ALG_CHACHA20_POLY1305 };
	const size_t key_lens[] = { 16, 24, 32, 32 };
	int cases = 0;
	for (int a = 0; a < 4; a++) {
		for (int i = 0; i < 25; i++) {
			size_t len = i == 0 ? 0 : rnd() % sizeof pt, aad_len = i == 1 ? 0 : 1 + rnd() % (sizeof aad - 1);
			fill(key, sizeof key);
			fill(nonce, sizeof nonce);
			fill(aad, aad_len);
			fill(pt, len);
			evp_seal(algs[a], key, nonce, aad, (int)aad_len, pt, (int)len, want_ct, want_tag);

			acrypto_step seal = { algs[a], ACRYPTO_OP_ENCRYPT, key, key_lens[a], NULL };
			acrypto_step open = { algs[a], ACRYPTO_OP_DECRYPT, key, key_lens[a], NULL };
			acrypto_session *ss = NULL, *so = NULL;
			EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &seal, 1, 0, 0, NULL, &ss));
			EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &open, 1, 0, 0, NULL, &so));
			acrypto_request r = { pt, len, ct, sizeof ct, nonce, 12, tag, sizeof tag, NULL, aad, aad_len, 0 };
			acrypto_completion c;
			EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(ss, &r, &c));
			CHECK(c.out_len == len && c.tag_len == 16);
			CHECK(memcmp(ct, want_ct, len) == 0);
			CHECK(memcmp(tag, want_tag, 16) == 0);

			acrypto_request o = { ct, len, out, sizeof out, nonce, 12, tag, 16, NULL, aad, aad_len, 0 };
			EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(so, &o, &c));
			CHECK(c.out_len == len && memcmp(out, pt, len) == 0);

			/* Tampered AAD (or AAD dropped): refused, nothing written. */
			memset(out, 0xA5, sizeof out);
			if (aad_len > 0) {
				size_t bit = rnd() % (aad_len * 8);
				aad[bit / 8] ^= (unsigned char)(1u << (bit % 8));
				EXPECT(ACRYPTO_STATUS_VERIFY_FAILED, acrypto_session_run(so, &o, &c));
				aad[bit / 8] ^= (unsigned char)(1u << (bit % 8));
				o.aad_len = 0;
				EXPECT(ACRYPTO_STATUS_VERIFY_FAILED, acrypto_session_run(so, &o, &c));
			} else {
				o.aad = aad;
				o.aad_len = 1;
				aad[0] = 0;
				EXPECT(ACRYPTO_STATUS_VERIFY_FAILED, acrypto_session_run(so, &o, &c));
			}
			int untouched = 1;
			for (size_t k = 0; k < sizeof out; k++)
				untouched &= out[k] == 0xA5;
			CHECK(untouched);
			acrypto_session_free(ss);
			acrypto_session_free(so);
			cases++;
		}
	}
	/* AAD on a session without an AEAD step is refused. */
	unsigned char k16[16] = { 1 }, iv[16] = { 2 }, d[16] = { 3 }, o16[16];
	acrypto_step cbc = { ACRYPTO_ALG_AES_128_CBC, ACRYPTO_OP_ENCRYPT, k16, 16, NULL };
	acrypto_session *s = NULL;
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &cbc, 1, 0, 0, NULL, &s));
	acrypto_request bad = { d, 16, o16, 16, iv, 16, NULL, 0, NULL, d, 4, 0 };
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_run(s, &bad, NULL));
	acrypto_session_free(s);
	printf("aead: %d cases with AAD equal libcrypto\n", cases);
}

/* ---- streams ---- */
struct stream_alg {
	uint32_t alg, op;
	size_t key_len;
	const EVP_CIPHER *(*cipher)(void);
	const EVP_MD *(*md)(void);
	int hmac;
};

static size_t reference(const struct stream_alg *a, const unsigned char *key, const unsigned char *iv,
			const unsigned char *msg, size_t len, unsigned char *out)
{
	unsigned int n = 0;
	if (a->md && !a->hmac) {
		CHECK(EVP_Digest(msg, len, out, &n, a->md(), NULL) == 1);
		return n;
	}
	if (a->hmac) {
		CHECK(HMAC(a->md(), key, (int)a->key_len, msg, len, out, &n) != NULL);
		return n;
	}
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int m = 0, f = 0;
	CHECK(EVP_CipherInit_ex(c, a->cipher(), NULL, key, iv, a->op == ACRYPTO_OP_ENCRYPT) == 1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	if (len > 0)
		CHECK(EVP_CipherUpdate(c, out, &m, msg, (int)len) == 1);
	CHECK(EVP_CipherFinal_ex(c, out + m, &f) == 1);
	EVP_CIPHER_CTX_free(c);
	return (size_t)(m + f);
}

static void streams(acrypto_engine *e)
{
	static unsigned char msg[20000], want[20000 + 64], got[20000 + 64];
	unsigned char key[64], iv[16], tag[64];
	const struct stream_alg algs[] = {
		{ ACRYPTO_ALG_SHA1, ACRYPTO_OP_DIGEST, 0, NULL, EVP_sha1, 0 },
		{ ACRYPTO_ALG_SHA256, ACRYPTO_OP_DIGEST, 0, NULL, EVP_sha256, 0 },
		{ ACRYPTO_ALG_HMAC_SHA1, ACRYPTO_OP_DIGEST, 20, NULL, EVP_sha1, 1 },
		{ ACRYPTO_ALG_HMAC_SHA256, ACRYPTO_OP_DIGEST, 64, NULL, EVP_sha256, 1 },
		{ ACRYPTO_ALG_AES_128_CBC, ACRYPTO_OP_ENCRYPT, 16, EVP_aes_128_cbc, NULL, 0 },
		{ ACRYPTO_ALG_AES_256_CBC, ACRYPTO_OP_DECRYPT, 32, EVP_aes_256_cbc, NULL, 0 },
		{ ACRYPTO_ALG_AES_192_ECB, ACRYPTO_OP_ENCRYPT, 24, EVP_aes_192_ecb, NULL, 0 },
		{ ACRYPTO_ALG_AES_128_ECB, ACRYPTO_OP_DECRYPT, 16, EVP_aes_128_ecb, NULL, 0 },
		{ ACRYPTO_ALG_AES_128_CTR, ACRYPTO_OP_ENCRYPT, 16, EVP_aes_128_ctr, NULL, 0 },
		{ ACRYPTO_ALG_AES_256_CTR, ACRYPTO_OP_DECRYPT, 32, EVP_aes_256_ctr, NULL, 0 },
	};
	int cases = 0, seen = done_count;
	for (size_t a = 0; a < sizeof algs / sizeof algs[0]; a++) {
		const struct stream_alg *sa = &algs[a];
		int is_cipher = sa->cipher != NULL;
		int blocks = is_cipher && sa->cipher != EVP_aes_128_ctr && sa->cipher != EVP_aes_256_ctr;
		for (int i = 0; i < 12; i++) {
			int async = i % 2;
			size_t len = i < 2 ? 0 : rnd() % sizeof msg;
			if (blocks)
				len -= len % 16;
			fill(key, sa->key_len);
			fill(iv, 16);
			fill(msg, len);
			size_t want_len = reference(sa, key, iv, msg, len, want);

			acrypto_step step = { sa->alg, sa->op, key, sa->key_len, NULL };
			acrypto_session *s = NULL;
			acrypto_stream *st = NULL;
			EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &step, 1, 0, 0, NULL, &s));
			size_t iv_len = (is_cipher && !(sa->cipher == EVP_aes_192_ecb || sa->cipher == EVP_aes_128_ecb)) ? 16 : 0;
			EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_new(s, iv_len ? iv : NULL, iv_len, &st));
			size_t at = 0, got_len = 0;
			while (at <= len) {
				size_t n = rnd() % 4 == 0 ? 0 : rnd() % (len - at + 1);
				if (rnd() % 3 == 0 && n > 16)
					n = 1 + rnd() % 16;
				size_t max = 0, w = 0;
				EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_max_output(st, n, &max));
				CHECK(max <= n + 15);
				if (async) {
					EXPECT(ACRYPTO_STATUS_OK,
					       acrypto_stream_update_async(st, msg + at, n, got + got_len,
									   sizeof got - got_len, on_done, NULL, 0));
					acrypto_completion c = wait_one(&seen);
					CHECK(c.status == ACRYPTO_STATUS_OK);
					w = c.out_len;
				} else {
					EXPECT(ACRYPTO_STATUS_OK,
					       acrypto_stream_update(st, msg + at, n, got + got_len, sizeof got - got_len, &w));
				}
				CHECK(w <= max);
				got_len += w;
				at += n;
				if (at == len)
					break;
			}
			size_t w = 0, t = 0;
			if (async) {
				EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_finish_async(st, got + got_len, sizeof got - got_len,
										      tag, sizeof tag, on_done, NULL, 0));
				acrypto_completion c = wait_one(&seen);
				CHECK(c.status == ACRYPTO_STATUS_OK);
				w = c.out_len;
				t = c.tag_len;
			} else {
				EXPECT(ACRYPTO_STATUS_OK,
				       acrypto_stream_finish(st, got + got_len, sizeof got - got_len, &w, tag, sizeof tag, &t));
			}
			got_len += w;
			if (is_cipher) {
				CHECK(got_len == want_len && memcmp(got, want, len) == 0);
				CHECK(t == 0);
			} else {
				CHECK(t == want_len && memcmp(tag, want, want_len) == 0);
				CHECK(got_len == 0);
			}
			/* Finished: no more updates. */
			EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_stream_update(st, msg, 1, got, sizeof got, NULL));
			acrypto_stream_free(st);

			if (sa->hmac) {
				/* A verify stream: the right MAC, then a flipped bit. */
				acrypto_step vs = { sa->alg, ACRYPTO_OP_VERIFY, key, sa->key_len, NULL };
				acrypto_session *v = NULL;
				EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &vs, 1, 0, 0, NULL, &v));
				for (int flip = 0; flip < 2; flip++) {
					EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_new(v, NULL, 0, &st));
					size_t half = len / 2;
					EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_update(st, msg, half, NULL, 0, NULL));
					EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_update(st, msg + half, len - half, NULL, 0, NULL));
					unsigned char mac[64];
					memcpy(mac, want, want_len);
					if (flip)
						mac[rnd() % want_len] ^= 0x10;
					EXPECT(flip ? ACRYPTO_STATUS_VERIFY_FAILED : ACRYPTO_STATUS_OK,
					       acrypto_stream_verify(st, mac, want_len));
					acrypto_stream_free(st);
				}
				acrypto_session_free(v);
			}
			acrypto_session_free(s);
			cases++;
		}
	}
	printf("streams: %d streams equal libcrypto's one-shot result\n", cases);
}

static void bad_arguments(acrypto_engine *e)
{
	unsigned char key[32] = { 1 }, iv[16] = { 0 }, buf[64] = { 0 };
	size_t n = 0;
	acrypto_stream *st = NULL;
	acrypto_session *s = NULL, *x = NULL, *g = NULL;
	acrypto_step cbc = { ACRYPTO_ALG_AES_128_CBC, ACRYPTO_OP_ENCRYPT, key, 16, NULL };
	unsigned char xkey[32];
	for (int i = 0; i < 32; i++)
		xkey[i] = (unsigned char)i;
	acrypto_step xts = { ACRYPTO_ALG_AES_128_XTS, ACRYPTO_OP_ENCRYPT, xkey, 32, NULL };
	acrypto_step gcm = { ACRYPTO_ALG_AES_256_GCM, ACRYPTO_OP_ENCRYPT, key, 32, NULL };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &cbc, 1, 0, 0, NULL, &s));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &xts, 1, 0, 0, NULL, &x));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &gcm, 1, 0, 0, NULL, &g));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_new(NULL, iv, 16, &st));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_new(s, iv, 16, NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_new(s, NULL, 16, &st));
	EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_stream_new(s, iv, 15, &st));
	EXPECT(ACRYPTO_STATUS_UNSUPPORTED, acrypto_stream_new(x, iv, 16, &st));
	EXPECT(ACRYPTO_STATUS_UNSUPPORTED, acrypto_stream_new(g, iv, 12, &st));
	CHECK(st == NULL);
	EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_new(s, iv, 16, &st));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_update(NULL, buf, 16, buf, 64, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_update(st, NULL, 16, buf, 64, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_update(st, buf, 16, NULL, 64, &n));
	EXPECT(ACRYPTO_STATUS_BUFFER_TOO_SMALL, acrypto_stream_update(st, buf, 32, buf, 16, &n));
	/* Less than a block: kept, nothing written, no buffer needed. */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_update(st, buf, 5, NULL, 0, &n));
	CHECK(n == 0);
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_max_output(NULL, 1, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_max_output(st, 1, NULL));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_max_output(st, 11, &n));
	CHECK(n == 16);
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_update_async(st, buf, 1, buf, 64, NULL, NULL, 0));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_stream_update_async(st, buf, 1, buf, 64, on_done, NULL, 99));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_finish_async(NULL, buf, 64, buf, 64, on_done, NULL, 0));
	/* 5 bytes beyond whole blocks: finish refuses, the stream stays open. */
	EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_stream_finish(st, buf, 64, &n, NULL, 0, NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_finish(NULL, buf, 64, &n, NULL, 0, NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_verify(NULL, buf, 16));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_verify(st, NULL, 16));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_stream_verify(st, buf, 16));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_update(st, buf, 11, buf, 64, &n));
	CHECK(n == 16);
	EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_finish(st, NULL, 0, &n, NULL, 0, NULL));
	CHECK(n == 0);
	acrypto_stream_free(st);
	acrypto_stream_free(NULL);
	/* A hash stream's finish needs room for the digest. */
	acrypto_step sha = { ACRYPTO_ALG_SHA256, ACRYPTO_OP_DIGEST, NULL, 0, NULL };
	acrypto_session *h = NULL;
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &sha, 1, 0, 0, NULL, &h));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_new(h, NULL, 0, &st));
	EXPECT(ACRYPTO_STATUS_BUFFER_TOO_SMALL, acrypto_stream_finish(st, NULL, 0, NULL, buf, 31, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_finish(st, NULL, 0, NULL, NULL, 32, &n));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_finish(st, NULL, 0, NULL, buf, 32, &n));
	CHECK(n == 32);
	acrypto_stream_free(st);
	/* A copy taken mid-stream continues on its own: digest("ab") and
	 * digest("ac") from one stream of "a". */
	{
		unsigned char d1[32], d2[32], w1[32], w2[32];
		acrypto_stream *a = NULL, *b = NULL;
		EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_dup(NULL, &b));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_new(h, NULL, 0, &a));
		EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_stream_dup(a, NULL));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_update(a, (const unsigned char *)"a", 1, NULL, 0, NULL));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_dup(a, &b));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_update(a, (const unsigned char *)"b", 1, NULL, 0, NULL));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_update(b, (const unsigned char *)"c", 1, NULL, 0, NULL));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_finish(a, NULL, 0, NULL, d1, 32, NULL));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_stream_finish(b, NULL, 0, NULL, d2, 32, NULL));
		unsigned int wn = 0;
		CHECK(EVP_Digest("ab", 2, w1, &wn, EVP_sha256(), NULL) == 1);
		CHECK(EVP_Digest("ac", 2, w2, &wn, EVP_sha256(), NULL) == 1);
		CHECK(memcmp(d1, w1, 32) == 0 && memcmp(d2, w2, 32) == 0);
		acrypto_stream_free(a);
		acrypto_stream_free(b);
	}
	acrypto_session_free(h);
	acrypto_session_free(s);
	acrypto_session_free(x);
	acrypto_session_free(g);
}

int main(void)
{
	acrypto_engine *e = NULL;
	if (acrypto_engine_new_devices("soft:2", &e) != ACRYPTO_STATUS_OK)
		return 3;
	aead_with_aad(e);
	streams(e);
	bad_arguments(e);
	acrypto_engine_free(e);
	return summary("stream");
}
