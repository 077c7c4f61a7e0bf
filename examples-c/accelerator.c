/* accelerator: a crypto "accelerator" written in C, registered as an
 * acrypto device next to the software devices (the OCF-bridge idea: a
 * foreign driver plugged in as a device). It has its own worker thread,
 * takes work in batches, simulates the latency of a card (a sleep per
 * batch) and computes with OpenSSL's libcrypto. Requests of one routed
 * session (aes-128-cbc then hmac-sha1) are balanced between it and the
 * software devices; every result is checked against the software path.
 * Then a route splits one request across both kinds of device.
 *
 * Build: cc accelerator.c $(pkg-config --cflags --libs acrypto) -lcrypto -lpthread */
#include <acrypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 16
#define LATENCY_US 200
#define REQUESTS 3000
#define LEN 1024

/* ---- the driver ---- */

struct accel {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int ready, stop, started;
	acrypto_device *dev;
	atomic_ulong items;
	atomic_int destroyed;
};

static acrypto_status run_step(const acrypto_work_step *s, acrypto_work *w, const acrypto_work_buffers *b)
{
	switch (s->alg) {
	case ACRYPTO_ALG_AES_128_CBC: {
		EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
		int n1 = 0, n2 = 0, ok = c && s->key_len == 16 && b->iv_len == 16 &&
			   EVP_CipherInit_ex(c, EVP_aes_128_cbc(), NULL, s->key, b->iv, s->op == ACRYPTO_OP_ENCRYPT) &&
			   EVP_CIPHER_CTX_set_padding(c, 0) &&
			   EVP_CipherUpdate(c, b->data, &n1, b->data, (int)b->data_len) &&
			   EVP_CipherFinal_ex(c, b->data + n1, &n2);
		EVP_CIPHER_CTX_free(c);
		return ok ? ACRYPTO_STATUS_OK : ACRYPTO_STATUS_DEVICE_FAILURE;
	}
	case ACRYPTO_ALG_HMAC_SHA1: {
		unsigned char mac[20];
		unsigned int n = 0;
		if (!HMAC(EVP_sha1(), s->key, (int)s->key_len, b->data, b->data_len, mac, &n))
			return ACRYPTO_STATUS_DEVICE_FAILURE;
		if (s->op == ACRYPTO_OP_DIGEST)
			return acrypto_work_set_tag(w, mac, n);
		if (b->tag_len < 10 || b->tag_len > n || CRYPTO_memcmp(mac, b->tag, b->tag_len))
			return ACRYPTO_STATUS_VERIFY_FAILED;
		return ACRYPTO_STATUS_OK;
	}
	case ACRYPTO_ALG_SHA256: {
		unsigned char d[32];
		SHA256(b->data, b->data_len, d);
		return acrypto_work_set_tag(w, d, 32);
	}
	default:
		return ACRYPTO_STATUS_UNSUPPORTED;
	}
}

static void process(struct accel *a, acrypto_work *w)
{
	size_t steps = 0;
	acrypto_status st = acrypto_work_step_count(w, &steps);
	for (size_t i = 0; st == ACRYPTO_STATUS_OK && i < steps; i++) {
		acrypto_work_step s;
		acrypto_work_buffers b;
		st = acrypto_work_get_step(w, i, &s);
		if (st == ACRYPTO_STATUS_OK)
			st = acrypto_work_get_buffers(w, &b);
		if (st == ACRYPTO_STATUS_OK)
			st = run_step(&s, w, &b);
	}
	acrypto_work_complete(w, st);
	atomic_fetch_add(&a->items, 1);
}

static void *worker(void *arg)
{
	struct accel *a = arg;
	for (;;) {
		pthread_mutex_lock(&a->mu);
		while (!a->ready && !a->stop)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->stop && !a->ready) {
			pthread_mutex_unlock(&a->mu);
			return NULL;
		}
		a->ready = 0;
		acrypto_device *dev = a->dev;
		pthread_mutex_unlock(&a->mu);
		/* data_ready comes only when the queue goes from empty to
		 * non-empty: take batches until it is empty. */
		acrypto_work *batch[BATCH];
		size_t n;
		while (dev && acrypto_device_dequeue(dev, batch, BATCH, &n) == ACRYPTO_STATUS_OK && n > 0) {
			struct timespec lat = { 0, LATENCY_US * 1000L }; /* the card is slow to answer */
			nanosleep(&lat, NULL);
			for (size_t i = 0; i < n; i++)
				process(a, batch[i]);
		}
	}
}

static void accel_attach(void *ctx, acrypto_device *dev)
{
	struct accel *a = ctx;
	pthread_mutex_lock(&a->mu);
	a->dev = dev;
	pthread_mutex_unlock(&a->mu);
}

