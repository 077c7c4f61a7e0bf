// SPDX-License-Identifier: MIT
/*
 * AEAD through /dev/acrypto (crypto_alloc_aead): NIST CAVP GCM (the
 * gcmEncryptExtIV and gcmDecrypt files, FAIL records included) through the
 * synchronous flow and the batch path on every gcm(aes) driver, RFC 8439
 * section 2.8.2 on every rfc7539(chacha20,poly1305) driver, rfc4106(gcm(aes))
 * round trips, a failed open writing nothing, and the rules of the new
 * fields (must be zero where they do not apply, tag length per session,
 * the first version's request size).
 *
 * Usage: t_aead DIR (DIR holds the six CAVP GCM .rsp files)
 */
#include "common.h"

#define MAXR 3000
#define MAXB 256	/* CAVP GCM data, AAD: at most 90 bytes here */

struct rec {
	int bits, fail, enc;
	unsigned char key[32], iv[16], pt[MAXB], ct[MAXB], aad[MAXB], tag[16];
	int klen, ivlen, ptlen, ctlen, aadlen, taglen;
};

static struct rec recs[MAXR];
static int nrecs;

static int field(const char *line, const char *name, unsigned char *out, int max, int *len)
{
	size_t n = strlen(name);
	const char *v;
	char buf[2 * MAXB + 8];

	if (strncmp(line, name, n) || line[n] != ' ' || line[n + 1] != '=')
		return 0;
	v = line + n + 2;
	while (*v == ' ')
		v++;
	snprintf(buf, sizeof(buf), "%s", v);
	buf[strcspn(buf, "\r\n")] = 0;
	*len = buf[0] ? hex2bin(buf, out, (size_t)max) : 0;
	return 1;
}

/* Reads one .rsp file; every record (also other IV lengths) is kept. */
static int load(const char *dir, const char *file, int bits, int enc)
{
	char path[512], line[1024];
	struct rec *r = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Count = ", 8)) {
			if (nrecs == MAXR)
				break;
			r = &recs[nrecs++];
			memset(r, 0, sizeof(*r));
			r->bits = bits;
			r->enc = enc;
			continue;
		}
		if (!r)
			continue;
		if (!strncmp(line, "FAIL", 4)) {
			r->fail = 1;
			continue;
		}
		if (field(line, "Key", r->key, 32, &r->klen) || field(line, "IV", r->iv, 16, &r->ivlen) ||
		    field(line, "PT", r->pt, MAXB, &r->ptlen) || field(line, "CT", r->ct, MAXB, &r->ctlen) ||
		    field(line, "AAD", r->aad, MAXB, &r->aadlen) || field(line, "Tag", r->tag, 16, &r->taglen))
			continue;
	}
	fclose(f);
	return 0;
}

/* One GCM session of this key size and tag length, keyed. */
static int gcm_session(int fd, const char *drv, uint32_t op, const struct rec *r, uint32_t src_size)
{
	struct acrypto_session_alloc a;
	int id, ret;

	memset(&a, 0, sizeof(a));
	a.operation = op;
	a.type = aes_type(r->bits);
	a.mode = ACRYPTO_DEV_MODE_GCM;
	a.src_size = src_size;
	a.auth_size = (uint32_t)r->taglen;
	snprintf(a.driver, sizeof(a.driver), "%s", drv);
	ret = xioctl(fd, CRYPTO_SESSION_ALLOC, &a);
	if (ret)
		return ret;
	id = (int)a.session_id;
	if (a.out_size != (uint32_t)r->taglen || a.iv_size != 12 || a.key_size != (uint32_t)r->bits / 8) {
		sess_free(fd, (uint32_t)id);
		return -EPROTO;
	}
	ret = sess_setkey(fd, (uint32_t)id, r->key, (uint32_t)r->klen);
	if (ret) {
		sess_free(fd, (uint32_t)id);
		return ret;
	}
	return id;
}

