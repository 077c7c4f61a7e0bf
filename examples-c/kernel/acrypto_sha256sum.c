// SPDX-License-Identifier: MIT
/*
 * sha256sum through /dev/acrypto's batch path: every file is one request,
 * all submitted with one ioctl, completions awaited with poll() and read()
 * in whatever order the kernel finishes them. Files must fit in one request
 * (max_buffer bytes; the ABI has one-shot digests only).
 *   cc -I include/uapi -o acrypto_sha256sum examples-c/kernel/acrypto_sha256sum.c
 *   ./acrypto_sha256sum [-d DRIVER] FILE...
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/acrypto.h>

#define MAX_FILES 256

int main(int argc, char **argv)
{
	static struct acrypto_request req[MAX_FILES];
	static unsigned char digest[MAX_FILES][32];
	static unsigned char *data[MAX_FILES];
	struct acrypto_session_alloc sa;
	struct acrypto_info v;
	struct acrypto_submit sub;
	const char *driver = "";
	int fd, first = 1, n = 0, pending;

	if (argc > 2 && !strcmp(argv[1], "-d")) {
		driver = argv[2];	/* e.g. sha256-generic, cryptd(sha256-generic) */
		first = 3;
	}
	fd = open("/dev/acrypto", O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, ACRYPTO_IOC_INFO, &v)) {
		perror("/dev/acrypto");
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.operation = ACRYPTO_DEV_OP_HASH;
	sa.type = ACRYPTO_DEV_TYPE_SHA256;
	sa.mode = ACRYPTO_DEV_MODE_NONE;
	sa.src_size = 0;	/* the synchronous flow is not used here */
	snprintf(sa.driver, sizeof(sa.driver), "%s", driver);
	if (ioctl(fd, CRYPTO_SESSION_ALLOC, &sa)) {
		perror("CRYPTO_SESSION_ALLOC");
		return 1;
	}
	fprintf(stderr, "session %u on %s\n", sa.session_id, sa.bound_driver);

	for (int i = first; i < argc && n < MAX_FILES && n < (int)v.max_inflight; i++, n++) {
		FILE *f = fopen(argv[i], "rb");
		size_t len;

		data[n] = malloc(v.max_buffer + 1);
		if (!f || !data[n]) {
			perror(argv[i]);
			return 1;
		}
		len = fread(data[n], 1, v.max_buffer + 1, f);
		fclose(f);
		if (len > v.max_buffer) {
			fprintf(stderr, "%s: larger than %u bytes\n", argv[i], v.max_buffer);
			return 1;
		}
		memset(&req[n], 0, sizeof(req[n]));
		req[n].tag = (uint64_t)i;	/* argv index: names the file in the completion */
		req[n].session_id = sa.session_id;
		req[n].src = (uint64_t)(uintptr_t)data[n];
		req[n].src_len = (uint32_t)len;
		req[n].digest = (uint64_t)(uintptr_t)digest[n];
		req[n].digest_len = sizeof(digest[n]);
	}
	if (!n)
		return 0;

	memset(&sub, 0, sizeof(sub));
	sub.reqs = (uint64_t)(uintptr_t)req;
	sub.count = (uint32_t)n;
	sub.entry_size = sizeof(req[0]);	/* the stride: entries may grow */
	if (ioctl(fd, ACRYPTO_IOC_SUBMIT, &sub)) {
		perror("ACRYPTO_IOC_SUBMIT");
		return 1;
	}
	/* Only the accepted ones complete; a refused request stops the batch. */
	pending = (int)sub.submitted;
	if (pending < n)
		fprintf(stderr, "%s: refused\n", argv[req[pending].tag]);

	while (pending > 0) {
		struct acrypto_completion c[16];
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t got;

		if (poll(&p, 1, -1) < 0)
			return 1;
		got = read(fd, c, sizeof(c));	/* copies each digest out too */
		if (got < 0) {
			perror("read");
			return 1;
		}
		for (int k = 0; k < got / (ssize_t)sizeof(c[0]); k++, pending--) {
			int i = (int)c[k].tag, slot = i - first;

			if (c[k].status) {
				fprintf(stderr, "%s: %s\n", argv[i], strerror(-c[k].status));
				continue;
			}
			for (unsigned int b = 0; b < c[k].out_len; b++)
				printf("%02x", digest[slot][b]);
			printf("  %s\n", argv[i]);
		}
	}
	close(fd);
	return 0;
}
