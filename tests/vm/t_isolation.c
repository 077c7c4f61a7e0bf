// SPDX-License-Identifier: MIT
/*
 * Two file descriptors never see each other's sessions: ids are per fd, a
 * session id of fd B is unknown (-ENOENT) on fd A, and the same id number on
 * two fds names two different sessions (different keys, different output).
 */
#include "common.h"

static int encrypt_block(int fd, uint32_t id, unsigned char out[16])
{
	static const unsigned char zero[16];

	if (sess_fill(fd, id, ACRYPTO_DEV_FILL_SRC, NULL, 0, NULL, 0, zero, 16))
		return -1;
	return sess_add(fd, id, out, 16) == 16 ? 0 : -1;
}

int main(void)
{
	unsigned char ka[16], kb[16], oa[16], ob[16], buf[16];
	struct acrypto_request rq;
	int a = dev_open(), b = dev_open();
	int ida, idb[3], ret, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(ka, 0xaa, sizeof(ka));
	memset(kb, 0xbb, sizeof(kb));

	ida = sess_alloc(a, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_ECB, NULL, 64, NULL);
	for (i = 0; i < 3; i++)
		idb[i] = sess_alloc(b, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_ECB,
				    NULL, 64, NULL);
	t_result(ida == 1 && idb[0] == 1 && idb[2] == 3, "session ids are per fd (A: %d, B: %d %d %d)",
		 ida, idb[0], idb[1], idb[2]);
	if (ida < 0 || idb[2] < 0)
		return t_exit();
	sess_setkey(a, (uint32_t)ida, ka, 16);
	for (i = 0; i < 3; i++)
		sess_setkey(b, (uint32_t)idb[i], kb, 16);

	/* B's id 3 does not exist on A, whatever the call. */
	ret = sess_setkey(a, (uint32_t)idb[2], kb, 16);
	t_result(ret == -ENOENT, "FILL_DATA with fd B's session on fd A: %s", strerror(-ret));
	ret = sess_fill(a, (uint32_t)idb[2], ACRYPTO_DEV_FILL_SRC, NULL, 0, NULL, 0, buf, 16);
	t_result(ret == -ENOENT, "FILL_DATA src with fd B's session on fd A: %s", strerror(-ret));
	ret = sess_add(a, (uint32_t)idb[2], buf, 16);
	t_result(ret == -ENOENT, "SESSION_ADD with fd B's session on fd A: %s", strerror(-ret));
	memset(&rq, 0, sizeof(rq));
	rq.session_id = (uint32_t)idb[2];
	rq.src = uptr(buf);
	rq.dst = uptr(buf);
	rq.src_len = rq.dst_len = 16;
	ret = submit(a, &rq, 1);
	t_result(ret == -ENOENT, "SUBMIT with fd B's session on fd A: %s", strerror(-ret));
	ret = sess_free(a, (uint32_t)idb[2]);
	t_result(ret == -ENOENT, "SESSION_FREE of fd B's session on fd A: %s", strerror(-ret));

	/* Id 1 on A and id 1 on B are different sessions with different keys. */
	ret = encrypt_block(a, 1, oa) | encrypt_block(b, 1, ob);
	t_result(!ret && memcmp(oa, ob, 16), "id 1 on fd A and id 1 on fd B are distinct sessions");

	/* A's completions never show up on B. */
	rq.session_id = (uint32_t)ida;
	rq.tag = 0xa;
	ret = submit(a, &rq, 1);
	{
		struct acrypto_completion c;
		int fl = fcntl(b, F_GETFL);
		ssize_t n;

		fcntl(b, F_SETFL, fl | O_NONBLOCK);
		usleep(100000);
		n = read(b, &c, sizeof(c));
		t_result(ret == 1 && n < 0 && errno == EAGAIN,
			 "fd A's completion is not readable on fd B (read %zd)", n);
		t_result(read_all(a, &c, 1) == 0 && c.tag == 0xa && c.status == 0,
			 "fd A reads its own completion");
	}
	/* Freeing on B leaves A's session alone. */
	sess_free(b, 1);
	t_result(encrypt_block(a, 1, oa) == 0, "freeing id 1 on fd B keeps id 1 on fd A");
	close(b);
	t_result(encrypt_block(a, 1, oa) == 0, "closing fd B keeps fd A's sessions");
	close(a);
	printf("t_isolation: %d passed, %d failed\n", t_passed, t_failed);
	return t_exit();
}