static int fill_aead(int fd, int id, const void *iv, const void *aad, uint32_t aad_len, const void *src,
		     uint32_t src_len)
{
	struct acrypto_fill_data f;

	memset(&f, 0, sizeof(f));
	f.session_id = (uint32_t)id;
	f.flags = ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC | ACRYPTO_DEV_FILL_AAD;
	f.iv = uptr(iv);
	f.iv_len = 12;
	f.src = uptr(src);
	f.src_len = src_len;
	f.aad = aad_len ? uptr(aad) : 0;
	f.aad_len = aad_len;
	return xioctl(fd, CRYPTO_FILL_DATA, &f);
}

/* The synchronous flow: seal (encrypt records), then open (every record). */
static int run_sync(int fd, const char *drv, const struct rec *r, char *why)
{
	unsigned char in[MAXB + 16], out[MAXB + 16];
	int id, ret, ok = 0;

	if (r->enc) {
		id = gcm_session(fd, drv, ACRYPTO_DEV_OP_ENCRYPT, r, MAXB + 16);
		if (id < 0) {
			sprintf(why, "seal session: %s", strerror(-id));
			return 0;
		}
		ret = fill_aead(fd, id, r->iv, r->aad, (uint32_t)r->aadlen, r->pt, (uint32_t)r->ptlen);
		if (!ret)
			ret = sess_add(fd, (uint32_t)id, out, sizeof(out));
		sess_free(fd, (uint32_t)id);
		if (ret != r->ptlen + r->taglen || memcmp(out, r->ct, (size_t)r->ctlen) ||
		    memcmp(out + r->ctlen, r->tag, (size_t)r->taglen)) {
			sprintf(why, "seal: %s", ret < 0 ? strerror(-ret) : "wrong bytes");
			return 0;
		}
	}
	id = gcm_session(fd, drv, ACRYPTO_DEV_OP_DECRYPT, r, MAXB + 16);
	if (id < 0) {
		sprintf(why, "open session: %s", strerror(-id));
		return 0;
	}
	memcpy(in, r->ct, (size_t)r->ctlen);
	memcpy(in + r->ctlen, r->tag, (size_t)r->taglen);
	memset(out, 0xee, sizeof(out));
	ret = fill_aead(fd, id, r->iv, r->aad, (uint32_t)r->aadlen, in, (uint32_t)(r->ctlen + r->taglen));
	if (!ret)
		ret = sess_add(fd, (uint32_t)id, out, sizeof(out));
	if (r->fail) {
		int untouched = 1;

		for (size_t i = 0; i < sizeof(out); i++)
			untouched &= out[i] == 0xee;
		ok = ret == -EBADMSG && untouched;
		if (!ok)
			sprintf(why, "FAIL record opened: %s%s", ret < 0 ? strerror(-ret) : "ok",
				untouched ? "" : ", output written");
	} else {
		ok = ret == r->ptlen && !memcmp(out, r->pt, (size_t)r->ptlen);
		if (!ok)
			sprintf(why, "open: %s", ret < 0 ? strerror(-ret) : "wrong bytes");
	}
	sess_free(fd, (uint32_t)id);
	return ok;
}

