//! The provider side: a driver written in C registers a device (name,
//! capability table, callbacks), takes work in batches, completes it with
//! a status, and may mark its device broken. The OCF-bridge idea: a
//! foreign driver plugged in as a device like any other.

use crate::engine::{acrypto_engine, class_from_u32, engine_ref};
use crate::{
    acrypto_status, alg_from_u32, alg_to_u32, bytes, ffi_guard, maybe_panic, name, non_null, op_to_u32, put,
    status_to_error, text, tri, ACRYPTO_MAX_TAG_LEN, PANIC_IN_DATA_READY,
};
use acrypto_core::{Capability, DeviceClass, DeviceHandle, Driver, Error, Work};
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One entry of a device's capability table.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct acrypto_capability {
    /// An `acrypto_alg`.
    pub alg: u32,
    /// Most items of this algorithm the device wants queued (at least 1).
    pub max_queue: u32,
    /// Throughput hint in bytes per second, 0 for none.
    pub rate: u64,
}

/// A C driver's callbacks. `ctx` is the pointer given to
/// `acrypto_device_register`. Callbacks run on acrypto's or submitters'
/// threads, possibly at once: keep them short and thread-safe.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct acrypto_driver_ops {
    /// Optional. The device is registered; `device` is valid until `detach`
    /// has returned. Called once, before `acrypto_device_register` returns.
    pub attach: Option<unsafe extern "C" fn(ctx: *mut c_void, device: *mut acrypto_device)>,
    /// Required. The device's queue went from empty to non-empty: wake the
    /// driver's thread, which then calls `acrypto_device_dequeue` until it
    /// gets no work. Must not block. May come before `attach` (then
    /// `acrypto_device_dequeue` gives nothing yet; it is called again after
    /// `attach` if work waits).
    pub data_ready: Option<unsafe extern "C" fn(ctx: *mut c_void, device: *mut acrypto_device)>,
    /// Optional. No more work will come: stop the driver's threads (after
    /// completing or dropping what they took) before returning.
    pub detach: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
    /// Optional. The engine let go of the device: release `ctx`. Called
    /// once, after `detach`, and only when registration succeeded.
    pub destroy: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
}

/// A C-registered device, as its driver holds it: take work, mark broken.
/// Valid from `attach` until `detach` has returned. All functions on it
/// may be called from any thread.
pub struct acrypto_device {
    handle: Mutex<Option<DeviceHandle>>,
}

