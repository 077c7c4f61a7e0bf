// SPDX-License-Identifier: MIT
/*
 * Completions land only in the submitter's address space, and pinned pages
 * are held only while the driver works on them, charged to RLIMIT_MEMLOCK.
 *
 *  1. A forked child, a process that received the fd over a unix socket,
 *     and a process that inherited the fd across execve read completions
 *     of requests the parent submitted: each gets status -EPERM and
 *     out_len 0, and its memory at the destination addresses (the same
 *     addresses: fork copies them, and the binary is static, so execve maps
 *     them again) is unchanged. The parent's zero-copy results are in its
 *     memory and correct; its copied results, read by the other process,
 *     were never written anywhere. Requests the receiver submits itself
 *     complete into its own memory, correctly.
 *  2. With a reader that never reads, the pages the fd holds pinned (the
 *     module's counter, ACRYPTO_IOC_INFO, and VmPin in /proc/self/status)
 *     return to zero as requests complete, while the completions stay
 *     unread.
 *  3. Without CAP_IPC_LOCK and with RLIMIT_MEMLOCK at 4 pages, zero-copy
 *     sized requests fall back to copies: VmPin stays within the limit and
 *     the results are correct.
 *
 * Usage: t_mm (the exec-child mode is internal)
 */
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "common.h"

#define NREQ	8
#define SMALL	64		/* copied at read() */
#define BIG	16384		/* zero copy (default zero_copy_min 4096) */

/* SP 800-38A F.2.1, AES-128-CBC. */
static const unsigned char key[16] = { 0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
					0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c };
static const unsigned char iv[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const unsigned char pt[64] = {
	0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a,
	0xae, 0x2d, 0x8a, 0x57, 0x1e, 0x03, 0xac, 0x9c, 0x9e, 0xb7, 0x6f, 0xac, 0x45, 0xaf, 0x8e, 0x51,
	0x30, 0xc8, 0x1c, 0x46, 0xa3, 0x5c, 0xe4, 0x11, 0xe5, 0xfb, 0xc1, 0x19, 0x1a, 0x0a, 0x52, 0xef,
	0xf6, 0x9f, 0x24, 0x45, 0xdf, 0x4f, 0x9b, 0x17, 0xad, 0x2b, 0x41, 0x7b, 0xe6, 0x6c, 0x37, 0x10,
};
static const unsigned char ct[64] = {
	0x76, 0x49, 0xab, 0xac, 0x81, 0x19, 0xb2, 0x46, 0xce, 0xe9, 0x8e, 0x9b, 0x12, 0xe9, 0x19, 0x7d,
	0x50, 0x86, 0xcb, 0x9b, 0x50, 0x72, 0x19, 0xee, 0x95, 0xdb, 0x11, 0x3a, 0x91, 0x76, 0x78, 0xb2,
	0x73, 0xbe, 0xd6, 0xb8, 0xe3, 0xc1, 0x74, 0x3b, 0x71, 0x16, 0xe6, 0x9e, 0x22, 0x22, 0x95, 0x16,
	0x3f, 0xf1, 0xca, 0xa1, 0x68, 0x1f, 0xac, 0x09, 0x12, 0x0e, 0xca, 0x30, 0x75, 0x86, 0xe1, 0xa7,
};

/* Destinations: static, so a fork child and an exec'ed copy of this static
 * binary have them at the same addresses as the parent. */
static unsigned char small_dst[NREQ][SMALL] __attribute__((aligned(4096)));
static unsigned char big_buf[NREQ][BIG] __attribute__((aligned(4096)));
static unsigned char big_ref[BIG];	/* the expected ciphertext of big_buf */

static void fill_big_plain(void)
{
	for (int i = 0; i < NREQ; i++)
		for (int b = 0; b < BIG; b++)
			big_buf[i][b] = (unsigned char)(b * 7 + 3);
}

static int cbc_session(int fd, const char *drv)
{
	int id = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128,
			    ACRYPTO_DEV_MODE_CBC, drv, BIG, NULL);

	if (id > 0 && sess_setkey(fd, (uint32_t)id, key, 16))
		return -1;
	return id;
}

/* The reference ciphertext of the big plaintext, through the synchronous flow. */
static int make_big_ref(int fd)
{
	int id = cbc_session(fd, "cbc(aes-generic)"), ret;

	if (id < 0)
		return -1;
	fill_big_plain();
	ret = sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC, NULL, 0, iv, 16,
			big_buf[0], BIG);
	ret = ret ? ret : sess_add(fd, (uint32_t)id, big_ref, BIG);
	sess_free(fd, (uint32_t)id);
	return ret == BIG ? 0 : -1;
}