/* The batch path: seal and open of up to 24 records in one submit. */
static int run_batch(int fd, const char *drv, const struct rec *const *rs, int n, char *why)
{
	static unsigned char out[48][MAXB], tag[48][16];
	struct acrypto_request q[48];
	struct acrypto_completion c[48];
	int ids[48], nreq = 0, nid = 0, ok = 0, ret;

	memset(q, 0, sizeof(q));
	memset(out, 0xee, sizeof(out));
	for (int i = 0; i < n; i++) {
		const struct rec *r = rs[i];
		int id = gcm_session(fd, drv, ACRYPTO_DEV_OP_ENCRYPT, r, 0);

		if (id < 0) {
			sprintf(why, "session: %s", strerror(-id));
			goto out;
		}
		ids[nid++] = id;
		for (int dec = !r->enc; dec <= 1; dec++) {
			struct acrypto_request *x = &q[nreq];

			x->tag = (uint64_t)(i * 2 + dec);
			x->session_id = (uint32_t)id;
			x->op = dec ? ACRYPTO_DEV_OP_DECRYPT : ACRYPTO_DEV_OP_ENCRYPT;
			x->src = uptr(dec ? r->ct : r->pt);
			x->src_len = (uint32_t)r->ctlen;
			x->dst = uptr(out[nreq]);
			x->dst_len = MAXB;
			x->iv = uptr(r->iv);
			x->iv_len = 12;
			x->aad = r->aadlen ? uptr(r->aad) : 0;
			x->aad_len = (uint32_t)r->aadlen;
			if (dec) {
				x->digest = uptr(r->tag);
			} else {
				x->digest = uptr(tag[nreq]);
			}
			x->digest_len = (uint32_t)r->taglen;
			nreq++;
		}
	}
	ret = submit(fd, q, (uint32_t)nreq);
	if (ret != nreq || read_all(fd, c, nreq)) {
		sprintf(why, "submit/read: %s", ret < 0 ? strerror(-ret) : "short");
		goto out;
	}
	for (int k = 0; k < nreq; k++) {
		int i = (int)(c[k].tag / 2), dec = (int)(c[k].tag % 2), j;
		const struct rec *r = rs[i];

		for (j = 0; j < nreq && q[j].tag != c[k].tag; j++)
			;
		if (dec && r->fail) {
			int untouched = 1;

			for (int b = 0; b < MAXB; b++)
				untouched &= out[j][b] == 0xee;
			if (c[k].status != -EBADMSG || c[k].out_len || !untouched) {
				sprintf(why, "batch FAIL record: status %d, %s", c[k].status,
					untouched ? "output untouched" : "output written");
				goto out;
			}
			continue;
		}
		if (c[k].status || (int)c[k].out_len != r->ctlen ||
		    memcmp(out[j], dec ? r->pt : r->ct, (size_t)r->ctlen) ||
		    (!dec && memcmp(tag[j], r->tag, (size_t)r->taglen))) {
			sprintf(why, "batch %s: status %d, %s", dec ? "open" : "seal", c[k].status,
				c[k].status ? "" : "wrong bytes");
			goto out;
		}
	}
	ok = 1;
out:
	for (int i = 0; i < nid; i++)
		sess_free(fd, (uint32_t)ids[i]);
	return ok;
}

static void test_cavp(int fd, const char *drv, int all)
{
	const struct rec *batch[24];
	int nb = 0, sync_ok = 1, batch_ok = 1, done = 0, fails = 0, skipped = 0;
	char why[256] = "", bwhy[256] = "";

	for (int i = 0; i < nrecs; i++) {
		const struct rec *r = &recs[i];

		/* The kernel's gcm(aes) takes 12-byte IVs only; acrypto 12..16-byte tags. */
		if (r->ivlen != 12 || r->taglen < 12) {
			skipped++;
			continue;
		}
		if (!all && i % 8)
			continue;
		if (sync_ok && !run_sync(fd, drv, r, why)) {
			sync_ok = 0;
			snprintf(why + strlen(why), sizeof(why) - strlen(why), " (record %d, %d-bit)", i, r->bits);
		}
		batch[nb++] = r;
		if (nb == 24) {
			if (batch_ok && !run_batch(fd, drv, batch, nb, bwhy))
				batch_ok = 0;
			nb = 0;
		}
		done++;
		fails += r->fail;
	}
	if (nb && batch_ok && !run_batch(fd, drv, batch, nb, bwhy))
		batch_ok = 0;
	t_result(sync_ok && done > 0, "CAVP GCM via %s, CRYPTO_SESSION_ADD: %d records (%d FAIL), %d other IV or tag lengths %s",
		 drv[0] ? drv : "(default)", done, fails, skipped, why);
	t_result(batch_ok && done > 0, "CAVP GCM via %s, batch: %d records %s", drv[0] ? drv : "(default)", done, bwhy);
}

/* RFC 8439 section 2.8.2. */
static const char rfc_key[] = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
static const char rfc_nonce[] = "070000004041424344454647";
static const char rfc_aad[] = "50515253c0c1c2c3c4c5c6c7";
static const char rfc_pt[] = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
			     "the future, sunscreen would be it.";
static const char rfc_ct[] =
	"d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da9272"
	"8b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b48"
	"31d7bc3ff4def08e4b7a9de576d26586cec64b6116";
static const char rfc_tag[] = "1ae10b594f09e26a7e902ecbd0600691";

