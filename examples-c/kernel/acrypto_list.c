// SPDX-License-Identifier: MIT
/*
 * Lists the kernel crypto drivers /dev/acrypto can bind sessions to.
 *   cc -I include/uapi -o acrypto_list examples-c/kernel/acrypto_list.c
 *
 * The module does not enumerate: the kernel lists its drivers in
 * /proc/crypto. This program first opens one unbound session per algorithm
 * (so that the kernel instantiates templates such as cbc(aes-generic) that
 * are listed only once used), then prints every tested, non-internal driver
 * of the names the ABI serves, with the driver each unbound session got
 * (the kernel's default) and the flags the module reports for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/acrypto.h>

static const struct {
	const char *name;
	unsigned int op, type, mode;
} algs[] = {
	{ "ecb(aes)", ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_ECB },
	{ "cbc(aes)", ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CBC },
	{ "ctr(aes)", ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CTR },
	{ "xts(aes)", ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_XTS },
	{ "sha1", ACRYPTO_DEV_OP_HASH, ACRYPTO_DEV_TYPE_SHA1, ACRYPTO_DEV_MODE_NONE },
	{ "sha256", ACRYPTO_DEV_OP_HASH, ACRYPTO_DEV_TYPE_SHA256, ACRYPTO_DEV_MODE_NONE },
	{ "hmac(sha1)", ACRYPTO_DEV_OP_HMAC, ACRYPTO_DEV_TYPE_SHA1, ACRYPTO_DEV_MODE_NONE },
	{ "hmac(sha256)", ACRYPTO_DEV_OP_HMAC, ACRYPTO_DEV_TYPE_SHA256, ACRYPTO_DEV_MODE_NONE },
	{ "stdrng", ACRYPTO_DEV_OP_RNG, ACRYPTO_DEV_TYPE_RNG, ACRYPTO_DEV_MODE_NONE },
};
#define NALGS (sizeof(algs) / sizeof(algs[0]))

static char defaults[NALGS][ACRYPTO_DEV_NAME_LEN];
static unsigned int default_flags[NALGS];

static int served(const char *name)
{
	for (size_t i = 0; i < NALGS; i++)
		if (!strcmp(name, algs[i].name))
			return (int)i;
	return -1;
}

int main(void)
{
	char line[512], key[64], val[ACRYPTO_DEV_NAME_LEN], name[ACRYPTO_DEV_NAME_LEN] = "";
	char driver[ACRYPTO_DEV_NAME_LEN] = "";
	struct acrypto_info v;
	int fd = open("/dev/acrypto", O_RDWR | O_CLOEXEC), tested = 0, internal = 0, async = 0;
	unsigned int prio = 0;
	FILE *f;

	if (fd < 0) {
		perror("/dev/acrypto");
		return 1;
	}
	memset(&v, 0, sizeof(v));
	if (ioctl(fd, ACRYPTO_IOC_INFO, &v)) {
		perror("ACRYPTO_IOC_INFO");
		return 1;
	}
	printf("acrypto: %u sessions, %u requests in flight, %u-byte buffers per fd\n",
	       v.max_sessions, v.max_inflight, v.max_buffer);
	for (size_t i = 0; i < NALGS; i++) {
		struct acrypto_session_alloc a;
		struct acrypto_session_free fr;

		memset(&a, 0, sizeof(a));
		a.operation = algs[i].op;
		a.type = algs[i].type;
		a.mode = algs[i].mode;
		if (ioctl(fd, CRYPTO_SESSION_ALLOC, &a))
			continue;	/* the kernel has no driver for it */
		snprintf(defaults[i], sizeof(defaults[i]), "%s", a.bound_driver);
		default_flags[i] = a.driver_flags;
		memset(&fr, 0, sizeof(fr));
		fr.session_id = a.session_id;
		ioctl(fd, ACRYPTO_IOC_SESSION_FREE, &fr);
	}
	close(fd);

	f = fopen("/proc/crypto", "r");
	if (!f) {
		perror("/proc/crypto");
		return 1;
	}
	printf("%-40s %-16s %5s  %s\n", "driver", "algorithm", "prio", "flags");
	for (;;) {
		char *ok = fgets(line, sizeof(line), f);

		if (!ok || line[0] == '\n') {
			int k = served(name);

			if (driver[0] && k >= 0 && tested && !internal)
				printf("%-40s %-16s %5u  %s%s%s\n", driver, name, prio,
				       async ? "async " : "",
				       !strcmp(defaults[k], driver) &&
						       (default_flags[k] & ACRYPTO_DEV_F_HW) ?
					       "hardware " :
					       "",
				       !strcmp(defaults[k], driver) ? "default" : "");
			name[0] = driver[0] = 0;
			tested = internal = async = 0;
			prio = 0;
			if (!ok)
				break;
			continue;
		}
		if (sscanf(line, "%63s : %127[^\n]", key, val) != 2)
			continue;
		if (!strcmp(key, "name"))
			snprintf(name, sizeof(name), "%s", val);
		else if (!strcmp(key, "driver"))
			snprintf(driver, sizeof(driver), "%s", val);
		else if (!strcmp(key, "priority"))
			prio = (unsigned int)strtoul(val, NULL, 10);
		else if (!strcmp(key, "selftest"))
			tested = !strcmp(val, "passed");
		else if (!strcmp(key, "internal"))
			internal = !strcmp(val, "yes");
		else if (!strcmp(key, "async"))
			async = !strcmp(val, "yes");
	}
	fclose(f);
	printf("%-40s %-16s %5s  %s\n", ACRYPTO_DEV_GET_RANDOM, "stdrng", "-",
	       !strcmp(defaults[NALGS - 1], ACRYPTO_DEV_GET_RANDOM) ? "default" : "");
	return 0;
}
