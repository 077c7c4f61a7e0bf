/* A panic inside Rust never reaches C: panics injected in an export, in
 * the completion path (callback, queue, pending), in the C balancer hook
 * and in a C driver's data_ready notification are caught and show up as
 * error codes (or, where the engine can go on, as nothing at all). */
#include "check.h"
#include <acrypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int calls;
static acrypto_completion last;

static void on_done(const acrypto_completion *c)
{
	pthread_mutex_lock(&mu);
	last = *c;
	calls++;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

static acrypto_completion wait_one(int want)
{
	pthread_mutex_lock(&mu);
	while (calls < want)
		pthread_cond_wait(&cv, &mu);
	acrypto_completion c = last;
	pthread_mutex_unlock(&mu);
	return c;
}

static atomic_int balancer_calls;

static int64_t pick_first(void *ctx, const acrypto_candidate *c, size_t n, const acrypto_work_info *w)
{
	(void)ctx; (void)c; (void)n; (void)w;
	atomic_fetch_add(&balancer_calls, 1);
	return 0;
}

/* A C device that fails everything it is given with DEVICE_FAILURE; it
 * does the work in data_ready itself (no thread), which is allowed for a
 * device whose work is instant. */
static atomic_int ready_calls;
static void fail_ready(void *ctx, acrypto_device *d)
{
	(void)ctx;
	atomic_fetch_add(&ready_calls, 1);
	acrypto_work *w[8];
	size_t n;
	while (acrypto_device_dequeue(d, w, 8, &n) == ACRYPTO_STATUS_OK && n > 0)
		for (size_t i = 0; i < n; i++)
			acrypto_work_complete(w[i], ACRYPTO_STATUS_BAD_PADDING);
}

int main(void)
{
	unsigned char key[16] = { 7 }, iv[16] = { 8 }, data[32] = { 9 }, out[32], tag[32];
	acrypto_engine *e = NULL;
	acrypto_session *s = NULL;
	acrypto_completion c;
	size_t n = 0;

	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_devices("soft:2", &e));
	acrypto_step st = { ACRYPTO_ALG_AES_128_CTR, ACRYPTO_OP_ENCRYPT, key, 16, NULL };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &st, 1, 0, 0, NULL, &s));
	acrypto_request r = { data, sizeof data, out, sizeof out, iv, 16, NULL, 0, (void *)7, NULL, 0, 0 };

	/* In an export: the call fails with PANIC, the next one works. */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_test_inject_panic(ACRYPTO_PANIC_POINT_EXPORT));
	EXPECT(ACRYPTO_STATUS_PANIC, acrypto_engine_device_count(e, &n));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_device_count(e, &n));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_test_inject_panic(ACRYPTO_PANIC_POINT_EXPORT));
	EXPECT(ACRYPTO_STATUS_PANIC, acrypto_session_submit(s, &r, on_done, 0));

	/* In the completion path, callback: it still runs, once, with PANIC. */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_test_inject_panic(ACRYPTO_PANIC_POINT_COMPLETION));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit(s, &r, on_done, 0));
	c = wait_one(1);
	CHECK(c.status == ACRYPTO_STATUS_PANIC && c.user == (void *)7 && c.out_len == 0);
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit(s, &r, on_done, 0));
	c = wait_one(2);
	CHECK(c.status == ACRYPTO_STATUS_OK && c.out_len == sizeof data);

	/* Queue. */
	acrypto_queue *q = NULL;
	EXPECT(ACRYPTO_STATUS_OK, acrypto_queue_new(&q));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_test_inject_panic(ACRYPTO_PANIC_POINT_COMPLETION));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit_queue(s, &r, q, 0));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_queue_wait(q, &c, 1, &n));
	CHECK(n == 1 && c.status == ACRYPTO_STATUS_PANIC);
	acrypto_queue_free(q);

	/* Pending. */
	acrypto_pending *p = NULL;
	EXPECT(ACRYPTO_STATUS_OK, acrypto_test_inject_panic(ACRYPTO_PANIC_POINT_COMPLETION));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit_pending(s, &r, 0, &p));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_pending_wait(p, &c));
	CHECK(c.status == ACRYPTO_STATUS_PANIC);
	acrypto_pending_free(p);

	/* Synchronous run. */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_test_inject_panic(ACRYPTO_PANIC_POINT_COMPLETION));
	EXPECT(ACRYPTO_STATUS_PANIC, acrypto_session_run(s, &r, &c));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(s, &r, &c));
	acrypto_session_free(s);
	acrypto_engine_free(e);

	/* In the balancer hook: the engine places the work itself. */
	acrypto_engine_config *cfg = NULL;
	acrypto_balancer_ops bops = { pick_first, NULL, NULL };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_new(&cfg));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_devices(cfg, "soft:2"));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_balancer(cfg, "first", &bops, NULL));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_config(cfg, &e));
	acrypto_engine_config_free(cfg);
	acrypto_step hs = { ACRYPTO_ALG_SHA256, ACRYPTO_OP_DIGEST, NULL, 0, NULL };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &hs, 1, 0, 0, NULL, &s));
	acrypto_request hr = { data, sizeof data, NULL, 0, NULL, 0, tag, sizeof tag, NULL, NULL, 0, 0 };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_test_inject_panic(ACRYPTO_PANIC_POINT_BALANCER));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit(s, &hr, on_done, 0));
	c = wait_one(3);
	CHECK(c.status == ACRYPTO_STATUS_OK && c.tag_len == 32);
	CHECK(atomic_load(&balancer_calls) == 0);
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit(s, &hr, on_done, 0));
	c = wait_one(4);
	CHECK(c.status == ACRYPTO_STATUS_OK && atomic_load(&balancer_calls) == 1);
	acrypto_session_free(s);
	acrypto_engine_free(e);

	/* In a C driver's data_ready: caught, and the driver is told anyway. */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_new(&cfg));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_devices(cfg, ""));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_config(cfg, &e));
	acrypto_engine_config_free(cfg);
	acrypto_capability cap = { ACRYPTO_ALG_SHA256, 8, 0 };
	acrypto_driver_ops ops = { NULL, fail_ready, NULL, NULL };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_device_register(e, "failer", "test", ACRYPTO_DEVICE_CLASS_OTHER, &cap, 1, &ops, NULL));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &hs, 1, 0, 0, NULL, &s));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_test_inject_panic(ACRYPTO_PANIC_POINT_DATA_READY));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit(s, &hr, on_done, 0));
	c = wait_one(5);
	CHECK(c.status == ACRYPTO_STATUS_BAD_PADDING && atomic_load(&ready_calls) >= 1);
	acrypto_session_free(s);
	acrypto_engine_free(e);
	return summary("panic");
}
