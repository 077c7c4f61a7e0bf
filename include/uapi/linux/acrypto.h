/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note OR MIT */
/*
 * acrypto: user-space ABI of /dev/acrypto.
 *
 * Hand-written; shared by the kernel module (kmod-c/), C programs and the
 * Rust kdev driver (through bindgen). The layout rules are those of
 * Documentation/driver-api/ioctl.rst: fixed-width types only, user pointers
 * carried as __u64, explicit padding, no enums and no bitfields, so 32-bit
 * and 64-bit callers share one layout and no compat translation exists.
 * Every pad and reserved field must be zero on input (-EINVAL otherwise)
 * and is zero on output.
 *
 * Two ways to run work, both on a session:
 *
 *  1. The original acrypto flow, synchronous:
 *     CRYPTO_SESSION_ALLOC -> CRYPTO_FILL_DATA (key, IV, source)
 *     -> CRYPTO_SESSION_ADD (runs it, sleeps interruptibly, copies the
 *     result out) -> ... -> CRYPTO_SESSION_FREE.
 *
 *  2. The asynchronous batch path: ACRYPTO_IOC_SUBMIT takes an array of
 *     struct acrypto_request; each finishes as one struct acrypto_completion
 *     record read() from the same fd. poll()/epoll report EPOLLIN while a
 *     completion is ready, and EPOLLOUT while fewer than max_inflight
 *     requests are submitted and unread (one more would be accepted).
 *     Output bytes reach the request's dst (or digest) pointer in one of
 *     two ways: cipher requests of at least zero_copy_min bytes (module
 *     parameter, default 4096) run directly on the submitter's pinned pages,
 *     so dst holds the result when the completion is ready; all others are
 *     copied by the read() that returns the completion, into the reading
 *     process. Either way the buffers must stay valid, and unread, until
 *     the completion has been read. For zero copy, src and dst must be the
 *     same buffer or disjoint (overlapping ones are copied instead).
 *
 * Session ids are per file descriptor: an id is meaningless on another fd.
 */
#ifndef _UAPI_LINUX_ACRYPTO_H
#define _UAPI_LINUX_ACRYPTO_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define ACRYPTO_ABI_VERSION	1

/* Length of the name fields, including the terminating NUL. */
#define ACRYPTO_NAME_LEN	128

/* Largest key (HMAC; ciphers need their exact size, at most 64) and IV. */
#define ACRYPTO_MAX_KEY_LEN	128
#define ACRYPTO_MAX_IV_LEN	16

/* Operation: what a session does. */
#define CRYPTO_OP_ENCRYPT	1
#define CRYPTO_OP_DECRYPT	2
#define CRYPTO_OP_HASH		3	/* plain digest */
#define CRYPTO_OP_HMAC		4	/* keyed digest */
#define CRYPTO_OP_RNG		5	/* random bytes */

/* Type: the primitive. */
#define CRYPTO_TYPE_AES_128	1	/* XTS: 32-byte key (two AES-128 keys) */
#define CRYPTO_TYPE_AES_192	2	/* not with XTS */
#define CRYPTO_TYPE_AES_256	3	/* XTS: 64-byte key */
#define CRYPTO_TYPE_SHA1	4
#define CRYPTO_TYPE_SHA256	5
#define CRYPTO_TYPE_RNG		6

/* Mode: the cipher mode; CRYPTO_MODE_NONE for hash, HMAC and RNG. */
#define CRYPTO_MODE_NONE	0
#define CRYPTO_MODE_ECB		1
#define CRYPTO_MODE_CBC		2
#define CRYPTO_MODE_CTR		3
#define CRYPTO_MODE_XTS		4

/*
 * Valid (operation, type, mode) triples and the kernel algorithm name:
 *   ENCRYPT/DECRYPT, AES_128/192/256, ECB  -> "ecb(aes)"   len % 16 == 0
 *   ENCRYPT/DECRYPT, AES_128/192/256, CBC  -> "cbc(aes)"   len % 16 == 0
 *   ENCRYPT/DECRYPT, AES_128/192/256, CTR  -> "ctr(aes)"   any len
 *   ENCRYPT/DECRYPT, AES_128/256,     XTS  -> "xts(aes)"   len >= 16
 *   HASH, SHA1/SHA256, NONE                -> "sha1", "sha256"
 *   HMAC, SHA1/SHA256, NONE                -> "hmac(sha1)", "hmac(sha256)"
 *   RNG,  RNG,         NONE                -> "stdrng" (falls back to
 *                                             get_random_bytes() when the
 *                                             kernel has no stdrng), or the
 *                                             driver ACRYPTO_DRIVER_GET_RANDOM
 * Cipher sessions do both directions in the batch path (acrypto_request.op);
 * in the synchronous flow the session's operation is used.
 */

