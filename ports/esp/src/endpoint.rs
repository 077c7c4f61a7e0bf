//! The endpoint: the SAs, their sessions and counters, and the processing
//! of one batch of packets through the engine. No I/O here (the tunnel
//! does that), so tests can drive it with packets of their own.

use crate::codec::{self, Drop, Transform};
use crate::config::{Config, Dir, Net, SaConfig};
use crate::replay::ReplayWindow;
use acrypto::{Completion, CompletionQueue, Done, Engine, Error, Request, Session};
use serde::Serialize;

/// Counters of one SA.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct SaCounters {
    /// Packets processed (sent, or received and delivered).
    pub packets: u64,
    /// Inner bytes of those packets.
    pub bytes: u64,
    /// Packets refused by the anti-replay window.
    pub replay_drops: u64,
    /// Packets whose ICV did not verify.
    pub auth_failures: u64,
    /// Other drops: bad padding or next header, bad inner packet, policy,
    /// engine errors, sequence number exhausted.
    pub other_drops: u64,
    /// Outbound: the last sequence number sent. Inbound: the highest one
    /// accepted (the right edge of the replay window).
    pub seq: u32,
}

/// Drops that belong to no SA.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Global {
    /// Inbound packets too short to carry an ESP header (or the SA's minimum).
    pub truncated: u64,
    /// Inbound packets with an SPI of no inbound SA.
    pub unknown_spi: u64,
    /// RFC 3948 non-ESP (IKE) packets and NAT keepalives.
    pub non_esp: u64,
    /// Outbound inner packets that are not IPv4 or match no policy.
    pub no_policy: u64,
    /// Inner packets longer than fit the MTU after ESP.
    pub too_big: u64,
}

/// One SA and its counters, for status output.
#[derive(Debug, Clone, Serialize)]
pub struct SaStatus {
    /// "in" or "out".
    pub dir: &'static str,
    /// The SPI, as 0x… .
    pub spi: String,
    /// Outer source and destination.
    pub src: String,
    /// Outer destination.
    pub dst: String,
    /// The transform, as the kernel names it.
    pub transform: String,
    /// Replay window size (inbound).
    pub replay_window: u32,
    /// The counters.
    #[serde(flatten)]
    pub counters: SaCounters,
}

struct OutSa {
    cfg: SaConfig,
    session: Session,
    seq: u32,
    iv_mask: u64,
    c: SaCounters,
}

struct InSa {
    cfg: SaConfig,
    session: Session,
    window: ReplayWindow,
    selectors: Vec<(Net, Net)>,
    c: SaCounters,
}

/// Random bytes fetched from the OS CSPRNG in batches of 4 KiB (256 CBC IVs
/// per call).
struct IvPool {
    buf: Vec<u8>,
    used: usize,
}

impl IvPool {
    const SIZE: usize = 4096;
    fn new() -> Self {
        IvPool { buf: vec![0; Self::SIZE], used: Self::SIZE }
    }
    fn take(&mut self, n: usize) -> std::io::Result<&[u8]> {
        if self.used + n > self.buf.len() {
            getrandom::getrandom(&mut self.buf).map_err(|e| std::io::Error::other(e.to_string()))?;
            self.used = 0;
        }
        let s = &self.buf[self.used..self.used + n];
        self.used += n;
        Ok(s)
    }
}

/// The requests of one session in a batch: (outbound, SA index, items).
type Group = (bool, usize, Vec<(Request, Completion)>);

enum Slot {
    Out { sa: usize, len: usize },
    In { sa: usize, seq: u32 },
}

/// The endpoint of one tunnel.
pub struct Endpoint {
    engine: Engine,
    cq: CompletionQueue,
    out: Vec<OutSa>,
    inb: Vec<InSa>,
    out_policies: Vec<(Net, Net, usize)>,
    ivs: IvPool,
    /// Largest inner packet accepted outbound.
    max_inner: usize,
    /// Drops that belong to no SA.
    pub global: Global,
    /// Batches processed and the packets in them (for the batch-size figure).
    pub batches: u64,
    /// Packets in all batches.
    pub batched_packets: u64,
}

fn sessions(engine: &Engine, cfg: &SaConfig, outbound: bool) -> Result<Session, Error> {
    engine.session(cfg.transform.session(outbound))
}