/* Submits NREQ small (copied) and NREQ big (zero copy, in place) requests. */
static int submit_mixed(int fd, int id)
{
	struct acrypto_request rq[2 * NREQ];

	memset(rq, 0, sizeof(rq));
	for (int i = 0; i < 2 * NREQ; i++) {
		int big = i >= NREQ;

		rq[i].tag = (uint64_t)i;
		rq[i].session_id = (uint32_t)id;
		rq[i].iv = uptr(iv);
		rq[i].iv_len = 16;
		if (big) {
			rq[i].src = rq[i].dst = uptr(big_buf[i - NREQ]);
			rq[i].src_len = rq[i].dst_len = BIG;
		} else {
			rq[i].src = uptr(pt);
			rq[i].dst = uptr(small_dst[i]);
			rq[i].src_len = rq[i].dst_len = SMALL;
		}
	}
	return submit(fd, rq, 2 * NREQ);
}

/*
 * Waits (up to 120 s: the guest CPU is emulated and shared) until the
 * requests have finished in the driver: something is readable and the fd
 * holds no pinned page any more. Nothing is read.
 */
static int wait_ready(int fd)
{
	time_t t0 = time(NULL);
	struct acrypto_info info;

	while (time(NULL) - t0 < 120) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		memset(&info, 0, sizeof(info));
		if (xioctl(fd, ACRYPTO_IOC_INFO, &info))
			return -1;
		if (poll(&p, 1, 10) == 1 && info.pinned_pages == 0)
			return 0;
		usleep(20000);
	}
	return -1;
}

/*
 * The other process's side: its destinations hold a pattern; it reads
 * every completion (non-blocking, with poll) and checks each is -EPERM
 * with out_len 0 and that the pattern is intact. Returns 0 when all hold.
 */
static int foreign_read(int fd, int n, const char *who)
{
	struct acrypto_completion c[2 * NREQ];
	int got = 0, bad = 0;

	memset(small_dst, 0x5a, sizeof(small_dst));
	memset(big_buf, 0x5a, sizeof(big_buf));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (got < n) {
		int k = read_all(fd, c + got, 1);

		if (k) {
			printf("  note: %s: read: %s\n", who, strerror(-k));
			return 1;
		}
		got++;
	}
	for (int i = 0; i < n; i++)
		if (c[i].status != -EPERM || c[i].out_len) {
			printf("  note: %s: completion %llu status %d out_len %u\n", who,
			       (unsigned long long)c[i].tag, c[i].status, c[i].out_len);
			bad++;
		}
	for (size_t b = 0; b < sizeof(small_dst); b++)
		if (((unsigned char *)small_dst)[b] != 0x5a) {
			printf("  note: %s: small destination byte %zu changed\n", who, b);
			bad++;
			break;
		}
	for (size_t b = 0; b < sizeof(big_buf); b++)
		if (((unsigned char *)big_buf)[b] != 0x5a) {
			printf("  note: %s: big destination byte %zu changed\n", who, b);
			bad++;
			break;
		}
	return bad ? 1 : 0;
}

/* The receiver's own request on the received fd lands in its own memory. */
static int own_request(int fd)
{
	static unsigned char mine[SMALL];
	struct acrypto_request rq;
	struct acrypto_completion c;
	int id = cbc_session(fd, NULL);

	if (id < 0)
		return 1;
	memset(&rq, 0, sizeof(rq));
	rq.tag = 99;
	rq.session_id = (uint32_t)id;
	rq.src = uptr(pt);
	rq.dst = uptr(mine);
	rq.src_len = rq.dst_len = SMALL;
	rq.iv = uptr(iv);
	rq.iv_len = 16;
	if (submit(fd, &rq, 1) != 1 || read_all(fd, &c, 1))
		return 1;
	return c.tag == 99 && c.status == 0 && c.out_len == SMALL && !memcmp(mine, ct, SMALL) ? 0 : 1;
}

/* The parent after the other process read: zero-copy results are its own. */
static int parent_big_ok(void)
{
	for (int i = 0; i < NREQ; i++)
		if (memcmp(big_buf[i], big_ref, BIG))
			return 0;
	return 1;
}

static int small_untouched(unsigned char pattern)
{
	for (size_t b = 0; b < sizeof(small_dst); b++)
		if (((unsigned char *)small_dst)[b] != pattern)
			return 0;
	return 1;
}

