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
 * The callback (on an acrypto thread) stores the results and marks the
 * request done, and only then writes the eventfd, so that the application
 * is woken when the job can go on (a wake-up before that would make it
 * resume the job for nothing, over and over, while the callback's thread
 * waits for a CPU). The job's request may be gone once it is marked done,
 * so the callback keeps what it still needs, the descriptor, in a small
 * reference-counted object shared with the wait context, which closes the
 * descriptor when both have let go of it. The application resumes the job
 * whenever it likes: a resume that finds the request still running reads
 * the descriptor back to zero and pauses again. Once done, the job reads
 * the eventfd back to zero (non-blocking): the descriptor is readable
 * while a completion waits for its job. The callback writes it only for a
 * job that is waiting (a request done before its job was about to pause
 * costs neither the write nor the read).
 */
#include <errno.h>
#include <stdlib.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <openssl/async.h>

#include "acrypto_prov.h"

/* The key under which this module's descriptor is kept in a wait context. */
static const char acp_wait_key;

/* A wait context's eventfd, shared by the context and in-flight callbacks. */
struct acp_efd {
    int fd;
    int refs;
};

/* A waiter's state: the callback writes the eventfd only for a job that waits. */
enum { ACP_RUNNING, ACP_WAITING, ACP_DONE };

struct acp_waiter {
    struct acp_efd *efd;
    int state; /* ACP_RUNNING, then ACP_WAITING when the job is about to pause, ACP_DONE */
    acrypto_status status;
    size_t out_len;
    size_t tag_len;
};

static void acp_efd_put(struct acp_efd *e)
{
    if (__atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        close(e->fd);
        free(e);
    }
}

static void acp_fd_cleanup(ASYNC_WAIT_CTX *ctx, const void *key, OSSL_ASYNC_FD fd, void *custom)
{
    (void)ctx;
    (void)key;
    (void)fd;
    acp_efd_put(custom);
}

/* The wait context's eventfd, made and registered on first use; NULL on failure. */
static struct acp_efd *acp_wait_fd(ASYNC_WAIT_CTX *wctx)
{
    OSSL_ASYNC_FD fd;
    void *custom = NULL;
    struct acp_efd *e;

    if (ASYNC_WAIT_CTX_get_fd(wctx, &acp_wait_key, &fd, &custom))
        return custom;
    if ((e = malloc(sizeof(*e))) == NULL)
        return NULL;
    e->refs = 1; /* the wait context's */
    e->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (e->fd < 0) {
        free(e);
        return NULL;
    }
    if (!ASYNC_WAIT_CTX_set_wait_fd(wctx, &acp_wait_key, e->fd, e, acp_fd_cleanup)) {
        close(e->fd);
        free(e);
        return NULL;
    }
    return e;
}

static void acp_wake(const acrypto_completion *c)
{
    struct acp_waiter *w = c->user;
    struct acp_efd *e = w->efd;
    uint64_t one = 1;
    ssize_t n;

    w->status = c->status;
    w->out_len = c->out_len;
    w->tag_len = c->tag_len;
    /*
     * Last touch of *w: the job may return (and *w go away) once it sees
     * this. A job that has not started to wait yet finds ACP_DONE itself
     * and goes on: no eventfd write here, no read there (a request that
     * completes before its job pauses costs no system call).
     */
    if (__atomic_exchange_n(&w->state, ACP_DONE, __ATOMIC_ACQ_REL) == ACP_WAITING) {
        do {
            n = write(e->fd, &one, sizeof(one));
        } while (n < 0 && errno == EINTR);
    }
    acp_efd_put(e);
}

static void acp_drain_fd(int fd)
{
    uint64_t v;
    ssize_t n;

    do {
        n = read(fd, &v, sizeof(v));
    } while (n < 0 && errno == EINTR);
}

static int acp_done(struct acp_waiter *w)
{
    return __atomic_load_n(&w->state, __ATOMIC_ACQUIRE) == ACP_DONE;
}

/*
 * Pauses the current job until the callback marked *w done, then empties
 * the descriptor the callback wrote. A request already done when the job
 * is about to pause is taken at once (the callback saw ACP_RUNNING and
 * wrote nothing). A resume that finds the request still running (the
 * application resumed the job for another reason, or a write of an
 * earlier request landed after its job had read the descriptor) empties
 * the descriptor, so that the application does not resume the job over
 * and over, and pauses again: the callback writes only after it marked
 * the request done, so a read that took this request's write is followed
 * by the check that sees it done.
 */
