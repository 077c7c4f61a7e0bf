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
	return xioctl(fd, ACRYPTO_IOC_SESSION_FREE, &f);
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
	return sess_fill(fd, id, ACRYPTO_DEV_FILL_KEY, key, len, NULL, 0, NULL, 0);
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
	s.entry_size = sizeof(*reqs);
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

/* The module's reference count (-1 when it is not loaded). */
static inline int module_refcnt(void)
{
	FILE *f = fopen("/sys/module/acrypto/refcnt", "r");
	int n = -1;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/*
 * The kernel drivers a session can bind to, from /proc/crypto (the module
 * has no enumeration of its own): every tested, non-internal driver whose
 * cra_name is one the ABI serves.
 */
struct kdrv {
	char driver[ACRYPTO_DEV_NAME_LEN];
	char name[ACRYPTO_DEV_NAME_LEN];
	unsigned int priority;
	int async;
};

static const char *const kdrv_names[] = { "ecb(aes)", "cbc(aes)", "ctr(aes)", "xts(aes)", "sha1",
					  "sha256", "hmac(sha1)", "hmac(sha256)", "stdrng", "gcm(aes)",
					  "rfc7539(chacha20,poly1305)" };

/* The (op, type, mode) of each name above, in the same order. */
static const uint32_t kdrv_triples[][3] = {
	{ ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_ECB },
	{ ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CBC },
	{ ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CTR },
	{ ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_XTS },
	{ ACRYPTO_DEV_OP_HASH, ACRYPTO_DEV_TYPE_SHA1, ACRYPTO_DEV_MODE_NONE },
	{ ACRYPTO_DEV_OP_HASH, ACRYPTO_DEV_TYPE_SHA256, ACRYPTO_DEV_MODE_NONE },
	{ ACRYPTO_DEV_OP_HMAC, ACRYPTO_DEV_TYPE_SHA1, ACRYPTO_DEV_MODE_NONE },
	{ ACRYPTO_DEV_OP_HMAC, ACRYPTO_DEV_TYPE_SHA256, ACRYPTO_DEV_MODE_NONE },
	{ ACRYPTO_DEV_OP_RNG, ACRYPTO_DEV_TYPE_RNG, ACRYPTO_DEV_MODE_NONE },
	{ ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_GCM },
	{ ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_CHACHA20, ACRYPTO_DEV_MODE_POLY1305 },
};

static inline int kdrv_named(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, names[i]))
			return 1;
	return 0;
}

/*
 * Instantiates the kernel's best driver of every name (templates such as
 * cbc(aes-generic) only appear in /proc/crypto once used): one unbound
 * session each, freed at once.
 */
static inline void kdrv_instantiate(int fd)
{
	for (size_t i = 0; i < sizeof(kdrv_triples) / sizeof(kdrv_triples[0]); i++) {
		int id = sess_alloc(fd, kdrv_triples[i][0], kdrv_triples[i][1], kdrv_triples[i][2], NULL, 0, NULL);

		if (id > 0)
			sess_free(fd, (uint32_t)id);
	}
}

/*
 * Fills out[] (at most max) with the drivers of the @nnames names and
 * returns the count, or -errno.
 */
static inline int kdrv_list_names(struct kdrv *out, int max, const char *const *names, size_t nnames)
{
	char line[512], key[64], val[ACRYPTO_DEV_NAME_LEN];
	struct kdrv cur;
	int n = 0, tested = 0, internal = 0, have = 0;
	FILE *f = fopen("/proc/crypto", "r");

	if (!f)
		return -errno;
	memset(&cur, 0, sizeof(cur));
	for (;;) {
		char *ok = fgets(line, sizeof(line), f);

		if (!ok || line[0] == '\n') {	/* end of one entry */
			if (have && tested && !internal && kdrv_named(cur.name, names, nnames) && n < max) {
				int dup = 0;

				for (int i = 0; i < n; i++)
					dup |= !strcmp(out[i].driver, cur.driver);
				if (!dup)
					out[n++] = cur;
			}
			memset(&cur, 0, sizeof(cur));
			tested = internal = have = 0;
			if (!ok)
				break;
			continue;
		}
		if (sscanf(line, "%63s : %127[^\n]", key, val) != 2)
			continue;
		have = 1;
		if (!strcmp(key, "name"))
			snprintf(cur.name, sizeof(cur.name), "%s", val);
		else if (!strcmp(key, "driver"))
			snprintf(cur.driver, sizeof(cur.driver), "%s", val);
		else if (!strcmp(key, "priority"))
			cur.priority = (unsigned int)strtoul(val, NULL, 10);
		else if (!strcmp(key, "selftest"))
			tested = !strcmp(val, "passed");
		else if (!strcmp(key, "internal"))
			internal = !strcmp(val, "yes");
		else if (!strcmp(key, "async"))
			cur.async = !strcmp(val, "yes");
	}
	fclose(f);
	return n;
}

/* The drivers of every name the ABI serves (kdrv_names). */
static inline int kdrv_list(struct kdrv *out, int max)
{
	return kdrv_list_names(out, max, kdrv_names, sizeof(kdrv_names) / sizeof(kdrv_names[0]));
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
	return bits == 128 ? ACRYPTO_DEV_TYPE_AES_128 :
	       bits == 192 ? ACRYPTO_DEV_TYPE_AES_192 : ACRYPTO_DEV_TYPE_AES_256;
}

#endif
