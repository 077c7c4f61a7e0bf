// SPDX-License-Identifier: GPL-2.0-only
/*
 * acrypto: /dev/acrypto, the kernel crypto API's asynchronous drivers
 * (software, AES-NI, cryptd, hardware) exposed to user space.
 *
 * Thin on purpose: sessions own one crypto transform each, requests are
 * handed to the crypto API with a completion callback, and completions are
 * queued per file descriptor for read()/poll(). No balancing, no routing,
 * no enumeration (user space reads /proc/crypto): only what needs the
 * kernel, through the crypto API's public interface.
 *
 * Object lifetimes:
 *  - struct acrypto_ctx (one per open fd) is reference counted: the fd holds
 *    one reference and every request holds one. It outlives release() while
 *    requests are still in the crypto layer, and holds a reference on this
 *    module until it is freed, so the module cannot be unloaded (rmmod says
 *    "in use") while a closed fd's requests are still in a driver.
 *  - struct acrypto_session is reference counted: the fd's xarray holds one
 *    reference and every request holds one, so a transform is freed only
 *    after its last request finished. Final puts happen in process context
 *    only (ioctl, read, release, or the module's workers), never in a crypto
 *    callback, because freeing a transform may sleep.
 *  - struct acrypto_req is owned by the crypto layer while in flight, then
 *    by the completion list (read() frees it) or the reap list (the reap
 *    worker frees it, when the fd is closed or the synchronous caller was
 *    interrupted). Its data is a kernel copy, or, for large batch cipher
 *    requests, the submitter's pages, pinned from submission until the
 *    driver has finished with them (the finish worker unpins them before
 *    the completion becomes readable) and charged to the submitter's
 *    mm->pinned_vm against RLIMIT_MEMLOCK meanwhile.
 *  - Batch requests remember the submitter's mm (mmgrab: the pointer stays
 *    unique while the request lives); read() from another mm delivers the
 *    record with -EPERM and writes nothing.
 * Everything a user can make the module allocate is GFP_KERNEL_ACCOUNT
 * (memory cgroup) and bounded per fd: max_sessions sessions, max_inflight
 * batch requests, one interrupted synchronous request per session.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <crypto/aead.h>
#include <crypto/akcipher.h>
#include <crypto/algapi.h>
#include <crypto/hash.h>
#include <crypto/rng.h>
#include <crypto/sha2.h>
#include <crypto/skcipher.h>
#include <asm/unaligned.h>
#include <linux/acrypto.h>
#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/completion.h>
#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#define ACRYPTO_BUFFER_CAP	(1U << 20)	/* kmalloc'ed, scatterlist-able */
#define ACRYPTO_STRUCT_CAP	4096		/* largest structure size accepted */

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

/*
 * Stream states go to user space sealed: HMAC-SHA256 under a key made at
 * module load (never leaves the module) over the state and what binds it
 * (see acrypto_stream_seal). NULL: the kernel has no hmac(sha256), and
 * sessions report state_size 0 (no streams).
 */
static struct crypto_shash *acrypto_seal_tfm;
#define ACRYPTO_SEAL_LEN	SHA256_DIGEST_SIZE
#define ACRYPTO_STATE_MAGIC	0x6d727473	/* "strm" */
#define ACRYPTO_STATE_HDR	8		/* magic, state length */
static void acrypto_stream_work(struct work_struct *work);

/* The algorithm names the module serves, and what they mean in the ABI. */
enum acrypto_kind {
	ACRYPTO_KIND_CIPHER = 1,
	ACRYPTO_KIND_HASH,
	ACRYPTO_KIND_HMAC,
	ACRYPTO_KIND_RNG,
	ACRYPTO_KIND_AEAD,
	ACRYPTO_KIND_AKCIPHER,
};

struct acrypto_alg_desc {
	const char *name;
	u32 kind;
	u32 mode;
	u32 type;
};

static const struct acrypto_alg_desc acrypto_algs[] = {
	{ "ecb(aes)", ACRYPTO_KIND_CIPHER, ACRYPTO_DEV_MODE_ECB, 0 },
	{ "cbc(aes)", ACRYPTO_KIND_CIPHER, ACRYPTO_DEV_MODE_CBC, 0 },
	{ "ctr(aes)", ACRYPTO_KIND_CIPHER, ACRYPTO_DEV_MODE_CTR, 0 },
	{ "xts(aes)", ACRYPTO_KIND_CIPHER, ACRYPTO_DEV_MODE_XTS, 0 },
	{ "sha1", ACRYPTO_KIND_HASH, ACRYPTO_DEV_MODE_NONE, ACRYPTO_DEV_TYPE_SHA1 },
	{ "sha256", ACRYPTO_KIND_HASH, ACRYPTO_DEV_MODE_NONE, ACRYPTO_DEV_TYPE_SHA256 },
	{ "hmac(sha1)", ACRYPTO_KIND_HMAC, ACRYPTO_DEV_MODE_NONE, ACRYPTO_DEV_TYPE_SHA1 },
	{ "hmac(sha256)", ACRYPTO_KIND_HMAC, ACRYPTO_DEV_MODE_NONE, ACRYPTO_DEV_TYPE_SHA256 },
	{ "stdrng", ACRYPTO_KIND_RNG, ACRYPTO_DEV_MODE_NONE, ACRYPTO_DEV_TYPE_RNG },
	{ "gcm(aes)", ACRYPTO_KIND_AEAD, ACRYPTO_DEV_MODE_GCM, 0 },
	{ "rfc4106(gcm(aes))", ACRYPTO_KIND_AEAD, ACRYPTO_DEV_MODE_RFC4106, 0 },
	{ "rfc7539(chacha20,poly1305)", ACRYPTO_KIND_AEAD, ACRYPTO_DEV_MODE_POLY1305,
	  ACRYPTO_DEV_TYPE_CHACHA20 },
	{ "pkcs1pad(rsa)", ACRYPTO_KIND_AKCIPHER, ACRYPTO_DEV_MODE_PKCS1, ACRYPTO_DEV_TYPE_RSA },
	{ "pkcs1pad(rsa,sha1)", ACRYPTO_KIND_AKCIPHER, ACRYPTO_DEV_MODE_PKCS1_SHA1,
	  ACRYPTO_DEV_TYPE_RSA },
	{ "pkcs1pad(rsa,sha256)", ACRYPTO_KIND_AKCIPHER, ACRYPTO_DEV_MODE_PKCS1_SHA256,
	  ACRYPTO_DEV_TYPE_RSA },
};

/*
 * A public key (DER RSAPublicKey of a 2048-bit modulus made for this
 * purpose, e = 65537) set on every akcipher transform when it is allocated,
 * before any key of the user's. Linux 6.1's virtio_crypto akcipher driver
 * takes its device reference in setkey and drops it in exit_tfm without a
 * check, so freeing one that never had a key parsed dereferences NULL;
 * this key makes every transform safe to free, whatever the user then sets
 * (a key that fails to parse leaves the driver's device reference as it
 * was). The session does not count it as a key (key_set stays false).
 */
static const u8 acrypto_ak_prime_key[] = {
	0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00, 0xb3, 0xed, 0x1d,
	0x3b, 0xdd, 0xc9, 0x08, 0x7b, 0xa9, 0x65, 0xb6, 0x56, 0x1c, 0x1c, 0x79,
	0xcc, 0x53, 0xed, 0x3b, 0x8d, 0xb1, 0xd4, 0x95, 0xc5, 0xbc, 0x55, 0xb4,
	0x87, 0xee, 0xe4, 0x6c, 0x90, 0x75, 0x28, 0xe4, 0x5b, 0x61, 0x3e, 0xb3,
	0x46, 0x4c, 0x75, 0x32, 0x06, 0xd1, 0x56, 0xf3, 0x67, 0xec, 0xcc, 0x39,
	0xa0, 0xbf, 0x4a, 0x63, 0x19, 0x11, 0xf5, 0xf3, 0x00, 0xf1, 0xae, 0xa8,
	0xef, 0x64, 0x7c, 0xdb, 0x16, 0x8c, 0x2f, 0xb2, 0x4c, 0xff, 0x46, 0x70,
	0xfe, 0x3a, 0xe9, 0xc3, 0x5e, 0xae, 0x0f, 0x41, 0x9e, 0xf1, 0x84, 0x53,
	0xbb, 0x42, 0x49, 0x49, 0x50, 0x26, 0xe1, 0xf4, 0xe6, 0xa2, 0x32, 0x04,
	0x66, 0x1f, 0x6f, 0x45, 0xdd, 0x15, 0xfe, 0x09, 0x70, 0xeb, 0xc0, 0xd1,
	0x19, 0xbe, 0x55, 0x10, 0x99, 0x73, 0x28, 0x52, 0xe1, 0x06, 0xe7, 0xd8,
	0x26, 0x16, 0x6c, 0x6a, 0x80, 0x30, 0xa0, 0xd4, 0x5c, 0x48, 0x9f, 0x03,
	0x20, 0xcf, 0x4d, 0x77, 0x33, 0x91, 0xcf, 0x53, 0x41, 0x6c, 0xe6, 0x13,
	0xba, 0x51, 0x56, 0xdf, 0x09, 0x73, 0xf0, 0xcb, 0x0b, 0xd2, 0xc4, 0xc5,
	0x39, 0x5c, 0xe4, 0xb6, 0xac, 0xc8, 0x6d, 0x55, 0x92, 0xd1, 0x13, 0x81,
	0x75, 0x59, 0x68, 0xce, 0x56, 0x51, 0x47, 0x6c, 0x1c, 0x72, 0x8e, 0x5e,
	0x63, 0xe8, 0xbf, 0x30, 0x99, 0xdc, 0x05, 0x02, 0x89, 0x8d, 0xfc, 0xf9,
	0x47, 0xff, 0x73, 0x41, 0x8b, 0x18, 0x00, 0xe7, 0x6c, 0x08, 0xa6, 0xa3,
	0x04, 0xf4, 0x7a, 0xae, 0x04, 0x76, 0xd8, 0xa1, 0xf9, 0x34, 0x6e, 0x18,
	0x18, 0x60, 0xa1, 0x39, 0x0c, 0x0f, 0xc3, 0xbc, 0x77, 0x32, 0x63, 0xa6,
	0xf7, 0xcc, 0x58, 0x63, 0x19, 0x86, 0xc5, 0xda, 0xd9, 0xc6, 0x43, 0x39,
	0xc9, 0xf5, 0xfa, 0x35, 0xcd, 0xd1, 0xc7, 0x9d, 0x4b, 0x0b, 0x50, 0x46,
	0x51, 0x02, 0x03, 0x01, 0x00, 0x01,
};

/* RFC4106: the 8-byte IV follows the AAD in the kernel's associated data. */
#define ACRYPTO_RFC4106_IV	8

