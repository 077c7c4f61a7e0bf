// SPDX-License-Identifier: MIT
/*
 * The rules that let the ABI grow (include/uapi/linux/acrypto.h):
 *  - every field that must be zero (pads, flags not defined, out fields on
 *    input, fields that do not apply to the operation) set non-zero is
 *    -EINVAL, one case per field, and changes nothing (the fd's session
 *    count, ACRYPTO_IOC_INFO, stays as it was);
 *  - structures grow by size: a larger _IOC_SIZE with a zero tail works, a
 *    non-zero tail is -E2BIG, a smaller one than the first version or one
 *    over 4096 bytes is -ENOTTY; output beyond the module's structure is
 *    written as zero; batch entries follow the submit header's stride;
 *  - CRYPTO_FILL_DATA is all or nothing: a faulting IV or source, or a
 *    refused length, leaves the key, IV and source as they were.
 */
#include <sys/mman.h>

#include "common.h"

static unsigned char key1[16] = { 1 }, key2[16] = { 2 }, iv1[16] = { 3 }, iv2[16] = { 4 };
static unsigned char src1[64] = { 5 }, src2[64] = { 6 };

static int sessions(int fd)
{
	struct acrypto_info info;

	memset(&info, 0, sizeof(info));
	return xioctl(fd, ACRYPTO_IOC_INFO, &info) ? -1 : (int)info.sessions;
}

static void test_alloc_zero_fields(int fd)
{
	static const char *const what[] = { "flags", "__pad", "session_id", "key_size", "iv_size",
					    "block_size", "out_size", "driver_flags",
					    "bound_driver[0]", "bound_driver[127]",
					    "driver after its NUL", "mode of a hash",
					    "type of an RNG" };
	int before = sessions(fd), bad = 0, n = (int)(sizeof(what) / sizeof(what[0]));

	for (int k = 0; k < n; k++) {
		struct acrypto_session_alloc a;
		int ret;

		memset(&a, 0, sizeof(a));
		a.operation = ACRYPTO_DEV_OP_ENCRYPT;
		a.type = ACRYPTO_DEV_TYPE_AES_128;
		a.mode = ACRYPTO_DEV_MODE_CBC;
		a.src_size = 64;
		switch (k) {
		case 0: a.flags = 1; break;
		case 1: a.__pad = 1; break;
		case 2: a.session_id = 7; break;
		case 3: a.key_size = 16; break;
		case 4: a.iv_size = 16; break;
		case 5: a.block_size = 16; break;
		case 6: a.out_size = 1; break;
		case 7: a.driver_flags = 1; break;
		case 8: a.bound_driver[0] = 'x'; break;
		case 9: a.bound_driver[127] = 'x'; break;
		case 10: strcpy(a.driver, "cbc-aes-aesni"); a.driver[100] = 'x'; break;
		case 11: a.operation = ACRYPTO_DEV_OP_HASH; a.type = ACRYPTO_DEV_TYPE_SHA1;
			 a.mode = ACRYPTO_DEV_MODE_CBC; break;
		case 12: a.operation = ACRYPTO_DEV_OP_RNG; a.type = ACRYPTO_DEV_TYPE_AES_128;
			 a.mode = ACRYPTO_DEV_MODE_NONE; break;
		}
		ret = xioctl(fd, CRYPTO_SESSION_ALLOC, &a);
		if (ret != -EINVAL) {
			bad++;
			t_note("SESSION_ALLOC with %s set: %s", what[k], ret ? strerror(-ret) : "accepted");
		}
	}
	t_result(!bad && sessions(fd) == before,
		 "CRYPTO_SESSION_ALLOC: each of %d must-be-zero fields set gives EINVAL, no session made",
		 n);
}

