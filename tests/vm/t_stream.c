// SPDX-License-Identifier: MIT
/*
 * t_stream: hash and HMAC streams through the batch path
 * (ACRYPTO_DEV_REQ_CONTINUE / ACRYPTO_DEV_REQ_EXPORT, sealed states).
 *
 *  - for every kernel driver of sha1, sha256, hmac(sha1), hmac(sha256) in
 *    /proc/crypto: random messages cut at random points (empty pieces and
 *    pieces of max_buffer included) give the module's one-shot digest and
 *    libcrypto's;
 *  - a state from another fd, another session (same key), the same
 *    session after a key change, another algorithm, or with any one byte
 *    changed is refused with EBADMSG at submission; nothing is imported
 *    (the right state still works afterwards);
 *  - wrong lengths and fields: EINVAL, ENOSPC, EFAULT;
 *  - the synchronous flow: FILL_DATA with ACRYPTO_DEV_FILL_STATE and
 *    SESSION_ADD with ACRYPTO_DEV_ADD_EXPORT stream the same way, with the
 *    same refusals.
 */
#include "common.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>

struct alg {
	const char *name;
	uint32_t op, type;
	const char *md;
};

static const struct alg algs[] = {
	{ "sha1", ACRYPTO_DEV_OP_HASH, ACRYPTO_DEV_TYPE_SHA1, "SHA1" },
	{ "sha256", ACRYPTO_DEV_OP_HASH, ACRYPTO_DEV_TYPE_SHA256, "SHA256" },
	{ "hmac(sha1)", ACRYPTO_DEV_OP_HMAC, ACRYPTO_DEV_TYPE_SHA1, "SHA1" },
	{ "hmac(sha256)", ACRYPTO_DEV_OP_HMAC, ACRYPTO_DEV_TYPE_SHA256, "SHA256" },
};

static uint64_t rng_state = 0x5eed5eed12345ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/*
 * One request of a stream: returns the completion's status (or the
 * submission's -errno) and sets *out_len.
 */
static int step(int fd, uint32_t sid, uint32_t flags, const void *data, uint32_t len,
		const void *in, uint32_t in_len, void *out, uint32_t out_len, void *digest,
		uint32_t *got)
{
	struct acrypto_request q;
	struct acrypto_completion c;
	int ret;

	memset(&q, 0, sizeof(q));
	q.tag = 7;
	q.session_id = sid;
	q.src = uptr(data);
	q.src_len = len;
	q.flags = flags;
	if (flags & ACRYPTO_DEV_REQ_CONTINUE) {
		q.state = uptr(in);
		q.state_len = in_len;
	}
	if (flags & ACRYPTO_DEV_REQ_EXPORT) {
		q.state_out = uptr(out);
		q.state_out_len = out_len;
	} else {
		q.digest = uptr(digest);
		q.digest_len = 64;
	}
	ret = submit(fd, &q, 1);
	if (ret < 0)
		return ret;
	if (ret != 1)
		return -EPIPE;
	ret = read_all(fd, &c, 1);
	if (ret)
		return ret;
	if (got)
		*got = c.out_len;
	return c.status;
}

static int session(int fd, const struct alg *a, const char *driver, const uint8_t *key,
		   uint32_t klen, struct acrypto_session_alloc *out)
{
	int id = sess_alloc(fd, a->op, a->type, ACRYPTO_DEV_MODE_NONE, driver, 0, out);

	if (id > 0 && a->op == ACRYPTO_DEV_OP_HMAC && sess_setkey(fd, (uint32_t)id, key, klen)) {
		sess_free(fd, (uint32_t)id);
		return -EINVAL;
	}
	return id;
}

static unsigned int reference(const struct alg *a, const uint8_t *key, uint32_t klen,
			      const uint8_t *msg, size_t len, uint8_t *md)
{
	const EVP_MD *m = EVP_get_digestbyname(a->md);
	unsigned int n = 0;

	if (a->op == ACRYPTO_DEV_OP_HMAC)
		HMAC(m, key, (int)klen, msg, len, md, &n);
	else
		EVP_Digest(msg, len, md, &n, m, NULL);
	return n;
}