struct acrypto_ctx {
	struct kref ref;
	spinlock_t lock;		/* done, reap, finish, closed, inflight, orphans */
	struct list_head done;		/* batch completions for read() */
	struct list_head reap;		/* finished requests nobody will read */
	struct list_head finish;	/* finished, pages still to unpin */
	struct work_struct reap_work;
	struct work_struct finish_work;
	wait_queue_head_t wait;
	bool closed;
	unsigned int inflight;		/* batch requests accepted, not freed */
	unsigned int orphans;		/* interrupted synchronous requests running */
	atomic64_t pinned_pages;	/* pages this fd's requests hold pinned */
	struct mutex lock_sessions;	/* nsessions, session allocation */
	unsigned int nsessions;
	u32 next_id;			/* for xa_alloc_cyclic */
	struct xarray sessions;
	u64 seal_id;			/* random: binds stream states to this fd */
};

struct acrypto_session {
	struct kref ref;
	u32 id;
	u32 op;
	u32 type;
	u32 mode;
	u32 kind;
	union {
		struct crypto_skcipher *sk;
		struct crypto_ahash *ah;
		struct crypto_rng *rng;		/* NULL: get_random_bytes() */
		struct crypto_aead *ad;
		struct crypto_akcipher *ak;
	};
	unsigned int key_size;
	unsigned int iv_size;
	unsigned int block_size;
	unsigned int out_size;
	unsigned int src_size;
	u32 driver_flags;
	unsigned int state_size;	/* sealed stream state; 0: no streams */
	u64 seal_id;			/* random, new with each key: binds states */

	spinlock_t key_lock;		/* key_set, key_busy, users */
	bool key_set;
	bool key_busy;			/* setkey running */
	bool key_private;		/* akcipher: the key set is a private key */
	unsigned int users;		/* requests in the crypto layer */

	bool orphan;			/* under ctx->lock: an interrupted ADD runs */
	wait_queue_head_t orphan_wait;

	struct mutex lock_sync;		/* the synchronous flow's state */
	u8 *src;			/* src_size bytes, allocated on first use */
	unsigned int src_len;
	bool src_set;
	u8 iv[ACRYPTO_DEV_MAX_IV_LEN];
	bool iv_set;
	u8 *aad;			/* AEAD: the synchronous flow's AAD */
	unsigned int aad_len;
	u8 *sync_state;			/* hash: the filled sealed state (state_size) */
	bool state_set;
};

/* User pages pinned while the driver works on them (zero copy). */
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
	struct mm_struct *mm;		/* batch: the submitter's (mmgrab) */
	u64 tag;
	u32 session_id;			/* as the submitter named it */
	u64 udst;			/* where read() copies the output */
	u64 utag;			/* AEAD seal: where read() copies the tag */
	unsigned int assoc;		/* AEAD: bytes of associated data in buf;
					 * akcipher: bytes of input before the output */
	u32 op;				/* akcipher: ACRYPTO_DEV_OP_* */
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
	unsigned long charged;		/* pages counted in mm->pinned_vm */
	struct acrypto_pinned pin_src;
	struct acrypto_pinned pin_dst;
	u8 iv[ACRYPTO_DEV_MAX_IV_LEN];
	u8 digest[HASH_MAX_DIGESTSIZE];
	/* Streams: the sealed state in (checked) and out, state_size bytes. */
	u8 *state;
	bool stream_in;
	bool stream_out;
	struct work_struct stream_work;
	struct scatterlist sg;
	struct scatterlist sg_out;	/* akcipher: the output part of buf */
	union {
		struct skcipher_request *sk;
		struct ahash_request *ah;
		struct aead_request *ad;
		struct akcipher_request *ak;
	} creq;
};

/* ---- object lifetimes ------------------------------------------------ */

static void acrypto_ctx_free(struct kref *ref)
{
	struct acrypto_ctx *ctx = container_of(ref, struct acrypto_ctx, ref);

	xa_destroy(&ctx->sessions);
	mutex_destroy(&ctx->lock_sessions);
	kfree(ctx);
	atomic_dec(&acrypto_live_ctx);
	/*
	 * Not the last code of this module to run: the caller holds the fd
	 * (and so the file's module reference), or is a work item of
	 * acrypto_wq, which module exit destroys (waiting for it) first.
	 */
	module_put(THIS_MODULE);
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
	case ACRYPTO_KIND_AEAD:
		crypto_free_aead(s->ad);
		break;
	case ACRYPTO_KIND_AKCIPHER:
		crypto_free_akcipher(s->ak);
		break;
	}
	kfree_sensitive(s->src);
	kfree_sensitive(s->aad);
	kfree_sensitive(s->sync_state);
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

/* ---- pinned pages ------------------------------------------------------ */

static unsigned int acrypto_npages(u64 uaddr, unsigned int len)
{
	return DIV_ROUND_UP(offset_in_page(uaddr) + len, PAGE_SIZE);
}

/*
 * Charges @n pages to @mm's pinned_vm as RDMA's ib_umem_get() does: over
 * RLIMIT_MEMLOCK without CAP_IPC_LOCK it is refused.
 */
static int acrypto_charge(struct mm_struct *mm, unsigned long n)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	s64 pinned = atomic64_add_return(n, &mm->pinned_vm);

	if (pinned > limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(n, &mm->pinned_vm);
		return -ENOMEM;
	}
	return 0;
}