static void test_fill_zero_fields(int fd, int cbc, int sha, int rng)
{
	static const char *const what[] = { "unknown flag", "__pad", "key without FILL_KEY",
					    "key_len without FILL_KEY", "iv without FILL_IV",
					    "iv_len without FILL_IV", "src without FILL_SRC",
					    "src_len without FILL_SRC", "a key for a hash",
					    "a source pointer for an RNG", "no flag at all" };
	int bad = 0, n = (int)(sizeof(what) / sizeof(what[0]));

	for (int k = 0; k < n; k++) {
		struct acrypto_fill_data d;
		int ret;

		memset(&d, 0, sizeof(d));
		d.session_id = (uint32_t)cbc;
		d.flags = ACRYPTO_DEV_FILL_IV;
		d.iv = uptr(iv1);
		d.iv_len = 16;
		switch (k) {
		case 0: d.flags |= 1u << 3; break;
		case 1: d.__pad = 1; break;
		case 2: d.key = uptr(key1); break;
		case 3: d.key_len = 16; break;
		case 4: d.flags = ACRYPTO_DEV_FILL_KEY; d.key = uptr(key1); d.key_len = 16; break;
		case 5: d.flags = ACRYPTO_DEV_FILL_KEY; d.key = uptr(key1); d.key_len = 16;
			d.iv = 0; break;
		case 6: d.src = uptr(src1); break;
		case 7: d.src_len = 16; break;
		case 8: d.session_id = (uint32_t)sha; d.flags = ACRYPTO_DEV_FILL_KEY;
			d.key = uptr(key1); d.key_len = 16; d.iv = 0; d.iv_len = 0; break;
		case 9: d.session_id = (uint32_t)rng; d.flags = ACRYPTO_DEV_FILL_SRC;
			d.src = uptr(src1); d.src_len = 16; d.iv = 0; d.iv_len = 0; break;
		case 10: d.flags = 0; d.iv = 0; d.iv_len = 0; break;
		}
		if (k == 4)	/* key with an IV pointer but no FILL_IV */
			d.iv = uptr(iv1), d.iv_len = 0;
		if (k == 5)	/* key with an IV length but no FILL_IV */
			d.iv_len = 16;
		ret = xioctl(fd, CRYPTO_FILL_DATA, &d);
		if (ret != -EINVAL) {
			bad++;
			t_note("FILL_DATA with %s: %s", what[k], ret ? strerror(-ret) : "accepted");
		}
	}
	t_result(!bad, "CRYPTO_FILL_DATA: each of %d must-be-zero or inapplicable fields gives EINVAL",
		 n);
}

static void test_add_free_zero_fields(int fd, int cbc)
{
	struct acrypto_session_add a;
	struct acrypto_session_free f;
	unsigned char out[64];
	int r1, r2, r3;

	memset(&a, 0, sizeof(a));
	a.session_id = (uint32_t)cbc;
	a.dst = uptr(out);
	a.dst_len = sizeof(out);
	a.flags = 1;
	r1 = xioctl(fd, CRYPTO_SESSION_ADD, &a);
	a.flags = 0;
	a.__pad = 1;
	r2 = xioctl(fd, CRYPTO_SESSION_ADD, &a);
	memset(&f, 0, sizeof(f));
	f.session_id = (uint32_t)cbc;
	f.__pad = 1;
	r3 = xioctl(fd, ACRYPTO_IOC_SESSION_FREE, &f);
	t_result(r1 == -EINVAL && r2 == -EINVAL && r3 == -EINVAL && sess_add(fd, (uint32_t)cbc, out, 64) == 64,
		 "CRYPTO_SESSION_ADD flags, __pad and SESSION_FREE __pad: EINVAL (%d %d %d), the session "
		 "still works", r1, r2, r3);
}

static int submit_raw(int fd, void *reqs, uint32_t n, uint32_t stride, uint32_t flags,
		      uint32_t submitted)
{
	struct acrypto_submit s;
	int ret;

	memset(&s, 0, sizeof(s));
	s.reqs = uptr(reqs);
	s.count = n;
	s.entry_size = stride;
	s.flags = flags;
	s.submitted = submitted;
	ret = xioctl(fd, ACRYPTO_IOC_SUBMIT, &s);
	return ret ? ret : (int)s.submitted;
}

static void base_request(struct acrypto_request *q, int kind, int id, unsigned char *buf,
			 unsigned char *digest)
{
	memset(q, 0, sizeof(*q));
	q->session_id = (uint32_t)id;
	switch (kind) {
	case 0:	/* cipher */
		q->src = q->dst = uptr(buf);
		q->src_len = q->dst_len = 64;
		q->iv = uptr(iv1);
		q->iv_len = 16;
		break;
	case 1:	/* hash */
		q->src = uptr(buf);
		q->src_len = 64;
		q->digest = uptr(digest);
		q->digest_len = 32;
		break;
	default:	/* RNG */
		q->dst = uptr(buf);
		q->dst_len = 64;
		break;
	}
}

