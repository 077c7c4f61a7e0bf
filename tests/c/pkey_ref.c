/* pkey_ref: keys that stay in a device, through the C ABI
 * (ACRYPTO_SESSION_KEY_REFERENCE).
 *
 *   pkey_ref DEVICES LABEL DIR
 *
 * DEVICES is an engine's device specification holding a PKCS#11 token
 * (tests/c_abi.rs makes a SoftHSM2 token with an RSA-2048 key pair and a
 * P-256 key pair imported under LABEL-rsa and LABEL-ec). DIR holds digest
 * (a SHA-256 digest). The program signs the digest with each private key
 * by reference, verifies with the public key by reference, and writes
 * rsa.sig and ec.sig for the Rust side to check with openssl; it checks the
 * errors of a reference no device holds, a step bound to a device that
 * does not hold it, a key reference that is not text, and an unknown flag.
 * Prints "N passed, N failed". */
#include "check.h"
#include <acrypto.h>
#include <stdint.h>

/* A one-step session whose key is the reference `uri`. */
static acrypto_status ref_session(acrypto_engine *e, uint32_t alg, uint32_t op, const char *uri, const char *device,
				  acrypto_session **out)
{
	acrypto_step step = { alg, op, (const uint8_t *)uri, strlen(uri), device };
	return acrypto_session_new(e, &step, 1, 0, ACRYPTO_SESSION_KEY_REFERENCE, NULL, out);
}

static void sign_and_verify(acrypto_engine *e, const char *dir, uint32_t alg, const char *label, const char *out_name,
			    const unsigned char *digest)
{
	char uri[256];
	snprintf(uri, sizeof uri, "pkcs11:object=%s", label);
	acrypto_session *sign = NULL, *verify = NULL;
	EXPECT(ACRYPTO_STATUS_OK, ref_session(e, alg, ACRYPTO_OP_SIGN, uri, NULL, &sign));
	EXPECT(ACRYPTO_STATUS_OK, ref_session(e, alg, ACRYPTO_OP_VERIFY, uri, NULL, &verify));
	if (!sign || !verify) {
		acrypto_session_free(sign);
		acrypto_session_free(verify);
		return;
	}
	unsigned char tag[512];
	acrypto_completion c = { 0 };
	acrypto_request r = { digest, 32, NULL, 0, NULL, 0, tag, sizeof tag, NULL, NULL, 0, ACRYPTO_REQUEST_PREHASHED };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(sign, &r, &c));
	CHECK(c.tag_len > 0);
	spill(dir, out_name, tag, c.tag_len);
	acrypto_request v = { digest, 32, NULL, 0, NULL, 0, tag, c.tag_len, NULL, NULL, 0, ACRYPTO_REQUEST_PREHASHED };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(verify, &v, &c));
	tag[c.tag_len / 2] ^= 1;
	EXPECT(ACRYPTO_STATUS_VERIFY_FAILED, acrypto_session_run(verify, &v, &c));
	acrypto_session_free(sign);
	acrypto_session_free(verify);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: pkey_ref DEVICES LABEL DIR\n");
		return 2;
	}
	const char *label = argv[2], *dir = argv[3];
	unsigned char digest[32];
	if (slurp(dir, "digest", digest, sizeof digest) != 32) {
		fprintf(stderr, "digest: not 32 bytes\n");
		return 2;
	}
	acrypto_engine *e = NULL;
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_devices(argv[1], &e));
	if (!e)
		return summary("pkey_ref");
	char name[128];
	snprintf(name, sizeof name, "%s-rsa", label);
	sign_and_verify(e, dir, ACRYPTO_ALG_RSA2048_PKCS1, name, "rsa.sig", digest);
	snprintf(name, sizeof name, "%s-ec", label);
	sign_and_verify(e, dir, ACRYPTO_ALG_ECDSA_P256, name, "ec.sig", digest);

	acrypto_session *s = (acrypto_session *)1;
	/* No device holds it: NO_DEVICE, *out untouched. */
	EXPECT(ACRYPTO_STATUS_NO_DEVICE,
	       ref_session(e, ACRYPTO_ALG_ECDSA_P256, ACRYPTO_OP_SIGN, "pkcs11:object=no-such-key", NULL, &s));
	CHECK(s == (acrypto_session *)1);
	/* Bound to a device that does not hold it. */
	snprintf(name, sizeof name, "pkcs11:object=%s-ec", label);
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, ref_session(e, ACRYPTO_ALG_ECDSA_P256, ACRYPTO_OP_SIGN, name, "soft0", &s));
	/* A reference that is not UTF-8 text. */
	const uint8_t junk[] = { 0xff, 0xfe, 0x00, 0x80 };
	acrypto_step bad = { ACRYPTO_ALG_ECDSA_P256, ACRYPTO_OP_SIGN, junk, sizeof junk, NULL };
	EXPECT(ACRYPTO_STATUS_INVALID_KEY, acrypto_session_new(e, &bad, 1, 0, ACRYPTO_SESSION_KEY_REFERENCE, NULL, &s));
	/* Without the flag the same URI is taken as DER, and refused as such. */
	acrypto_step der = { ACRYPTO_ALG_ECDSA_P256, ACRYPTO_OP_SIGN, (const uint8_t *)name, strlen(name), NULL };
	EXPECT(ACRYPTO_STATUS_INVALID_KEY, acrypto_session_new(e, &der, 1, 0, 0, NULL, &s));
	/* An unknown session flag. */
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_new(e, &der, 1, 0, 0x80, NULL, &s));
	CHECK(s == (acrypto_session *)1);
	acrypto_engine_free(e);
	return summary("pkey_ref");
}