/*
 * Streams msg through session sid in the pieces cut[0..ncut) (lengths);
 * writes the digest. Returns 0 or the first error.
 */
static int stream(int fd, uint32_t sid, uint32_t state_size, const uint8_t *msg,
		  const uint32_t *cut, int ncut, uint8_t *digest)
{
	static uint8_t st[2][ACRYPTO_DEV_MAX_STATE_LEN];
	size_t off = 0;
	int have = 0, cur = 0;

	for (int i = 0; i < ncut; i++) {
		uint32_t flags = (have ? ACRYPTO_DEV_REQ_CONTINUE : 0);
		uint32_t got = 0;
		int last = i == ncut - 1, ret;

		if (!last)
			flags |= ACRYPTO_DEV_REQ_EXPORT;
		ret = step(fd, sid, flags, msg + off, cut[i], st[cur], state_size, st[!cur],
			   sizeof(st[0]), digest, &got);
		if (ret)
			return ret;
		if (!last) {
			if (got != state_size)
				return -EPROTO;
			cur = !cur;
			have = 1;
		}
		off += cut[i];
	}
	return 0;
}

/* Random messages, random cuts, on one driver of one algorithm. */
static void splits(const struct alg *a, const char *driver, uint32_t max_buffer, int trials)
{
	struct acrypto_session_alloc sa;
	uint8_t key[80], dig[64], ref[64], one[64];
	static uint8_t msg[4 * 65536 + 100];
	uint32_t cut[40];
	int fd = dev_open(), bad = 0, done = 0;
	uint32_t klen = 1 + rnd() % sizeof(key);
	int sid;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)rnd();
	sid = session(fd, a, driver, key, klen, &sa);
	if (sid <= 0 || !sa.state_size) {
		t_result(0, "%s on %s: session with state_size (%d, %u)", a->name, driver, sid,
			 sid > 0 ? sa.state_size : 0);
		close(fd);
		return;
	}
	for (int t = 0; t < trials; t++) {
		size_t len = 0;
		int ncut = 1 + (int)(rnd() % 12), ret;
		unsigned int n;

		for (int i = 0; i < ncut; i++) {
			uint32_t r = rnd() % 8;
			uint32_t lim = sizeof(msg) - len;

			/* empty, tiny, around a block, large, the largest */
			cut[i] = r == 0 ? 0 : r < 3 ? rnd() % 70 : r < 6 ? rnd() % 5000 :
				 r < 7 ? rnd() % max_buffer : max_buffer;
			if (cut[i] > max_buffer / 4 && t % 4)	/* keep most trials quick */
				cut[i] = rnd() % 300;
			if (cut[i] > max_buffer)	/* one request's limit */
				cut[i] = max_buffer;
			if (cut[i] > lim)
				cut[i] = lim;
			len += cut[i];
		}
		for (size_t i = 0; i < len; i++)
			msg[i] = (uint8_t)rnd();
		ret = stream(fd, (uint32_t)sid, sa.state_size, msg, cut, ncut, dig);
		n = reference(a, key, klen, msg, len, ref);
		if (ret || n != sa.out_size || memcmp(dig, ref, n)) {
			if (bad++ < 3)
				t_note("%s on %s: %zu bytes in %d pieces: status %d, %s", a->name,
				       driver, len, ncut, ret, ret ? "" : "digest differs from libcrypto");
			continue;
		}
		/* The module's one-shot digest agrees where one request holds it. */
		if (len <= max_buffer) {
			ret = step(fd, (uint32_t)sid, 0, msg, (uint32_t)len, NULL, 0, NULL, 0, one, NULL);
			if (ret || memcmp(one, ref, n)) {
				if (bad++ < 3)
					t_note("%s on %s: one-shot of %zu bytes: %d", a->name, driver, len,
					       ret);
				continue;
			}
		}
		done++;
	}
	t_result(!bad && done == trials,
		 "%s on %s: %d random messages in random pieces equal libcrypto and the one-shot (state %u bytes)",
		 a->name, driver, done, sa.state_size);
	close(fd);
}

