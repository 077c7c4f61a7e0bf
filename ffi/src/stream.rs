//! Streams: a message of any length through a session, update by update
//! (the C face of `acrypto_core::stream`).
//!
//! A stream runs on a one-step session: a hash or HMAC (digest or verify),
//! or AES in cbc, ecb or ctr. Each update copies its input in and runs as
//! one request (a cipher keeps the partial block, < 16 bytes, for the next
//! update); one update is in flight at a time. A failed update leaves the
//! stream as it was before it.

use crate::session::ACRYPTO_SUBMIT_BLOCK;
use crate::session::{acrypto_callback, acrypto_completion, acrypto_session, lock, session_ref, InCallback};
use crate::{acrypto_status, bytes, ffi_guard, non_null, put, tri, ACRYPTO_MAX_DATA_LEN, ACRYPTO_MAX_TAG_LEN};
use acrypto_core::{Done, Engine, Error, Op, Request, Session, Stream};
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

/// A stream on a session: created by `acrypto_stream_new`, released by
/// `acrypto_stream_free`. Use it from one thread at a time (its async
/// completion may run on another).
pub struct acrypto_stream {
    stream: Arc<Mutex<Stream>>,
    session: Session,
    engine: Engine,
    deliveries: Arc<crate::session::Deliveries>,
    digest_len: usize,
}

/// Opens a stream on `session`, which has one step: a hash or HMAC (`iv`
/// NULL, `iv_len` 0), or AES cbc, ecb or ctr (`iv` the first IV, 16 bytes;
/// none for ecb). XTS, AEAD, rng and routes of several steps give
/// `ACRYPTO_STATUS_UNSUPPORTED`, as does a hash or MAC that no device of
/// the engine can stream.
///
/// # Safety
/// `session` is NULL or live; `iv` is NULL or has `iv_len` readable bytes;
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_stream_new(
    session: *const acrypto_session,
    iv: *const u8,
    iv_len: usize,
    out: *mut *mut acrypto_stream,
) -> acrypto_status {
    ffi_guard!({
        non_null!(session, out);
        let s = session_ref(session);
        // SAFETY: the caller's promise on iv/iv_len.
        let iv = tri!(unsafe { bytes(iv, iv_len, ACRYPTO_MAX_TAG_LEN) });
        let stream = tri!(s.engine.stream(&s.session, iv));
        let digest_len = stream.alg().digest_len();
        let h = acrypto_stream {
            stream: Arc::new(Mutex::new(stream)),
            session: s.session.clone(),
            engine: s.engine.clone(),
            deliveries: s.deliveries.clone(),
            digest_len,
        };
        // SAFETY: out checked non-NULL.
        unsafe { put(out, Box::into_raw(Box::new(h))) };
        acrypto_status::Ok
    })
}

/// Copies a stream as it is now into a new handle (OpenSSL's `dupctx`):
/// both continue independently. Fails with
/// `ACRYPTO_STATUS_INVALID_ARGUMENT` while an async update is in flight.
///
/// # Safety
/// `stream` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_stream_dup(
    stream: *const acrypto_stream,
    out: *mut *mut acrypto_stream,
) -> acrypto_status {
    ffi_guard!({
        non_null!(stream, out);
        let h = stream_ref(stream);
        let copy = tri!(lock(&h.stream).try_clone());
        let d = acrypto_stream {
            stream: Arc::new(Mutex::new(copy)),
            session: h.session.clone(),
            engine: h.engine.clone(),
            deliveries: h.deliveries.clone(),
            digest_len: h.digest_len,
        };
        // SAFETY: out checked non-NULL.
        unsafe { put(out, Box::into_raw(Box::new(d))) };
        acrypto_status::Ok
    })
}

/// Releases a stream (NULL is fine), finished or not. An async update in
/// flight still completes and runs its callback.
///
/// # Safety
/// `stream` is NULL or from `acrypto_stream_new`, not yet freed, and no
/// other thread uses it any more.
#[no_mangle]
pub unsafe extern "C" fn acrypto_stream_free(stream: *mut acrypto_stream) {
    // SAFETY: the caller's contract is free_handle's.
    unsafe { crate::free_handle(stream, drop) };
}

fn stream_ref<'a>(s: *const acrypto_stream) -> &'a acrypto_stream {
    // SAFETY: callers check for NULL first; C promises a live stream.
    unsafe { &*s }
}

