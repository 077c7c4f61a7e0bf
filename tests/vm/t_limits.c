// SPDX-License-Identifier: MIT
/*
 * Per-fd limits and call-order rules: sessions (-EMFILE), requests in flight
 * (-EAGAIN), buffer size (-EMSGSIZE), output too small (-ENOSPC), calls in
 * the wrong order (-ENODATA, -ENOKEY), setting a key while requests use it
 * (-EBUSY, best effort: only if one is caught in flight), and read() with
 * nothing in flight (-EAGAIN non-blocking, waits otherwise, never 0).
 */
#include <signal.h>
#include <sys/time.h>

#include "common.h"

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

int main(void)
{
	static unsigned char big[1 << 17], out[1 << 17];
	struct acrypto_info v;
	struct acrypto_request *rq;
	struct acrypto_completion *c;
	unsigned char key[16] = { 1 };
	int fd = dev_open(), *ids, id, ret, i, n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&v, 0, sizeof(v));
	if (xioctl(fd, ACRYPTO_IOC_INFO, &v)) {
		t_result(0, "ACRYPTO_IOC_INFO");
		return t_exit();
	}

	/* sessions */
	ids = calloc(v.max_sessions + 1, sizeof(*ids));
	for (i = 0; i < (int)v.max_sessions; i++) {
		ids[i] = sess_alloc(fd, ACRYPTO_DEV_OP_HASH, ACRYPTO_DEV_TYPE_SHA1, 0, NULL, 64, NULL);
		if (ids[i] < 0)
			break;
	}
	t_result(i == (int)v.max_sessions, "%u sessions fit (got %d)", v.max_sessions, i);
	ret = sess_alloc(fd, ACRYPTO_DEV_OP_HASH, ACRYPTO_DEV_TYPE_SHA1, 0, NULL, 64, NULL);
	t_result(ret == -EMFILE, "session %u is refused: %s", v.max_sessions + 1, strerror(-ret));
	{
		int other = dev_open();

		ret = sess_alloc(other, ACRYPTO_DEV_OP_HASH, ACRYPTO_DEV_TYPE_SHA1, 0, NULL, 64, NULL);
		t_result(ret > 0, "the limit is per fd: another fd still allocates");
		close(other);
	}
	sess_free(fd, (uint32_t)ids[v.max_sessions / 2]);
	ret = sess_alloc(fd, ACRYPTO_DEV_OP_HASH, ACRYPTO_DEV_TYPE_SHA1, 0, NULL, 64, NULL);
	t_result(ret > 0, "after SESSION_FREE a session fits again");
	for (i = 0; i < (int)v.max_sessions; i++)
		sess_free(fd, (uint32_t)ids[i]);
	sess_free(fd, (uint32_t)ret);

	/* buffer size */
	ret = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CTR, NULL,
			 v.max_buffer + 1, NULL);
	t_result(ret == -EMSGSIZE, "src_size max_buffer+1 refused: %s", strerror(-ret));
	id = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CTR,
			"cryptd(ctr(aes-generic))", v.max_buffer, NULL);
	t_result(id > 0, "src_size max_buffer accepted");
	if (id < 0)
		return t_exit();

	/* wrong order */
	ret = sess_add(fd, (uint32_t)id, out, sizeof(out));
	t_result(ret == -ENODATA, "SESSION_ADD before FILL_DATA: %s", strerror(-ret));
	ret = sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC, NULL, 0, key, 16, big, 64);
	ret = ret ? ret : sess_add(fd, (uint32_t)id, out, sizeof(out));
	t_result(ret == -ENOKEY, "SESSION_ADD before the key: %s", strerror(-ret));
	rq = calloc(v.max_inflight + 1, sizeof(*rq));
	c = calloc(v.max_inflight + 1, sizeof(*c));
	rq[0].session_id = (uint32_t)id;
	rq[0].src = rq[0].dst = uptr(big);
	rq[0].src_len = rq[0].dst_len = 64;
	rq[0].iv = uptr(key);
	rq[0].iv_len = 16;
	ret = submit(fd, rq, 1);
	t_result(ret == -ENOKEY, "SUBMIT before the key: %s", strerror(-ret));
	sess_setkey(fd, (uint32_t)id, key, 16);

	ret = sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_SRC, NULL, 0, NULL, 0, big, v.max_buffer + 1);
	t_result(ret == -EMSGSIZE, "FILL_DATA src over src_size: %s", strerror(-ret));
	ret = sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_SRC, NULL, 0, NULL, 0, big, 100);
	ret = ret ? ret : sess_add(fd, (uint32_t)id, out, 99);
	t_result(ret == -ENOSPC, "SESSION_ADD with dst too small: %s", strerror(-ret));
	rq[0].src_len = v.max_buffer + 1;
	rq[0].dst_len = v.max_buffer + 1;
	ret = submit(fd, rq, 1);
	t_result(ret == -EMSGSIZE, "SUBMIT src_len max_buffer+1: %s", strerror(-ret));
	rq[0].src_len = rq[0].dst_len = 64;
	rq[0].flags = 1;
	ret = submit(fd, rq, 1);
	rq[0].flags = 0;
	rq[0].__pad = 1;
	ret = ret == -EINVAL ? submit(fd, rq, 1) : ret;
	rq[0].__pad = 0;
	t_result(ret == -EINVAL, "SUBMIT with nonzero request flags or pad: %s", strerror(-ret));
	rq[0].dst_len = 63;
	ret = submit(fd, rq, 1);
	t_result(ret == -ENOSPC, "SUBMIT with dst_len < src_len: %s", strerror(-ret));
	rq[0].dst_len = 64;

	/* in flight: fill the window, one more is -EAGAIN, read frees it */
	for (i = 0; i <= (int)v.max_inflight; i++) {
		rq[i] = rq[0];
		rq[i].tag = (uint64_t)i;
		rq[i].src = uptr(big + (i % 64) * 1024);
		rq[i].dst = uptr(out + (i % 64) * 1024);
		rq[i].src_len = rq[i].dst_len = 1024;
	}
	ret = submit(fd, rq, v.max_inflight + 1);
	t_result(ret == -EINVAL, "SUBMIT count max_inflight+1: %s", strerror(-ret));
	n = submit(fd, rq, v.max_inflight);
	t_result(n == (int)v.max_inflight, "%u requests in flight accepted (%d)", v.max_inflight, n);
	ret = sess_setkey(fd, (uint32_t)id, key, 16);
	/* EBUSY if one is still in the crypto layer; 0 only if all had finished. */
	t_result(ret == -EBUSY || ret == 0, "FILL_DATA key with %d requests submitted: %s", n,
		 ret ? strerror(-ret) : "accepted (all had already finished)");
	ret = submit(fd, rq, 1);
	t_result(ret == -EAGAIN, "request max_inflight+1 refused: %s", strerror(-ret));
	{
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		t_result(poll(&p, 1, 0) == 0, "full window: no EPOLLOUT");
		ret = read_all(fd, c, 1);
		n -= !ret;
		t_result(!ret && poll(&p, 1, 0) == 1 && (p.revents & POLLOUT),
			 "one completion read: EPOLLOUT again");
	}
	ret = n > 0 ? read_all(fd, c, n) : -1;
	for (i = 0; !ret && i < n; i++)
		if (c[i].status || c[i].out_len != 1024)
			ret = -EIO;
	t_result(!ret, "all %d completions read, status 0", n);
	{
		struct sigaction sa;
		struct itimerval it = { .it_value = { 0, 200000 } };
		int fl = fcntl(fd, F_GETFL);
		ssize_t r;

		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		r = read(fd, c, sizeof(*c));
		t_result(r < 0 && errno == EAGAIN,
			 "O_NONBLOCK read with nothing in flight: EAGAIN (%zd)", r);
		fcntl(fd, F_SETFL, fl);
		/* Blocking: waits (another thread could submit) until a signal. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
		r = read(fd, c, sizeof(*c));
		t_result(r < 0 && errno == EINTR && alarms == 1,
			 "blocking read with nothing in flight waits, never returns 0 (%zd, %s)", r,
			 r < 0 ? strerror(errno) : "data");
		r = read(fd, c, sizeof(*c) - 1);
		t_result(r < 0 && errno == EINVAL, "read smaller than a record: EINVAL");
	}
	ret = submit(fd, rq, 1);
	t_result(ret == 1 && read_all(fd, c, 1) == 0, "after reading, submission works again");

	close(fd);
	printf("t_limits: %d passed, %d failed\n", t_passed, t_failed);
	return t_exit();
}