static int export_one(int fd, uint32_t sid, uint32_t size, const void *data, uint32_t len,
		      uint8_t *out)
{
	uint32_t got = 0;
	int ret = step(fd, sid, ACRYPTO_DEV_REQ_EXPORT, data, len, NULL, 0, out,
		       ACRYPTO_DEV_MAX_STATE_LEN, NULL, &got);

	return ret ? ret : got == size ? 0 : -EPROTO;
}

/* Sealed states: what is refused, and that a refusal imports nothing. */
static void seals(const struct alg *a)
{
	static const uint8_t part1[] = "the first part, ", part2[] = "and the second";
	uint8_t key[32], st[ACRYPTO_DEV_MAX_STATE_LEN], bad[ACRYPTO_DEV_MAX_STATE_LEN];
	uint8_t other[ACRYPTO_DEV_MAX_STATE_LEN], dig[64], ref[64], msg[64];
	struct acrypto_session_alloc sa, sb;
	int fd = dev_open(), fd2 = dev_open(), ret, flips = 0, ok = 1;
	uint32_t size, got;
	int s1, s2, s3;
	unsigned int n;

	memset(key, 0x4b, sizeof(key));
	s1 = session(fd, a, NULL, key, sizeof(key), &sa);
	s2 = session(fd, a, NULL, key, sizeof(key), &sb);
	s3 = session(fd2, a, NULL, key, sizeof(key), NULL);
	if (s1 <= 0 || s2 <= 0 || s3 <= 0) {
		t_result(0, "%s: sessions (%d %d %d)", a->name, s1, s2, s3);
		goto out;
	}
	size = sa.state_size;
	t_result(size > 0 && size <= ACRYPTO_DEV_MAX_STATE_LEN && size == sb.state_size,
		 "%s: state_size %u reported", a->name, size);
	memcpy(msg, part1, sizeof(part1) - 1);
	memcpy(msg + sizeof(part1) - 1, part2, sizeof(part2) - 1);
	n = reference(a, key, sizeof(key), msg, sizeof(part1) + sizeof(part2) - 2, ref);
	ret = export_one(fd, (uint32_t)s1, size, part1, sizeof(part1) - 1, st);
	t_result(!ret, "%s: export (%d)", a->name, ret);
	if (ret)
		goto out;

	/* Every single byte changed: refused at submission. */
	for (uint32_t i = 0; i < size; i++) {
		memcpy(bad, st, size);
		bad[i] ^= (uint8_t)(1u << (i % 8));
		ret = step(fd, (uint32_t)s1, ACRYPTO_DEV_REQ_CONTINUE, part2, sizeof(part2) - 1, bad,
			   size, NULL, 0, dig, NULL);
		if (ret == -EBADMSG)
			flips++;
		else if (ok) {
			t_note("%s: byte %u changed: %d", a->name, i, ret);
			ok = 0;
		}
	}
	t_result(flips == (int)size, "%s: a state with any one of its %u bytes changed is EBADMSG",
		 a->name, size);
	ret = step(fd2, (uint32_t)s3, ACRYPTO_DEV_REQ_CONTINUE, part2, sizeof(part2) - 1, st, size,
		   NULL, 0, dig, NULL);
	t_result(ret == -EBADMSG, "%s: a state from another fd is EBADMSG (%d)", a->name, ret);
	ret = step(fd, (uint32_t)s2, ACRYPTO_DEV_REQ_CONTINUE, part2, sizeof(part2) - 1, st, size,
		   NULL, 0, dig, NULL);
	t_result(ret == -EBADMSG, "%s: a state from another session (same key) is EBADMSG (%d)",
		 a->name, ret);
	/* The refusals imported nothing: the state continues where it was. */
	memset(dig, 0, sizeof(dig));
	ret = step(fd, (uint32_t)s1, ACRYPTO_DEV_REQ_CONTINUE, part2, sizeof(part2) - 1, st, size,
		   NULL, 0, dig, &got);
	t_result(!ret && got == n && !memcmp(dig, ref, n),
		 "%s: after the refusals the state still gives libcrypto's digest (%d)", a->name, ret);
	/* The same state twice: states are values, not consumed. */
	memset(dig, 0, sizeof(dig));
	ret = step(fd, (uint32_t)s1, ACRYPTO_DEV_REQ_CONTINUE, part2, sizeof(part2) - 1, st, size,
		   NULL, 0, dig, &got);
	t_result(!ret && !memcmp(dig, ref, n), "%s: a state continues twice the same (%d)", a->name,
		 ret);

	/* Lengths and fields. */
	ret = step(fd, (uint32_t)s1, ACRYPTO_DEV_REQ_CONTINUE, part2, 3, st, size - 1, NULL, 0, dig,
		   NULL);
	t_result(ret == -EINVAL, "%s: state_len one short is EINVAL (%d)", a->name, ret);
	ret = step(fd, (uint32_t)s1, ACRYPTO_DEV_REQ_EXPORT, part2, 3, NULL, 0, other, size - 1, NULL,
		   NULL);
	t_result(ret == -ENOSPC, "%s: state_out_len one short is ENOSPC (%d)", a->name, ret);
	ret = step(fd, (uint32_t)s1, ACRYPTO_DEV_REQ_CONTINUE, part2, 3, (void *)8, size, NULL, 0, dig,
		   NULL);
	t_result(ret == -EFAULT, "%s: an unreadable state is EFAULT (%d)", a->name, ret);
	ret = step(fd, (uint32_t)s1, 1u << 7, part2, 3, NULL, 0, NULL, 0, dig, NULL);
	t_result(ret == -EINVAL, "%s: an unknown request flag is EINVAL (%d)", a->name, ret);
	{
		struct acrypto_request q;

		memset(&q, 0, sizeof(q));
		q.session_id = (uint32_t)s1;
		q.src = uptr(part2);
		q.src_len = 3;
		q.flags = ACRYPTO_DEV_REQ_EXPORT;
		q.state_out = uptr(other);
		q.state_out_len = sizeof(other);
		q.digest = uptr(dig);
		q.digest_len = 64;
		ret = submit(fd, &q, 1);
		t_result(ret == -EINVAL, "%s: EXPORT with a digest is EINVAL (%d)", a->name, ret);
		q.digest = 0;
		q.digest_len = 0;
		q.flags = 0;
		ret = submit(fd, &q, 1);
		t_result(ret == -EINVAL, "%s: state_out without EXPORT is EINVAL (%d)", a->name, ret);
		q.flags = ACRYPTO_DEV_REQ_EXPORT;
		q.state_out = 0;
		ret = submit(fd, &q, 1);
		t_result(ret == -EINVAL, "%s: EXPORT without state_out is EINVAL (%d)", a->name, ret);
	}
	if (a->op == ACRYPTO_DEV_OP_HMAC) {
		/* The same key set again: the session's earlier states are retired. */
		ret = sess_setkey(fd, (uint32_t)s1, key, sizeof(key));
		if (!ret)
			ret = step(fd, (uint32_t)s1, ACRYPTO_DEV_REQ_CONTINUE, part2, sizeof(part2) - 1,
				   st, size, NULL, 0, dig, NULL);
		t_result(ret == -EBADMSG, "%s: a state from before a key change is EBADMSG (%d)",
			 a->name, ret);
	}
out:
	close(fd);
	close(fd2);
}