static void test_submit_zero_fields(int fd, int cbc, int ecb, int sha, int rng)
{
	static unsigned char buf[64], digest[64];
	struct acrypto_request q;
	struct acrypto_completion c;
	int bad = 0, cases = 0, ret;
	/* kind, field: what is set non-zero */
	static const struct {
		int kind;
		const char *what;
	} z[] = {
		{ 0, "flags" }, { 0, "__pad" }, { 0, "digest" }, { 0, "digest_len" }, { 0, "op 3" },
		{ 3, "iv of ECB" },
		{ 1, "op" }, { 1, "dst" }, { 1, "dst_len" }, { 1, "iv" }, { 1, "iv_len" },
		{ 2, "op" }, { 2, "src" }, { 2, "src_len" }, { 2, "iv" }, { 2, "iv_len" },
		{ 2, "digest" }, { 2, "digest_len" },
	};

	for (size_t k = 0; k < sizeof(z) / sizeof(z[0]); k++) {
		int kind = z[k].kind == 3 ? 0 : z[k].kind;
		int id = z[k].kind == 0 ? cbc : z[k].kind == 3 ? ecb : kind == 1 ? sha : rng;
		const char *w = z[k].what;

		base_request(&q, kind, id, buf, digest);
		if (z[k].kind == 3)
			q.iv_len = 0;	/* ECB: no IV, so a pointer is inapplicable */
		if (!strcmp(w, "flags"))
			q.flags = 1;
		else if (!strcmp(w, "__pad"))
			q.__pad = 1;
		else if (!strcmp(w, "digest"))
			q.digest = uptr(digest);
		else if (!strcmp(w, "digest_len"))
			q.digest_len = 32;
		else if (!strcmp(w, "op 3"))
			q.op = ACRYPTO_DEV_OP_HASH;
		else if (!strcmp(w, "iv of ECB") || !strcmp(w, "iv"))
			q.iv = uptr(iv1);
		else if (!strcmp(w, "op"))
			q.op = ACRYPTO_DEV_OP_ENCRYPT;
		else if (!strcmp(w, "dst"))
			q.dst = uptr(buf);
		else if (!strcmp(w, "dst_len"))
			q.dst_len = 64;
		else if (!strcmp(w, "iv_len"))
			q.iv_len = 16;
		else if (!strcmp(w, "src"))
			q.src = uptr(buf);
		else if (!strcmp(w, "src_len"))
			q.src_len = 64;
		cases++;
		ret = submit(fd, &q, 1);
		if (ret != -EINVAL) {
			bad++;
			t_note("SUBMIT %s request with %s: %s", kind == 0 ? "cipher" :
			       kind == 1 ? "hash" : "rng", w, ret < 0 ? strerror(-ret) : "accepted");
			if (ret == 1)
				read_all(fd, &c, 1);
		}
	}
	/* The header: flags, submitted, and the stride. */
	base_request(&q, 0, cbc, buf, digest);
	{
		const struct {
			uint32_t stride, flags, submitted;
			const char *what;
		} h[] = {
			{ sizeof(q), 1, 0, "header flags" },
			{ sizeof(q), 0, 1, "header submitted (out)" },
			{ ACRYPTO_DEV_REQUEST_SIZE_VER0 - 8, 0, 0, "entry_size below the first version" },
			{ sizeof(q) + 4, 0, 0, "entry_size not a multiple of 8" },
			{ 4104, 0, 0, "entry_size over 4096" },
			{ 0, 0, 0, "entry_size 0" },
		};

		for (size_t k = 0; k < sizeof(h) / sizeof(h[0]); k++) {
			cases++;
			ret = submit_raw(fd, &q, 1, h[k].stride, h[k].flags, h[k].submitted);
			if (ret != -EINVAL) {
				bad++;
				t_note("SUBMIT with %s: %s", h[k].what, ret < 0 ? strerror(-ret) : "accepted");
				if (ret == 1)
					read_all(fd, &c, 1);
			}
		}
	}
	t_result(!bad, "ACRYPTO_IOC_SUBMIT: each of %d must-be-zero or inapplicable fields gives EINVAL",
		 cases);
}

