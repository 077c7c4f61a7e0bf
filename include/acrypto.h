/*
 * acrypto.h - the C API of acrypto, an asynchronous crypto framework.
 *
 * Generated from ffi/ by cbindgen (ffi/cbindgen.toml); do not edit. Link
 * with libacrypto (pkg-config --cflags --libs acrypto).
 *
 * CONVENTIONS
 *  - Objects are opaque handles: acrypto_engine, acrypto_engine_config,
 *    acrypto_session, acrypto_queue, acrypto_pending, acrypto_stream
 *    (consumer side);
 *    acrypto_device, acrypto_work (provider side). A handle is created by a
 *    _new (or _register, _submit_pending, _dequeue) function that writes it
 *    to an out-parameter, and released by its _free function (NULL-safe),
 *    or for a work item by acrypto_work_complete.
 *  - Every fallible function returns an acrypto_status; acrypto_strerror
 *    names it. A NULL where a pointer is required gives
 *    ACRYPTO_STATUS_NULL_ARGUMENT; a bad enum value, flag or length gives
 *    an error status, never a crash. Enums are taken as uint32_t and
 *    validated.
 *  - Out-parameters are written only on success (exception, documented:
 *    *accepted of the batch submit functions).
 *  - No panic crosses into C: a panic inside acrypto is caught and reported
 *    as ACRYPTO_STATUS_PANIC.
 *
 * BUFFERS AND OWNERSHIP
 *  - Inputs of a request (data, IV, expected tag) and keys are copied in by
 *    the submitting call: they may be reused as soon as it returns. Keys
 *    are zeroized when the session and its last request are gone.
 *  - Outputs (out, tag) are written when the request completes: just before
 *    its callback runs, when its completion is polled from a queue, or when
 *    its pending handle is waited on. They must stay valid until then (or
 *    until the queue or pending handle is freed, after which they are never
 *    written). An output buffer may be the input buffer (in place).
 *  - Strings returned by acrypto (acrypto_strerror, acrypto_version,
 *    acrypto_alg_name) are static.
 *
 * THREADS
 *  - Engines, sessions and queues may be used from many threads at once,
 *    except that a handle must not be freed while another thread uses it,
 *    and a queue is polled by one thread at a time. Configurations, pending
 *    handles and work items are used by one thread at a time.
 *  - Every accepted request completes exactly once. Callbacks run on a
 *    completion worker thread, or, for ACRYPTO_SESSION_DIRECT sessions, on
 *    the completing device's thread. A callback may submit more work; it
 *    must not free or shut down its engine, nor wait for it.
 *  - C driver and balancer callbacks run on acrypto's and on submitting
 *    threads, possibly at once.
 */

#ifndef ACRYPTO_H
#define ACRYPTO_H

#include <stddef.h>
#include <stdint.h>

/*
 The largest data buffer a request may carry (1 GiB). Lengths above it
 fail with `ACRYPTO_STATUS_INVALID_LENGTH` before any pointer is read.
 */
#define ACRYPTO_MAX_DATA_LEN (1 << 30)

/*
 The largest key a step may carry, in bytes.
 */
#define ACRYPTO_MAX_KEY_LEN 4096

/*
 The largest IV or tag a request may carry, in bytes (a tag holds an
 RSA-4096 signature).
 */
#define ACRYPTO_MAX_TAG_LEN 512

/*
 `acrypto_request.flags`: the data of a sign or verify step is already
 the SHA-256 digest of the message (32 bytes).
 */
#define ACRYPTO_REQUEST_PREHASHED 1

/*
 The largest name (device, driver, balancer) in bytes, without the NUL.
 */
#define ACRYPTO_MAX_NAME_LEN 63

/*
 Number of algorithms (`acrypto_alg` values are `0..ACRYPTO_ALG_COUNT`).
 */
#define ACRYPTO_ALG_COUNT 33

/*
 Session flag: run callbacks in the completing context (a device's
 thread) instead of on a completion worker. Such callbacks must be short
 and must not block on the engine.
 */
#define ACRYPTO_SESSION_DIRECT 1

/*
 Session flag: deliver completions in submission order.
 */
#define ACRYPTO_SESSION_ORDERED 2

/*
 Session flag: each step's `key` is not key material but the text of a
 reference to a key that stays in a device (an RFC 7512 URI such as
 `pkcs11:object=LABEL`; `key_len` bytes, no NUL needed). A step with a
 reference runs only on the device that holds the key (the session binds
 it there; `ACRYPTO_STATUS_NO_DEVICE` when none does). Steps with
 `key_len` 0 (digests, rng) take no key as usual.
 */
#define ACRYPTO_SESSION_KEY_REFERENCE 4

/*
 Submit flag: wait for room instead of failing with `ACRYPTO_STATUS_BUSY`.
 */
#define ACRYPTO_SUBMIT_BLOCK 1

/*
 Most steps in a route.
 */
#define ACRYPTO_MAX_STEPS 8

/*
 The result of every fallible acrypto call.

 Functions return it as `acrypto_status` (a `uint32_t`);
 [`acrypto_strerror`] names it.
 */
enum acrypto_status
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /*
   Success.
   */
  ACRYPTO_STATUS_OK = 0,
  /*
   A required pointer argument was NULL.
   */
  ACRYPTO_STATUS_NULL_ARGUMENT = 1,
  /*
   An argument is not valid (bad enum value, bad flags, bad name...).
   */
  ACRYPTO_STATUS_INVALID_ARGUMENT = 2,
  /*
   A key of the wrong length or shape for its algorithm.
   */
  ACRYPTO_STATUS_INVALID_KEY = 3,
  /*
   A buffer, IV or tag of the wrong length, or a length beyond the limits.
   */
  ACRYPTO_STATUS_INVALID_LENGTH = 4,
  /*
   An algorithm or operation nobody implements.
   */
  ACRYPTO_STATUS_UNSUPPORTED = 5,
  /*
   No registered, working device can do the work.
   */
  ACRYPTO_STATUS_NO_DEVICE = 6,
  /*
   Every capable queue is full, or the engine's in-flight limit is reached.
   */
  ACRYPTO_STATUS_BUSY = 7,
  /*
   The bound device (or the last capable one) is broken or gone.
   */
  ACRYPTO_STATUS_DEVICE_BROKEN = 8,
  /*
   A device failed the work.
   */
  ACRYPTO_STATUS_DEVICE_FAILURE = 9,
  /*
   The request was canceled (shutdown or device removal).
   */
  ACRYPTO_STATUS_CANCELED = 10,
  /*
   A MAC did not verify.
   */
  ACRYPTO_STATUS_VERIFY_FAILED = 11,
  /*
   Bad padding.
   */
  ACRYPTO_STATUS_BAD_PADDING = 12,
  /*
   The engine is shut down.
   */
  ACRYPTO_STATUS_SHUT_DOWN = 13,
  /*
   A device of that name already exists.
   */
  ACRYPTO_STATUS_EXISTS = 14,
  /*
   No device of that name.
   */
  ACRYPTO_STATUS_NO_SUCH_DEVICE = 15,
  /*
   An internal error.
   */
  ACRYPTO_STATUS_INTERNAL = 16,
  /*
   A panic inside acrypto was caught at the boundary; the call failed.
   */
  ACRYPTO_STATUS_PANIC = 17,
  /*
   A caller's buffer is too small for the result.
   */
  ACRYPTO_STATUS_BUFFER_TOO_SMALL = 18,
  /*
   A system call failed (eventfd, read, write).
   */
  ACRYPTO_STATUS_IO = 19,
  /*
   Nothing to report yet (a pending request has not finished).
   */
  ACRYPTO_STATUS_NOT_READY = 20,
  /*
   A blocking call (`acrypto_engine_wait_idle`, `acrypto_engine_free`,
   a blocking submit or run on a DIRECT session) made from inside a
   callback of the same engine: it would wait for itself, so it was
   refused and did nothing.
   */
  ACRYPTO_STATUS_WOULD_DEADLOCK = 21,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum acrypto_status acrypto_status;
