/* An engine freed from an atexit handler (as OPENSSL_cleanup frees the
 * provider's), after the main thread's thread-local storage is gone: the
 * free succeeds and nothing panics (a caught panic would give
 * ACRYPTO_STATUS_PANIC). */
#include "check.h"
#include <acrypto.h>
#include <stdint.h>

static acrypto_engine *g_engine;
static acrypto_session *g_session;

static void at_exit(void)
{
	acrypto_session_free(g_session);
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_free(g_engine));
	fflush(stderr);
	/* The exit status was given by main already: report on stdout. */
	summary("atexit");
	fflush(stdout);
}

int main(void)
{
	static unsigned char key[16] = { 1 };
	acrypto_step st = { ACRYPTO_ALG_AES_128_CBC, ACRYPTO_OP_ENCRYPT, key, 16, NULL };

	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_devices("soft:1", &g_engine));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(g_engine, &st, 1, 0, 0, NULL, &g_session));
	/* A blocking call on this thread first: it uses the thread's locals. */
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_wait_idle(g_engine));
	CHECK(atexit(at_exit) == 0);
	return 0;
}