/// Writes the most bytes an update of `len` input bytes can write to its
/// `out` (a cipher: the partial block and the input, in whole 16-byte
/// blocks, so never more than `len + 15`; a hash or MAC: 0) to `*out`.
///
/// # Safety
/// `stream` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_stream_max_output(
    stream: *const acrypto_stream,
    len: usize,
    out: *mut usize,
) -> acrypto_status {
    ffi_guard!({
        non_null!(stream, out);
        let n = lock(&stream_ref(stream).stream).max_output(len);
        // SAFETY: out checked non-NULL.
        unsafe { put(out, n) };
        acrypto_status::Ok
    })
}

/// Where an update's or finish's results go.
#[derive(Clone, Copy)]
struct Outputs {
    out: *mut u8,
    out_cap: usize,
    tag: *mut u8,
    tag_cap: usize,
}

// SAFETY: the pointers are the C caller's, who promised they stay valid
// until the callback ran, on whichever thread it runs.
unsafe impl Send for Outputs {}

impl Outputs {
    /// Checks the output buffer holds `need` bytes.
    fn check_out(&self, need: usize) -> Result<(), acrypto_status> {
        if need > 0 && self.out.is_null() {
            return Err(acrypto_status::NullArgument);
        }
        if self.out_cap < need {
            return Err(acrypto_status::BufferTooSmall);
        }
        Ok(())
    }

    /// Checks the tag buffer holds `need` bytes.
    fn check_tag(&self, need: usize) -> Result<(), acrypto_status> {
        if need > 0 && self.tag.is_null() {
            return Err(acrypto_status::NullArgument);
        }
        if self.tag_cap < need {
            return Err(acrypto_status::BufferTooSmall);
        }
        Ok(())
    }

    /// Copies `out` and `tag` to the caller's buffers (checked to fit).
    fn copy(&self, out: &[u8], tag: &[u8]) -> (usize, usize) {
        let o = out.len().min(self.out_cap);
        if o > 0 {
            // SAFETY: out is non-NULL with out_cap writable bytes (checked
            // before the update started); the source is our own buffer.
            unsafe { std::ptr::copy_nonoverlapping(out.as_ptr(), self.out, o) };
        }
        let t = tag.len().min(self.tag_cap);
        if t > 0 {
            // SAFETY: as for out.
            unsafe { std::ptr::copy_nonoverlapping(tag.as_ptr(), self.tag, t) };
        }
        (o, t)
    }
}

fn write_len(p: *mut usize, v: usize) {
    if !p.is_null() {
        // SAFETY: non-NULL, and the caller promises it writable.
        unsafe { put(p, v) };
    }
}

/// Updates the stream with `data_len` bytes (any number, 0 included) and
/// waits. A cipher writes its output to `out` (room for
/// `acrypto_stream_max_output` bytes is required; `out` may be NULL when
/// that is 0) and the count to `*out_len` (NULL is fine); a hash or MAC
/// writes nothing. On failure the stream is as it was before the call and
/// the update may be repeated.
///
/// # Safety
/// `stream` is NULL or live; `data` has `data_len` readable bytes; `out`
/// has `out_cap` writable bytes; `out_len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_stream_update(
    stream: *mut acrypto_stream,
    data: *const u8,
    data_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> acrypto_status {
    ffi_guard!({
        non_null!(stream);
        let h = stream_ref(stream);
        // SAFETY: the caller's promise on data/data_len.
        let data = tri!(unsafe { bytes(data, data_len, ACRYPTO_MAX_DATA_LEN) });
        let outs = Outputs { out, out_cap, tag: std::ptr::null_mut(), tag_cap: 0 };
        let mut st = lock(&h.stream);
        tri!(outs.check_out(st.max_output(data.len())));
        let mut result = Vec::new();
        let r = st.update(data, &mut result);
        let n = if r.is_ok() { outs.copy(&result, &[]).0 } else { 0 };
        crate::wipe(&mut result);
        tri!(r);
        write_len(out_len, n);
        acrypto_status::Ok
    })
}