impl acrypto_device {
    fn handle(&self) -> Option<DeviceHandle> {
        self.handle.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

struct CtxPtr(*mut c_void);
// SAFETY: the C driver promises (acrypto.h) that its ctx may be used from
// any thread.
unsafe impl Send for CtxPtr {}
// SAFETY: as above; acrypto only passes the pointer back to C.
unsafe impl Sync for CtxPtr {}

struct CDriver {
    name: String,
    kind: String,
    class: DeviceClass,
    caps: Vec<Capability>,
    ops: acrypto_driver_ops,
    data_ready: unsafe extern "C" fn(*mut c_void, *mut acrypto_device),
    ctx: CtxPtr,
    /// Boxed so the pointer handed to C stays put.
    device: Box<acrypto_device>,
    /// Set once registration succeeded: only then is `destroy` called.
    armed: AtomicBool,
}

impl CDriver {
    fn dev_ptr(&self) -> *mut acrypto_device {
        (&*self.device as *const acrypto_device).cast_mut()
    }
}

impl Driver for CDriver {
    fn name(&self) -> &str {
        &self.name
    }
    fn driver(&self) -> &str {
        &self.kind
    }
    fn capabilities(&self) -> Vec<Capability> {
        self.caps.clone()
    }
    fn class(&self) -> DeviceClass {
        self.class
    }
    fn attach(&self, device: DeviceHandle) {
        let waiting = device.queued() > 0;
        *self.device.handle.lock().unwrap_or_else(|p| p.into_inner()) = Some(device);
        if let Some(f) = self.ops.attach {
            // SAFETY: the C driver's callback with its own ctx; the device
            // pointer stays valid until detach returned.
            unsafe { f(self.ctx.0, self.dev_ptr()) };
        }
        if waiting {
            self.data_ready();
        }
    }
    fn data_ready(&self) {
        // A panic here (only ever injected by tests) is caught, and the
        // driver is told all the same: a lost notification would strand
        // its queue.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| maybe_panic(PANIC_IN_DATA_READY)));
        // SAFETY: as in attach.
        unsafe { (self.data_ready)(self.ctx.0, self.dev_ptr()) };
    }
    fn detach(&self) {
        if let Some(f) = self.ops.detach {
            // SAFETY: the C driver's callback with its own ctx.
            unsafe { f(self.ctx.0) };
        }
        // Breaks the device -> driver -> handle cycle, as Driver asks.
        self.device.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

impl Drop for CDriver {
    fn drop(&mut self) {
        if self.armed.load(Ordering::SeqCst) {
            if let Some(f) = self.ops.destroy {
                // SAFETY: the C driver's callback with its own ctx, called once.
                unsafe { f(self.ctx.0) };
            }
        }
    }
}

/// Registers a device driven by C code. `name` is unique in the engine
/// (1 to 63 bytes), `driver` names the driver kind, `class_` is an
/// `acrypto_device_class`, `caps` the capability table (1 to 16 entries),
/// `ops` the callbacks (copied; `data_ready` required), `ctx` is passed to
/// them. On failure nothing of `ctx` is kept and `destroy` is not called.
///
/// # Safety
/// `engine` is NULL or live; strings are NULL or NUL-terminated; `caps`
/// is NULL or has `n_caps` entries; `ops` is NULL or readable; the
/// callbacks are valid functions and `ctx` is usable from any thread until
/// `destroy`.
#[no_mangle]
pub unsafe extern "C" fn acrypto_device_register(
    engine: *const acrypto_engine,
    name_: *const c_char,
    driver: *const c_char,
    class_: u32,
    caps: *const acrypto_capability,
    n_caps: usize,
    ops: *const acrypto_driver_ops,
    ctx: *mut c_void,
) -> acrypto_status {
    ffi_guard!({
        non_null!(engine, caps, ops);
        // SAFETY: NULL or NUL-terminated by the caller's promise.
        let n = tri!(unsafe { name(name_) });
        // SAFETY: as above.
        let kind = tri!(unsafe { name(driver) });
        let class = tri!(class_from_u32(class_));
        if n_caps == 0 || n_caps > 16 {
            return acrypto_status::InvalidArgument;
        }
        // SAFETY: non-NULL and C promises n_caps (at most 16) entries.
        let c_caps = unsafe { std::slice::from_raw_parts(caps, n_caps) };
        let mut table = Vec::with_capacity(n_caps);
        for c in c_caps {
            let alg = tri!(alg_from_u32(c.alg));
            // The provider ABI hands a C driver no prehashed flag and no
            // room for outputs longer than the input: not offered yet.
            if alg.kind() == acrypto_core::OpKind::Asym {
                return acrypto_status::Unsupported;
            }
            if c.max_queue == 0 || c.max_queue > (1 << 20) || table.iter().any(|t: &Capability| t.alg == alg) {
                return acrypto_status::InvalidArgument;
            }
            table.push(Capability { alg, max_queue: c.max_queue as usize, rate: (c.rate > 0).then_some(c.rate) });
        }
        // SAFETY: non-NULL and readable by the caller's promise.
        let ops = unsafe { *ops };
        let Some(data_ready) = ops.data_ready else {
            return acrypto_status::NullArgument;
        };
        let d = Arc::new(CDriver {
            name: n.to_string(),
            kind: kind.to_string(),
            class,
            caps: table,
            ops,
            data_ready,
            ctx: CtxPtr(ctx),
            device: Box::new(acrypto_device { handle: Mutex::new(None) }),
            armed: AtomicBool::new(false),
        });
        tri!(engine_ref(engine).register_arc(d.clone()));
        d.armed.store(true, Ordering::SeqCst);
        acrypto_status::Ok
    })
}

fn device_ref<'a>(d: *const acrypto_device) -> &'a acrypto_device {
    // SAFETY: callers check for NULL; C promises a device between attach
    // and the end of detach.
    unsafe { &*d }
}

/// A piece of work taken by a C driver: the route steps it is to run on
/// one request. Complete it exactly once with `acrypto_work_complete`,
/// which also releases it. Use it from one thread at a time. Work never
/// completed keeps its request in flight: `acrypto_engine_wait_idle`,
/// device removal and engine shutdown wait for it.
pub struct acrypto_work {
    work: Work,
}

/// Takes up to `max` work items (highest priority first), writes them to
/// `out[0..*n]` and their count to `*n` (0 when the queue is empty or the
/// device is detached).
///
/// # Safety
/// `device` is NULL or valid; `out` is NULL or has room for `max`
/// pointers; `n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_device_dequeue(
    device: *const acrypto_device,
    out: *mut *mut acrypto_work,
    max: usize,
    n: *mut usize,
) -> acrypto_status {
    ffi_guard!({
        non_null!(device, out, n);
        if max == 0 || max > 4096 {
            return acrypto_status::InvalidArgument;
        }
        let batch = match device_ref(device).handle() {
            Some(h) => h.dequeue_batch(max),
            None => Vec::new(),
        };
        let k = batch.len();
        for (i, w) in batch.into_iter().enumerate() {
            // SAFETY: out has room for max >= k pointers (the caller's promise).
            unsafe { out.add(i).write(Box::into_raw(Box::new(acrypto_work { work: w }))) };
        }
        // SAFETY: n checked non-NULL.
        unsafe { put(n, k) };
        acrypto_status::Ok
    })
}

/// Marks the device broken: it takes no more work, its queue moves to
/// other devices, and work it completes with a device error is retried
/// elsewhere (unless bound).
///
/// # Safety
/// `device` is NULL or valid; `reason` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn acrypto_device_mark_broken(
    device: *const acrypto_device,
    reason: *const c_char,
) -> acrypto_status {
    ffi_guard!({
        non_null!(device);
        // SAFETY: NULL or NUL-terminated by the caller's promise.
        let r = tri!(unsafe { text(reason) });
        match device_ref(device).handle() {
            Some(h) => h.mark_broken(r),
            None => return acrypto_status::NoSuchDevice,
        }
        acrypto_status::Ok
    })
}

/// Writes the number of items waiting in the device's queue to `*out`.
///
/// # Safety
/// `device` is NULL or valid; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_device_queued(device: *const acrypto_device, out: *mut usize) -> acrypto_status {
    ffi_guard!({
        non_null!(device, out);
        let q = device_ref(device).handle().map_or(0, |h| h.queued());
        // SAFETY: out checked non-NULL.
        unsafe { put(out, q) };
        acrypto_status::Ok
    })
}

fn work_mut<'a>(w: *mut acrypto_work) -> &'a mut acrypto_work {
    // SAFETY: callers check for NULL; C promises a live, unshared work item.
    unsafe { &mut *w }
}

/// A step of a work item. `key` points into acrypto's copy of the key and
/// is valid until the work is completed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct acrypto_work_step {
    /// An `acrypto_alg`.
    pub alg: u32,
    /// An `acrypto_op`.
    pub op: u32,
    /// The key.
    pub key: *const u8,
    /// Key length.
    pub key_len: usize,
}