static int acrypto_pin(struct acrypto_pinned *p, u64 uaddr, unsigned int len, bool write)
{
	unsigned int offset = offset_in_page(uaddr);
	unsigned int n = acrypto_npages(uaddr, len);
	int got, ret;

	if (uaddr + len < uaddr || uaddr > ULONG_MAX)
		return -EFAULT;
	p->pages = kvmalloc_array(n, sizeof(*p->pages), GFP_KERNEL_ACCOUNT);
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
	ret = sg_alloc_table_from_pages(&p->sgt, p->pages, n, offset, len, GFP_KERNEL_ACCOUNT);
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
static void acrypto_unpin(struct acrypto_ctx *ctx, struct acrypto_pinned *p)
{
	if (!p->npages)
		return;
	sg_free_table(&p->sgt);
	if (p->dirty)
		unpin_user_pages_dirty_lock(p->pages, p->npages, true);
	else
		unpin_user_pages(p->pages, p->npages);
	kvfree(p->pages);
	atomic64_sub(p->npages, &ctx->pinned_pages);
	p->npages = 0;
}

/* Unpins a finished (or never started) request's pages and uncharges them. */
static void acrypto_req_unpin(struct acrypto_req *r)
{
	acrypto_unpin(r->ctx, &r->pin_dst);
	acrypto_unpin(r->ctx, &r->pin_src);
	if (r->charged) {
		atomic64_sub(r->charged, &r->mm->pinned_vm);
		r->charged = 0;
	}
}

/* One more batch request of this fd, within max_inflight: -EAGAIN when full. */
static int acrypto_inflight_get(struct acrypto_ctx *ctx)
{
	int ret = 0;

	spin_lock_irq(&ctx->lock);
	if (ctx->inflight >= max_inflight)
		ret = -EAGAIN;
	else
		ctx->inflight++;
	spin_unlock_irq(&ctx->lock);
	return ret;
}

static void acrypto_inflight_put(struct acrypto_ctx *ctx)
{
	spin_lock_irq(&ctx->lock);
	/* Pollers wait for room (EPOLLOUT). */
	if (ctx->inflight-- == max_inflight)
		wake_up_interruptible(&ctx->wait);
	spin_unlock_irq(&ctx->lock);
}

/*
 * An akcipher request of @in input bytes may run, with the session's key
 * reserved (acrypto_session_use): the key is still the one of modulus size
 * @k the request was sized for, and a private one where @op needs it.
 */
static int acrypto_ak_check(const struct acrypto_session *s, u32 op, unsigned int in,
			    unsigned int k)
{
	if (s->out_size != k)
		return -EBUSY;	/* another key was set meanwhile */
	if ((op == ACRYPTO_DEV_OP_SIGN || op == ACRYPTO_DEV_OP_DECRYPT) && !s->key_private)
		return -ENOKEY;
	if (op != ACRYPTO_DEV_OP_VERIFY && in > k)
		return -EMSGSIZE;
	return 0;
}

/* Process context only: may drop the last session and context references. */
static void acrypto_req_free(struct acrypto_req *r)
{
	struct acrypto_ctx *ctx = r->ctx;

	if (r->batch)
		acrypto_inflight_put(ctx);
	if (r->sess->kind == ACRYPTO_KIND_CIPHER)
		skcipher_request_free(r->creq.sk);
	else if (r->sess->kind == ACRYPTO_KIND_AEAD)
		aead_request_free(r->creq.ad);
	else if (r->sess->kind == ACRYPTO_KIND_AKCIPHER)
		akcipher_request_free(r->creq.ak);
	else if (r->sess->kind != ACRYPTO_KIND_RNG)
		ahash_request_free(r->creq.ah);
	kfree_sensitive(r->buf);
	kfree_sensitive(r->state);
	acrypto_req_unpin(r);
	if (r->mm)
		mmdrop(r->mm);
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

/*
 * The request's output is final and its pages unpinned: hand it to its
 * synchronous caller, read(), or the reap worker. Any context.
 */
static void acrypto_req_deliver(struct acrypto_req *r)
{
	struct acrypto_ctx *ctx = r->ctx;
	unsigned long flags;

	spin_lock_irqsave(&ctx->lock, flags);
	if (!r->batch && !r->orphan) {
		r->finished = true;
		complete(&r->done);
	} else if (r->orphan || ctx->closed) {
		if (r->orphan) {
			ctx->orphans--;
			r->sess->orphan = false;
			wake_up_interruptible(&r->sess->orphan_wait);
		}
		list_add_tail(&r->node, &ctx->reap);
		/* Under the lock: the worker cannot free ctx before this. */
		queue_work(acrypto_wq, &ctx->reap_work);
	} else {
		list_add_tail(&r->node, &ctx->done);
		wake_up_interruptible_poll(&ctx->wait, EPOLLIN | EPOLLRDNORM);
	}
	spin_unlock_irqrestore(&ctx->lock, flags);
}

/* Unpins finished zero-copy requests in process context, then delivers them. */
static void acrypto_finish_work(struct work_struct *work)
{
	struct acrypto_ctx *ctx = container_of(work, struct acrypto_ctx, finish_work);
	struct acrypto_req *r, *tmp;
	LIST_HEAD(list);

	spin_lock_irq(&ctx->lock);
	list_splice_init(&ctx->finish, &list);
	spin_unlock_irq(&ctx->lock);
	list_for_each_entry_safe(r, tmp, &list, node) {
		list_del_init(&r->node);
		acrypto_req_unpin(r);
		/* Each holds a ctx reference, so ctx outlives this loop. */
		acrypto_req_deliver(r);
	}
}

/* Any context: hard or soft interrupt, a crypto worker, or the submitter. */
static void acrypto_req_complete(struct acrypto_req *r, int err)
{
	struct acrypto_ctx *ctx = r->ctx;
	unsigned long flags;

	if (r->sess->kind == ACRYPTO_KIND_AKCIPHER) {
		/* The length the driver wrote (a decrypted message may be short). */
		r->out_len = err || r->op == ACRYPTO_DEV_OP_VERIFY ? 0 : r->creq.ak->dst_len;
		/*
		 * Signatures and ciphertexts are k bytes (PKCS#1 I2OSP): a
		 * driver that wrote the value without its leading zero bytes
		 * (virtio-pkcs1-rsa) gets them put back.
		 */
		if (!err && r->out_len < r->sess->out_size &&
		    (r->op == ACRYPTO_DEV_OP_SIGN || r->op == ACRYPTO_DEV_OP_ENCRYPT)) {
			unsigned int pad = r->sess->out_size - r->out_len;

			memmove(r->buf + r->assoc + pad, r->buf + r->assoc, r->out_len);
			memset(r->buf + r->assoc, 0, pad);
			r->out_len = r->sess->out_size;
		}
		/* A driver without this operation (virtio-pkcs1-rsa: no signatures). */
		if (err == -ENOSYS)
			err = -EOPNOTSUPP;
		/*
		 * VERIFY of a well-formed request (the module checked its
		 * lengths): the driver's reasons for a bad signature (a digest
		 * that differs, bad padding, a value above the modulus) are one.
		 */
		else if (r->op == ACRYPTO_DEV_OP_VERIFY &&
			 (err == -EKEYREJECTED || err == -EBADMSG || err == -EINVAL))
			err = -EBADMSG;
	}
	if (r->sess->kind != ACRYPTO_KIND_RNG)
		acrypto_session_unuse(r->sess);
	r->status = err;
	if (!r->pinned) {
		acrypto_req_deliver(r);
		return;
	}
	/* The data is final: unpin now, not when user space reads. */
	spin_lock_irqsave(&ctx->lock, flags);
	list_add_tail(&r->node, &ctx->finish);
	queue_work(acrypto_wq, &ctx->finish_work);
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

/* A new request's list node and completion, and its references on ctx and s. */
static struct acrypto_req *acrypto_req_bind(struct acrypto_req *r, struct acrypto_ctx *ctx,
					    struct acrypto_session *s)
{
	init_completion(&r->done);
	INIT_LIST_HEAD(&r->node);
	kref_get(&ctx->ref);
	r->ctx = ctx;
	kref_get(&s->ref);
	r->sess = s;
	return r;
}

/*
 * Allocates a request for @s with a @len byte buffer. The caller fills the
 * buffer, then calls acrypto_req_start(). Takes references on ctx and s.
 *
 * AEAD: the buffer is @assoc bytes of associated data, then @len bytes of
 * data (plaintext, or ciphertext followed by the tag when @encrypt is
 * false), then room for the tag when @encrypt; processed in place.
 */
static struct acrypto_req *acrypto_req_alloc_aead(struct acrypto_ctx *ctx,
						  struct acrypto_session *s,
						  unsigned int len, unsigned int assoc,
						  bool encrypt)
{
	const u32 cflags = CRYPTO_TFM_REQ_MAY_BACKLOG | CRYPTO_TFM_REQ_MAY_SLEEP;
	unsigned int total = len;
	struct acrypto_req *r;

	if (s->kind == ACRYPTO_KIND_AEAD)
		total = assoc + len + (encrypt ? s->out_size : 0);
	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return NULL;
	/* At least one byte, so that an empty hash still has a real page. */
	r->buf = kmalloc(max(total, 1U), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!r->buf)
		goto err_free_req;
	r->len = len;
	r->assoc = assoc;
	r->encrypt = encrypt;
	sg_init_one(&r->sg, r->buf, total);

	switch (s->kind) {
	case ACRYPTO_KIND_CIPHER:
		r->creq.sk = skcipher_request_alloc(s->sk, GFP_KERNEL_ACCOUNT);
		if (!r->creq.sk)
			goto err_free_buf;
		skcipher_request_set_callback(r->creq.sk, cflags,
					      acrypto_crypto_done, r);
		skcipher_request_set_crypt(r->creq.sk, &r->sg, &r->sg, len, r->iv);
		break;
	case ACRYPTO_KIND_AEAD:
		r->creq.ad = aead_request_alloc(s->ad, GFP_KERNEL_ACCOUNT);
		if (!r->creq.ad)
			goto err_free_buf;
		aead_request_set_callback(r->creq.ad, cflags, acrypto_crypto_done, r);
		aead_request_set_ad(r->creq.ad, assoc);
		/* The crypt length: the plaintext, or the ciphertext and tag. */
		aead_request_set_crypt(r->creq.ad, &r->sg, &r->sg, len, r->iv);
		break;
	case ACRYPTO_KIND_HASH:
	case ACRYPTO_KIND_HMAC:
		r->creq.ah = ahash_request_alloc(s->ah, GFP_KERNEL_ACCOUNT);
		if (!r->creq.ah)
			goto err_free_buf;
		ahash_request_set_callback(r->creq.ah, cflags,
					   acrypto_crypto_done, r);
		ahash_request_set_crypt(r->creq.ah, &r->sg, r->digest, len);
		break;
	}

	return acrypto_req_bind(r, ctx, s);

err_free_buf:
	kfree(r->buf);
err_free_req:
	kfree(r);
	return NULL;
}

/*
 * An akcipher request: @in bytes of input at the start of the buffer, then
 * @out bytes of output (VERIFY: @out bytes of the digest, read by the
 * driver after the signature, and no output). Takes references on ctx
 * and s.
 */
static struct acrypto_req *acrypto_req_alloc_ak(struct acrypto_ctx *ctx,
						struct acrypto_session *s, u32 op,
						unsigned int in, unsigned int out)
{
	const u32 cflags = CRYPTO_TFM_REQ_MAY_BACKLOG | CRYPTO_TFM_REQ_MAY_SLEEP;
	struct acrypto_req *r;

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return NULL;
	r->buf = kzalloc(max(in + out, 1U), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!r->buf)
		goto err_free_req;
	r->creq.ak = akcipher_request_alloc(s->ak, GFP_KERNEL_ACCOUNT);
	if (!r->creq.ak)
		goto err_free_buf;
	r->op = op;
	r->len = in;
	r->assoc = in;
	akcipher_request_set_callback(r->creq.ak, cflags, acrypto_crypto_done, r);
	if (op == ACRYPTO_DEV_OP_VERIFY) {
		/* Linux 6.1: the signature, then the digest, in src; no dst. */
		sg_init_one(&r->sg, r->buf, in + out);
		akcipher_request_set_crypt(r->creq.ak, &r->sg, NULL, in, out);
	} else {
		sg_init_one(&r->sg, r->buf, max(in, 1U));
		sg_init_one(&r->sg_out, r->buf + in, out);
		akcipher_request_set_crypt(r->creq.ak, &r->sg, &r->sg_out, in, out);
	}
	return acrypto_req_bind(r, ctx, s);

err_free_buf:
	kfree(r->buf);
err_free_req:
	kfree(r);
	return NULL;
}

/* A plain request (no AEAD): @len bytes of buffer. */
static struct acrypto_req *acrypto_req_alloc(struct acrypto_ctx *ctx,
					     struct acrypto_session *s,
					     unsigned int len)
{
	return acrypto_req_alloc_aead(ctx, s, len, 0, false);
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
	case ACRYPTO_KIND_AEAD:
		/* Seal: ciphertext and tag; open: the plaintext. */
		r->out_len = r->encrypt ? r->len : r->len - s->out_size;
		err = r->encrypt ? crypto_aead_encrypt(r->creq.ad) :
				   crypto_aead_decrypt(r->creq.ad);
		break;
	case ACRYPTO_KIND_HASH:
	case ACRYPTO_KIND_HMAC:
		if (r->stream_in || r->stream_out) {
			INIT_WORK(&r->stream_work, acrypto_stream_work);
			queue_work(acrypto_wq, &r->stream_work);
			return;
		}
		r->out_len = s->out_size;
		err = crypto_ahash_digest(r->creq.ah);
		break;
	case ACRYPTO_KIND_AKCIPHER:
		/* out_len: what the driver wrote, set at completion. */
		switch (r->op) {
		case ACRYPTO_DEV_OP_ENCRYPT:
			err = crypto_akcipher_encrypt(r->creq.ak);
			break;
		case ACRYPTO_DEV_OP_DECRYPT:
			err = crypto_akcipher_decrypt(r->creq.ak);
			break;
		case ACRYPTO_DEV_OP_SIGN:
			err = crypto_akcipher_sign(r->creq.ak);
			break;
		default:
			err = crypto_akcipher_verify(r->creq.ak);
			break;
		}
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

/* ---- streams: sealed hash state --------------------------------------- */

/*
 * The seal of a state blob (header and driver state, @body bytes at
 * @blob): HMAC-SHA256 under the module's key over a domain string, the
 * fd's and the session's random ids (the session's changes with every
 * key), the session id, operation and type, the bound driver's name and
 * the blob. Process context.
 */
static int acrypto_stream_seal(const struct acrypto_ctx *ctx, const struct acrypto_session *s,
			       const u8 *blob, unsigned int body, u8 *mac)
{
	static const char domain[] = "acrypto stream state v1";
	const char *drv = crypto_tfm_alg_driver_name(crypto_ahash_tfm(s->ah));
	struct {
		__le64 fd_id;
		__le64 sess_seal;
		__le32 sess_id;
		__le32 op;
		__le32 type;
		__le32 body;
	} bind = {
		cpu_to_le64(ctx->seal_id), cpu_to_le64(s->seal_id), cpu_to_le32(s->id),
		cpu_to_le32(s->op), cpu_to_le32(s->type), cpu_to_le32(body),
	};
	SHASH_DESC_ON_STACK(desc, acrypto_seal_tfm);
	int err;

	desc->tfm = acrypto_seal_tfm;
	err = crypto_shash_init(desc);
	if (!err)
		err = crypto_shash_update(desc, domain, sizeof(domain));
	if (!err)
		err = crypto_shash_update(desc, (const u8 *)&bind, sizeof(bind));
	if (!err)
		err = crypto_shash_update(desc, drv, strlen(drv) + 1);
	if (!err)
		err = crypto_shash_finup(desc, blob, body, mac);
	shash_desc_zero(desc);
	return err;
}

/* Checks a sealed state copied in at r->state: -EBADMSG unless it verifies. */
static int acrypto_stream_check(struct acrypto_req *r)
{
	const struct acrypto_session *s = r->sess;
	unsigned int body = s->state_size - ACRYPTO_SEAL_LEN;
	u8 mac[ACRYPTO_SEAL_LEN];
	int err;

	if (get_unaligned_le32(r->state) != ACRYPTO_STATE_MAGIC ||
	    get_unaligned_le32(r->state + 4) != body - ACRYPTO_STATE_HDR)
		return -EBADMSG;
	err = acrypto_stream_seal(r->ctx, s, r->state, body, mac);
	if (!err && crypto_memneq(mac, r->state + body, ACRYPTO_SEAL_LEN))
		err = -EBADMSG;
	memzero_explicit(mac, sizeof(mac));
	return err;
}

/*
 * A stream request in process context: init (or import the checked
 * state), update, then export and seal (EXPORT) or final. Each step may
 * be asynchronous; the worker waits for it, so the chain stays simple.
 * Ends in acrypto_req_complete() exactly once.
 */
static void acrypto_stream_work(struct work_struct *work)
{
	struct acrypto_req *r = container_of(work, struct acrypto_req, stream_work);
	struct acrypto_session *s = r->sess;
	struct ahash_request *req = r->creq.ah;
	unsigned int body = s->state_size - ACRYPTO_SEAL_LEN;
	DECLARE_CRYPTO_WAIT(wait);
	int err;

	ahash_request_set_callback(req, CRYPTO_TFM_REQ_MAY_BACKLOG | CRYPTO_TFM_REQ_MAY_SLEEP,
				   crypto_req_done, &wait);
	if (r->stream_in)
		err = crypto_ahash_import(req, r->state + ACRYPTO_STATE_HDR);
	else
		err = crypto_wait_req(crypto_ahash_init(req), &wait);
	if (!err)
		err = crypto_wait_req(crypto_ahash_update(req), &wait);
	if (!err && r->stream_out) {
		put_unaligned_le32(ACRYPTO_STATE_MAGIC, r->state);
		put_unaligned_le32(body - ACRYPTO_STATE_HDR, r->state + 4);
		err = crypto_ahash_export(req, r->state + ACRYPTO_STATE_HDR);
		if (!err)
			err = acrypto_stream_seal(r->ctx, s, r->state, body, r->state + body);
		r->out_len = s->state_size;
	} else if (!err) {
		err = crypto_wait_req(crypto_ahash_final(req), &wait);
		r->out_len = s->out_size;
	}
	if (err && r->state)
		memzero_explicit(r->state, s->state_size);
	acrypto_req_complete(r, err);
}

/* ---- validation helpers ---------------------------------------------- */

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
	case ACRYPTO_DEV_MODE_ECB:
	case ACRYPTO_DEV_MODE_CBC:
		return len && !(len % 16);
	case ACRYPTO_DEV_MODE_CTR:
		return len != 0;
	case ACRYPTO_DEV_MODE_XTS:
		return len >= 16;
	}
	return 0;
}

/*
 * Copies an argument of @usize bytes in: shorter than the module's
 * structure is zero-extended, longer must be zero past it (-E2BIG).
 */
static int acrypto_copy_in(void *karg, size_t ksize, const void __user *uarg, size_t usize)
{
	return copy_struct_from_user(karg, ksize, uarg, usize);
}

/*
 * Copies an argument of @usize bytes out: what the module knows, then zero
 * for the fields of a larger structure it does not know.
 */
static int acrypto_copy_out(void __user *uarg, size_t usize, const void *karg, size_t ksize)
{
	size_t n = min(usize, ksize);

	if (copy_to_user(uarg, karg, n))
		return -EFAULT;
	if (usize > ksize && clear_user(uarg + ksize, usize - ksize))
		return -EFAULT;
	return 0;
}

/* ---- CRYPTO_SESSION_ALLOC --------------------------------------------- */

static const struct acrypto_alg_desc *acrypto_desc_find(u32 kind, u32 mode, u32 type)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(acrypto_algs); i++) {
		const struct acrypto_alg_desc *d = &acrypto_algs[i];

		if (d->kind == kind && d->mode == mode && (!d->type || d->type == type))
			return d;
	}
	return NULL;
}

