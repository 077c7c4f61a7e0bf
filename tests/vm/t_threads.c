// SPDX-License-Identifier: MIT
/*
 * Many threads on one fd: THREADS threads share one /dev/acrypto fd, each
 * submits batches of AES-CTR encryptions of random lengths on its own
 * session (half of them cryptd-bound, so completions come from a worker),
 * and every thread reads whatever completions are ready, including other
 * threads'. Each completion is matched to its request by tag exactly once;
 * afterwards each thread decrypts its ciphertexts through the synchronous
 * flow and must get its plaintexts back.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "common.h"

#define THREADS		4
#define PER_THREAD	1024
#define BATCH		16
#define MAXLEN		2048

struct slot {
	atomic_int done;	/* completions seen for this request */
	int status;
	uint32_t out_len;
};

static struct slot slots[THREADS][PER_THREAD];
static unsigned char plain[THREADS][PER_THREAD][MAXLEN];
static unsigned char cipher[THREADS][PER_THREAD][MAXLEN];
static uint32_t lens[THREADS][PER_THREAD];
static unsigned char key[THREADS][16], iv[16] = { 9 };
static int fd;
static atomic_long bad;

static void consume(void)
{
	struct acrypto_completion c[64];
	int n = read_completions(fd, c, 64);

	if (n <= 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		poll(&p, 1, 1);
	}
	for (int i = 0; i < n; i++) {
		unsigned int t = (unsigned int)(c[i].tag >> 32), k = (unsigned int)c[i].tag;

		if (t >= THREADS || k >= PER_THREAD) {
			atomic_fetch_add(&bad, 1);
			continue;
		}
		slots[t][k].status = c[i].status;
		slots[t][k].out_len = c[i].out_len;
		atomic_fetch_add(&slots[t][k].done, 1);
	}
}

static void *worker(void *p)
{
	int t = (int)(intptr_t)p, id, dec, sent = 0;
	unsigned int seed = 12345u + (unsigned int)t;
	struct acrypto_request rq[BATCH];

	id = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CTR,
			t % 2 ? "cryptd(ctr(aes-generic))" : "ctr-aes-aesni", MAXLEN, NULL);
	dec = sess_alloc(fd, ACRYPTO_DEV_OP_DECRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CTR, NULL,
			 MAXLEN, NULL);
	if (id < 0 || dec < 0 || sess_setkey(fd, (uint32_t)id, key[t], 16) ||
	    sess_setkey(fd, (uint32_t)dec, key[t], 16)) {
		atomic_fetch_add(&bad, 1000000);
		return NULL;
	}
	while (sent < PER_THREAD) {
		int k = 0, r;

		memset(rq, 0, sizeof(rq));
		while (k < BATCH && sent + k < PER_THREAD) {
			int j = sent + k;

			lens[t][j] = 1 + (uint32_t)(rand_r(&seed) % MAXLEN);
			for (uint32_t b = 0; b < lens[t][j]; b++)
				plain[t][j][b] = (unsigned char)rand_r(&seed);
			rq[k].tag = ((uint64_t)t << 32) | (uint32_t)j;
			rq[k].session_id = (uint32_t)id;
			rq[k].src = uptr(plain[t][j]);
			rq[k].dst = uptr(cipher[t][j]);
			rq[k].src_len = rq[k].dst_len = lens[t][j];
			rq[k].iv = uptr(iv);
			rq[k].iv_len = 16;
			k++;
		}
		r = submit(fd, rq, (uint32_t)k);
		if (r > 0)
			sent += r;
		else if (r != -EAGAIN)
			atomic_fetch_add(&bad, 1);
		consume();
	}
	/* Wait until every one of ours has been read, by anyone. */
	for (int j = 0; j < PER_THREAD; j++)
		while (!atomic_load(&slots[t][j].done))
			consume();
	/* Round trip through the synchronous flow. */
	for (int j = 0; j < PER_THREAD; j++) {
		unsigned char back[MAXLEN];

		if (slots[t][j].status || slots[t][j].out_len != lens[t][j] ||
		    sess_fill(fd, (uint32_t)dec, ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC, NULL, 0, iv, 16,
			      cipher[t][j], lens[t][j]) ||
		    sess_add(fd, (uint32_t)dec, back, MAXLEN) != (int)lens[t][j] ||
		    memcmp(back, plain[t][j], lens[t][j]))
			atomic_fetch_add(&bad, 1);
	}
	return NULL;
}

int main(void)
{
	pthread_t th[THREADS];
	long dup = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = dev_open();
	/* Blocking reads would wait for other threads' work: poll instead. */
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int t = 0; t < THREADS; t++) {
		memset(key[t], 0x30 + t, 16);
		pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < THREADS; t++)
		for (int j = 0; j < PER_THREAD; j++)
			if (atomic_load(&slots[t][j].done) != 1)
				dup++;
	{
		struct acrypto_completion c;
		ssize_t n = read(fd, &c, sizeof(c));
		struct acrypto_info info;

		memset(&info, 0, sizeof(info));
		t_result(n < 0 && errno == EAGAIN && !xioctl(fd, ACRYPTO_IOC_INFO, &info) &&
				 info.inflight == 0,
			 "no completion left over after all were matched (read %zd: %s, %u in flight)",
			 n, n < 0 ? strerror(errno) : "data", info.inflight);
	}
	t_result(!bad && !dup,
		 "%d threads on one fd, %d batch requests: each completed once, round trip ok "
		 "(%ld errors, %ld not exactly once)", THREADS, THREADS * PER_THREAD,
		 (long)atomic_load(&bad), dup);
	close(fd);
	printf("t_threads: %d passed, %d failed\n", t_passed, t_failed);
	return t_exit();
}
