/* SPDX-License-Identifier: MIT */
/* Helpers shared by the /dev/acrypto VM tests and the benchmark. */
#ifndef ACRYPTO_VM_COMMON_H
#define ACRYPTO_VM_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/acrypto.h>

#define DEV_PATH "/dev/acrypto"

static int t_failed;	/* cases failed in this program */
static int t_passed;

/* One line per case: the harness counts "RESULT PASS"/"RESULT FAIL". */
static inline void t_result(int ok, const char *fmt, ...)
{
	va_list ap;

	const char *tag = getenv("T_TAG");	/* e.g. "[32-bit] " */

	printf("RESULT %s %s", ok ? "PASS" : "FAIL", tag ? tag : "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		t_passed++;
	else
		t_failed++;
}

static inline void t_note(const char *fmt, ...)
{
	va_list ap;

	printf("  note: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline int t_exit(void)
{
	fflush(stdout);
	return t_failed ? 1 : 0;
}

static inline int dev_open(void)
{
	int fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		perror("open " DEV_PATH);
		exit(2);
	}
	return fd;
}

/* ioctl returning 0 or -errno */
static inline int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static inline uint64_t uptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* Allocates a session; returns the id (> 0) or -errno. */
static inline int sess_alloc(int fd, uint32_t op, uint32_t type, uint32_t mode,
			     const char *driver, uint32_t src_size,
			     struct acrypto_session_alloc *out)
{
	struct acrypto_session_alloc a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.operation = op;
	a.type = type;
	a.mode = mode;
	a.src_size = src_size;
	if (driver)
		snprintf(a.driver, sizeof(a.driver), "%s", driver);
	ret = xioctl(fd, CRYPTO_SESSION_ALLOC, &a);
	if (ret)
		return ret;
	if (out)
		*out = a;
	return (int)a.session_id;
}

static inline int sess_free(int fd, uint32_t id)
{
	struct acrypto_session_free f;

	memset(&f, 0, sizeof(f));
	f.session_id = id;
	return xioctl(fd, CRYPTO_SESSION_FREE, &f);
}

static inline int sess_fill(int fd, uint32_t id, uint32_t flags,
			    const void *key, uint32_t key_len,
			    const void *iv, uint32_t iv_len,
			    const void *src, uint32_t src_len)
{
	struct acrypto_fill_data f;

	memset(&f, 0, sizeof(f));
	f.session_id = id;
	f.flags = flags;
	f.key = uptr(key);
	f.key_len = key_len;
	f.iv = uptr(iv);
	f.iv_len = iv_len;
	f.src = uptr(src);
	f.src_len = src_len;
	return xioctl(fd, CRYPTO_FILL_DATA, &f);
}

static inline int sess_setkey(int fd, uint32_t id, const void *key, uint32_t len)
{
	return sess_fill(fd, id, CRYPTO_FILL_KEY, key, len, NULL, 0, NULL, 0);
}

/* Runs the synchronous ADD; returns bytes written or -errno. */
static inline int sess_add(int fd, uint32_t id, void *dst, uint32_t dst_len)
{
	struct acrypto_session_add a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.session_id = id;
	a.dst = uptr(dst);
	a.dst_len = dst_len;
	ret = xioctl(fd, CRYPTO_SESSION_ADD, &a);
	return ret ? ret : (int)a.dst_len;
}

/* Submits n requests; returns the number accepted or -errno. */
static inline int submit(int fd, struct acrypto_request *reqs, uint32_t n)
{
	struct acrypto_submit s;
	int ret;

	memset(&s, 0, sizeof(s));
	s.reqs = uptr(reqs);
	s.count = n;
	ret = xioctl(fd, ACRYPTO_IOC_SUBMIT, &s);
	return ret ? ret : (int)s.submitted;
}

/* Reads completions; returns how many, or -errno. */
static inline int read_completions(int fd, struct acrypto_completion *c, int max)
{
	ssize_t n = read(fd, c, sizeof(*c) * (size_t)max);

	if (n < 0)
		return -errno;
	return (int)(n / (ssize_t)sizeof(*c));
}

/* Reads exactly n completions (blocking) into c. Returns 0 or -errno. */
static inline int read_all(int fd, struct acrypto_completion *c, int n)
{
	int got = 0;

	while (got < n) {
		int k = read_completions(fd, c + got, n - got);

		if (k == -EAGAIN) {	/* O_NONBLOCK fd */
			struct pollfd p = { .fd = fd, .events = POLLIN };

			if (poll(&p, 1, 30000) != 1)
				return -ETIMEDOUT;
			continue;
		}
		if (k < 0)
			return k;
		if (k == 0)
			return -EPIPE;	/* nothing in flight: lost */
		got += k;
	}
	return 0;
}

static inline int hex2bin(const char *hex, unsigned char *out, size_t max)
{
	size_t n = 0;

	if (!strcmp(hex, "-"))
		return 0;
	while (hex[0] && hex[1]) {
		unsigned int v;

		if (n == max || sscanf(hex, "%2x", &v) != 1)
			return -1;
		out[n++] = (unsigned char)v;
		hex += 2;
	}
	return (int)n;
}

static inline void bin2hex(const unsigned char *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	out[2 * n] = 0;
}

static inline uint32_t aes_type(int bits)
{
	return bits == 128 ? CRYPTO_TYPE_AES_128 :
	       bits == 192 ? CRYPTO_TYPE_AES_192 : CRYPTO_TYPE_AES_256;
}

#endif