#else
typedef uint32_t acrypto_status;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 Algorithms, as C sees them: the index into `Algorithm::ALL`.
 */
enum acrypto_alg
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /*
   aes-128-cbc (16-byte key and IV; data a multiple of 16 bytes).
   */
  ACRYPTO_ALG_AES_128_CBC = 0,
  /*
   aes-192-cbc.
   */
  ACRYPTO_ALG_AES_192_CBC = 1,
  /*
   aes-256-cbc.
   */
  ACRYPTO_ALG_AES_256_CBC = 2,
  /*
   aes-128-ecb (no IV; data a multiple of 16 bytes).
   */
  ACRYPTO_ALG_AES_128_ECB = 3,
  /*
   aes-192-ecb.
   */
  ACRYPTO_ALG_AES_192_ECB = 4,
  /*
   aes-256-ecb.
   */
  ACRYPTO_ALG_AES_256_ECB = 5,
  /*
   aes-128-ctr (128-bit big-endian counter from the IV; any length).
   */
  ACRYPTO_ALG_AES_128_CTR = 6,
  /*
   aes-192-ctr.
   */
  ACRYPTO_ALG_AES_192_CTR = 7,
  /*
   aes-256-ctr.
   */
  ACRYPTO_ALG_AES_256_CTR = 8,
  /*
   aes-128-xts (32-byte key; the IV is the tweak; at least 16 bytes).
   */
  ACRYPTO_ALG_AES_128_XTS = 9,
  /*
   aes-256-xts (64-byte key).
   */
  ACRYPTO_ALG_AES_256_XTS = 10,
  /*
   hmac-sha1 (any key length; 20-byte tag).
   */
  ACRYPTO_ALG_HMAC_SHA1 = 11,
  /*
   hmac-sha256 (32-byte tag).
   */
  ACRYPTO_ALG_HMAC_SHA256 = 12,
  /*
   sha1 (no key; 20-byte tag).
   */
  ACRYPTO_ALG_SHA1 = 13,
  /*
   sha256 (32-byte tag).
   */
  ACRYPTO_ALG_SHA256 = 14,
  /*
   rng: fills the output with random bytes (no key, no input read).
   */
  ACRYPTO_ALG_RNG = 15,
  /*
   aes-128-gcm (AEAD: 16-byte key, 12-byte nonce as the IV, AAD, a
   16-byte tag; open takes tags of 12 to 16 bytes).
   */
  ACRYPTO_ALG_AES_128_GCM = 16,
  /*
   aes-192-gcm.
   */
  ACRYPTO_ALG_AES_192_GCM = 17,
  /*
   aes-256-gcm.
   */
  ACRYPTO_ALG_AES_256_GCM = 18,
  /*
   chacha20-poly1305 (RFC 8439: 32-byte key, 12-byte nonce, 16-byte tag).
   */
  ACRYPTO_ALG_CHACHA20_POLY1305 = 19,
  /*
   rsa2048-pkcs1: RSA PKCS#1 v1.5 (sign/verify over SHA-256, or
   encrypt/decrypt). Asymmetric keys are DER: PKCS#8 private keys,
   SubjectPublicKeyInfo public keys (see `acrypto_request`).
   */
  ACRYPTO_ALG_RSA2048_PKCS1 = 20,
  /*
   rsa3072-pkcs1.
   */
  ACRYPTO_ALG_RSA3072_PKCS1 = 21,
  /*
   rsa4096-pkcs1.
   */
  ACRYPTO_ALG_RSA4096_PKCS1 = 22,
  /*
   rsa2048-pss (RSASSA-PSS, SHA-256).
   */
  ACRYPTO_ALG_RSA2048_PSS = 23,
  /*
   rsa3072-pss.
   */
  ACRYPTO_ALG_RSA3072_PSS = 24,
  /*
   rsa4096-pss.
   */
  ACRYPTO_ALG_RSA4096_PSS = 25,
  /*
   rsa2048-oaep (RSAES-OAEP, SHA-256).
   */
  ACRYPTO_ALG_RSA2048_OAEP = 26,
  /*
   rsa3072-oaep.
   */
  ACRYPTO_ALG_RSA3072_OAEP = 27,
  /*
   rsa4096-oaep.
   */
  ACRYPTO_ALG_RSA4096_OAEP = 28,
  /*
   ecdsa-p256 (SHA-256, DER signatures).
   */
  ACRYPTO_ALG_ECDSA_P256 = 29,
  /*
   ecdsa-p384.
   */
  ACRYPTO_ALG_ECDSA_P384 = 30,
  /*
   x25519 key agreement.
   */
  ACRYPTO_ALG_X25519 = 31,
  /*
   ecdh-p256 key agreement.
   */
  ACRYPTO_ALG_ECDH_P256 = 32,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum acrypto_alg acrypto_alg;
#else
typedef uint32_t acrypto_alg;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 Operations of a route step.
 */
enum acrypto_op
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /*
   Cipher: encrypt. AEAD: seal (encrypt, write the tag).
   */
  ACRYPTO_OP_ENCRYPT = 0,
  /*
   Cipher: decrypt. AEAD: open (verify the tag; decrypt only if it does).
   */
  ACRYPTO_OP_DECRYPT = 1,
  /*
   Hash or MAC: compute into the request's tag.
   */
  ACRYPTO_OP_DIGEST = 2,
  /*
   MAC: compare with the request's tag (truncated tags of 10 bytes or
   more are accepted).
   */
  ACRYPTO_OP_VERIFY = 3,
  /*
   Rng: fill the output with random bytes.
   */
  ACRYPTO_OP_GENERATE = 4,
  /*
   Asymmetric: sign the data (or its SHA-256 digest, with
   `ACRYPTO_REQUEST_PREHASHED`) into the tag. (Verify: the tag is the
   signature to check.)
   */
  ACRYPTO_OP_SIGN = 5,
  /*
   Asymmetric key agreement: the data is the peer's public key
   (SubjectPublicKeyInfo DER); the shared secret is written to `out`.
   */
  ACRYPTO_OP_DERIVE = 6,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum acrypto_op acrypto_op;
#else
typedef uint32_t acrypto_op;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 Where [`acrypto_test_inject_panic`] can make acrypto panic.
 */
