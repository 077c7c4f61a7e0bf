// SPDX-License-Identifier: GPL-2.0-only
/*
 * acrypto: /dev/acrypto, the kernel crypto API's asynchronous drivers
 * (software, AES-NI, cryptd, hardware) exposed to user space.
 *
 * Thin on purpose: sessions own one crypto transform each, requests are
 * handed to the crypto API with a completion callback, and completions are
 * queued per file descriptor for read()/poll(). No balancing, no routing:
 * user space does that.
 *
 * Object lifetimes:
 *  - struct acrypto_ctx (one per open fd) is reference counted: the fd holds
 *    one reference and every request holds one. It outlives release() while
 *    requests are still in the crypto layer.
 *  - struct acrypto_session is reference counted: the fd's xarray holds one
 *    reference and every request holds one, so a transform is freed only
 *    after its last request finished. Final puts happen in process context
 *    only (ioctl, read, release, or the reap worker), never in a crypto
 *    callback, because freeing a transform may sleep.
 *  - struct acrypto_req is owned by the crypto layer while in flight, then
 *    by the completion list (read() frees it) or the reap list (the reap
 *    worker frees it, when the fd is closed or the synchronous caller was
 *    interrupted). Its data is a kernel copy, or, for large batch cipher
 *    requests, the submitter's pages pinned until the request is freed.
 * Module exit waits until every context is gone, then flushes the worker.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/hash.h>
#include <crypto/rng.h>
#include <crypto/skcipher.h>
#include <linux/acrypto.h>
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/random.h>
#include <linux/rwsem.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

/* Exported (GPL) by crypto/api.c, declared only in crypto/internal.h. */
extern struct list_head crypto_alg_list;
extern struct rw_semaphore crypto_alg_sem;

#define ACRYPTO_BUFFER_CAP	(1U << 20)	/* kmalloc'ed, scatterlist-able */
#define ACRYPTO_ENUM_CAP	512

static unsigned int max_sessions = 64;
module_param(max_sessions, uint, 0444);
MODULE_PARM_DESC(max_sessions, "Sessions per open file (default 64)");

static unsigned int max_inflight = 256;
module_param(max_inflight, uint, 0444);
MODULE_PARM_DESC(max_inflight,
		 "Batch requests submitted and not yet read, per open file (default 256)");

static unsigned int max_buffer = 65536;
module_param(max_buffer, uint, 0444);
MODULE_PARM_DESC(max_buffer,
		 "Largest source/destination of one request in bytes (default 65536, at most 1 MiB)");

static unsigned int zero_copy_min = 4096;
module_param(zero_copy_min, uint, 0444);
MODULE_PARM_DESC(zero_copy_min,
		 "Batch cipher requests of at least this many bytes run on the caller's pinned pages (0: never; default 4096)");

static struct workqueue_struct *acrypto_wq;
static atomic_t acrypto_live_ctx = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(acrypto_unload_wait);

/* The algorithm names the module serves, and what they mean in the ABI. */
struct acrypto_alg_desc {
	const char *name;
	u32 kind;
	u32 mode;
	u32 type;
};

static const struct acrypto_alg_desc acrypto_algs[] = {
	{ "ecb(aes)", ACRYPTO_KIND_CIPHER, CRYPTO_MODE_ECB, 0 },
	{ "cbc(aes)", ACRYPTO_KIND_CIPHER, CRYPTO_MODE_CBC, 0 },
	{ "ctr(aes)", ACRYPTO_KIND_CIPHER, CRYPTO_MODE_CTR, 0 },
	{ "xts(aes)", ACRYPTO_KIND_CIPHER, CRYPTO_MODE_XTS, 0 },
	{ "sha1", ACRYPTO_KIND_HASH, CRYPTO_MODE_NONE, CRYPTO_TYPE_SHA1 },
	{ "sha256", ACRYPTO_KIND_HASH, CRYPTO_MODE_NONE, CRYPTO_TYPE_SHA256 },
	{ "hmac(sha1)", ACRYPTO_KIND_HMAC, CRYPTO_MODE_NONE, CRYPTO_TYPE_SHA1 },
	{ "hmac(sha256)", ACRYPTO_KIND_HMAC, CRYPTO_MODE_NONE, CRYPTO_TYPE_SHA256 },
	{ "stdrng", ACRYPTO_KIND_RNG, CRYPTO_MODE_NONE, CRYPTO_TYPE_RNG },
};

struct acrypto_ctx {
	struct kref ref;
	spinlock_t lock;		/* done, reap, closed, inflight */
	struct list_head done;		/* batch completions for read() */
	struct list_head reap;		/* finished requests nobody will read */
	struct work_struct reap_work;
	wait_queue_head_t wait;
	bool closed;
	unsigned int inflight;		/* batch requests accepted, not freed */
	struct mutex lock_sessions;	/* nsessions, session allocation */
	unsigned int nsessions;
	u32 next_id;			/* for xa_alloc_cyclic */
	struct xarray sessions;
	struct mutex lock_enum;		/* snapshot */
	struct acrypto_alg_info *snap;
	unsigned int nsnap;
};

struct acrypto_session {
	struct kref ref;
	u32 id;
	u32 op;
	u32 type;
	u32 mode;
	u32 kind;
	u32 priority;
	union {
		struct crypto_skcipher *sk;
		struct crypto_ahash *ah;
		struct crypto_rng *rng;		/* NULL: get_random_bytes() */
	};
	unsigned int key_size;
	unsigned int iv_size;
	unsigned int block_size;
	unsigned int out_size;
	unsigned int src_size;
	unsigned int dst_size;
	u32 driver_flags;

	spinlock_t key_lock;		/* key_set, key_busy, users */
	bool key_set;
	bool key_busy;			/* setkey running */
	unsigned int users;		/* requests in the crypto layer */

	struct mutex lock_sync;		/* the synchronous flow's state */
	u8 *src;
	unsigned int src_len;
	bool src_set;
	u8 iv[ACRYPTO_MAX_IV_LEN];
	bool iv_set;
};

/* User pages pinned for the duration of one request (zero copy). */
struct acrypto_pinned {
	struct page **pages;
	unsigned int npages;
	bool dirty;			/* written by the request */
	struct sg_table sgt;
};