static u32 acrypto_alg_flags(u32 cra_flags)
{
	u32 f = 0;

	if (cra_flags & CRYPTO_ALG_ASYNC)
		f |= ACRYPTO_DEV_F_ASYNC;
	/*
	 * Heuristic: drivers flagged KERN_DRIVER_ONLY are the ones backed by
	 * a device (HIFN, PadLock, QAT, CCP, ...). CPU implementations such as
	 * *-generic, *-aesni, *-avx2 never set it.
	 */
	if (cra_flags & CRYPTO_ALG_KERN_DRIVER_ONLY)
		f |= ACRYPTO_DEV_F_HW;
	return f;
}

static int acrypto_session_init_tfm(struct acrypto_session *s,
				    const struct acrypto_alg_desc *d,
				    const char *driver)
{
	const char *want = driver[0] ? driver : d->name;
	struct crypto_tfm *tfm;
	u32 cra_flags;

	switch (s->kind) {
	case ACRYPTO_KIND_CIPHER: {
		struct crypto_skcipher *sk = crypto_alloc_skcipher(want, 0, 0);

		if (IS_ERR(sk))
			return PTR_ERR(sk);
		s->sk = sk;
		tfm = crypto_skcipher_tfm(sk);
		cra_flags = crypto_skcipher_alg(sk)->base.cra_flags;
		s->iv_size = crypto_skcipher_ivsize(sk);
		s->block_size = crypto_skcipher_blocksize(sk);
		if (s->key_size < crypto_skcipher_min_keysize(sk) ||
		    s->key_size > crypto_skcipher_max_keysize(sk) ||
		    s->iv_size != (s->mode == ACRYPTO_DEV_MODE_ECB ? 0 : 16))
			return -EINVAL;
		break;
	}
	case ACRYPTO_KIND_AEAD: {
		struct crypto_aead *ad = crypto_alloc_aead(want, 0, 0);
		unsigned int max_auth;
		int err;

		if (IS_ERR(ad))
			return PTR_ERR(ad);
		s->ad = ad;
		tfm = crypto_aead_tfm(ad);
		cra_flags = crypto_aead_alg(ad)->base.cra_flags;
		s->iv_size = crypto_aead_ivsize(ad);
		s->block_size = crypto_aead_blocksize(ad);
		max_auth = crypto_aead_maxauthsize(ad);
		if (s->iv_size != (s->mode == ACRYPTO_DEV_MODE_RFC4106 ? ACRYPTO_RFC4106_IV : 12) ||
		    s->iv_size > ACRYPTO_DEV_MAX_IV_LEN || max_auth > ACRYPTO_DEV_MAX_IV_LEN)
			return -EINVAL;
		s->out_size = s->out_size ? s->out_size : max_auth;
		/* The driver says which tag lengths it takes. */
		err = crypto_aead_setauthsize(ad, s->out_size);
		if (err)
			return err;
		break;
	}
	case ACRYPTO_KIND_HASH:
	case ACRYPTO_KIND_HMAC: {
		struct crypto_ahash *ah = crypto_alloc_ahash(want, 0, 0);

		if (IS_ERR(ah))
			return PTR_ERR(ah);
		s->ah = ah;
		tfm = crypto_ahash_tfm(ah);
		cra_flags = crypto_hash_alg_common(ah)->base.cra_flags;
		s->out_size = crypto_ahash_digestsize(ah);
		s->block_size = crypto_tfm_alg_blocksize(tfm);
		if (s->out_size > HASH_MAX_DIGESTSIZE)
			return -EINVAL;
		if (s->kind == ACRYPTO_KIND_HASH)
			s->key_set = true;	/* nothing to set */
		/* Streams need the seal and a state the driver exports. */
		if (acrypto_seal_tfm && crypto_ahash_statesize(ah) &&
		    crypto_ahash_statesize(ah) <= HASH_MAX_STATESIZE)
			s->state_size = ACRYPTO_STATE_HDR + crypto_ahash_statesize(ah) +
					ACRYPTO_SEAL_LEN;
		get_random_bytes(&s->seal_id, sizeof(s->seal_id));
		break;
	}
	case ACRYPTO_KIND_AKCIPHER: {
		struct crypto_akcipher *ak = crypto_alloc_akcipher(want, 0, 0);
		int err;

		if (IS_ERR(ak))
			return PTR_ERR(ak);
		/*
		 * Primed with acrypto_ak_prime_key. A driver that could not take
		 * even that for want of its device (-ENODEV) or memory may not
		 * be freed safely (see above): it is left allocated, once, with
		 * a warning, rather than oops the kernel.
		 */
		err = crypto_akcipher_set_pub_key(ak, acrypto_ak_prime_key,
						  sizeof(acrypto_ak_prime_key));
		if (err == -ENODEV || err == -ENOMEM) {
			pr_warn_ratelimited("akcipher driver %s failed its first key (%d): not freed\n",
					    crypto_tfm_alg_driver_name(crypto_akcipher_tfm(ak)), err);
			return err;
		}
		s->ak = ak;
		tfm = crypto_akcipher_tfm(ak);
		cra_flags = crypto_akcipher_alg(ak)->base.cra_flags;
		/* Not crypto_akcipher_maxsize(): "rsa" needs a key for it. */
		s->key_size = ACRYPTO_DEV_MAX_AKCIPHER_KEY_LEN;
		break;
	}
	default: {	/* RNG */
		struct crypto_rng *rng;
		int err;

		s->key_set = true;
		if (!strcmp(driver, ACRYPTO_DEV_GET_RANDOM))
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
		cra_flags = crypto_rng_alg(rng)->base.cra_flags;
		err = crypto_rng_reset(rng, NULL, crypto_rng_seedsize(rng));
		if (err)
			return err;
		break;
	}
	}
	/* A driver bound by name must implement the algorithm asked for. */
	if (strcmp(crypto_tfm_alg_name(tfm), d->name))
		return -EINVAL;
	s->driver_flags = acrypto_alg_flags(cra_flags);
	return 0;
}