static void accel_data_ready(void *ctx, acrypto_device *dev)
{
	struct accel *a = ctx;
	(void)dev;
	pthread_mutex_lock(&a->mu);
	a->ready = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

static void accel_detach(void *ctx)
{
	struct accel *a = ctx;
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	if (a->started)
		pthread_join(a->thread, NULL);
	a->dev = NULL;
}

static void accel_destroy(void *ctx)
{
	struct accel *a = ctx;
	atomic_store(&a->destroyed, 1);
}

/* ---- a consumer ---- */

static atomic_int callbacks, bad;
struct req {
	unsigned char data[LEN], want[LEN], tag[20], want_tag[20];
};

static void on_done(const acrypto_completion *c)
{
	struct req *r = c->user;
	if (c->status || memcmp(r->data, r->want, LEN) || memcmp(r->tag, r->want_tag, 20))
		atomic_fetch_add(&bad, 1);
	atomic_fetch_add(&callbacks, 1);
}

int main(void)
{
	static struct accel a = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	static struct req reqs[REQUESTS];
	unsigned char key[16] = "0123456789abcdef", mac_key[20] = "an authentication k", iv[16] = { 9 };
	acrypto_engine_config *cfg = NULL;
	acrypto_engine *e = NULL;
	acrypto_status st;

	if (pthread_create(&a.thread, NULL, worker, &a))
		return 1;
	a.started = 1;
	if ((st = acrypto_engine_config_new(&cfg)) || (st = acrypto_engine_config_set_devices(cfg, "soft:2")) ||
	    (st = acrypto_engine_new_config(cfg, &e))) {
		fprintf(stderr, "accelerator: engine: %s\n", acrypto_strerror(st));
		return 1;
	}
	acrypto_engine_config_free(cfg);
	acrypto_capability caps[] = {
		{ ACRYPTO_ALG_AES_128_CBC, 256, 0 },
		{ ACRYPTO_ALG_HMAC_SHA1, 256, 0 },
		{ ACRYPTO_ALG_SHA256, 256, 0 },
	};
	acrypto_driver_ops ops = { accel_attach, accel_data_ready, accel_detach, accel_destroy };
	st = acrypto_device_register(e, "accel0", "openssl-card", ACRYPTO_DEVICE_CLASS_ACCELERATOR, caps, 3, &ops, &a);
	if (st) {
		fprintf(stderr, "accelerator: register: %s\n", acrypto_strerror(st));
		return 1;
	}

	acrypto_step route[2] = {
		{ ACRYPTO_ALG_AES_128_CBC, ACRYPTO_OP_ENCRYPT, key, 16, NULL },
		{ ACRYPTO_ALG_HMAC_SHA1, ACRYPTO_OP_DIGEST, mac_key, 20, NULL },
	};
	acrypto_session *s = NULL, *ref = NULL;
	if ((st = acrypto_session_new(e, route, 2, 0, 0, NULL, &s)) ||
	    (st = acrypto_session_new(e, route, 2, 0, 0, "soft0", &ref))) {
		fprintf(stderr, "accelerator: session: %s\n", acrypto_strerror(st));
		return 1;
	}
	for (size_t i = 0; i < REQUESTS; i++) {
		struct req *r = &reqs[i];
		for (size_t k = 0; k < LEN; k++)
			r->data[k] = (unsigned char)(i * 7 + k);
		acrypto_request q = { r->data, LEN, r->want, LEN, iv, 16, r->want_tag, 20, NULL, NULL, 0, 0 };
		if (acrypto_session_run(ref, &q, NULL))
			return 1;
	}
	for (size_t i = 0; i < REQUESTS; i++) {
		struct req *r = &reqs[i];
		acrypto_request q = { r->data, LEN, r->data, LEN, iv, 16, r->tag, 20, r, NULL, 0, 0 };
		if ((st = acrypto_session_submit(s, &q, on_done, ACRYPTO_SUBMIT_BLOCK))) {
			fprintf(stderr, "accelerator: submit: %s\n", acrypto_strerror(st));
			return 1;
		}
	}
	/* Returns once every callback has returned. */
	acrypto_engine_wait_idle(e);

	/* Routing across the two kinds of device: the cipher step bound to the
	 * accelerator, the MAC step to a software device; one completion. */
	acrypto_step split[2] = {
		{ ACRYPTO_ALG_AES_128_CBC, ACRYPTO_OP_ENCRYPT, key, 16, "accel0" },
		{ ACRYPTO_ALG_HMAC_SHA1, ACRYPTO_OP_DIGEST, mac_key, 20, "soft1" },
	};
	acrypto_session *routed = NULL;
	int routed_ok = acrypto_session_new(e, split, 2, 0, 0, NULL, &routed) == ACRYPTO_STATUS_OK;
	for (size_t i = 0; routed_ok && i < 100; i++) {
		struct req *r = &reqs[i];
		unsigned char out[LEN], tag[20];
		for (size_t k = 0; k < LEN; k++)
			r->data[k] = (unsigned char)(i * 7 + k);
		acrypto_request q = { r->data, LEN, out, LEN, iv, 16, tag, 20, NULL, NULL, 0, 0 };
		routed_ok = acrypto_session_run(routed, &q, NULL) == ACRYPTO_STATUS_OK && !memcmp(out, r->want, LEN) &&
			    !memcmp(tag, r->want_tag, 20);
	}
	acrypto_session_free(routed);
	printf("accelerator: routed aes on accel0 then hmac on soft1: %s\n", routed_ok ? "ok" : "FAILED");

	size_t ndev = 0;
	acrypto_engine_device_count(e, &ndev);
	unsigned long accel_items = 0, soft_items = 0;
	for (size_t i = 0; i < ndev; i++) {
		acrypto_device_info info;
		if (acrypto_engine_device_info(e, i, &info))
			continue;
		printf("accelerator: %-8s %-13s %6llu work items\n", info.name, info.driver,
		       (unsigned long long)info.stats.completed_ok);
		if (info.class_ == ACRYPTO_DEVICE_CLASS_ACCELERATOR)
			accel_items += info.stats.completed_ok;
		else
			soft_items += info.stats.completed_ok;
	}
	acrypto_session_free(ref);
	acrypto_session_free(s);
	acrypto_engine_free(e);
	int ok = routed_ok && atomic_load(&bad) == 0 && atomic_load(&callbacks) == REQUESTS && accel_items > 0 && soft_items > 0 &&
		 atomic_load(&a.items) == accel_items && atomic_load(&a.destroyed) == 1;
	printf("accelerator: %d requests, %d bad, %lu on the accelerator, %lu on software devices: %s\n", REQUESTS,
	       atomic_load(&bad), accel_items, soft_items, ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