struct acrypto_req {
	struct list_head node;
	struct acrypto_ctx *ctx;
	struct acrypto_session *sess;
	u64 tag;
	u32 session_id;			/* as the submitter named it */
	u64 udst;			/* where read() copies the output */
	bool encrypt;
	bool batch;
	/* sync only, under ctx->lock */
	bool finished;
	bool orphan;
	struct completion done;
	int status;
	unsigned int len;
	unsigned int out_len;
	u8 *buf;			/* data, processed in place */
	bool pinned;			/* no buf: the caller's pages */
	struct acrypto_pinned pin_src;
	struct acrypto_pinned pin_dst;
	u8 iv[ACRYPTO_MAX_IV_LEN];
	u8 digest[HASH_MAX_DIGESTSIZE];
	struct scatterlist sg;
	union {
		struct skcipher_request *sk;
		struct ahash_request *ah;
	} creq;
};

/* ---- object lifetimes ------------------------------------------------ */

static void acrypto_ctx_free(struct kref *ref)
{
	struct acrypto_ctx *ctx = container_of(ref, struct acrypto_ctx, ref);

	xa_destroy(&ctx->sessions);
	mutex_destroy(&ctx->lock_enum);
	mutex_destroy(&ctx->lock_sessions);
	kvfree(ctx->snap);
	kfree(ctx);
	if (atomic_dec_and_test(&acrypto_live_ctx))
		wake_up(&acrypto_unload_wait);
}

static void acrypto_ctx_put(struct acrypto_ctx *ctx)
{
	kref_put(&ctx->ref, acrypto_ctx_free);
}

static void acrypto_session_free(struct kref *ref)
{
	struct acrypto_session *s = container_of(ref, struct acrypto_session, ref);

	switch (s->kind) {
	case ACRYPTO_KIND_CIPHER:
		crypto_free_skcipher(s->sk);
		break;
	case ACRYPTO_KIND_HASH:
	case ACRYPTO_KIND_HMAC:
		crypto_free_ahash(s->ah);
		break;
	case ACRYPTO_KIND_RNG:
		if (s->rng)
			crypto_free_rng(s->rng);
		break;
	}
	kfree_sensitive(s->src);
	mutex_destroy(&s->lock_sync);
	kfree_sensitive(s);
}

static void acrypto_session_put(struct acrypto_session *s)
{
	kref_put(&s->ref, acrypto_session_free);
}

static struct acrypto_session *acrypto_session_get(struct acrypto_ctx *ctx, u32 id)
{
	struct acrypto_session *s;

	if (!id)
		return NULL;
	xa_lock(&ctx->sessions);
	s = xa_load(&ctx->sessions, id);
	if (s)
		kref_get(&s->ref);
	xa_unlock(&ctx->sessions);
	return s;
}

/* Marks the session's key as in use by one more request. */
static int acrypto_session_use(struct acrypto_session *s)
{
	int ret = 0;

	spin_lock_irq(&s->key_lock);
	if (s->key_busy)
		ret = -EBUSY;
	else if (!s->key_set)
		ret = -ENOKEY;
	else
		s->users++;
	spin_unlock_irq(&s->key_lock);
	return ret;
}

static void acrypto_session_unuse(struct acrypto_session *s)
{
	unsigned long flags;

	spin_lock_irqsave(&s->key_lock, flags);
	s->users--;
	spin_unlock_irqrestore(&s->key_lock, flags);
}

static int acrypto_pin(struct acrypto_pinned *p, u64 uaddr, unsigned int len, bool write)
{
	unsigned int offset = offset_in_page(uaddr);
	unsigned int n = DIV_ROUND_UP(offset + len, PAGE_SIZE);
	int got, ret;

	if (uaddr + len < uaddr || uaddr > ULONG_MAX)
		return -EFAULT;
	p->pages = kvmalloc_array(n, sizeof(*p->pages), GFP_KERNEL);
	if (!p->pages)
		return -ENOMEM;
	got = pin_user_pages_fast((unsigned long)uaddr & PAGE_MASK, n,
				  write ? FOLL_WRITE : 0, p->pages);
	if (got != n) {
		if (got > 0)
			unpin_user_pages(p->pages, got);
		ret = got < 0 ? got : -EFAULT;
		goto err_free_pages;
	}
	ret = sg_alloc_table_from_pages(&p->sgt, p->pages, n, offset, len, GFP_KERNEL);
	if (ret)
		goto err_unpin;
	p->npages = n;
	p->dirty = write;
	return 0;

err_unpin:
	unpin_user_pages(p->pages, n);
err_free_pages:
	kvfree(p->pages);
	p->pages = NULL;
	return ret;
}

/* Process context only: marking pages dirty may sleep. */
static void acrypto_unpin(struct acrypto_pinned *p)
{
	if (!p->npages)
		return;
	sg_free_table(&p->sgt);
	if (p->dirty)
		unpin_user_pages_dirty_lock(p->pages, p->npages, true);
	else
		unpin_user_pages(p->pages, p->npages);
	kvfree(p->pages);
	p->npages = 0;
}

/* Process context only: may drop the last session and context references. */
static void acrypto_req_free(struct acrypto_req *r)
{
	struct acrypto_ctx *ctx = r->ctx;

	if (r->batch) {
		spin_lock_irq(&ctx->lock);
		/* Readers wait for idle; pollers for room (EPOLLOUT). */
		if (ctx->inflight-- == max_inflight || !ctx->inflight)
			wake_up_interruptible(&ctx->wait);
		spin_unlock_irq(&ctx->lock);
	}
	if (r->sess->kind == ACRYPTO_KIND_CIPHER)
		skcipher_request_free(r->creq.sk);
	else if (r->sess->kind != ACRYPTO_KIND_RNG)
		ahash_request_free(r->creq.ah);
	kfree_sensitive(r->buf);
	acrypto_unpin(&r->pin_dst);
	acrypto_unpin(&r->pin_src);
	acrypto_session_put(r->sess);
	kfree_sensitive(r);
	acrypto_ctx_put(ctx);
}

static void acrypto_reap_work(struct work_struct *work)
{
	struct acrypto_ctx *ctx = container_of(work, struct acrypto_ctx, reap_work);
	struct acrypto_req *r, *tmp;
	LIST_HEAD(list);

	spin_lock_irq(&ctx->lock);
	list_splice_init(&ctx->reap, &list);
	spin_unlock_irq(&ctx->lock);
	/* Each request holds a context reference: ctx may go with the last. */
	list_for_each_entry_safe(r, tmp, &list, node)
		acrypto_req_free(r);
}

/* ---- completion ------------------------------------------------------- */