static int acrypto_ioc_session_alloc(struct acrypto_ctx *ctx, void __user *argp, size_t usize)
{
	const struct acrypto_alg_desc *d;
	struct acrypto_session_alloc arg;
	struct acrypto_session *s;
	const char *bound;
	u32 kind, id;
	int ret;

	ret = acrypto_copy_in(&arg, sizeof(arg), argp, usize);
	if (ret)
		return ret;
	/* In fields only: the out fields must be zero too. */
	if (arg.flags || arg.__pad || arg.__pad2 || arg.__pad3 || arg.state_size || arg.session_id ||
	    memchr_inv(arg.bound_driver, 0, sizeof(arg.bound_driver)) || arg.key_size ||
	    arg.iv_size || arg.block_size || arg.out_size || arg.driver_flags)
		return -EINVAL;
	ret = acrypto_check_name(arg.driver, sizeof(arg.driver));
	if (ret)
		return ret;
	/* Nothing after the terminating NUL: room for nothing hidden. */
	if (memchr_inv(arg.driver + strlen(arg.driver), 0,
		       sizeof(arg.driver) - strlen(arg.driver)))
		return -EINVAL;

	switch (arg.operation) {
	case ACRYPTO_DEV_OP_SIGN:
	case ACRYPTO_DEV_OP_VERIFY:
		if (arg.type != ACRYPTO_DEV_TYPE_RSA)
			return -EINVAL;
		fallthrough;
	case ACRYPTO_DEV_OP_ENCRYPT:
	case ACRYPTO_DEV_OP_DECRYPT:
		if (arg.type == ACRYPTO_DEV_TYPE_RSA) {
			/* The mode names the padding: acrypto_desc_find() checks it. */
			kind = ACRYPTO_KIND_AKCIPHER;
			break;
		}
		if (arg.mode == ACRYPTO_DEV_MODE_POLY1305) {
			kind = ACRYPTO_KIND_AEAD;
			if (arg.type != ACRYPTO_DEV_TYPE_CHACHA20)
				return -EINVAL;
			break;
		}
		kind = arg.mode == ACRYPTO_DEV_MODE_GCM || arg.mode == ACRYPTO_DEV_MODE_RFC4106 ?
		       ACRYPTO_KIND_AEAD : ACRYPTO_KIND_CIPHER;
		if (arg.type < ACRYPTO_DEV_TYPE_AES_128 || arg.type > ACRYPTO_DEV_TYPE_AES_256 ||
		    (arg.mode == ACRYPTO_DEV_MODE_XTS && arg.type == ACRYPTO_DEV_TYPE_AES_192))
			return -EINVAL;
		break;
	case ACRYPTO_DEV_OP_HASH:
		kind = ACRYPTO_KIND_HASH;
		break;
	case ACRYPTO_DEV_OP_HMAC:
		kind = ACRYPTO_KIND_HMAC;
		break;
	case ACRYPTO_DEV_OP_RNG:
		kind = ACRYPTO_KIND_RNG;
		break;
	default:
		return -EINVAL;
	}
	d = acrypto_desc_find(kind, arg.mode, arg.type);
	if (!d)
		return -EINVAL;
	if (kind != ACRYPTO_KIND_RNG && !strcmp(arg.driver, ACRYPTO_DEV_GET_RANDOM))
		return -EINVAL;
	if (arg.src_size > max_buffer)
		return -EMSGSIZE;
	/* A tag length only for AEAD, and one that fits the IV-sized fields. */
	if (arg.auth_size && (kind != ACRYPTO_KIND_AEAD || arg.auth_size > ACRYPTO_DEV_MAX_IV_LEN))
		return -EINVAL;

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	kref_init(&s->ref);
	spin_lock_init(&s->key_lock);
	init_waitqueue_head(&s->orphan_wait);
	mutex_init(&s->lock_sync);
	s->op = arg.operation;
	s->type = arg.type;
	s->mode = arg.mode;
	s->kind = kind;
	s->src_size = arg.src_size;
	if (kind == ACRYPTO_KIND_CIPHER)
		s->key_size = (16 + 8 * (arg.type - ACRYPTO_DEV_TYPE_AES_128)) *
			      (arg.mode == ACRYPTO_DEV_MODE_XTS ? 2 : 1);
	if (kind == ACRYPTO_KIND_AEAD) {
		if (arg.mode == ACRYPTO_DEV_MODE_POLY1305)
			s->key_size = 32;
		else
			s->key_size = 16 + 8 * (arg.type - ACRYPTO_DEV_TYPE_AES_128) +
				      (arg.mode == ACRYPTO_DEV_MODE_RFC4106 ? 4 : 0);
		s->out_size = arg.auth_size;
	}

	ret = acrypto_session_init_tfm(s, d, arg.driver);
	if (ret)
		goto err_put_session;

	/* Everything reported except the id, before the session is visible. */
	if (s->kind == ACRYPTO_KIND_CIPHER)
		bound = crypto_tfm_alg_driver_name(crypto_skcipher_tfm(s->sk));
	else if (s->kind == ACRYPTO_KIND_AEAD)
		bound = crypto_tfm_alg_driver_name(crypto_aead_tfm(s->ad));
	else if (s->kind == ACRYPTO_KIND_AKCIPHER)
		bound = crypto_tfm_alg_driver_name(crypto_akcipher_tfm(s->ak));
	else if (s->kind != ACRYPTO_KIND_RNG)
		bound = crypto_tfm_alg_driver_name(crypto_ahash_tfm(s->ah));
	else if (s->rng)
		bound = crypto_tfm_alg_driver_name(crypto_rng_tfm(s->rng));
	else
		bound = ACRYPTO_DEV_GET_RANDOM;
	strscpy(arg.bound_driver, bound, sizeof(arg.bound_driver));
	arg.key_size = s->key_size;
	arg.iv_size = s->iv_size;
	arg.block_size = s->block_size;
	arg.out_size = s->out_size;
	arg.driver_flags = s->driver_flags;
	arg.state_size = s->state_size;

	mutex_lock(&ctx->lock_sessions);
	if (ctx->nsessions >= max_sessions) {
		ret = -EMFILE;
		goto err_unlock;
	}
	/* Cyclic, so that a stale id does not name the next session at once. */
	ret = xa_alloc_cyclic(&ctx->sessions, &id, s, XA_LIMIT(1, INT_MAX),
			      &ctx->next_id, GFP_KERNEL_ACCOUNT);
	if (ret < 0)
		goto err_unlock;
	s->id = id;
	ctx->nsessions++;
	/* Ours, for the undo below: another thread may free the id at once. */
	kref_get(&s->ref);
	mutex_unlock(&ctx->lock_sessions);

	arg.session_id = id;
	ret = 0;
	if (acrypto_copy_out(argp, usize, &arg, sizeof(arg))) {
		/* Nobody learnt the id (or guessed it and freed it): undo. */
		mutex_lock(&ctx->lock_sessions);
		if (xa_cmpxchg(&ctx->sessions, id, s, NULL, GFP_KERNEL_ACCOUNT) == s) {
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

/* ---- ACRYPTO_IOC_SESSION_FREE ----------------------------------------- */

static int acrypto_ioc_session_free(struct acrypto_ctx *ctx, void __user *argp, size_t usize)
{
	struct acrypto_session_free arg;
	struct acrypto_session *s;
	int ret;

	ret = acrypto_copy_in(&arg, sizeof(arg), argp, usize);
	if (ret)
		return ret;
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
				  unsigned int len, bool public)
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
	else if (s->kind == ACRYPTO_KIND_AEAD)
		ret = crypto_aead_setkey(s->ad, key, len);
	else if (s->kind == ACRYPTO_KIND_AKCIPHER)
		ret = public ? crypto_akcipher_set_pub_key(s->ak, key, len) :
			       crypto_akcipher_set_priv_key(s->ak, key, len);
	else
		ret = crypto_ahash_setkey(s->ah, key, len);
	/* The modulus size, known now; a modulus too large for a request is refused. */
	if (s->kind == ACRYPTO_KIND_AKCIPHER) {
		s->out_size = ret ? 0 : crypto_akcipher_maxsize(s->ak);
		if (!ret && (!s->out_size || s->out_size > max_buffer))
			ret = -EINVAL;
		s->key_private = !ret && !public;
	}
	/* States made under the previous key are refused from now on. */
	if (s->kind == ACRYPTO_KIND_HMAC)
		get_random_bytes(&s->seal_id, sizeof(s->seal_id));

	spin_lock_irq(&s->key_lock);
	s->key_busy = false;
	s->key_set = !ret;
	spin_unlock_irq(&s->key_lock);
	return ret;
}

/* A user buffer copied into a new accounted allocation (at least 1 byte). */
static u8 *acrypto_dup_user(u64 uptr, unsigned int len)
{
	u8 *p = kmalloc(max(len, 1U), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);

	if (!p)
		return ERR_PTR(-ENOMEM);
	if (len && copy_from_user(p, u64_to_user_ptr(uptr), len)) {
		kfree_sensitive(p);
		return ERR_PTR(-EFAULT);
	}
	return p;
}

static int acrypto_ioc_fill_data(struct acrypto_ctx *ctx, void __user *argp, size_t usize)
{
	const u32 known = ACRYPTO_DEV_FILL_KEY | ACRYPTO_DEV_FILL_IV | ACRYPTO_DEV_FILL_SRC |
			  ACRYPTO_DEV_FILL_AAD | ACRYPTO_DEV_FILL_STATE | ACRYPTO_DEV_FILL_PUBLIC;
	struct acrypto_fill_data arg;
	struct acrypto_session *s;
	u8 iv[ACRYPTO_DEV_MAX_IV_LEN];
	u8 *key = NULL, *src = NULL, *aad = NULL, *state = NULL;
	int ret;

	ret = acrypto_copy_in(&arg, sizeof(arg), argp, usize);
	if (ret)
		return ret;
	if (!arg.flags || (arg.flags & ~known) || arg.__pad || arg.__pad2 || arg.__pad3)
		return -EINVAL;
	/* A part not taken has no pointer and no length. */
	if ((!(arg.flags & ACRYPTO_DEV_FILL_KEY) && (arg.key || arg.key_len)) ||
	    (!(arg.flags & ACRYPTO_DEV_FILL_IV) && (arg.iv || arg.iv_len)) ||
	    (!(arg.flags & ACRYPTO_DEV_FILL_SRC) && (arg.src || arg.src_len)) ||
	    (!(arg.flags & ACRYPTO_DEV_FILL_AAD) && (arg.aad || arg.aad_len)) ||
	    (!(arg.flags & ACRYPTO_DEV_FILL_STATE) && (arg.state || arg.state_len)) ||
	    (!arg.aad_len && arg.aad) || (!arg.state_len != !arg.state))
		return -EINVAL;
	s = acrypto_session_get(ctx, arg.session_id);
	if (!s)
		return -ENOENT;

	ret = -EINVAL;
	/* A public key: akcipher sessions, with the key. */
	if ((arg.flags & ACRYPTO_DEV_FILL_PUBLIC) &&
	    (s->kind != ACRYPTO_KIND_AKCIPHER || !(arg.flags & ACRYPTO_DEV_FILL_KEY)))
		goto out_put;
	if (arg.flags & ACRYPTO_DEV_FILL_KEY) {
		if (s->kind == ACRYPTO_KIND_CIPHER || s->kind == ACRYPTO_KIND_AEAD) {
			if (arg.key_len != s->key_size)
				goto out_put;
		} else if (s->kind == ACRYPTO_KIND_AKCIPHER) {
			if (!arg.key_len || arg.key_len > ACRYPTO_DEV_MAX_AKCIPHER_KEY_LEN)
				goto out_put;
		} else if (s->kind == ACRYPTO_KIND_HMAC) {
			if (arg.key_len > ACRYPTO_DEV_MAX_KEY_LEN)
				goto out_put;
		} else {
			goto out_put;
		}
	}
	if ((arg.flags & ACRYPTO_DEV_FILL_IV) && (!s->iv_size || arg.iv_len != s->iv_size))
		goto out_put;
	if (arg.flags & ACRYPTO_DEV_FILL_SRC) {
		if (arg.src_len > s->src_size) {
			ret = -EMSGSIZE;
			goto out_put;
		}
		if (s->kind == ACRYPTO_KIND_CIPHER && !acrypto_cipher_len_ok(s->mode, arg.src_len))
			goto out_put;
		if (s->kind == ACRYPTO_KIND_RNG && (!arg.src_len || arg.src))
			goto out_put;
		/* An open's source is the ciphertext and its tag. */
		if (s->kind == ACRYPTO_KIND_AEAD && s->op == ACRYPTO_DEV_OP_DECRYPT &&
		    arg.src_len < s->out_size)
			goto out_put;
	}
	if (arg.flags & ACRYPTO_DEV_FILL_AAD) {
		if (s->kind != ACRYPTO_KIND_AEAD)
			goto out_put;
		if (arg.aad_len > max_buffer - s->src_size) {
			ret = -EMSGSIZE;
			goto out_put;
		}
	}
	if (arg.flags & ACRYPTO_DEV_FILL_STATE) {
		if (s->kind != ACRYPTO_KIND_HASH && s->kind != ACRYPTO_KIND_HMAC)
			goto out_put;
		if (!s->state_size) {
			ret = -EOPNOTSUPP;
			goto out_put;
		}
		if (arg.state_len && arg.state_len != s->state_size)
			goto out_put;
	}

	/* All or nothing: copy every part in before anything changes. */
	if (arg.flags & ACRYPTO_DEV_FILL_KEY) {
		key = acrypto_dup_user(arg.key, arg.key_len);
		if (IS_ERR(key)) {
			ret = PTR_ERR(key);
			key = NULL;
			goto out_put;
		}
	}
	if ((arg.flags & ACRYPTO_DEV_FILL_IV) &&
	    copy_from_user(iv, u64_to_user_ptr(arg.iv), arg.iv_len)) {
		ret = -EFAULT;
		goto out_free;
	}
	if ((arg.flags & ACRYPTO_DEV_FILL_SRC) && s->kind != ACRYPTO_KIND_RNG) {
		src = acrypto_dup_user(arg.src, arg.src_len);
		if (IS_ERR(src)) {
			ret = PTR_ERR(src);
			src = NULL;
			goto out_free;
		}
	}
	if (arg.flags & ACRYPTO_DEV_FILL_AAD) {
		aad = acrypto_dup_user(arg.aad, arg.aad_len);
		if (IS_ERR(aad)) {
			ret = PTR_ERR(aad);
			aad = NULL;
			goto out_free;
		}
	}
	/* Kept as given: its seal is checked by the ADD that imports it. */
	if ((arg.flags & ACRYPTO_DEV_FILL_STATE) && arg.state_len) {
		state = acrypto_dup_user(arg.state, arg.state_len);
		if (IS_ERR(state)) {
			ret = PTR_ERR(state);
			state = NULL;
			goto out_free;
		}
	}

	ret = mutex_lock_interruptible(&s->lock_sync);
	if (ret)
		goto out_free;
	/* The synchronous source buffer exists once a session uses the flow. */
	if (src && !s->src) {
		s->src = kmalloc(max(s->src_size, 1U), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!s->src) {
			ret = -ENOMEM;
			goto out_unlock;
		}
	}
	if (key) {
		ret = acrypto_session_setkey(s, key, arg.key_len,
					     arg.flags & ACRYPTO_DEV_FILL_PUBLIC);
		/* A state of the previous key would be refused: drop it. */
		s->state_set = false;
		if (ret)
			goto out_unlock;
	}
	if (arg.flags & ACRYPTO_DEV_FILL_STATE) {
		swap(state, s->sync_state);
		s->state_set = !!s->sync_state;
	}
	if (arg.flags & ACRYPTO_DEV_FILL_IV) {
		memcpy(s->iv, iv, arg.iv_len);
		s->iv_set = true;
	}
	if (arg.flags & ACRYPTO_DEV_FILL_SRC) {
		if (src)
			memcpy(s->src, src, arg.src_len);
		s->src_len = arg.src_len;
		s->src_set = true;
	}
	if (aad) {
		/* The session keeps this copy; the old one goes. */
		swap(aad, s->aad);
		s->aad_len = arg.aad_len;
	}
	ret = 0;

out_unlock:
	mutex_unlock(&s->lock_sync);
out_free:
	kfree_sensitive(state);
	kfree_sensitive(aad);
	kfree_sensitive(src);
	kfree_sensitive(key);
	memzero_explicit(iv, sizeof(iv));
out_put:
	acrypto_session_put(s);
	return ret;
}

/* ---- CRYPTO_SESSION_ADD ------------------------------------------------ */

static bool acrypto_orphan_done(struct acrypto_ctx *ctx, struct acrypto_session *s)
{
	bool done;

	spin_lock_irq(&ctx->lock);
	done = !s->orphan;
	spin_unlock_irq(&ctx->lock);
	return done;
}

static int acrypto_ioc_session_add(struct acrypto_ctx *ctx, void __user *argp, size_t usize)
{
	struct acrypto_session_add arg;
	struct acrypto_session *s;
	struct acrypto_req *r;
	unsigned int out_len;
	const u8 *out;
	int ret;

	ret = acrypto_copy_in(&arg, sizeof(arg), argp, usize);
	if (ret)
		return ret;
	if ((arg.flags & ~ACRYPTO_DEV_ADD_EXPORT) || arg.__pad)
		return -EINVAL;
	s = acrypto_session_get(ctx, arg.session_id);
	if (!s)
		return -ENOENT;
	ret = -EINVAL;
	if (arg.flags && s->kind != ACRYPTO_KIND_HASH && s->kind != ACRYPTO_KIND_HMAC)
		goto out_put;
	ret = -EOPNOTSUPP;
	if (arg.flags && !s->state_size)
		goto out_put;

	ret = mutex_lock_interruptible(&s->lock_sync);
	if (ret)
		goto out_put;
	ret = -ENODATA;
	if (!s->src_set || (s->iv_size && !s->iv_set))
		goto out_unlock;
	if (s->kind == ACRYPTO_KIND_AEAD)
		out_len = s->op == ACRYPTO_DEV_OP_ENCRYPT ? s->src_len + s->out_size :
		       s->src_len - s->out_size;
	else if (s->kind == ACRYPTO_KIND_AKCIPHER)
		/* The modulus size: stable, FILL_DATA takes lock_sync too. */
		out_len = s->op == ACRYPTO_DEV_OP_VERIFY ? 0 : s->out_size;
	else if (arg.flags & ACRYPTO_DEV_ADD_EXPORT)
		out_len = s->state_size;
	else
		out_len = s->out_size ? s->out_size : s->src_len;
	ret = -ENOSPC;
	if (arg.dst_len < out_len)
		goto out_unlock;
	/* One orphan per session: wait for the last interrupted one first. */
	ret = wait_event_interruptible(s->orphan_wait, acrypto_orphan_done(ctx, s));
	if (ret)
		goto out_unlock;
	if (s->kind != ACRYPTO_KIND_RNG) {
		ret = acrypto_session_use(s);
		if (ret)
			goto out_unlock;
	}
	if (s->kind == ACRYPTO_KIND_AKCIPHER) {
		ret = acrypto_ak_check(s, s->op, s->src_len, s->out_size);
		/* VERIFY: the signature (k bytes), then at least one byte of digest. */
		if (!ret && s->op == ACRYPTO_DEV_OP_VERIFY &&
		    (s->src_len <= s->out_size ||
		     s->src_len - s->out_size > ACRYPTO_DEV_MAX_VERIFY_LEN))
			ret = -EINVAL;
		if (ret) {
			acrypto_session_unuse(s);
			goto out_unlock;
		}
	}

	if (s->kind == ACRYPTO_KIND_AEAD) {
		unsigned int extra = s->mode == ACRYPTO_DEV_MODE_RFC4106 ? ACRYPTO_RFC4106_IV : 0;

		r = acrypto_req_alloc_aead(ctx, s, s->src_len, s->aad_len + extra,
					   s->op == ACRYPTO_DEV_OP_ENCRYPT);
	} else if (s->kind == ACRYPTO_KIND_AKCIPHER) {
		bool verify = s->op == ACRYPTO_DEV_OP_VERIFY;

		r = acrypto_req_alloc_ak(ctx, s, s->op, verify ? s->out_size : s->src_len,
					 verify ? s->src_len - s->out_size : s->out_size);
	} else {
		r = acrypto_req_alloc(ctx, s, s->src_len);
	}
	if (!r) {
		if (s->kind != ACRYPTO_KIND_RNG)
			acrypto_session_unuse(s);
		ret = -ENOMEM;
		goto out_unlock;
	}
	if (s->kind == ACRYPTO_KIND_AEAD) {
		if (s->aad_len)
			memcpy(r->buf, s->aad, s->aad_len);
		if (r->assoc > s->aad_len)
			memcpy(r->buf + s->aad_len, s->iv, ACRYPTO_RFC4106_IV);
	}
	/* akcipher: the input (VERIFY: signature and digest) starts the buffer. */
	if (s->kind != ACRYPTO_KIND_RNG)
		memcpy(r->buf + (s->kind == ACRYPTO_KIND_AKCIPHER ? 0 : r->assoc), s->src,
		       s->src_len);
	memcpy(r->iv, s->iv, sizeof(r->iv));
	r->encrypt = s->op == ACRYPTO_DEV_OP_ENCRYPT;
	r->stream_in = s->state_set;
	r->stream_out = arg.flags & ACRYPTO_DEV_ADD_EXPORT;
	if (r->stream_in || r->stream_out) {
		r->state = kzalloc(s->state_size, GFP_KERNEL_ACCOUNT);
		ret = -ENOMEM;
		if (r->state && r->stream_in) {
			memcpy(r->state, s->sync_state, s->state_size);
			/* The key is reserved: its seal id cannot change meanwhile. */
			ret = acrypto_stream_check(r);
		} else if (r->state) {
			ret = 0;
		}
		if (ret) {
			acrypto_session_unuse(s);
			acrypto_req_free(r);
			goto out_unlock;
		}
	}
	acrypto_req_start(r);

	if (wait_for_completion_interruptible(&r->done)) {
		spin_lock_irq(&ctx->lock);
		if (!r->finished) {
			/* The callback will hand it to the reap worker. */
			r->orphan = true;
			s->orphan = true;
			ctx->orphans++;
			spin_unlock_irq(&ctx->lock);
			ret = -EINTR;
			goto out_unlock;
		}
		spin_unlock_irq(&ctx->lock);
	}

	ret = r->status;
	if (!ret) {
		out = r->stream_out ? r->state :
		      (s->kind == ACRYPTO_KIND_HASH || s->kind == ACRYPTO_KIND_HMAC) ?
		      r->digest : r->buf + r->assoc;
		/* A seal's result is the ciphertext followed by the tag. */
		arg.dst_len = r->out_len;
		if (s->kind == ACRYPTO_KIND_AEAD && r->encrypt)
			arg.dst_len += s->out_size;
		r->out_len = arg.dst_len;
		if (copy_to_user(u64_to_user_ptr(arg.dst), out, r->out_len) ||
		    acrypto_copy_out(argp, usize, &arg, sizeof(arg)))
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

/* Fields that do not apply to the session's kind must be zero. */
static bool acrypto_request_fields_ok(const struct acrypto_session *s,
				      const struct acrypto_request *q)
{
	const u32 stream = ACRYPTO_DEV_REQ_CONTINUE | ACRYPTO_DEV_REQ_EXPORT;
	const bool hash = s->kind == ACRYPTO_KIND_HASH || s->kind == ACRYPTO_KIND_HMAC;

	if (q->__pad || q->__pad2)
		return false;
	/* Stream flags on hash sessions only; each field with its flag. */
	if ((q->flags & ~stream) || (q->flags && !hash))
		return false;
	if ((q->flags & ACRYPTO_DEV_REQ_CONTINUE) ? !q->state || !q->state_len :
						      q->state || q->state_len)
		return false;
	if ((q->flags & ACRYPTO_DEV_REQ_EXPORT) ?
	    !q->state_out || !q->state_out_len || q->digest || q->digest_len :
	    q->state_out || q->state_out_len)
		return false;
	/* AAD only for AEAD; no pointer without a length. */
	if ((s->kind != ACRYPTO_KIND_AEAD && (q->aad || q->aad_len)) || (!q->aad_len && q->aad))
		return false;
	switch (s->kind) {
	case ACRYPTO_KIND_AEAD:
		if (q->op && q->op != ACRYPTO_DEV_OP_ENCRYPT && q->op != ACRYPTO_DEV_OP_DECRYPT)
			return false;
		return q->digest && q->digest_len;
	case ACRYPTO_KIND_CIPHER:
		if (q->digest || q->digest_len)
			return false;
		if (q->op && q->op != ACRYPTO_DEV_OP_ENCRYPT && q->op != ACRYPTO_DEV_OP_DECRYPT)
			return false;
		return s->iv_size || !q->iv;
	case ACRYPTO_KIND_HASH:
	case ACRYPTO_KIND_HMAC:
		return !q->op && !q->dst && !q->dst_len && !q->iv && !q->iv_len;
	case ACRYPTO_KIND_AKCIPHER:
		if (q->iv || q->iv_len)
			return false;
		if (q->op && q->op != ACRYPTO_DEV_OP_ENCRYPT && q->op != ACRYPTO_DEV_OP_DECRYPT &&
		    q->op != ACRYPTO_DEV_OP_SIGN && q->op != ACRYPTO_DEV_OP_VERIFY)
			return false;
		/* VERIFY: the digest to check, no output; the others: no digest. */
		if ((q->op ? q->op : s->op) == ACRYPTO_DEV_OP_VERIFY)
			return q->digest && q->digest_len &&
			       q->digest_len <= ACRYPTO_DEV_MAX_VERIFY_LEN && !q->dst && !q->dst_len;
		return !q->digest && !q->digest_len;
	default:	/* RNG */
		return !q->op && !q->src && !q->src_len && !q->iv && !q->iv_len &&
		       !q->digest && !q->digest_len;
	}
}

/* A batch request of an akcipher session (checked by acrypto_request_fields_ok). */
static int acrypto_submit_ak(struct acrypto_ctx *ctx, struct acrypto_session *s,
			     const struct acrypto_request *q)
{
	const u32 op = q->op ? q->op : s->op;
	const unsigned int k = READ_ONCE(s->out_size);	/* rechecked below */
	struct acrypto_req *r;
	unsigned int out;
	int ret;

	if (!k)
		return -ENOKEY;
	if (op == ACRYPTO_DEV_OP_VERIFY) {
		if (q->src_len != k)
			return -EINVAL;
		out = q->digest_len;
	} else {
		if (q->src_len > k)
			return -EMSGSIZE;
		if (q->dst_len < k)
			return -ENOSPC;
		out = k;
	}
	ret = acrypto_inflight_get(ctx);
	if (ret)
		return ret;
	r = acrypto_req_alloc_ak(ctx, s, op, q->src_len, out);
	if (!r) {
		acrypto_inflight_put(ctx);
		return -ENOMEM;
	}
	r->batch = true;	/* from here acrypto_req_free() uncounts */
	r->mm = current->mm;
	mmgrab(r->mm);
	r->tag = q->tag;
	r->session_id = q->session_id;
	r->udst = q->dst;
	ret = -EFAULT;
	if (q->src_len && copy_from_user(r->buf, u64_to_user_ptr(q->src), q->src_len))
		goto out_free_req;
	if (op == ACRYPTO_DEV_OP_VERIFY &&
	    copy_from_user(r->buf + q->src_len, u64_to_user_ptr(q->digest), out))
		goto out_free_req;
	ret = acrypto_session_use(s);
	if (ret)
		goto out_free_req;
	ret = acrypto_ak_check(s, op, q->src_len, k);
	if (ret) {
		acrypto_session_unuse(s);
		goto out_free_req;
	}
	acrypto_req_start(r);
	return 0;

out_free_req:
	acrypto_req_free(r);
	return ret;
}

static int acrypto_submit_one(struct acrypto_ctx *ctx, const struct acrypto_request *q)
{
	struct acrypto_session *s;
	struct acrypto_req *r;
	unsigned long charge = 0;
	bool hash, pin, aead, encrypt;
	int ret;

	s = acrypto_session_get(ctx, q->session_id);
	if (!s)
		return -ENOENT;
	hash = s->kind == ACRYPTO_KIND_HASH || s->kind == ACRYPTO_KIND_HMAC;

	ret = -EINVAL;
	if (!acrypto_request_fields_ok(s, q))
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
		if (s->kind == ACRYPTO_KIND_AKCIPHER) {
			ret = acrypto_submit_ak(ctx, s, q);
			goto out_put;
		}
		if (s->kind == ACRYPTO_KIND_CIPHER &&
		    !acrypto_cipher_len_ok(s->mode, q->src_len))
			goto out_put;
		if (s->kind == ACRYPTO_KIND_AEAD && q->aad_len > max_buffer - q->src_len) {
			ret = -EMSGSIZE;
			goto out_put;
		}
	}
	aead = s->kind == ACRYPTO_KIND_AEAD;
	if (q->iv_len != (s->kind == ACRYPTO_KIND_CIPHER || aead ? s->iv_size : 0))
		goto out_put;
	/* The tag is exactly the session's: in for an open, out for a seal. */
	if (aead && q->digest_len != s->out_size)
		goto out_put;
	ret = -ENOSPC;
	if ((s->kind == ACRYPTO_KIND_CIPHER || aead) && q->dst_len < q->src_len)
		goto out_put;
	if (hash && !(q->flags & ACRYPTO_DEV_REQ_EXPORT) && q->digest_len < s->out_size)
		goto out_put;
	if (q->flags) {
		ret = -EOPNOTSUPP;
		if (!s->state_size)
			goto out_put;
		ret = -EINVAL;
		if ((q->flags & ACRYPTO_DEV_REQ_CONTINUE) && q->state_len != s->state_size)
			goto out_put;
		ret = -ENOSPC;
		if ((q->flags & ACRYPTO_DEV_REQ_EXPORT) && q->state_out_len < s->state_size)
			goto out_put;
	}

	ret = acrypto_inflight_get(ctx);
	if (ret)
		goto out_put;

	/*
	 * Large cipher requests work on the caller's pages: no copies. Source
	 * and destination must then be the same buffer or disjoint ones, and
	 * the pages must fit the caller's RLIMIT_MEMLOCK; otherwise copies.
	 */
	pin = s->kind == ACRYPTO_KIND_CIPHER && zero_copy_min && q->src_len >= zero_copy_min &&
	      (q->src == q->dst || q->src + q->src_len <= q->dst ||
	       q->dst + q->src_len <= q->src);
	if (pin) {
		charge = acrypto_npages(q->src, q->src_len);
		if (q->src != q->dst)
			charge += acrypto_npages(q->dst, q->src_len);
		if (acrypto_charge(current->mm, charge)) {
			pin = false;
			charge = 0;
		}
	}

	encrypt = q->op ? q->op == ACRYPTO_DEV_OP_ENCRYPT : s->op == ACRYPTO_DEV_OP_ENCRYPT;
	if (aead)
		/* Open: the tag follows the ciphertext in the buffer. */
		r = acrypto_req_alloc_aead(ctx, s, q->src_len + (encrypt ? 0 : s->out_size),
					   q->aad_len + (s->mode == ACRYPTO_DEV_MODE_RFC4106 ?
							 ACRYPTO_RFC4106_IV : 0),
					   encrypt);
	else
		r = acrypto_req_alloc(ctx, s, pin ? 0 :
				      s->kind == ACRYPTO_KIND_RNG ? q->dst_len : q->src_len);
	if (!r) {
		if (charge)
			atomic64_sub(charge, &current->mm->pinned_vm);
		ret = -ENOMEM;
		goto out_uncount;
	}
	r->batch = true;	/* from here acrypto_req_free() uncounts */
	r->mm = current->mm;
	mmgrab(r->mm);
	r->charged = charge;	/* and uncharges */
	r->tag = q->tag;
	r->session_id = q->session_id;
	r->udst = hash ? q->digest : q->dst;
	if (q->flags) {
		r->stream_in = q->flags & ACRYPTO_DEV_REQ_CONTINUE;
		r->stream_out = q->flags & ACRYPTO_DEV_REQ_EXPORT;
		if (r->stream_out)
			r->udst = q->state_out;
		ret = -ENOMEM;
		r->state = kzalloc(s->state_size, GFP_KERNEL_ACCOUNT);
		if (!r->state)
			goto out_free_req;
		ret = -EFAULT;
		if (r->stream_in &&
		    copy_from_user(r->state, u64_to_user_ptr(q->state), s->state_size))
			goto out_free_req;
	}
	r->utag = aead && encrypt ? q->digest : 0;
	r->encrypt = encrypt;
	if (pin) {
		struct scatterlist *dst;

		ret = acrypto_pin(&r->pin_src, q->src, q->src_len, q->src == q->dst);
		if (ret)
			goto out_free_req;
		atomic64_add(r->pin_src.npages, &ctx->pinned_pages);
		dst = r->pin_src.sgt.sgl;
		if (q->src != q->dst) {
			ret = acrypto_pin(&r->pin_dst, q->dst, q->src_len, true);
			if (ret)
				goto out_free_req;
			atomic64_add(r->pin_dst.npages, &ctx->pinned_pages);
			dst = r->pin_dst.sgt.sgl;
		}
		r->pinned = true;
		r->len = q->src_len;
		skcipher_request_set_crypt(r->creq.sk, r->pin_src.sgt.sgl, dst, r->len, r->iv);
	}
	ret = -EFAULT;
	if (s->kind != ACRYPTO_KIND_RNG && !pin &&
	    copy_from_user(r->buf + r->assoc, u64_to_user_ptr(q->src), q->src_len))
		goto out_free_req;
	if (q->iv_len && copy_from_user(r->iv, u64_to_user_ptr(q->iv), q->iv_len))
		goto out_free_req;
	if (aead) {
		/* AAD (then the RFC4106 IV) before the data; an open's tag after it. */
		if (q->aad_len && copy_from_user(r->buf, u64_to_user_ptr(q->aad), q->aad_len))
			goto out_free_req;
		if (r->assoc > q->aad_len)
			memcpy(r->buf + q->aad_len, r->iv, ACRYPTO_RFC4106_IV);
		if (!encrypt && copy_from_user(r->buf + r->assoc + q->src_len,
					       u64_to_user_ptr(q->digest), s->out_size))
			goto out_free_req;
	}
	if (s->kind != ACRYPTO_KIND_RNG) {
		ret = acrypto_session_use(s);
		if (ret)
			goto out_free_req;
	}
	/* Checked with the key reserved: its seal id cannot change meanwhile. */
	if (r->stream_in) {
		ret = acrypto_stream_check(r);
		if (ret) {
			acrypto_session_unuse(s);
			goto out_free_req;
		}
	}
	acrypto_req_start(r);
	acrypto_session_put(s);
	return 0;

out_free_req:
	acrypto_req_free(r);
	acrypto_session_put(s);
	return ret;
out_uncount:
	acrypto_inflight_put(ctx);
out_put:
	acrypto_session_put(s);
	return ret;
}

static int acrypto_ioc_submit(struct acrypto_ctx *ctx, void __user *argp, size_t usize)
{
	struct acrypto_submit arg;
	struct acrypto_request q;
	int ret = 0;
	u32 i;

	ret = acrypto_copy_in(&arg, sizeof(arg), argp, usize);
	if (ret)
		return ret;
	if (arg.flags || arg.submitted)
		return -EINVAL;
	if (!arg.count || arg.count > max_inflight)
		return -EINVAL;
	if (arg.entry_size < ACRYPTO_DEV_REQUEST_SIZE_VER0 ||
	    arg.entry_size > ACRYPTO_STRUCT_CAP || arg.entry_size % 8)
		return -EINVAL;

	for (i = 0; i < arg.count; i++) {
		u64 at = arg.reqs + (u64)i * arg.entry_size;

		ret = acrypto_copy_in(&q, sizeof(q), u64_to_user_ptr(at), arg.entry_size);
		if (ret)
			break;
		ret = acrypto_submit_one(ctx, &q);
		if (ret)
			break;
	}
	if (i == 0)
		return ret;
	arg.submitted = i;
	/* On -EFAULT here the accepted requests still complete and are read. */
	return acrypto_copy_out(argp, usize, &arg, sizeof(arg));
}

/* ---- ACRYPTO_IOC_INFO -------------------------------------------------- */

static int acrypto_ioc_info(struct acrypto_ctx *ctx, void __user *argp, size_t usize)
{
	struct acrypto_info v;

	memset(&v, 0, sizeof(v));
	v.max_sessions = max_sessions;
	v.max_inflight = max_inflight;
	v.max_buffer = max_buffer;
	v.zero_copy_min = zero_copy_min;
	v.request_size = sizeof(struct acrypto_request);
	v.completion_size = sizeof(struct acrypto_completion);
	mutex_lock(&ctx->lock_sessions);
	v.sessions = ctx->nsessions;
	mutex_unlock(&ctx->lock_sessions);
	spin_lock_irq(&ctx->lock);
	v.inflight = ctx->inflight;
	v.orphans = ctx->orphans;
	spin_unlock_irq(&ctx->lock);
	v.pinned_pages = atomic64_read(&ctx->pinned_pages);
	return acrypto_copy_out(argp, usize, &v, sizeof(v));
}

/* ---- file operations --------------------------------------------------- */

struct acrypto_ioc {
	unsigned int cmd;	/* direction, type and number; the size is the caller's */
	size_t min_size;	/* the first version's */
	int (*fn)(struct acrypto_ctx *ctx, void __user *argp, size_t usize);
};

#define ACRYPTO_IOC_KEY(cmd)	((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT))

static const struct acrypto_ioc acrypto_iocs[] = {
	{ ACRYPTO_IOC_KEY(CRYPTO_SESSION_ALLOC), ACRYPTO_DEV_SESSION_ALLOC_SIZE_VER0,
	  acrypto_ioc_session_alloc },
	{ ACRYPTO_IOC_KEY(CRYPTO_FILL_DATA), ACRYPTO_DEV_FILL_DATA_SIZE_VER0,
	  acrypto_ioc_fill_data },
	{ ACRYPTO_IOC_KEY(CRYPTO_SESSION_ADD), ACRYPTO_DEV_SESSION_ADD_SIZE_VER0,
	  acrypto_ioc_session_add },
	{ ACRYPTO_IOC_KEY(ACRYPTO_IOC_SESSION_FREE), ACRYPTO_DEV_SESSION_FREE_SIZE_VER0,
	  acrypto_ioc_session_free },
	{ ACRYPTO_IOC_KEY(ACRYPTO_IOC_SUBMIT), ACRYPTO_DEV_SUBMIT_SIZE_VER0,
	  acrypto_ioc_submit },
	{ ACRYPTO_IOC_KEY(ACRYPTO_IOC_INFO), ACRYPTO_DEV_INFO_SIZE_VER0,
	  acrypto_ioc_info },
};

static long acrypto_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct acrypto_ctx *ctx = file->private_data;
	size_t usize = _IOC_SIZE(cmd);
	size_t i;

	/*
	 * Direction, type and number must match; the size may be anything
	 * from the first version's up to ACRYPTO_STRUCT_CAP (the structure
	 * grows at its end, see the uapi header).
	 */
	for (i = 0; i < ARRAY_SIZE(acrypto_iocs); i++) {
		const struct acrypto_ioc *c = &acrypto_iocs[i];

		if (ACRYPTO_IOC_KEY(cmd) != c->cmd)
			continue;
		if (usize < c->min_size || usize > ACRYPTO_STRUCT_CAP)
			return -ENOTTY;
		return c->fn(ctx, (void __user *)arg, usize);
	}
	return -ENOTTY;
}

static bool acrypto_read_ready(struct acrypto_ctx *ctx)
{
	bool ready;

	spin_lock_irq(&ctx->lock);
	ready = !list_empty(&ctx->done);
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
	int ret;

	if (count < sizeof(c))
		return -EINVAL;

	while (n + sizeof(c) <= count) {
		spin_lock_irq(&ctx->lock);
		r = list_first_entry_or_null(&ctx->done, struct acrypto_req, node);
		if (r)
			list_del_init(&r->node);
		spin_unlock_irq(&ctx->lock);

		if (!r) {
			if (n)
				break;
			if (file->f_flags & O_NONBLOCK)
				return -EAGAIN;
			/* Also with nothing in flight: another thread may submit. */
			ret = wait_event_interruptible(ctx->wait, acrypto_read_ready(ctx));
			if (ret)
				return ret;
			continue;
		}

		memset(&c, 0, sizeof(c));
		c.tag = r->tag;
		c.session_id = r->session_id;
		c.status = r->status;
		if (r->mm != current->mm) {
			/* Never write into another address space than the submitter's. */
			c.status = -EPERM;
		} else if (!r->status) {
			const bool hash = r->sess->kind == ACRYPTO_KIND_HASH ||
					  r->sess->kind == ACRYPTO_KIND_HMAC;

			const u8 *out = r->stream_out ? r->state : hash ? r->digest :
					r->buf + r->assoc;

			c.out_len = r->out_len;
			/* Pinned requests wrote their destination already. */
			if ((!r->pinned &&
			     copy_to_user(u64_to_user_ptr(r->udst), out, r->out_len)) ||
			    (r->utag && copy_to_user(u64_to_user_ptr(r->utag), out + r->out_len,
						     r->sess->out_size))) {
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

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);
	if (!ctx)
		return -ENOMEM;
	kref_init(&ctx->ref);
	spin_lock_init(&ctx->lock);
	INIT_LIST_HEAD(&ctx->done);
	INIT_LIST_HEAD(&ctx->reap);
	INIT_LIST_HEAD(&ctx->finish);
	INIT_WORK(&ctx->reap_work, acrypto_reap_work);
	INIT_WORK(&ctx->finish_work, acrypto_finish_work);
	init_waitqueue_head(&ctx->wait);
	atomic64_set(&ctx->pinned_pages, 0);
	mutex_init(&ctx->lock_sessions);
	xa_init_flags(&ctx->sessions, XA_FLAGS_ALLOC1);
	get_random_bytes(&ctx->seal_id, sizeof(ctx->seal_id));
	atomic_inc(&acrypto_live_ctx);
	/* The file's own reference (fops->owner) is held: this cannot fail. */
	__module_get(THIS_MODULE);
	file->private_data = ctx;
	return nonseekable_open(inode, file);
}

static int acrypto_release(struct inode *inode, struct file *file)
{
	struct acrypto_ctx *ctx = file->private_data;
	struct acrypto_session *s;
	struct acrypto_req *r, *tmp;
	unsigned long id;
	unsigned int left;
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

	spin_lock_irq(&ctx->lock);
	left = ctx->inflight + ctx->orphans;
	spin_unlock_irq(&ctx->lock);
	if (left)
		pr_debug("closed with %u requests in a driver; the module stays in use until they finish\n",
			 left);
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
	BUILD_BUG_ON(sizeof(struct acrypto_session_alloc) != ACRYPTO_DEV_SESSION_ALLOC_SIZE);
	BUILD_BUG_ON(sizeof(struct acrypto_fill_data) != ACRYPTO_DEV_FILL_DATA_SIZE);
	BUILD_BUG_ON(sizeof(struct acrypto_session_add) != ACRYPTO_DEV_SESSION_ADD_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct acrypto_session_free) != ACRYPTO_DEV_SESSION_FREE_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct acrypto_request) != ACRYPTO_DEV_REQUEST_SIZE);
	BUILD_BUG_ON(sizeof(struct acrypto_submit) != ACRYPTO_DEV_SUBMIT_SIZE_VER0);
	BUILD_BUG_ON(sizeof(struct acrypto_completion) != 24);
	BUILD_BUG_ON(sizeof(struct acrypto_info) != ACRYPTO_DEV_INFO_SIZE_VER0);
	BUILD_BUG_ON(ACRYPTO_STATE_HDR + HASH_MAX_STATESIZE + ACRYPTO_SEAL_LEN !=
		     ACRYPTO_DEV_MAX_STATE_LEN);

	if (!max_sessions || !max_inflight || !max_buffer ||
	    max_buffer > ACRYPTO_BUFFER_CAP) {
		pr_err("module parameters out of range\n");
		return -EINVAL;
	}
	acrypto_seal_tfm = crypto_alloc_shash("hmac(sha256)", 0, 0);
	if (IS_ERR(acrypto_seal_tfm)) {
		pr_notice("no hmac(sha256) (%ld): hash streams are not offered\n",
			  PTR_ERR(acrypto_seal_tfm));
		acrypto_seal_tfm = NULL;
	} else {
		u8 key[SHA256_DIGEST_SIZE];

		get_random_bytes(key, sizeof(key));
		ret = crypto_shash_setkey(acrypto_seal_tfm, key, sizeof(key));
		memzero_explicit(key, sizeof(key));
		if (ret)
			goto err_free_seal;
	}
	ret = -ENOMEM;
	acrypto_wq = alloc_workqueue("acrypto", WQ_UNBOUND, 0);
	if (!acrypto_wq)
		goto err_free_seal;
	ret = misc_register(&acrypto_misc);
	if (ret)
		goto err_destroy_wq;
	return 0;

err_destroy_wq:
	destroy_workqueue(acrypto_wq);
err_free_seal:
	crypto_free_shash(acrypto_seal_tfm);
	return ret;
}

static void __exit acrypto_exit(void)
{
	misc_deregister(&acrypto_misc);
	/*
	 * Every context holds a module reference until its last request is
	 * freed, so none is left here; the work items that dropped the last
	 * ones may still be returning: destroying the queue waits for them.
	 * Nothing here waits on a driver, so unloading never hangs.
	 */
	destroy_workqueue(acrypto_wq);
	crypto_free_shash(acrypto_seal_tfm);
	WARN_ON(atomic_read(&acrypto_live_ctx));
}

module_init(acrypto_init);
module_exit(acrypto_exit);

MODULE_DESCRIPTION("acrypto: asynchronous kernel crypto drivers for user space");
MODULE_LICENSE("GPL");
