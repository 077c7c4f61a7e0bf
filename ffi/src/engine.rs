//! Engines: creation (default, device list, configuration), devices,
//! statistics, shutdown.

use crate::balancer::CBalancer;
use crate::session::Deliveries;
use crate::{acrypto_status, alg_to_u32, ffi_guard, fill_name, name, non_null, put, text, tri, ACRYPTO_MAX_NAME_LEN};
use acrypto_core::{
    Affinity, AffinityKey, Balancer, DeviceClass, DeviceState, Engine, LeastLoaded, RateAware, RemoveMode, RoundRobin,
    ShutdownMode, SizeThreshold, Stats,
};
use std::ffi::c_char;
use std::sync::Arc;

/// An engine: devices, balancer, completion workers, statistics.
///
/// Created by `acrypto_engine_new*`, released by `acrypto_engine_free`.
/// Every function taking an engine may be called from any thread at once.
pub struct acrypto_engine {
    pub(crate) engine: Engine,
    pub(crate) deliveries: Arc<Deliveries>,
}

/// Settings for `acrypto_engine_new_config`: created by
/// `acrypto_engine_config_new`, released by `acrypto_engine_config_free`.
/// Not thread-safe (use it from one thread).
pub struct acrypto_engine_config {
    devices: Option<String>,
    balancer: Option<Box<dyn Balancer>>,
    max_in_flight: Option<usize>,
    max_in_flight_bytes: Option<u64>,
    completion_workers: Option<usize>,
}

fn build(devices: &str, cfg: Option<&mut acrypto_engine_config>) -> Result<Engine, acrypto_status> {
    let mut b = Engine::builder();
    if !devices.trim().is_empty() {
        for d in acrypto_drivers::spec::parse(devices)? {
            b = b.device_arc(d);
        }
    }
    if let Some(cfg) = cfg {
        if let Some(bal) = cfg.balancer.take() {
            b = b.balancer_boxed(bal);
        }
        if let Some(n) = cfg.max_in_flight {
            b = b.max_in_flight(n);
        }
        if let Some(n) = cfg.completion_workers {
            b = b.completion_workers(n);
        }
        if let Some(n) = cfg.max_in_flight_bytes {
            b = b.max_in_flight_bytes(n);
        }
    }
    Ok(b.build()?)
}

fn publish(engine: Engine, out: *mut *mut acrypto_engine) -> acrypto_status {
    let e = Box::into_raw(Box::new(acrypto_engine { engine, deliveries: Arc::default() }));
    // SAFETY: out was checked non-NULL by the caller of this helper.
    unsafe { put(out, e) };
    acrypto_status::Ok
}

/// Creates an engine with the default devices: the specification in the
/// environment variable `ACRYPTO_DEVICES` (e.g. "soft:4"), else one
/// software device per CPU core. Least-loaded balancing, one completion
/// worker. On success writes the new engine to `*out`; free it with
/// `acrypto_engine_free`.
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_new(out: *mut *mut acrypto_engine) -> acrypto_status {
    ffi_guard!({
        non_null!(out);
        let e = tri!(build(&acrypto_drivers::spec::from_env(), None));
        publish(e, out)
    })
}

/// Creates an engine with the devices of a specification such as
/// "soft:4" (a comma-separated list of `KIND[:COUNT]`; today KIND is "soft").
///
/// # Safety
/// `devices` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_new_devices(
    devices: *const c_char,
    out: *mut *mut acrypto_engine,
) -> acrypto_status {
    ffi_guard!({
        non_null!(out);
        // SAFETY: NULL or NUL-terminated by the caller's promise.
        let spec = tri!(unsafe { text(devices) });
        if spec.trim().is_empty() {
            return acrypto_status::InvalidArgument;
        }
        let e = tri!(build(spec, None));
        publish(e, out)
    })
}

/// Creates an empty engine configuration: default devices (as
/// `acrypto_engine_new`), least-loaded balancing, one completion worker,
/// 65536 requests in flight at most, the default byte limit (see
/// `acrypto_engine_config_set_max_in_flight_bytes`).
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_config_new(out: *mut *mut acrypto_engine_config) -> acrypto_status {
    ffi_guard!({
        non_null!(out);
        let c = acrypto_engine_config {
            devices: None,
            balancer: None,
            max_in_flight: None,
            max_in_flight_bytes: None,
            completion_workers: None,
        };
        // SAFETY: out checked non-NULL.
        unsafe { put(out, Box::into_raw(Box::new(c))) };
        acrypto_status::Ok
    })
}

