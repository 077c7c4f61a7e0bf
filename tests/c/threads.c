/* Many C threads submit to one engine and one session at once (single
 * submissions and batches); every callback runs exactly once, with the
 * right result (compared with the synchronous path). */
#include "check.h"
#include <acrypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define THREADS 8
#define PER_THREAD 3000
#define TOTAL (THREADS * PER_THREAD)
#define LEN 64

struct slot {
	unsigned char data[LEN], out[LEN], tag[20];
	unsigned char want_out[LEN], want_tag[20];
	atomic_int calls;
	atomic_int bad;
};

static struct slot *slots;
static acrypto_session *session;
static atomic_int total_calls;
static const unsigned char iv[16] = { 0x42 };

static void on_done(const acrypto_completion *c)
{
	struct slot *s = c->user;
	if (c->status != ACRYPTO_STATUS_OK || c->out_len != LEN || c->tag_len != 20 ||
	    memcmp(s->out, s->want_out, LEN) || memcmp(s->tag, s->want_tag, 20))
		atomic_fetch_add(&s->bad, 1);
	atomic_fetch_add(&s->calls, 1);
	atomic_fetch_add(&total_calls, 1);
}

static acrypto_request req_for(struct slot *s)
{
	acrypto_request r = { s->data, LEN, s->out, LEN, iv, 16, s->tag, 20, s, NULL, 0, 0 };
	return r;
}

static void *submitter(void *arg)
{
	size_t t = (size_t)arg;
	size_t i = 0;
	while (i < PER_THREAD) {
		struct slot *s = &slots[t * PER_THREAD + i];
		if (i % 3 == 2 && i + 8 <= PER_THREAD) {
			/* A batch of 8. */
			acrypto_request b[8];
			for (int k = 0; k < 8; k++)
				b[k] = req_for(s + k);
			size_t accepted = 0;
			acrypto_status st = acrypto_session_submit_batch(session, b, 8, on_done, ACRYPTO_SUBMIT_BLOCK, &accepted);
			if (st != ACRYPTO_STATUS_OK || accepted != 8)
				return (void *)1;
			i += 8;
		} else {
			acrypto_request r = req_for(s);
			if (acrypto_session_submit(session, &r, on_done, ACRYPTO_SUBMIT_BLOCK) != ACRYPTO_STATUS_OK)
				return (void *)1;
			i++;
		}
	}
	return NULL;
}

int main(void)
{
	unsigned char aes_key[16], mac_key[20];
	for (int i = 0; i < 16; i++)
		aes_key[i] = (unsigned char)(i * 7 + 1);
	for (int i = 0; i < 20; i++)
		mac_key[i] = (unsigned char)(i * 13 + 5);
	slots = calloc(TOTAL, sizeof *slots);
	if (!slots)
		return 1;

	acrypto_engine *e = NULL;
	acrypto_engine_config *cfg = NULL;
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_new(&cfg));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_devices(cfg, "soft:3"));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_max_in_flight(cfg, 512));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_completion_workers(cfg, 2));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_config(cfg, &e));
	acrypto_engine_config_free(cfg);
	acrypto_step route[2] = {
		{ ACRYPTO_ALG_AES_128_CBC, ACRYPTO_OP_ENCRYPT, aes_key, 16, NULL },
		{ ACRYPTO_ALG_HMAC_SHA1, ACRYPTO_OP_DIGEST, mac_key, 20, NULL },
	};
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, route, 2, 4, 0, NULL, &session));

	/* Expected results, from the synchronous path. */
	for (size_t i = 0; i < TOTAL; i++) {
		struct slot *s = &slots[i];
		for (int k = 0; k < LEN; k++)
			s->data[k] = (unsigned char)(i * 31 + k * 17 + (i >> 8));
		acrypto_request r = { s->data, LEN, s->want_out, LEN, iv, 16, s->want_tag, 20, NULL, NULL, 0, 0 };
		if (acrypto_session_run(session, &r, NULL) != ACRYPTO_STATUS_OK) {
			fprintf(stderr, "run %zu failed\n", i);
			return 1;
		}
	}

	pthread_t th[THREADS];
	for (size_t t = 0; t < THREADS; t++)
		CHECK(pthread_create(&th[t], NULL, submitter, (void *)t) == 0);
	for (size_t t = 0; t < THREADS; t++) {
		void *ret = NULL;
		pthread_join(th[t], &ret);
		CHECK(ret == NULL);
	}
	/* wait_idle returns once every callback has returned. */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_wait_idle(e));
	CHECK(atomic_load(&total_calls) == TOTAL);
	int once = 0, bad = 0;
	for (size_t i = 0; i < TOTAL; i++) {
		once += atomic_load(&slots[i].calls) == 1;
		bad += atomic_load(&slots[i].bad);
	}
	CHECK(once == TOTAL);
	CHECK(bad == 0);
	CHECK(atomic_load(&total_calls) == TOTAL);

	acrypto_stats st;
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_stats(e, &st));
	CHECK(st.in_flight == 0 && st.completed_err == 0);
	CHECK(st.submitted == st.completed_ok);
	uint64_t sub = 0, done = 0;
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_counts(session, &sub, &done));
	CHECK(sub == 2 * (uint64_t)TOTAL && done == sub);
	printf("threads: %d threads x %d requests, %d callbacks, each exactly once\n", THREADS, PER_THREAD,
	       atomic_load(&total_calls));
	acrypto_session_free(session);
	acrypto_engine_free(e);
	free(slots);
	return summary("threads");
}