/* Any context: hard or soft interrupt, a crypto worker, or the submitter. */
static void acrypto_req_complete(struct acrypto_req *r, int err)
{
	struct acrypto_ctx *ctx = r->ctx;
	unsigned long flags;

	if (r->sess->kind != ACRYPTO_KIND_RNG)
		acrypto_session_unuse(r->sess);

	spin_lock_irqsave(&ctx->lock, flags);
	r->status = err;
	if (!r->batch && !r->orphan) {
		r->finished = true;
		complete(&r->done);
	} else if (r->orphan || ctx->closed) {
		list_add_tail(&r->node, &ctx->reap);
		/* Under the lock: the worker cannot free ctx before this. */
		queue_work(acrypto_wq, &ctx->reap_work);
	} else {
		list_add_tail(&r->node, &ctx->done);
		wake_up_interruptible_poll(&ctx->wait, EPOLLIN | EPOLLRDNORM);
	}
	spin_unlock_irqrestore(&ctx->lock, flags);
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
static void acrypto_crypto_done(void *data, int err)
{
#else
static void acrypto_crypto_done(struct crypto_async_request *areq, int err)
{
	void *data = areq->data;
#endif
	/* A backlogged request moved to the queue: the real end comes later. */
	if (err == -EINPROGRESS)
		return;
	acrypto_req_complete(data, err);
}

/*
 * Allocates a request for @s with a @len byte buffer. The caller fills the
 * buffer, then calls acrypto_req_start(). Takes references on ctx and s.
 */
static struct acrypto_req *acrypto_req_alloc(struct acrypto_ctx *ctx,
					     struct acrypto_session *s,
					     unsigned int len)
{
	const u32 cflags = CRYPTO_TFM_REQ_MAY_BACKLOG | CRYPTO_TFM_REQ_MAY_SLEEP;
	struct acrypto_req *r;

	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return NULL;
	/* At least one byte, so that an empty hash still has a real page. */
	r->buf = kmalloc(max(len, 1U), GFP_KERNEL | __GFP_NOWARN);
	if (!r->buf)
		goto err_free_req;
	r->len = len;
	sg_init_one(&r->sg, r->buf, len);

	switch (s->kind) {
	case ACRYPTO_KIND_CIPHER:
		r->creq.sk = skcipher_request_alloc(s->sk, GFP_KERNEL);
		if (!r->creq.sk)
			goto err_free_buf;
		skcipher_request_set_callback(r->creq.sk, cflags,
					      acrypto_crypto_done, r);
		skcipher_request_set_crypt(r->creq.sk, &r->sg, &r->sg, len, r->iv);
		break;
	case ACRYPTO_KIND_HASH:
	case ACRYPTO_KIND_HMAC:
		r->creq.ah = ahash_request_alloc(s->ah, GFP_KERNEL);
		if (!r->creq.ah)
			goto err_free_buf;
		ahash_request_set_callback(r->creq.ah, cflags,
					   acrypto_crypto_done, r);
		ahash_request_set_crypt(r->creq.ah, &r->sg, r->digest, len);
		break;
	}

	init_completion(&r->done);
	INIT_LIST_HEAD(&r->node);
	kref_get(&ctx->ref);
	r->ctx = ctx;
	kref_get(&s->ref);
	r->sess = s;
	return r;

err_free_buf:
	kfree(r->buf);
err_free_req:
	kfree(r);
	return NULL;
}

/*
 * Hands the request to the crypto layer; every started request reaches
 * acrypto_req_complete() exactly once. The caller must have reserved the key
 * with acrypto_session_use() for ciphers and hashes.
 */
static void acrypto_req_start(struct acrypto_req *r)
{
	struct acrypto_session *s = r->sess;
	int err;

	switch (s->kind) {
	case ACRYPTO_KIND_CIPHER:
		r->out_len = r->len;
		err = r->encrypt ? crypto_skcipher_encrypt(r->creq.sk) :
				   crypto_skcipher_decrypt(r->creq.sk);
		break;
	case ACRYPTO_KIND_HASH:
	case ACRYPTO_KIND_HMAC:
		r->out_len = s->out_size;
		err = crypto_ahash_digest(r->creq.ah);
		break;
	default:	/* RNG: synchronous */
		r->out_len = r->len;
		if (s->rng) {
			err = crypto_rng_get_bytes(s->rng, r->buf, r->len);
		} else {
			get_random_bytes(r->buf, r->len);
			err = 0;
		}
		break;
	}
	/* -EBUSY with MAY_BACKLOG: queued on the backlog, callback follows. */
	if (err == -EINPROGRESS || err == -EBUSY)
		return;
	acrypto_req_complete(r, err);
}

/* ---- validation helpers ---------------------------------------------- */

static bool acrypto_zero(const void *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

/* Driver names: what cra_driver_name uses, nothing that reaches modprobe oddly. */
static int acrypto_check_name(const char *name, size_t size)
{
	size_t i, len = strnlen(name, size);

	if (len == size)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!isalnum(c) && !strchr("-_(),.", c))
			return -EINVAL;
	}
	return 0;
}

static int acrypto_cipher_len_ok(u32 mode, unsigned int len)
{
	switch (mode) {
	case CRYPTO_MODE_ECB:
	case CRYPTO_MODE_CBC:
		return len && !(len % 16);
	case CRYPTO_MODE_CTR:
		return len != 0;
	case CRYPTO_MODE_XTS:
		return len >= 16;
	}
	return 0;
}

/* ---- CRYPTO_SESSION_ALLOC --------------------------------------------- */

static const struct acrypto_alg_desc *acrypto_desc_find(u32 kind, u32 mode, u32 type)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(acrypto_algs); i++) {
		const struct acrypto_alg_desc *d = &acrypto_algs[i];

		if (d->kind == kind && d->mode == mode &&
		    (kind == ACRYPTO_KIND_CIPHER || d->type == type))
			return d;
	}
	return NULL;
}

static u32 acrypto_alg_flags(const struct crypto_alg *alg)
{
	u32 f = 0;

	if (alg->cra_flags & CRYPTO_ALG_ASYNC)
		f |= ACRYPTO_ALG_F_ASYNC;
	/*
	 * Heuristic: drivers flagged KERN_DRIVER_ONLY are the ones backed by
	 * a device (HIFN, PadLock, QAT, CCP, ...). CPU implementations such as
	 * *-generic, *-aesni, *-avx2 never set it.
	 */
	if (alg->cra_flags & CRYPTO_ALG_KERN_DRIVER_ONLY)
		f |= ACRYPTO_ALG_F_HW;
	return f;
}

