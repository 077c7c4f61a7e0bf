/* Tiny test helpers for the C tests: CHECK counts, SUMMARY prints the
 * "N passed, N failed" line and gives the exit status. */
#ifndef ACRYPTO_TEST_CHECK_H
#define ACRYPTO_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (cond) {                                                      \
			check_passed++;                                          \
		} else {                                                         \
			check_failed++;                                          \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,   \
				__LINE__, #cond);                                \
		}                                                                \
	} while (0)

/* A call that must return the given status. */
#define EXPECT(status, call)                                                     \
	do {                                                                     \
		acrypto_status got_ = (call);                                    \
		if (got_ == (acrypto_status)(status)) {                          \
			check_passed++;                                          \
		} else {                                                         \
			check_failed++;                                          \
			fprintf(stderr, "%s:%d: %s gave %u (%s), want %u\n",      \
				__FILE__, __LINE__, #call, (unsigned)got_,       \
				acrypto_strerror(got_), (unsigned)(status));     \
		}                                                                \
	} while (0)

static inline int summary(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
	return check_failed == 0 ? 0 : 1;
}

static inline int unhex(const char *s, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = strlen(s);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	*len = n / 2;
	return 0;
}

static inline void puthex(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
}

/* Reads up to cap bytes of dir/name into buf (exits if it cannot). */
static inline size_t slurp(const char *dir, const char *name, unsigned char *buf, size_t cap)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* Writes n bytes of buf to dir/name (exits if it cannot). */
static inline void spill(const char *dir, const char *name, const unsigned char *buf, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, n, f) != n) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
	fclose(f);
}

#endif
