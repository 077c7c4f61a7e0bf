// SPDX-License-Identifier: MIT
/*
 * Cross-check of /dev/acrypto against vectors made by the openssl CLI on the
 * host (gen_vectors.sh), for every algorithm, through the original
 * three-ioctl flow and through the batch path, with the kernel's default
 * driver, the generic drivers, AES-NI and cryptd(...)-wrapped drivers (which
 * force the asynchronous callback path), plus every other driver the module
 * lists in /proc/crypto. XTS is also checked against AF_ALG's xts(aes). RNG sessions
 * are checked for length and non-repetition.
 *
 * Usage: t_kat VECTORS_FILE
 */
#include <sys/epoll.h>

#include "common.h"
#include "afalg.h"

#define MAXV 128
#define MAXD 8256

struct vec {
	char name[32];
	uint32_t op, type, mode;
	unsigned char key[ACRYPTO_DEV_MAX_KEY_LEN];
	int klen;
	unsigned char iv[16];
	int ivlen;
	unsigned char data[MAXD];
	int dlen;
	unsigned char exp[MAXD];
	int elen;
};

static struct vec vecs[MAXV];
static int nvecs;

static struct kdrv algs[256];
static int nalgs;

static const char *kernel_name(const struct vec *v)
{
	static const char *cipher[] = { "", "ecb(aes)", "cbc(aes)", "ctr(aes)", "xts(aes)" };

	if (v->op == ACRYPTO_DEV_OP_ENCRYPT)
		return cipher[v->mode];
	if (v->op == ACRYPTO_DEV_OP_HASH)
		return v->type == ACRYPTO_DEV_TYPE_SHA1 ? "sha1" : "sha256";
	return v->type == ACRYPTO_DEV_TYPE_SHA1 ? "hmac(sha1)" : "hmac(sha256)";
}

/* Drivers every run must have: default, generic, AES-NI, cryptd. */
static const char *const fixed_drivers[][6] = {
	{ "ecb(aes)", "", "ecb(aes-generic)", "ecb-aes-aesni", "cryptd(ecb(aes-generic))", NULL },
	{ "cbc(aes)", "", "cbc(aes-generic)", "cbc-aes-aesni", "cryptd(cbc(aes-generic))",
	  "cryptd(cbc(aes-aesni))" },
	{ "ctr(aes)", "", "ctr(aes-generic)", "ctr-aes-aesni", "cryptd(ctr(aes-generic))", NULL },
	{ "xts(aes)", "", "xts(ecb(aes-generic))", "xts-aes-aesni",
	  "cryptd(xts(ecb(aes-generic)))", NULL },
	{ "sha1", "", "sha1-generic", "cryptd(sha1-generic)", NULL, NULL },
	{ "sha256", "", "sha256-generic", "cryptd(sha256-generic)", NULL, NULL },
	{ "hmac(sha1)", "", "hmac(sha1-generic)", "cryptd(hmac(sha1-generic))", NULL, NULL },
	{ "hmac(sha256)", "", "hmac(sha256-generic)", "cryptd(hmac(sha256-generic))", NULL, NULL },
};

/*
 * Reads every vector of PATH. A line that does not parse, a bad hex field, or
 * more vectors than fit is an error (-1 with the reason on stderr): a
 * vector file the test cannot read must fail the test, not shorten it.
 */
static int load_vectors(const char *path)
{
	char name[32], key[512], iv[64], *data, *exp, fmt[64];
	FILE *f = fopen(path, "r");
	int ret = -1;

	if (!f) {
		perror(path);
		return -1;
	}
	data = malloc(2 * MAXD + 8);
	exp = malloc(2 * MAXD + 8);
	if (!data || !exp) {
		fprintf(stderr, "%s: out of memory\n", path);
		goto out;
	}
	snprintf(fmt, sizeof(fmt), "%%31s %%u %%u %%u %%511s %%63s %%%ds %%%ds", 2 * MAXD, 2 * MAXD);
	for (;;) {
		struct vec *v = &vecs[nvecs];
		int n;

		if (nvecs == MAXV) {
			if (fscanf(f, " %31s", name) == 1) {
				fprintf(stderr, "%s: more than %d vectors\n", path, MAXV);
				goto out;
			}
			break;
		}
		n = fscanf(f, fmt, name, &v->op, &v->type, &v->mode, key, iv, data, exp);
		if (n == EOF && feof(f))
			break;
		if (n != 8) {
			fprintf(stderr, "%s: vector %d cannot be parsed (%d of 8 fields)\n", path,
				nvecs + 1, n);
			goto out;
		}
		snprintf(v->name, sizeof(v->name), "%s", name);
		v->klen = hex2bin(key, v->key, sizeof(v->key));
		v->ivlen = hex2bin(iv, v->iv, sizeof(v->iv));
		v->dlen = hex2bin(data, v->data, sizeof(v->data));
		v->elen = hex2bin(exp, v->exp, sizeof(v->exp));
		if (v->klen < 0 || v->ivlen < 0 || v->dlen < 0 || v->elen < 0) {
			fprintf(stderr, "%s: vector %d (%s): bad hex field\n", path, nvecs + 1, name);
			goto out;
		}
		nvecs++;
	}
	ret = nvecs;
out:
	free(data);
	free(exp);
	fclose(f);
	return ret;
}