static int acrypto_session_init_tfm(struct acrypto_session *s,
				    const struct acrypto_alg_desc *d,
				    const char *driver)
{
	const char *want = driver[0] ? driver : d->name;
	struct crypto_tfm *tfm;

	switch (s->kind) {
	case ACRYPTO_KIND_CIPHER: {
		struct crypto_skcipher *sk = crypto_alloc_skcipher(want, 0, 0);

		if (IS_ERR(sk))
			return PTR_ERR(sk);
		s->sk = sk;
		tfm = crypto_skcipher_tfm(sk);
		s->iv_size = crypto_skcipher_ivsize(sk);
		s->block_size = crypto_skcipher_blocksize(sk);
		if (s->key_size < crypto_skcipher_min_keysize(sk) ||
		    s->key_size > crypto_skcipher_max_keysize(sk) ||
		    s->iv_size != (s->mode == CRYPTO_MODE_ECB ? 0 : 16))
			return -EINVAL;
		break;
	}
	case ACRYPTO_KIND_HASH:
	case ACRYPTO_KIND_HMAC: {
		struct crypto_ahash *ah = crypto_alloc_ahash(want, 0, 0);

		if (IS_ERR(ah))
			return PTR_ERR(ah);
		s->ah = ah;
		tfm = crypto_ahash_tfm(ah);
		s->out_size = crypto_ahash_digestsize(ah);
		s->block_size = crypto_tfm_alg_blocksize(tfm);
		if (s->out_size > HASH_MAX_DIGESTSIZE)
			return -EINVAL;
		if (s->kind == ACRYPTO_KIND_HASH)
			s->key_set = true;	/* nothing to set */
		break;
	}
	default: {	/* RNG */
		struct crypto_rng *rng;
		int err;

		s->key_set = true;
		if (!strcmp(driver, ACRYPTO_DRIVER_GET_RANDOM))
			return 0;
		rng = crypto_alloc_rng(want, 0, 0);
		if (IS_ERR(rng)) {
			/* No stdrng in this kernel: the kernel's own pool. */
			if (!driver[0] && PTR_ERR(rng) == -ENOENT)
				return 0;
			return PTR_ERR(rng);
		}
		s->rng = rng;
		tfm = crypto_rng_tfm(rng);
		err = crypto_rng_reset(rng, NULL, crypto_rng_seedsize(rng));
		if (err)
			return err;
		break;
	}
	}
	/* A driver bound by name must implement the algorithm asked for. */
	if (strcmp(crypto_tfm_alg_name(tfm), d->name))
		return -EINVAL;
	s->driver_flags = acrypto_alg_flags(tfm->__crt_alg);
	return 0;
}

static int acrypto_ioc_session_alloc(struct acrypto_ctx *ctx, void __user *argp)
{
	const struct acrypto_alg_desc *d;
	struct acrypto_session_alloc arg;
	struct acrypto_session *s;
	const char *bound;
	u32 kind, id;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.__pad || !acrypto_zero(arg.__reserved, sizeof(arg.__reserved)))
		return -EINVAL;
	ret = acrypto_check_name(arg.driver, sizeof(arg.driver));
	if (ret)
		return ret;

	switch (arg.operation) {
	case CRYPTO_OP_ENCRYPT:
	case CRYPTO_OP_DECRYPT:
		kind = ACRYPTO_KIND_CIPHER;
		if (arg.type < CRYPTO_TYPE_AES_128 || arg.type > CRYPTO_TYPE_AES_256 ||
		    (arg.mode == CRYPTO_MODE_XTS && arg.type == CRYPTO_TYPE_AES_192))
			return -EINVAL;
		break;
	case CRYPTO_OP_HASH:
		kind = ACRYPTO_KIND_HASH;
		break;
	case CRYPTO_OP_HMAC:
		kind = ACRYPTO_KIND_HMAC;
		break;
	case CRYPTO_OP_RNG:
		kind = ACRYPTO_KIND_RNG;
		break;
	default:
		return -EINVAL;
	}
	d = acrypto_desc_find(kind, arg.mode, arg.type);
	if (!d)
		return -EINVAL;
	if (kind != ACRYPTO_KIND_RNG && !strcmp(arg.driver, ACRYPTO_DRIVER_GET_RANDOM))
		return -EINVAL;
	if (!arg.src_size || arg.src_size > max_buffer || arg.dst_size > max_buffer)
		return -EMSGSIZE;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	kref_init(&s->ref);
	spin_lock_init(&s->key_lock);
	mutex_init(&s->lock_sync);
	s->op = arg.operation;
	s->type = arg.type;
	s->mode = arg.mode;
	s->kind = kind;
	s->priority = arg.priority;
	s->src_size = arg.src_size;
	if (kind == ACRYPTO_KIND_CIPHER)
		s->key_size = (16 + 8 * (arg.type - CRYPTO_TYPE_AES_128)) *
			      (arg.mode == CRYPTO_MODE_XTS ? 2 : 1);

	ret = acrypto_session_init_tfm(s, d, arg.driver);
	if (ret)
		goto err_put_session;
	s->dst_size = arg.dst_size ? arg.dst_size :
		      (s->out_size ? s->out_size : s->src_size);

	s->src = kmalloc(s->src_size, GFP_KERNEL | __GFP_NOWARN);
	if (!s->src) {
		ret = -ENOMEM;
		goto err_put_session;
	}

	/* Everything reported except the id, before the session is visible. */
	memset(arg.bound_driver, 0, sizeof(arg.bound_driver));
	if (s->kind == ACRYPTO_KIND_CIPHER)
		bound = crypto_tfm_alg_driver_name(crypto_skcipher_tfm(s->sk));
	else if (s->kind != ACRYPTO_KIND_RNG)
		bound = crypto_tfm_alg_driver_name(crypto_ahash_tfm(s->ah));
	else if (s->rng)
		bound = crypto_tfm_alg_driver_name(crypto_rng_tfm(s->rng));
	else
		bound = ACRYPTO_DRIVER_GET_RANDOM;
	strscpy(arg.bound_driver, bound, sizeof(arg.bound_driver));
	arg.key_size = s->key_size;
	arg.iv_size = s->iv_size;
	arg.block_size = s->block_size;
	arg.out_size = s->out_size;
	arg.driver_flags = s->driver_flags;
	arg.dst_size = s->dst_size;

	mutex_lock(&ctx->lock_sessions);
	if (ctx->nsessions >= max_sessions) {
		ret = -EMFILE;
		goto err_unlock;
	}
	/* Cyclic, so that a stale id does not name the next session at once. */
	ret = xa_alloc_cyclic(&ctx->sessions, &id, s, XA_LIMIT(1, INT_MAX),
			      &ctx->next_id, GFP_KERNEL);
	if (ret < 0)
		goto err_unlock;
	s->id = id;
	ctx->nsessions++;
	/* Ours, for the undo below: another thread may free the id at once. */
	kref_get(&s->ref);
	mutex_unlock(&ctx->lock_sessions);

	arg.session_id = id;
	ret = 0;
	if (copy_to_user(argp, &arg, sizeof(arg))) {
		/* Nobody learnt the id (or guessed it and freed it): undo. */
		mutex_lock(&ctx->lock_sessions);
		if (xa_cmpxchg(&ctx->sessions, id, s, NULL, GFP_KERNEL) == s) {
			ctx->nsessions--;
			acrypto_session_put(s);
		}
		mutex_unlock(&ctx->lock_sessions);
		ret = -EFAULT;
	}
	acrypto_session_put(s);
	return ret;

