//! `acrypto devices`: the engine's devices, their state and capabilities.
//!
//! The engine is built for this command and gone when it ends, so there
//! are no counters to show (they would always be zero): what is listed is
//! what a fresh engine knows, each device's driver, class, state, queue
//! bound and capability table (algorithm, key and IV sizes, the queue
//! length it wants, the driver's throughput hint if it gives one).

use super::{lower, print_json, CliResult};
use acrypto::{Algorithm, Capability, DeviceInfo, Engine, Stats};
use clap::Args;
use serde_json::{json, Value};

/// Arguments of `devices`.
#[derive(Args, Debug)]
pub struct DevicesArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Key sizes of an algorithm, in bytes, for listings.
pub fn key_sizes(alg: Algorithm) -> String {
    match alg.key_len() {
        None => "any".into(),
        Some(0) => "-".into(),
        Some(n) => n.to_string(),
    }
}

/// Counters as JSON.
pub fn stats_json(s: &Stats) -> Value {
    json!({
        "submitted": s.submitted,
        "completed_ok": s.completed_ok,
        "completed_err": s.completed_err,
        "in_flight": s.in_flight,
        "bytes": s.bytes,
        "queue_depth": s.queue_depth,
        "busy_seconds": s.busy.as_secs_f64(),
        "rejected_busy": s.rejected_busy,
        "moved": s.moved,
        "latency_p50_us": s.latency_quantile(0.5).map(|d| d.as_micros() as u64),
        "latency_p99_us": s.latency_quantile(0.99).map(|d| d.as_micros() as u64),
    })
}

fn cap_json(c: &Capability) -> Value {
    json!({
        "algorithm": c.alg.to_string(),
        "kind": lower(c.alg.kind()),
        "key_bytes": c.alg.key_len(),
        "iv_bytes": c.alg.iv_len(),
        "max_queue": c.max_queue,
        "rate_bytes_per_sec": c.rate,
    })
}

/// One device as JSON.
pub fn device_json(d: &DeviceInfo) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "driver": d.driver,
        "detail": d.detail,
        "class": lower(d.class),
        "state": lower(d.state),
        "broken_reason": d.broken_reason,
        "queue_capacity": d.queue_capacity,
        "capabilities": d.capabilities.iter().map(cap_json).collect::<Vec<_>>(),
    })
}

/// Runs `devices`.
pub fn run(engine: &Engine, a: &DevicesArgs) -> CliResult<()> {
    let devs = engine.devices();
    if a.json {
        return print_json(&json!({
            "balancer": engine.balancer_name(),
            "devices": devs.iter().map(device_json).collect::<Vec<_>>(),
        }));
    }
    let n = devs.len();
    let mut s = format!("{n} device{}, balancer {}\n", if n == 1 { "" } else { "s" }, engine.balancer_name());
    s += "(queue: most requests the device holds; max queue: most of one algorithm it wants queued; \
          rate: the driver's throughput hint for balancers, - if it gives none)\n";
    for d in &devs {
        s += &format!(
            "\n{}  driver {}{}  class {}  state {}{}  queue {}\n",
            d.name,
            d.driver,
            d.detail.as_ref().map(|x| format!(" ({x})")).unwrap_or_default(),
            lower(d.class),
            lower(d.state),
            d.broken_reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default(),
            d.queue_capacity,
        );
        s += &format!(
            "  {:<13} {:<6} {:>9} {:>8} {:>9} {:>14}\n",
            "algorithm", "kind", "key bytes", "iv bytes", "max queue", "rate B/s"
        );
        for c in &d.capabilities {
            s += &format!(
                "  {:<13} {:<6} {:>9} {:>8} {:>9} {:>14}\n",
                c.alg.to_string(),
                lower(c.alg.kind()),
                key_sizes(c.alg),
                if c.alg.iv_len() == 0 { "-".to_string() } else { c.alg.iv_len().to_string() },
                c.max_queue,
                c.rate.map_or("-".to_string(), |r| r.to_string())
            );
        }
    }
    super::print_line(s.trim_end())
}