static int check_session(const struct acrypto_session_alloc *a, const char *drv, char *why)
{
	if (drv[0] && strcmp(a->bound_driver, drv)) {
		sprintf(why, "bound to %s, not %s", a->bound_driver, drv);
		return 0;
	}
	if (!strncmp(drv, "cryptd(", 7) && !(a->driver_flags & ACRYPTO_DEV_F_ASYNC)) {
		sprintf(why, "%s not reported async", drv);
		return 0;
	}
	return 1;
}

/*
 * Allocates a session for vector v (operation op) bound to drv, checks what
 * the module reports, and sets the key. Returns the session id, or -1 with
 * the reason in why (and the session freed).
 */
static int open_session(int fd, uint32_t op, const struct vec *v, const char *drv, uint32_t dst_size,
			char *why)
{
	struct acrypto_session_alloc a;
	int id, ret;

	id = sess_alloc(fd, op, v->type, v->mode, drv, dst_size, &a);
	if (id < 0) {
		sprintf(why, "SESSION_ALLOC(%s): %s", drv, strerror(-id));
		return -1;
	}
	if (!check_session(&a, drv, why))
		goto fail;
	if (v->op != ACRYPTO_DEV_OP_HASH) {
		ret = sess_setkey(fd, (uint32_t)id, v->key, (uint32_t)v->klen);
		if (ret) {
			sprintf(why, "FILL_DATA key: %s", strerror(-ret));
			goto fail;
		}
	}
	return id;
fail:
	sess_free(fd, (uint32_t)id);
	return -1;
}

/* The original flow for one vector and one direction. */
static int run_sync(int fd, const char *drv, const struct vec *v, int decrypt, char *why)
{
	const unsigned char *in = decrypt ? v->exp : v->data;
	const unsigned char *want = decrypt ? v->data : v->exp;
	int inlen = decrypt ? v->elen : v->dlen, wantlen = decrypt ? v->dlen : v->elen;
	unsigned char out[MAXD];
	uint32_t flags = ACRYPTO_DEV_FILL_SRC;
	int id, ret, ok = 0;

	id = open_session(fd, decrypt ? ACRYPTO_DEV_OP_DECRYPT : v->op, v, drv, MAXD, why);
	if (id < 0)
		return 0;
	if (v->ivlen)
		flags |= ACRYPTO_DEV_FILL_IV;
	ret = sess_fill(fd, (uint32_t)id, flags, NULL, 0, v->ivlen ? v->iv : NULL, (uint32_t)v->ivlen, in,
			(uint32_t)inlen);
	if (ret) {
		sprintf(why, "FILL_DATA: %s", strerror(-ret));
		goto out;
	}
	ret = sess_add(fd, (uint32_t)id, out, sizeof(out));
	if (ret < 0) {
		sprintf(why, "SESSION_ADD: %s", strerror(-ret));
		goto out;
	}
	if (ret != wantlen || memcmp(out, want, (size_t)wantlen)) {
		sprintf(why, "%s %s len %d: wrong bytes (got %d bytes)", v->name,
			decrypt ? "decrypt" : "encrypt", inlen, ret);
		goto out;
	}
	ok = 1;
out:
	sess_free(fd, (uint32_t)id);
	return ok;
}