static void test_rfc8439(int fd, const char *drv)
{
	unsigned char key[32], nonce[12], aad[12], ct[114], tag[16], out[160], badtag[16];
	const size_t n = sizeof(rfc_pt) - 1;
	struct acrypto_session_alloc a;
	struct acrypto_request q[3];
	struct acrypto_completion c[3];
	unsigned char bout[3][128], btag[16];
	int id, ret, ok = 0, untouched = 1;
	char why[128] = "";

	hex2bin(rfc_key, key, 32);
	hex2bin(rfc_nonce, nonce, 12);
	hex2bin(rfc_aad, aad, 12);
	hex2bin(rfc_ct, ct, sizeof(ct));
	hex2bin(rfc_tag, tag, 16);
	memset(&a, 0, sizeof(a));
	a.operation = ACRYPTO_DEV_OP_ENCRYPT;
	a.type = ACRYPTO_DEV_TYPE_CHACHA20;
	a.mode = ACRYPTO_DEV_MODE_POLY1305;
	a.src_size = 256;
	snprintf(a.driver, sizeof(a.driver), "%s", drv);
	ret = xioctl(fd, CRYPTO_SESSION_ALLOC, &a);
	if (ret) {
		t_result(0, "RFC 8439 via %s: SESSION_ALLOC: %s", drv, strerror(-ret));
		return;
	}
	id = (int)a.session_id;
	ret = sess_setkey(fd, (uint32_t)id, key, 32);
	if (!ret)
		ret = fill_aead(fd, id, nonce, aad, 12, rfc_pt, (uint32_t)n);
	if (!ret)
		ret = sess_add(fd, (uint32_t)id, out, sizeof(out));
	if (ret != (int)n + 16 || memcmp(out, ct, n) || memcmp(out + n, tag, 16)) {
		sprintf(why, "sync seal: %s", ret < 0 ? strerror(-ret) : "wrong bytes");
		goto out;
	}
	/* Batch: seal, open, and an open with a flipped tag bit. */
	memcpy(badtag, tag, 16);
	badtag[15] ^= 0x80;
	memset(q, 0, sizeof(q));
	memset(bout, 0xee, sizeof(bout));
	for (int i = 0; i < 3; i++) {
		q[i].tag = (uint64_t)i;
		q[i].session_id = (uint32_t)id;
		q[i].op = i ? ACRYPTO_DEV_OP_DECRYPT : ACRYPTO_DEV_OP_ENCRYPT;
		q[i].src = i ? uptr(ct) : uptr(rfc_pt);
		q[i].src_len = (uint32_t)n;
		q[i].dst = uptr(bout[i]);
		q[i].dst_len = 128;
		q[i].iv = uptr(nonce);
		q[i].iv_len = 12;
		q[i].aad = uptr(aad);
		q[i].aad_len = 12;
		q[i].digest = i == 0 ? uptr(btag) : i == 1 ? uptr(tag) : uptr(badtag);
		q[i].digest_len = 16;
	}
	ret = submit(fd, q, 3);
	if (ret != 3 || read_all(fd, c, 3)) {
		sprintf(why, "batch submit/read");
		goto out;
	}
	for (int k = 0; k < 3; k++) {
		int i = (int)c[k].tag;

		if (i == 0 && (c[k].status || c[k].out_len != n || memcmp(bout[0], ct, n) || memcmp(btag, tag, 16))) {
			strcpy(why, "batch seal");
			goto out;
		}
		if (i == 1 && (c[k].status || c[k].out_len != n || memcmp(bout[1], rfc_pt, n))) {
			strcpy(why, "batch open");
			goto out;
		}
		if (i == 2) {
			for (int b = 0; b < 128; b++)
				untouched &= bout[2][b] == 0xee;
			if (c[k].status != -EBADMSG || !untouched) {
				sprintf(why, "flipped tag: status %d, %s", c[k].status,
					untouched ? "untouched" : "plaintext written");
				goto out;
			}
		}
	}
	ok = 1;
out:
	sess_free(fd, (uint32_t)id);
	t_result(ok, "RFC 8439 2.8.2 via %s (bound %s): sync seal, batch seal/open/flipped tag %s",
		 drv[0] ? drv : "(default)", a.bound_driver, why);
}

