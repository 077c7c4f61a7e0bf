/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note OR MIT */
/*
 * acrypto: user-space ABI of /dev/acrypto.
 *
 * Hand-written; shared by the kernel module (kmod-c/), C programs and the
 * Rust kdev driver (through bindgen). The layout rules are those of
 * Documentation/driver-api/ioctl.rst: fixed-width types only, user pointers
 * carried as __u64, explicit padding, no enums and no bitfields, so 32-bit
 * and 64-bit callers share one layout and no compat translation exists.
 *
 * Names: the original acrypto's three ioctls keep their names
 * (CRYPTO_SESSION_ALLOC, CRYPTO_FILL_DATA, CRYPTO_SESSION_ADD); everything
 * else is ACRYPTO_DEV_* (constants) or ACRYPTO_IOC_* (ioctls), apart from
 * the C API's ACRYPTO_* names (include/acrypto.h) so both headers can be
 * included together.
 *
 * Rules that let the ABI grow:
 *  - Every flag not defined, every pad, and every field that does not apply
 *    to the operation (e.g. @iv of a hash request, @key of a FILL_DATA
 *    without ACRYPTO_DEV_FILL_KEY, out fields on input) must be zero:
 *    -EINVAL otherwise. A later version may give them a meaning.
 *  - Structures grow at the end only. The size is the one in the ioctl
 *    command (_IOC_SIZE): the module accepts any size from the first
 *    version's (ACRYPTO_DEV_*_SIZE_VER0) up to 4096 bytes. Input bytes
 *    beyond what the module knows must be zero (-E2BIG otherwise, as
 *    openat2 and clone3 do); output bytes beyond it are written as zero;
 *    a caller with an older, smaller structure gets the new fields' zero
 *    meaning. There is no version number.
 *  - The batch request array carries its stride (acrypto_submit.entry_size)
 *    with the same rules per entry.
 *
 * Two ways to run work, both on a session:
 *
 *  1. The original acrypto flow, synchronous:
 *     CRYPTO_SESSION_ALLOC -> CRYPTO_FILL_DATA (key, IV, source)
 *     -> CRYPTO_SESSION_ADD (runs it, sleeps interruptibly, copies the
 *     result out) -> ... -> ACRYPTO_IOC_SESSION_FREE.
 *
 *  2. The asynchronous batch path: ACRYPTO_IOC_SUBMIT takes an array of
 *     struct acrypto_request; each finishes as one struct acrypto_completion
 *     record read() from the same fd. poll()/epoll report EPOLLIN while a
 *     completion is ready, and EPOLLOUT while fewer than max_inflight
 *     requests are submitted and unread (one more would be accepted).
 *     Output bytes reach the request's dst (or digest) in one of two ways:
 *     cipher requests of at least zero_copy_min bytes (module parameter,
 *     default 4096) run directly on the submitter's pages, pinned for the
 *     time the driver works on them (charged to RLIMIT_MEMLOCK as
 *     mm->pinned_vm, VmPin in /proc/PID/status; over the limit, without
 *     CAP_IPC_LOCK, the request is copied instead), so dst holds the result
 *     when the completion is ready; all others are copied by the read()
 *     that returns the completion. Either way the buffers must stay valid
 *     until the completion has been read. For zero copy, src and dst must
 *     be the same buffer or disjoint (overlapping ones are copied).
 *
 *     A completion is only ever delivered into the address space that
 *     submitted the request: read() by another process (a fork child, a
 *     process that received the fd over a unix socket, the submitter after
 *     execve) gets the record with status -EPERM and out_len 0, and
 *     nothing is written to that process's memory.
 *
 * Session ids are per file descriptor: an id is meaningless on another fd.
 */
#ifndef _UAPI_LINUX_ACRYPTO_H
#define _UAPI_LINUX_ACRYPTO_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Length of the name fields, including the terminating NUL. */
#define ACRYPTO_DEV_NAME_LEN		128

/* Largest key (HMAC; ciphers need their exact size, at most 64) and IV. */
#define ACRYPTO_DEV_MAX_KEY_LEN		128
#define ACRYPTO_DEV_MAX_IV_LEN		16
/* Largest RSA key (akcipher sessions): an 8192-bit private key in DER. */
#define ACRYPTO_DEV_MAX_AKCIPHER_KEY_LEN	4864
/* Largest digest a VERIFY request checks (a DigestInfo of SHA-512 too). */
#define ACRYPTO_DEV_MAX_VERIFY_LEN	128