/* The batch path for every vector of one name: all in one submit. */
static int run_batch(int fd, int ep, const char *drv, const char *vname, char *why)
{
	static unsigned char out[3 * MAXV][MAXD];
	static struct acrypto_request reqs[3 * MAXV];
	static struct acrypto_completion comp[3 * MAXV];
	int ids[MAXV], nids = 0, n = 0, i, ret, ok = 0;
	static const struct vec *owner[3 * MAXV];
	static int isdec[3 * MAXV];

	memset(reqs, 0, sizeof(reqs));
	for (i = 0; i < nvecs; i++) {
		const struct vec *v = &vecs[i];
		int id;

		if (strcmp(v->name, vname))
			continue;
		id = open_session(fd, v->op, v, drv, 16, why);
		if (id < 0)
			goto out;
		ids[nids++] = id;
		/* dec 2: encryption in place (src == dst) */
		for (int dec = 0; dec <= (v->op == ACRYPTO_DEV_OP_ENCRYPT ? 2 : 0); dec++) {
			struct acrypto_request *r = &reqs[n];

			r->tag = 0x1000u + (uint64_t)n;
			r->session_id = (uint32_t)id;
			r->src = uptr(dec ? v->exp : v->data);
			r->src_len = (uint32_t)(dec ? v->elen : v->dlen);
			if (dec == 2) {
				memcpy(out[n], v->data, (size_t)v->dlen);
				r->src = uptr(out[n]);
			}
			if (v->op == ACRYPTO_DEV_OP_ENCRYPT) {
				r->op = dec == 1 ? ACRYPTO_DEV_OP_DECRYPT : ACRYPTO_DEV_OP_ENCRYPT;
				r->dst = uptr(out[n]);
				r->dst_len = MAXD;
				r->iv = v->ivlen ? uptr(v->iv) : 0;
				r->iv_len = (uint32_t)v->ivlen;
			} else {
				r->digest = uptr(out[n]);
				r->digest_len = 64;
			}
			owner[n] = v;
			isdec[n] = dec == 1;
			n++;
		}
	}
	ret = submit(fd, reqs, (uint32_t)n);
	if (ret != n) {
		sprintf(why, "SUBMIT of %d: %s", n, ret < 0 ? strerror(-ret) : "partial");
		goto out;
	}
	/* Wait through epoll, then drain with non-blocking reads. */
	for (int got = 0; got < n;) {
		struct epoll_event ev;
		int k;

		if (epoll_wait(ep, &ev, 1, 20000) != 1) {
			sprintf(why, "epoll_wait: no completion after 20 s (%d/%d)", got, n);
			goto out;
		}
		k = read_completions(fd, comp + got, n - got);
		if (k < 0 && k != -EAGAIN) {
			sprintf(why, "read: %s", strerror(-k));
			goto out;
		}
		if (k > 0)
			got += k;
	}
	for (i = 0; i < n; i++) {
		int j = (int)(comp[i].tag - 0x1000u);
		const struct vec *v;
		const unsigned char *want;
		int wantlen;

		if (j < 0 || j >= n || comp[i].__pad) {
			sprintf(why, "bad completion tag %llx", (unsigned long long)comp[i].tag);
			goto out;
		}
		v = owner[j];
		want = isdec[j] ? v->data : v->exp;
		wantlen = isdec[j] ? v->dlen : v->elen;
		if (comp[i].status) {
			sprintf(why, "request %d status %s", j, strerror(-comp[i].status));
			goto out;
		}
		if ((int)comp[i].out_len != wantlen || memcmp(out[j], want, (size_t)wantlen)) {
			sprintf(why, "%s %s len %d: wrong bytes", v->name,
				isdec[j] ? "decrypt" : "encrypt", v->dlen);
			goto out;
		}
	}
	ok = 1;
out:
	for (i = 0; i < nids; i++)
		sess_free(fd, (uint32_t)ids[i]);
	return ok;
}

static int has_driver(const char *name)
{
	for (int i = 0; i < nalgs; i++)
		if (!strcmp(algs[i].driver, name))
			return 1;
	return 0;
}

/*
 * The module's limits, and enumeration from /proc/crypto: every name the
 * ABI serves is listed, and an unbound session of each name gets one of
 * the listed drivers with the highest priority, as the crypto API picks.
 */
