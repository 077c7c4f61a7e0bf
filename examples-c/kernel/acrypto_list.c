// SPDX-License-Identifier: MIT
/*
 * Lists the kernel crypto drivers /dev/acrypto can bind sessions to.
 *   cc -I include/uapi -o acrypto_list examples-c/kernel/acrypto_list.c
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/acrypto.h>

int main(void)
{
	struct acrypto_version v;
	struct acrypto_alg_info info;
	int fd = open("/dev/acrypto", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		perror("/dev/acrypto");
		return 1;
	}
	memset(&v, 0, sizeof(v));
	if (ioctl(fd, ACRYPTO_IOC_VERSION, &v)) {
		perror("ACRYPTO_IOC_VERSION");
		return 1;
	}
	printf("acrypto ABI %u: %u sessions, %u requests in flight, %u-byte buffers per fd\n",
	       v.abi_version, v.max_sessions, v.max_inflight, v.max_buffer);
	printf("%-40s %-16s %5s  %s\n", "driver", "algorithm", "prio", "flags");
	for (unsigned int i = 0;; i++) {
		memset(&info, 0, sizeof(info));
		info.index = i;	/* index 0 takes a fresh snapshot */
		if (ioctl(fd, ACRYPTO_IOC_ENUM, &info)) {
			if (errno == ENOENT)
				break;
			perror("ACRYPTO_IOC_ENUM");
			return 1;
		}
		printf("%-40s %-16s %5u  %s%s%s\n", info.driver_name, info.alg_name, info.priority,
		       info.flags & ACRYPTO_ALG_F_ASYNC ? "async " : "",
		       info.flags & ACRYPTO_ALG_F_HW ? "hardware " : "",
		       info.flags & ACRYPTO_ALG_F_DEFAULT ? "default" : "");
	}
	close(fd);
	return 0;
}
