/* encrypt_file: encrypts and authenticates a file with aes-128-cbc and
 * hmac-sha1 (encrypt-then-MAC), asynchronously, every chunk of the file in
 * flight at once.
 *
 *   encrypt_file IN OUT       encrypt
 *   encrypt_file -d IN OUT    verify, then decrypt
 *
 * OUT is a 16-byte header, then one record per 4096-byte chunk of IN:
 *   header:   "ACRYPTF2" (8 bytes) | number of records (8 bytes, big endian)
 *   record i: IV (16 bytes) | ciphertext | tag (20 bytes)
 * The tag of record i is HMAC-SHA1 over
 *   header | i (8 bytes, big endian) | IV | ciphertext,
 * so a changed header, IV or ciphertext, records swapped, dropped or
 * repeated, and a file cut short all fail verification. Every record but
 * the last holds 4096 bytes of ciphertext; the last is PKCS#7-padded (16
 * to 4096 bytes), so an empty IN still gives one record.
 *
 * Decryption verifies every record before it decrypts any, and writes
 * plaintext only once every record verified and the padding is right.
 * OUT is written to a temporary file beside it and renamed over it on
 * success, so a failure leaves OUT as it was. Exit status 0 on success,
 * 1 on any failure (with one line on stderr), 2 on a bad command line.
 *
 * IVs come from acrypto's rng. The keys are fixed demonstration keys: a
 * real program derives its own (a separate key for the cipher and the
 * MAC, as here). */
#include <acrypto.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 4096
#define HEADER_LEN 16
#define INDEX_LEN 8
#define IV_LEN 16
#define MAC_LEN 20
/* What the tag covers before the ciphertext: header | index | IV. */
#define PREFIX_LEN (HEADER_LEN + INDEX_LEN + IV_LEN)
#define FULL_RECORD (IV_LEN + CHUNK + MAC_LEN)
#define MIN_RECORD (IV_LEN + 16 + MAC_LEN)

static const unsigned char MAGIC[8] = { 'A', 'C', 'R', 'Y', 'P', 'T', 'F', '2' };
static const unsigned char AES_KEY[16] = "acrypto demo key";
static const unsigned char MAC_KEY[20] = "acrypto demo mac key";

/* One record. `buf` holds header | index | IV | ciphertext (or plaintext),
 * exactly the bytes its tag covers; the cipher works in place on the part
 * after PREFIX_LEN. */