static void test_enum(int fd)
{
	struct acrypto_info info;
	char why[256] = "";
	int ok = 1, ret;

	memset(&info, 0, sizeof(info));
	ret = xioctl(fd, ACRYPTO_IOC_INFO, &info);
	t_result(!ret && info.request_size == sizeof(struct acrypto_request) &&
			 info.completion_size == sizeof(struct acrypto_completion) &&
			 info.sessions == 0 && info.inflight == 0 && info.pinned_pages == 0,
		 "info: limits sessions %u inflight %u buffer %u, zero copy from %u, request %u B",
		 info.max_sessions, info.max_inflight, info.max_buffer, info.zero_copy_min,
		 info.request_size);

	kdrv_instantiate(fd);
	nalgs = kdrv_list(algs, 256);
	if (nalgs <= 0) {
		t_result(0, "/proc/crypto: %s", nalgs ? strerror(-nalgs) : "no driver listed");
		nalgs = 0;
		return;
	}
	for (int i = 0; i < nalgs; i++)
		t_note("driver %-36s %-14s prio %4u%s", algs[i].driver, algs[i].name,
		       algs[i].priority, algs[i].async ? " async" : "");
	for (size_t k = 0; k < sizeof(kdrv_triples) / sizeof(kdrv_triples[0]); k++) {
		struct acrypto_session_alloc a;
		unsigned int best = 0, mine = 0;
		int id, listed = 0;

		id = sess_alloc(fd, kdrv_triples[k][0], kdrv_triples[k][1], kdrv_triples[k][2], NULL, 0, &a);
		if (id < 0) {
			ok = 0;
			snprintf(why, sizeof(why), "%s: SESSION_ALLOC %s", kdrv_names[k], strerror(-id));
			continue;
		}
		sess_free(fd, (uint32_t)id);
		for (int i = 0; i < nalgs; i++) {
			if (strcmp(algs[i].name, kdrv_names[k]))
				continue;
			if (algs[i].priority > best)
				best = algs[i].priority;
			if (!strcmp(algs[i].driver, a.bound_driver)) {
				listed = 1;
				mine = algs[i].priority;
			}
		}
		/* No stdrng at all: the module uses get_random_bytes. */
		if (!strcmp(a.bound_driver, ACRYPTO_DEV_GET_RANDOM) && !best)
			continue;
		if (!listed || mine != best) {
			ok = 0;
			snprintf(why, sizeof(why), "%s: default %s (prio %u) is not a best listed one (%u)",
				 kdrv_names[k], a.bound_driver, mine, best);
		}
	}
	if (!has_driver("cbc-aes-aesni")) {
		ok = 0;
		strcpy(why, "cbc-aes-aesni missing");
	}
	t_result(ok, "/proc/crypto: %d drivers; unbound sessions get a best one %s", nalgs, why);
}

static void test_rng(int fd, const char *drv)
{
	static unsigned char a[4096], b[4096], c[4][4096];
	struct acrypto_request reqs[4];
	struct acrypto_completion comp[4];
	static const uint32_t lens[4] = { 1, 32, 1000, 4096 };
	struct acrypto_session_alloc sa;
	char why[256] = "";
	int id, ret, ok = 0;

	id = sess_alloc(fd, ACRYPTO_DEV_OP_RNG, ACRYPTO_DEV_TYPE_RNG, ACRYPTO_DEV_MODE_NONE, drv, 4096, &sa);
	if (id < 0) {
		t_result(0, "rng %s: SESSION_ALLOC: %s", drv, strerror(-id));
		return;
	}
	ret = sess_fill(fd, (uint32_t)id, ACRYPTO_DEV_FILL_SRC, NULL, 0, NULL, 0, NULL, 4096);
	if (!ret) {
		memset(a, 0, sizeof(a));
		memset(b, 0, sizeof(b));
		ret = sess_add(fd, (uint32_t)id, a, sizeof(a));
		if (ret == 4096)
			ret = sess_add(fd, (uint32_t)id, b, sizeof(b));
	}
	if (ret != 4096) {
		sprintf(why, "sync: %s", ret < 0 ? strerror(-ret) : "short");
		goto out;
	}
	if (!memcmp(a, b, sizeof(a)) || !memcmp(a, c[0], 64)) {
		strcpy(why, "sync: repeated or zero output");
		goto out;
	}
	memset(reqs, 0, sizeof(reqs));
	memset(c, 0, sizeof(c));
	for (int i = 0; i < 4; i++) {
		reqs[i].tag = (uint64_t)i;
		reqs[i].session_id = (uint32_t)id;
		reqs[i].dst = uptr(c[i]);
		reqs[i].dst_len = lens[i];
	}
	ret = submit(fd, reqs, 4);
	if (ret != 4 || read_all(fd, comp, 4)) {
		sprintf(why, "batch submit/read failed");
		goto out;
	}
	for (int i = 0; i < 4; i++) {
		int j = (int)comp[i].tag;

		if (comp[i].status || comp[i].out_len != lens[j]) {
			sprintf(why, "batch request %d: status %d len %u", j, comp[i].status,
				comp[i].out_len);
			goto out;
		}
	}
	if (!memcmp(c[2], c[3], 1000) || !memcmp(c[3], a, 4096) || !memcmp(c[1], c[3], 32)) {
		strcpy(why, "batch: repeated output");
		goto out;
	}
	ok = 1;
out:
	sess_free(fd, (uint32_t)id);
	t_result(ok, "rng %s (bound %s): sync and batch %s", drv[0] ? drv : "(default)",
		 sa.bound_driver, why);
}

