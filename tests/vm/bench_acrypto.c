// SPDX-License-Identifier: MIT
/*
 * /dev/acrypto batch path vs the original synchronous ioctl flow vs AF_ALG,
 * the same kernel driver for all three (AES-128-CBC encryption), sizes 64,
 * 256, 1500 (rounded up to 1504, a whole number of blocks), 4096, 16384.
 * Prints ops/s and the ratios batch/sync and batch/afalg. In the VM the CPU
 * is emulated: only the ratios mean anything.
 *
 * Usage: bench_acrypto [SECONDS_PER_POINT] [DRIVER...]
 */
#include <time.h>

#include "common.h"
#include "afalg.h"

#define WINDOW 64

static unsigned char key[16] = { 1, 2, 3 }, iv[16] = { 4, 5, 6 };
static unsigned char src[16384], dst[WINDOW][16384];
static double secs = 0.5;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double bench_sync(int fd, const char *drv, uint32_t len)
{
	long ops = 0;
	double t0, t;
	int id = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CBC, drv, len,
			    NULL);

	if (id < 0 || sess_setkey(fd, (uint32_t)id, key, 16) ||
	    sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_IV, NULL, 0, iv, 16, NULL, 0))
		return -1;
	t0 = now();
	do {
		/* The original flow: FILL_DATA the source, then SESSION_ADD. */
		if (sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_SRC, NULL, 0, NULL, 0, src, len) ||
		    sess_add(fd, (uint32_t)id, dst[0], len) != (int)len)
			return -1;
		ops++;
	} while ((t = now()) - t0 < secs);
	sess_free(fd, (uint32_t)id);
	return (double)ops / (t - t0);
}

static double bench_batch(int fd, const char *drv, uint32_t len, uint32_t max_inflight)
{
	struct acrypto_request rq[WINDOW];
	struct acrypto_completion c[256];
	long done = 0, inflight = 0;
	double t0, t;
	int id = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CBC, drv, len,
			    NULL);

	if (id < 0 || sess_setkey(fd, (uint32_t)id, key, 16))
		return -1;
	memset(rq, 0, sizeof(rq));
	for (int i = 0; i < WINDOW; i++) {
		rq[i].tag = (uint64_t)i;
		rq[i].session_id = (uint32_t)id;
		rq[i].src = uptr(src);
		rq[i].dst = uptr(dst[i]);
		rq[i].src_len = rq[i].dst_len = len;
		rq[i].iv = uptr(iv);
		rq[i].iv_len = 16;
	}
	t0 = now();
	do {
		while (inflight + WINDOW <= (long)max_inflight && inflight < 2 * WINDOW) {
			int k = submit(fd, rq, WINDOW);

			if (k <= 0)
				break;
			inflight += k;
		}
		int n = read_completions(fd, c, 256);

		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++)
			if (c[i].status)
				return -1;
		done += n;
		inflight -= n;
	} while ((t = now()) - t0 < secs);
	while (inflight > 0) {
		int n = read_completions(fd, c, 256);

		if (n <= 0)
			break;
		inflight -= n;
	}
	sess_free(fd, (uint32_t)id);
	return (double)done / (t - t0);
}

static double bench_afalg(const char *drv, uint32_t len)
{
	long ops = 0;
	double t0, t;
	int op = afalg_open(drv, key, 16);

	if (op < 0)
		return -1;
	t0 = now();
	do {
		if (afalg_crypt(op, 1, iv, 16, src, len, dst[0]))
			return -1;
		ops++;
	} while ((t = now()) - t0 < secs);
	close(op);
	return (double)ops / (t - t0);
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 64, 256, 1504, 4096, 16384 };
	const char *defaults[] = { "cbc-aes-aesni", "cryptd(cbc(aes-aesni))" };
	const char **drivers = defaults;
	int ndrivers = 2, fd = dev_open();
	struct acrypto_info v;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		secs = atof(argv[1]);
	if (argc > 2) {
		drivers = (const char **)argv + 2;
		ndrivers = argc - 2;
	}
	memset(&v, 0, sizeof(v));
	xioctl(fd, ACRYPTO_IOC_INFO, &v);
	for (int i = 0; i < (int)sizeof(src); i++)
		src[i] = (unsigned char)i;

	for (int d = 0; d < ndrivers; d++) {
		printf("bench: AES-128-CBC encrypt, driver %s, %.1f s per point, window %d\n",
		       drivers[d], secs, WINDOW);
		printf("| size  | batch ops/s | sync ops/s | af_alg ops/s | batch/sync | batch/afalg |\n");
		printf("|-------|-------------|------------|--------------|------------|-------------|\n");
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			double b = bench_batch(fd, drivers[d], sizes[s], v.max_inflight);
			double y = bench_sync(fd, drivers[d], sizes[s]);
			double a = bench_afalg(drivers[d], sizes[s]);

			printf("| %5u | %11.0f | %10.0f | %12.0f | %10.2f | %11.2f |\n", sizes[s], b, y,
			       a, y > 0 ? b / y : 0, a > 0 ? b / a : 0);
		}
	}
	close(fd);
	return 0;
}