/// Ends the stream and waits. A hash or MAC writes its digest to `tag`
/// (`tag_cap` at least the digest length) and its length to `*tag_len`;
/// a CTR stream writes its last partial block to `out` (at most 15 bytes;
/// `out` may be NULL for other streams) and the count to `*out_len`. A CBC
/// or ECB stream that is not whole blocks fails with
/// `ACRYPTO_STATUS_INVALID_LENGTH` and stays open. A stream on a verify
/// session ends with `acrypto_stream_verify` instead. `out_len` and
/// `tag_len` may be NULL.
///
/// # Safety
/// `stream` is NULL or live; `out` has `out_cap` and `tag` `tag_cap`
/// writable bytes; `out_len` and `tag_len` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_stream_finish(
    stream: *mut acrypto_stream,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    tag: *mut u8,
    tag_cap: usize,
    tag_len: *mut usize,
) -> acrypto_status {
    ffi_guard!({
        non_null!(stream);
        let h = stream_ref(stream);
        let outs = Outputs { out, out_cap, tag, tag_cap };
        let mut st = lock(&h.stream);
        tri!(outs.check_out(st.max_final_output()));
        tri!(outs.check_tag(h.digest_len));
        let mut result = Vec::new();
        let r = st.finish(&mut result);
        let (o, t) = match &r {
            Ok(digest) => outs.copy(&result, digest),
            Err(_) => (0, 0),
        };
        crate::wipe(&mut result);
        tri!(r);
        write_len(out_len, o);
        write_len(tag_len, t);
        acrypto_status::Ok
    })
}

/// Ends a MAC stream on a verify session and waits: `ACRYPTO_STATUS_OK`
/// when `tag` (10 bytes up to the MAC's length, compared in constant time)
/// is the MAC of everything streamed, `ACRYPTO_STATUS_VERIFY_FAILED` when
/// not (the stream is over either way).
///
/// # Safety
/// `stream` is NULL or live; `tag` has `tag_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn acrypto_stream_verify(
    stream: *mut acrypto_stream,
    tag: *const u8,
    tag_len: usize,
) -> acrypto_status {
    ffi_guard!({
        non_null!(stream, tag);
        let h = stream_ref(stream);
        // SAFETY: the caller's promise on tag/tag_len.
        let tag = tri!(unsafe { bytes(tag, tag_len, ACRYPTO_MAX_TAG_LEN) });
        tri!(lock(&h.stream).verify(tag));
        acrypto_status::Ok
    })
}

/// Runs the C callback with a completion (marking the thread as inside a
/// callback of the engine, as request callbacks are).
fn call_back(
    h: &Arc<crate::session::Deliveries>,
    cb: unsafe extern "C" fn(*const acrypto_completion),
    c: acrypto_completion,
) {
    let _inside = InCallback::enter(h);
    // SAFETY: cb is the C caller's callback, a valid function pointer; c
    // lives across the call.
    unsafe { cb(&c) };
}

/// What an async call does when its request completes.
#[derive(Clone, Copy)]
enum Phase {
    Update,
    Finish,
}

fn start_async(
    h: &acrypto_stream,
    phase: Phase,
    req: Option<Request>,
    outs: Outputs,
    cb: unsafe extern "C" fn(*const acrypto_completion),
    user: *mut c_void,
    flags: u32,
) -> acrypto_status {
    struct User(*mut c_void);
    // SAFETY: the cookie is the caller's, handed back untouched.
    unsafe impl Send for User {}
    let user = User(user);
    let guard = h.deliveries.start();
    let stream = h.stream.clone();
    let complete = move |result: Option<Result<Request, Error>>| {
        let user = user;
        let mut data = Vec::new();
        let r = {
            let mut st = lock(&stream);
            match phase {
                Phase::Update => match result {
                    Some(res) => st.end_update(res, &mut data).map(|()| Vec::new()),
                    None => Ok(Vec::new()),
                },
                Phase::Finish => st.end_finish(result, &mut data),
            }
        };
        let mut c = acrypto_completion { user: user.0, status: acrypto_status::Ok, out_len: 0, tag_len: 0 };
        match r {
            Ok(tag) => {
                let (o, t) = outs.copy(&data, &tag);
                c.out_len = o;
                c.tag_len = t;
            }
            Err(e) => c.status = acrypto_status::from(e),
        }
        crate::wipe(&mut data);
        call_back(&guard.0, cb, c);
        drop(guard);
    };
    let Some(req) = req else {
        // Nothing to send (a partial block kept, an empty update): done now,
        // on this thread.
        complete(None);
        return acrypto_status::Ok;
    };
    // The completion may run before the submit returns; it is wrapped so
    // that a refused submission (which drops it unrun) can be told apart.
    let slot = Arc::new(Mutex::new(Some(complete)));
    let for_done = slot.clone();
    let on_done = move |done: Done| {
        if let Some(f) = lock(&for_done).take() {
            f(Some(done.into_result()));
        }
    };
    let res = if flags & ACRYPTO_SUBMIT_BLOCK != 0 {
        h.engine.submit_blocking(&h.session, req, acrypto_core::Completion::callback(on_done))
    } else {
        h.engine.submit(&h.session, req, acrypto_core::Completion::callback(on_done))
    };
    match res {
        Ok(()) => acrypto_status::Ok,
        Err(rej) => {
            // Refused: the stream goes back to where it was; no callback.
            drop(lock(&slot).take());
            let mut st = lock(&h.stream);
            let mut sink = Vec::new();
            match phase {
                Phase::Update => drop(st.end_update(Err(rej.error.clone()), &mut sink)),
                Phase::Finish => drop(st.end_finish(Some(Err(rej.error.clone())), &mut sink)),
            }
            acrypto_status::from(&rej.error)
        }
    }
}