/* Operation: what a session does. */
#define ACRYPTO_DEV_OP_ENCRYPT		1
#define ACRYPTO_DEV_OP_DECRYPT		2
#define ACRYPTO_DEV_OP_HASH		3	/* plain digest */
#define ACRYPTO_DEV_OP_HMAC		4	/* keyed digest */
#define ACRYPTO_DEV_OP_RNG		5	/* random bytes */
#define ACRYPTO_DEV_OP_SIGN		6	/* akcipher: private-key signature */
#define ACRYPTO_DEV_OP_VERIFY		7	/* akcipher: public-key check */

/* Type: the primitive. */
#define ACRYPTO_DEV_TYPE_AES_128	1	/* XTS: 32-byte key (two AES-128 keys) */
#define ACRYPTO_DEV_TYPE_AES_192	2	/* not with XTS */
#define ACRYPTO_DEV_TYPE_AES_256	3	/* XTS: 64-byte key */
#define ACRYPTO_DEV_TYPE_SHA1		4
#define ACRYPTO_DEV_TYPE_SHA256		5
#define ACRYPTO_DEV_TYPE_RNG		6
#define ACRYPTO_DEV_TYPE_CHACHA20	7	/* only with MODE_POLY1305 */
#define ACRYPTO_DEV_TYPE_RSA		8	/* only with the akcipher modes */

/* Mode: the cipher mode; ACRYPTO_DEV_MODE_NONE for hash, HMAC and RNG. */
#define ACRYPTO_DEV_MODE_NONE		0
#define ACRYPTO_DEV_MODE_ECB		1
#define ACRYPTO_DEV_MODE_CBC		2
#define ACRYPTO_DEV_MODE_CTR		3
#define ACRYPTO_DEV_MODE_XTS		4
/* AEAD modes: sessions seal (ENCRYPT) and open (DECRYPT), with AAD and a tag. */
#define ACRYPTO_DEV_MODE_GCM		5	/* AES-GCM, 12-byte nonce */
#define ACRYPTO_DEV_MODE_RFC4106	6	/* AES-GCM as ESP uses it */
#define ACRYPTO_DEV_MODE_POLY1305	7	/* ChaCha20-Poly1305 (RFC 8439) */
/*
 * akcipher modes (crypto_alloc_akcipher), type RSA: see "akcipher sessions"
 * below. Raw "rsa" is not offered: its output is not padded to the modulus
 * size; hardware RSA drivers ("rsa" of QAT, CCP, HPRE) are reached through
 * the pkcs1pad template around them, e.g. "pkcs1pad(rsa-qat,sha256)".
 */
#define ACRYPTO_DEV_MODE_PKCS1		8	/* "pkcs1pad(rsa)": PKCS#1 v1.5, no DigestInfo */
#define ACRYPTO_DEV_MODE_PKCS1_SHA1	9	/* "pkcs1pad(rsa,sha1)" */
#define ACRYPTO_DEV_MODE_PKCS1_SHA256	10	/* "pkcs1pad(rsa,sha256)" */