/// Releases a configuration (NULL is fine). A C balancer set on it and not
/// used by `acrypto_engine_new_config` has its `destroy` called here.
///
/// # Safety
/// `cfg` is NULL or from `acrypto_engine_config_new`, not yet freed.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_config_free(cfg: *mut acrypto_engine_config) {
    // SAFETY: the caller's contract is free_handle's.
    unsafe { crate::free_handle(cfg, drop) };
}

fn cfg_mut<'a>(cfg: *mut acrypto_engine_config) -> &'a mut acrypto_engine_config {
    // SAFETY: callers check for NULL first; C promises a live, unshared config.
    unsafe { &mut *cfg }
}

/// Sets the device specification ("soft:4"; "" for no device at all, for
/// an engine that will get only C-registered devices).
///
/// # Safety
/// `cfg` is NULL or a live configuration; `devices` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_config_set_devices(
    cfg: *mut acrypto_engine_config,
    devices: *const c_char,
) -> acrypto_status {
    ffi_guard!({
        non_null!(cfg);
        // SAFETY: NULL or NUL-terminated by the caller's promise.
        let spec = tri!(unsafe { text(devices) });
        if !spec.trim().is_empty() {
            // Check it now, so the error comes where the mistake is.
            tri!(acrypto_drivers::spec::parse(spec));
        }
        cfg_mut(cfg).devices = Some(spec.to_string());
        acrypto_status::Ok
    })
}

/// Chooses a built-in balancer by name: "least-loaded" (default),
/// "round-robin", "affinity-session", "affinity-caller", "rate-aware",
/// "size-threshold" (4096 bytes). Replaces any balancer set before.
///
/// # Safety
/// `cfg` is NULL or a live configuration; `name` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_config_set_balancer_name(
    cfg: *mut acrypto_engine_config,
    balancer: *const c_char,
) -> acrypto_status {
    ffi_guard!({
        non_null!(cfg);
        // SAFETY: NULL or NUL-terminated by the caller's promise.
        let n = tri!(unsafe { name(balancer) });
        let b: Box<dyn Balancer> = match n {
            "least-loaded" => Box::new(LeastLoaded),
            "round-robin" => Box::new(RoundRobin::default()),
            "affinity-session" => Box::new(Affinity(AffinityKey::Session)),
            "affinity-caller" => Box::new(Affinity(AffinityKey::Caller)),
            "rate-aware" => Box::new(RateAware::default()),
            "size-threshold" => Box::new(SizeThreshold { threshold: 4096 }),
            _ => return acrypto_status::InvalidArgument,
        };
        cfg_mut(cfg).balancer = Some(b);
        acrypto_status::Ok
    })
}

/// Sets the most requests accepted and not yet completed (at least 1);
/// beyond it submissions fail with `ACRYPTO_STATUS_BUSY`.
///
/// # Safety
/// `cfg` is NULL or a live configuration.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_config_set_max_in_flight(
    cfg: *mut acrypto_engine_config,
    max_in_flight: usize,
) -> acrypto_status {
    ffi_guard!({
        non_null!(cfg);
        if max_in_flight == 0 || max_in_flight > (1 << 30) {
            return acrypto_status::InvalidArgument;
        }
        cfg_mut(cfg).max_in_flight = Some(max_in_flight);
        acrypto_status::Ok
    })
}

/// Sets the most bytes of requests accepted and not yet completed (a
/// request counts its input, output buffer, IV and tag); beyond it
/// submissions fail with `ACRYPTO_STATUS_BUSY`. One request larger than the
/// limit is still accepted when nothing else is in flight. 0 keeps the
/// default: the environment variable `ACRYPTO_MAX_IN_FLIGHT_BYTES` (bytes,
/// or with a K, M or G suffix) if set, else an eighth of physical memory
/// between 64 MiB and 1 GiB.
///
/// # Safety
/// `cfg` is NULL or a live configuration.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_config_set_max_in_flight_bytes(
    cfg: *mut acrypto_engine_config,
    max_bytes: u64,
) -> acrypto_status {
    ffi_guard!({
        non_null!(cfg);
        cfg_mut(cfg).max_in_flight_bytes = (max_bytes != 0).then_some(max_bytes);
        acrypto_status::Ok
    })
}