/*
 * Pseudo driver name for RNG sessions: get_random_bytes() instead of a
 * crypto API rng. Listed by ACRYPTO_IOC_ENUM like a driver.
 */
#define ACRYPTO_DRIVER_GET_RANDOM	"get_random_bytes"

/**
 * struct acrypto_session_alloc - argument of CRYPTO_SESSION_ALLOC
 * @operation:	in, CRYPTO_OP_*
 * @type:	in, CRYPTO_TYPE_*
 * @mode:	in, CRYPTO_MODE_*
 * @priority:	in, stored and reported; the module does not schedule by it
 *		(user space does), any value
 * @src_size:	in, largest source of the synchronous flow, bytes;
 *		1..max_buffer (module parameter)
 * @dst_size:	in, expected largest result, <= max_buffer; 0 means "same
 *		as src_size" (digest size for hashes); reported back, kept from
 *		the original ABI: the bound that counts is each ADD's dst_len
 * @flags:	in, zero
 * @session_id:	out, nonzero id valid on this fd only
 * @driver:	in, optional kernel driver name (cra_driver_name, e.g.
 *		"cbc-aes-aesni", "cryptd(cbc(aes-generic))") to bind to;
 *		empty string: the kernel's highest-priority driver
 * @bound_driver: out, the driver actually allocated
 * @key_size:	out, required key length in bytes (0 for hashes and RNG)
 * @iv_size:	out, IV length in bytes (0 if none)
 * @block_size:	out, cipher block size or hash block size
 * @out_size:	out, digest size for hashes, 0 otherwise
 * @driver_flags: out, ACRYPTO_ALG_F_* of the bound driver
 * @__pad:	zero
 * @__reserved:	zero
 */
struct acrypto_session_alloc {
	__u32 operation;
	__u32 type;
	__u32 mode;
	__u32 priority;
	__u32 src_size;
	__u32 dst_size;
	__u32 flags;
	__u32 session_id;
	char driver[ACRYPTO_NAME_LEN];
	char bound_driver[ACRYPTO_NAME_LEN];
	__u32 key_size;
	__u32 iv_size;
	__u32 block_size;
	__u32 out_size;
	__u32 driver_flags;
	__u32 __pad;
	__u64 __reserved[2];
};

/* struct acrypto_fill_data.flags: which fields to take */
#define CRYPTO_FILL_KEY		(1U << 0)
#define CRYPTO_FILL_IV		(1U << 1)
#define CRYPTO_FILL_SRC		(1U << 2)

/**
 * struct acrypto_fill_data - argument of CRYPTO_FILL_DATA
 * @session_id:	in
 * @flags:	in, CRYPTO_FILL_*; at least one
 * @key:	in, user pointer to the key (ciphers, HMAC); setting a key
 *		while batch requests of the session are in flight is -EBUSY
 * @iv:		in, user pointer to the IV (iv_len must equal the session's
 *		iv_size)
 * @src:	in, user pointer to the source of the next CRYPTO_SESSION_ADD
 *		(src_len <= the session's src_size; for RNG, ignored:
 *		src_len is the number of random bytes wanted)
 * @key_len:	in
 * @iv_len:	in
 * @src_len:	in
 * @__pad:	zero
 * @__reserved:	zero
 *
 * The key is kept by the transform (setkey); the IV and the source are kept
 * by the session for the synchronous flow only. The batch path passes its
 * own IV and source per request and uses the session's key.
 */
struct acrypto_fill_data {
	__u32 session_id;
	__u32 flags;
	__u64 key;
	__u64 iv;
	__u64 src;
	__u32 key_len;
	__u32 iv_len;
	__u32 src_len;
	__u32 __pad;
	__u64 __reserved[2];
};

