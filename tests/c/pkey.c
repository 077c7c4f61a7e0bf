/* pkey: the asymmetric operations through the C ABI.
 *
 *   pkey DIR
 *
 * DIR holds keys made by openssl (tests/c_abi.rs): rsa.der / rsa.pub.der
 * (RSA-2048, PKCS#8 / SubjectPublicKeyInfo DER), ec.der / ec.pub.der
 * (P-256), xa.der and xb.pub.der (X25519), msg (a message) and digest (its
 * SHA-256), theirs.sig (openssl's PKCS#1 v1.5 signature of the digest)
 * and theirs.ct (openssl's OAEP ciphertext of msg). The program signs,
 * verifies, encrypts, decrypts and derives through every submission path
 * it uses, checks what it can itself (and the error statuses), and writes
 * its results for the Rust side to check with openssl: ours.sig,
 * ours_prehashed.sig, ec.sig, ours.ct, secret. Prints "N passed, N failed". */
#include "callbacks.h"
#include "check.h"
#include <acrypto.h>
#include <pthread.h>
#include <stdint.h>

static acrypto_session *session(acrypto_engine *e, uint32_t alg, uint32_t op, const unsigned char *key, size_t len)
{
	acrypto_session *s = NULL;
	acrypto_step step = { alg, op, key, len, NULL };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &step, 1, 0, 0, NULL, &s));
	return s;
}