/* A state of one algorithm on a session of another. */
static void cross_alg(void)
{
	uint8_t key[16] = { 1 }, st[ACRYPTO_DEV_MAX_STATE_LEN], dig[64];
	struct acrypto_session_alloc sa, sh;
	int fd = dev_open(), ret;
	int h = session(fd, &algs[1], NULL, key, sizeof(key), &sa);
	int m = session(fd, &algs[3], NULL, key, sizeof(key), &sh);
	int c = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CBC,
			   NULL, 0, NULL);

	ret = export_one(fd, (uint32_t)h, sa.state_size, "abc", 3, st);
	if (!ret)
		ret = step(fd, (uint32_t)m, ACRYPTO_DEV_REQ_CONTINUE, "d", 1, st, sh.state_size, NULL,
			   0, dig, NULL);
	t_result(sa.state_size == sh.state_size && ret == -EBADMSG,
		 "a sha256 state on an hmac(sha256) session is EBADMSG (%d)", ret);
	if (c > 0) {
		struct acrypto_request q;
		uint8_t buf[16], iv[16] = { 0 };

		sess_setkey(fd, (uint32_t)c, key, sizeof(key));
		memset(&q, 0, sizeof(q));
		q.session_id = (uint32_t)c;
		q.src = q.dst = uptr(buf);
		q.src_len = q.dst_len = 16;
		q.iv = uptr(iv);
		q.iv_len = 16;
		q.flags = ACRYPTO_DEV_REQ_EXPORT;
		q.state_out = uptr(st);
		q.state_out_len = sizeof(st);
		ret = submit(fd, &q, 1);
		t_result(ret == -EINVAL, "stream flags on a cipher session are EINVAL (%d)", ret);
	}
	close(fd);
}

