/* encrypt_file: encrypts a file through a routed session, aes-128-cbc then
 * hmac-sha1 over the ciphertext (encrypt-then-MAC, as IPsec ESP does),
 * asynchronously, with every chunk of the file in flight at once.
 *
 *   encrypt_file IN OUT       encrypt
 *   encrypt_file -d IN OUT    verify and decrypt
 *
 * OUT is a sequence of records, one per 4096-byte chunk of IN:
 *   IV (16 bytes) | ciphertext | HMAC-SHA1 of the ciphertext (20 bytes)
 * The last chunk is padded to 16 bytes (PKCS#7), so every record but the
 * last holds 4096 bytes of ciphertext. IVs come from acrypto's rng.
 * The keys are fixed demonstration keys: a real program derives its own. */
#include <acrypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 4096
#define IV_LEN 16
#define MAC_LEN 20

static const unsigned char AES_KEY[16] = "acrypto demo key";
static const unsigned char MAC_KEY[20] = "acrypto demo mac key";

struct record {
	unsigned char iv[IV_LEN];
	unsigned char *data; /* input, transformed in place */
	size_t len;
	unsigned char mac[MAC_LEN];
	acrypto_status status;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static size_t finished;

static void on_done(const acrypto_completion *c)
{
	struct record *r = c->user;
	r->status = c->status;
	pthread_mutex_lock(&mu);
	finished++;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

static int fail(const char *what, acrypto_status st)
{
	fprintf(stderr, "encrypt_file: %s: %s\n", what, acrypto_strerror(st));
	return 1;
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0, got;
	unsigned char *buf = malloc(cap + 16);
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			unsigned char *nb = realloc(buf, 2 * cap + 16);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	int decrypt = argc == 4 && !strcmp(argv[1], "-d");
	if (argc != 3 + decrypt) {
		fprintf(stderr, "usage: encrypt_file [-d] IN OUT\n");
		return 2;
	}
	const char *in_path = argv[1 + decrypt], *out_path = argv[2 + decrypt];
	size_t len;
	unsigned char *in = read_all(in_path, &len);
	if (!in) {
		perror(in_path);
		return 1;
	}

	acrypto_engine *engine = NULL;
	acrypto_session *session = NULL, *rng = NULL;
	acrypto_status st = acrypto_engine_new(&engine);
	if (st)
		return fail("engine", st);
	acrypto_step seal[2] = {
		{ ACRYPTO_ALG_AES_128_CBC, ACRYPTO_OP_ENCRYPT, AES_KEY, sizeof AES_KEY, NULL },
		{ ACRYPTO_ALG_HMAC_SHA1, ACRYPTO_OP_DIGEST, MAC_KEY, sizeof MAC_KEY, NULL },
	};
	acrypto_step open_[2] = {
		{ ACRYPTO_ALG_HMAC_SHA1, ACRYPTO_OP_VERIFY, MAC_KEY, sizeof MAC_KEY, NULL },
		{ ACRYPTO_ALG_AES_128_CBC, ACRYPTO_OP_DECRYPT, AES_KEY, sizeof AES_KEY, NULL },
	};
	st = acrypto_session_new(engine, decrypt ? open_ : seal, 2, 0, 0, NULL, &session);
	if (st)
		return fail("session", st);
	acrypto_step gen = { ACRYPTO_ALG_RNG, ACRYPTO_OP_GENERATE, NULL, 0, NULL };
	if ((st = acrypto_session_new(engine, &gen, 1, 0, 0, NULL, &rng)))
		return fail("rng session", st);

	/* Cut the input into records. */
	size_t nrec, cap;
	struct record *recs;
	if (!decrypt) {
		size_t pad = 16 - len % 16; /* PKCS#7: 1 to 16 bytes */
		memset(in + len, (int)pad, pad);
		len += pad;
		nrec = (len + CHUNK - 1) / CHUNK;
		cap = nrec;
		recs = calloc(cap, sizeof *recs);
		for (size_t i = 0; recs && i < nrec; i++) {
			recs[i].data = in + i * CHUNK;
			recs[i].len = len - i * CHUNK < CHUNK ? len - i * CHUNK : CHUNK;
			acrypto_request r = { NULL, IV_LEN, recs[i].iv, IV_LEN, NULL, 0, NULL, 0, NULL };
			if ((st = acrypto_session_run(rng, &r, NULL)))
				return fail("rng", st);
		}
	} else {
		size_t full = IV_LEN + CHUNK + MAC_LEN, off = 0;
		cap = len / (IV_LEN + 16 + MAC_LEN) + 1;
		recs = calloc(cap, sizeof *recs);
		for (nrec = 0; recs && off < len; nrec++) {
			size_t rl = len - off < full ? len - off : full;
			if (rl < IV_LEN + 16 + MAC_LEN) {
				fprintf(stderr, "encrypt_file: %s: truncated record\n", in_path);
				return 1;
			}
			struct record *r = &recs[nrec];
			memcpy(r->iv, in + off, IV_LEN);
			r->data = in + off + IV_LEN;
			r->len = rl - IV_LEN - MAC_LEN;
			memcpy(r->mac, in + off + rl - MAC_LEN, MAC_LEN);
			off += rl;
		}
	}
	if (!recs)
		return 1;

	/* Submit every record; all are in flight at once (the engine makes
	 * room as devices complete work). */
	for (size_t i = 0; i < nrec; i++) {
		struct record *r = &recs[i];
		acrypto_request req = { r->data, r->len, r->data, r->len, r->iv, IV_LEN, r->mac, MAC_LEN, r };
		if ((st = acrypto_session_submit(session, &req, on_done, ACRYPTO_SUBMIT_BLOCK)))
			return fail("submit", st);
	}
	pthread_mutex_lock(&mu);
	while (finished < nrec)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);

	FILE *out = fopen(out_path, "wb");
	if (!out) {
		perror(out_path);
		return 1;
	}
	int rc = 0;
	for (size_t i = 0; i < nrec && rc == 0; i++) {
		struct record *r = &recs[i];
		if (r->status) {
			fprintf(stderr, "encrypt_file: record %zu: %s\n", i, acrypto_strerror(r->status));
			rc = 1;
		} else if (!decrypt) {
			fwrite(r->iv, 1, IV_LEN, out);
			fwrite(r->data, 1, r->len, out);
			fwrite(r->mac, 1, MAC_LEN, out);
		} else {
			size_t n = r->len;
			if (i == nrec - 1) {
				unsigned pad = r->data[n - 1];
				if (pad == 0 || pad > 16) {
					fprintf(stderr, "encrypt_file: bad padding\n");
					rc = 1;
					break;
				}
				n -= pad;
			}
			fwrite(r->data, 1, n, out);
		}
	}
	fclose(out);
	printf("encrypt_file: %s %zu records\n", decrypt ? "decrypted" : "encrypted", nrec);
	free(recs);
	free(in);
	acrypto_session_free(rng);
	acrypto_session_free(session);
	acrypto_engine_free(engine);
	return rc;
}
