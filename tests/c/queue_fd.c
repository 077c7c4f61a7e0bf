/* The completion queue's descriptor is readable exactly while completions
 * wait; an ORDERED session delivers them in submission order. */
#include "check.h"
#include <acrypto.h>
#include <poll.h>
#include <stdint.h>

static int readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

int main(void)
{
	unsigned char key[32] = { 3 }, iv[16] = { 4 }, data[16][48], out[16][48];
	acrypto_engine *e = NULL;
	acrypto_session *s = NULL;
	acrypto_queue *q = NULL;
	acrypto_completion c[16];
	size_t n = 0, accepted = 0;
	int fd = -1;

	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_devices("soft:3", &e));
	acrypto_step st = { ACRYPTO_ALG_AES_256_CTR, ACRYPTO_OP_ENCRYPT, key, 32, NULL };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &st, 1, 7, ACRYPTO_SESSION_ORDERED, NULL, &s));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_queue_new(&q));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_queue_fd(q, &fd));
	CHECK(!readable(fd));

	acrypto_request r[16];
	for (uintptr_t i = 0; i < 16; i++) {
		memset(data[i], (int)i, sizeof data[i]);
		acrypto_request x = { data[i], sizeof data[i], out[i], sizeof out[i], iv, 16, NULL, 0, (void *)(i + 1), NULL, 0, 0 };
		r[i] = x;
	}
	for (int i = 0; i < 5; i++)
		EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit_queue(s, &r[i], q, 0));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_wait_idle(e));
	CHECK(readable(fd));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_queue_poll(q, c, 2, &n));
	CHECK(n == 2 && c[0].user == (void *)1 && c[1].user == (void *)2);
	CHECK(readable(fd)); /* three still wait */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_queue_poll(q, c, 16, &n));
	CHECK(n == 3 && c[0].user == (void *)3 && c[2].user == (void *)5);
	CHECK(!readable(fd));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_queue_poll(q, c, 16, &n));
	CHECK(n == 0 && !readable(fd));

	/* A batch to the queue, in order. */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit_batch_queue(s, &r[5], 11, q, 0, &accepted));
	CHECK(accepted == 11);
	size_t got = 0;
	uintptr_t want = 6;
	int in_order = 1;
	while (got < 11) {
		EXPECT(ACRYPTO_STATUS_OK, acrypto_queue_wait(q, c, 16, &n));
		for (size_t i = 0; i < n; i++) {
			in_order &= c[i].user == (void *)want++;
			in_order &= c[i].status == ACRYPTO_STATUS_OK && c[i].out_len == 48;
		}
		got += n;
	}
	CHECK(got == 11 && in_order);
	CHECK(!readable(fd));
	/* In place would give the same; the separate outputs differ from the inputs. */
	CHECK(memcmp(out[7], data[7], 48) != 0);

	acrypto_queue_free(q);
	acrypto_session_free(s);
	acrypto_engine_free(e);
	return summary("queue_fd");
}
