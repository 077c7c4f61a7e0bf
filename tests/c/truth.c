/* The C ABI tells the truth: SHUT_DOWN after shutdown, WOULD_DEADLOCK for
 * blocking calls from inside a callback (DIRECT and deferred), refused
 * routes whose steps overwrite each other's results, and the reason of a
 * failure in acrypto_last_error(). */
#include "check.h"
#include <acrypto.h>
#include <stdint.h>
#include <unistd.h>

static acrypto_engine *g_engine;
static const acrypto_session *g_session;
static volatile int g_done;
static acrypto_status g_idle, g_free, g_run;
static int g_reason_ok;
static unsigned char key[16] = { 1 }, iv[16] = { 2 };

static void nested(const acrypto_completion *c)
{
	unsigned char d[16] = { 0 }, o[16];
	acrypto_request r = { d, 16, o, 16, iv, 16, NULL, 0, NULL, NULL, 0, 0 };
	(void)c;
	g_idle = acrypto_engine_wait_idle(g_engine);
	const char *why = acrypto_last_error();
	g_reason_ok = why != NULL && strstr(why, "inside a callback") != NULL;
	g_free = acrypto_engine_free(g_engine);
	g_run = acrypto_session_run(g_session, &r, NULL);
	__atomic_store_n(&g_done, 1, __ATOMIC_SEQ_CST);
}

/* Submits one request whose callback makes the blocking calls; returns
 * once it ran (or after 5 s). */
static void blocking_calls_from_callback(uint32_t flags)
{
	unsigned char d[16] = { 0 }, o[16];
	acrypto_request r = { d, 16, o, 16, iv, 16, NULL, 0, NULL, NULL, 0, 0 };
	acrypto_session *s = NULL;
	acrypto_step st = { ACRYPTO_ALG_AES_128_CBC, ACRYPTO_OP_ENCRYPT, key, 16, NULL };

	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_devices("soft:1", &g_engine));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(g_engine, &st, 1, 0, flags, NULL, &s));
	g_session = s;
	g_done = 0;
	g_idle = g_free = g_run = ACRYPTO_STATUS_OK;
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_submit(s, &r, nested, 0));
	for (int i = 0; i < 500 && !__atomic_load_n(&g_done, __ATOMIC_SEQ_CST); i++)
		usleep(10000);
	CHECK(g_done);
	EXPECT(ACRYPTO_STATUS_WOULD_DEADLOCK, g_idle);
	EXPECT(ACRYPTO_STATUS_WOULD_DEADLOCK, g_free);
	CHECK(g_reason_ok);
	if (flags & ACRYPTO_SESSION_DIRECT)
		EXPECT(ACRYPTO_STATUS_WOULD_DEADLOCK, g_run);
	else
		EXPECT(ACRYPTO_STATUS_OK, g_run); /* a completion worker may block */
	/* Outside the callback everything works, and the engine is still alive. */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_wait_idle(g_engine));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_run(s, &r, NULL));
	acrypto_session_free(s);
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_free(g_engine));
}

int main(void)
{
	acrypto_engine *e = NULL;
	acrypto_session *s = NULL;

	blocking_calls_from_callback(ACRYPTO_SESSION_DIRECT);
	blocking_calls_from_callback(0);

	/* A session after shutdown: SHUT_DOWN, not NO_DEVICE. */
	acrypto_step sha256 = { ACRYPTO_ALG_SHA256, ACRYPTO_OP_DIGEST, NULL, 0, NULL };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_devices("soft:1", &e));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_shutdown(e, ACRYPTO_SHUTDOWN_MODE_DRAIN));
	EXPECT(ACRYPTO_STATUS_SHUT_DOWN, acrypto_session_new(e, &sha256, 1, 0, 0, NULL, &s));
	CHECK(s == NULL);
	CHECK(acrypto_last_error() != NULL && strstr(acrypto_last_error(), "shut down") != NULL);
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_free(e));

	/* Two digests would write one tag: refused, with the reason. */
	acrypto_step two[2] = { sha256, { ACRYPTO_ALG_SHA1, ACRYPTO_OP_DIGEST, NULL, 0, NULL } };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_devices("soft:1", &e));
	EXPECT(ACRYPTO_STATUS_INVALID_ARGUMENT, acrypto_session_new(e, two, 2, 0, 0, NULL, &s));
	CHECK(s == NULL);
	CHECK(acrypto_last_error() != NULL && strstr(acrypto_last_error(), "both write") != NULL);
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_free(e));

	/* A kernel device without the module: the reason, not only the status. */
	if (access("/dev/acrypto", F_OK) != 0) {
		e = NULL;
		CHECK(acrypto_engine_new_devices("kdev", &e) != ACRYPTO_STATUS_OK);
		CHECK(e == NULL);
		const char *why = acrypto_last_error();
		CHECK(why != NULL && strstr(why, "/dev/acrypto") != NULL);
		if (why)
			printf("kdev without the module: %s\n", why);
	}
	return summary("truth");
}