static int child_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_fork(const char *drv)
{
	int fd = dev_open(), id, n, rc, ok;
	pid_t pid;

	fill_big_plain();
	memset(small_dst, 0xee, sizeof(small_dst));
	id = cbc_session(fd, drv);
	n = id > 0 ? submit_mixed(fd, id) : -1;
	if (n != 2 * NREQ || wait_ready(fd)) {
		t_result(0, "fork (%s): submit %d, completions not ready", drv, n);
		close(fd);
		return;
	}
	pid = fork();
	if (pid == 0)
		_exit(foreign_read(fd, n, "fork child"));
	rc = child_status(pid);
	ok = rc == 0 && parent_big_ok() && small_untouched(0xee);
	/* The parent's own requests still work after the child took those. */
	ok &= own_request(fd) == 0;
	t_result(ok, "fork (%s): the child reads %d completions of the parent's: -EPERM, its memory "
		     "unchanged (child exit %d); the parent's zero-copy results correct, copied ones "
		     "written nowhere", drv, n, rc);
	close(fd);
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte = 'f';
	struct iovec io = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	memset(cbuf, 0, sizeof(cbuf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte;
	struct iovec io = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&m);
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static void test_unix_socket(void)
{
	int sv[2], fd, id, n, rc, ok;
	pid_t pid;

	fill_big_plain();
	memset(small_dst, 0xee, sizeof(small_dst));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		t_result(0, "unix socket: socketpair: %s", strerror(errno));
		return;
	}
	/* The receiver exists before the fd does: it gets it only by the socket. */
	pid = fork();
	if (pid == 0) {
		int rfd, r;

		close(sv[0]);
		rfd = recv_fd(sv[1]);
		if (rfd < 0)
			_exit(3);
		r = foreign_read(rfd, 2 * NREQ, "socket receiver");
		r |= own_request(rfd) << 1;
		_exit(r);
	}
	close(sv[1]);
	fd = dev_open();
	id = cbc_session(fd, "cryptd(cbc(aes-generic))");
	n = id > 0 ? submit_mixed(fd, id) : -1;
	ok = n == 2 * NREQ && !wait_ready(fd);
	/* Always send (or close): the receiver must not wait forever. */
	ok &= !send_fd(sv[0], fd);
	close(sv[0]);
	rc = child_status(pid);
	ok = ok && rc == 0 && parent_big_ok() && small_untouched(0xee);
	t_result(ok, "unix socket: the receiver of the fd reads %d completions of the sender's: "
		     "-EPERM, its memory unchanged; its own request on the fd lands in its memory "
		     "(exit %d)", n, rc);
	close(fd);
}

static void test_exec(const char *self)
{
	int fd = dev_open(), id, n, rc, ok;
	char arg[16];
	pid_t pid;

	fill_big_plain();
	memset(small_dst, 0xee, sizeof(small_dst));
	id = cbc_session(fd, NULL);
	n = id > 0 ? submit_mixed(fd, id) : -1;
	ok = n == 2 * NREQ && !wait_ready(fd);
	snprintf(arg, sizeof(arg), "%d", fd);
	pid = fork();
	if (pid == 0) {
		/* dev_open() sets O_CLOEXEC: keep this one across execve. */
		fcntl(fd, F_SETFD, 0);
		execl("/proc/self/exe", self, "exec-child", arg, (char *)NULL);
		_exit(4);
	}
	rc = child_status(pid);
	ok = ok && rc == 0 && parent_big_ok() && small_untouched(0xee);
	t_result(ok, "execve: a program exec'ed with the fd reads %d completions: -EPERM, its "
		     "memory at the same static addresses unchanged (exit %d)", n, rc);
	close(fd);
}

static long vm_pin_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static uint64_t fd_pinned(int fd)
{
	struct acrypto_info info;

	memset(&info, 0, sizeof(info));
	if (xioctl(fd, ACRYPTO_IOC_INFO, &info))
		return (uint64_t)-1;
	return info.pinned_pages;
}

#define PIN_REQS	64
#define PIN_LEN		65536
static unsigned char pin_buf[PIN_REQS][PIN_LEN] __attribute__((aligned(4096)));

static int submit_pin_flood(int fd, int id, uint32_t len)
{
	static struct acrypto_request rq[PIN_REQS];

	memset(rq, 0, sizeof(rq));
	for (int i = 0; i < PIN_REQS; i++) {
		memset(pin_buf[i], i, len);
		rq[i].tag = (uint64_t)i;
		rq[i].session_id = (uint32_t)id;
		rq[i].src = rq[i].dst = uptr(pin_buf[i]);
		rq[i].src_len = rq[i].dst_len = len;
		rq[i].iv = uptr(iv);
		rq[i].iv_len = 16;
	}
	return submit(fd, rq, PIN_REQS);
}

/* Every completion read, status 0, each buffer encrypted (not the plaintext). */
static int read_pin_flood(int fd, int n, uint32_t len)
{
	static struct acrypto_completion c[PIN_REQS];
	unsigned char plain[64];

	if (read_all(fd, c, n))
		return 0;
	for (int i = 0; i < n; i++) {
		if (c[i].status || c[i].out_len != len)
			return 0;
		memset(plain, (int)c[i].tag, sizeof(plain));
		if (!memcmp(pin_buf[c[i].tag], plain, sizeof(plain)))
			return 0;
	}
	return 1;
}

static void test_unpin_at_completion(uint32_t max_buffer)
{
	uint32_t len = max_buffer < PIN_LEN ? max_buffer & ~15u : PIN_LEN;
	int fd = dev_open(), id, n, t, ok;
	uint64_t first, peak = 0, left = 1;
	time_t t0 = time(NULL);
	long pin_first, pin_end = -1;
	struct acrypto_info info;

	id = cbc_session(fd, "cryptd(cbc(aes-generic))");
	n = id > 0 ? submit_pin_flood(fd, id, len) : -1;
	first = fd_pinned(fd);
	pin_first = vm_pin_kb();
	/* Nobody reads: the pinned count must still drain to zero (within
	 * 120 s of emulated, shared CPU). */
	for (t = 0; time(NULL) - t0 < 120; t++) {
		uint64_t p = fd_pinned(fd);

		if (p > peak && p != (uint64_t)-1)
			peak = p;
		left = p;
		pin_end = vm_pin_kb();
		if (!left && pin_end == 0)
			break;
		usleep(10000);
	}
	memset(&info, 0, sizeof(info));
	xioctl(fd, ACRYPTO_IOC_INFO, &info);
	ok = n == PIN_REQS && first > 0 && pin_first > 0 && left == 0 && pin_end == 0 &&
	     info.inflight == (uint32_t)n;
	t_result(ok, "pinned pages: %d x %u B zero-copy requests hold %llu pages (VmPin %ld kB) "
		     "after submit; with none read (%u unread) they drain to %llu (VmPin %ld kB)",
		 n, len, (unsigned long long)first, pin_first, info.inflight,
		 (unsigned long long)left, pin_end);
	t_result(n > 0 && read_pin_flood(fd, n, len), "pinned pages: the %d completions read "
		 "afterwards are all correct", n);
	close(fd);
}

static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d))
		return -1;
	d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].inheritable &= ~(1u << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &h, d) ? -1 : 0;
}