/**
 * struct acrypto_session_add - argument of CRYPTO_SESSION_ADD
 * @session_id:	in
 * @flags:	in, zero
 * @dst:	in, user pointer receiving the result (ciphertext/plaintext,
 *		digest, random bytes)
 * @dst_len:	in, capacity of @dst; out, bytes written
 * @__pad:	zero
 * @__reserved:	zero
 *
 * Runs the operation on the data given by CRYPTO_FILL_DATA, sleeping
 * interruptibly until it completes. A signal returns -EINTR; the request
 * then finishes in the background and its result is dropped. The session's
 * IV is not chained: every ADD starts from the IV last filled.
 */
struct acrypto_session_add {
	__u32 session_id;
	__u32 flags;
	__u64 dst;
	__u32 dst_len;
	__u32 __pad;
	__u64 __reserved[2];
};

/**
 * struct acrypto_session_free - argument of CRYPTO_SESSION_FREE
 * @session_id:	in; requests of the session already in flight still
 *		complete and are still read()
 * @__pad:	zero
 */
struct acrypto_session_free {
	__u32 session_id;
	__u32 __pad;
};

/**
 * struct acrypto_request - one request of ACRYPTO_IOC_SUBMIT (80 bytes)
 * @tag:	in, any value; returned in the completion
 * @session_id:	in
 * @op:		in, 0 (the session's operation) or, for cipher sessions,
 *		CRYPTO_OP_ENCRYPT / CRYPTO_OP_DECRYPT
 * @src:	in, source (ciphers, hashes, HMAC); unused for RNG
 * @dst:	in, destination for ciphers (may equal @src) and RNG
 * @iv:		in, IV for ciphers with an IV
 * @digest:	in, destination of a hash or HMAC
 * @src_len:	in, <= max_buffer; cipher mode length rules apply
 * @dst_len:	in, >= src_len for ciphers; bytes wanted for RNG
 * @iv_len:	in, the session's iv_size
 * @digest_len:	in, >= the session's out_size for hashes
 * @flags:	in, zero (room for per-request options)
 * @__pad:	zero
 * @__reserved:	zero
 */
struct acrypto_request {
	__u64 tag;
	__u32 session_id;
	__u32 op;
	__u64 src;
	__u64 dst;
	__u64 iv;
	__u64 digest;
	__u32 src_len;
	__u32 dst_len;
	__u32 iv_len;
	__u32 digest_len;
	__u32 flags;
	__u32 __pad;
	__u64 __reserved;
};

/**
 * struct acrypto_submit - argument of ACRYPTO_IOC_SUBMIT
 * @reqs:	in, user pointer to an array of struct acrypto_request
 * @count:	in, number of requests, 1..max_inflight
 * @submitted:	out, number accepted, in array order
 * @flags:	in, zero
 * @__pad:	zero
 * @__reserved:	zero
 *
 * Requests are taken in order until one is refused. If the first one is
 * refused the ioctl fails with its errno and @submitted is 0; otherwise it
 * returns 0 with @submitted < @count, and resubmitting from there reports
 * the refused request's errno. Every accepted request produces exactly one
 * completion, even when it fails in the driver.
 */
struct acrypto_submit {
	__u64 reqs;
	__u32 count;
	__u32 submitted;
	__u32 flags;
	__u32 __pad;
	__u64 __reserved;
};

/**
 * struct acrypto_completion - record returned by read() (24 bytes)
 * @tag:	the request's tag
 * @status:	0 or a negative errno (-EFAULT if the output could not be
 *		copied to the request's dst/digest)
 * @out_len:	bytes written to dst (cipher, RNG) or digest (hash, HMAC)
 * @session_id:	the request's session
 * @__pad:	zero
 *
 * read() needs a buffer of at least one record and returns whole records.
 * It blocks until one is ready unless the fd is O_NONBLOCK (-EAGAIN); when
 * nothing is ready and nothing is in flight it returns 0 at once.
 */
struct acrypto_completion {
	__u64 tag;
	__s32 status;
	__u32 out_len;
	__u32 session_id;
	__u32 __pad;
};