/// Writes the number of steps this device is to run on the work item
/// (1 or more, in order) to `*out`.
///
/// # Safety
/// `work` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_work_step_count(work: *mut acrypto_work, out: *mut usize) -> acrypto_status {
    ffi_guard!({
        non_null!(work, out);
        let n = work_mut(work).work.steps().len();
        // SAFETY: out checked non-NULL.
        unsafe { put(out, n) };
        acrypto_status::Ok
    })
}

/// Writes step `index` of the work item to `*out`.
///
/// # Safety
/// `work` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_work_get_step(
    work: *mut acrypto_work,
    index: usize,
    out: *mut acrypto_work_step,
) -> acrypto_status {
    ffi_guard!({
        non_null!(work, out);
        let w = work_mut(work);
        let Some(s) = w.work.steps().get(index) else {
            return acrypto_status::InvalidArgument;
        };
        let k = s.key.bytes();
        let st = acrypto_work_step { alg: alg_to_u32(s.alg), op: op_to_u32(s.op), key: k.as_ptr(), key_len: k.len() };
        // SAFETY: out checked non-NULL.
        unsafe { put(out, st) };
        acrypto_status::Ok
    })
}

/// A work item's buffers, valid until the work is completed (or its tag set).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct acrypto_work_buffers {
    /// The data: ciphers transform it in place; rng fills it; digests read it.
    pub data: *mut u8,
    /// Data length.
    pub data_len: usize,
    /// The IV or tweak.
    pub iv: *const u8,
    /// IV length.
    pub iv_len: usize,
    /// The tag: the expected MAC for a verify step (compare in constant time).
    pub tag: *const u8,
    /// Tag length.
    pub tag_len: usize,
    /// The session's priority (0 to 7).
    pub priority: u32,
    /// The request's session id.
    pub session: u64,
}

