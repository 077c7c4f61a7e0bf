/* epoll_loop: an event loop on acrypto's completion descriptor. Keeps a
 * window of SHA-256 requests in flight through a completion queue, waits
 * with epoll for the queue's eventfd to become readable, drains it, and
 * submits more; checks every digest against the synchronous call. */
#include <acrypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define REQUESTS 2000
#define WINDOW 64
#define MAXLEN 1500

struct job {
	unsigned char data[MAXLEN];
	size_t len;
	unsigned char digest[32];
	int done;
};

int main(void)
{
	static struct job jobs[REQUESTS];
	acrypto_engine *engine = NULL;
	acrypto_session *session = NULL;
	acrypto_queue *queue = NULL;
	acrypto_status st;
	if ((st = acrypto_engine_new(&engine)) || (st = acrypto_queue_new(&queue))) {
		fprintf(stderr, "epoll_loop: %s\n", acrypto_strerror(st));
		return 1;
	}
	acrypto_step step = { ACRYPTO_ALG_SHA256, ACRYPTO_OP_DIGEST, NULL, 0, NULL };
	if ((st = acrypto_session_new(engine, &step, 1, 0, 0, NULL, &session))) {
		fprintf(stderr, "epoll_loop: session: %s\n", acrypto_strerror(st));
		return 1;
	}
	for (size_t i = 0; i < REQUESTS; i++) {
		jobs[i].len = (i * 97) % MAXLEN;
		for (size_t k = 0; k < jobs[i].len; k++)
			jobs[i].data[k] = (unsigned char)(i + k * 3);
	}

	int fd = -1;
	acrypto_queue_fd(queue, &fd);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		perror("epoll");
		return 1;
	}

	size_t next = 0, completed = 0, in_flight = 0, wakeups = 0;
	int bad = 0;
	while (completed < REQUESTS) {
		while (in_flight < WINDOW && next < REQUESTS) {
			struct job *j = &jobs[next];
			acrypto_request r = { j->data, j->len, NULL, 0, NULL, 0, j->digest, sizeof j->digest, j, NULL, 0, 0 };
			st = acrypto_session_submit_queue(session, &r, queue, 0);
			if (st == ACRYPTO_STATUS_BUSY)
				break; /* wait for completions, then go on */
			if (st) {
				fprintf(stderr, "epoll_loop: submit: %s\n", acrypto_strerror(st));
				return 1;
			}
			next++;
			in_flight++;
		}
		struct epoll_event got;
		int n = epoll_wait(ep, &got, 1, 5000);
		if (n < 0) {
			perror("epoll_wait");
			return 1;
		}
		if (n == 0) {
			fprintf(stderr, "epoll_loop: no completion in 5 s\n");
			return 1;
		}
		wakeups++;
		acrypto_completion c[32];
		size_t k;
		do {
			if ((st = acrypto_queue_poll(queue, c, 32, &k)))
				return 1;
			for (size_t i = 0; i < k; i++) {
				struct job *j = c[i].user;
				if (c[i].status != ACRYPTO_STATUS_OK || c[i].tag_len != 32 || j->done++)
					bad++;
			}
			completed += k;
			in_flight -= k;
		} while (k == 32);
	}

	/* Every digest against the synchronous path. */
	for (size_t i = 0; i < REQUESTS; i++) {
		unsigned char want[32];
		acrypto_request r = { jobs[i].data, jobs[i].len, NULL, 0, NULL, 0, want, sizeof want, NULL, NULL, 0, 0 };
		if (acrypto_session_run(session, &r, NULL) || memcmp(want, jobs[i].digest, 32))
			bad++;
	}
	printf("epoll_loop: %zu requests, window %d, %zu wakeups, %d bad\n", completed, WINDOW, wakeups, bad);
	close(ep);
	acrypto_session_free(session);
	acrypto_queue_free(queue);
	acrypto_engine_free(engine);
	return bad ? 1 : 0;
}