/* FILL_DATA of a source and, when @state_len, a state (or none: @clear). */
static int fill(int fd, uint32_t sid, const void *src, uint32_t len, const void *state,
		uint32_t state_len, int clear)
{
	struct acrypto_fill_data f;

	memset(&f, 0, sizeof(f));
	f.session_id = sid;
	f.flags = ACRYPTO_DEV_FILL_SRC | (state_len || clear ? ACRYPTO_DEV_FILL_STATE : 0);
	f.src = uptr(src);
	f.src_len = len;
	f.state = state_len ? uptr(state) : 0;	/* no pointer without a length */
	f.state_len = state_len;
	return xioctl(fd, CRYPTO_FILL_DATA, &f);
}

static int add(int fd, uint32_t sid, uint32_t flags, void *dst, uint32_t dst_len)
{
	struct acrypto_session_add a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.session_id = sid;
	a.flags = flags;
	a.dst = uptr(dst);
	a.dst_len = dst_len;
	ret = xioctl(fd, CRYPTO_SESSION_ADD, &a);
	return ret ? ret : (int)a.dst_len;
}

/* The synchronous flow's streams on the kernel's default driver. */
static void sync_streams(const struct alg *a, uint32_t max_buffer, int trials)
{
	static uint8_t msg[8 * 4096 + 77];
	uint8_t key[24], st[ACRYPTO_DEV_MAX_STATE_LEN], bad[ACRYPTO_DEV_MAX_STATE_LEN];
	uint8_t dig[64], ref[64];
	struct acrypto_session_alloc sa;
	int fd = dev_open(), fd2 = dev_open(), done = 0, ret, ok;
	uint32_t src_size = max_buffer < 4096 ? max_buffer : 4096;
	int sid, sid2;
	unsigned int n;

	memset(key, 0x33, sizeof(key));
	memset(&sa, 0, sizeof(sa));
	sid = sess_alloc(fd, a->op, a->type, ACRYPTO_DEV_MODE_NONE, NULL, src_size, &sa);
	sid2 = sess_alloc(fd2, a->op, a->type, ACRYPTO_DEV_MODE_NONE, NULL, src_size, NULL);
	if (sid <= 0 || sid2 <= 0) {
		t_result(0, "%s: synchronous sessions (%d %d)", a->name, sid, sid2);
		goto out;
	}
	if (a->op == ACRYPTO_DEV_OP_HMAC && (sess_setkey(fd, (uint32_t)sid, key, sizeof(key)) ||
					     sess_setkey(fd2, (uint32_t)sid2, key, sizeof(key)))) {
		t_result(0, "%s: synchronous keys", a->name);
		goto out;
	}
	for (int t = 0; t < trials; t++) {
		size_t len = rnd() % sizeof(msg), off = 0;
		int have = 0, good = 1;

		for (size_t i = 0; i < len; i++)
			msg[i] = (uint8_t)rnd();
		/* Fresh: no state filled (a state from the last trial is dropped). */
		ret = fill(fd, (uint32_t)sid, msg, 0, NULL, 0, 1);
		while (good && !ret) {
			uint32_t piece = rnd() % 3 ? rnd() % (src_size + 1) : src_size;
			int last;

			if (piece > len - off)
				piece = (uint32_t)(len - off);
			last = off + piece == len && rnd() % 2;
			ret = fill(fd, (uint32_t)sid, msg + off, piece, st, have ? sa.state_size : 0, 0);
			if (ret)
				break;
			ret = last ? add(fd, (uint32_t)sid, 0, dig, sizeof(dig)) :
				     add(fd, (uint32_t)sid, ACRYPTO_DEV_ADD_EXPORT, st, sizeof(st));
			if (ret < 0)
				break;
			if (!last && ret != (int)sa.state_size)
				good = 0;
			off += piece;
			have = 1;
			ret = 0;
			if (last)
				break;
		}
		n = reference(a, key, sizeof(key), msg, len, ref);
		if (!ret && good && !memcmp(dig, ref, n))
			done++;
		else if (t - done < 3)
			t_note("%s: synchronous stream of %zu bytes: %d", a->name, len, ret);
		memset(dig, 0, sizeof(dig));
	}
	t_result(done == trials, "%s: %d synchronous streams (FILL_STATE, ADD_EXPORT) equal libcrypto",
		 a->name, done);

	/* Refusals: a changed state, another fd's, a wrong length, a cipher session. */
	ok = !fill(fd, (uint32_t)sid, msg, 0, NULL, 0, 1) &&
	     !fill(fd, (uint32_t)sid, msg, 100, NULL, 0, 0) &&
	     add(fd, (uint32_t)sid, ACRYPTO_DEV_ADD_EXPORT, st, sizeof(st)) == (int)sa.state_size;
	memcpy(bad, st, sizeof(st));
	bad[sa.state_size / 2] ^= 0x10;
	ret = ok ? fill(fd, (uint32_t)sid, msg + 100, 10, bad, sa.state_size, 0) : -1;
	ret = ret ? ret : add(fd, (uint32_t)sid, 0, dig, sizeof(dig));
	t_result(ret == -EBADMSG, "%s: ADD from a changed filled state is EBADMSG (%d)", a->name, ret);
	ret = fill(fd2, (uint32_t)sid2, msg + 100, 10, st, sa.state_size, 0);
	ret = ret ? ret : add(fd2, (uint32_t)sid2, 0, dig, sizeof(dig));
	t_result(ret == -EBADMSG, "%s: ADD from another fd's state is EBADMSG (%d)", a->name, ret);
	ret = fill(fd, (uint32_t)sid, msg + 100, 10, st, sa.state_size - 8, 0);
	t_result(ret == -EINVAL, "%s: FILL_STATE of a wrong length is EINVAL (%d)", a->name, ret);
	ret = fill(fd, (uint32_t)sid, msg + 100, 10, st, sa.state_size, 0);
	ret = ret ? ret : add(fd, (uint32_t)sid, ACRYPTO_DEV_ADD_EXPORT, bad, sa.state_size - 1);
	t_result(ret == -ENOSPC, "%s: ADD_EXPORT into less than state_size is ENOSPC (%d)", a->name,
		 ret);
	ret = add(fd, (uint32_t)sid, 1u << 5, dig, sizeof(dig));
	t_result(ret == -EINVAL, "%s: an unknown ADD flag is EINVAL (%d)", a->name, ret);
	/* The refusals changed nothing: the state still ends right. */
	ret = add(fd, (uint32_t)sid, 0, dig, sizeof(dig));
	n = reference(a, key, sizeof(key), msg, 110, ref);
	t_result(ret == (int)n && !memcmp(dig, ref, n),
		 "%s: after the refusals the filled state gives libcrypto's digest (%d)", a->name, ret);
	if (a->op == ACRYPTO_DEV_OP_HMAC) {
		ret = sess_setkey(fd, (uint32_t)sid, key, sizeof(key));
		ret = ret ? ret : add(fd, (uint32_t)sid, 0, dig, sizeof(dig));
		n = reference(a, key, sizeof(key), msg + 100, 10, ref);
		t_result(ret == (int)n && !memcmp(dig, ref, n),
			 "%s: a key set drops the filled state: the next ADD starts fresh (%d)",
			 a->name, ret);
	}
out:
	close(fd);
	close(fd2);
}

