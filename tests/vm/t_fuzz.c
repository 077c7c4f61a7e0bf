// SPDX-License-Identifier: MIT
/*
 * Malformed-ioctl fuzzer for /dev/acrypto: THREADS threads issue at least
 * 200,000 random calls in total (bad sizes, bad pointers, unknown commands,
 * huge lengths, out-of-range session ids, calls in the wrong order, unknown
 * driver names, nonzero padding, out and inapplicable fields, grown
 * structures with zero and nonzero tails, odd batch strides), half on one
 * shared fd and half on a per-thread fd that is closed and reopened with
 * work in flight. Every fd is O_NONBLOCK: read() with nothing ready is
 * -EAGAIN (a blocking one would wait).
 * Every call must fail with an errno from the documented set or succeed;
 * every successful batch completion carries 0 or a negative errno; a
 * known-answer probe every 500 calls proves the module still computes
 * correctly. run.sh checks the kernel log and unloads the module afterwards.
 *
 * akcipher (RSA) sessions get random key bytes and, when RSAKEY (a PKCS#1
 * DER private key) is given, that key whole, truncated or with a byte
 * changed, as private or public key.
 *
 * Usage: t_fuzz [TOTAL_CALLS] [SEED] [RSAKEY]
 */
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>

#include "common.h"

#define THREADS		8
#define SCRATCH		(256 * 1024)
#define MAX_IDS		96

static long total_calls = 200000;
static unsigned long seed0 = 0xac5e7;
static int shared_fd;
static unsigned char rsa_key[4096];	/* RSAKEY, or rsa_key_len 0 */
static uint32_t rsa_key_len;
static unsigned char *noaccess;	/* a PROT_NONE page */

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static long bad_total;

struct fuzzer {
	int idx;
	unsigned long rng;
	int own_fd;
	unsigned char *scratch;		/* followed by a PROT_NONE guard page */
	int ids[2][MAX_IDS];		/* [0] own fd, [1] shared fd */
	int nids[2];
	long calls, ok, bad, reopen, probes, probe_fail, completions;
	long err[140];
};