struct record {
	unsigned char *buf;
	size_t len; /* of the ciphertext */
	unsigned char tag[MAC_LEN];
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

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Runs one request per record through `session` (the cipher on the part
 * after the prefix, or the MAC over all of `buf`), all in flight at once,
 * and waits for every one that was accepted. Returns the first failure:
 * of a submission, else of a record. */
static acrypto_status run_all(const acrypto_session *session, struct record *recs, size_t n, int mac)
{
	acrypto_status st = ACRYPTO_STATUS_OK;
	size_t submitted = 0;
	pthread_mutex_lock(&mu);
	finished = 0;
	pthread_mutex_unlock(&mu);
	for (; submitted < n; submitted++) {
		struct record *r = &recs[submitted];
		unsigned char *ct = r->buf + PREFIX_LEN;
		acrypto_request req = { ct, r->len, ct, r->len, r->buf + HEADER_LEN + INDEX_LEN, IV_LEN, NULL, 0, r, NULL, 0, 0 };
		if (mac) {
			req = (acrypto_request){ r->buf, PREFIX_LEN + r->len, NULL, 0, NULL, 0, r->tag, MAC_LEN, r, NULL, 0, 0 };
		}
		r->status = ACRYPTO_STATUS_OK;
		if ((st = acrypto_session_submit(session, &req, on_done, ACRYPTO_SUBMIT_BLOCK)))
			break;
	}
	/* Every accepted request writes into its record: wait for all of them,
	 * even after a refused submission, before anything is freed. */
	pthread_mutex_lock(&mu);
	while (finished < submitted)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	for (size_t i = 0; i < submitted && !st; i++)
		st = recs[i].status;
	return st;
}

/* Reads all of `path`; NULL (errno set) on failure. */
static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct stat sb;
	if (fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fclose(f);
		errno = EISDIR;
		return NULL;
	}
	size_t cap = 1 << 16, n = 0, got;
	unsigned char *buf = malloc(cap);
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			unsigned char *nb = realloc(buf, 2 * cap);
			if (!nb) {
				free(buf);
				buf = NULL;
				errno = ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (buf && ferror(f)) {
		int e = errno ? errno : EIO;
		free(buf);
		buf = NULL;
		errno = e;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* Writes `n` bytes; 0 on success. */
static int put(FILE *out, const void *p, size_t n)
{
	return fwrite(p, 1, n, out) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
	int decrypt = argc == 4 && !strcmp(argv[1], "-d");
	if (argc != 3 + decrypt) {
		fprintf(stderr, "usage: encrypt_file [-d] IN OUT\n");
		return 2;
	}
	const char *in_path = argv[1 + decrypt], *out_path = argv[2 + decrypt];
	int rc = 1;
	acrypto_engine *engine = NULL;
	acrypto_session *cipher = NULL, *mac = NULL, *rng = NULL;
	struct record *recs = NULL;
	size_t nrec = 0, len = 0;
	char *tmp = NULL;
	FILE *out = NULL;
	acrypto_status st;
	const char *what = NULL; /* the step that failed with `st` */

	unsigned char *in = read_all(in_path, &len);
	if (!in) {
		fprintf(stderr, "encrypt_file: %s: %s\n", in_path, strerror(errno));
		return 1;
	}

	if ((st = acrypto_engine_new(&engine))) {
		what = "engine";
		goto fail;
	}
	acrypto_step c = { ACRYPTO_ALG_AES_128_CBC, decrypt ? ACRYPTO_OP_DECRYPT : ACRYPTO_OP_ENCRYPT, AES_KEY,
			   sizeof AES_KEY, NULL };
	acrypto_step m = { ACRYPTO_ALG_HMAC_SHA1, decrypt ? ACRYPTO_OP_VERIFY : ACRYPTO_OP_DIGEST, MAC_KEY,
			   sizeof MAC_KEY, NULL };
	acrypto_step gen = { ACRYPTO_ALG_RNG, ACRYPTO_OP_GENERATE, NULL, 0, NULL };
	if ((st = acrypto_session_new(engine, &c, 1, 0, 0, NULL, &cipher)) ||
	    (st = acrypto_session_new(engine, &m, 1, 0, 0, NULL, &mac)) ||
	    (st = acrypto_session_new(engine, &gen, 1, 0, 0, NULL, &rng))) {
		what = "session";
		goto fail;
	}

	/* The header, and the records cut out of the input. */
	unsigned char header[HEADER_LEN];
	memcpy(header, MAGIC, sizeof MAGIC);
	if (!decrypt) {
		nrec = len / CHUNK + 1; /* the last record holds the padding */
		put_be64(header + 8, nrec);
	} else {
		size_t body = len >= HEADER_LEN ? len - HEADER_LEN : 0;
		uint64_t count = len >= HEADER_LEN ? get_be64(in + 8) : 0;
		size_t last = 0;
		int ok = len >= HEADER_LEN + MIN_RECORD && !memcmp(in, MAGIC, sizeof MAGIC) && count >= 1 &&
			 count - 1 <= body / FULL_RECORD;
		if (ok) {
			last = body - (size_t)(count - 1) * FULL_RECORD;
			ok = last >= MIN_RECORD && last <= FULL_RECORD && (last - IV_LEN - MAC_LEN) % 16 == 0;
		}
		if (!ok) {
			fprintf(stderr, "encrypt_file: %s: not an encrypt_file file, or cut short\n", in_path);
			goto out;
		}
		nrec = (size_t)count;
		memcpy(header, in, HEADER_LEN);
	}
	recs = calloc(nrec, sizeof *recs);
	if (!recs) {
		fprintf(stderr, "encrypt_file: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < nrec; i++) {
		struct record *r = &recs[i];
		const unsigned char *rec = in + HEADER_LEN + i * FULL_RECORD; /* decryption */
		size_t plain = i + 1 < nrec ? CHUNK : len - i * CHUNK;     /* encryption */
		r->len = !decrypt ? (i + 1 < nrec ? CHUNK : plain - plain % 16 + 16)
				  : (i + 1 < nrec ? CHUNK : len - HEADER_LEN - i * FULL_RECORD - IV_LEN - MAC_LEN);
		if (!(r->buf = malloc(PREFIX_LEN + r->len))) {
			fprintf(stderr, "encrypt_file: out of memory\n");
			goto out;
		}
		memcpy(r->buf, header, HEADER_LEN);
		put_be64(r->buf + HEADER_LEN, i);
		unsigned char *iv = r->buf + HEADER_LEN + INDEX_LEN, *data = r->buf + PREFIX_LEN;
		if (!decrypt) {
			acrypto_request q = { NULL, IV_LEN, iv, IV_LEN, NULL, 0, NULL, 0, NULL, NULL, 0, 0 };
			if ((st = acrypto_session_run(rng, &q, NULL))) {
				what = "rng";
				goto fail;
			}
			memcpy(data, in + i * CHUNK, plain);
			if (i + 1 == nrec) /* PKCS#7: 1 to 16 bytes of padding */
				memset(data + plain, (int)(r->len - plain), r->len - plain);
		} else {
			memcpy(iv, rec, IV_LEN);
			memcpy(data, rec + IV_LEN, r->len);
			memcpy(r->tag, rec + IV_LEN + r->len, MAC_LEN);
		}
	}

	if (!decrypt) {
		/* Encrypt, then MAC what was encrypted. */
		if ((st = run_all(cipher, recs, nrec, 0))) {
			what = "encrypt";
			goto fail;
		}
		if ((st = run_all(mac, recs, nrec, 1))) {
			what = "mac";
			goto fail;
		}
	} else {
		/* Verify every record before decrypting any. */
		if ((st = run_all(mac, recs, nrec, 1))) {
			what = "verify";
			goto fail;
		}
		if ((st = run_all(cipher, recs, nrec, 0))) {
			what = "decrypt";
			goto fail;
		}
		struct record *r = &recs[nrec - 1];
		unsigned pad = r->buf[PREFIX_LEN + r->len - 1];
		int bad = pad == 0 || pad > 16;
		for (unsigned k = 1; !bad && k <= pad; k++)
			bad = r->buf[PREFIX_LEN + r->len - k] != pad;
		if (bad) {
			fprintf(stderr, "encrypt_file: %s: bad padding\n", in_path);
			goto out;
		}
		r->len -= pad;
	}

	/* Write everything to a temporary file beside OUT, then rename it. */
	size_t tlen = strlen(out_path) + sizeof ".XXXXXX";
	if (!(tmp = malloc(tlen))) {
		fprintf(stderr, "encrypt_file: out of memory\n");
		goto out;
	}
	snprintf(tmp, tlen, "%s.XXXXXX", out_path);
	int fd = mkstemp(tmp);
	if (fd < 0 || !(out = fdopen(fd, "wb"))) {
		fprintf(stderr, "encrypt_file: %s: %s\n", out_path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		goto out;
	}
	int werr = !decrypt && put(out, header, HEADER_LEN);
	for (size_t i = 0; i < nrec && !werr; i++) {
		struct record *r = &recs[i];
		if (!decrypt)
			werr = put(out, r->buf + HEADER_LEN + INDEX_LEN, IV_LEN + r->len) || put(out, r->tag, MAC_LEN);
		else
			werr = put(out, r->buf + PREFIX_LEN, r->len);
	}
	int cerr = fclose(out);
	out = NULL;
	if (werr || cerr || rename(tmp, out_path)) {
		fprintf(stderr, "encrypt_file: %s: %s\n", out_path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	printf("encrypt_file: %s %zu records\n", decrypt ? "decrypted" : "encrypted", nrec);
	rc = 0;
	goto out;

fail:
	if (st == ACRYPTO_STATUS_VERIFY_FAILED)
		fprintf(stderr, "encrypt_file: %s: authentication failed (tampered, reordered or cut short)\n",
			in_path);
	else
		fprintf(stderr, "encrypt_file: %s: %s\n", what, acrypto_strerror(st));
out:
	for (size_t i = 0; recs && i < nrec; i++)
		free(recs[i].buf);
	free(recs);
	free(tmp);
	free(in);
	acrypto_session_free(rng);
	acrypto_session_free(mac);
	acrypto_session_free(cipher);
	acrypto_engine_free(engine);
	return rc;
}