/*
 * Valid (operation, type, mode) triples and the kernel algorithm name:
 *   ENCRYPT/DECRYPT, AES_128/192/256, ECB  -> "ecb(aes)"   len % 16 == 0
 *   ENCRYPT/DECRYPT, AES_128/192/256, CBC  -> "cbc(aes)"   len % 16 == 0
 *   ENCRYPT/DECRYPT, AES_128/192/256, CTR  -> "ctr(aes)"   any len
 *   ENCRYPT/DECRYPT, AES_128/256,     XTS  -> "xts(aes)"   len >= 16
 *   ENCRYPT/DECRYPT, AES_128/192/256, GCM  -> "gcm(aes)"   any len
 *   ENCRYPT/DECRYPT, AES_128/192/256, RFC4106 -> "rfc4106(gcm(aes))"
 *   ENCRYPT/DECRYPT, CHACHA20, POLY1305    -> "rfc7539(chacha20,poly1305)"
 *   HASH, SHA1/SHA256, NONE                -> "sha1", "sha256"
 *   HMAC, SHA1/SHA256, NONE                -> "hmac(sha1)", "hmac(sha256)"
 *   RNG,  RNG,         NONE                -> "stdrng" (falls back to
 *                                             get_random_bytes() when the
 *                                             kernel has no stdrng), or the
 *                                             driver ACRYPTO_DEV_GET_RANDOM
 *   ENCRYPT/DECRYPT/SIGN/VERIFY, RSA, PKCS1 -> "pkcs1pad(rsa)"
 *   ENCRYPT/DECRYPT/SIGN/VERIFY, RSA, PKCS1_SHA1   -> "pkcs1pad(rsa,sha1)"
 *   ENCRYPT/DECRYPT/SIGN/VERIFY, RSA, PKCS1_SHA256 -> "pkcs1pad(rsa,sha256)"
 * Cipher sessions do both directions in the batch path (acrypto_request.op);
 * in the synchronous flow the session's operation is used.
 *
 * AEAD sessions (modes GCM, RFC4106, POLY1305; crypto_alloc_aead):
 *   - ENCRYPT seals: the ciphertext (as long as the plaintext) and a tag of
 *     the session's auth size. DECRYPT opens: the tag is checked and the
 *     plaintext released only if it verifies; otherwise -EBADMSG and
 *     nothing at all is written to the caller's memory.
 *   - Keys: GCM 16/24/32 bytes; RFC4106 the AES key followed by the 4-byte
 *     salt (20/28/36); POLY1305 32. Nonce (the IV): GCM and POLY1305 12
 *     bytes; RFC4106 the 8-byte explicit IV (the kernel wants the AAD of
 *     ESP, 8 or 12 bytes: SPI and sequence number).
 *   - AAD: acrypto_request.aad (batch) or ACRYPTO_DEV_FILL_AAD (synchronous).
 *     aad_len + src_len <= max_buffer.
 *   - Batch: src/src_len the plaintext (seal) or ciphertext without the tag
 *     (open); dst/dst_len >= src_len receives the other; digest/digest_len
 *     is the tag (out for seal, in for open), digest_len equal to the
 *     session's out_size (the auth size). out_len of the completion is the
 *     bytes written to dst.
 *   - Synchronous: the source of a seal is the plaintext and the result is
 *     ciphertext || tag; the source of an open is ciphertext || tag and the
 *     result the plaintext.
 *   - Always copied, never zero copy: the kernel's drivers write the
 *     plaintext before they compare the tag, so an open on the caller's
 *     pages would release plaintext that did not verify.
 *
 * akcipher sessions (type RSA; crypto_alloc_akcipher):
 *   - The key (FILL_DATA, ACRYPTO_DEV_FILL_KEY, 1..MAX_AKCIPHER_KEY_LEN
 *     bytes) is what the kernel's RSA parsers take: a DER RSAPrivateKey
 *     (PKCS#1), or with ACRYPTO_DEV_FILL_PUBLIC a DER RSAPublicKey. A key the
 *     driver refuses is -EINVAL (or the parser's errno) and leaves the
 *     session without a key. A public key encrypts and verifies only: SIGN
 *     and DECRYPT with it are -ENOKEY. key_size of SESSION_ALLOC reports
 *     MAX_AKCIPHER_KEY_LEN; the modulus size k (crypto_akcipher_maxsize)
 *     is known once a key is set, and is the length of every signature and
 *     ciphertext.
 *   - Batch requests: @op is 0 (the session's), ENCRYPT, DECRYPT, SIGN or
 *     VERIFY. SIGN: @src the digest
 *     (PKCS1_SHA*: the hash's size; the DigestInfo is the kernel's), @dst
 *     at least k bytes receives the signature. ENCRYPT: @src the message
 *     (at most k - 11 bytes; PKCS#1 v1.5 type 2 padding), @dst at
 *     least k bytes. DECRYPT: @src k bytes, @dst at least k bytes receives
 *     the message; out_len is its length. VERIFY: @src the k-byte signature,
 *     @digest/@digest_len (1..MAX_VERIFY_LEN) the digest it must sign,
 *     @dst/@dst_len zero; a signature that does not verify is -EBADMSG.
 *     A driver that does not implement an operation (virtio-pkcs1-rsa of
 *     Linux 6.1 encrypts and decrypts but does not sign) completes it with
 *     -EOPNOTSUPP.
 *     @iv, @aad, @state and @flags are zero. Always copied. An input the
 *     padding cannot take (a message or digest longer than k - 11 with its
 *     DigestInfo, a ciphertext that does not decrypt) ends with the
 *     driver's errno (-EOVERFLOW, -EINVAL, -EBADMSG) in the completion.
 *   - Synchronous flow: the session's operation; the source is as @src
 *     above, but for VERIFY it is the signature followed by the digest
 *     (the result is empty: 0 or -EBADMSG). src_size bounds it as for the
 *     other sessions.
 *
 * Which drivers exist is not asked of the module: /proc/crypto lists them
 * (name, driver, priority, "selftest : passed", "internal : no"), or
 * NETLINK_CRYPTO's CRYPTO_MSG_GETALG where crypto_user is loaded. Any
 * cra_driver_name implementing one of the names above can be bound.
 */