impl Endpoint {
    /// An endpoint for `cfg` on `engine` (one session per SA).
    ///
    /// # Errors
    /// The engine refused a session (no device for the algorithm, …), or
    /// the CSPRNG failed.
    pub fn new(cfg: &Config, engine: Engine) -> Result<Endpoint, Error> {
        let mut out = Vec::new();
        for sa in &cfg.outbound {
            let mut mask = [0u8; 8];
            getrandom::getrandom(&mut mask).map_err(|e| Error::InvalidArgument(format!("getrandom: {e}")))?;
            out.push(OutSa {
                session: sessions(&engine, sa, true)?,
                cfg: sa.clone(),
                seq: 0,
                iv_mask: u64::from_be_bytes(mask),
                c: SaCounters::default(),
            });
        }
        let mut inb = Vec::new();
        for sa in &cfg.inbound {
            let selectors =
                cfg.policies.iter().filter(|p| p.dir == Dir::In && p.spi == sa.spi).map(|p| (p.src, p.dst)).collect();
            inb.push(InSa {
                session: sessions(&engine, sa, false)?,
                window: ReplayWindow::new(sa.replay_window),
                cfg: sa.clone(),
                selectors,
                c: SaCounters::default(),
            });
        }
        let out_policies = cfg
            .policies
            .iter()
            .filter(|p| p.dir == Dir::Out)
            .filter_map(|p| out.iter().position(|s| s.cfg.spi == p.spi).map(|i| (p.src, p.dst, i)))
            .collect();
        // What the outer packet may take: the TUN MTU bounds inner packets.
        let max_inner = cfg.mtu as usize;
        Ok(Endpoint {
            engine,
            cq: CompletionQueue::new(),
            out,
            inb,
            out_policies,
            ivs: IvPool::new(),
            max_inner,
            global: Global::default(),
            batches: 0,
            batched_packets: 0,
        })
    }

    /// Per-SA status, outbound SAs first.
    pub fn status(&self) -> Vec<SaStatus> {
        let row = |dir, cfg: &SaConfig, c: &SaCounters, w| SaStatus {
            dir,
            spi: format!("0x{:08x}", cfg.spi),
            src: cfg.src.to_string(),
            dst: cfg.dst.to_string(),
            transform: cfg.transform.describe(),
            replay_window: w,
            counters: c.clone(),
        };
        let mut v: Vec<SaStatus> = self.out.iter().map(|s| row("out", &s.cfg, &s.c, 0)).collect();
        v.extend(self.inb.iter().map(|s| row("in", &s.cfg, &s.c, s.window.size())));
        v
    }

    fn out_request(&mut self, inner: &[u8]) -> Option<(usize, Request)> {
        let Ok((src, dst)) = codec::inner_addrs(inner) else {
            self.global.no_policy += 1;
            return None;
        };
        let Some(&(_, _, i)) = self.out_policies.iter().find(|(s, d, _)| s.contains(src) && d.contains(dst)) else {
            self.global.no_policy += 1;
            return None;
        };
        if inner.len() > self.max_inner {
            self.global.too_big += 1;
            return None;
        }
        let sa = &mut self.out[i];
        // Without extended sequence numbers an SA carries 2^32 - 1 packets
        // (RFC 4303 §3.3.3): then it must be replaced, never wrap.
        if sa.seq == u32::MAX {
            sa.c.other_drops += 1;
            return None;
        }
        sa.seq += 1;
        sa.c.seq = sa.seq;
        let seq = sa.seq;
        let r = match &sa.cfg.transform {
            t @ Transform::CbcHmac { .. } => {
                let iv = match self.ivs.take(16) {
                    Ok(iv) => iv,
                    Err(_) => {
                        self.out[i].c.other_drops += 1;
                        return None;
                    }
                };
                t.encap_request(sa.cfg.spi, seq, iv, inner)
            }
            t @ Transform::Gcm { .. } => {
                let iv = (u64::from(seq) ^ sa.iv_mask).to_be_bytes();
                t.encap_request(sa.cfg.spi, seq, &iv, inner)
            }
        };
        Some((i, r))
    }

    fn in_request(&mut self, pkt: &[u8]) -> Option<(usize, u32, Request)> {
        // RFC 3948: a NAT keepalive is one 0xff byte; a non-ESP marker
        // (4 zero bytes where the SPI would be) precedes IKE.
        if pkt == [0xff] || (pkt.len() >= 4 && pkt[..4] == [0; 4]) {
            self.global.non_esp += 1;
            return None;
        }
        let Ok((spi, seq)) = codec::parse_header(pkt) else {
            self.global.truncated += 1;
            return None;
        };
        let Some(i) = self.inb.iter().position(|s| s.cfg.spi == spi) else {
            self.global.unknown_spi += 1;
            return None;
        };
        let sa = &mut self.inb[i];
        if sa.window.check(seq).is_err() {
            sa.c.replay_drops += 1;
            return None;
        }
        match sa.cfg.transform.decap_request(pkt) {
            Ok(r) => Some((i, seq, r)),
            Err(_) => {
                self.global.truncated += 1;
                None
            }
        }
    }