enum acrypto_panic_point
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /*
   No injected panics (the default).
   */
  ACRYPTO_PANIC_POINT_NONE = 0,
  /*
   The next exported call that returns a status panics inside its guard.
   */
  ACRYPTO_PANIC_POINT_EXPORT = 1,
  /*
   The next completion (callback, queue or pending) panics before the
   results are copied out; the owner sees `ACRYPTO_STATUS_PANIC`.
   */
  ACRYPTO_PANIC_POINT_COMPLETION = 2,
  /*
   The next call into a C balancer panics before it is called; the
   engine then places the work itself.
   */
  ACRYPTO_PANIC_POINT_BALANCER = 3,
  /*
   The next `data_ready` notification to a C driver panics inside
   acrypto; the panic is caught and the driver is told all the same.
   */
  ACRYPTO_PANIC_POINT_DATA_READY = 4,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum acrypto_panic_point acrypto_panic_point;
#else
typedef uint32_t acrypto_panic_point;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 Shutdown and removal modes.
 */
enum acrypto_shutdown_mode
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /*
   Let queued work run to completion.
   */
  ACRYPTO_SHUTDOWN_MODE_DRAIN = 0,
  /*
   Complete queued work with `ACRYPTO_STATUS_CANCELED`.
   */
  ACRYPTO_SHUTDOWN_MODE_CANCEL = 1,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum acrypto_shutdown_mode acrypto_shutdown_mode;
#else
typedef uint32_t acrypto_shutdown_mode;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 How queued work leaves a removed device.
 */
enum acrypto_remove_mode
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /*
   The device finishes its queue first.
   */
  ACRYPTO_REMOVE_MODE_DRAIN = 0,
  /*
   Queued work completes with `ACRYPTO_STATUS_CANCELED`.
   */
  ACRYPTO_REMOVE_MODE_CANCEL = 1,
  /*
   Queued work moves to other devices (bound work fails).
   */
  ACRYPTO_REMOVE_MODE_MIGRATE = 2,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum acrypto_remove_mode acrypto_remove_mode;
#else
typedef uint32_t acrypto_remove_mode;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 Device classes.
 */
enum acrypto_device_class
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /*
   CPU worker threads.
   */
  ACRYPTO_DEVICE_CLASS_CPU = 0,
  /*
   A kernel crypto driver.
   */
  ACRYPTO_DEVICE_CLASS_KERNEL = 1,
  /*
   A hardware accelerator.
   */
  ACRYPTO_DEVICE_CLASS_ACCELERATOR = 2,
  /*
   Anything else.
   */
  ACRYPTO_DEVICE_CLASS_OTHER = 3,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum acrypto_device_class acrypto_device_class;
#else
typedef uint32_t acrypto_device_class;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 Device states.
 */
enum acrypto_device_state
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  /*
   Takes new work.
   */
  ACRYPTO_DEVICE_STATE_ACTIVE = 0,
  /*
   Failed; takes no new work.
   */
  ACRYPTO_DEVICE_STATE_BROKEN = 1,
  /*
   Being removed or removed.
   */
  ACRYPTO_DEVICE_STATE_REMOVED = 2,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum acrypto_device_state acrypto_device_state;
#else
typedef uint32_t acrypto_device_state;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

/*
 A C-registered device, as its driver holds it: take work, mark broken.
 Valid from `attach` until `detach` has returned. All functions on it
 may be called from any thread.
 */
typedef struct acrypto_device acrypto_device;

/*
 An engine: devices, balancer, completion workers, statistics.

 Created by `acrypto_engine_new*`, released by `acrypto_engine_free`.
 Every function taking an engine may be called from any thread at once.
 */
typedef struct acrypto_engine acrypto_engine;

/*
 Settings for `acrypto_engine_new_config`: created by
 `acrypto_engine_config_new`, released by `acrypto_engine_config_free`.
 Not thread-safe (use it from one thread).
 */
typedef struct acrypto_engine_config acrypto_engine_config;

/*
 A submitted request to wait for: created by
 `acrypto_session_submit_pending`, released by `acrypto_pending_free`.
 Use it from one thread at a time.
 */
typedef struct acrypto_pending acrypto_pending;

/*
 A completion queue: finished requests wait in it until polled. Its file
 descriptor (an eventfd) is readable exactly while completions wait, for
 epoll and poll loops. Created by `acrypto_queue_new`, released by
 `acrypto_queue_free`. Any threads may submit to it; poll it from one
 thread at a time.
 */
typedef struct acrypto_queue acrypto_queue;

/*
 A session: a route of steps with keys, a priority and flags. Created by
 `acrypto_session_new`, released by `acrypto_session_free`. Any number
 of threads may submit on one session at once.
 */
typedef struct acrypto_session acrypto_session;

/*
 A stream on a session: created by `acrypto_stream_new`, released by
 `acrypto_stream_free`. Use it from one thread at a time (its async
 completion may run on another).
 */
typedef struct acrypto_stream acrypto_stream;

/*
 A piece of work taken by a C driver: the route steps it is to run on
 one request. Complete it exactly once with `acrypto_work_complete`,
 which also releases it. Use it from one thread at a time. Work never
 completed keeps its request in flight: `acrypto_engine_wait_idle`,
 device removal and engine shutdown wait for it.
 */
typedef struct acrypto_work acrypto_work;

/*
 A device as a C balancer sees it. `name` is valid during the call only.
 */
typedef struct acrypto_candidate {
  /*
   Device id.
   */
  uint64_t id;
  /*
   Device name (NUL-terminated).
   */
  const char *name;
  /*
   Position in registration order.
   */
  size_t index;
  /*
   Items queued.
   */
  size_t queued;
  /*
   Queue bound.
   */
  size_t capacity;
  /*
   Items taken by the driver and not completed.
   */
  size_t outstanding;
  /*
   Bytes queued.
   */
  uint64_t queued_bytes;
  /*
   Rate hint or measured rate in bytes/s, 0 when unknown.
   */
  uint64_t rate;
  /*
   An `acrypto_device_class`.
   */
  uint32_t class_;
} acrypto_candidate;

/*
 What a C balancer knows of the work to place.
 */
typedef struct acrypto_work_info {
  /*
   Session id.
   */
  uint64_t session;
  /*
   Session priority (0 to 7).
   */
  uint32_t priority;
  /*
   The `acrypto_alg` of the step to place.
   */
  uint32_t alg;
  /*
   Payload bytes.
   */
  size_t bytes;
  /*
   A hash of the submitting thread.
   */
  uint64_t caller;
} acrypto_work_info;

/*
 A C balancer's callbacks. They run on submitting threads (and on
 threads that mark devices broken), possibly at once: they must be
 thread-safe, fast, and must not call into the engine.
 */
typedef struct acrypto_balancer_ops {
  /*
   Required. Picks one of `candidates[0..n]` (n >= 2): returns its
   index, or -1 to let the engine choose (least loaded). An index out
   of range counts as -1. If the pick's queue is full the engine falls
   back to the least loaded device with room.
   */
  int64_t (*find_device)(void *ctx,
                         const struct acrypto_candidate *candidates,
                         size_t n,
                         const struct acrypto_work_info *work);
  /*
   Optional. Places work moved off the broken device `broken` (not among
   the candidates). NULL: as `find_device`.
   */
  int64_t (*rehash)(void *ctx,
                    uint64_t broken,
                    const struct acrypto_candidate *candidates,
                    size_t n,
                    const struct acrypto_work_info *work);
  /*
   Optional. Releases `ctx` when the engine (or the configuration, if
   no engine was built from it) is freed.
   */
  void (*destroy)(void *ctx);
} acrypto_balancer_ops;