err_unlock:
	mutex_unlock(&ctx->lock_sessions);
err_put_session:
	/* The transform pointer is NULL or valid: only set on success. */
	acrypto_session_put(s);
	return ret;
}

/* ---- CRYPTO_SESSION_FREE ---------------------------------------------- */

static int acrypto_ioc_session_free(struct acrypto_ctx *ctx, void __user *argp)
{
	struct acrypto_session_free arg;
	struct acrypto_session *s;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.__pad)
		return -EINVAL;
	if (!arg.session_id)
		return -ENOENT;
	mutex_lock(&ctx->lock_sessions);
	s = xa_erase(&ctx->sessions, arg.session_id);
	if (s)
		ctx->nsessions--;
	mutex_unlock(&ctx->lock_sessions);
	if (!s)
		return -ENOENT;
	acrypto_session_put(s);
	return 0;
}

/* ---- CRYPTO_FILL_DATA -------------------------------------------------- */

static int acrypto_session_setkey(struct acrypto_session *s, const u8 *key,
				  unsigned int len)
{
	int ret;

	spin_lock_irq(&s->key_lock);
	if (s->users || s->key_busy) {
		spin_unlock_irq(&s->key_lock);
		return -EBUSY;
	}
	s->key_busy = true;
	s->key_set = false;
	spin_unlock_irq(&s->key_lock);

	if (s->kind == ACRYPTO_KIND_CIPHER)
		ret = crypto_skcipher_setkey(s->sk, key, len);
	else
		ret = crypto_ahash_setkey(s->ah, key, len);

	spin_lock_irq(&s->key_lock);
	s->key_busy = false;
	s->key_set = !ret;
	spin_unlock_irq(&s->key_lock);
	return ret;
}

static int acrypto_ioc_fill_data(struct acrypto_ctx *ctx, void __user *argp)
{
	const u32 known = CRYPTO_FILL_KEY | CRYPTO_FILL_IV | CRYPTO_FILL_SRC;
	struct acrypto_fill_data arg;
	struct acrypto_session *s;
	u8 *key = NULL;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (!arg.flags || (arg.flags & ~known) || arg.__pad ||
	    !acrypto_zero(arg.__reserved, sizeof(arg.__reserved)))
		return -EINVAL;
	s = acrypto_session_get(ctx, arg.session_id);
	if (!s)
		return -ENOENT;

	ret = -EINVAL;
	if (arg.flags & CRYPTO_FILL_KEY) {
		if (s->kind == ACRYPTO_KIND_CIPHER) {
			if (arg.key_len != s->key_size)
				goto out_put;
		} else if (s->kind == ACRYPTO_KIND_HMAC) {
			if (arg.key_len > ACRYPTO_MAX_KEY_LEN)
				goto out_put;
		} else {
			goto out_put;
		}
	}
	if ((arg.flags & CRYPTO_FILL_IV) && (!s->iv_size || arg.iv_len != s->iv_size))
		goto out_put;
	if (arg.flags & CRYPTO_FILL_SRC) {
		if (arg.src_len > s->src_size) {
			ret = -EMSGSIZE;
			goto out_put;
		}
		if (s->kind == ACRYPTO_KIND_CIPHER && !acrypto_cipher_len_ok(s->mode, arg.src_len))
			goto out_put;
		if (s->kind == ACRYPTO_KIND_RNG && !arg.src_len)
			goto out_put;
	}

	ret = mutex_lock_interruptible(&s->lock_sync);
	if (ret)
		goto out_put;

	if (arg.flags & CRYPTO_FILL_KEY) {
		/* An empty HMAC key is valid; keep a real buffer anyway. */
		key = arg.key_len ? memdup_user(u64_to_user_ptr(arg.key), arg.key_len) :
				    kzalloc(1, GFP_KERNEL);
		if (!key)
			key = ERR_PTR(-ENOMEM);
		if (IS_ERR(key)) {
			ret = PTR_ERR(key);
			key = NULL;
			goto out_unlock;
		}
		ret = acrypto_session_setkey(s, key, arg.key_len);
		if (ret)
			goto out_unlock;
	}
	if (arg.flags & CRYPTO_FILL_IV) {
		if (copy_from_user(s->iv, u64_to_user_ptr(arg.iv), arg.iv_len)) {
			ret = -EFAULT;
			goto out_unlock;
		}
		s->iv_set = true;
	}
	if (arg.flags & CRYPTO_FILL_SRC) {
		s->src_set = false;
		if (s->kind != ACRYPTO_KIND_RNG &&
		    copy_from_user(s->src, u64_to_user_ptr(arg.src), arg.src_len)) {
			ret = -EFAULT;
			goto out_unlock;
		}
		s->src_len = arg.src_len;
		s->src_set = true;
	}
	ret = 0;

out_unlock:
	mutex_unlock(&s->lock_sync);
	kfree_sensitive(key);
out_put:
	acrypto_session_put(s);
	return ret;
}

/* ---- CRYPTO_SESSION_ADD ------------------------------------------------ */