/// Sets the number of threads running deferred (non-DIRECT) callbacks,
/// 0 to 64; 0 runs every callback in the completing context.
///
/// # Safety
/// `cfg` is NULL or a live configuration.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_config_set_completion_workers(
    cfg: *mut acrypto_engine_config,
    workers: usize,
) -> acrypto_status {
    ffi_guard!({
        non_null!(cfg);
        if workers > 64 {
            return acrypto_status::InvalidArgument;
        }
        cfg_mut(cfg).completion_workers = Some(workers);
        acrypto_status::Ok
    })
}

pub(crate) fn set_balancer(cfg: *mut acrypto_engine_config, b: CBalancer) {
    cfg_mut(cfg).balancer = Some(Box::new(b));
}

/// Creates an engine from a configuration. The configuration stays the
/// caller's (free it with `acrypto_engine_config_free`); a C balancer set
/// on it moves into the engine.
///
/// # Safety
/// `cfg` is NULL or a live configuration; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_new_config(
    cfg: *mut acrypto_engine_config,
    out: *mut *mut acrypto_engine,
) -> acrypto_status {
    ffi_guard!({
        non_null!(cfg, out);
        let c = cfg_mut(cfg);
        let spec = c.devices.clone().unwrap_or_else(acrypto_drivers::spec::from_env);
        let e = tri!(build(&spec, Some(c)));
        publish(e, out)
    })
}

/// Shuts the engine down and releases it (NULL is fine). Queued work is
/// canceled (its owners see `ACRYPTO_STATUS_CANCELED`); work a device
/// already took completes; every callback has run when this returns. Call
/// `acrypto_engine_wait_idle` first to let work finish instead.
/// Sessions and queues made from the engine stay valid to free; submitting
/// on them fails with `ACRYPTO_STATUS_SHUT_DOWN`.
///
/// Called from inside a callback of this engine, it frees nothing and
/// returns `ACRYPTO_STATUS_WOULD_DEADLOCK` (the shutdown would wait for
/// the callback that called it); free the engine after the callback
/// returned. Never call it from a C driver's thread of this engine.
/// Returns `ACRYPTO_STATUS_OK` otherwise (also for NULL).
///
/// # Safety
/// `engine` is NULL or from `acrypto_engine_new*`, not yet freed, and no
/// other thread uses it any more.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_free(engine: *mut acrypto_engine) -> acrypto_status {
    ffi_guard!({
        // SAFETY: NULL is checked first; C promises a live engine.
        if !engine.is_null() && unsafe { &*engine }.deliveries.inside_callback() {
            crate::last_error::set("acrypto_engine_free called from inside a callback of the same engine");
            return acrypto_status::WouldDeadlock;
        }
        // SAFETY: the caller's contract is free_handle's.
        unsafe { crate::free_handle(engine, |e| e.engine.shutdown(ShutdownMode::Cancel)) };
        acrypto_status::Ok
    })
}

pub(crate) fn engine_ref<'a>(e: *const acrypto_engine) -> &'a Engine {
    // SAFETY: callers check for NULL first; C promises a live engine.
    unsafe { &(*e).engine }
}

/// Shutdown and removal modes.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum acrypto_shutdown_mode {
    /// Let queued work run to completion.
    Drain = 0,
    /// Complete queued work with `ACRYPTO_STATUS_CANCELED`.
    Cancel = 1,
}

/// Shuts the engine down without freeing it: no new work; queued work
/// drains or is canceled (`mode`: an `acrypto_shutdown_mode`); returns when
/// every callback has run. Idempotent.
///
/// # Safety
/// `engine` is NULL or a live engine.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_shutdown(engine: *const acrypto_engine, mode: u32) -> acrypto_status {
    ffi_guard!({
        non_null!(engine);
        let m = match mode {
            0 => ShutdownMode::Drain,
            1 => ShutdownMode::Cancel,
            _ => return acrypto_status::InvalidArgument,
        };
        engine_ref(engine).shutdown(m);
        acrypto_status::Ok
    })
}