/* Pseudo driver name for RNG sessions: get_random_bytes(), no crypto API rng. */
#define ACRYPTO_DEV_GET_RANDOM		"get_random_bytes"

/* acrypto_session_alloc.driver_flags */
#define ACRYPTO_DEV_F_ASYNC	(1U << 0) /* completes through a callback */
#define ACRYPTO_DEV_F_HW	(1U << 1) /* heuristic: CRYPTO_ALG_KERN_DRIVER_ONLY */

/**
 * struct acrypto_session_alloc - argument of CRYPTO_SESSION_ALLOC (320 bytes; 304 in the first version)
 * @operation:	in, ACRYPTO_DEV_OP_*
 * @type:	in, ACRYPTO_DEV_TYPE_*
 * @mode:	in, ACRYPTO_DEV_MODE_*
 * @src_size:	in, largest source of the synchronous flow in bytes,
 *		0..max_buffer (module parameter); 0: the session is used by the
 *		batch path only (FILL_DATA with ACRYPTO_DEV_FILL_SRC is then
 *		-EMSGSIZE). The buffer is allocated at the first FILL_DATA with
 *		a source.
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
 * @driver_flags: out, ACRYPTO_DEV_F_* of the bound driver
 * @__pad:	zero
 * @auth_size:	in, AEAD sessions: tag length in bytes (crypto_aead_setauthsize;
 *		GCM 4, 8, 12..16, POLY1305 16), 0: the algorithm's largest;
 *		zero for every other session. out_size reports the length used.
 * @__pad2:	zero
 * @state_size:	out, hash and HMAC sessions: the length of the sealed stream
 *		state (struct acrypto_request, ACRYPTO_DEV_REQ_EXPORT) of this
 *		session, at most ACRYPTO_DEV_MAX_STATE_LEN; 0 when the session
 *		cannot stream (not a hash, or the driver exports no state)
 * @__pad3:	zero
 */
struct acrypto_session_alloc {
	__u32 operation;
	__u32 type;
	__u32 mode;
	__u32 src_size;
	__u32 flags;
	__u32 session_id;
	char driver[ACRYPTO_DEV_NAME_LEN];
	char bound_driver[ACRYPTO_DEV_NAME_LEN];
	__u32 key_size;
	__u32 iv_size;
	__u32 block_size;
	__u32 out_size;
	__u32 driver_flags;
	__u32 __pad;
	__u32 auth_size;
	__u32 __pad2;
	__u32 state_size;
	__u32 __pad3;
};

/* struct acrypto_fill_data.flags: which fields to take */
#define ACRYPTO_DEV_FILL_KEY	(1U << 0)
#define ACRYPTO_DEV_FILL_IV	(1U << 1)
#define ACRYPTO_DEV_FILL_SRC	(1U << 2)
#define ACRYPTO_DEV_FILL_AAD	(1U << 3)	/* AEAD sessions only */
#define ACRYPTO_DEV_FILL_STATE	(1U << 4)	/* hash and HMAC sessions: streams */
#define ACRYPTO_DEV_FILL_PUBLIC	(1U << 5)	/* akcipher, with FILL_KEY: a public key */