int main(int argc, char **argv)
{
	static unsigned char rsa[4096], rsa_pub[1024], ec[512], ec_pub[512], xa[128], xb_pub[128];
	static unsigned char msg[8192], digest[32], theirs_sig[256], theirs_ct[256];
	static unsigned char tag[512], out[512];
	if (argc != 2) {
		fprintf(stderr, "usage: pkey DIR\n");
		return 2;
	}
	const char *dir = argv[1];
	size_t rsa_len = slurp(dir, "rsa.der", rsa, sizeof rsa), rsa_pub_len = slurp(dir, "rsa.pub.der", rsa_pub, sizeof rsa_pub);
	size_t ec_len = slurp(dir, "ec.der", ec, sizeof ec), ec_pub_len = slurp(dir, "ec.pub.der", ec_pub, sizeof ec_pub);
	size_t xa_len = slurp(dir, "xa.der", xa, sizeof xa), xb_pub_len = slurp(dir, "xb.pub.der", xb_pub, sizeof xb_pub);
	size_t msg_len = slurp(dir, "msg", msg, sizeof msg);
	CHECK(slurp(dir, "digest", digest, sizeof digest) == 32);
	CHECK(slurp(dir, "theirs.sig", theirs_sig, sizeof theirs_sig) == 256);
	CHECK(slurp(dir, "theirs.ct", theirs_ct, sizeof theirs_ct) == 256);

	acrypto_engine *e = NULL;
	if (acrypto_engine_new_devices("soft:2", &e) != ACRYPTO_STATUS_OK)
		return 3;
	acrypto_completion c = { 0 };

	/* RSA PKCS#1 v1.5 sign: the message (run), and the digest (callback). */
	acrypto_session *sign = session(e, ACRYPTO_ALG_RSA2048_PKCS1, ACRYPTO_OP_SIGN, rsa, rsa_len);
	acrypto_request r = { msg, msg_len, NULL, 0, NULL, 0, tag, sizeof tag, NULL, NULL, 0, 0 };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(sign, &r, &c));
	CHECK(c.tag_len == 256);
	spill(dir, "ours.sig", tag, c.tag_len);
	acrypto_request rp = { digest, 32, NULL, 0, NULL, 0, tag, 256, (void *)9, NULL, 0, ACRYPTO_REQUEST_PREHASHED };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit(sign, &rp, on_done, ACRYPTO_SUBMIT_BLOCK));
	wait_callbacks(1);
	CHECK(last.status == ACRYPTO_STATUS_OK && last.tag_len == 256 && last.user == (void *)9);
	spill(dir, "ours_prehashed.sig", tag, last.tag_len);
	/* A tag buffer smaller than the modulus; an unknown flag; a digest
	 * of the wrong length. */
	acrypto_request small = { digest, 32, NULL, 0, NULL, 0, tag, 255, NULL, NULL, 0, ACRYPTO_REQUEST_PREHASHED };
	EXPECT(ACRYPTO_STATUS_BUFFER_TOO_SMALL, acrypto_session_run(sign, &small, &c));
	acrypto_request badflag = { digest, 32, NULL, 0, NULL, 0, tag, 256, NULL, NULL, 0, 0x80 };
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_run(sign, &badflag, &c));
	acrypto_request short_digest = { digest, 31, NULL, 0, NULL, 0, tag, 256, NULL, NULL, 0, ACRYPTO_REQUEST_PREHASHED };
	EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_session_run(sign, &short_digest, &c));

	/* Verify openssl's signature with the public key; a flipped bit fails. */
	acrypto_session *verify = session(e, ACRYPTO_ALG_RSA2048_PKCS1, ACRYPTO_OP_VERIFY, rsa_pub, rsa_pub_len);
	acrypto_request v = { digest, 32, NULL, 0, NULL, 0, theirs_sig, 256, NULL, NULL, 0, ACRYPTO_REQUEST_PREHASHED };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(verify, &v, &c));
	theirs_sig[100] ^= 4;
	EXPECT(ACRYPTO_STATUS_VERIFY_FAILED, acrypto_session_run(verify, &v, &c));
	theirs_sig[100] ^= 4;
	/* A flag on a route that is not asymmetric is refused. */
	acrypto_session *sha = NULL;
	acrypto_step hs = { ACRYPTO_ALG_SHA256, ACRYPTO_OP_DIGEST, NULL, 0, NULL };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &hs, 1, 0, 0, NULL, &sha));
	acrypto_request hr = { msg, msg_len, NULL, 0, NULL, 0, tag, 32, NULL, NULL, 0, ACRYPTO_REQUEST_PREHASHED };
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_run(sha, &hr, &c));
	acrypto_session_free(sha);

	/* OAEP: encrypt (the output is longer than the input), decrypt openssl's. */
	acrypto_session *enc = session(e, ACRYPTO_ALG_RSA2048_OAEP, ACRYPTO_OP_ENCRYPT, rsa_pub, rsa_pub_len);
	size_t pt_len = msg_len < 190 ? msg_len : 190;
	acrypto_request er = { msg, pt_len, out, 256, NULL, 0, NULL, 0, NULL, NULL, 0, 0 };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(enc, &er, &c));
	CHECK(c.out_len == 256);
	spill(dir, "ours.ct", out, c.out_len);
	acrypto_request er_small = { msg, pt_len, out, 255, NULL, 0, NULL, 0, NULL, NULL, 0, 0 };
	EXPECT(ACRYPTO_STATUS_BUFFER_TOO_SMALL, acrypto_session_run(enc, &er_small, &c));
	acrypto_request er_null = { msg, 0, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, 0, 0 };
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_run(enc, &er_null, &c));
	acrypto_session *dec = session(e, ACRYPTO_ALG_RSA2048_OAEP, ACRYPTO_OP_DECRYPT, rsa, rsa_len);
	acrypto_request dr = { theirs_ct, 256, out, 256, NULL, 0, NULL, 0, NULL, NULL, 0, 0 };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(dec, &dr, &c));
	CHECK(c.out_len == pt_len && memcmp(out, msg, pt_len) == 0);
	acrypto_request dr_cut = { theirs_ct, 255, out, 256, NULL, 0, NULL, 0, NULL, NULL, 0, 0 };
	EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_session_run(dec, &dr_cut, &c));

	/* ECDSA P-256: sign the message (pending wait), verify it. */
	acrypto_session *es = session(e, ACRYPTO_ALG_ECDSA_P256, ACRYPTO_OP_SIGN, ec, ec_len);
	acrypto_request ecr = { msg, msg_len, NULL, 0, NULL, 0, tag, 72, NULL, NULL, 0, 0 };
	acrypto_pending *p = NULL;
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit_pending(es, &ecr, ACRYPTO_SUBMIT_BLOCK, &p));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_pending_wait(p, &c));
	acrypto_pending_free(p);
	CHECK(c.status == ACRYPTO_STATUS_OK && c.tag_len >= 8 && c.tag_len <= 72);
	spill(dir, "ec.sig", tag, c.tag_len);
	acrypto_session *ev = session(e, ACRYPTO_ALG_ECDSA_P256, ACRYPTO_OP_VERIFY, ec_pub, ec_pub_len);
	acrypto_request evr = { msg, msg_len, NULL, 0, NULL, 0, tag, c.tag_len, NULL, NULL, 0, 0 };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(ev, &evr, &c));

	/* X25519 with the peer's public key as the data. */
	acrypto_session *x = session(e, ACRYPTO_ALG_X25519, ACRYPTO_OP_DERIVE, xa, xa_len);
	acrypto_request xr = { xb_pub, xb_pub_len, out, 32, NULL, 0, NULL, 0, NULL, NULL, 0, 0 };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(x, &xr, &c));
	CHECK(c.out_len == 32);
	spill(dir, "secret", out, c.out_len);
	acrypto_request xr_small = { xb_pub, xb_pub_len, out, 31, NULL, 0, NULL, 0, NULL, NULL, 0, 0 };
	EXPECT(ACRYPTO_STATUS_BUFFER_TOO_SMALL, acrypto_session_run(x, &xr_small, &c));

	/* Malformed DER, a public key where a private one is needed, the
	 * wrong key type: refused when the session is made. */
	acrypto_session *bad = NULL;
	acrypto_step b1 = { ACRYPTO_ALG_RSA2048_PKCS1, ACRYPTO_OP_SIGN, rsa, rsa_len / 2, NULL };
	EXPECT(ACRYPTO_STATUS_INVALID_KEY, acrypto_session_new(e, &b1, 1, 0, 0, NULL, &bad));
	acrypto_step b2 = { ACRYPTO_ALG_RSA2048_PKCS1, ACRYPTO_OP_SIGN, rsa_pub, rsa_pub_len, NULL };
	EXPECT(ACRYPTO_STATUS_INVALID_KEY, acrypto_session_new(e, &b2, 1, 0, 0, NULL, &bad));
	acrypto_step b3 = { ACRYPTO_ALG_ECDSA_P256, ACRYPTO_OP_SIGN, rsa, rsa_len, NULL };
	EXPECT(ACRYPTO_STATUS_INVALID_KEY, acrypto_session_new(e, &b3, 1, 0, 0, NULL, &bad));
	acrypto_step b4 = { ACRYPTO_ALG_X25519, ACRYPTO_OP_SIGN, xa, xa_len, NULL };
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_new(e, &b4, 1, 0, 0, NULL, &bad));
	CHECK(bad == NULL);

	acrypto_session_free(sign);
	acrypto_session_free(verify);
	acrypto_session_free(enc);
	acrypto_session_free(dec);
	acrypto_session_free(es);
	acrypto_session_free(ev);
	acrypto_session_free(x);
	acrypto_engine_free(e);
	return summary("pkey");
}