/* rfc4106(gcm(aes)): key || salt, 8-byte IV, ESP's 8-byte AAD; seal then open. */
static void test_rfc4106(int fd)
{
	unsigned char key[20], iv[8], aad[8], pt[64], ct[80], out[80];
	struct acrypto_session_alloc a;
	int id, ret, ok = 0;

	for (int i = 0; i < 20; i++)
		key[i] = (unsigned char)(i * 7 + 1);
	memset(iv, 0x42, sizeof(iv));
	memset(aad, 0x11, sizeof(aad));
	for (int i = 0; i < 64; i++)
		pt[i] = (unsigned char)i;
	ret = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_RFC4106, "", 0, &a);
	if (ret < 0) {
		t_result(0, "rfc4106(gcm(aes)): SESSION_ALLOC: %s", strerror(-ret));
		return;
	}
	id = ret;
	if (a.key_size != 20 || a.iv_size != 8 || a.out_size != 16)
		goto out;
	if (sess_setkey(fd, (uint32_t)id, key, 20))
		goto out;
	for (int dec = 0; dec <= 1; dec++) {
		struct acrypto_request q;
		struct acrypto_completion c;

		memset(&q, 0, sizeof(q));
		q.session_id = (uint32_t)id;
		q.op = dec ? ACRYPTO_DEV_OP_DECRYPT : ACRYPTO_DEV_OP_ENCRYPT;
		q.src = uptr(dec ? ct : pt);
		q.src_len = 64;
		q.dst = uptr(dec ? out : ct);
		q.dst_len = 64;
		q.iv = uptr(iv);
		q.iv_len = 8;
		q.aad = uptr(aad);
		q.aad_len = 8;
		q.digest = uptr(ct + 64);
		q.digest_len = 16;
		if (submit(fd, &q, 1) != 1 || read_all(fd, &c, 1) || c.status)
			goto out;
	}
	ok = !memcmp(out, pt, 64) && memcmp(ct, pt, 64);
out:
	sess_free(fd, (uint32_t)id);
	t_result(ok, "rfc4106(gcm(aes)) (bound %s): seal, then open, with ESP's 8-byte AAD", a.bound_driver);
}