/// Writes the work item's buffers to `*out`.
///
/// # Safety
/// `work` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_work_get_buffers(
    work: *mut acrypto_work,
    out: *mut acrypto_work_buffers,
) -> acrypto_status {
    ffi_guard!({
        non_null!(work, out);
        let w = work_mut(work);
        let priority = u32::from(w.work.priority());
        let session = w.work.session_id();
        let (_, r) = w.work.parts();
        let iv = (r.iv.as_ptr(), r.iv.len());
        let tag = (r.tag.as_ptr(), r.tag.len());
        let data = r.current_mut();
        let b = acrypto_work_buffers {
            data: data.as_mut_ptr(),
            data_len: data.len(),
            iv: iv.0,
            iv_len: iv.1,
            tag: tag.0,
            tag_len: tag.1,
            priority,
            session,
        };
        // SAFETY: out checked non-NULL.
        unsafe { put(out, b) };
        acrypto_status::Ok
    })
}

/// Sets the work item's tag (the result of a digest step), copying `len`
/// bytes (at most 256). Invalidates the `tag` pointer of earlier
/// `acrypto_work_get_buffers` results.
///
/// # Safety
/// `work` is NULL or live; `tag` is NULL or has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn acrypto_work_set_tag(work: *mut acrypto_work, tag: *const u8, len: usize) -> acrypto_status {
    ffi_guard!({
        non_null!(work, tag);
        // SAFETY: C promises len readable bytes at tag.
        let t = tri!(unsafe { bytes(tag, len, ACRYPTO_MAX_TAG_LEN) });
        let (_, r) = work_mut(work).work.parts();
        r.tag.clear();
        r.tag.extend_from_slice(t);
        acrypto_status::Ok
    })
}

/// Completes the work item with a status and releases it (`work` is
/// invalid afterwards, whatever this returns). `ACRYPTO_STATUS_OK` when the
/// steps ran; `ACRYPTO_STATUS_DEVICE_FAILURE` (or `DEVICE_BROKEN`) makes
/// the engine retry elsewhere unless bound; other statuses (e.g.
/// `VERIFY_FAILED`) are the request's result. A value that names no status
/// completes the work as a device failure and returns
/// `ACRYPTO_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `work` is NULL or a live item from `acrypto_device_dequeue`, not yet completed.
#[no_mangle]
pub unsafe extern "C" fn acrypto_work_complete(work: *mut acrypto_work, status: u32) -> acrypto_status {
    ffi_guard!({
        non_null!(work);
        // SAFETY: from Box::into_raw in acrypto_device_dequeue, released once.
        let w = unsafe { Box::from_raw(work) };
        match acrypto_status::from_u32(status) {
            Some(s) => {
                w.work.complete(status_to_error(s));
                acrypto_status::Ok
            }
            None => {
                w.work.complete(Err(Error::DeviceFailure(format!("driver completed with unknown status {status}"))));
                acrypto_status::InvalidArgument
            }
        }
    })
}