/*
 Counters of an engine or a device.
 */
typedef struct acrypto_stats {
  /*
   Requests accepted (engine) or work items queued (device).
   */
  uint64_t submitted;
  /*
   Completed successfully.
   */
  uint64_t completed_ok;
  /*
   Completed with an error.
   */
  uint64_t completed_err;
  /*
   Accepted and not yet completed.
   */
  uint64_t in_flight;
  /*
   Payload bytes processed.
   */
  uint64_t bytes;
  /*
   Items waiting in queues now.
   */
  uint64_t queue_depth;
  /*
   Nanoseconds drivers spent on work (device).
   */
  uint64_t busy_ns;
  /*
   Submissions refused with `ACRYPTO_STATUS_BUSY`.
   */
  uint64_t rejected_busy;
  /*
   Items moved off a broken or removed device.
   */
  uint64_t moved;
  /*
   Latency histogram: entry i counts latencies below 2^i microseconds.
   */
  uint64_t latency_us_log2[24];
} acrypto_stats;

/*
 What the engine tells about one device (a copy; no pointers inside).
 */
typedef struct acrypto_device_info {
  /*
   Engine-unique id.
   */
  uint64_t id;
  /*
   Device name, NUL-terminated (truncated to 63 bytes).
   */
  char name[64];
  /*
   Driver kind ("soft", or what a C driver said), NUL-terminated.
   */
  char driver[64];
  /*
   An `acrypto_device_class`.
   */
  uint32_t class_;
  /*
   An `acrypto_device_state`.
   */
  uint32_t state;
  /*
   Bit i set: the device can do `acrypto_alg` i (i below 32; the
   algorithms from 32 on are not in the mask).
   */
  uint32_t alg_mask;
  /*
   The queue bound.
   */
  uint64_t queue_capacity;
  /*
   The device's counters.
   */
  struct acrypto_stats stats;
} acrypto_device_info;

/*
 One entry of a device's capability table.
 */
typedef struct acrypto_capability {
  /*
   An `acrypto_alg`.
   */
  uint32_t alg;
  /*
   Most items of this algorithm the device wants queued (at least 1).
   */
  uint32_t max_queue;
  /*
   Throughput hint in bytes per second, 0 for none.
   */
  uint64_t rate;
} acrypto_capability;

/*
 A C driver's callbacks. `ctx` is the pointer given to
 `acrypto_device_register`. Callbacks run on acrypto's or submitters'
 threads, possibly at once: keep them short and thread-safe.
 */
typedef struct acrypto_driver_ops {
  /*
   Optional. The device is registered; `device` is valid until `detach`
   has returned. Called once, before `acrypto_device_register` returns.
   */
  void (*attach)(void *ctx, struct acrypto_device *device);
  /*
   Required. The device's queue went from empty to non-empty: wake the
   driver's thread, which then calls `acrypto_device_dequeue` until it
   gets no work. Must not block. May come before `attach` (then
   `acrypto_device_dequeue` gives nothing yet; it is called again after
   `attach` if work waits).
   */
  void (*data_ready)(void *ctx, struct acrypto_device *device);
  /*
   Optional. No more work will come: stop the driver's threads (after
   completing or dropping what they took) before returning.
   */
  void (*detach)(void *ctx);
  /*
   Optional. The engine let go of the device: release `ctx`. Called
   once, after `detach`, and only when registration succeeded.
   */
  void (*destroy)(void *ctx);
} acrypto_driver_ops;

/*
 A step of a work item. `key` points into acrypto's copy of the key and
 is valid until the work is completed.
 */
typedef struct acrypto_work_step {
  /*
   An `acrypto_alg`.
   */
  uint32_t alg;
  /*
   An `acrypto_op`.
   */
  uint32_t op;
  /*
   The key.
   */
  const uint8_t *key;
  /*
   Key length.
   */
  size_t key_len;
} acrypto_work_step;

/*
 A work item's buffers, valid until the work is completed (or its tag set).
 */
typedef struct acrypto_work_buffers {
  /*
   The data: ciphers transform it in place; rng fills it; digests read it.
   */
  uint8_t *data;
  /*
   Data length.
   */
  size_t data_len;
  /*
   The IV or tweak.
   */
  const uint8_t *iv;
  /*
   IV length.
   */
  size_t iv_len;
  /*
   The tag: the expected MAC for a verify step (compare in constant time).
   */
  const uint8_t *tag;
  /*
   Tag length.
   */
  size_t tag_len;
  /*
   The session's priority (0 to 7).
   */
  uint32_t priority;
  /*
   The request's session id.
   */
  uint64_t session;
} acrypto_work_buffers;

/*
 One step of a route.
 */
typedef struct acrypto_step {
  /*
   An `acrypto_alg`.
   */
  uint32_t alg;
  /*
   An `acrypto_op` that fits the algorithm.
   */
  uint32_t op;
  /*
   The key (copied in; NULL when `key_len` is 0).
   */
  const uint8_t *key;
  /*
   Key length in bytes: the AES key size (twice that for XTS), any
   length up to 4096 for HMAC, 0 for digests and rng.
   */
  size_t key_len;
  /*
   A device name this step must run on, or NULL.
   */
  const char *device;
} acrypto_step;

/*
 A finished request, as a callback, a queue poll or a pending wait sees it.
 */
typedef struct acrypto_completion {
  /*
   The request's `user`.
   */
  void *user;
  /*
   An `acrypto_status`: `ACRYPTO_STATUS_OK` or why it failed.
   */
  acrypto_status status;
  /*
   Bytes written to the request's `out` (0 on failure).
   */
  size_t out_len;
  /*
   Bytes written to the request's `tag` (0 on failure or without a
   digest step).
   */
  size_t tag_len;
} acrypto_completion;

/*
 One request.

 - `data`, `data_len`: the input, copied in at submission. For an rng
   route `data` may be NULL: `data_len` random bytes are made.
 - `out`, `out_len`: where a route with a cipher or rng step writes its
   result (`data_len` bytes; `out_len` must be at least `data_len`).
   May equal `data` (in place). Ignored (may be NULL) by routes of
   digests and MACs only.
 - `iv`, `iv_len`: the IV (16 bytes for cbc and ctr, the tweak for xts,
   none for ecb), copied in.
 - `tag`, `tag_len`: for a digest step, where the digest or MAC is
   written (`tag_len` at least the digest length); for a verify step,
   the expected MAC (10 bytes up to the digest length), copied in.
 - `user`: handed back untouched in the completion.
 - `aad`, `aad_len`: an AEAD's associated data (authenticated, not
   encrypted), copied in; NULL and 0 for none. Other algorithms take
   none (a non-zero `aad_len` is `ACRYPTO_STATUS_INVALID_ARGUMENT`).
 - `flags`: 0, or `ACRYPTO_REQUEST_PREHASHED` for an asymmetric sign or
   verify step whose data is the SHA-256 digest of the message.

 Asymmetric steps (one step alone): sign writes the signature to `tag`
 (`tag_len` at least the largest signature: the modulus size for RSA,
 72 bytes for ECDSA P-256, 104 for P-384; the completion's `tag_len`
 says how long it is); verify reads the signature from `tag` and
 completes with `ACRYPTO_STATUS_VERIFY_FAILED` when it does not verify;
 encrypt, decrypt and derive write the result to `out` (`out_len` at
 least the modulus size for encrypt, the modulus size less 11 for
 decrypt, 32 bytes for derive; the completion's `out_len` says how long
 the result is); derive reads the peer's SubjectPublicKeyInfo DER as
 the data.

 AEAD: `iv` is the 12-byte nonce; a seal writes the 16-byte tag to `tag`
 (`tag_len` at least 16); an open reads the expected tag from `tag` (12
 to 16 bytes for GCM, 16 for ChaCha20-Poly1305) and, when it does not
 verify, completes with `ACRYPTO_STATUS_VERIFY_FAILED` and writes
 nothing to `out`.

 Limits: `data_len` and `aad_len` at most 1 GiB, `iv_len` and `tag_len`
 at most 256.
 */
