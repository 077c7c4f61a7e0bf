//! A balancer written in C: `find_device` and `rehash` callbacks.

use crate::engine::{acrypto_engine_config, class_to_u32, set_balancer};
use crate::{acrypto_status, alg_to_u32, ffi_guard, maybe_panic, name, non_null, tri, PANIC_IN_BALANCER};
use acrypto_core::{Balancer, Candidate, DeviceId, WorkInfo};
use std::ffi::{c_char, c_void, CString};

/// A device as a C balancer sees it. `name` is valid during the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct acrypto_candidate {
    /// Device id.
    pub id: u64,
    /// Device name (NUL-terminated).
    pub name: *const c_char,
    /// Position in registration order.
    pub index: usize,
    /// Items queued.
    pub queued: usize,
    /// Queue bound.
    pub capacity: usize,
    /// Items taken by the driver and not completed.
    pub outstanding: usize,
    /// Bytes queued.
    pub queued_bytes: u64,
    /// Rate hint or measured rate in bytes/s, 0 when unknown.
    pub rate: u64,
    /// An `acrypto_device_class`.
    pub class_: u32,
}

/// What a C balancer knows of the work to place.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct acrypto_work_info {
    /// Session id.
    pub session: u64,
    /// Session priority (0 to 7).
    pub priority: u32,
    /// The `acrypto_alg` of the step to place.
    pub alg: u32,
    /// Payload bytes.
    pub bytes: usize,
    /// A hash of the submitting thread.
    pub caller: u64,
}

/// A C balancer's callbacks. They run on submitting threads (and on
/// threads that mark devices broken), possibly at once: they must be
/// thread-safe, fast, and must not call into the engine.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct acrypto_balancer_ops {
    /// Required. Picks one of `candidates[0..n]` (n >= 2): returns its
    /// index, or -1 to let the engine choose (least loaded). An index out
    /// of range counts as -1. If the pick's queue is full the engine falls
    /// back to the least loaded device with room.
    pub find_device: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            candidates: *const acrypto_candidate,
            n: usize,
            work: *const acrypto_work_info,
        ) -> i64,
    >,
    /// Optional. Places work moved off the broken device `broken` (not among
    /// the candidates). NULL: as `find_device`.
    pub rehash: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            broken: u64,
            candidates: *const acrypto_candidate,
            n: usize,
            work: *const acrypto_work_info,
        ) -> i64,
    >,
    /// Optional. Releases `ctx` when the engine (or the configuration, if
    /// no engine was built from it) is freed.
    pub destroy: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
}

pub(crate) struct CBalancer {
    name: String,
    ops: acrypto_balancer_ops,
    find: unsafe extern "C" fn(*mut c_void, *const acrypto_candidate, usize, *const acrypto_work_info) -> i64,
    ctx: *mut c_void,
}

// SAFETY: the C caller promises (acrypto.h) that the callbacks and ctx are
// usable from any thread at once.
unsafe impl Send for CBalancer {}
// SAFETY: as above.
unsafe impl Sync for CBalancer {}

impl CBalancer {
    fn call(&self, broken: Option<DeviceId>, c: &[Candidate<'_>], w: &WorkInfo) -> Option<usize> {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            maybe_panic(PANIC_IN_BALANCER);
            let names: Vec<CString> = c.iter().map(|d| CString::new(d.name).unwrap_or_default()).collect();
            let cands: Vec<acrypto_candidate> = c
                .iter()
                .zip(names.iter())
                .map(|(d, n)| acrypto_candidate {
                    id: d.id,
                    name: n.as_ptr(),
                    index: d.index,
                    queued: d.queued,
                    capacity: d.capacity,
                    outstanding: d.outstanding,
                    queued_bytes: d.queued_bytes,
                    rate: d.rate.unwrap_or(0),
                    class_: class_to_u32(d.class),
                })
                .collect();
            let info = acrypto_work_info {
                session: w.session,
                priority: u32::from(w.priority),
                alg: alg_to_u32(w.alg),
                bytes: w.bytes,
                caller: w.caller,
            };
            let pick = match (broken, self.ops.rehash) {
                // SAFETY: the C balancer's callbacks with its ctx; the
                // arrays and names live across the call.
                (Some(b), Some(f)) => unsafe { f(self.ctx, b, cands.as_ptr(), cands.len(), &info) },
                // SAFETY: as above.
                _ => unsafe { (self.find)(self.ctx, cands.as_ptr(), cands.len(), &info) },
            };
            usize::try_from(pick).ok().filter(|&i| i < c.len())
        }));
        r.unwrap_or(None)
    }
}

impl Balancer for CBalancer {
    fn name(&self) -> &str {
        &self.name
    }
    fn find_device(&self, c: &[Candidate<'_>], w: &WorkInfo) -> Option<usize> {
        self.call(None, c, w)
    }
    fn rehash(&self, broken: DeviceId, c: &[Candidate<'_>], w: &WorkInfo) -> Option<usize> {
        self.call(Some(broken), c, w)
    }
}

impl Drop for CBalancer {
    fn drop(&mut self) {
        if let Some(f) = self.ops.destroy {
            // SAFETY: the C balancer's callback with its ctx, called once.
            unsafe { f(self.ctx) };
        }
    }
}

/// Sets a balancer written in C on a configuration (replacing any set
/// before; a replaced C balancer is destroyed). `name` (1 to 63 bytes)
/// names it; `ops` is copied; `ctx` is passed to the callbacks. On failure
/// nothing is kept and `destroy` is not called.
///
/// # Safety
/// `cfg` is NULL or live; `name` is NULL or NUL-terminated; `ops` is NULL
/// or readable; the callbacks are valid functions and `ctx` usable from any
/// thread until `destroy`.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_config_set_balancer(
    cfg: *mut acrypto_engine_config,
    name_: *const c_char,
    ops: *const acrypto_balancer_ops,
    ctx: *mut c_void,
) -> acrypto_status {
    ffi_guard!({
        non_null!(cfg, ops);
        // SAFETY: NULL or NUL-terminated by the caller's promise.
        let n = tri!(unsafe { name(name_) });
        // SAFETY: non-NULL and readable by the caller's promise.
        let ops = unsafe { *ops };
        let Some(find) = ops.find_device else {
            return acrypto_status::NullArgument;
        };
        set_balancer(cfg, CBalancer { name: n.to_string(), ops, find, ctx });
        acrypto_status::Ok
    })
}