    /// Processes one batch: `outbound` inner packets from the TUN device
    /// become ESP packets appended to `to_net`; `inbound` ESP packets (from
    /// the SPI on) that verify become inner packets appended to `to_tun`.
    /// All of them go to the engine as one batch (one submission per SA);
    /// results come back in the order of the input. Everything dropped is
    /// counted.
    pub fn process(
        &mut self,
        outbound: &[&[u8]],
        inbound: &[&[u8]],
        to_net: &mut Vec<Vec<u8>>,
        to_tun: &mut Vec<Vec<u8>>,
    ) {
        let mut slots: Vec<Slot> = Vec::with_capacity(outbound.len() + inbound.len());
        // Requests grouped by session: (is_out, sa) -> items.
        let mut groups: Vec<Group> = Vec::new();
        let push = |groups: &mut Vec<Group>, out, sa, r: Request, cq: &CompletionQueue| {
            let item = (r, Completion::Queue(cq.clone()));
            match groups.iter_mut().find(|g| g.0 == out && g.1 == sa) {
                Some(g) => g.2.push(item),
                None => groups.push((out, sa, vec![item])),
            }
        };
        for p in outbound {
            if let Some((sa, r)) = self.out_request(p) {
                let r = r.with_user(slots.len() as u64);
                slots.push(Slot::Out { sa, len: p.len() });
                push(&mut groups, true, sa, r, &self.cq);
            }
        }
        for p in inbound {
            if let Some((sa, seq, r)) = self.in_request(p) {
                let r = r.with_user(slots.len() as u64);
                slots.push(Slot::In { sa, seq });
                push(&mut groups, false, sa, r, &self.cq);
            }
        }
        if slots.is_empty() {
            return;
        }
        self.batches += 1;
        self.batched_packets += slots.len() as u64;
        let mut done: Vec<Option<Done>> = (0..slots.len()).map(|_| None).collect();
        let mut expected = 0usize;
        for (out, sa, items) in groups {
            let session = if out { &self.out[sa].session } else { &self.inb[sa].session };
            let n = items.len();
            match self.engine.submit_batch(session, items) {
                Ok(_) => expected += n,
                Err(b) => {
                    expected += b.accepted;
                    // Busy: wait for room for this one and the rest.
                    let mut left = vec![b.rejected.request];
                    left.extend(b.rest.into_iter().map(|(r, _)| r));
                    for r in left {
                        let user = r.user as usize;
                        match self.engine.submit_blocking(session, r, Completion::Queue(self.cq.clone())) {
                            Ok(()) => expected += 1,
                            Err(rej) => {
                                done[user] = Some(Done { request: rej.request, status: Err(rej.error) });
                            }
                        }
                    }
                }
            }
        }
        let mut got = 0;
        while got < expected {
            for d in self.cq.wait(64) {
                let i = d.request.user as usize;
                if i < done.len() {
                    done[i] = Some(d);
                    got += 1;
                }
            }
        }
        // Per-SA order is the order of the input: walk the slots in order.
        for (slot, d) in slots.into_iter().zip(done) {
            let Some(d) = d else { continue };
            match slot {
                Slot::Out { sa, len } => {
                    let sa = &mut self.out[sa];
                    match d.status {
                        Ok(()) => {
                            let mut pkt = Vec::with_capacity(len + 64);
                            sa.cfg.transform.encap_finish(&d.request, &mut pkt);
                            to_net.push(pkt);
                            sa.c.packets += 1;
                            sa.c.bytes += len as u64;
                        }
                        Err(_) => sa.c.other_drops += 1,
                    }
                }
                Slot::In { sa, seq } => {
                    let sa = &mut self.inb[sa];
                    match d.status {
                        Ok(()) => {}
                        Err(Error::VerifyFailed) => {
                            sa.c.auth_failures += 1;
                            continue;
                        }
                        Err(_) => {
                            sa.c.other_drops += 1;
                            continue;
                        }
                    }
                    // The ICV verified: now the window moves.
                    if sa.window.commit(seq).is_err() {
                        sa.c.replay_drops += 1;
                        continue;
                    }
                    sa.c.seq = sa.window.top();
                    let mut pt = d.request.data;
                    let r = codec::check_trailer(&pt).and_then(|n| {
                        pt.truncate(n);
                        let (s, dst) = codec::inner_addrs(&pt)?;
                        if sa.selectors.iter().any(|(a, b)| a.contains(s) && b.contains(dst)) {
                            Ok(())
                        } else {
                            Err(Drop::Policy)
                        }
                    });
                    match r {
                        Ok(()) => {
                            sa.c.packets += 1;
                            sa.c.bytes += pt.len() as u64;
                            to_tun.push(pt);
                        }
                        Err(Drop::Dummy) => {}
                        Err(_) => sa.c.other_drops += 1,
                    }
                }
            }
        }
    }
}