/**
 * struct acrypto_version - argument of ACRYPTO_IOC_VERSION
 * @abi_version:	out, ACRYPTO_ABI_VERSION of the module
 * @max_sessions:	out, per-fd session limit (module parameter)
 * @max_inflight:	out, per-fd limit of batch requests in flight
 * @max_buffer:		out, largest source/destination of one request
 * @request_size:	out, sizeof(struct acrypto_request)
 * @completion_size:	out, sizeof(struct acrypto_completion)
 * @zero_copy_min:	out, smallest batch cipher request run on pinned user
 *			pages (0: never)
 * @__pad:		zero
 * @__reserved:		zero
 */
struct acrypto_version {
	__u32 abi_version;
	__u32 max_sessions;
	__u32 max_inflight;
	__u32 max_buffer;
	__u32 request_size;
	__u32 completion_size;
	__u32 zero_copy_min;
	__u32 __pad;
	__u64 __reserved;
};

/* struct acrypto_alg_info.flags, and acrypto_session_alloc.driver_flags */
#define ACRYPTO_ALG_F_ASYNC	(1U << 0) /* completes through a callback */
#define ACRYPTO_ALG_F_HW	(1U << 1) /* heuristic: hardware-backed */
#define ACRYPTO_ALG_F_DEFAULT	(1U << 2) /* highest priority for its name */

/* struct acrypto_alg_info.kind */
#define ACRYPTO_KIND_CIPHER	1
#define ACRYPTO_KIND_HASH	2
#define ACRYPTO_KIND_HMAC	3
#define ACRYPTO_KIND_RNG	4

/**
 * struct acrypto_alg_info - argument of ACRYPTO_IOC_ENUM
 * @index:	in; index 0 takes a fresh snapshot of the kernel's registered
 *		drivers for the supported algorithm names, later indices read
 *		that snapshot; past the end: -ENOENT
 * @flags:	out, ACRYPTO_ALG_F_*
 * @priority:	out, cra_priority
 * @kind:	out, ACRYPTO_KIND_*
 * @mode:	out, CRYPTO_MODE_* for ciphers, CRYPTO_MODE_NONE otherwise
 * @type:	out, CRYPTO_TYPE_SHA1/SHA256/RNG for hashes, HMACs and RNGs,
 *		0 for AES (the key length picks CRYPTO_TYPE_AES_*)
 * @driver_name: out, cra_driver_name: pass it as acrypto_session_alloc.driver
 * @alg_name:	out, cra_name (e.g. "cbc(aes)", "hmac(sha256)", "stdrng")
 * @__reserved:	zero
 */
struct acrypto_alg_info {
	__u32 index;
	__u32 flags;
	__u32 priority;
	__u32 kind;
	__u32 mode;
	__u32 type;
	char driver_name[ACRYPTO_NAME_LEN];
	char alg_name[ACRYPTO_NAME_LEN];
	__u64 __reserved[2];
};

/*
 * Magic 0xAC, numbers 0x40-0x4F: Documentation/userspace-api/ioctl/
 * ioctl-number.rst gives 0xAC 00-1F to the removed raw driver.
 */
#define ACRYPTO_IOC_MAGIC	0xAC

/* The original acrypto's three ioctls, under their original names. */
#define CRYPTO_SESSION_ALLOC	_IOWR(ACRYPTO_IOC_MAGIC, 0x40, struct acrypto_session_alloc)
#define CRYPTO_FILL_DATA	_IOW(ACRYPTO_IOC_MAGIC, 0x41, struct acrypto_fill_data)
#define CRYPTO_SESSION_ADD	_IOWR(ACRYPTO_IOC_MAGIC, 0x42, struct acrypto_session_add)
#define CRYPTO_SESSION_FREE	_IOW(ACRYPTO_IOC_MAGIC, 0x43, struct acrypto_session_free)

/* Batch submission, enumeration, version. */
#define ACRYPTO_IOC_SUBMIT	_IOWR(ACRYPTO_IOC_MAGIC, 0x48, struct acrypto_submit)
#define ACRYPTO_IOC_ENUM	_IOWR(ACRYPTO_IOC_MAGIC, 0x49, struct acrypto_alg_info)
#define ACRYPTO_IOC_VERSION	_IOR(ACRYPTO_IOC_MAGIC, 0x4a, struct acrypto_version)

#endif /* _UAPI_LINUX_ACRYPTO_H */