/**
 * struct acrypto_fill_data - argument of CRYPTO_FILL_DATA (80 bytes; 48 in the first version)
 * @session_id:	in
 * @flags:	in, ACRYPTO_DEV_FILL_*; at least one
 * @key:	in, user pointer to the key (ciphers, HMAC, akcipher); setting a key
 *		while batch requests of the session are in flight is -EBUSY
 * @iv:		in, user pointer to the IV (iv_len must equal the session's
 *		iv_size)
 * @src:	in, user pointer to the source of the next CRYPTO_SESSION_ADD
 *		(src_len <= the session's src_size); zero for RNG, whose
 *		src_len is the number of random bytes wanted
 * @key_len:	in
 * @iv_len:	in
 * @src_len:	in
 * @__pad:	zero
 * @aad:	in, user pointer to the AAD of the next CRYPTO_SESSION_ADD of
 *		an AEAD session (zero when @aad_len is zero)
 * @aad_len:	in, aad_len + src_size <= max_buffer
 * @__pad2:	zero
 * @state:	in, with ACRYPTO_DEV_FILL_STATE: user pointer to a sealed stream
 *		state (see "Streams" below) that the next CRYPTO_SESSION_ADDs
 *		continue from; zero with @state_len zero: start fresh again
 * @state_len:	in, the session's state_size, or zero
 * @__pad3:	zero
 *
 * The pointer and length of a part whose flag is not set must be zero.
 * All or nothing: every part is copied in before any is applied, so a
 * fault (-EFAULT) or a refused length leaves the session as it was. The
 * key is applied first; a key the driver refuses (-EINVAL) leaves the
 * session without a key (-ENOKEY until one is set) and the IV and source
 * as they were.
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
	__u64 aad;
	__u32 aad_len;
	__u32 __pad2;
	__u64 state;
	__u32 state_len;
	__u32 __pad3;
};

/* struct acrypto_session_add.flags */
#define ACRYPTO_DEV_ADD_EXPORT	(1U << 0)	/* hash and HMAC sessions: streams */

/**
 * struct acrypto_session_add - argument of CRYPTO_SESSION_ADD (24 bytes)
 * @session_id:	in
 * @flags:	in, zero, or ACRYPTO_DEV_ADD_EXPORT for a hash or HMAC session
 *		whose state_size is not zero: absorb the source, then write
 *		the sealed state after it to @dst instead of the digest
 *		(@dst_len >= state_size)
 * @dst:	in, user pointer receiving the result (ciphertext/plaintext,
 *		digest, random bytes, sealed state)
 * @dst_len:	in, capacity of @dst; out, bytes written
 * @__pad:	zero
 *
 * Runs the operation on the data given by CRYPTO_FILL_DATA, sleeping
 * interruptibly until it completes. A signal returns -EINTR; the request
 * then finishes in the background and its result is dropped. Each session
 * has at most one such orphan: the next ADD on the session first waits
 * (interruptibly) for it to finish, so interrupted calls cannot queue
 * unbounded work. The session's IV is not chained: every ADD starts from
 * the IV last filled. Likewise a hash or HMAC ADD starts from the sealed
 * state last filled (ACRYPTO_DEV_FILL_STATE; checked by this ADD: -EBADMSG
 * as in the batch path), or a fresh hash when none is; a key set with
 * FILL_DATA drops the filled state.
 */
struct acrypto_session_add {
	__u32 session_id;
	__u32 flags;
	__u64 dst;
	__u32 dst_len;
	__u32 __pad;
};

/**
 * struct acrypto_session_free - argument of ACRYPTO_IOC_SESSION_FREE
 * @session_id:	in; requests of the session already in flight still
 *		complete and are still read()
 * @__pad:	zero
 */
struct acrypto_session_free {
	__u32 session_id;
	__u32 __pad;
};

/*
 * Streams (hash and HMAC sessions): a message of any length as a sequence
 * of requests, each carrying the running hash state from the one before.
 * The synchronous flow has the same with ACRYPTO_DEV_FILL_STATE and
 * ACRYPTO_DEV_ADD_EXPORT. In the batch path, acrypto_request.flags:
 *   ACRYPTO_DEV_REQ_CONTINUE  start from the sealed state at @state
 *                             (@state_len == the session's state_size)
 *                             instead of a fresh hash (or HMAC key);
 *   ACRYPTO_DEV_REQ_EXPORT    absorb the data, then write the sealed state
 *                             to @state_out (@state_out_len >= state_size)
 *                             instead of finalizing; @digest and
 *                             @digest_len are then zero. The completion's
 *                             out_len is the state's length.
 * Without EXPORT the request finalizes into @digest as a one-shot does.
 * The state is the driver's export (crypto_ahash_export: for HMAC,
 * key-derived material) sealed by the module with HMAC-SHA256 under a key
 * made at module load; the seal binds it to this fd, this session (and its
 * current key: a FILL_DATA key change retires the session's states), the
 * bound driver and the algorithm. A state whose seal does not verify, or
 * from another fd, session, key or driver, is refused with -EBADMSG at
 * submission and nothing is imported. Layout (opaque to user space):
 *   __le32 magic, __le32 length of the driver's state, the state,
 *   32-byte seal.
 */
