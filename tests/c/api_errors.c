/* Every exported function called with NULL and with invalid arguments
 * (bad enum values, zero and huge lengths, wrong key sizes) returns an
 * error status: no crash, no leak (ASan), no undefined behaviour (UBSan). */
#include "check.h"
#include <acrypto.h>
#include <stdint.h>

static void cb(const acrypto_completion *c) { (void)c; }

static void drv_ready(void *ctx, acrypto_device *d) { (void)ctx; (void)d; }

/* A device the test drives by hand: attach keeps its pointer. */
static acrypto_device *manual_dev;
static int manual_destroyed;
static void manual_attach(void *ctx, acrypto_device *d) { (void)ctx; manual_dev = d; }
static void manual_detach(void *ctx) { (void)ctx; manual_dev = NULL; }
static void manual_destroy(void *ctx) { (void)ctx; manual_destroyed++; }

static acrypto_completion manual_last;
static int manual_calls;
static void manual_cb(const acrypto_completion *c)
{
	manual_last = *c;
	manual_calls++;
}

static int64_t pick(void *ctx, const acrypto_candidate *c, size_t n, const acrypto_work_info *w)
{
	(void)ctx; (void)c; (void)n; (void)w;
	return -1;
}

int main(void)
{
	unsigned char key[16] = { 1 }, iv[16] = { 2 }, data[64] = { 3 }, out[64], tag[64];
	acrypto_engine *e = NULL, *e2 = (acrypto_engine *)0x1;
	acrypto_engine_config *cfg = NULL;
	acrypto_session *s = NULL;
	acrypto_queue *q = NULL;
	acrypto_pending *p = NULL;
	acrypto_completion comp;
	acrypto_stats stats;
	acrypto_device_info info;
	size_t n = 0;
	uint32_t u = 0;
	int fd = -1;

	/* Library-wide. */
	CHECK(acrypto_strerror(ACRYPTO_STATUS_OK) != NULL);
	CHECK(acrypto_strerror(0xFFFFFFFFu) != NULL);
	CHECK(strcmp(acrypto_strerror(12345), "unknown status") == 0);
	CHECK(acrypto_version() != NULL && strlen(acrypto_version()) > 0);
	CHECK(acrypto_alg_name(ACRYPTO_ALG_COUNT) == NULL);
	CHECK(strcmp(acrypto_alg_name(ACRYPTO_ALG_AES_128_CBC), "aes-128-cbc") == 0);
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_alg_from_name(NULL, &u));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_alg_from_name("sha1", NULL));
	EXPECT(ACRYPTO_STATUS_UNSUPPORTED, acrypto_alg_from_name("des-cbc", &u));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_alg_from_name("HMAC-SHA256", &u));
	CHECK(u == ACRYPTO_ALG_HMAC_SHA256);
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_test_inject_panic(99));

	/* Engines and configurations. */
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_new(NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_new_devices(NULL, &e));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_new_devices("soft:1", NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_new_devices("", &e2));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_new_devices("hifn:1", &e2));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_new_devices("soft:0", &e2));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_new_devices("soft:99999999999999999999", &e2));
	CHECK(e2 == (acrypto_engine *)0x1); /* out-parameters untouched on failure */
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_config_new(NULL));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_new(&cfg));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_config_set_devices(NULL, "soft:1"));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_config_set_devices(cfg, NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_config_set_devices(cfg, "soft:-1"));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_config_set_balancer_name(NULL, "round-robin"));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_config_set_balancer_name(cfg, NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_config_set_balancer_name(cfg, "fastest"));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_config_set_balancer_name(cfg, ""));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_config_set_max_in_flight(NULL, 1));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_config_set_max_in_flight(cfg, 0));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_config_set_max_in_flight(cfg, SIZE_MAX));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_config_set_completion_workers(NULL, 1));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_config_set_completion_workers(cfg, SIZE_MAX));
	acrypto_balancer_ops bops = { NULL, NULL, NULL };
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_config_set_balancer(NULL, "b", &bops, NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_config_set_balancer(cfg, "b", NULL, NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_config_set_balancer(cfg, NULL, &bops, NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_config_set_balancer(cfg, "b", &bops, NULL));
	bops.find_device = pick;
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_balancer(cfg, "pick", &bops, NULL));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_devices(cfg, "soft:2"));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_new_config(NULL, &e));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_new_config(cfg, NULL));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_config(cfg, &e));
	acrypto_engine_config_free(cfg);
	acrypto_engine_config_free(NULL);
	acrypto_engine_free(NULL);

	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_shutdown(NULL, 0));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_shutdown(e, 7));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_wait_idle(NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_stats(NULL, &stats));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_stats(e, NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_device_count(NULL, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_device_count(e, NULL));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_device_count(e, &n));
	CHECK(n == 2);
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_device_info(NULL, 0, &info));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_device_info(e, 0, NULL));
	EXPECT(ACRYPTO_STATUS_NO_SUCH_DEVICE, acrypto_engine_device_info(e, 2, &info));
	EXPECT(ACRYPTO_STATUS_NO_SUCH_DEVICE, acrypto_engine_device_info(e, SIZE_MAX, &info));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_device_info(e, 1, &info));
	CHECK(strcmp(info.name, "soft1") == 0 && info.class_ == ACRYPTO_DEVICE_CLASS_CPU);
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_mark_broken(NULL, "soft0", "x"));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_mark_broken(e, NULL, "x"));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_mark_broken(e, "soft0", NULL));
	EXPECT(ACRYPTO_STATUS_NO_SUCH_DEVICE, acrypto_engine_mark_broken(e, "soft9", "x"));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_remove_device(NULL, "soft0", 0));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_remove_device(e, NULL, 0));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_remove_device(e, "soft0", 3));
	EXPECT(ACRYPTO_STATUS_NO_SUCH_DEVICE, acrypto_engine_remove_device(e, "nope", 0));
	{
		char longname[200];
		memset(longname, 'a', sizeof longname - 1);
		longname[sizeof longname - 1] = 0;
		EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_engine_remove_device(e, longname, 0));
	}

	/* Sessions. */
	acrypto_step st = { ACRYPTO_ALG_AES_128_CBC, ACRYPTO_OP_ENCRYPT, key, 16, NULL };
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_new(NULL, &st, 1, 0, 0, NULL, &s));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_new(e, NULL, 1, 0, 0, NULL, &s));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_new(e, &st, 1, 0, 0, NULL, NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_new(e, &st, 0, 0, 0, NULL, &s));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_new(e, &st, SIZE_MAX, 0, 0, NULL, &s));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_new(e, &st, 1, 8, 0, NULL, &s));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_new(e, &st, 1, 0, 0x80, NULL, &s));
	EXPECT(ACRYPTO_STATUS_NO_SUCH_DEVICE, acrypto_session_new(e, &st, 1, 0, 0, "hifn0", &s));
	st.alg = ACRYPTO_ALG_COUNT;
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_new(e, &st, 1, 0, 0, NULL, &s));
	st.alg = 0xFFFFFFFFu;
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_new(e, &st, 1, 0, 0, NULL, &s));
	st.alg = ACRYPTO_ALG_AES_128_CBC;
	st.op = 5;
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_new(e, &st, 1, 0, 0, NULL, &s));
	st.op = ACRYPTO_OP_DIGEST; /* a cipher cannot digest */
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_new(e, &st, 1, 0, 0, NULL, &s));
	st.op = ACRYPTO_OP_ENCRYPT;
	st.key_len = 15;
	EXPECT(ACRYPTO_STATUS_INVALID_KEY, acrypto_session_new(e, &st, 1, 0, 0, NULL, &s));
	st.key_len = 0;
	EXPECT(ACRYPTO_STATUS_INVALID_KEY, acrypto_session_new(e, &st, 1, 0, 0, NULL, &s));
	st.key_len = SIZE_MAX;
	EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_session_new(e, &st, 1, 0, 0, NULL, &s));
	st.key = NULL;
	st.key_len = 16;
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_new(e, &st, 1, 0, 0, NULL, &s));
	st.key = key;
	CHECK(s == NULL);
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &st, 1, 0, 0, NULL, &s));
	acrypto_session_free(NULL);

	/* Requests. */
	acrypto_request r = { data, 64, out, 64, iv, 16, NULL, 0, NULL, NULL, 0, 0 };
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit(NULL, &r, cb, 0));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit(s, NULL, cb, 0));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit(s, &r, NULL, 0));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_submit(s, &r, cb, 2));
	r.data_len = 63;
	EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_session_submit(s, &r, cb, 0));
	r.data_len = SIZE_MAX;
	EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_session_submit(s, &r, cb, 0));
	r.data_len = ((size_t)1 << 30) + 16;
	EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_session_submit(s, &r, cb, 0));
	r.data_len = 64;
	r.iv_len = 15;
	EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_session_submit(s, &r, cb, 0));
	r.iv_len = SIZE_MAX;
	EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_session_submit(s, &r, cb, 0));
	r.iv_len = 16;
	r.iv = NULL;
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit(s, &r, cb, 0));
	r.iv = iv;
	r.out = NULL;
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit(s, &r, cb, 0));
	r.out = out;
	r.out_len = 32;
	EXPECT(ACRYPTO_STATUS_BUFFER_TOO_SMALL, acrypto_session_submit(s, &r, cb, 0));
	r.out_len = 64;
	r.data = NULL;
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit(s, &r, cb, 0));
	r.data = data;
	r.tag_len = SIZE_MAX;
	EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_session_submit(s, &r, cb, 0));
	r.tag_len = 0;

	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_run(NULL, &r, &comp));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_run(s, NULL, &comp));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(s, &r, NULL));

	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_batch(NULL, &r, 1, cb, 0, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_batch(s, NULL, 1, cb, 0, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_batch(s, &r, 1, NULL, 0, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_batch(s, &r, 1, cb, 0, NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_submit_batch(s, &r, 0, cb, 0, &n));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_submit_batch(s, &r, SIZE_MAX, cb, 0, &n));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_submit_batch(s, &r, 1, cb, 9, &n));
	{
		acrypto_request two[2] = { r, r };
		two[1].data = NULL;
		n = 77;
		EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_batch(s, two, 2, cb, 0, &n));
		CHECK(n == 77); /* checked up front: nothing submitted, nothing written */
		two[1].data = data;
		two[1].data_len = 3; /* refused by the route at submission */
		EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_session_submit_batch(s, two, 2, cb, 0, &n));
		CHECK(n == 1);
		EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_wait_idle(e));
	}

	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_queue_new(NULL));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_queue_new(&q));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_queue_fd(NULL, &fd));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_queue_fd(q, NULL));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_queue_fd(q, &fd));
	CHECK(fd >= 0);
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_queue_poll(NULL, &comp, 1, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_queue_poll(q, NULL, 1, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_queue_poll(q, &comp, 1, NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_queue_poll(q, &comp, 0, &n));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_queue_poll(q, &comp, SIZE_MAX, &n));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_queue_poll(q, &comp, 1, &n));
	CHECK(n == 0);
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_queue_wait(NULL, &comp, 1, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_queue_wait(q, NULL, 1, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_queue_wait(q, &comp, 1, NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_queue_wait(q, &comp, 0, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_queue(NULL, &r, q, 0));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_queue(s, NULL, q, 0));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_queue(s, &r, NULL, 0));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_submit_queue(s, &r, q, 4));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_batch_queue(NULL, &r, 1, q, 0, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_batch_queue(s, NULL, 1, q, 0, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_batch_queue(s, &r, 1, NULL, 0, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_batch_queue(s, &r, 1, q, 0, NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_submit_batch_queue(s, &r, 0, q, 0, &n));
	/* A request left in a queue that is freed: no leak, buffers untouched. */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit_queue(s, &r, q, 0));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_wait_idle(e));
	acrypto_queue_free(q);
	acrypto_queue_free(NULL);

	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_pending(NULL, &r, 0, &p));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_pending(s, NULL, 0, &p));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_submit_pending(s, &r, 0, NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_submit_pending(s, &r, 2, &p));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit_pending(s, &r, 0, &p));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_pending_wait(NULL, &comp));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_pending_wait(p, NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_pending_poll(NULL, &comp));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_pending_poll(p, NULL));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_pending_wait(p, &comp));
	CHECK(comp.status == ACRYPTO_STATUS_OK && comp.out_len == 64);
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_pending_wait(p, &comp));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_pending_poll(p, &comp));
	acrypto_pending_free(p);
	acrypto_pending_free(NULL);
	/* A pending handle freed before its request finished. */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit_pending(s, &r, 0, &p));
	acrypto_pending_free(p);

	uint64_t a, b;
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_counts(NULL, &a, &b));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_counts(s, NULL, &b));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_counts(s, &a, NULL));

	/* A digest route needs a tag buffer of the digest's length. */
	{
		acrypto_session *h = NULL;
		acrypto_step hs = { ACRYPTO_ALG_HMAC_SHA256, ACRYPTO_OP_DIGEST, key, 16, NULL };
		EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &hs, 1, 0, 0, NULL, &h));
		acrypto_request hr = { data, 64, NULL, 0, NULL, 0, NULL, 32, NULL, NULL, 0, 0 };
		EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_session_run(h, &hr, &comp));
		hr.tag = tag;
		hr.tag_len = 20;
		EXPECT(ACRYPTO_STATUS_BUFFER_TOO_SMALL, acrypto_session_run(h, &hr, &comp));
		hr.tag_len = 64;
		EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(h, &hr, &comp));
		CHECK(comp.tag_len == 32 && comp.out_len == 0);
		acrypto_session_free(h);
		/* Verify with too short a tag. */
		hs.op = ACRYPTO_OP_VERIFY;
		EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &hs, 1, 0, 0, NULL, &h));
		hr.tag_len = 4;
		EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_session_run(h, &hr, &comp));
		hr.tag_len = 32;
		tag[0] ^= 1;
		EXPECT(ACRYPTO_STATUS_VERIFY_FAILED, acrypto_session_run(h, &hr, &comp));
		acrypto_session_free(h);
	}

	/* Provider side. */
	acrypto_capability cap = { ACRYPTO_ALG_SHA256, 16, 0 };
	acrypto_driver_ops ops = { NULL, drv_ready, NULL, NULL };
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_register(NULL, "c0", "c", 3, &cap, 1, &ops, NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_register(e, NULL, "c", 3, &cap, 1, &ops, NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_register(e, "c0", NULL, 3, &cap, 1, &ops, NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_register(e, "c0", "c", 3, NULL, 1, &ops, NULL));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_register(e, "c0", "c", 3, &cap, 1, NULL, NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_device_register(e, "c0", "c", 4, &cap, 1, &ops, NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_device_register(e, "c0", "c", 3, &cap, 0, &ops, NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_device_register(e, "c0", "c", 3, &cap, SIZE_MAX, &ops, NULL));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_device_register(e, "", "c", 3, &cap, 1, &ops, NULL));
	EXPECT(ACRYPTO_STATUS_EXISTS, acrypto_device_register(e, "soft0", "c", 3, &cap, 1, &ops, NULL));
	cap.max_queue = 0;
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_device_register(e, "c0", "c", 3, &cap, 1, &ops, NULL));
	cap.max_queue = 16;
	cap.alg = 99;
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_device_register(e, "c0", "c", 3, &cap, 1, &ops, NULL));
	cap.alg = ACRYPTO_ALG_SHA256;
	ops.data_ready = NULL;
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_register(e, "c0", "c", 3, &cap, 1, &ops, NULL));
	acrypto_work *w[4];
	acrypto_work_step ws;
	acrypto_work_buffers wb;
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_dequeue(NULL, w, 4, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_mark_broken(NULL, "x"));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_queued(NULL, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_work_step_count(NULL, &n));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_work_get_step(NULL, 0, &ws));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_work_get_buffers(NULL, &wb));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_work_set_tag(NULL, tag, 4));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_work_complete(NULL, 0));

	/* Work items and devices with invalid arguments, on a device driven
	 * by hand (completion workers 0: callbacks run in the completing call). */
	{
		acrypto_engine *pe = NULL;
		acrypto_engine_config *pc = NULL;
		acrypto_session *ps = NULL;
		EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_new(&pc));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_devices(pc, ""));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_completion_workers(pc, 0));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_config(pc, &pe));
		acrypto_engine_config_free(pc);
		acrypto_driver_ops mops = { manual_attach, drv_ready, manual_detach, manual_destroy };
		acrypto_capability mcap = { ACRYPTO_ALG_SHA256, 4, 1000000 };
		EXPECT(ACRYPTO_STATUS_OK, acrypto_device_register(pe, "manual0", "manual", ACRYPTO_DEVICE_CLASS_ACCELERATOR, &mcap, 1, &mops, NULL));
		CHECK(manual_dev != NULL);
		EXPECT(ACRYPTO_STATUS_EXISTS, acrypto_device_register(pe, "manual0", "manual", 3, &mcap, 1, &mops, NULL));
		acrypto_step ms = { ACRYPTO_ALG_SHA256, ACRYPTO_OP_DIGEST, NULL, 0, NULL };
		EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(pe, &ms, 1, 0, ACRYPTO_SESSION_DIRECT, "manual0", &ps));
		acrypto_request mr = { data, 64, NULL, 0, NULL, 0, tag, 32, (void *)5, NULL, 0, 0 };
		EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit(ps, &mr, manual_cb, 0));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit(ps, &mr, manual_cb, 0));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_device_queued(manual_dev, &n));
		CHECK(n == 2);
		EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_queued(manual_dev, NULL));
		EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_dequeue(manual_dev, NULL, 4, &n));
		EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_dequeue(manual_dev, w, 4, NULL));
		EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_device_dequeue(manual_dev, w, 0, &n));
		EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_device_dequeue(manual_dev, w, SIZE_MAX, &n));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_device_dequeue(manual_dev, w, 4, &n));
		CHECK(n == 2);
		EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_work_step_count(w[0], NULL));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_work_step_count(w[0], &n));
		CHECK(n == 1);
		EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_work_get_step(w[0], 0, NULL));
		EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_work_get_step(w[0], 1, &ws));
		EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_work_get_step(w[0], SIZE_MAX, &ws));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_work_get_step(w[0], 0, &ws));
		CHECK(ws.alg == ACRYPTO_ALG_SHA256 && ws.op == ACRYPTO_OP_DIGEST && ws.key_len == 0);
		EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_work_get_buffers(w[0], NULL));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_work_get_buffers(w[0], &wb));
		CHECK(wb.data_len == 64 && wb.data[0] == data[0] && wb.iv_len == 0);
		EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_work_set_tag(w[0], NULL, 4));
		EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_work_set_tag(w[0], tag, SIZE_MAX));
		EXPECT(ACRYPTO_STATUS_INVALID_LENGTH, acrypto_work_set_tag(w[0], tag, ACRYPTO_MAX_TAG_LEN + 1));
		unsigned char fake[32];
		memset(fake, 0xab, sizeof fake);
		EXPECT(ACRYPTO_STATUS_OK, acrypto_work_set_tag(w[0], fake, sizeof fake));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_work_complete(w[0], ACRYPTO_STATUS_OK));
		CHECK(manual_calls == 1 && manual_last.status == ACRYPTO_STATUS_OK && manual_last.tag_len == 32 &&
		      manual_last.user == (void *)5 && tag[0] == 0xab);
		/* A status that names none: the work fails as a device failure
		 * (bound, so not retried), and the call says so. */
		EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_work_complete(w[1], 9999));
		CHECK(manual_calls == 2 && manual_last.status == ACRYPTO_STATUS_DEVICE_FAILURE);
		EXPECT(ACRYPTO_STATUS_OK, acrypto_device_dequeue(manual_dev, w, 4, &n));
		CHECK(n == 0);
		EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_device_mark_broken(manual_dev, NULL));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_device_mark_broken(manual_dev, "test"));
		EXPECT(ACRYPTO_STATUS_DEVICE_BROKEN, acrypto_session_submit(ps, &mr, manual_cb, 0));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_device_info(pe, 0, &info));
		CHECK(info.state == ACRYPTO_DEVICE_STATE_BROKEN && info.class_ == ACRYPTO_DEVICE_CLASS_ACCELERATOR);
		CHECK(info.alg_mask == (1u << ACRYPTO_ALG_SHA256) && strcmp(info.driver, "manual") == 0);
		EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_remove_device(pe, "manual0", ACRYPTO_REMOVE_MODE_CANCEL));
		CHECK(manual_dev == NULL && manual_destroyed == 1);
		acrypto_session_free(ps);
		acrypto_engine_free(pe);
	}

	/* Shut down: submissions then fail, sessions still free cleanly. */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_shutdown(e, ACRYPTO_SHUTDOWN_MODE_DRAIN));
	EXPECT(ACRYPTO_STATUS_SHUT_DOWN, acrypto_session_submit(s, &r, cb, 0));
	EXPECT(ACRYPTO_STATUS_SHUT_DOWN, acrypto_session_run(s, &r, &comp));
	acrypto_session_free(s);
	acrypto_engine_free(e);

	/* An engine freed before its session, and a queue freed with requests
	 * still in flight to it: no crash, no leak, buffers left alone. */
	{
		acrypto_engine *fe = NULL;
		acrypto_session *fs = NULL;
		acrypto_queue *fq = NULL;
		static unsigned char big[32][1 << 14], big_out[32][1 << 14];
		EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_devices("soft:1", &fe));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(fe, &st, 1, 0, 0, NULL, &fs));
		EXPECT(ACRYPTO_STATUS_OK, acrypto_queue_new(&fq));
		for (int i = 0; i < 32; i++) {
			acrypto_request br = { big[i], sizeof big[i], big_out[i], sizeof big_out[i], iv, 16, NULL, 0, NULL, NULL, 0, 0 };
			EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit_queue(fs, &br, fq, 0));
		}
		acrypto_queue_free(fq);
		EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_wait_idle(fe));
		int untouched = 1;
		for (int i = 0; i < 32; i++)
			for (size_t k = 0; k < sizeof big_out[i]; k++)
				untouched &= big_out[i][k] == 0;
		CHECK(untouched);
		acrypto_engine_free(fe);
		EXPECT(ACRYPTO_STATUS_SHUT_DOWN, acrypto_session_submit(fs, &r, cb, 0));
		acrypto_session_free(fs);
	}
	return summary("api_errors");
}