/* Grown structures and strides. */
static void test_growth(int fd, int cbc)
{
	static unsigned char big[4096 + 64];
	static unsigned char entries[4][128];
	struct acrypto_session_alloc *a = (void *)big;
	struct acrypto_info *info = (void *)big;
	struct acrypto_completion c[4];
	unsigned char expect[64], out[64];
	unsigned int grown_alloc = _IOC(_IOC_READ | _IOC_WRITE, ACRYPTO_IOC_MAGIC, 0x40, sizeof(*a) + 16);
	unsigned int grown_info = _IOC(_IOC_READ, ACRYPTO_IOC_MAGIC, 0x4b, sizeof(*info) + 40);
	int ret, ok, id;

	/* A larger SESSION_ALLOC with a zero tail: works, the tail stays zero. */
	memset(big, 0, sizeof(big));
	a->operation = ACRYPTO_DEV_OP_HASH;
	a->type = ACRYPTO_DEV_TYPE_SHA256;
	ret = xioctl(fd, grown_alloc, big);
	id = ret ? -1 : (int)a->session_id;
	ok = !ret && id > 0 && a->out_size == 32 && !memchr(big + sizeof(*a), 1, 16);
	for (size_t i = sizeof(*a); i < sizeof(*a) + 16; i++)
		ok &= big[i] == 0;
	t_result(ok, "SESSION_ALLOC of %zu bytes (the first version's + 16, zero tail) works: %s",
		 sizeof(*a) + 16, ret ? strerror(-ret) : "session made");
	if (id > 0)
		sess_free(fd, (uint32_t)id);
	memset(big, 0, sizeof(big));
	a->operation = ACRYPTO_DEV_OP_HASH;
	a->type = ACRYPTO_DEV_TYPE_SHA256;
	big[sizeof(*a) + 9] = 1;
	ret = xioctl(fd, grown_alloc, big);
	t_result(ret == -E2BIG, "SESSION_ALLOC with a non-zero byte past the known structure: %s",
		 strerror(-ret));
	ret = xioctl(fd, _IOC(_IOC_READ | _IOC_WRITE, ACRYPTO_IOC_MAGIC, 0x40,
				 ACRYPTO_DEV_SESSION_ALLOC_SIZE_VER0 - 8), big);
	{
		int r2 = xioctl(fd, _IOC(_IOC_READ | _IOC_WRITE, ACRYPTO_IOC_MAGIC, 0x40, 4104), big);
		int r3 = xioctl(fd, _IOC(_IOC_WRITE, ACRYPTO_IOC_MAGIC, 0x40, sizeof(*a)), big);

		t_result(ret == -ENOTTY && r2 == -ENOTTY && r3 == -ENOTTY,
			 "SESSION_ALLOC smaller than the first version, over 4096 bytes, or in the "
			 "wrong direction: ENOTTY (%s, %s, %s)", strerror(-ret), strerror(-r2),
			 strerror(-r3));
	}

	/* A larger INFO: the module writes zeros past what it knows. */
	memset(big, 0xff, sizeof(big));
	ret = xioctl(fd, grown_info, big);
	ok = !ret && info->max_inflight > 0 && info->request_size == sizeof(struct acrypto_request);
	for (size_t i = sizeof(*info); i < sizeof(*info) + 40; i++)
		ok &= big[i] == 0;
	ok &= big[sizeof(*info) + 40] == 0xff;	/* and nothing past the caller's size */
	t_result(ok, "INFO of %zu bytes: the %zu bytes the module does not know come back zero",
		 sizeof(*info) + 40, (size_t)40);

	/* Entries of 128 bytes: the stride is the header's, tails zero. */
	if (sess_fill(fd, (uint32_t)cbc, ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC, NULL, 0, iv1,
		      16, src1, 64) || sess_add(fd, (uint32_t)cbc, expect, 64) != 64) {
		t_result(0, "growth: reference ciphertext");
		return;
	}
	memset(entries, 0, sizeof(entries));
	for (int i = 0; i < 4; i++) {
		struct acrypto_request *q = (void *)entries[i];

		q->tag = 100 + (uint64_t)i;
		q->session_id = (uint32_t)cbc;
		q->src = uptr(src1);
		q->dst = uptr(i == 2 ? out : big + 64 * i);
		q->src_len = q->dst_len = 64;
		q->iv = uptr(iv1);
		q->iv_len = 16;
	}
	ret = submit_raw(fd, entries, 4, 128, 0, 0);
	ok = ret == 4 && !read_all(fd, c, 4);
	for (int i = 0; ok && i < 4; i++)
		ok = c[i].status == 0 && c[i].out_len == 64;
	t_result(ok && !memcmp(out, expect, 64), "SUBMIT with entry_size 128 (zero tails): 4 "
		 "requests at that stride complete correctly (%d)", ret);
	entries[1][sizeof(struct acrypto_request) + 4] = 7;	/* past the known fields */
	ret = submit_raw(fd, entries, 4, 128, 0, 0);
	ok = ret == 1 && !read_all(fd, c, 1) && c[0].tag == 100;
	ret = ret == 1 ? submit_raw(fd, entries[1], 3, 128, 0, 0) : ret;
	t_result(ok && ret == -E2BIG, "SUBMIT: an entry with a non-zero tail stops the batch "
		 "there; resubmitted from it: %s", strerror(-ret));
}

