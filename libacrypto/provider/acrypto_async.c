/*
 * acrypto_async.c - runs one acrypto request for an OpenSSL operation,
 * pausing the caller's ASYNC job while acrypto works.
 *
 * Outside an ASYNC job the request runs inline (acrypto_session_run: an
 * idle software device runs it on the calling thread, no thread hop).
 *
 * Inside a job (ASYNC_get_current_job() != NULL) the request is submitted
 * with a completion callback and the job pauses. Each ASYNC_WAIT_CTX gets
 * exactly one eventfd, registered with ASYNC_WAIT_CTX_set_wait_fd under
 * this module's key and closed by the wait context's cleanup: that is the
 * descriptor `openssl speed -async_jobs` and async servers select on.
 * The callback (on an acrypto thread) first writes the eventfd, then marks
 * the request done; after that it never touches the request again, since
 * the resumed job may return and free it. The job is resumed by its
 * application whenever it likes: a resume that finds the request still
 * running pauses again. Once done, the job reads the eventfd back to zero
 * (it is non-blocking), so the descriptor is readable exactly while a
 * completion waits for its job.
 */
#include <errno.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <openssl/async.h>

#include "acrypto_prov.h"

/* The key under which this module's descriptor is kept in a wait context. */
static const char acp_wait_key;

struct acp_waiter {
    int fd;
    int done;
    acrypto_status status;
    size_t out_len;
    size_t tag_len;
};

static void acp_fd_cleanup(ASYNC_WAIT_CTX *ctx, const void *key, OSSL_ASYNC_FD fd, void *custom)
{
    (void)ctx;
    (void)key;
    (void)custom;
    close(fd);
}

/* The wait context's eventfd, made and registered on first use; -1 on failure. */
static int acp_wait_fd(ASYNC_WAIT_CTX *wctx)
{
    OSSL_ASYNC_FD fd;
    void *custom = NULL;

    if (ASYNC_WAIT_CTX_get_fd(wctx, &acp_wait_key, &fd, &custom))
        return fd;
    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (!ASYNC_WAIT_CTX_set_wait_fd(wctx, &acp_wait_key, fd, NULL, acp_fd_cleanup)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void acp_wake(const acrypto_completion *c)
{
    struct acp_waiter *w = c->user;
    uint64_t one = 1;
    int fd = w->fd;
    ssize_t n;

    w->status = c->status;
    w->out_len = c->out_len;
    w->tag_len = c->tag_len;
    do {
        n = write(fd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
    /* Last touch of *w: the job may return (and *w go away) once it sees this. */
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
}

static void acp_drain_fd(int fd)
{
    uint64_t v;
    ssize_t n;

    do {
        n = read(fd, &v, sizeof(v));
    } while (n < 0 && errno == EINTR);
}

static void acp_fill(acrypto_completion *done, const struct acp_waiter *w, void *user)
{
    if (done != NULL) {
        done->user = user;
        done->status = w->status;
        done->out_len = w->out_len;
        done->tag_len = w->tag_len;
    }
}

acrypto_status acp_run(acrypto_session *sess, acrypto_request *req, acrypto_completion *done)
{
    ASYNC_JOB *job = ASYNC_get_current_job();
    ASYNC_WAIT_CTX *wctx;
    struct acp_waiter w = { .fd = -1, .done = 0, .status = ACRYPTO_STATUS_INTERNAL };
    void *user = req->user;
    acrypto_status st;

    if (job == NULL || (wctx = ASYNC_get_wait_ctx(job)) == NULL || (w.fd = acp_wait_fd(wctx)) < 0)
        return acrypto_session_run(sess, req, done);

    req->user = &w;
    st = acrypto_session_submit(sess, req, acp_wake, 0);
    req->user = user;
    if (st == ACRYPTO_STATUS_BUSY)
        /* Every queue is full: do this one inline rather than fail. */
        return acrypto_session_run(sess, req, done);
    if (st != ACRYPTO_STATUS_OK)
        return st;

    while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)) {
        if (!ASYNC_pause_job()) {
            /* Cannot pause (no job after all): wait on the descriptor instead. */
            while (!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE))
                sched_yield();
        }
    }
    acp_drain_fd(w.fd);
    acp_fill(done, &w, user);
    return w.status;
}
