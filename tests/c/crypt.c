/* crypt: runs one request through libacrypto and prints the results, so
 * that tests/c_abi.rs can compare them with the Rust path and openssl.
 *
 *   crypt MODE ALG OP KEYHEX IVHEX DATAHEX [TAGHEX]
 *
 * MODE: run | callback | queue | pending | batch (how the request is
 * submitted). Prints "OUTHEX TAGHEX" (either may be "-") or
 * "error STATUS". */
#include "callbacks.h"
#include "check.h"
#include <acrypto.h>
#include <pthread.h>
#include <stdint.h>

int main(int argc, char **argv)
{
	static unsigned char key[4096], iv[256], tag[256], data[1 << 16], out[1 << 16];
	size_t key_len, iv_len, data_len, tag_len = 0;
	uint32_t alg, op;
	if (argc < 7 || acrypto_alg_from_name(argv[2], &alg) != ACRYPTO_STATUS_OK ||
	    unhex(argv[4], key, sizeof key, &key_len) || unhex(argv[5], iv, sizeof iv, &iv_len) ||
	    unhex(argv[6], data, sizeof data, &data_len) ||
	    (argc > 7 && unhex(argv[7], tag, sizeof tag, &tag_len))) {
		fprintf(stderr, "usage: crypt MODE ALG OP KEYHEX IVHEX DATAHEX [TAGHEX]\n");
		return 2;
	}
	op = (uint32_t)atoi(argv[3]);
	const char *mode = argv[1];

	acrypto_engine *e = NULL;
	acrypto_session *s = NULL;
	if (acrypto_engine_new_devices("soft:2", &e) != ACRYPTO_STATUS_OK)
		return 3;
	acrypto_step step = { alg, op, key, key_len, NULL };
	acrypto_status st = acrypto_session_new(e, &step, 1, 3, 0, NULL, &s);
	if (st != ACRYPTO_STATUS_OK) {
		printf("error %u\n", (unsigned)st);
		acrypto_engine_free(e);
		return 0;
	}
	acrypto_request r = { data, data_len, out, sizeof out, iv, iv_len,
			      tag, op == ACRYPTO_OP_VERIFY ? tag_len : sizeof tag, (void *)0x1234, NULL, 0, 0 };
	acrypto_completion c = { 0 };
	if (!strcmp(mode, "run")) {
		st = acrypto_session_run(s, &r, &c);
	} else if (!strcmp(mode, "callback") || !strcmp(mode, "batch")) {
		size_t accepted = 0;
		st = !strcmp(mode, "callback")
			     ? acrypto_session_submit(s, &r, on_done, ACRYPTO_SUBMIT_BLOCK)
			     : acrypto_session_submit_batch(s, &r, 1, on_done, 0, &accepted);
		if (st == ACRYPTO_STATUS_OK) {
			wait_callbacks(1);
			c = last;
			st = c.status;
		}
	} else if (!strcmp(mode, "queue")) {
		acrypto_queue *q = NULL;
		size_t n = 0;
		if (acrypto_queue_new(&q) != ACRYPTO_STATUS_OK)
			return 3;
		st = acrypto_session_submit_queue(s, &r, q, 0);
		if (st == ACRYPTO_STATUS_OK) {
			while (n == 0)
				acrypto_queue_wait(q, &c, 1, &n);
			st = c.status;
		}
		acrypto_queue_free(q);
	} else if (!strcmp(mode, "pending")) {
		acrypto_pending *p = NULL;
		st = acrypto_session_submit_pending(s, &r, 0, &p);
		if (st == ACRYPTO_STATUS_OK) {
			acrypto_pending_wait(p, &c);
			st = c.status;
		}
		acrypto_pending_free(p);
	} else {
		return 2;
	}
	if (st != ACRYPTO_STATUS_OK) {
		printf("error %u\n", (unsigned)st);
	} else {
		if (c.user != (void *)0x1234)
			return 4;
		if (c.out_len)
			puthex(out, c.out_len);
		else
			printf("-");
		printf(" ");
		if (c.tag_len && op != ACRYPTO_OP_VERIFY)
			puthex(tag, c.tag_len);
		else
			printf("-");
		printf("\n");
	}
	acrypto_session_free(s);
	acrypto_engine_free(e);
	return 0;
}