static int fuzz_open(void)
{
	int fd = dev_open();

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static uint64_t rnd(struct fuzzer *f)
{
	/* xorshift64* */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545F4914F6CDD1DULL;
}

static uint32_t below(struct fuzzer *f, uint32_t n)
{
	return (uint32_t)(rnd(f) % n);
}

static int chance(struct fuzzer *f, int pct)
{
	return (int)below(f, 100) < pct;
}

/* A length: mostly small and plausible, sometimes edge or huge. */
static uint32_t rlen(struct fuzzer *f)
{
	switch (below(f, 10)) {
	case 0:
		return 0;
	case 1:
		return (uint32_t)rnd(f);
	case 2:
		return 0xffffffffu - below(f, 4);
	case 3:
		return 65536 + below(f, 3) - 1;
	case 4:
		return 1u << below(f, 20);
	default:
		return 16 * (1 + below(f, 64)) + (chance(f, 20) ? below(f, 16) : 0);
	}
}

/* A pointer: into the scratch area (with room for len), or bad. */
static uint64_t rptr(struct fuzzer *f, uint32_t len)
{
	switch (below(f, 12)) {
	case 0:
		return 0;
	case 1:
		return 1 + below(f, 4096);
	case 2:
		return 0xffff888000000000ull + (rnd(f) & 0xffffff);	/* kernel */
	case 3:
		return (uint64_t)(uintptr_t)noaccess + below(f, 4096);
	case 4:	/* runs into the guard page */
		return (uint64_t)(uintptr_t)(f->scratch + SCRATCH - below(f, 64));
	case 5:
		return rnd(f) | 0x8000000000000000ull;
	default:
		if (len >= SCRATCH)
			return (uint64_t)(uintptr_t)f->scratch;
		return (uint64_t)(uintptr_t)(f->scratch + below(f, SCRATCH - len + 1));
	}
}

/* Session id: one we own on this fd, one of the other fd, or junk. */
static uint32_t rid(struct fuzzer *f, int which)
{
	int n = f->nids[which];

	switch (below(f, 8)) {
	case 0:
		return 0;
	case 1:
		return (uint32_t)rnd(f);
	case 2:
		return f->nids[!which] ? (uint32_t)f->ids[!which][below(f, (uint32_t)f->nids[!which])] : 1;
	default:
		return n ? (uint32_t)f->ids[which][below(f, (uint32_t)n)] : 1 + below(f, 4);
	}
}

static const char *const good_drivers[] = {
	"", "", "", "cbc-aes-aesni", "cbc(aes-generic)", "cryptd(cbc(aes-generic))",
	"ecb(aes-generic)", "ctr-aes-aesni", "xts-aes-aesni", "sha1-generic",
	"cryptd(sha256-generic)", "hmac(sha1-generic)", "drbg_nopr_hmac_sha256",
	"get_random_bytes", "ansi_cprng",
};

static void rdriver(struct fuzzer *f, char *name)
{
	memset(name, 0, ACRYPTO_DEV_NAME_LEN);
	switch (below(f, 40)) {
	case 0:	/* unterminated */
		memset(name, 'a', ACRYPTO_DEV_NAME_LEN);
		break;
	case 1:	/* bad characters */
		snprintf(name, ACRYPTO_DEV_NAME_LEN, "cbc(aes)/../%c", (char)(below(f, 31) + 1));
		break;
	case 2:	/* well-formed but unknown: makes the kernel try modprobe, keep it rare */
		if (chance(f, 10))
			snprintf(name, ACRYPTO_DEV_NAME_LEN, "nosuch-%u", below(f, 1000));
		break;
	case 3:	/* a real driver of another algorithm is refused by the name check */
		strcpy(name, "sha256-generic");
		break;
	default:
		strcpy(name, good_drivers[below(f, sizeof(good_drivers) / sizeof(good_drivers[0]))]);
	}
}

static void remember(struct fuzzer *f, int which, int fd, int id)
{
	if (f->nids[which] == MAX_IDS) {
		int k = (int)below(f, MAX_IDS);

		sess_free(fd, (uint32_t)f->ids[which][k]);
		f->ids[which][k] = id;
		return;
	}
	f->ids[which][f->nids[which]++] = id;
}

static void forget(struct fuzzer *f, int which, uint32_t id)
{
	for (int i = 0; i < f->nids[which]; i++) {
		if ((uint32_t)f->ids[which][i] == id) {
			f->ids[which][i] = f->ids[which][--f->nids[which]];
			return;
		}
	}
}

/*
 * Stream fields on a plausible hash request: states in four slots of the
 * scratch area, so that an exported state is often imported by a later
 * request (of the same session, another one, or after a key change), or
 * imported after other requests scribbled over its slot.
 */
static void stream_fields(struct fuzzer *f, struct acrypto_request *q, uint8_t *s)
{
	uint8_t *slot_in = s + SCRATCH / 2 + 1024 * below(f, 4);
	uint8_t *slot_out = s + SCRATCH / 2 + 1024 * below(f, 4);

	q->flags = below(f, 4);
	if (chance(f, 2))
		q->flags |= 1u << below(f, 32);
	if (q->flags & ACRYPTO_DEV_REQ_CONTINUE) {
		q->state = (uint64_t)(uintptr_t)slot_in;
		/* sha1 and sha256 states (generic drivers), or a wrong length */
		q->state_len = chance(f, 80) ? 136 + 8 * below(f, 2) : below(f, 1024);
		if (chance(f, 3))
			slot_in[below(f, 144)] ^= (uint8_t)(1 + below(f, 255));
	}
	if (q->flags & ACRYPTO_DEV_REQ_EXPORT) {
		q->digest = 0;
		q->digest_len = 0;
		q->state_out = (uint64_t)(uintptr_t)slot_out;
		q->state_out_len = chance(f, 90) ? ACRYPTO_DEV_MAX_STATE_LEN : below(f, 200);
		if (chance(f, 3))
			q->digest_len = 64;
	}
}

/* The errnos the ABI documents; anything else is a failure. */
static int allowed(int e)
{
	switch (e) {
	case EINVAL: case EFAULT: case ENOTTY: case ENOENT: case ENOKEY: case EBUSY:
	case EAGAIN: case EMSGSIZE: case ENOSPC: case EMFILE: case ENODATA: case ENOMEM:
	case EINTR: case EBADMSG: case ELIBBAD: case E2BIG: case EOPNOTSUPP:
	case EOVERFLOW:	/* akcipher: an input the padding cannot take */
		return 1;
	}
	return 0;
}

static void account(struct fuzzer *f, const char *what, int ret)
{
	f->calls++;
	if (ret >= 0) {
		f->ok++;
		return;
	}
	if (-ret < 140)
		f->err[-ret]++;
	if (!allowed(-ret)) {
		f->bad++;
		pthread_mutex_lock(&report_lock);
		if (bad_total++ < 20)
			printf("  note: thread %d: %s returned unexpected errno %d (%s)\n", f->idx,
			       what, -ret, strerror(-ret));
		pthread_mutex_unlock(&report_lock);
	}
}

static void drain(struct fuzzer *f, int fd)
{
	struct acrypto_completion c[64];
	int n = read_completions(fd, c, 64);

	for (int i = 0; i < n; i++) {
		f->completions++;
		if (c[i].status > 0 || c[i].status < -133 || c[i].__pad) {
			f->bad++;
			printf("  note: completion with status %d\n", c[i].status);
		}
	}
}

/* FIPS-197 C.1 through the synchronous flow on a fresh fd. */
static void probe(struct fuzzer *f)
{
	static const unsigned char key[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	static const unsigned char pt[16] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					      0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	static const unsigned char ct[16] = { 0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30,
					      0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a };
	unsigned char out[16];
	int fd = dev_open();
	int id = sess_alloc(fd, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_TYPE_AES_128, ACRYPTO_DEV_MODE_ECB,
			    f->probes % 2 ? "cryptd(ecb(aes-generic))" : "", 16, NULL);

	f->probes++;
	if (id < 0 || sess_setkey(fd, (uint32_t)id, key, 16) ||
	    sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_SRC, NULL, 0, NULL, 0, pt, 16) ||
	    sess_add(fd, (uint32_t)id, out, 16) != 16 || memcmp(out, ct, 16))
		f->probe_fail++;
	close(fd);
}

static unsigned int rcmd(struct fuzzer *f)
{
	static const unsigned int ours[] = { CRYPTO_SESSION_ALLOC, CRYPTO_FILL_DATA,
					     CRYPTO_SESSION_ADD, ACRYPTO_IOC_SESSION_FREE,
					     ACRYPTO_IOC_SUBMIT, ACRYPTO_IOC_INFO };
	/* The first versions' sizes: the smallest the module accepts. */
	static const unsigned int ours_min[] = {
		ACRYPTO_DEV_SESSION_ALLOC_SIZE_VER0, ACRYPTO_DEV_FILL_DATA_SIZE_VER0,
		ACRYPTO_DEV_SESSION_ADD_SIZE_VER0, ACRYPTO_DEV_SESSION_FREE_SIZE_VER0,
		ACRYPTO_DEV_SUBMIT_SIZE_VER0, ACRYPTO_DEV_INFO_SIZE_VER0
	};
	const unsigned int nosize = ~(_IOC_SIZEMASK << _IOC_SIZESHIFT);
	unsigned int c;

	for (;;) {
		unsigned int o = ours[below(f, 6)];

		switch (below(f, 4)) {
		case 0:	/* one of ours, smaller than its first version */
			c = _IOC(_IOC_DIR(o), ACRYPTO_IOC_MAGIC, _IOC_NR(o), below(f, ours_min[below(f, 6)]));
			break;
		case 1:	/* one of ours, larger than any structure may grow */
			c = _IOC(_IOC_DIR(o), ACRYPTO_IOC_MAGIC, _IOC_NR(o), 4097 + below(f, 12000));
			break;
		case 2:	/* one of ours in the wrong direction */
			c = _IOC((_IOC_DIR(o) + 1 + below(f, 3)) & 3, ACRYPTO_IOC_MAGIC, _IOC_NR(o),
				 _IOC_SIZE(o));
			break;
		default:	/* another number in our magic (0x49, 0x4a: retired) */
			c = _IOC(below(f, 4), ACRYPTO_IOC_MAGIC, below(f, 256), below(f, 1024));
		}
		for (int i = 0; i < 6; i++)
			if ((c & nosize) == (ours[i] & nosize) && _IOC_SIZE(c) >= ours_min[i] &&
			    _IOC_SIZE(c) <= 4096)
				c = 0;
		if (c)
			return c;
	}
}

static void one_call(struct fuzzer *f)
{
	int which = chance(f, 50);
	int fd = which ? shared_fd : f->own_fd;
	unsigned char *s = f->scratch;
	int ret;

	switch (below(f, 20)) {
	case 0: {	/* unknown commands */
		unsigned int cmd = rcmd(f);

		ret = xioctl(fd, cmd, (void *)(uintptr_t)rptr(f, 1024));
		account(f, "unknown cmd", ret);
		if (ret != -ENOTTY) {
			f->bad++;
			printf("  note: unknown cmd %#x returned %d\n", cmd, ret);
		}
		break;
	}
	case 1: case 2: case 3: {	/* SESSION_ALLOC */
		struct acrypto_session_alloc a;

		memset(&a, 0, sizeof(a));
		a.operation = below(f, 9);	/* SIGN and VERIFY too */
		a.type = below(f, 10);		/* RSA (8) too */
		a.mode = below(f, 12);	/* the AEAD modes 5..7, akcipher 8..10 too */
		if (chance(f, 20))	/* AEAD tag lengths, and wrong ones */
			a.auth_size = chance(f, 70) ? 4 * below(f, 5) : (uint32_t)rnd(f);
		if (chance(f, 3))
			a.__pad2 = 1;
		a.src_size = chance(f, 80) ? 16 * below(f, 256) : rlen(f);
		if (chance(f, 5))
			a.flags = 1u << below(f, 32);
		if (chance(f, 5))
			a.__pad = 1;
		if (chance(f, 5)) {	/* out fields must be zero on input */
			uint32_t *out[] = { &a.key_size, &a.iv_size, &a.block_size, &a.out_size,
					    &a.driver_flags, &a.session_id };

			*out[below(f, 6)] = (uint32_t)rnd(f) | 1;
		}
		if (chance(f, 2))
			a.bound_driver[below(f, ACRYPTO_DEV_NAME_LEN)] = 'x';
		rdriver(f, a.driver);
		if (chance(f, 10))
			ret = xioctl(fd, CRYPTO_SESSION_ALLOC, (void *)(uintptr_t)rptr(f, sizeof(a)));
		else
			ret = xioctl(fd, CRYPTO_SESSION_ALLOC, &a);
		account(f, "SESSION_ALLOC", ret);
		if (!ret && a.session_id)
			remember(f, which, fd, (int)a.session_id);
		break;
	}
	case 4: case 5: case 6: {	/* FILL_DATA */
		struct acrypto_fill_data d;
		unsigned char key[sizeof(rsa_key)];

		memset(&d, 0, sizeof(d));
		d.session_id = rid(f, which);
		d.flags = chance(f, 90) ? 1 + below(f, 63) : (uint32_t)rnd(f);
		d.key_len = chance(f, 70) ? 16u << below(f, 3) : rlen(f);
		d.iv_len = chance(f, 80) ? 16 : rlen(f);
		d.src_len = rlen(f);
		d.key = rptr(f, d.key_len);
		if (rsa_key_len && chance(f, 15)) {	/* the RSA key, whole or damaged */
			memcpy(key, rsa_key, rsa_key_len);
			d.key_len = chance(f, 60) ? rsa_key_len : below(f, rsa_key_len + 1);
			if (chance(f, 30))
				key[below(f, rsa_key_len)] ^= (unsigned char)(1 + below(f, 255));
			d.key = uptr(key);
			d.flags = ACRYPTO_DEV_FILL_KEY | (chance(f, 30) ? ACRYPTO_DEV_FILL_PUBLIC : 0);
		}
		d.iv = rptr(f, d.iv_len);
		d.src = rptr(f, d.src_len);
		if (chance(f, 50)) {	/* AAD (AEAD sessions only) */
			d.aad_len = chance(f, 80) ? below(f, 64) : rlen(f);
			d.aad = chance(f, 90) && d.aad_len ? rptr(f, d.aad_len) : (uint64_t)rnd(f);
		}
		if (chance(f, 50)) {	/* a stream state (hash sessions only), or none */
			d.state_len = chance(f, 70) ? 136 + 8 * below(f, 2) : chance(f, 50) ? 0 : rlen(f);
			d.state = d.state_len || chance(f, 10) ? rptr(f, d.state_len) : 0;
		}
		if (chance(f, 3))
			d.__pad = 1;
		if (chance(f, 3))
			d.__pad2 = 1;
		if (chance(f, 3))
			d.__pad3 = 1;
		ret = xioctl(fd, CRYPTO_FILL_DATA, chance(f, 5) ? (void *)(uintptr_t)rptr(f, 64) : &d);
		account(f, "FILL_DATA", ret);
		break;
	}
	case 7: case 8: {	/* SESSION_ADD */
		struct acrypto_session_add a;

		memset(&a, 0, sizeof(a));
		a.session_id = rid(f, which);
		a.dst_len = chance(f, 70) ? 65536 : rlen(f);
		a.dst = rptr(f, a.dst_len);
		if (chance(f, 5))	/* ACRYPTO_DEV_ADD_EXPORT, or an unknown flag */
			a.flags = chance(f, 70) ? ACRYPTO_DEV_ADD_EXPORT : 1u << below(f, 32);
		ret = xioctl(fd, CRYPTO_SESSION_ADD, chance(f, 5) ? (void *)(uintptr_t)rptr(f, 40) : &a);
		account(f, "SESSION_ADD", ret);
		break;
	}
	case 9: {	/* SESSION_FREE */
		struct acrypto_session_free fr;

		memset(&fr, 0, sizeof(fr));
		fr.session_id = rid(f, which);
		if (chance(f, 3))
			fr.__pad = 1;
		ret = xioctl(fd, ACRYPTO_IOC_SESSION_FREE, &fr);
		account(f, "SESSION_FREE", ret);
		if (!ret)
			forget(f, which, fr.session_id);
		break;
	}
	case 10: case 11: case 12: case 13: {	/* SUBMIT */
		struct acrypto_request rq[32];
		struct acrypto_submit sb;
		uint32_t n = 1 + below(f, 32);

		int plausible = chance(f, 50);

		memset(rq, 0, sizeof(rq));
		for (uint32_t i = 0; i < n; i++) {
			if (plausible && f->nids[which]) {
				/* Likely valid, so that work really runs and completes. */
				/* some above the zero-copy threshold: pinned pages */
				uint32_t len = 16 * (1 + below(f, chance(f, 20) ? 1024 : 64));

				uint32_t shape = below(f, 5);	/* cipher, hash, RNG, AEAD or akcipher fields */

				rq[i].tag = rnd(f);
				rq[i].session_id = rid(f, which);
				if (shape == 0) {
					rq[i].op = below(f, 3);
					rq[i].src_len = len;
					rq[i].dst_len = chance(f, 90) ? len : (uint32_t)rnd(f);
					rq[i].src = (uint64_t)(uintptr_t)(s + below(f, SCRATCH / 2));
					rq[i].dst = chance(f, 95) ?
						(uint64_t)(uintptr_t)(s + below(f, SCRATCH / 2)) : rptr(f, len);
					if (chance(f, 75)) {	/* not ECB */
						rq[i].iv_len = 16;
						rq[i].iv = (uint64_t)(uintptr_t)(s + below(f, 4096));
					}
				} else if (shape == 3) {
					rq[i].op = below(f, 3);
					rq[i].src_len = len - below(f, 16);
					rq[i].dst_len = rq[i].src_len;
					rq[i].src = (uint64_t)(uintptr_t)(s + below(f, SCRATCH / 2));
					rq[i].dst = (uint64_t)(uintptr_t)(s + below(f, SCRATCH / 2));
					rq[i].iv_len = chance(f, 80) ? 12 : 8;
					rq[i].iv = (uint64_t)(uintptr_t)(s + below(f, 4096));
					rq[i].digest_len = chance(f, 80) ? 16 : below(f, 17);
					rq[i].digest = (uint64_t)(uintptr_t)(s + below(f, 4096));
					rq[i].aad_len = below(f, 300);
					if (rq[i].aad_len)
						rq[i].aad = (uint64_t)(uintptr_t)(s + below(f, 4096));
				} else if (shape == 4) {
					static const uint32_t ops[] = { 0, ACRYPTO_DEV_OP_ENCRYPT, ACRYPTO_DEV_OP_DECRYPT,
									ACRYPTO_DEV_OP_SIGN, ACRYPTO_DEV_OP_VERIFY };

					rq[i].op = ops[below(f, 5)];
					rq[i].src_len = chance(f, 70) ? 256 : below(f, 600);
					rq[i].src = (uint64_t)(uintptr_t)(s + below(f, SCRATCH / 2));
					if (rq[i].op == ACRYPTO_DEV_OP_VERIFY || chance(f, 20)) {
						rq[i].digest_len = chance(f, 70) ? 32 : below(f, 200);
						rq[i].digest = (uint64_t)(uintptr_t)(s + below(f, 4096));
					}
					if (rq[i].op != ACRYPTO_DEV_OP_VERIFY || chance(f, 10)) {
						rq[i].dst_len = chance(f, 70) ? 256 : below(f, 600);
						rq[i].dst = (uint64_t)(uintptr_t)(s + below(f, SCRATCH / 2));
					}
				} else if (shape == 1) {
					rq[i].src_len = chance(f, 10) ? 0 : len - below(f, 16);
					rq[i].src = (uint64_t)(uintptr_t)(s + below(f, SCRATCH / 2));
					rq[i].digest_len = 64;
					rq[i].digest = (uint64_t)(uintptr_t)(s + below(f, 4096));
					if (chance(f, 40))
						stream_fields(f, &rq[i], s);
				} else {
					rq[i].dst_len = len;
					rq[i].dst = chance(f, 95) ?
						(uint64_t)(uintptr_t)(s + below(f, SCRATCH / 2)) : rptr(f, len);
				}
				continue;
			}
			rq[i].tag = rnd(f);
			rq[i].session_id = rid(f, which);
			rq[i].op = chance(f, 80) ? below(f, 3) : (uint32_t)rnd(f);
			rq[i].src_len = chance(f, 70) ? 16 * (1 + below(f, 64)) : rlen(f);
			rq[i].dst_len = chance(f, 70) ? rq[i].src_len : rlen(f);
			rq[i].iv_len = chance(f, 80) ? 16 : rlen(f);
			rq[i].digest_len = chance(f, 80) ? 64 : rlen(f);
			rq[i].src = rptr(f, rq[i].src_len);
			rq[i].dst = rptr(f, rq[i].dst_len);
			rq[i].iv = rptr(f, rq[i].iv_len);
			rq[i].digest = rptr(f, rq[i].digest_len);
			if (chance(f, 3))
				rq[i].flags = 1u << below(f, 32);
			if (chance(f, 3))
				rq[i].__pad = 1;
			if (chance(f, 10)) {
				rq[i].aad_len = rlen(f);
				rq[i].aad = rptr(f, rq[i].aad_len);
			}
			if (chance(f, 3))
				rq[i].__pad2 = 1;
			if (chance(f, 10)) {	/* stream fields, anything */
				rq[i].flags = below(f, 4);
				rq[i].state_len = chance(f, 50) ? 136 + 8 * below(f, 2) : rlen(f);
				rq[i].state = rptr(f, rq[i].state_len);
				rq[i].state_out_len = chance(f, 50) ? ACRYPTO_DEV_MAX_STATE_LEN : rlen(f);
				rq[i].state_out = rptr(f, rq[i].state_out_len);
			}
		}
		memset(&sb, 0, sizeof(sb));
		sb.reqs = chance(f, 90) ? uptr(rq) : rptr(f, sizeof(rq));
		sb.count = chance(f, 90) ? n : rlen(f);
		/* The stride: mostly right, sometimes short, odd, huge or larger
		 * (then each entry's tail is the next entry's bytes). */
		sb.entry_size = chance(f, 85) ? (uint32_t)sizeof(rq[0]) :
				chance(f, 50) ? 8 * below(f, 20) : rlen(f);
		if (sb.entry_size > sizeof(rq[0]) && sb.entry_size <= 4096 &&
		    (uint64_t)sb.entry_size * sb.count > sizeof(rq))
			sb.count = (uint32_t)(sizeof(rq) / sb.entry_size);
		if (!sb.count)
			sb.count = 1;
		if (chance(f, 3))
			sb.flags = 1;
		if (chance(f, 3))
			sb.submitted = 1;
		ret = xioctl(fd, ACRYPTO_IOC_SUBMIT, chance(f, 5) ? (void *)(uintptr_t)rptr(f, 32) : &sb);
		account(f, "SUBMIT", ret);
		if (chance(f, 50))
			drain(f, fd);
		break;
	}
	case 14: case 15: {	/* read() and poll() */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint32_t len = chance(f, 70) ? 24 * (1 + below(f, 64)) : rlen(f) % (1 << 20);
		ssize_t n;

		if (chance(f, 30)) {
			n = read(fd, (void *)(uintptr_t)rptr(f, len), len);
			account(f, "read", n < 0 ? -errno : 0);
		} else {
			drain(f, fd);
			f->calls++;
		}
		ret = poll(&p, 1, 0);
		account(f, "poll", ret < 0 ? -errno : 0);
		break;
	}
	case 16: {	/* a known command with a grown structure: tail zero or not */
		static const unsigned int ours[] = { CRYPTO_SESSION_ALLOC, CRYPTO_FILL_DATA,
						     CRYPTO_SESSION_ADD, ACRYPTO_IOC_SESSION_FREE,
						     ACRYPTO_IOC_SUBMIT, ACRYPTO_IOC_INFO };
		unsigned int o = ours[below(f, 6)];
		uint32_t base = _IOC_SIZE(o), size = base + 8 * (1 + below(f, 32));
		int tail = chance(f, 50);

		memset(s, 0, 1024);
		for (uint32_t i = 0; i < base; i += 4) {
			uint32_t r = chance(f, 70) ? 0 : (uint32_t)rnd(f) & 0x3f;

			memcpy(s + i, &r, 4);
		}
		if (tail)
			s[base + below(f, size - base)] = (unsigned char)(1 + below(f, 255));
		ret = xioctl(fd, _IOC(_IOC_DIR(o), ACRYPTO_IOC_MAGIC, _IOC_NR(o), size), s);
		account(f, "grown", ret);
		if (tail && _IOC_DIR(o) != _IOC_READ && ret == 0) {
			f->bad++;
			printf("  note: cmd %#x with a nonzero tail was accepted\n", o);
		}
		if (o == CRYPTO_SESSION_ALLOC && !ret)
			remember(f, which, fd, (int)((struct acrypto_session_alloc *)s)->session_id);
		if (o == ACRYPTO_IOC_INFO && !ret) {
			for (uint32_t i = base; i < size; i++)
				if (s[i]) {
					f->bad++;
					printf("  note: INFO left a nonzero byte past its structure\n");
					break;
				}
		}
		break;
	}
	case 17: {	/* INFO */
		struct acrypto_info v;

		ret = xioctl(fd, ACRYPTO_IOC_INFO, chance(f, 50) ? (void *)(uintptr_t)rptr(f, 48) : &v);
		account(f, "INFO", ret);
		break;
	}
	case 18: {	/* garbage structs for every command */
		static const unsigned int ours[] = { CRYPTO_SESSION_ALLOC, CRYPTO_FILL_DATA,
						     CRYPTO_SESSION_ADD, ACRYPTO_IOC_SESSION_FREE,
						     ACRYPTO_IOC_SUBMIT, ACRYPTO_IOC_INFO };
		unsigned int cmd = ours[below(f, 6)];

		for (uint32_t i = 0; i < 512; i += 8) {
			uint64_t r = rnd(f);

			memcpy(s + i, &r, 8);
		}
		/* Mostly small ids and counts, so that the garbage gets past the first checks. */
		if (chance(f, 50))
			memset(s, 0, 4);
		if (cmd == CRYPTO_SESSION_ALLOC && chance(f, 50))
			memset(s + 32, 0, ACRYPTO_DEV_NAME_LEN);
		ret = xioctl(fd, cmd, s);
		account(f, "garbage", ret);
		if (cmd == CRYPTO_SESSION_ALLOC && !ret)
			remember(f, which, fd, (int)((struct acrypto_session_alloc *)s)->session_id);
		break;
	}
	default: {	/* a plausible sequence: alloc, key, data, run */
		unsigned char *key = s + 1024, *data = s + 2048;
		struct acrypto_session_alloc a;
		uint32_t len = 16 * (1 + below(f, 16));

		memset(&a, 0, sizeof(a));
		ret = sess_alloc(fd, 1 + below(f, 2), 1 + below(f, 3), 1 + below(f, 3), NULL, 4096, &a);
		account(f, "seq alloc", ret);
		if (ret < 0)
			break;
		if (chance(f, 80))
			account(f, "seq key", sess_setkey(fd, a.session_id, key, a.key_size));
		account(f, "seq fill", sess_fill(fd, a.session_id, ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC,
						 NULL, 0, data, a.iv_size, data, len));
		account(f, "seq add", sess_add(fd, a.session_id, data, 4096));
		if (chance(f, 50))
			account(f, "seq free", sess_free(fd, a.session_id));
		else
			remember(f, which, fd, (int)a.session_id);
		break;
	}
	}
}

static void *fuzz_thread(void *p)
{
	struct fuzzer *f = p;
	long quota = total_calls / THREADS;

	f->own_fd = fuzz_open();
	while (f->calls < quota) {
		one_call(f);
		if (f->calls % 500 == 0)
			probe(f);
		if (chance(f, 1) && chance(f, 10)) {	/* close with whatever is in flight */
			close(f->own_fd);
			f->own_fd = fuzz_open();
			f->nids[0] = 0;
			f->reopen++;
		}
	}
	close(f->own_fd);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct fuzzer fz[THREADS];
	pthread_t th[THREADS];
	long calls = 0, ok = 0, bad = 0, reopen = 0, probes = 0, probe_fail = 0, comps = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		total_calls = atol(argv[1]);
	if (argc > 2)
		seed0 = strtoul(argv[2], NULL, 0);
	if (argc > 3) {
		FILE *kf = fopen(argv[3], "rb");

		if (!kf) {
			perror(argv[3]);
			return 2;
		}
		rsa_key_len = (uint32_t)fread(rsa_key, 1, sizeof(rsa_key), kf);
		fclose(kf);
	}
	noaccess = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	shared_fd = fuzz_open();
	for (int i = 0; i < THREADS; i++) {
		unsigned char *m = mmap(NULL, SCRATCH + 4096, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED || noaccess == MAP_FAILED)
			return 2;
		mprotect(m + SCRATCH, 4096, PROT_NONE);
		fz[i].idx = i;
		fz[i].scratch = m;
		fz[i].rng = seed0 * 0x9E3779B97F4A7C15ull + (unsigned long)i + 1;
		pthread_create(&th[i], NULL, fuzz_thread, &fz[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		calls += fz[i].calls;
		ok += fz[i].ok;
		bad += fz[i].bad;
		reopen += fz[i].reopen;
		probes += fz[i].probes;
		probe_fail += fz[i].probe_fail;
		comps += fz[i].completions;
	}
	close(shared_fd);

	printf("  note: errno histogram:");
	for (int e = 1; e < 140; e++) {
		long n = 0;

		for (int i = 0; i < THREADS; i++)
			n += fz[i].err[e];
		if (n)
			printf(" %s=%ld", strerror(e), n);
	}
	printf("\n");
	t_result(calls >= total_calls && bad == 0,
		 "fuzz: %ld calls from %d threads (seed %#lx), %ld succeeded, %ld completions read, "
		 "%ld fd reopens, %ld unexpected results", calls, THREADS, seed0, ok, comps, reopen, bad);
	t_result(probes > 0 && probe_fail == 0, "fuzz: %ld known-answer probes during the run, %ld wrong",
		 probes, probe_fail);
	printf("t_fuzz: %d passed, %d failed\n", t_passed, t_failed);
	return t_exit();
}