/* CRYPTO_FILL_DATA is all or nothing. */
static void test_fill_atomic(int fd)
{
	unsigned char ref[64], out[64];
	unsigned char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int id = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CBC,
			    NULL, 64, NULL);
	int r1, r2, r3, r4, ok;

	if (id < 0 || none == MAP_FAILED ||
	    sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_KEY | ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC,
		      key1, 16, iv1, 16, src1, 64) ||
	    sess_add(fd, (uint32_t)id, ref, 64) != 64) {
		t_result(0, "FILL_DATA all or nothing: setup");
		return;
	}
	/* A new key with a faulting IV: -EFAULT, and the old key stays. */
	r1 = sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_KEY | ACRYPTO_DEV_FILL_IV, key2, 16, none,
		       16, NULL, 0);
	/* A new key and IV with a faulting source. */
	r2 = sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_KEY | ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC,
		       key2, 16, iv2, 16, none, 64);
	/* A new key and source with a refused IV length. */
	r3 = sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_KEY | ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC,
		       key2, 16, iv2, 8, src2, 64);
	/* A new IV with a source over src_size. */
	r4 = sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC, NULL, 0, iv2, 16,
		       src2, 80);
	memset(out, 0, sizeof(out));
	ok = sess_add(fd, (uint32_t)id, out, 64) == 64 && !memcmp(out, ref, 64);
	t_result(r1 == -EFAULT && r2 == -EFAULT && r3 == -EINVAL && r4 == -EMSGSIZE && ok,
		 "FILL_DATA all or nothing: faulting IV (%s), faulting source (%s), bad IV length "
		 "(%s), source too long (%s) leave key, IV and source as they were",
		 strerror(-r1), strerror(-r2), strerror(-r3), strerror(-r4));
	sess_free(fd, (uint32_t)id);
	munmap(none, 4096);
}

int main(void)
{
	int fd = dev_open(), cbc, ecb, sha, rng;

	setvbuf(stdout, NULL, _IOLBF, 0);
	cbc = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_CBC,
			 NULL, 64, NULL);
	ecb = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_ECB,
			 NULL, 64, NULL);
	sha = sess_alloc(fd, ACRYPTO_DEV_OP_HASH, ACRYPTO_DEV_TYPE_SHA256, ACRYPTO_DEV_MODE_NONE,
			 NULL, 64, NULL);
	rng = sess_alloc(fd, ACRYPTO_DEV_OP_RNG, ACRYPTO_DEV_TYPE_RNG, ACRYPTO_DEV_MODE_NONE, NULL,
			 64, NULL);
	if (cbc < 0 || ecb < 0 || sha < 0 || rng < 0 || sess_setkey(fd, (uint32_t)cbc, key1, 16) ||
	    sess_setkey(fd, (uint32_t)ecb, key1, 16) ||
	    sess_fill(fd, (uint32_t)cbc, ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC, NULL, 0, iv1, 16,
		      src1, 64)) {
		t_result(0, "t_abi: setup");
		return t_exit();
	}
	test_alloc_zero_fields(fd);
	test_fill_zero_fields(fd, cbc, sha, rng);
	test_add_free_zero_fields(fd, cbc);
	test_submit_zero_fields(fd, cbc, ecb, sha, rng);
	test_growth(fd, cbc);
	test_fill_atomic(fd);
	t_result(sessions(fd) == 4, "after every refused call the fd holds its 4 sessions (%d)",
		 sessions(fd));
	close(fd);
	printf("t_abi: %d passed, %d failed\n", t_passed, t_failed);
	return t_exit();
}