/* FILL_STATE and ADD_EXPORT on a cipher session. */
static void sync_cipher_refusals(void)
{
	uint8_t key[16] = { 2 }, st[ACRYPTO_DEV_MAX_STATE_LEN] = { 0 }, buf[16] = { 0 };
	struct acrypto_fill_data f;
	int fd = dev_open(), ret;
	int c = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_ECB,
			   NULL, 16, NULL);

	if (c <= 0 || sess_setkey(fd, (uint32_t)c, key, sizeof(key))) {
		t_result(0, "cipher session (%d)", c);
		close(fd);
		return;
	}
	memset(&f, 0, sizeof(f));
	f.session_id = (uint32_t)c;
	f.flags = ACRYPTO_DEV_FILL_STATE;
	f.state = uptr(st);
	f.state_len = 144;
	ret = xioctl(fd, CRYPTO_FILL_DATA, &f);
	t_result(ret == -EINVAL, "FILL_STATE on a cipher session is EINVAL (%d)", ret);
	f.flags = ACRYPTO_DEV_FILL_SRC;
	f.src = uptr(buf);
	f.src_len = 16;
	ret = xioctl(fd, CRYPTO_FILL_DATA, &f);
	t_result(ret == -EINVAL, "a state pointer without FILL_STATE is EINVAL (%d)", ret);
	ret = sess_fill(fd, (uint32_t)c, ACRYPTO_DEV_FILL_SRC, NULL, 0, NULL, 0, buf, 16);
	ret = ret ? ret : add(fd, (uint32_t)c, ACRYPTO_DEV_ADD_EXPORT, st, sizeof(st));
	t_result(ret == -EINVAL, "ADD_EXPORT on a cipher session is EINVAL (%d)", ret);
	close(fd);
}

