/* A program that forgets to free a session: the test expects
 * LeakSanitizer to report it, which shows that the clean runs of the
 * other tests mean no leak (not a blind leak checker). */
#include <acrypto.h>
#include <stdio.h>

int main(void)
{
	acrypto_engine *e = NULL;
	acrypto_session *s = NULL;
	acrypto_step st = { ACRYPTO_ALG_SHA1, ACRYPTO_OP_DIGEST, NULL, 0, NULL };
	if (acrypto_engine_new_devices("soft:1", &e) || acrypto_session_new(e, &st, 1, 0, 0, NULL, &s))
		return 2;
	s = NULL; /* the leak */
	acrypto_engine_free(e);
	printf("leak: session dropped without acrypto_session_free\n");
	return 0;
}
