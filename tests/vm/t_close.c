// SPDX-License-Identifier: MIT
/*
 * Closing with work in flight: hundreds of batch requests submitted, then
 * close() without reading (async cryptd drivers and the inline AES-NI one),
 * close with half the completions read, SESSION_FREE with requests in flight,
 * close() racing a thread that keeps submitting, and synchronous
 * CRYPTO_SESSION_ADD interrupted by signals (the request is orphaned and
 * finishes in the background). The module's reference count must drop back
 * to zero; run.sh then unloads it and checks the kernel log.
 */
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "common.h"

static unsigned char buf[1 << 16];
static unsigned char key[32] = { 7 };

static int setup(int fd, const char *drv, uint32_t len)
{
	int id = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CBC, drv,
			    len, NULL);

	if (id > 0 && sess_setkey(fd, (uint32_t)id, key, 16))
		return -1;
	return id;
}

/* Submits up to n requests of len bytes; returns how many were accepted. */
static int flood(int fd, int id, int n, uint32_t len)
{
	struct acrypto_request rq[64];
	int done = 0;

	while (done < n) {
		int k = n - done < 64 ? n - done : 64, r;

		memset(rq, 0, sizeof(rq));
		for (int i = 0; i < k; i++) {
			rq[i].tag = (uint64_t)(done + i);
			rq[i].session_id = (uint32_t)id;
			rq[i].src = rq[i].dst = uptr(buf + ((done + i) % 8) * 4096);
			rq[i].src_len = rq[i].dst_len = len;
			rq[i].iv = uptr(key);
			rq[i].iv_len = 16;
		}
		r = submit(fd, rq, (uint32_t)k);
		if (r <= 0)
			break;
		done += r;
	}
	return done;
}

struct racer {
	int fd;
	int id;
	volatile int stop;
	long accepted;
	int last_err;
};

static void *race_submit(void *p)
{
	struct racer *r = p;

	while (!r->stop) {
		int k = flood(r->fd, r->id, 16, 4096);
		struct acrypto_completion c[16];

		if (k > 0)
			r->accepted += k;
		else
			r->last_err = errno;
		if (read_completions(r->fd, c, 16) == -EBADF)
			break;
		if (fcntl(r->fd, F_GETFD) < 0)
			break;
	}
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
}

struct adder {
	int fd, id;
	volatile int stop;
	int eintr, ok, other;
};

static void *sync_adder(void *p)
{
	static unsigned char out[1 << 16];
	struct adder *a = p;

	while (!a->stop) {
		int r = sess_add(a->fd, (uint32_t)a->id, out, sizeof(out));

		if (r == -EINTR)
			a->eintr++;
		else if (r > 0)
			a->ok++;
		else
			a->other++;
	}
	return NULL;
}

/* Leaves a full window of slow requests behind and exits at once: init then
 * runs rmmod immediately, whose exit must wait for them. */
static int flood_and_exit(void)
{
	static const char *drv = "cryptd(cbc(aes-generic))";
	struct acrypto_info v;
	int total = 0;

	for (int i = 0; i < 4; i++) {
		int fd = dev_open(), id;

		memset(&v, 0, sizeof(v));
		xioctl(fd, ACRYPTO_IOC_INFO, &v);
		id = setup(fd, drv, 16384);
		if (id > 0)
			total += flood(fd, id, (int)v.max_inflight, 16384);
	}
	printf("  note: left %d requests of 16 KiB in flight on 4 fds and exited\n", total);
	return total > 0 ? 0 : 1;	/* the fds close at exit */
}

int main(int argc, char **argv)
{
	static const char *drivers[] = { "cryptd(cbc(aes-generic))", "cryptd(cbc(aes-aesni))",
					 "cbc-aes-aesni", "cbc(aes-generic)" };
	struct acrypto_info v;
	int fd, ok, total = 0, i, rounds = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "flood-and-exit"))
		return flood_and_exit();
	fd = dev_open();
	memset(&v, 0, sizeof(v));
	xioctl(fd, ACRYPTO_IOC_INFO, &v);
	close(fd);

	/* 1. close with a full window of requests, nothing read */
	ok = 1;
	for (int round = 0; round < 8; round++) {
		const char *drv = drivers[round % 4];
		int fds[4];

		for (i = 0; i < 4; i++) {
			int id;

			fds[i] = dev_open();
			id = setup(fds[i], drv, 4096);
			if (id < 0) {
				ok = 0;
				continue;
			}
			total += flood(fds[i], id, (int)v.max_inflight, 4096);
		}
		for (i = 0; i < 4; i++)
			close(fds[i]);
		rounds++;
	}
	t_result(ok && total >= 1000, "close without reading: %d requests in %d rounds of 4 fds",
		 total, rounds);

	/* 2. read half, free the session, then close */
	fd = dev_open();
	{
		int id = setup(fd, drivers[0], 4096), n;
		struct acrypto_completion c[128];

		n = flood(fd, id, (int)v.max_inflight, 4096);
		ok = n > 0 && read_all(fd, c, 100 < n ? 100 : n) == 0;
		ok &= sess_free(fd, (uint32_t)id) == 0;
		ok &= read_all(fd, c, 10) == 0;	/* a freed session's requests still complete */
		close(fd);
		t_result(ok, "read part, SESSION_FREE with %d in flight, close", n);
	}

	/* 3. close while another thread submits on the same fd */
	{
		struct racer r;
		pthread_t th;

		memset(&r, 0, sizeof(r));
		r.fd = dev_open();
		r.id = setup(r.fd, drivers[0], 4096);
		pthread_create(&th, NULL, race_submit, &r);
		usleep(200000);
		close(r.fd);
		usleep(100000);
		r.stop = 1;
		pthread_join(th, NULL);
		t_result(r.accepted > 0, "close racing a submitting thread (%ld accepted before)",
			 r.accepted);
	}

	/* 4. synchronous ADD interrupted by signals, then close */
	{
		struct sigaction sa;
		struct adder a;
		pthread_t th;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;	/* no SA_RESTART: ADD returns EINTR */
		sigaction(SIGUSR1, &sa, NULL);
		memset(&a, 0, sizeof(a));
		a.fd = dev_open();
		a.id = sess_alloc(a.fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_256, ACRYPTO_DEV_MODE_CBC,
				  drivers[0], 1 << 16, NULL);
		sess_setkey(a.fd, (uint32_t)a.id, key, 32);
		sess_fill(a.fd, (uint32_t)a.id, ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC, NULL, 0, key, 16,
			  buf, 1 << 16);
		pthread_create(&th, NULL, sync_adder, &a);
		for (i = 0; i < 400; i++) {
			struct timespec ts = { 0, 2000000 };

			pthread_kill(th, SIGUSR1);
			nanosleep(&ts, NULL);
		}
		a.stop = 1;
		pthread_join(th, NULL);
		close(a.fd);
		/* Without one EINTR the orphan path was not exercised. */
		t_result(a.ok > 0 && a.eintr > 0 && a.other == 0,
			 "SESSION_ADD under signals: %d done, %d interrupted (at least 1), %d other errors",
			 a.ok, a.eintr, a.other);
	}

	/* Everything closed: the module's reference count returns to 0. */
	for (i = 0; i < 100 && module_refcnt() != 0; i++)
		usleep(50000);
	t_result(module_refcnt() == 0, "module refcount back to 0 after closing (%d)",
		 module_refcnt());

	printf("t_close: %d passed, %d failed\n", t_passed, t_failed);
	return t_exit();
}