static void test_afalg_xts(void)
{
	for (int i = 0; i < nvecs; i++) {
		const struct vec *v = &vecs[i];
		unsigned char out[MAXD];
		int op, ret;

		if (v->op != ACRYPTO_DEV_OP_ENCRYPT || v->mode != ACRYPTO_DEV_MODE_XTS)
			continue;
		op = afalg_open("xts(aes)", v->key, v->klen);
		if (op < 0) {
			t_result(0, "af_alg xts(aes): %s", strerror(-op));
			return;
		}
		ret = afalg_crypt(op, 1, v->iv, 16, v->data, (size_t)v->dlen, out);
		close(op);
		t_result(!ret && !memcmp(out, v->exp, (size_t)v->elen),
			 "af_alg xts(aes) agrees with libcrypto: %s len %d", v->name, v->dlen);
	}
}

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN };
	char why[512];
	int fd, ep;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: t_kat VECTORS\n");
		return 2;
	}
	if (load_vectors(argv[1]) <= 0) {
		t_result(0, "vectors %s: none read, or a vector that cannot be parsed", argv[1]);
		return 1;
	}
	fd = dev_open();
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = fd;
	if (ep < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
		perror("epoll");
		return 2;
	}
	test_enum(fd);

	for (size_t g = 0; g < sizeof(fixed_drivers) / sizeof(fixed_drivers[0]); g++) {
		const char *alg = fixed_drivers[g][0];
		const char *drivers[64];
		int nd = 0;

		for (int k = 1; k < 6 && fixed_drivers[g][k]; k++)
			drivers[nd++] = fixed_drivers[g][k];
		/* Plus whatever else the kernel has for this name. */
		for (int i = 0; i < nalgs && nd < 64; i++) {
			int dup = 0;

			if (strcmp(algs[i].name, alg))
				continue;
			for (int k = 0; k < nd; k++)
				dup |= !strcmp(drivers[k], algs[i].driver);
			if (!dup)
				drivers[nd++] = algs[i].driver;
		}

		for (int k = 0; k < nd; k++) {
			const char *drv = drivers[k];
			const char *last = "";

			for (int i = 0; i < nvecs; i++) {
				const struct vec *v = &vecs[i];
				int ok = 1;

				if (strcmp(kernel_name(v), alg) || !strcmp(v->name, last))
					continue;
				last = v->name;
				/* sync: every vector of this name, both directions */
				why[0] = 0;
				for (int j = i; j < nvecs && ok; j++) {
					if (strcmp(vecs[j].name, v->name))
						continue;
					ok = run_sync(fd, drv, &vecs[j], 0, why);
					if (ok && v->op == ACRYPTO_DEV_OP_ENCRYPT)
						ok = run_sync(fd, drv, &vecs[j], 1, why);
				}
				t_result(ok, "%s via %s, CRYPTO_SESSION_ADD %s", v->name,
					 drv[0] ? drv : "(default)", why);
				why[0] = 0;
				ok = run_batch(fd, ep, drv, v->name, why);
				t_result(ok, "%s via %s, batch %s", v->name,
					 drv[0] ? drv : "(default)", why);
			}
		}
	}

	test_afalg_xts();

	{
		const char *rngs[32] = { "", ACRYPTO_DEV_GET_RANDOM, "drbg_nopr_hmac_sha256" };
		int nr = 3;

		for (int i = 0; i < nalgs && nr < 32; i++) {
			int dup = 0;

			if (strcmp(algs[i].name, "stdrng"))
				continue;
			for (int k = 0; k < nr; k++)
				dup |= !strcmp(rngs[k], algs[i].driver);
			if (!dup)
				rngs[nr++] = algs[i].driver;
		}
		for (int k = 0; k < nr; k++)
			test_rng(fd, rngs[k]);
	}

	close(ep);
	close(fd);
	printf("t_kat: %d passed, %d failed\n", t_passed, t_failed);
	return t_exit();
}
