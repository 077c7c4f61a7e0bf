// SPDX-License-Identifier: MIT
/*
 * RSA through /dev/acrypto (crypto_alloc_akcipher: pkcs1pad(rsa),
 * pkcs1pad(rsa,sha1), pkcs1pad(rsa,sha256)) on every driver of those names,
 * against libcrypto, for 2048-, 3072- and 4096-bit keys: PKCS#1 v1.5
 * signatures byte for byte (synchronous flow and batch path), libcrypto's
 * signatures verify and tampered ones (signature or digest) are -EBADMSG,
 * ciphertexts of the module decrypt with libcrypto and libcrypto's with the
 * module, a public key verifies and encrypts but cannot sign or decrypt
 * (-ENOKEY), and bad keys and bad requests are clear errors.
 *
 * Usage: t_akcipher KEYDIR (rsa2048.der, rsa3072.der, rsa4096.der: PKCS#8
 * private keys, made by run.sh on the host; key generation is slow in the
 * emulated guest). The module takes PKCS#1 DER keys: this program converts
 * them with libcrypto, as a user of the ABI would.
 */
#include "common.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define MAXK 512	/* 4096-bit modulus */

struct key {
	int bits;
	EVP_PKEY *pk;
	unsigned char *priv, *pub;	/* PKCS#1 DER */
	int priv_len, pub_len;
	unsigned int k;			/* modulus bytes */
};

/* The modes under test: the kernel name and the digest of the DigestInfo. */
struct mode {
	uint32_t mode;
	const char *name;
	const char *generic;	/* the generic instance, bound by driver name */
	const EVP_MD *(*md)(void);	/* NULL: no DigestInfo (raw PKCS#1 v1.5) */
	unsigned int dlen;	/* digest length signed */
};

static const struct mode modes[] = {
	{ ACRYPTO_DEV_MODE_PKCS1, "pkcs1pad(rsa)", "pkcs1pad(rsa-generic)", NULL, 36 },
	{ ACRYPTO_DEV_MODE_PKCS1_SHA1, "pkcs1pad(rsa,sha1)", "pkcs1pad(rsa-generic,sha1)", EVP_sha1, 20 },
	{ ACRYPTO_DEV_MODE_PKCS1_SHA256, "pkcs1pad(rsa,sha256)", "pkcs1pad(rsa-generic,sha256)",
	  EVP_sha256, 32 },
};

static int load_key(const char *dir, int bits, struct key *k)
{
	char path[512];
	unsigned char buf[8192];
	const unsigned char *p = buf;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/rsa%d.der", dir, bits);
	f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	k->bits = bits;
	k->pk = d2i_AutoPrivateKey(NULL, &p, (long)n);
	if (!k->pk)
		return -1;
	k->priv = k->pub = NULL;
	k->priv_len = i2d_PrivateKey(k->pk, &k->priv);	/* RSAPrivateKey */
	k->pub_len = i2d_PublicKey(k->pk, &k->pub);	/* RSAPublicKey */
	k->k = (unsigned int)EVP_PKEY_get_size(k->pk);
	return k->priv_len > 0 && k->pub_len > 0 && k->k <= MAXK ? 0 : -1;
}

/* libcrypto's PKCS#1 v1.5 operations with this mode's digest. */
static EVP_PKEY_CTX *ref_ctx(const struct key *k, const struct mode *m, int (*init)(EVP_PKEY_CTX *))
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k->pk, NULL);

	if (!c || init(c) <= 0 || EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0 ||
	    (m->md && init != EVP_PKEY_encrypt_init && init != EVP_PKEY_decrypt_init &&
	     EVP_PKEY_CTX_set_signature_md(c, m->md()) <= 0)) {
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
	return c;
}

static int ref_sign(const struct key *k, const struct mode *m, const unsigned char *d, size_t dlen,
		    unsigned char *sig)
{
	EVP_PKEY_CTX *c = ref_ctx(k, m, EVP_PKEY_sign_init);
	size_t n = MAXK;
	int ok = c && EVP_PKEY_sign(c, sig, &n, d, dlen) > 0 && n == k->k;

	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -1;
}