/* The rules of the new fields. */
static void test_rules(int fd)
{
	static unsigned char key[32], buf[256], tagb[16];
	struct acrypto_session_alloc a;
	struct acrypto_request q;
	struct acrypto_fill_data f;
	int gcm, cbc, ret;

	/* auth_size only for AEAD, and only lengths the driver takes. */
	memset(&a, 0, sizeof(a));
	a.operation = ACRYPTO_DEV_OP_ENCRYPT;
	a.type = ACRYPTO_DEV_TYPE_AES_128;
	a.mode = ACRYPTO_DEV_MODE_CBC;
	a.auth_size = 16;
	ret = xioctl(fd, CRYPTO_SESSION_ALLOC, &a);
	t_result(ret == -EINVAL, "SESSION_ALLOC: auth_size on a cbc session is EINVAL (%d)", ret);
	a.mode = ACRYPTO_DEV_MODE_GCM;
	a.auth_size = 11;
	ret = xioctl(fd, CRYPTO_SESSION_ALLOC, &a);
	t_result(ret == -EINVAL, "SESSION_ALLOC: an 11-byte GCM tag is EINVAL (%d)", ret);
	a.auth_size = 0;
	a.__pad2 = 1;
	ret = xioctl(fd, CRYPTO_SESSION_ALLOC, &a);
	t_result(ret == -EINVAL, "SESSION_ALLOC: __pad2 is EINVAL (%d)", ret);
	a.__pad2 = 0;
	a.type = ACRYPTO_DEV_TYPE_CHACHA20;
	ret = xioctl(fd, CRYPTO_SESSION_ALLOC, &a);
	t_result(ret == -EINVAL, "SESSION_ALLOC: CHACHA20 with GCM is EINVAL (%d)", ret);

	/* First-version sizes (no auth_size, no AAD): the zero meaning, the default tag. */
	{
		unsigned int alloc0 = _IOC(_IOC_READ | _IOC_WRITE, ACRYPTO_IOC_MAGIC, 0x40,
					   ACRYPTO_DEV_SESSION_ALLOC_SIZE_VER0);
		unsigned int fill0 = _IOC(_IOC_WRITE, ACRYPTO_IOC_MAGIC, 0x41, ACRYPTO_DEV_FILL_DATA_SIZE_VER0);

		memset(&a, 0, sizeof(a));
		a.operation = ACRYPTO_DEV_OP_DECRYPT;
		a.type = ACRYPTO_DEV_TYPE_AES_128;
		a.mode = ACRYPTO_DEV_MODE_GCM;
		ret = xioctl(fd, alloc0, &a);
		memset(&f, 0, sizeof(f));
		f.session_id = a.session_id;
		f.flags = ACRYPTO_DEV_FILL_KEY;
		f.key = uptr(key);
		f.key_len = 16;
		if (!ret)
			ret = xioctl(fd, fill0, &f);
		t_result(!ret && a.out_size == 16 && a.key_size == 16,
			 "a %d-byte SESSION_ALLOC and a %d-byte FILL_DATA make a keyed GCM session with a 16-byte tag (%d)",
			 ACRYPTO_DEV_SESSION_ALLOC_SIZE_VER0, ACRYPTO_DEV_FILL_DATA_SIZE_VER0, ret);
		if (a.session_id)
			sess_free(fd, a.session_id);
	}
	gcm = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_256, ACRYPTO_DEV_MODE_GCM, "", 64, NULL);
	cbc = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_256, ACRYPTO_DEV_MODE_CBC, "", 64, NULL);
	if (gcm < 0 || cbc < 0 || sess_setkey(fd, (uint32_t)gcm, key, 32) || sess_setkey(fd, (uint32_t)cbc, key, 32)) {
		t_result(0, "sessions for the rules: %d %d", gcm, cbc);
		return;
	}
	/* FILL_AAD: AEAD only, no pointer without a length, the size limit. */
	memset(&f, 0, sizeof(f));
	f.session_id = (uint32_t)cbc;
	f.flags = ACRYPTO_DEV_FILL_AAD;
	f.aad = uptr(buf);
	f.aad_len = 4;
	ret = xioctl(fd, CRYPTO_FILL_DATA, &f);
	t_result(ret == -EINVAL, "FILL_DATA: AAD for a cbc session is EINVAL (%d)", ret);
	f.session_id = (uint32_t)gcm;
	f.aad_len = 0;
	ret = xioctl(fd, CRYPTO_FILL_DATA, &f);
	t_result(ret == -EINVAL, "FILL_DATA: an AAD pointer without a length is EINVAL (%d)", ret);
	f.aad_len = 1U << 30;
	ret = xioctl(fd, CRYPTO_FILL_DATA, &f);
	t_result(ret == -EMSGSIZE, "FILL_DATA: AAD beyond max_buffer is EMSGSIZE (%d)", ret);
	f.flags = ACRYPTO_DEV_FILL_KEY;
	f.key = uptr(key);
	f.key_len = 32;
	f.aad = 0;
	f.aad_len = 3;
	ret = xioctl(fd, CRYPTO_FILL_DATA, &f);
	t_result(ret == -EINVAL, "FILL_DATA: aad_len without FILL_AAD is EINVAL (%d)", ret);

	/* Requests: aad fields zero off AEAD, tag length exact, __pad2 zero. */
	memset(&q, 0, sizeof(q));
	q.session_id = (uint32_t)cbc;
	q.src = q.dst = uptr(buf);
	q.src_len = q.dst_len = 16;
	q.iv = uptr(buf + 128);
	q.iv_len = 16;
	q.aad = uptr(buf);
	q.aad_len = 4;
	ret = submit(fd, &q, 1);
	t_result(ret == -EINVAL, "SUBMIT: AAD on a cbc request is EINVAL (%d)", ret);
	q.session_id = (uint32_t)gcm;
	q.iv_len = 12;
	q.digest = uptr(tagb);
	q.digest_len = 15;
	ret = submit(fd, &q, 1);
	t_result(ret == -EINVAL, "SUBMIT: a tag of another length than the session's is EINVAL (%d)", ret);
	q.digest_len = 16;
	q.__pad2 = 1;
	ret = submit(fd, &q, 1);
	t_result(ret == -EINVAL, "SUBMIT: __pad2 is EINVAL (%d)", ret);
	q.__pad2 = 0;
	q.digest = 0;
	q.digest_len = 0;
	ret = submit(fd, &q, 1);
	t_result(ret == -EINVAL, "SUBMIT: an AEAD request without a tag is EINVAL (%d)", ret);
	q.digest = uptr(tagb);
	q.digest_len = 16;
	q.aad_len = 1U << 30;
	ret = submit(fd, &q, 1);
	t_result(ret == -EMSGSIZE, "SUBMIT: AAD beyond max_buffer is EMSGSIZE (%d)", ret);

	/* The first version's entry size: no AAD, still a valid AEAD request. */
	{
		struct acrypto_submit s;
		struct acrypto_completion c;

		q.aad = 0;
		q.aad_len = 0;
		memset(&s, 0, sizeof(s));
		s.reqs = uptr(&q);
		s.count = 1;
		s.entry_size = ACRYPTO_DEV_REQUEST_SIZE_VER0;
		ret = xioctl(fd, ACRYPTO_IOC_SUBMIT, &s);
		if (!ret)
			ret = read_all(fd, &c, 1);
		t_result(!ret && s.submitted == 1 && c.status == 0 && c.out_len == 16,
			 "SUBMIT: a %d-byte (first version) AEAD entry seals without AAD (%d, status %d)",
			 ACRYPTO_DEV_REQUEST_SIZE_VER0, ret, ret ? 0 : c.status);
	}
	sess_free(fd, (uint32_t)gcm);
	sess_free(fd, (uint32_t)cbc);
}

