// SPDX-License-Identifier: MIT
/*
 * Signal storm: ADDERS threads call CRYPTO_SESSION_ADD (4 KiB AES-256-CBC
 * on the slow cryptd(cbc(aes-generic)), one session each) 100,000 times in
 * total while another thread interrupts them with signals. Every
 * interrupted request finishes in the background (an orphan); the module
 * allows one per session, so the fd's orphan count (ACRYPTO_IOC_INFO)
 * never exceeds the number of sessions, however many calls are
 * interrupted. After close, every request is freed: the module's
 * reference count (held by each open or draining context) returns to 0.
 *
 * Usage: t_orphans [CALLS]
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>

#include "common.h"

#define ADDERS	4
#define LEN	4096

static long total_calls = 100000;
static volatile long calls;	/* ADD calls made, all threads */
static volatile int stop;
static int fd;
static unsigned char key[32] = { 9 };
static unsigned char src[LEN];

struct adder {
	pthread_t th;
	int id;
	long eintr, ok, other;
	int last_other;
};

static void on_signal(int sig)
{
	(void)sig;
}

static void *adder(void *p)
{
	unsigned char *out = malloc(LEN);
	struct adder *a = p;

	if (!out)
		return NULL;
	while (!stop && __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) <= total_calls) {
		int r = sess_add(fd, (uint32_t)a->id, out, LEN);

		if (r == -EINTR) {
			a->eintr++;
		} else if (r == LEN) {
			a->ok++;
		} else {
			a->other++;
			a->last_other = r;
		}
	}
	free(out);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct adder ad[ADDERS];
	struct acrypto_info info;
	struct sigaction sa;
	long eintr = 0, ok = 0, other = 0, signals = 0;
	unsigned int max_orphans = 0, samples = 0;
	int base_ref, i, setup = 1;
	time_t t0 = time(NULL);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		total_calls = atol(argv[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: ADD returns EINTR */
	sigaction(SIGUSR1, &sa, NULL);

	base_ref = module_refcnt();
	fd = dev_open();
	for (i = 0; i < ADDERS; i++) {
		ad[i].id = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_256,
				      ACRYPTO_DEV_MODE_CBC, "cryptd(cbc(aes-generic))", LEN, NULL);
		setup &= ad[i].id > 0 && !sess_setkey(fd, (uint32_t)ad[i].id, key, 32) &&
			 !sess_fill(fd, (uint32_t)ad[i].id, ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC,
				    NULL, 0, key, 16, src, LEN);
	}
	if (!setup) {
		t_result(0, "signal storm: session setup");
		return t_exit();
	}
	for (i = 0; i < ADDERS; i++)
		pthread_create(&ad[i].th, NULL, adder, &ad[i]);

	/* Interrupt them, and watch the orphan count, until the calls are made. */
	while (calls < total_calls && time(NULL) - t0 < 240) {
		for (i = 0; i < ADDERS; i++)
			pthread_kill(ad[i].th, SIGUSR1);
		signals += ADDERS;
		if (signals % 64 == 0) {
			memset(&info, 0, sizeof(info));
			if (!xioctl(fd, ACRYPTO_IOC_INFO, &info)) {
				samples++;
				if (info.orphans > max_orphans)
					max_orphans = info.orphans;
			}
		}
		sched_yield();
	}
	stop = 1;
	for (i = 0; i < ADDERS; i++) {
		pthread_kill(ad[i].th, SIGUSR1);
		pthread_join(ad[i].th, NULL);
		eintr += ad[i].eintr;
		ok += ad[i].ok;
		other += ad[i].other;
		if (ad[i].other)
			t_note("adder %d: %ld other results, last %s", i, ad[i].other,
			       strerror(-ad[i].last_other));
	}
	memset(&info, 0, sizeof(info));
	xioctl(fd, ACRYPTO_IOC_INFO, &info);
	t_result(eintr + ok + other >= total_calls && eintr > 0 && ok > 0 && other == 0 &&
			 max_orphans <= ADDERS && info.orphans <= ADDERS,
		 "signal storm: %ld SESSION_ADD calls on %d sessions (%ld interrupted, %ld done, "
		 "%ld other) under %ld signals in %lds; orphans at most %u (%u samples, limit %d)",
		 eintr + ok + other, ADDERS, eintr, ok, other, signals, (long)(time(NULL) - t0),
		 max_orphans, samples, ADDERS);
	close(fd);

	/* Everything freed once the orphans finish: the module is unused again. */
	for (i = 0; i < 600 && module_refcnt() != base_ref; i++)
		usleep(50000);
	t_result(module_refcnt() == base_ref,
		 "signal storm: after close every request is freed (module refcount %d, was %d)",
		 module_refcnt(), base_ref);
	printf("t_orphans: %d passed, %d failed\n", t_passed, t_failed);
	return t_exit();
}