#define ACRYPTO_DEV_REQ_CONTINUE	(1U << 0)
#define ACRYPTO_DEV_REQ_EXPORT		(1U << 1)
/* The largest state_size of any session (HASH_MAX_STATESIZE + 40). */
#define ACRYPTO_DEV_MAX_STATE_LEN	552

/**
 * struct acrypto_request - one request of ACRYPTO_IOC_SUBMIT (112 bytes; 72 in the first version)
 * @tag:	in, any value; returned in the completion
 * @session_id:	in
 * @op:		in, 0 (the session's operation) or, for cipher sessions,
 *		ACRYPTO_DEV_OP_ENCRYPT / ACRYPTO_DEV_OP_DECRYPT; for akcipher
 *		sessions also SIGN / VERIFY (see "akcipher sessions")
 * @src:	in, source (ciphers, hashes, HMAC); zero for RNG
 * @dst:	in, destination for ciphers (may equal @src) and RNG; zero for
 *		hashes
 * @iv:		in, IV for ciphers with an IV; zero otherwise
 * @digest:	in, destination of a hash or HMAC, the tag of an AEAD;
 *		zero otherwise
 * @src_len:	in, <= max_buffer; cipher mode length rules apply; zero
 *		for RNG
 * @dst_len:	in, >= src_len for ciphers; bytes wanted for RNG; zero for
 *		hashes
 * @iv_len:	in, the session's iv_size
 * @digest_len:	in, >= the session's out_size for hashes; zero otherwise
 * @flags:	in, ACRYPTO_DEV_REQ_* for hash and HMAC sessions (streams,
 *		above); zero otherwise
 * @__pad:	zero
 * @aad:	in, AEAD: the AAD (zero when @aad_len is zero); zero otherwise
 * @aad_len:	in, AEAD: aad_len + src_len <= max_buffer; zero otherwise
 * @__pad2:	zero
 * @state:	in, with ACRYPTO_DEV_REQ_CONTINUE: the sealed state to start
 *		from (copied and checked at submission); zero otherwise
 * @state_out:	in, with ACRYPTO_DEV_REQ_EXPORT: where the sealed state after
 *		this request is written; zero otherwise
 * @state_len:	in, with CONTINUE: the session's state_size; zero otherwise
 * @state_out_len: in, with EXPORT: capacity at @state_out, >= state_size;
 *		zero otherwise
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
	__u64 aad;
	__u32 aad_len;
	__u32 __pad2;
	__u64 state;
	__u64 state_out;
	__u32 state_len;
	__u32 state_out_len;
};

/**
 * struct acrypto_submit - argument of ACRYPTO_IOC_SUBMIT (24 bytes)
 * @reqs:	in, user pointer to an array of requests
 * @count:	in, number of requests, 1..max_inflight
 * @submitted:	out, number accepted, in array order
 * @entry_size:	in, the array's stride: sizeof(struct acrypto_request) as
 *		the caller knows it, ACRYPTO_DEV_REQUEST_SIZE_VER0..4096, a
 *		multiple of 8; each entry follows the growth rules above
 * @flags:	in, zero
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
	__u32 entry_size;
	__u32 flags;
};

/**
 * struct acrypto_completion - record returned by read() (24 bytes)
 * @tag:	the request's tag
 * @status:	0 or a negative errno: -EFAULT if the output could not be
 *		copied to the request's dst/digest, -EPERM if read() is called
 *		by another address space than the submitter's
 * @out_len:	bytes written to dst (cipher, RNG) or digest (hash, HMAC)
 * @session_id:	the request's session
 * @__pad:	zero
 *
 * read() needs a buffer of at least one record and returns whole records.
 * It blocks until one is ready, also when nothing is in flight (another
 * thread may submit), unless the fd is O_NONBLOCK (-EAGAIN); a signal
 * interrupts it (-EINTR). It never returns 0.
 */