int main(int argc, char **argv)
{
	static struct kdrv algs[256];
	static const char *files[] = { "gcmEncryptExtIV", "gcmDecrypt" };
	const char *gcm_drivers[32] = { "", "gcm_base(ctr(aes-generic),ghash-generic)" };
	const char *chacha_drivers[32] = { "" };
	int fd, nalgs, ng = 2, nc = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: t_aead DIR\n");
		return 2;
	}
	for (int bits = 128; bits <= 256; bits += 64)
		for (int k = 0; k < 2; k++) {
			char name[64];

			snprintf(name, sizeof(name), "%s%d.rsp", files[k], bits);
			if (load(argv[1], name, bits, !k)) {
				t_result(0, "vectors %s/%s", argv[1], name);
				return 1;
			}
		}
	fd = dev_open();
	/* Instantiate the defaults, then list every driver of both names. */
	{
		int a = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_GCM, "", 0, NULL);
		int b = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_CHACHA20, ACRYPTO_DEV_MODE_POLY1305, "", 0,
				   NULL);

		if (a > 0)
			sess_free(fd, (uint32_t)a);
		if (b > 0)
			sess_free(fd, (uint32_t)b);
	}
	nalgs = kdrv_list(algs, 256);
	for (int i = 0; i < nalgs; i++) {
		int dup = 0;

		if (!strcmp(algs[i].name, "gcm(aes)")) {
			for (int k = 0; k < ng; k++)
				dup |= !strcmp(gcm_drivers[k], algs[i].driver);
			if (!dup && ng < 32)
				gcm_drivers[ng++] = algs[i].driver;
		} else if (!strcmp(algs[i].name, "rfc7539(chacha20,poly1305)") && nc < 32) {
			chacha_drivers[nc++] = algs[i].driver;
		}
	}
	t_result(ng >= 3 && nc >= 2, "/proc/crypto: %d gcm(aes) and %d rfc7539(chacha20,poly1305) drivers listed",
		 ng - 2, nc - 1);
	for (int k = 0; k < ng; k++)
		test_cavp(fd, gcm_drivers[k], k == 0);
	for (int k = 0; k < nc; k++)
		test_rfc8439(fd, chacha_drivers[k]);
	test_rfc4106(fd);
	test_rules(fd);
	close(fd);
	printf("t_aead: %d passed, %d failed\n", t_passed, t_failed);
	return t_exit();
}