static int ref_encrypt(const struct key *k, const unsigned char *msg, size_t len, unsigned char *out)
{
	EVP_PKEY_CTX *c = ref_ctx(k, &modes[0], EVP_PKEY_encrypt_init);
	size_t n = MAXK;
	int ok = c && EVP_PKEY_encrypt(c, out, &n, msg, len) > 0 && n == k->k;

	EVP_PKEY_CTX_free(c);
	return ok ? 0 : -1;
}

/* Returns the message length, or -1. */
static int ref_decrypt(const struct key *k, const unsigned char *ct, unsigned char *out)
{
	EVP_PKEY_CTX *c = ref_ctx(k, &modes[0], EVP_PKEY_decrypt_init);
	size_t n = MAXK;
	int ok = c && EVP_PKEY_decrypt(c, out, &n, ct, k->k) > 0;

	EVP_PKEY_CTX_free(c);
	return ok ? (int)n : -1;
}

/* Diagnoses a ciphertext libcrypto cannot decrypt: is it the right one moved by a byte? */
static int ref_decrypt(const struct key *k, const unsigned char *ct, unsigned char *out);

static void shifted(const struct key *k, const unsigned char *ct, const unsigned char *msg, unsigned int mlen,
		    const char *what)
{
	unsigned char c2[MAXK], back[MAXK];

	for (unsigned int sh = 1; sh <= 4; sh++) {
		/* moved right by sh (zeros in front), or left by sh (zeros behind) */
		memset(c2, 0, sizeof(c2));
		memcpy(c2 + sh, ct, k->k - sh);
		if (ref_decrypt(k, c2, back) == (int)mlen && !memcmp(back, msg, mlen))
			t_note("%s ciphertext: decrypts when moved right by %u bytes", what, sh);
		memset(c2, 0, sizeof(c2));
		memcpy(c2, ct + sh, k->k - sh);
		if (ref_decrypt(k, c2, back) == (int)mlen && !memcmp(back, msg, mlen))
			t_note("%s ciphertext: decrypts when moved left by %u bytes", what, sh);
	}
	t_note("%s ciphertext: first bytes %02x %02x %02x, last %02x %02x", what, ct[0], ct[1], ct[2], ct[k->k - 2],
	       ct[k->k - 1]);
}

static void rnd(unsigned char *p, size_t n)
{
	if (n && RAND_bytes(p, (int)n) != 1)
		abort();
}

static unsigned int rnd_below(unsigned int n)
{
	unsigned int v;

	rnd((unsigned char *)&v, sizeof(v));
	return n ? v % n : 0;
}

/* A session of @mode on @driver with the key (private, or public); id or -errno. */
static int ak_session(int fd, uint32_t op, const struct mode *m, const char *driver, const struct key *k,
		      int public, uint32_t src_size)
{
	struct acrypto_fill_data f;
	int id = sess_alloc(fd, op, ACRYPTO_DEV_TYPE_RSA, m->mode, driver, src_size, NULL);
	int ret;

	if (id < 0)
		return id;
	memset(&f, 0, sizeof(f));
	f.session_id = (uint32_t)id;
	f.flags = ACRYPTO_DEV_FILL_KEY | (public ? ACRYPTO_DEV_FILL_PUBLIC : 0);
	f.key = uptr(public ? k->pub : k->priv);
	f.key_len = (uint32_t)(public ? k->pub_len : k->priv_len);
	ret = xioctl(fd, CRYPTO_FILL_DATA, &f);
	if (ret) {
		sess_free(fd, (uint32_t)id);
		return ret;
	}
	return id;
}

/* The driver an unbound session of @name gets (bound_driver), or "". */
static const char *kdrv_default(const char *name)
{
	static char bound[ACRYPTO_DEV_NAME_LEN];
	struct acrypto_session_alloc a;
	int fd = dev_open(), id = -1;

	bound[0] = 0;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(modes[i].name, name))
			id = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_RSA, modes[i].mode, NULL, 0, &a);
	if (id > 0)
		memcpy(bound, a.bound_driver, sizeof(bound));
	close(fd);
	return bound;
}