/// Like `acrypto_stream_update`, without waiting: `callback` runs once
/// with the update's completion (`out_len` bytes written to `out`) unless
/// this returns an error (then it never runs and the stream is as it was).
/// When the update needs no request (no data, or less than a block kept
/// for later), the callback runs on the calling thread before this
/// returns. `flags`: 0 or `ACRYPTO_SUBMIT_BLOCK`. `data` may be reused at
/// once; `out` must stay valid until the callback ran. One update or
/// finish at a time per stream (`ACRYPTO_STATUS_INVALID_ARGUMENT` while
/// one is in flight).
///
/// # Safety
/// As `acrypto_stream_update`; `callback` is NULL or a function.
#[no_mangle]
pub unsafe extern "C" fn acrypto_stream_update_async(
    stream: *mut acrypto_stream,
    data: *const u8,
    data_len: usize,
    out: *mut u8,
    out_cap: usize,
    callback: acrypto_callback,
    user: *mut c_void,
    flags: u32,
) -> acrypto_status {
    ffi_guard!({
        non_null!(stream);
        let Some(cb) = callback else {
            return acrypto_status::NullArgument;
        };
        if flags & !ACRYPTO_SUBMIT_BLOCK != 0 {
            return acrypto_status::InvalidArgument;
        }
        let h = stream_ref(stream);
        // SAFETY: the caller's promise on data/data_len.
        let data = tri!(unsafe { bytes(data, data_len, ACRYPTO_MAX_DATA_LEN) });
        let outs = Outputs { out, out_cap, tag: std::ptr::null_mut(), tag_cap: 0 };
        let req = {
            let mut st = lock(&h.stream);
            tri!(outs.check_out(st.max_output(data.len())));
            tri!(st.begin_update(data))
        };
        start_async(h, Phase::Update, req, outs, cb, user, flags)
    })
}

/// Like `acrypto_stream_finish`, without waiting: `callback` runs once
/// with the completion (`tag_len` digest bytes written to `tag`, `out_len`
/// bytes of a CTR stream's last block to `out`) unless this returns an
/// error. For a stream on a verify session, pass the expected MAC as
/// `tag`/`tag_cap` (its length): the completion's status says whether it
/// verified. As for updates, the callback may run before this returns.
///
/// # Safety
/// As `acrypto_stream_finish`; `callback` is NULL or a function.
#[no_mangle]
pub unsafe extern "C" fn acrypto_stream_finish_async(
    stream: *mut acrypto_stream,
    out: *mut u8,
    out_cap: usize,
    tag: *mut u8,
    tag_cap: usize,
    callback: acrypto_callback,
    user: *mut c_void,
    flags: u32,
) -> acrypto_status {
    ffi_guard!({
        non_null!(stream);
        let Some(cb) = callback else {
            return acrypto_status::NullArgument;
        };
        if flags & !ACRYPTO_SUBMIT_BLOCK != 0 {
            return acrypto_status::InvalidArgument;
        }
        let h = stream_ref(stream);
        let verify = h.session.steps().first().is_some_and(|s| s.op == Op::Verify);
        let (req, outs) = {
            let mut st = lock(&h.stream);
            if verify {
                // SAFETY: the caller's promise on tag/tag_cap (the expected MAC).
                let expected = tri!(unsafe { bytes(tag, tag_cap, ACRYPTO_MAX_TAG_LEN) });
                let outs = Outputs { out: std::ptr::null_mut(), out_cap: 0, tag: std::ptr::null_mut(), tag_cap: 0 };
                (tri!(st.begin_finish(Some(expected))), outs)
            } else {
                let outs = Outputs { out, out_cap, tag, tag_cap };
                tri!(outs.check_out(st.max_final_output()));
                tri!(outs.check_tag(h.digest_len));
                (tri!(st.begin_finish(None)), outs)
            }
        };
        start_async(h, Phase::Finish, req, outs, cb, user, flags)
    })
}