static int acrypto_ioc_session_add(struct acrypto_ctx *ctx, void __user *argp)
{
	struct acrypto_session_add arg;
	struct acrypto_session *s;
	struct acrypto_req *r;
	unsigned int out_len;
	const u8 *out;
	int ret;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.__pad || !acrypto_zero(arg.__reserved, sizeof(arg.__reserved)))
		return -EINVAL;
	s = acrypto_session_get(ctx, arg.session_id);
	if (!s)
		return -ENOENT;

	ret = mutex_lock_interruptible(&s->lock_sync);
	if (ret)
		goto out_put;
	ret = -ENODATA;
	if (!s->src_set || (s->iv_size && !s->iv_set))
		goto out_unlock;
	out_len = s->out_size ? s->out_size : s->src_len;
	ret = -ENOSPC;
	if (arg.dst_len < out_len)
		goto out_unlock;
	if (s->kind != ACRYPTO_KIND_RNG) {
		ret = acrypto_session_use(s);
		if (ret)
			goto out_unlock;
	}

	r = acrypto_req_alloc(ctx, s, s->src_len);
	if (!r) {
		if (s->kind != ACRYPTO_KIND_RNG)
			acrypto_session_unuse(s);
		ret = -ENOMEM;
		goto out_unlock;
	}
	if (s->kind != ACRYPTO_KIND_RNG)
		memcpy(r->buf, s->src, s->src_len);
	memcpy(r->iv, s->iv, sizeof(r->iv));
	r->encrypt = s->op == CRYPTO_OP_ENCRYPT;
	acrypto_req_start(r);

	if (wait_for_completion_interruptible(&r->done)) {
		spin_lock_irq(&ctx->lock);
		if (!r->finished) {
			/* The callback will hand it to the reap worker. */
			r->orphan = true;
			spin_unlock_irq(&ctx->lock);
			ret = -EINTR;
			goto out_unlock;
		}
		spin_unlock_irq(&ctx->lock);
	}

	ret = r->status;
	if (!ret) {
		out = (s->kind == ACRYPTO_KIND_HASH || s->kind == ACRYPTO_KIND_HMAC) ?
		      r->digest : r->buf;
		arg.dst_len = r->out_len;
		if (copy_to_user(u64_to_user_ptr(arg.dst), out, r->out_len) ||
		    copy_to_user(argp, &arg, sizeof(arg)))
			ret = -EFAULT;
	}
	acrypto_req_free(r);

out_unlock:
	mutex_unlock(&s->lock_sync);
out_put:
	acrypto_session_put(s);
	return ret;
}

/* ---- ACRYPTO_IOC_SUBMIT ------------------------------------------------ */

static int acrypto_submit_one(struct acrypto_ctx *ctx, const struct acrypto_request *q)
{
	struct acrypto_session *s;
	struct acrypto_req *r;
	bool hash, pin;
	int ret;

	if (q->flags || q->__pad || q->__reserved)
		return -EINVAL;
	s = acrypto_session_get(ctx, q->session_id);
	if (!s)
		return -ENOENT;
	hash = s->kind == ACRYPTO_KIND_HASH || s->kind == ACRYPTO_KIND_HMAC;

	ret = -EINVAL;
	if (q->op && (s->kind != ACRYPTO_KIND_CIPHER ||
		      (q->op != CRYPTO_OP_ENCRYPT && q->op != CRYPTO_OP_DECRYPT)))
		goto out_put;
	if (s->kind == ACRYPTO_KIND_RNG) {
		if (!q->dst_len)
			goto out_put;
		if (q->dst_len > max_buffer) {
			ret = -EMSGSIZE;
			goto out_put;
		}
	} else {
		if (q->src_len > max_buffer) {
			ret = -EMSGSIZE;
			goto out_put;
		}
		if (s->kind == ACRYPTO_KIND_CIPHER &&
		    !acrypto_cipher_len_ok(s->mode, q->src_len))
			goto out_put;
	}
	if (q->iv_len != (s->kind == ACRYPTO_KIND_CIPHER ? s->iv_size : 0))
		goto out_put;
	ret = -ENOSPC;
	if (s->kind == ACRYPTO_KIND_CIPHER && q->dst_len < q->src_len)
		goto out_put;
	if (hash && q->digest_len < s->out_size)
		goto out_put;

	spin_lock_irq(&ctx->lock);
	if (ctx->inflight >= max_inflight) {
		spin_unlock_irq(&ctx->lock);
		ret = -EAGAIN;
		goto out_put;
	}
	ctx->inflight++;
	spin_unlock_irq(&ctx->lock);

	/*
	 * Large cipher requests work on the caller's pages: no copies. Source
	 * and destination must then be the same buffer or disjoint ones.
	 */
	pin = s->kind == ACRYPTO_KIND_CIPHER && zero_copy_min && q->src_len >= zero_copy_min &&
	      (q->src == q->dst || q->src + q->src_len <= q->dst ||
	       q->dst + q->src_len <= q->src);

	r = acrypto_req_alloc(ctx, s, pin ? 0 :
			      s->kind == ACRYPTO_KIND_RNG ? q->dst_len : q->src_len);
	if (!r) {
		ret = -ENOMEM;
		goto out_uncount;
	}
	r->batch = true;	/* from here acrypto_req_free() uncounts */
	r->tag = q->tag;
	r->session_id = q->session_id;
	r->udst = hash ? q->digest : q->dst;
	r->encrypt = q->op ? q->op == CRYPTO_OP_ENCRYPT : s->op == CRYPTO_OP_ENCRYPT;
	if (pin) {
		struct scatterlist *dst;

		ret = acrypto_pin(&r->pin_src, q->src, q->src_len, q->src == q->dst);
		if (ret)
			goto out_free_req;
		dst = r->pin_src.sgt.sgl;
		if (q->src != q->dst) {
			ret = acrypto_pin(&r->pin_dst, q->dst, q->src_len, true);
			if (ret)
				goto out_free_req;
			dst = r->pin_dst.sgt.sgl;
		}
		r->pinned = true;
		r->len = q->src_len;
		skcipher_request_set_crypt(r->creq.sk, r->pin_src.sgt.sgl, dst, r->len, r->iv);
	}
	ret = -EFAULT;
	if (s->kind != ACRYPTO_KIND_RNG && !pin &&
	    copy_from_user(r->buf, u64_to_user_ptr(q->src), q->src_len))
		goto out_free_req;
	if (q->iv_len && copy_from_user(r->iv, u64_to_user_ptr(q->iv), q->iv_len))
		goto out_free_req;
	if (s->kind != ACRYPTO_KIND_RNG) {
		ret = acrypto_session_use(s);
		if (ret)
			goto out_free_req;
	}
	acrypto_req_start(r);
	acrypto_session_put(s);
	return 0;

out_free_req:
	acrypto_req_free(r);
	acrypto_session_put(s);
	return ret;
out_uncount:
	spin_lock_irq(&ctx->lock);
	if (ctx->inflight-- == max_inflight || !ctx->inflight)
		wake_up_interruptible(&ctx->wait);
	spin_unlock_irq(&ctx->lock);
out_put:
	acrypto_session_put(s);
	return ret;
}