struct acrypto_completion {
	__u64 tag;
	__s32 status;
	__u32 out_len;
	__u32 session_id;
	__u32 __pad;
};

/**
 * struct acrypto_info - argument of ACRYPTO_IOC_INFO (48 bytes)
 * @max_sessions:	out, per-fd session limit (module parameter)
 * @max_inflight:	out, per-fd limit of batch requests submitted and not
 *			yet read
 * @max_buffer:		out, largest source/destination of one request
 * @zero_copy_min:	out, smallest batch cipher request run on pinned user
 *			pages (0: never)
 * @request_size:	out, the largest acrypto_request entry_size whose
 *			fields this module knows
 * @completion_size:	out, sizeof(struct acrypto_completion) that read()
 *			returns
 * @sessions:		out, sessions open on this fd
 * @inflight:		out, batch requests of this fd submitted and not read
 * @orphans:		out, interrupted CRYPTO_SESSION_ADD requests of this
 *			fd still running (at most one per session)
 * @__pad:		zero
 * @pinned_pages:	out, user pages this fd's requests hold pinned now
 */
struct acrypto_info {
	__u32 max_sessions;
	__u32 max_inflight;
	__u32 max_buffer;
	__u32 zero_copy_min;
	__u32 request_size;
	__u32 completion_size;
	__u32 sessions;
	__u32 inflight;
	__u32 orphans;
	__u32 __pad;
	__u64 pinned_pages;
};

/* Sizes of the first version of each structure: the smallest accepted. */
#define ACRYPTO_DEV_SESSION_ALLOC_SIZE_VER0	304
#define ACRYPTO_DEV_FILL_DATA_SIZE_VER0		48
#define ACRYPTO_DEV_SESSION_ADD_SIZE_VER0	24
#define ACRYPTO_DEV_SESSION_FREE_SIZE_VER0	8
#define ACRYPTO_DEV_SUBMIT_SIZE_VER0		24
#define ACRYPTO_DEV_REQUEST_SIZE_VER0		72
#define ACRYPTO_DEV_INFO_SIZE_VER0		48
/* Sizes of this version (the AEAD fields, then the stream fields). */
#define ACRYPTO_DEV_SESSION_ALLOC_SIZE		320
#define ACRYPTO_DEV_FILL_DATA_SIZE		80
#define ACRYPTO_DEV_REQUEST_SIZE		112

/*
 * ioctl numbers, as Documentation/userspace-api/ioctl/ioctl-number.rst
 * would list them:
 *
 *   Code  Seq#    Include File            Comments
 *   0xAC  40-4F   linux/acrypto.h         acrypto, /dev/acrypto
 *
 * (ioctl-number.rst gives 0xAC 00-1F to the removed raw driver.) 0x44-0x47
 * and 0x4c-0x4f are free for later commands; 0x49 and 0x4a were an
 * enumeration and a version ioctl of the first drafts and are retired,
 * never to be reused.
 */
#define ACRYPTO_IOC_MAGIC	0xAC

/* The original acrypto's three ioctls, under their original names. */
#define CRYPTO_SESSION_ALLOC	_IOWR(ACRYPTO_IOC_MAGIC, 0x40, struct acrypto_session_alloc)
#define CRYPTO_FILL_DATA	_IOW(ACRYPTO_IOC_MAGIC, 0x41, struct acrypto_fill_data)
#define CRYPTO_SESSION_ADD	_IOWR(ACRYPTO_IOC_MAGIC, 0x42, struct acrypto_session_add)

#define ACRYPTO_IOC_SESSION_FREE _IOW(ACRYPTO_IOC_MAGIC, 0x43, struct acrypto_session_free)
/* Batch submission; the module's limits and this fd's counters. */
#define ACRYPTO_IOC_SUBMIT	_IOWR(ACRYPTO_IOC_MAGIC, 0x48, struct acrypto_submit)
#define ACRYPTO_IOC_INFO	_IOR(ACRYPTO_IOC_MAGIC, 0x4b, struct acrypto_info)

#endif /* _UAPI_LINUX_ACRYPTO_H */