/* One batch request; returns its completion status and sets *out_len. */
static int one(int fd, struct acrypto_request *q, unsigned int *out_len)
{
	struct acrypto_completion c;
	int n = submit(fd, q, 1);

	if (n != 1)
		return n < 0 ? n : -EIO;
	if (read_all(fd, &c, 1))
		return -EIO;
	if (out_len)
		*out_len = c.out_len;
	return c.status;
}

static void req(struct acrypto_request *q, int id, uint32_t op, const void *src, uint32_t src_len, void *dst,
		uint32_t dst_len)
{
	memset(q, 0, sizeof(*q));
	q->session_id = (uint32_t)id;
	q->op = op;
	q->src = uptr(src);
	q->src_len = src_len;
	q->dst = uptr(dst);
	q->dst_len = dst_len;
}

/* Synchronous: FILL_DATA the source, ADD; bytes written or -errno. */
static int sync_run(int fd, int id, const void *src, uint32_t len, void *dst, uint32_t dst_len)
{
	int ret = sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_SRC, NULL, 0, NULL, 0, src, len);

	return ret ? ret : sess_add(fd, (uint32_t)id, dst, dst_len);
}

static void run_driver(int fd, const struct mode *m, const char *driver, const struct key *k)
{
	unsigned char d[64], d2[64], sig[MAXK], want[MAXK], ct[MAXK], msg[MAXK], back[MAXK], buf[MAXK + 64];
	struct acrypto_request q[4];
	struct acrypto_completion c[4];
	unsigned int out = 0, dlen = m->dlen, mlen;
	int s, v, e, dec, pub, ret, ok;
	const char *drv = driver ? driver : "(default)";

	if (k->bits == 2048) {
		/* A key that does not parse, and no key at all: the sessions still free. */
		unsigned char junk[64];
		int a = sess_alloc(fd, ACRYPTO_DEV_OP_SIGN, ACRYPTO_DEV_TYPE_RSA, m->mode, driver, 0, NULL);
		int b = sess_alloc(fd, ACRYPTO_DEV_OP_VERIFY, ACRYPTO_DEV_TYPE_RSA, m->mode, driver, 0, NULL);

		rnd(junk, sizeof(junk));
		ret = a > 0 ? sess_setkey(fd, (uint32_t)a, junk, sizeof(junk)) : a;
		t_result(a > 0 && b > 0 && ret < 0 && !sess_free(fd, (uint32_t)a) && !sess_free(fd, (uint32_t)b),
			 "%s %s: a key that does not parse is refused (%d); it and a keyless session free", m->name, drv,
			 ret);
	}
	s = ak_session(fd, ACRYPTO_DEV_OP_SIGN, m, driver, k, 0, MAXK + 64);
	v = ak_session(fd, ACRYPTO_DEV_OP_VERIFY, m, driver, k, 0, MAXK + 64);
	e = ak_session(fd, ACRYPTO_DEV_OP_ENCRYPT, m, driver, k, 0, MAXK);
	dec = ak_session(fd, ACRYPTO_DEV_OP_DECRYPT, m, driver, k, 0, MAXK);
	pub = ak_session(fd, ACRYPTO_DEV_OP_VERIFY, m, driver, k, 1, MAXK + 64);
	if (s < 0 || v < 0 || e < 0 || dec < 0 || pub < 0) {
		t_result(0, "%s %s rsa%d: sessions: %d %d %d %d %d", m->name, drv, k->bits, s, v, e, dec, pub);
		goto out;
	}

	/* A driver without signatures says so (virtio-pkcs1-rsa): its ciphers still run. */
	rnd(d, dlen);
	req(&q[0], s, 0, d, dlen, sig, k->k);
	ret = one(fd, &q[0], NULL);
	if (ret == -EOPNOTSUPP) {
		req(&q[1], v, 0, sig, k->k, NULL, 0);
		q[1].digest = uptr(d);
		q[1].digest_len = dlen;
		/* The kernel's own template always signs. */
		t_result(one(fd, &q[1], NULL) == -EOPNOTSUPP && sync_run(fd, s, d, dlen, sig, k->k) == -EOPNOTSUPP &&
			 !(driver && !strcmp(driver, m->generic)),
			 "%s %s rsa%d: the driver offers no signatures: SIGN and VERIFY are -EOPNOTSUPP", m->name, drv,
			 k->bits);
		goto ciphers;
	}
	/* Signatures equal libcrypto's (PKCS#1 v1.5 is deterministic). */
	ok = !ref_sign(k, m, d, dlen, want);
	ret = sync_run(fd, s, d, dlen, sig, k->k);
	t_result(ok && ret == (int)k->k && !memcmp(sig, want, k->k), "%s %s rsa%d: synchronous sign equals libcrypto (%d)",
		 m->name, drv, k->bits, ret);
	{
		unsigned char ds[4][64], sigs[4][MAXK], wants[4][MAXK];
		int good = 1, n;

		for (int i = 0; i < 4; i++) {
			rnd(ds[i], dlen);
			good &= !ref_sign(k, m, ds[i], dlen, wants[i]);
			req(&q[i], s, 0, ds[i], dlen, sigs[i], k->k);
			q[i].tag = (uint64_t)i;
		}
		n = submit(fd, q, 4);
		good &= n == 4 && !read_all(fd, c, 4);
		for (int i = 0; good && i < 4; i++)
			good &= !c[i].status && c[i].out_len == k->k && c[i].tag < 4 &&
				!memcmp(sigs[c[i].tag], wants[c[i].tag], k->k);
		t_result(good, "%s %s rsa%d: four batch signatures in one submit equal libcrypto's", m->name, drv,
			 k->bits);
	}

	/* libcrypto's signature verifies; a flipped bit of it or of the digest does not. */
	req(&q[0], v, 0, want, k->k, NULL, 0);
	q[0].digest = uptr(d);
	q[0].digest_len = dlen;
	ret = one(fd, &q[0], &out);
	t_result(ret == 0 && out == 0, "%s %s rsa%d: batch verify of libcrypto's signature (%d)", m->name, drv, k->bits,
		 ret);
	memcpy(sig, want, k->k);
	sig[rnd_below(k->k)] ^= (unsigned char)(1u << rnd_below(8));
	req(&q[0], v, 0, sig, k->k, NULL, 0);
	q[0].digest = uptr(d);
	q[0].digest_len = dlen;
	ret = one(fd, &q[0], NULL);
	memcpy(d2, d, dlen);
	d2[rnd_below(dlen)] ^= 0x10;
	req(&q[1], v, 0, want, k->k, NULL, 0);
	q[1].digest = uptr(d2);
	q[1].digest_len = dlen;
	t_result(ret == -EBADMSG && one(fd, &q[1], NULL) == -EBADMSG,
		 "%s %s rsa%d: a flipped bit in the signature or the digest is -EBADMSG (%d)", m->name, drv, k->bits, ret);
	memcpy(buf, want, k->k);
	memcpy(buf + k->k, d, dlen);
	ret = sync_run(fd, v, buf, k->k + dlen, back, sizeof(back));
	buf[k->k + rnd_below(dlen)] ^= 1;
	t_result(ret == 0 && sync_run(fd, v, buf, k->k + dlen, back, sizeof(back)) == -EBADMSG,
		 "%s %s rsa%d: synchronous verify: good 0, tampered -EBADMSG (%d)", m->name, drv, k->bits, ret);
	/* The public key verifies too, and cannot sign or decrypt. */
	req(&q[0], pub, 0, want, k->k, NULL, 0);
	q[0].digest = uptr(d);
	q[0].digest_len = dlen;
	ret = one(fd, &q[0], NULL);
	req(&q[1], pub, ACRYPTO_DEV_OP_SIGN, d, dlen, sig, k->k);
	req(&q[2], pub, ACRYPTO_DEV_OP_DECRYPT, want, k->k, back, k->k);
	t_result(ret == 0 && submit(fd, &q[1], 1) == -ENOKEY && submit(fd, &q[2], 1) == -ENOKEY,
		 "%s %s rsa%d: a public key verifies (%d); sign and decrypt with it are -ENOKEY", m->name, drv, k->bits,
		 ret);

ciphers:
	/*
	 * Ciphertexts both ways, random lengths 0..k-11, batch and synchronous,
	 * REPS times: a ciphertext with a leading zero byte (1 in 256) must come
	 * out as k bytes too. virtio-pkcs1-rsa (QEMU's builtin backend, Linux
	 * 6.1) has a known defect: a few of its 2048-bit ciphertexts (about 3 in
	 * 100, each starting with two zero bytes) do not decrypt; they are
	 * counted and may not exceed 1 in 5. Decryption must always be right.
	 */
	{
		enum { REPS = 8 };
		const int defective = driver ? !strcmp(driver, "virtio-pkcs1-rsa") : !strcmp(kdrv_default(m->name), "virtio-pkcs1-rsa");
		int enc_bad = 0, dec_bad = 0;

		for (int rep = 0; rep < REPS; rep++) {
			mlen = rnd_below(k->k - 11 + 1);
			rnd(msg, mlen);
			req(&q[0], rep % 2 ? pub : e, ACRYPTO_DEV_OP_ENCRYPT, msg, mlen, ct, k->k);	/* public key too */
			ret = one(fd, &q[0], &out);
			if (!(ret == 0 && out == k->k && ref_decrypt(k, ct, back) == (int)mlen && !memcmp(back, msg, mlen))) {
				enc_bad++;
				shifted(k, ct, msg, mlen, "batch");
			}
			ret = sync_run(fd, e, msg, mlen, ct, k->k);
			if (!(ret == (int)k->k && ref_decrypt(k, ct, back) == (int)mlen && !memcmp(back, msg, mlen))) {
				enc_bad++;
				shifted(k, ct, msg, mlen, "synchronous");
			}
			ok = !ref_encrypt(k, msg, mlen, ct);
			memset(back, 0, sizeof(back));
			req(&q[0], dec, 0, ct, k->k, back, k->k);
			ret = one(fd, &q[0], &out);
			ok &= ret == 0 && out == mlen && !memcmp(back, msg, mlen);
			memset(back, 0, sizeof(back));
			ret = sync_run(fd, dec, ct, k->k, back, k->k);
			ok &= ret == (int)mlen && !memcmp(back, msg, mlen);
			dec_bad += !ok;
		}
		t_result(enc_bad == 0 || (defective && enc_bad * 5 <= 2 * REPS),
			 "%s %s rsa%d: %d messages encrypted here (batch, public key, synchronous) decrypt with libcrypto%s "
			 "(%d did not)", m->name, drv, k->bits, 2 * REPS, defective ? ", but for the driver's known defect" : "",
			 enc_bad);
		t_result(dec_bad == 0, "%s %s rsa%d: libcrypto's ciphertexts of %d messages decrypt here (%d did not)", m->name,
			 drv, k->bits, REPS, dec_bad);
	}
out:
	{
		const int ids[] = { s, v, e, dec, pub };

		for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
			if (ids[i] > 0)
				sess_free(fd, (uint32_t)ids[i]);
	}
}