static int acrypto_ioc_submit(struct acrypto_ctx *ctx, void __user *argp)
{
	struct acrypto_request __user *ureqs;
	struct acrypto_submit arg;
	struct acrypto_request q;
	int ret = 0;
	u32 i;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.__pad || arg.__reserved)
		return -EINVAL;
	if (!arg.count || arg.count > max_inflight)
		return -EINVAL;
	ureqs = u64_to_user_ptr(arg.reqs);

	for (i = 0; i < arg.count; i++) {
		if (copy_from_user(&q, &ureqs[i], sizeof(q))) {
			ret = -EFAULT;
			break;
		}
		ret = acrypto_submit_one(ctx, &q);
		if (ret)
			break;
	}
	if (i == 0)
		return ret;
	arg.submitted = i;
	/* On -EFAULT here the accepted requests still complete and are read. */
	if (copy_to_user(argp, &arg, sizeof(arg)))
		return -EFAULT;
	return 0;
}

/* ---- ACRYPTO_IOC_ENUM -------------------------------------------------- */

static int acrypto_enum_snapshot(struct acrypto_ctx *ctx)
{
	struct acrypto_alg_info *snap;
	struct crypto_alg *alg;
	unsigned int n = 0, i, j;
	size_t k;

	/* Instantiate the best driver of each name, so templates show up. */
	for (k = 0; k < ARRAY_SIZE(acrypto_algs); k++)
		crypto_has_alg(acrypto_algs[k].name, 0, 0);

	snap = kvcalloc(ACRYPTO_ENUM_CAP, sizeof(*snap), GFP_KERNEL);
	if (!snap)
		return -ENOMEM;

	down_read(&crypto_alg_sem);
	list_for_each_entry(alg, &crypto_alg_list, cra_list) {
		const u32 skip = CRYPTO_ALG_LARVAL | CRYPTO_ALG_DEAD |
				 CRYPTO_ALG_DYING | CRYPTO_ALG_INTERNAL;
		const struct acrypto_alg_desc *d = NULL;

		if ((alg->cra_flags & skip) || !(alg->cra_flags & CRYPTO_ALG_TESTED))
			continue;
		for (k = 0; k < ARRAY_SIZE(acrypto_algs); k++) {
			if (!strcmp(alg->cra_name, acrypto_algs[k].name)) {
				d = &acrypto_algs[k];
				break;
			}
		}
		if (!d)
			continue;
		if (n == ACRYPTO_ENUM_CAP - 1)	/* keep one for get_random_bytes */
			break;
		snap[n].flags = acrypto_alg_flags(alg);
		snap[n].priority = alg->cra_priority;
		snap[n].kind = d->kind;
		snap[n].mode = d->mode;
		snap[n].type = d->type;
		strscpy(snap[n].driver_name, alg->cra_driver_name, ACRYPTO_NAME_LEN);
		strscpy(snap[n].alg_name, alg->cra_name, ACRYPTO_NAME_LEN);
		n++;
	}
	up_read(&crypto_alg_sem);

	snap[n].kind = ACRYPTO_KIND_RNG;
	snap[n].type = CRYPTO_TYPE_RNG;
	strscpy(snap[n].driver_name, ACRYPTO_DRIVER_GET_RANDOM, ACRYPTO_NAME_LEN);
	strscpy(snap[n].alg_name, ACRYPTO_DRIVER_GET_RANDOM, ACRYPTO_NAME_LEN);
	n++;

	/* The highest priority per name is what an unbound session gets. */
	for (i = 0; i < n; i++) {
		bool best = true;

		for (j = 0; j < n; j++) {
			if (j != i && !strcmp(snap[i].alg_name, snap[j].alg_name) &&
			    (snap[j].priority > snap[i].priority ||
			     (snap[j].priority == snap[i].priority && j < i)))
				best = false;
		}
		if (best)
			snap[i].flags |= ACRYPTO_ALG_F_DEFAULT;
	}

	kvfree(ctx->snap);
	ctx->snap = snap;
	ctx->nsnap = n;
	return 0;
}

static int acrypto_ioc_enum(struct acrypto_ctx *ctx, void __user *argp)
{
	struct acrypto_alg_info arg;
	u32 index;
	int ret = 0;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (!acrypto_zero(arg.__reserved, sizeof(arg.__reserved)))
		return -EINVAL;
	index = arg.index;

	mutex_lock(&ctx->lock_enum);
	if (index == 0 || !ctx->snap)
		ret = acrypto_enum_snapshot(ctx);
	if (!ret && index >= ctx->nsnap)
		ret = -ENOENT;
	if (!ret)
		arg = ctx->snap[index];		/* zero-initialised padding */
	mutex_unlock(&ctx->lock_enum);
	if (ret)
		return ret;
	arg.index = index;
	if (copy_to_user(argp, &arg, sizeof(arg)))
		return -EFAULT;
	return 0;
}

/* ---- ACRYPTO_IOC_VERSION ---------------------------------------------- */