/// Blocks until every request submitted on the engine's sessions has
/// completed and been delivered: its callback returned, its completion is
/// in its queue, or its pending handle is ready (the "wait for all").
/// Called from inside a callback of this engine it waits for nothing and
/// returns `ACRYPTO_STATUS_WOULD_DEADLOCK` (it would wait for itself).
///
/// # Safety
/// `engine` is NULL or a live engine.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_wait_idle(engine: *const acrypto_engine) -> acrypto_status {
    ffi_guard!({
        non_null!(engine);
        // SAFETY: engine checked non-NULL; C promises it live.
        let deliveries = &unsafe { &*engine }.deliveries;
        if deliveries.inside_callback() {
            crate::last_error::set("acrypto_engine_wait_idle called from inside a callback of the same engine");
            return acrypto_status::WouldDeadlock;
        }
        if let Err(e) = engine_ref(engine).wait_idle() {
            return e.into();
        }
        deliveries.wait_zero();
        acrypto_status::Ok
    })
}

/// Counters of an engine or a device.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct acrypto_stats {
    /// Requests accepted (engine) or work items queued (device).
    pub submitted: u64,
    /// Completed successfully.
    pub completed_ok: u64,
    /// Completed with an error.
    pub completed_err: u64,
    /// Accepted and not yet completed.
    pub in_flight: u64,
    /// Payload bytes processed.
    pub bytes: u64,
    /// Items waiting in queues now.
    pub queue_depth: u64,
    /// Nanoseconds drivers spent on work (device).
    pub busy_ns: u64,
    /// Submissions refused with `ACRYPTO_STATUS_BUSY`.
    pub rejected_busy: u64,
    /// Items moved off a broken or removed device.
    pub moved: u64,
    /// Latency histogram: entry i counts latencies below 2^i microseconds.
    pub latency_us_log2: [u64; 24],
}

impl From<&Stats> for acrypto_stats {
    fn from(s: &Stats) -> Self {
        let mut lat = [0u64; 24];
        for (d, v) in lat.iter_mut().zip(s.latency_us_log2.iter()) {
            *d = *v;
        }
        acrypto_stats {
            submitted: s.submitted,
            completed_ok: s.completed_ok,
            completed_err: s.completed_err,
            in_flight: s.in_flight,
            bytes: s.bytes,
            queue_depth: s.queue_depth as u64,
            busy_ns: s.busy.as_nanos().min(u64::MAX as u128) as u64,
            rejected_busy: s.rejected_busy,
            moved: s.moved,
            latency_us_log2: lat,
        }
    }
}

/// Writes the engine-wide counters to `*out`.
///
/// # Safety
/// `engine` is NULL or a live engine; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_stats(
    engine: *const acrypto_engine,
    out: *mut acrypto_stats,
) -> acrypto_status {
    ffi_guard!({
        non_null!(engine, out);
        let s = engine_ref(engine).stats();
        // SAFETY: out checked non-NULL.
        unsafe { put(out, acrypto_stats::from(&s)) };
        acrypto_status::Ok
    })
}

/// Device classes.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum acrypto_device_class {
    /// CPU worker threads.
    Cpu = 0,
    /// A kernel crypto driver.
    Kernel = 1,
    /// A hardware accelerator.
    Accelerator = 2,
    /// Anything else.
    Other = 3,
}

pub(crate) fn class_to_u32(c: DeviceClass) -> u32 {
    match c {
        DeviceClass::Cpu => 0,
        DeviceClass::Kernel => 1,
        DeviceClass::Accelerator => 2,
        DeviceClass::Other => 3,
    }
}

pub(crate) fn class_from_u32(v: u32) -> Result<DeviceClass, acrypto_status> {
    Ok(match v {
        0 => DeviceClass::Cpu,
        1 => DeviceClass::Kernel,
        2 => DeviceClass::Accelerator,
        3 => DeviceClass::Other,
        _ => return Err(acrypto_status::InvalidArgument),
    })
}

/// Device states.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum acrypto_device_state {
    /// Takes new work.
    Active = 0,
    /// Failed; takes no new work.
    Broken = 1,
    /// Being removed or removed.
    Removed = 2,
}