typedef struct acrypto_request {
  /*
   Input bytes.
   */
  const uint8_t *data;
  /*
   Input length.
   */
  size_t data_len;
  /*
   Output buffer (ciphers, rng).
   */
  uint8_t *out;
  /*
   Output buffer size.
   */
  size_t out_len;
  /*
   IV or tweak.
   */
  const uint8_t *iv;
  /*
   IV length.
   */
  size_t iv_len;
  /*
   Tag: output of a digest step, input of a verify step.
   */
  uint8_t *tag;
  /*
   Tag buffer size (digest) or expected tag length (verify).
   */
  size_t tag_len;
  /*
   The caller's cookie.
   */
  void *user;
  /*
   AEAD associated data.
   */
  const uint8_t *aad;
  /*
   AEAD associated data length.
   */
  size_t aad_len;
  /*
   `ACRYPTO_REQUEST_PREHASHED` or 0.
   */
  uint32_t flags;
} acrypto_request;

/*
 A completion callback. It runs exactly once per accepted request: on a
 completion worker thread, or for DIRECT sessions on the device's thread.
 The completion pointer is valid only during the call. A callback may
 submit more work; it must not free the engine.
 */
typedef void (*acrypto_callback)(const struct acrypto_completion *completion);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/*
 Names a status (a static, NUL-terminated English string; never NULL).
 Values that name no status give "unknown status".
 */
const char *acrypto_strerror(uint32_t status);

/*
 The library version, e.g. "0.1.0" (static, NUL-terminated).
 */
const char *acrypto_version(void);

/*
 The OpenSSL-style name of an algorithm ("aes-128-cbc", "hmac-sha1"...),
 static and NUL-terminated; NULL for a value that names no algorithm.
 */
const char *acrypto_alg_name(uint32_t alg);

/*
 Looks an algorithm up by its OpenSSL-style name (case-insensitive) and
 writes its `acrypto_alg` value to `*out`.

 # Safety
 `name` is NULL or a NUL-terminated string; `out` is NULL or writable.
 */
acrypto_status acrypto_alg_from_name(const char *name, uint32_t *out);

/*
 For tests: makes acrypto panic once at `point` (an
 `acrypto_panic_point`), to prove that no panic reaches C: the panic is
 caught and reported as `ACRYPTO_STATUS_PANIC`. Not for production use.
 */
acrypto_status acrypto_test_inject_panic(uint32_t point);

/*
 Sets a balancer written in C on a configuration (replacing any set
 before; a replaced C balancer is destroyed). `name` (1 to 63 bytes)
 names it; `ops` is copied; `ctx` is passed to the callbacks. On failure
 nothing is kept and `destroy` is not called.

 # Safety
 `cfg` is NULL or live; `name` is NULL or NUL-terminated; `ops` is NULL
 or readable; the callbacks are valid functions and `ctx` usable from any
 thread until `destroy`.
 */
acrypto_status acrypto_engine_config_set_balancer(struct acrypto_engine_config *cfg,
                                                  const char *name_,
                                                  const struct acrypto_balancer_ops *ops,
                                                  void *ctx);

/*
 Creates an engine with the default devices: the specification in the
 environment variable `ACRYPTO_DEVICES` (e.g. "soft:4"), else one
 software device per CPU core. Least-loaded balancing, one completion
 worker. On success writes the new engine to `*out`; free it with
 `acrypto_engine_free`.

 # Safety
 `out` is NULL or writable.
 */
acrypto_status acrypto_engine_new(struct acrypto_engine **out);

/*
 Creates an engine with the devices of a specification such as
 "soft:4" (a comma-separated list of `KIND[:COUNT]`; today KIND is "soft").

 # Safety
 `devices` is NULL or a NUL-terminated string; `out` is NULL or writable.
 */
acrypto_status acrypto_engine_new_devices(const char *devices, struct acrypto_engine **out);

/*
 Creates an empty engine configuration: default devices (as
 `acrypto_engine_new`), least-loaded balancing, one completion worker,
 65536 requests in flight at most, the default byte limit (see
 `acrypto_engine_config_set_max_in_flight_bytes`).

 # Safety
 `out` is NULL or writable.
 */
acrypto_status acrypto_engine_config_new(struct acrypto_engine_config **out);

/*
 Releases a configuration (NULL is fine). A C balancer set on it and not
 used by `acrypto_engine_new_config` has its `destroy` called here.

 # Safety
 `cfg` is NULL or from `acrypto_engine_config_new`, not yet freed.
 */
void acrypto_engine_config_free(struct acrypto_engine_config *cfg);

/*
 Sets the device specification ("soft:4"; "" for no device at all, for
 an engine that will get only C-registered devices).

 # Safety
 `cfg` is NULL or a live configuration; `devices` is NULL or a
 NUL-terminated string.
 */
acrypto_status acrypto_engine_config_set_devices(struct acrypto_engine_config *cfg,
                                                 const char *devices);

/*
 Chooses a built-in balancer by name: "least-loaded" (default),
 "round-robin", "affinity-session", "affinity-caller", "rate-aware",
 "size-threshold" (4096 bytes). Replaces any balancer set before.

 # Safety
 `cfg` is NULL or a live configuration; `name` is NULL or a
 NUL-terminated string.
 */
acrypto_status acrypto_engine_config_set_balancer_name(struct acrypto_engine_config *cfg,
                                                       const char *balancer);

/*
 Sets the most requests accepted and not yet completed (at least 1);
 beyond it submissions fail with `ACRYPTO_STATUS_BUSY`.

 # Safety
 `cfg` is NULL or a live configuration.
 */
acrypto_status acrypto_engine_config_set_max_in_flight(struct acrypto_engine_config *cfg,
                                                       size_t max_in_flight);

/*
 Sets the most bytes of requests accepted and not yet completed (a
 request counts its input, output buffer, IV and tag); beyond it
 submissions fail with `ACRYPTO_STATUS_BUSY`. One request larger than the
 limit is still accepted when nothing else is in flight. 0 keeps the
 default: the environment variable `ACRYPTO_MAX_IN_FLIGHT_BYTES` (bytes,
 or with a K, M or G suffix) if set, else an eighth of physical memory
 between 64 MiB and 1 GiB.

 # Safety
 `cfg` is NULL or a live configuration.
 */
acrypto_status acrypto_engine_config_set_max_in_flight_bytes(struct acrypto_engine_config *cfg,
                                                             uint64_t max_bytes);