static int acrypto_ioc_version(void __user *argp)
{
	struct acrypto_version v;

	memset(&v, 0, sizeof(v));
	v.abi_version = ACRYPTO_ABI_VERSION;
	v.max_sessions = max_sessions;
	v.max_inflight = max_inflight;
	v.max_buffer = max_buffer;
	v.request_size = sizeof(struct acrypto_request);
	v.completion_size = sizeof(struct acrypto_completion);
	v.zero_copy_min = zero_copy_min;
	if (copy_to_user(argp, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

/* ---- file operations --------------------------------------------------- */

static long acrypto_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct acrypto_ctx *ctx = file->private_data;
	void __user *argp = (void __user *)arg;

	/* Exact command match also checks _IOC_SIZE and the direction. */
	switch (cmd) {
	case CRYPTO_SESSION_ALLOC:
		return acrypto_ioc_session_alloc(ctx, argp);
	case CRYPTO_FILL_DATA:
		return acrypto_ioc_fill_data(ctx, argp);
	case CRYPTO_SESSION_ADD:
		return acrypto_ioc_session_add(ctx, argp);
	case CRYPTO_SESSION_FREE:
		return acrypto_ioc_session_free(ctx, argp);
	case ACRYPTO_IOC_SUBMIT:
		return acrypto_ioc_submit(ctx, argp);
	case ACRYPTO_IOC_ENUM:
		return acrypto_ioc_enum(ctx, argp);
	case ACRYPTO_IOC_VERSION:
		return acrypto_ioc_version(argp);
	}
	return -ENOTTY;
}

static bool acrypto_read_ready(struct acrypto_ctx *ctx)
{
	bool ready;

	spin_lock_irq(&ctx->lock);
	ready = !list_empty(&ctx->done) || !ctx->inflight;
	spin_unlock_irq(&ctx->lock);
	return ready;
}

static ssize_t acrypto_read(struct file *file, char __user *buf, size_t count,
			    loff_t *ppos)
{
	struct acrypto_ctx *ctx = file->private_data;
	struct acrypto_completion c;
	struct acrypto_req *r;
	size_t n = 0;
	bool idle;
	int ret;

	if (count < sizeof(c))
		return -EINVAL;

	while (n + sizeof(c) <= count) {
		spin_lock_irq(&ctx->lock);
		r = list_first_entry_or_null(&ctx->done, struct acrypto_req, node);
		if (r)
			list_del_init(&r->node);
		idle = !ctx->inflight;
		spin_unlock_irq(&ctx->lock);

		if (!r) {
			if (n || idle)
				break;
			if (file->f_flags & O_NONBLOCK)
				return -EAGAIN;
			ret = wait_event_interruptible(ctx->wait, acrypto_read_ready(ctx));
			if (ret)
				return ret;
			continue;
		}

		memset(&c, 0, sizeof(c));
		c.tag = r->tag;
		c.session_id = r->session_id;
		c.status = r->status;
		if (!r->status) {
			const bool hash = r->sess->kind == ACRYPTO_KIND_HASH ||
					  r->sess->kind == ACRYPTO_KIND_HMAC;

			c.out_len = r->out_len;
			/* Pinned requests wrote their destination already. */
			if (!r->pinned &&
			    copy_to_user(u64_to_user_ptr(r->udst),
					 hash ? r->digest : r->buf, r->out_len)) {
				c.status = -EFAULT;
				c.out_len = 0;
			}
		}
		if (copy_to_user(buf + n, &c, sizeof(c))) {
			/* Keep the completion for the next read(). */
			spin_lock_irq(&ctx->lock);
			list_add(&r->node, &ctx->done);
			spin_unlock_irq(&ctx->lock);
			return n ? n : -EFAULT;
		}
		n += sizeof(c);
		acrypto_req_free(r);
	}
	return n;
}

static __poll_t acrypto_poll(struct file *file, poll_table *wait)
{
	struct acrypto_ctx *ctx = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &ctx->wait, wait);
	spin_lock_irq(&ctx->lock);
	if (!list_empty(&ctx->done))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (ctx->inflight < max_inflight)
		mask |= EPOLLOUT | EPOLLWRNORM;
	spin_unlock_irq(&ctx->lock);
	return mask;
}

static int acrypto_open(struct inode *inode, struct file *file)
{
	struct acrypto_ctx *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	kref_init(&ctx->ref);
	spin_lock_init(&ctx->lock);
	INIT_LIST_HEAD(&ctx->done);
	INIT_LIST_HEAD(&ctx->reap);
	INIT_WORK(&ctx->reap_work, acrypto_reap_work);
	init_waitqueue_head(&ctx->wait);
	mutex_init(&ctx->lock_sessions);
	mutex_init(&ctx->lock_enum);
	xa_init_flags(&ctx->sessions, XA_FLAGS_ALLOC1);
	atomic_inc(&acrypto_live_ctx);
	file->private_data = ctx;
	return nonseekable_open(inode, file);
}

static int acrypto_release(struct inode *inode, struct file *file)
{
	struct acrypto_ctx *ctx = file->private_data;
	struct acrypto_session *s;
	struct acrypto_req *r, *tmp;
	unsigned long id;
	LIST_HEAD(list);

	/* From now on completions go to the reap worker. */
	spin_lock_irq(&ctx->lock);
	ctx->closed = true;
	list_splice_init(&ctx->done, &list);
	spin_unlock_irq(&ctx->lock);
	list_for_each_entry_safe(r, tmp, &list, node)
		acrypto_req_free(r);

	mutex_lock(&ctx->lock_sessions);
	xa_for_each(&ctx->sessions, id, s) {
		xa_erase(&ctx->sessions, id);
		acrypto_session_put(s);
	}
	ctx->nsessions = 0;
	mutex_unlock(&ctx->lock_sessions);

	/* Requests still in flight hold their own references. */
	acrypto_ctx_put(ctx);
	return 0;
}

static const struct file_operations acrypto_fops = {
	.owner = THIS_MODULE,
	.open = acrypto_open,
	.release = acrypto_release,
	.read = acrypto_read,
	.poll = acrypto_poll,
	.unlocked_ioctl = acrypto_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice acrypto_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "acrypto",
	.fops = &acrypto_fops,
	.mode = 0600,
};

static int __init acrypto_init(void)
{
	int ret;

	/* The ABI has one layout for 32- and 64-bit callers: pin it. */
	BUILD_BUG_ON(sizeof(struct acrypto_session_alloc) != 328);
	BUILD_BUG_ON(sizeof(struct acrypto_fill_data) != 64);
	BUILD_BUG_ON(sizeof(struct acrypto_session_add) != 40);
	BUILD_BUG_ON(sizeof(struct acrypto_session_free) != 8);
	BUILD_BUG_ON(sizeof(struct acrypto_request) != 80);
	BUILD_BUG_ON(sizeof(struct acrypto_submit) != 32);
	BUILD_BUG_ON(sizeof(struct acrypto_completion) != 24);
	BUILD_BUG_ON(sizeof(struct acrypto_version) != 40);
	BUILD_BUG_ON(sizeof(struct acrypto_alg_info) != 296);

	if (!max_sessions || !max_inflight || !max_buffer ||
	    max_buffer > ACRYPTO_BUFFER_CAP) {
		pr_err("module parameters out of range\n");
		return -EINVAL;
	}
	acrypto_wq = alloc_workqueue("acrypto", WQ_UNBOUND, 0);
	if (!acrypto_wq)
		return -ENOMEM;
	ret = misc_register(&acrypto_misc);
	if (ret)
		goto err_destroy_wq;
	return 0;

err_destroy_wq:
	destroy_workqueue(acrypto_wq);
	return ret;
}

static void __exit acrypto_exit(void)
{
	int live;

	misc_deregister(&acrypto_misc);
	/* Closed fds may still have requests in the crypto layer. */
	live = atomic_read(&acrypto_live_ctx);
	if (live)
		pr_info("unload waits for the requests of %d closed files\n", live);
	wait_event(acrypto_unload_wait, !atomic_read(&acrypto_live_ctx));
	destroy_workqueue(acrypto_wq);
}

module_init(acrypto_init);
module_exit(acrypto_exit);

MODULE_DESCRIPTION("acrypto: asynchronous kernel crypto drivers for user space");
MODULE_LICENSE("GPL");