static void acp_wait(struct acp_waiter *w)
{
    int expect = ACP_RUNNING;

    if (!__atomic_compare_exchange_n(&w->state, &expect, ACP_WAITING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return; /* ACP_DONE: completed before the pause, nothing written */
    while (!acp_done(w)) {
        if (!ASYNC_pause_job()) {
            /* Cannot pause (no job after all): wait for the callback instead. */
            while (!acp_done(w))
                sched_yield();
            break;
        }
        if (!acp_done(w))
            acp_drain_fd(w->efd->fd);
    }
    acp_drain_fd(w->efd->fd);
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
    struct acp_waiter w = { .efd = NULL, .state = ACP_RUNNING, .status = ACRYPTO_STATUS_INTERNAL };
    void *user = req->user;
    acrypto_status st;

    if (job == NULL || (wctx = ASYNC_get_wait_ctx(job)) == NULL || (w.efd = acp_wait_fd(wctx)) == NULL)
        return acrypto_session_run(sess, req, done);

    req->user = &w;
    __atomic_add_fetch(&w.efd->refs, 1, __ATOMIC_ACQ_REL); /* the callback's */
    st = acrypto_session_submit(sess, req, acp_wake, 0);
    req->user = user;
    if (st != ACRYPTO_STATUS_OK) {
        acp_efd_put(w.efd); /* the callback will not run */
        if (st == ACRYPTO_STATUS_BUSY)
            /* Every queue is full: do this one inline rather than fail. */
            return acrypto_session_run(sess, req, done);
        return st;
    }

    acp_wait(&w);
    acp_fill(done, &w, user);
    return w.status;
}

/*
 * A stream update (digest or MAC): inside an ASYNC job it is submitted with
 * acrypto_stream_update_async and the job pauses until it completes, as
 * acp_run does for requests; outside a job it runs inline.
 */
acrypto_status acp_stream_update_run(acrypto_stream *st, const unsigned char *in, size_t inl)
{
    ASYNC_JOB *job = ASYNC_get_current_job();
    ASYNC_WAIT_CTX *wctx;
    struct acp_waiter w = { .efd = NULL, .state = ACP_RUNNING, .status = ACRYPTO_STATUS_INTERNAL };
    acrypto_status rc;

    if (job == NULL || (wctx = ASYNC_get_wait_ctx(job)) == NULL || (w.efd = acp_wait_fd(wctx)) == NULL)
        return acrypto_stream_update(st, in, inl, NULL, 0, NULL);
    __atomic_add_fetch(&w.efd->refs, 1, __ATOMIC_ACQ_REL); /* the callback's */
    rc = acrypto_stream_update_async(st, in, inl, NULL, 0, acp_wake, &w, 0);
    if (rc != ACRYPTO_STATUS_OK) {
        acp_efd_put(w.efd); /* the callback will not run */
        if (rc == ACRYPTO_STATUS_BUSY)
            return acrypto_stream_update(st, in, inl, NULL, 0, NULL);
        return rc;
    }
    acp_wait(&w);
    return w.status;
}

/*
 * A stream's end (the digest or MAC into tag): inside an ASYNC job it is
 * submitted with acrypto_stream_finish_async and the job pauses until it
 * completes, as for updates; outside a job it runs inline.
 */
acrypto_status acp_stream_finish_run(acrypto_stream *st, unsigned char *tag, size_t tag_cap, size_t *tag_len)
{
    ASYNC_JOB *job = ASYNC_get_current_job();
    ASYNC_WAIT_CTX *wctx;
    struct acp_waiter w = { .efd = NULL, .state = ACP_RUNNING, .status = ACRYPTO_STATUS_INTERNAL };
    acrypto_status rc;

    if (job == NULL || (wctx = ASYNC_get_wait_ctx(job)) == NULL || (w.efd = acp_wait_fd(wctx)) == NULL)
        return acrypto_stream_finish(st, NULL, 0, NULL, tag, tag_cap, tag_len);
    __atomic_add_fetch(&w.efd->refs, 1, __ATOMIC_ACQ_REL); /* the callback's */
    rc = acrypto_stream_finish_async(st, NULL, 0, tag, tag_cap, acp_wake, &w, 0);
    if (rc != ACRYPTO_STATUS_OK) {
        acp_efd_put(w.efd); /* the callback will not run; the stream is as it was */
        if (rc == ACRYPTO_STATUS_BUSY)
            return acrypto_stream_finish(st, NULL, 0, NULL, tag, tag_cap, tag_len);
        return rc;
    }
    acp_wait(&w);
    if (tag_len != NULL)
        *tag_len = w.tag_len;
    return w.status;
}