/*
 Sets the number of threads running deferred (non-DIRECT) callbacks,
 0 to 64; 0 runs every callback in the completing context.

 # Safety
 `cfg` is NULL or a live configuration.
 */
acrypto_status acrypto_engine_config_set_completion_workers(struct acrypto_engine_config *cfg,
                                                            size_t workers);

/*
 Creates an engine from a configuration. The configuration stays the
 caller's (free it with `acrypto_engine_config_free`); a C balancer set
 on it moves into the engine.

 # Safety
 `cfg` is NULL or a live configuration; `out` is NULL or writable.
 */
acrypto_status acrypto_engine_new_config(struct acrypto_engine_config *cfg,
                                         struct acrypto_engine **out);

/*
 Shuts the engine down and releases it (NULL is fine). Queued work is
 canceled (its owners see `ACRYPTO_STATUS_CANCELED`); work a device
 already took completes; every callback has run when this returns. Call
 `acrypto_engine_wait_idle` first to let work finish instead.
 Sessions and queues made from the engine stay valid to free; submitting
 on them fails with `ACRYPTO_STATUS_SHUT_DOWN`.

 Called from inside a callback of this engine, it frees nothing and
 returns `ACRYPTO_STATUS_WOULD_DEADLOCK` (the shutdown would wait for
 the callback that called it); free the engine after the callback
 returned. Never call it from a C driver's thread of this engine.
 Returns `ACRYPTO_STATUS_OK` otherwise (also for NULL).

 # Safety
 `engine` is NULL or from `acrypto_engine_new*`, not yet freed, and no
 other thread uses it any more.
 */
acrypto_status acrypto_engine_free(struct acrypto_engine *engine);

/*
 Shuts the engine down without freeing it: no new work; queued work
 drains or is canceled (`mode`: an `acrypto_shutdown_mode`); returns when
 every callback has run. Idempotent.

 # Safety
 `engine` is NULL or a live engine.
 */
acrypto_status acrypto_engine_shutdown(const struct acrypto_engine *engine, uint32_t mode);

/*
 Blocks until every request submitted on the engine's sessions has
 completed and been delivered: its callback returned, its completion is
 in its queue, or its pending handle is ready (the "wait for all").
 Called from inside a callback of this engine it waits for nothing and
 returns `ACRYPTO_STATUS_WOULD_DEADLOCK` (it would wait for itself).

 # Safety
 `engine` is NULL or a live engine.
 */
acrypto_status acrypto_engine_wait_idle(const struct acrypto_engine *engine);

/*
 Writes the engine-wide counters to `*out`.

 # Safety
 `engine` is NULL or a live engine; `out` is NULL or writable.
 */
acrypto_status acrypto_engine_stats(const struct acrypto_engine *engine, struct acrypto_stats *out);

/*
 Writes the number of devices of the engine to `*out`.

 # Safety
 `engine` is NULL or a live engine; `out` is NULL or writable.
 */
acrypto_status acrypto_engine_device_count(const struct acrypto_engine *engine, size_t *out);

/*
 Writes what the engine knows of its device number `index` (0-based, in
 registration order) to `*out`. `ACRYPTO_STATUS_NO_SUCH_DEVICE` when
 `index` is out of range (devices may come and go between calls).

 # Safety
 `engine` is NULL or a live engine; `out` is NULL or writable.
 */
acrypto_status acrypto_engine_device_info(const struct acrypto_engine *engine,
                                          size_t index,
                                          struct acrypto_device_info *out);

/*
 Marks a device broken by name: it takes no more work and its queue
 moves to other capable devices (work bound to it fails).

 # Safety
 `engine` is NULL or a live engine; `device` and `reason` are NULL or
 NUL-terminated strings.
 */
acrypto_status acrypto_engine_mark_broken(const struct acrypto_engine *engine,
                                          const char *device,
                                          const char *reason);

/*
 Removes a device by name. `mode` is an `acrypto_remove_mode`. Returns once the driver finished what it
 took and was detached. Never call it from that device's driver thread.

 # Safety
 `engine` is NULL or a live engine; `device` is NULL or a NUL-terminated
 string.
 */
acrypto_status acrypto_engine_remove_device(const struct acrypto_engine *engine,
                                            const char *device,
                                            uint32_t mode);

/*
 The reason of the most recent failing acrypto call on the calling
 thread (a NUL-terminated UTF-8 line, such as "no such device: kdev:
 cannot open /dev/acrypto: No such file or directory"), or NULL if no
 call on this thread has failed with a reason yet. Successful calls do
 not clear it. The string belongs to the library and stays valid until
 the next acrypto call on the same thread; copy it to keep it.
 */
const char *acrypto_last_error(void);

/*
 Registers a device driven by C code. `name` is unique in the engine
 (1 to 63 bytes), `driver` names the driver kind, `class_` is an
 `acrypto_device_class`, `caps` the capability table (1 to 16 entries),
 `ops` the callbacks (copied; `data_ready` required), `ctx` is passed to
 them. On failure nothing of `ctx` is kept and `destroy` is not called.

 # Safety
 `engine` is NULL or live; strings are NULL or NUL-terminated; `caps`
 is NULL or has `n_caps` entries; `ops` is NULL or readable; the
 callbacks are valid functions and `ctx` is usable from any thread until
 `destroy`.
 */
acrypto_status acrypto_device_register(const struct acrypto_engine *engine,
                                       const char *name_,
                                       const char *driver,
                                       uint32_t class_,
                                       const struct acrypto_capability *caps,
                                       size_t n_caps,
                                       const struct acrypto_driver_ops *ops,
                                       void *ctx);

/*
 Takes up to `max` work items (highest priority first), writes them to
 `out[0..*n]` and their count to `*n` (0 when the queue is empty or the
 device is detached).

 # Safety
 `device` is NULL or valid; `out` is NULL or has room for `max`
 pointers; `n` is NULL or writable.
 */
acrypto_status acrypto_device_dequeue(const struct acrypto_device *device,
                                      struct acrypto_work **out,
                                      size_t max,
                                      size_t *n);

/*
 Marks the device broken: it takes no more work, its queue moves to
 other devices, and work it completes with a device error is retried
 elsewhere (unless bound).

 # Safety
 `device` is NULL or valid; `reason` is NULL or NUL-terminated.
 */
acrypto_status acrypto_device_mark_broken(const struct acrypto_device *device, const char *reason);

/*
 Writes the number of items waiting in the device's queue to `*out`.

 # Safety
 `device` is NULL or valid; `out` is NULL or writable.
 */
acrypto_status acrypto_device_queued(const struct acrypto_device *device, size_t *out);

/*
 Writes the number of steps this device is to run on the work item
 (1 or more, in order) to `*out`.

 # Safety
 `work` is NULL or live; `out` is NULL or writable.
 */
acrypto_status acrypto_work_step_count(struct acrypto_work *work, size_t *out);

/*
 Writes step `index` of the work item to `*out`.

 # Safety
 `work` is NULL or live; `out` is NULL or writable.
 */
acrypto_status acrypto_work_get_step(struct acrypto_work *work,
                                     size_t index,
                                     struct acrypto_work_step *out);

/*
 Writes the work item's buffers to `*out`.

 # Safety
 `work` is NULL or live; `out` is NULL or writable.
 */
acrypto_status acrypto_work_get_buffers(struct acrypto_work *work,
                                        struct acrypto_work_buffers *out);