int main(int argc, char **argv)
{
	struct acrypto_info info;
	struct kdrv list[128];
	int fd = dev_open(), n, trials = argc > 1 ? atoi(argv[1]) : 40;

	memset(&info, 0, sizeof(info));
	if (xioctl(fd, ACRYPTO_IOC_INFO, &info)) {
		t_result(0, "INFO");
		return t_exit();
	}
	t_result(info.request_size == sizeof(struct acrypto_request),
		 "INFO: request_size %u is this header's %zu", info.request_size,
		 sizeof(struct acrypto_request));
	kdrv_instantiate(fd);
	/* cryptd instances too: their init/update/final are asynchronous. */
	for (size_t i = 0; i < 2; i++) {
		static const char *const cd[] = { "cryptd(sha256-generic)", "cryptd(hmac(sha1-generic))" };
		int id = sess_alloc(fd, ACRYPTO_DEV_OP_HASH + (uint32_t)i, i ? ACRYPTO_DEV_TYPE_SHA1 :
				    ACRYPTO_DEV_TYPE_SHA256, ACRYPTO_DEV_MODE_NONE, cd[i], 0, NULL);

		if (id > 0)
			sess_free(fd, (uint32_t)id);
		else
			t_note("%s: %d", cd[i], id);
	}
	close(fd);
	n = kdrv_list(list, 128);
	for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
		int drivers = 0;

		for (int i = 0; i < n; i++) {
			if (strcmp(list[i].name, algs[a].name))
				continue;
			drivers++;
			splits(&algs[a], list[i].driver, info.max_buffer, trials);
		}
		t_result(drivers > 0, "%s: %d kernel drivers streamed", algs[a].name, drivers);
		seals(&algs[a]);
		sync_streams(&algs[a], info.max_buffer, trials);
	}
	cross_alg();
	sync_cipher_refusals();
	return t_exit();
}