/* Bad keys and bad requests, on the default pkcs1pad(rsa,sha256). */
static void bad_input(int fd, const struct key *k)
{
	const struct mode *m = &modes[2];
	unsigned char junk[600], d[32], sig[MAXK];
	struct acrypto_request q;
	struct acrypto_fill_data f;
	int id, aes, ret, ok;

	id = sess_alloc(fd, ACRYPTO_DEV_OP_SIGN, ACRYPTO_DEV_TYPE_RSA, m->mode, NULL, 0, NULL);
	rnd(junk, sizeof(junk));
	rnd(d, sizeof(d));
	ret = sess_setkey(fd, (uint32_t)id, junk, sizeof(junk));
	req(&q, id, 0, d, 32, sig, k->k);
	t_result(id > 0 && ret < 0 && submit(fd, &q, 1) == -ENOKEY,
		 "random bytes as a key are refused (%d) and leave no key (-ENOKEY)", ret);
	ret = sess_setkey(fd, (uint32_t)id, k->priv, (uint32_t)k->priv_len / 2);
	t_result(ret < 0 && submit(fd, &q, 1) == -ENOKEY, "a truncated key is refused (%d)", ret);
	t_result(sess_setkey(fd, (uint32_t)id, k->priv, 0) == -EINVAL &&
		 sess_setkey(fd, (uint32_t)id, junk, ACRYPTO_DEV_MAX_AKCIPHER_KEY_LEN + 1) == -EINVAL,
		 "key lengths 0 and MAX_AKCIPHER_KEY_LEN + 1 are -EINVAL");
	memset(&f, 0, sizeof(f));
	f.session_id = (uint32_t)id;
	f.flags = ACRYPTO_DEV_FILL_PUBLIC;
	ret = xioctl(fd, CRYPTO_FILL_DATA, &f);
	aes = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CBC, NULL, 0, NULL);
	f.session_id = (uint32_t)aes;
	f.flags = ACRYPTO_DEV_FILL_KEY | ACRYPTO_DEV_FILL_PUBLIC;
	f.key = uptr(junk);
	f.key_len = 16;
	t_result(ret == -EINVAL && aes > 0 && xioctl(fd, CRYPTO_FILL_DATA, &f) == -EINVAL,
		 "FILL_PUBLIC without a key, or on a cipher session, is -EINVAL");
	ret = sess_setkey(fd, (uint32_t)id, k->priv, (uint32_t)k->priv_len);
	req(&q, id, 0, d, 32, sig, k->k);
	t_result(!ret && one(fd, &q, NULL) == 0, "the session works once a good key is set");

	/* Request shapes. */
	ok = 1;
	req(&q, id, 0, d, k->k + 1, sig, k->k + 1);
	ok &= submit(fd, &q, 1) == -EMSGSIZE;
	req(&q, id, 0, d, 32, sig, k->k - 1);
	ok &= submit(fd, &q, 1) == -ENOSPC;
	req(&q, id, 0, d, 32, sig, k->k);
	q.iv = uptr(d);
	q.iv_len = 16;
	ok &= submit(fd, &q, 1) == -EINVAL;
	req(&q, id, 0, d, 32, sig, k->k);
	q.aad = uptr(d);
	q.aad_len = 8;
	ok &= submit(fd, &q, 1) == -EINVAL;
	req(&q, id, 0, d, 32, sig, k->k);
	q.flags = ACRYPTO_DEV_REQ_EXPORT;
	ok &= submit(fd, &q, 1) == -EINVAL;
	req(&q, id, 0, d, 32, sig, k->k);
	q.digest = uptr(d);
	q.digest_len = 32;	/* a digest only for VERIFY */
	ok &= submit(fd, &q, 1) == -EINVAL;
	req(&q, id, ACRYPTO_DEV_OP_HASH, d, 32, sig, k->k);
	ok &= submit(fd, &q, 1) == -EINVAL;
	t_result(ok, "sign requests: too long -EMSGSIZE, short dst -ENOSPC, IV, AAD, stream flags, digest, op HASH -EINVAL");
	ok = 1;
	req(&q, id, ACRYPTO_DEV_OP_VERIFY, sig, k->k, NULL, 0);
	ok &= submit(fd, &q, 1) == -EINVAL;	/* no digest (the kernel would WARN) */
	q.digest = uptr(junk);
	q.digest_len = ACRYPTO_DEV_MAX_VERIFY_LEN + 1;
	ok &= submit(fd, &q, 1) == -EINVAL;
	q.digest_len = 32;
	q.dst = uptr(sig);
	q.dst_len = k->k;
	ok &= submit(fd, &q, 1) == -EINVAL;
	req(&q, id, ACRYPTO_DEV_OP_VERIFY, sig, k->k - 1, NULL, 0);
	q.digest = uptr(d);
	q.digest_len = 32;
	ok &= submit(fd, &q, 1) == -EINVAL;
	t_result(ok, "verify requests: no digest, a digest over MAX_VERIFY_LEN, a dst, a short signature: -EINVAL");
	/* A cipher session takes no SIGN; sessions of wrong triples are refused. */
	req(&q, aes, ACRYPTO_DEV_OP_SIGN, d, 16, sig, 16);
	q.iv = uptr(junk);
	q.iv_len = 16;
	ok = submit(fd, &q, 1) == -EINVAL;
	ok &= sess_alloc(fd, ACRYPTO_DEV_OP_SIGN, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CBC, NULL, 0, NULL) == -EINVAL;
	ok &= sess_alloc(fd, ACRYPTO_DEV_OP_SIGN, ACRYPTO_DEV_TYPE_RSA, ACRYPTO_DEV_MODE_CBC, NULL, 0, NULL) == -EINVAL;
	ok &= sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_PKCS1, NULL, 0, NULL) ==
	      -EINVAL;
	ok &= sess_alloc(fd, ACRYPTO_DEV_OP_HASH, ACRYPTO_DEV_TYPE_RSA, ACRYPTO_DEV_MODE_NONE, NULL, 0, NULL) == -EINVAL;
	ok &= sess_alloc(fd, ACRYPTO_DEV_OP_SIGN, ACRYPTO_DEV_TYPE_RSA, ACRYPTO_DEV_MODE_PKCS1_SHA256, "cbc-aes-aesni", 0,
			 NULL) < 0;
	t_result(ok, "SIGN on a cipher session, and sessions of wrong (op, type, mode) or a wrong driver, are refused");
	sess_free(fd, (uint32_t)id);
	sess_free(fd, (uint32_t)aes);
}