/*
 Sets the work item's tag (the result of a digest step), copying `len`
 bytes (at most 256). Invalidates the `tag` pointer of earlier
 `acrypto_work_get_buffers` results.

 # Safety
 `work` is NULL or live; `tag` is NULL or has `len` readable bytes.
 */
acrypto_status acrypto_work_set_tag(struct acrypto_work *work, const uint8_t *tag, size_t len);

/*
 Completes the work item with a status and releases it (`work` is
 invalid afterwards, whatever this returns). `ACRYPTO_STATUS_OK` when the
 steps ran; `ACRYPTO_STATUS_DEVICE_FAILURE` (or `DEVICE_BROKEN`) makes
 the engine retry elsewhere unless bound; other statuses (e.g.
 `VERIFY_FAILED`) are the request's result. A value that names no status
 completes the work as a device failure and returns
 `ACRYPTO_STATUS_INVALID_ARGUMENT`.

 # Safety
 `work` is NULL or a live item from `acrypto_device_dequeue`, not yet completed.
 */
acrypto_status acrypto_work_complete(struct acrypto_work *work, uint32_t status);

/*
 Creates a session on an engine. `steps` is the route (1 to 8 steps,
 run in order: e.g. aes-128-cbc encrypt then hmac-sha1 digest); keys are
 copied in and zeroized when the session and its last request are gone.
 `priority` is 0 (lowest) to 7; `flags` is a mix of
 `ACRYPTO_SESSION_DIRECT`, `ACRYPTO_SESSION_ORDERED` and
 `ACRYPTO_SESSION_KEY_REFERENCE` (keys are references); `bind` names a
 device every step runs on, or is NULL. Fails when no device can do a
 step. The session keeps the engine's resources alive but
 `acrypto_engine_free` still shuts the engine down.

 # Safety
 `engine` is NULL or live; `steps` is NULL or points to `n_steps` steps
 whose keys and device names are valid for this call; `bind` is NULL or
 NUL-terminated; `out` is NULL or writable.
 */
acrypto_status acrypto_session_new(const struct acrypto_engine *engine,
                                   const struct acrypto_step *steps,
                                   size_t n_steps,
                                   uint32_t priority,
                                   uint32_t flags,
                                   const char *bind,
                                   struct acrypto_session **out);

/*
 Releases a session (NULL is fine). Requests already submitted on it
 still complete.

 # Safety
 `session` is NULL or from `acrypto_session_new`, not yet freed, and no
 other thread uses it any more.
 */
void acrypto_session_free(struct acrypto_session *session);

/*
 Creates a completion queue.

 # Safety
 `out` is NULL or writable.
 */
acrypto_status acrypto_queue_new(struct acrypto_queue **out);

/*
 Releases a queue (NULL is fine). Completions still waiting in it, and
 those of requests still in flight to it, are dropped: their buffers are
 never written after this returns. The descriptor closes once the last
 such request has completed.

 # Safety
 `queue` is NULL or from `acrypto_queue_new`, not yet freed, and no
 other thread uses it any more.
 */
void acrypto_queue_free(struct acrypto_queue *queue);

/*
 Writes the queue's file descriptor to `*out`: readable while
 completions wait. Do not read or close it; it belongs to the queue.

 # Safety
 `queue` is NULL or live; `out` is NULL or writable.
 */
acrypto_status acrypto_queue_fd(const struct acrypto_queue *queue, int *out);

/*
 Takes up to `max` finished requests without blocking: copies their
 results to their buffers, fills `out[0..*n]` and writes the count to
 `*n` (0 when none waits).

 # Safety
 `queue` is NULL or live; `out` is NULL or has room for `max`
 completions; `n` is NULL or writable.
 */
acrypto_status acrypto_queue_poll(const struct acrypto_queue *queue,
                                  struct acrypto_completion *out,
                                  size_t max,
                                  size_t *n);

/*
 Like `acrypto_queue_poll`, but blocks until at least one completion
 waits. Only use it while requests are in flight to the queue.

 # Safety
 As `acrypto_queue_poll`.
 */
acrypto_status acrypto_queue_wait(const struct acrypto_queue *queue,
                                  struct acrypto_completion *out,
                                  size_t max,
                                  size_t *n);

/*
 Submits one request; `callback` runs once when it completes, unless
 this returns an error (then it never runs and the buffers are not
 touched). `flags`: 0, or `ACRYPTO_SUBMIT_BLOCK` to wait for room
 instead of failing with `ACRYPTO_STATUS_BUSY`. The request's output
 buffers must stay valid until the callback has run.

 # Safety
 `session` is NULL or live; `request` is NULL or a request whose
 pointers are valid for their lengths; `callback` is NULL or a function.
 */
acrypto_status acrypto_session_submit(const struct acrypto_session *session,
                                      const struct acrypto_request *request,
                                      acrypto_callback callback,
                                      uint32_t flags);

/*
 Submits one request whose completion goes to `queue`. The request's
 output buffers must stay valid until its completion is polled (or the
 queue freed).

 # Safety
 As `acrypto_session_submit`; `queue` is NULL or live.
 */
acrypto_status acrypto_session_submit_queue(const struct acrypto_session *session,
                                            const struct acrypto_request *request,
                                            const struct acrypto_queue *queue,
                                            uint32_t flags);

/*
 Submits `n` requests in order, each completing through `callback` with
 its own `user`. Every request's pointers and buffer sizes are checked
 first; one failing refuses the batch (nothing submitted, `*accepted`
 not written). Then requests are submitted until one is refused (e.g.
 `BUSY`, or a length the route does not take): the status says why, and
 `*accepted` (written once the first check passed, even on error) counts
 the requests accepted, whose callbacks will run; the rest were not
 submitted.

 # Safety
 As `acrypto_session_submit`; `requests` points to `n` requests;
 `accepted` is NULL or writable.
 */
acrypto_status acrypto_session_submit_batch(const struct acrypto_session *session,
                                            const struct acrypto_request *requests,
                                            size_t n,
                                            acrypto_callback callback,
                                            uint32_t flags,
                                            size_t *accepted);

/*
 Like `acrypto_session_submit_batch`, with completions going to `queue`.

 # Safety
 As `acrypto_session_submit_batch`; `queue` is NULL or live.
 */
acrypto_status acrypto_session_submit_batch_queue(const struct acrypto_session *session,
                                                  const struct acrypto_request *requests,
                                                  size_t n,
                                                  const struct acrypto_queue *queue,
                                                  uint32_t flags,
                                                  size_t *accepted);

/*
 Runs one request and waits for it (the synchronous convenience call).
 An idle software device runs it on the calling thread. Returns the
 request's final status; on success fills `*completion` if it is not NULL.

 # Safety
 As `acrypto_session_submit`; `completion` is NULL or writable.
 */
acrypto_status acrypto_session_run(const struct acrypto_session *session,
                                   const struct acrypto_request *request,
                                   struct acrypto_completion *completion);

/*
 Submits one request and writes a handle to wait on to `*out`. The
 request's output buffers must stay valid until `acrypto_pending_wait`
 (or a successful `acrypto_pending_poll`) returned, or the handle was
 freed.

 # Safety
 As `acrypto_session_submit`; `out` is NULL or writable.
 */
