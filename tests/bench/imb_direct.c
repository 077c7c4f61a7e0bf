/*
 * The limit for the imb device: ipsec-mb driven directly, one thread, one
 * job manager kept full (submit, take what it returns, flush only at the
 * end), as DPDK's aesni_mb driver does. Prints MB/s for aes-128-cbc
 * encryption, aes-128-gcm seal and hmac-sha1 at each size, and the ESP
 * route (aes-128-cbc encrypt then hmac-sha1 over the ciphertext) as one
 * chained job and as two jobs.
 *
 * Build and run: tests/bench/imb.sh (cc -O2 ... -lIPSec_MB).
 * Usage: imb_direct [SECONDS]
 */
#define NO_COMPAT_IMB_API_053
#include <intel-ipsec-mb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NBUF 256

enum what { W_CBC, W_GCM, W_HMAC, ESP_FUSED, ESP_TWO };

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static DECLARE_ALIGNED(uint8_t enc_keys[16 * 15], 64);
static DECLARE_ALIGNED(uint8_t dec_keys[16 * 15], 64);
static DECLARE_ALIGNED(uint8_t ipad[64], 64);
static DECLARE_ALIGNED(uint8_t opad[64], 64);
static struct gcm_key_data gkey;
static uint8_t *bufs[NBUF];
static uint8_t tags[NBUF][32];
static uint8_t iv[16];
static uint8_t aad[8];
static unsigned long done_jobs;

static void check(const IMB_JOB *job)
{
	if (job->status != IMB_STATUS_COMPLETED) {
		fprintf(stderr, "imb_direct: job failed (status %d)\n", job->status);
		exit(1);
	}
	done_jobs++;
}

static void fill(IMB_JOB *job, enum what w, size_t len, uint8_t *buf, uint8_t *tag, int part)
{
	job->src = buf;
	job->dst = buf;
	job->cipher_start_src_offset_in_bytes = 0;
	job->msg_len_to_cipher_in_bytes = len;
	job->hash_start_src_offset_in_bytes = 0;
	job->msg_len_to_hash_in_bytes = len;
	job->iv = iv;
	job->iv_len_in_bytes = 16;
	job->auth_tag_output = tag;
	job->cipher_direction = IMB_DIR_ENCRYPT;
	job->chain_order = IMB_ORDER_CIPHER_HASH;
	job->cipher_mode = IMB_CIPHER_NULL;
	job->hash_alg = IMB_AUTH_NULL;
	job->enc_keys = enc_keys;
	job->dec_keys = dec_keys;
	job->key_len_in_bytes = 16;
	if (w == W_CBC || w == ESP_FUSED || (w == ESP_TWO && part == 0))
		job->cipher_mode = IMB_CIPHER_CBC;
	if (w == W_HMAC || w == ESP_FUSED || (w == ESP_TWO && part == 1)) {
		job->hash_alg = IMB_AUTH_HMAC_SHA_1;
		job->u.HMAC._hashed_auth_key_xor_ipad = ipad;
		job->u.HMAC._hashed_auth_key_xor_opad = opad;
		job->auth_tag_output_len_in_bytes = 20;
	}
	if (w == W_GCM) {
		job->cipher_mode = IMB_CIPHER_GCM;
		job->hash_alg = IMB_AUTH_AES_GMAC;
		job->enc_keys = &gkey;
		job->dec_keys = &gkey;
		job->iv_len_in_bytes = 12;
		job->u.GCM.aad = aad;
		job->u.GCM.aad_len_in_bytes = sizeof(aad);
		job->auth_tag_output_len_in_bytes = 16;
	}
}

/* MB/s of `w` at `len` bytes for `secs` seconds. */
static double run(IMB_MGR *m, enum what w, size_t len, double secs)
{
	unsigned long submitted = 0;
	int jobs_per = w == ESP_TWO ? 2 : 1;
	double t0 = now(), t1;
	IMB_JOB *job;

	done_jobs = 0;
	do {
		for (int i = 0; i < 1024; i++) {
			unsigned long n = submitted / (unsigned long)jobs_per;
			int part = (int)(submitted % (unsigned long)jobs_per);

			job = IMB_GET_NEXT_JOB(m);
			fill(job, w, len, bufs[n % NBUF], tags[n % NBUF], part);
			job = IMB_SUBMIT_JOB(m);
			submitted++;
			while (job) {
				check(job);
				job = IMB_GET_COMPLETED_JOB(m);
			}
		}
		t1 = now();
	} while (t1 - t0 < secs);
	while ((job = IMB_FLUSH_JOB(m)) != NULL)
		check(job);
	t1 = now();
	return (double)(done_jobs / (unsigned long)jobs_per) * (double)len / (t1 - t0) / 1e6;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	static const size_t sizes[] = { 64, 256, 1504, 4096, 16384 };
	static const char *names[] = { "aes-128-cbc", "aes-128-gcm", "hmac-sha1" };
	uint8_t key[16], hkey[64], block[64];
	IMB_ARCH arch;
	IMB_MGR *m = alloc_mb_mgr(0);

	if (!m) {
		fprintf(stderr, "imb_direct: alloc_mb_mgr failed\n");
		return 1;
	}
	init_mb_mgr_auto(m, &arch);
	memset(key, 7, sizeof(key));
	memset(hkey, 0, sizeof(hkey));
	memset(hkey, 5, 20);
	IMB_AES_KEYEXP_128(m, key, enc_keys, dec_keys);
	IMB_AES128_GCM_PRE(m, key, &gkey);
	for (int i = 0; i < 64; i++)
		block[i] = hkey[i] ^ 0x36;
	IMB_SHA1_ONE_BLOCK(m, block, ipad);
	for (int i = 0; i < 64; i++)
		block[i] = hkey[i] ^ 0x5c;
	IMB_SHA1_ONE_BLOCK(m, block, opad);
	for (int i = 0; i < NBUF; i++) {
		bufs[i] = aligned_alloc(64, 16384);
		if (!bufs[i])
			return 1;
		memset(bufs[i], i, 16384);
	}
	printf("ipsec-mb %s directly, arch %d (5 = avx512), one manager kept full, %.2f s per figure\n",
	       imb_get_version_str(), (int)arch, secs);
	printf("%-12s %7s %10s\n", "algorithm", "bytes", "MB/s");
	for (int w = W_CBC; w <= W_HMAC; w++)
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
			printf("%-12s %7zu %10.1f\n", names[w], sizes[s], run(m, (enum what)w, sizes[s], secs));
	printf("ESP route aes-128-cbc + hmac-sha1:\n");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		double f = run(m, ESP_FUSED, sizes[s], secs), t = run(m, ESP_TWO, sizes[s], secs);

		printf("%-12s %7zu %10.1f MB/s one chained job, %10.1f MB/s two jobs, %.2fx\n", "esp", sizes[s], f, t,
		       f / t);
	}
	free_mb_mgr(m);
	return 0;
}