/* The tested, non-internal drivers named @name in /proc/crypto (after instantiating). */
static int drivers_of(const char *name, char out[][ACRYPTO_DEV_NAME_LEN], int max)
{
	struct kdrv all[64];
	const char *names[1] = { name };
	int n = kdrv_list_names(all, 64, names, 1), m = 0;

	for (int i = 0; i < n && m < max; i++)
		memcpy(out[m++], all[i].driver, ACRYPTO_DEV_NAME_LEN);
	return m;
}

int main(int argc, char **argv)
{
	static const int bits[] = { 2048, 3072, 4096 };
	struct key keys[3];
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: t_akcipher KEYDIR\n");
		return 2;
	}
	for (int i = 0; i < 3; i++) {
		if (load_key(argv[1], bits[i], &keys[i])) {
			t_result(0, "cannot load the %d-bit key from %s", bits[i], argv[1]);
			return t_exit();
		}
	}
	fd = dev_open();
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		const struct mode *m = &modes[i];
		char drv[8][ACRYPTO_DEV_NAME_LEN];
		int id, n;

		/* Instantiate the default and the generic template. */
		id = sess_alloc(fd, ACRYPTO_DEV_OP_SIGN, ACRYPTO_DEV_TYPE_RSA, m->mode, NULL, 0, NULL);
		if (id > 0)
			sess_free(fd, (uint32_t)id);
		id = sess_alloc(fd, ACRYPTO_DEV_OP_SIGN, ACRYPTO_DEV_TYPE_RSA, m->mode, m->generic, 0, NULL);
		t_result(id > 0, "%s: the generic driver %s binds (%d)", m->name, m->generic, id);
		if (id > 0)
			sess_free(fd, (uint32_t)id);
		n = drivers_of(m->name, drv, 8);
		t_note("%s: %d drivers", m->name, n);
		run_driver(fd, m, NULL, &keys[0]);
		for (int j = 0; j < n; j++) {
			t_note("%s: driver %s", m->name, drv[j]);
			for (int kk = 0; kk < 3; kk++)
				run_driver(fd, m, drv[j], &keys[kk]);
		}
	}
	bad_input(fd, &keys[0]);
	close(fd);
	for (int i = 0; i < 3; i++) {
		OPENSSL_free(keys[i].priv);
		OPENSSL_free(keys[i].pub);
		EVP_PKEY_free(keys[i].pk);
	}
	return t_exit();
}