/// What the engine tells about one device (a copy; no pointers inside).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct acrypto_device_info {
    /// Engine-unique id.
    pub id: u64,
    /// Device name, NUL-terminated (truncated to 63 bytes).
    pub name: [c_char; 64],
    /// Driver kind ("soft", or what a C driver said), NUL-terminated.
    pub driver: [c_char; 64],
    /// An `acrypto_device_class`.
    pub class_: u32,
    /// An `acrypto_device_state`.
    pub state: u32,
    /// Bit i set: the device can do `acrypto_alg` i (i below 32; the
    /// algorithms from 32 on are not in the mask).
    pub alg_mask: u32,
    /// The queue bound.
    pub queue_capacity: u64,
    /// The device's counters.
    pub stats: acrypto_stats,
}

/// Writes the number of devices of the engine to `*out`.
///
/// # Safety
/// `engine` is NULL or a live engine; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_device_count(engine: *const acrypto_engine, out: *mut usize) -> acrypto_status {
    ffi_guard!({
        non_null!(engine, out);
        let n = engine_ref(engine).devices().len();
        // SAFETY: out checked non-NULL.
        unsafe { put(out, n) };
        acrypto_status::Ok
    })
}

/// Writes what the engine knows of its device number `index` (0-based, in
/// registration order) to `*out`. `ACRYPTO_STATUS_NO_SUCH_DEVICE` when
/// `index` is out of range (devices may come and go between calls).
///
/// # Safety
/// `engine` is NULL or a live engine; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_device_info(
    engine: *const acrypto_engine,
    index: usize,
    out: *mut acrypto_device_info,
) -> acrypto_status {
    ffi_guard!({
        non_null!(engine, out);
        let devs = engine_ref(engine).devices();
        let Some(d) = devs.get(index) else {
            return acrypto_status::NoSuchDevice;
        };
        let mut info = acrypto_device_info {
            id: d.id,
            name: [0; 64],
            driver: [0; 64],
            class_: class_to_u32(d.class),
            state: match d.state {
                DeviceState::Active => 0,
                DeviceState::Broken => 1,
                DeviceState::Removed => 2,
            },
            alg_mask: d
                .capabilities
                .iter()
                .map(|c| alg_to_u32(c.alg))
                .filter(|&i| i < 32)
                .fold(0u32, |m, i| m | (1u32 << i)),
            queue_capacity: d.queue_capacity as u64,
            stats: acrypto_stats::from(&d.stats),
        };
        fill_name(&mut info.name, &d.name);
        fill_name(&mut info.driver, &d.driver);
        // SAFETY: out checked non-NULL.
        unsafe { put(out, info) };
        acrypto_status::Ok
    })
}

/// Marks a device broken by name: it takes no more work and its queue
/// moves to other capable devices (work bound to it fails).
///
/// # Safety
/// `engine` is NULL or a live engine; `device` and `reason` are NULL or
/// NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_mark_broken(
    engine: *const acrypto_engine,
    device: *const c_char,
    reason: *const c_char,
) -> acrypto_status {
    ffi_guard!({
        non_null!(engine);
        // SAFETY: NULL or NUL-terminated by the caller's promise.
        let d = tri!(unsafe { name(device) });
        // SAFETY: as above.
        let r = tri!(unsafe { text(reason) });
        tri!(engine_ref(engine).mark_broken(d, r));
        acrypto_status::Ok
    })
}

/// How queued work leaves a removed device.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum acrypto_remove_mode {
    /// The device finishes its queue first.
    Drain = 0,
    /// Queued work completes with `ACRYPTO_STATUS_CANCELED`.
    Cancel = 1,
    /// Queued work moves to other devices (bound work fails).
    Migrate = 2,
}

/// Removes a device by name. `mode` is an `acrypto_remove_mode`. Returns once the driver finished what it
/// took and was detached. Never call it from that device's driver thread.
///
/// # Safety
/// `engine` is NULL or a live engine; `device` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn acrypto_engine_remove_device(
    engine: *const acrypto_engine,
    device: *const c_char,
    mode: u32,
) -> acrypto_status {
    ffi_guard!({
        non_null!(engine);
        // SAFETY: NULL or NUL-terminated by the caller's promise.
        let d = tri!(unsafe { name(device) });
        let m = match mode {
            0 => RemoveMode::Drain,
            1 => RemoveMode::Cancel,
            2 => RemoveMode::Migrate,
            _ => return acrypto_status::InvalidArgument,
        };
        tri!(engine_ref(engine).remove_device(d, m));
        acrypto_status::Ok
    })
}

const _: () = assert!(ACRYPTO_MAX_NAME_LEN < 64);