acrypto_status acrypto_session_submit_pending(const struct acrypto_session *session,
                                              const struct acrypto_request *request,
                                              uint32_t flags,
                                              struct acrypto_pending **out);

/*
 Blocks until the request finished, copies its results out and writes
 its completion to `*out` (the request's own status is in
 `out->status`). A second wait fails with `ACRYPTO_STATUS_INVALID_ARGUMENT`.

 # Safety
 `pending` is NULL or live; `out` is NULL or writable.
 */
acrypto_status acrypto_pending_wait(struct acrypto_pending *pending,
                                    struct acrypto_completion *out);

/*
 Like `acrypto_pending_wait` without blocking: `ACRYPTO_STATUS_NOT_READY`
 while the request runs.

 # Safety
 As `acrypto_pending_wait`.
 */
acrypto_status acrypto_pending_poll(struct acrypto_pending *pending,
                                    struct acrypto_completion *out);

/*
 Releases a pending handle (NULL is fine). If the request has not been
 waited for, its results are dropped and its buffers never written.

 # Safety
 `pending` is NULL or from `acrypto_session_submit_pending`, not yet freed.
 */
void acrypto_pending_free(struct acrypto_pending *pending);

/*
 Writes how many requests were submitted on, and completed on, a session.

 # Safety
 `session` is NULL or live; `submitted` and `completed` are NULL or writable.
 */
acrypto_status acrypto_session_counts(const struct acrypto_session *session,
                                      uint64_t *submitted,
                                      uint64_t *completed);

/*
 Opens a stream on `session`, which has one step: a hash or HMAC (`iv`
 NULL, `iv_len` 0), or AES cbc, ecb or ctr (`iv` the first IV, 16 bytes;
 none for ecb). XTS, AEAD, rng and routes of several steps give
 `ACRYPTO_STATUS_UNSUPPORTED`, as does a hash or MAC that no device of
 the engine can stream.

 # Safety
 `session` is NULL or live; `iv` is NULL or has `iv_len` readable bytes;
 `out` is NULL or writable.
 */
acrypto_status acrypto_stream_new(const struct acrypto_session *session,
                                  const uint8_t *iv,
                                  size_t iv_len,
                                  struct acrypto_stream **out);

/*
 Copies a stream as it is now into a new handle (OpenSSL's `dupctx`):
 both continue independently. Fails with
 `ACRYPTO_STATUS_INVALID_ARGUMENT` while an async update is in flight.

 # Safety
 `stream` is NULL or live; `out` is NULL or writable.
 */
acrypto_status acrypto_stream_dup(const struct acrypto_stream *stream, struct acrypto_stream **out);

/*
 Releases a stream (NULL is fine), finished or not. An async update in
 flight still completes and runs its callback.

 # Safety
 `stream` is NULL or from `acrypto_stream_new`, not yet freed, and no
 other thread uses it any more.
 */
void acrypto_stream_free(struct acrypto_stream *stream);

/*
 Writes the most bytes an update of `len` input bytes can write to its
 `out` (a cipher: the partial block and the input, in whole 16-byte
 blocks, so never more than `len + 15`; a hash or MAC: 0) to `*out`.

 # Safety
 `stream` is NULL or live; `out` is NULL or writable.
 */
acrypto_status acrypto_stream_max_output(const struct acrypto_stream *stream,
                                         size_t len,
                                         size_t *out);

/*
 Updates the stream with `data_len` bytes (any number, 0 included) and
 waits. A cipher writes its output to `out` (room for
 `acrypto_stream_max_output` bytes is required; `out` may be NULL when
 that is 0) and the count to `*out_len` (NULL is fine); a hash or MAC
 writes nothing. On failure the stream is as it was before the call and
 the update may be repeated.

 # Safety
 `stream` is NULL or live; `data` has `data_len` readable bytes; `out`
 has `out_cap` writable bytes; `out_len` is NULL or writable.
 */
acrypto_status acrypto_stream_update(struct acrypto_stream *stream,
                                     const uint8_t *data,
                                     size_t data_len,
                                     uint8_t *out,
                                     size_t out_cap,
                                     size_t *out_len);

/*
 Ends the stream and waits. A hash or MAC writes its digest to `tag`
 (`tag_cap` at least the digest length) and its length to `*tag_len`;
 a CTR stream writes its last partial block to `out` (at most 15 bytes;
 `out` may be NULL for other streams) and the count to `*out_len`. A CBC
 or ECB stream that is not whole blocks fails with
 `ACRYPTO_STATUS_INVALID_LENGTH` and stays open. A stream on a verify
 session ends with `acrypto_stream_verify` instead. `out_len` and
 `tag_len` may be NULL.

 # Safety
 `stream` is NULL or live; `out` has `out_cap` and `tag` `tag_cap`
 writable bytes; `out_len` and `tag_len` are NULL or writable.
 */
acrypto_status acrypto_stream_finish(struct acrypto_stream *stream,
                                     uint8_t *out,
                                     size_t out_cap,
                                     size_t *out_len,
                                     uint8_t *tag,
                                     size_t tag_cap,
                                     size_t *tag_len);

/*
 Ends a MAC stream on a verify session and waits: `ACRYPTO_STATUS_OK`
 when `tag` (10 bytes up to the MAC's length, compared in constant time)
 is the MAC of everything streamed, `ACRYPTO_STATUS_VERIFY_FAILED` when
 not (the stream is over either way).

 # Safety
 `stream` is NULL or live; `tag` has `tag_len` readable bytes.
 */
acrypto_status acrypto_stream_verify(struct acrypto_stream *stream,
                                     const uint8_t *tag,
                                     size_t tag_len);

/*
 Like `acrypto_stream_update`, without waiting: `callback` runs once
 with the update's completion (`out_len` bytes written to `out`) unless
 this returns an error (then it never runs and the stream is as it was).
 When the update needs no request (no data, or less than a block kept
 for later), the callback runs on the calling thread before this
 returns. `flags`: 0 or `ACRYPTO_SUBMIT_BLOCK`. `data` may be reused at
 once; `out` must stay valid until the callback ran. One update or
 finish at a time per stream (`ACRYPTO_STATUS_INVALID_ARGUMENT` while
 one is in flight).

 # Safety
 As `acrypto_stream_update`; `callback` is NULL or a function.
 */
acrypto_status acrypto_stream_update_async(struct acrypto_stream *stream,
                                           const uint8_t *data,
                                           size_t data_len,
                                           uint8_t *out,
                                           size_t out_cap,
                                           acrypto_callback callback,
                                           void *user,
                                           uint32_t flags);

/*
 Like `acrypto_stream_finish`, without waiting: `callback` runs once
 with the completion (`tag_len` digest bytes written to `tag`, `out_len`
 bytes of a CTR stream's last block to `out`) unless this returns an
 error. For a stream on a verify session, pass the expected MAC as
 `tag`/`tag_cap` (its length): the completion's status says whether it
 verified. As for updates, the callback may run before this returns.

 # Safety
 As `acrypto_stream_finish`; `callback` is NULL or a function.
 */
acrypto_status acrypto_stream_finish_async(struct acrypto_stream *stream,
                                           uint8_t *out,
                                           size_t out_cap,
                                           uint8_t *tag,
                                           size_t tag_cap,
                                           acrypto_callback callback,
                                           void *user,
                                           uint32_t flags);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* ACRYPTO_H */