/* Child side of the RLIMIT_MEMLOCK test; its exit status is the verdict. */
static int memlock_child(uint32_t max_buffer)
{
	struct rlimit rl = { 4 * 4096, 4 * 4096 };
	uint32_t len = max_buffer < PIN_LEN ? max_buffer & ~15u : PIN_LEN;
	int fd, id, n;
	long pin, peak = 0;

	if (drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &rl))
		return 10;
	fd = dev_open();
	id = cbc_session(fd, "cryptd(cbc(aes-generic))");
	n = id > 0 ? submit_pin_flood(fd, id, len) : -1;
	if (n != PIN_REQS)
		return 11;
	for (int t = 0; t < 50; t++) {
		pin = vm_pin_kb();
		if (pin > peak)
			peak = pin;
		usleep(2000);
	}
	if (peak > 16)
		return 12;	/* over the 16 kB limit */
	if (!read_pin_flood(fd, n, len))
		return 13;
	printf("  note: RLIMIT_MEMLOCK 16 kB: %d requests of %u B, peak VmPin %ld kB\n", n, len,
	       peak);
	close(fd);
	return 0;
}

static void test_memlock(uint32_t max_buffer)
{
	pid_t pid = fork();
	int rc;

	if (pid == 0) {
		fflush(stdout);
		_exit(memlock_child(max_buffer));
	}
	rc = child_status(pid);
	t_result(rc == 0, "RLIMIT_MEMLOCK 16 kB without CAP_IPC_LOCK: zero-copy sized requests "
		 "fall back to copies, VmPin stays within the limit, results correct (exit %d)", rc);
}

int main(int argc, char **argv)
{
	struct acrypto_info info;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "exec-child"))
		return foreign_read(atoi(argv[2]), 2 * NREQ, "exec'ed program");

	fd = dev_open();
	memset(&info, 0, sizeof(info));
	if (xioctl(fd, ACRYPTO_IOC_INFO, &info) || make_big_ref(fd)) {
		t_result(0, "t_mm: setup");
		return t_exit();
	}
	close(fd);
	if (info.zero_copy_min == 0 || info.zero_copy_min > BIG || info.max_buffer < BIG)
		t_note("zero_copy_min %u, max_buffer %u: the big requests are copied too",
		       info.zero_copy_min, info.max_buffer);

	test_fork("cryptd(cbc(aes-generic))");
	test_fork("cbc-aes-aesni");
	test_unix_socket();
	test_exec(argv[0]);
	if (info.zero_copy_min && info.zero_copy_min <= PIN_LEN && info.max_buffer >= 4096) {
		test_unpin_at_completion(info.max_buffer);
		test_memlock(info.max_buffer);
	} else {
		t_note("zero copy off: pinned-page tests skipped");
	}
	printf("t_mm: %d passed, %d failed\n", t_passed, t_failed);
	return t_exit();
}
