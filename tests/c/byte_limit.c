/* The engine's byte limit from C (acrypto_engine_config_set_max_in_flight_bytes):
 * with a device that holds its work, 1 MiB requests are accepted until the
 * limit, then refused with ACRYPTO_STATUS_BUSY; the refused buffers stay the
 * caller's; once the queued work is canceled there is room again. */
#include "check.h"
#include <acrypto.h>
#include <stdint.h>

static void ready(void *ctx, acrypto_device *d)
{
	(void)ctx;
	(void)d; /* holds its work: nothing is dequeued */
}

static int canceled, completed;

static void cb(const acrypto_completion *done)
{
	if (done->status == ACRYPTO_STATUS_CANCELED)
		canceled++;
	completed++;
}

int main(void)
{
	enum { MIB = 1 << 20, N = 64 };
	static unsigned char data[MIB];
	unsigned char tag[32];
	acrypto_engine_config *c = NULL;
	acrypto_engine *e = NULL;
	acrypto_session *s = NULL;
	size_t accepted = 0, busy = 0;

	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_new(&c));
	EXPECT(ACRYPTO_STATUS_NULL_ARGUMENT, acrypto_engine_config_set_max_in_flight_bytes(NULL, 1));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_devices(c, ""));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_completion_workers(c, 0));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_config_set_max_in_flight_bytes(c, 8u * MIB));
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_new_config(c, &e));
	acrypto_engine_config_free(c);
	acrypto_driver_ops ops = { NULL, ready, NULL, NULL };
	acrypto_capability cap = { ACRYPTO_ALG_SHA256, 1024, 0 };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_device_register(e, "hold0", "hold", 3, &cap, 1, &ops, NULL));
	acrypto_step st = { ACRYPTO_ALG_SHA256, ACRYPTO_OP_DIGEST, NULL, 0, NULL };
	EXPECT(ACRYPTO_STATUS_OK, acrypto_session_new(e, &st, 1, 0, ACRYPTO_SESSION_DIRECT, NULL, &s));
	acrypto_request r = { data, MIB, NULL, 0, NULL, 0, tag, 32, NULL, NULL, 0, 0 };
	for (int i = 0; i < N; i++) {
		acrypto_status got = acrypto_session_submit(s, &r, cb, 0);
		if (got == ACRYPTO_STATUS_OK)
			accepted++;
		else if (got == ACRYPTO_STATUS_BUSY)
			busy++;
		else
			CHECK(!"unexpected status");
	}
	/* 8 MiB hold at most 8 requests of 1 MiB (and their tags). */
	CHECK(accepted >= 1 && accepted <= 8);
	CHECK(busy == N - accepted);
	EXPECT(ACRYPTO_STATUS_OK, acrypto_engine_remove_device(e, "hold0", ACRYPTO_REMOVE_MODE_CANCEL));
	CHECK(canceled == (int)accepted && completed == (int)accepted);
	acrypto_session_free(s);
	acrypto_engine_free(e);
	return summary("byte_limit");
}
