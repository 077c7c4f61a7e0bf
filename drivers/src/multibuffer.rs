//! Multi-buffer AES-CBC encryption: one CBC-encrypt chain is bound by the
//! latency of the AES rounds (each block waits for the previous one), but
//! independent chains are not. Requests under the same key run as lanes:
//! block `i` of every lane goes through RustCrypto's parallel block API
//! (`BlockEncrypt::encrypt_blocks`, which the `aes` crate's AES-NI backend
//! pipelines 8 blocks at a time) in one call. The chaining (XOR with the
//! previous ciphertext block, or the IV) is ours; the primitive is theirs.
//! A lane whose request ends leaves, and the next request of the same key
//! takes its place.
//!
//! Requests under different keys run as separate lane sets, one per key:
//! `aes::hazmat` offers single AES rounds but neither the key expansion nor
//! the last round, so giving each lane its own key would mean writing part
//! of AES here, which this crate does not do.

use crate::crypto::apply_steps;
use crate::schedule::{schedule_for, Schedule};
use acrypto_core::{Algorithm, CipherMode, Error, Op, Request, Step};
use aes::cipher::consts::U16;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::typenum::Unsigned;
use aes::cipher::{Block, BlockBackend, BlockClosure, BlockEncrypt, BlockSizeUser};
use subtle::ConstantTimeEq;

/// Most lanes run together (two AES-NI pipelines of 8 blocks).
pub const LANES: usize = 16;
const BLOCK: usize = 16;

/// How far a chain has gone: the blocks already encrypted and the last
/// ciphertext block (what the next block is chained to). A chain that has
/// not started (`blocks == 0`) is chained to its IV.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Blocks already encrypted.
    pub blocks: usize,
    prev: [u8; BLOCK],
}

/// CBC-encrypts every `(iv, data)` chain in place under `cipher`, up to
/// [`LANES`] chains at a time. Each `data` is a multiple of 16 bytes (the
/// caller checked; a trailing partial block would be left as it is).
pub fn cbc_encrypt_lanes<C>(cipher: &C, chains: Vec<([u8; BLOCK], &mut [u8])>)
where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut progress = vec![Progress::default(); chains.len()];
    let chains = chains.into_iter().zip(progress.iter_mut()).map(|((iv, d), p)| (iv, p, d)).collect();
    cbc_encrypt_lanes_until(cipher, chains, &mut |_| false);
}

/// As [`cbc_encrypt_lanes`], resuming each chain where its [`Progress`]
/// says and recording how far it got. Each time lanes have finished,
/// fewer than [`LANES`] remain and no chain of this call is left to take
/// their place, `stop(remaining)` is asked whether to return now (so that new work can take the free lanes); the chains not
/// finished then resume in a later call with their progress.
pub fn cbc_encrypt_lanes_until<C>(
    cipher: &C,
    chains: Vec<([u8; BLOCK], &mut Progress, &mut [u8])>,
    stop: &mut dyn FnMut(usize) -> bool,
) where
    C: BlockEncrypt + BlockSizeUser<BlockSize = U16>,
{
    let mut waiting = chains
        .into_iter()
        .filter_map(|(iv, p, d)| {
            let rest = d.as_chunks_mut::<BLOCK>().0.get_mut(p.blocks..).filter(|r| !r.is_empty())?;
            if p.blocks == 0 {
                p.prev = iv;
            }
            Some((p, rest))
        })
        .peekable();
    // Lane i: the blocks it has left, its progress, and in `blocks[i]` the
    // previous ciphertext block (the IV at first), which the next
    // plaintext block is XORed into and then encrypted in place.
    let mut data: [&mut [[u8; BLOCK]]; LANES] = Default::default();
    let mut prog: [Option<&mut Progress>; LANES] = Default::default();
    let mut blocks: [Block<C>; LANES] = Default::default();
    let mut n = 0;
    loop {
        while n < LANES {
            match waiting.next() {
                Some((p, d)) => {
                    data[n] = d;
                    blocks[n] = p.prev.into();
                    prog[n] = Some(p);
                    n += 1;
                }
                None => break,
            }
        }
        if n == 0 {
            return;
        }
        // Every lane has at least this many blocks left: run them without
        // checking for the end of a lane.
        // Never 0: lanes are filled with chains that have blocks left, and
        // a lane that runs out leaves below.
        let run = data[..n].iter().map(|d| d.len()).min().unwrap_or(1);
        cipher.encrypt_with_backend(LaneRun { blocks: &mut blocks, data: &mut data[..n], run });
        for d in data[..n].iter_mut() {
            *d = &mut std::mem::take(d)[run..];
        }
        for (p, b) in prog[..n].iter_mut().zip(blocks[..n].iter()) {
            if let Some(p) = p {
                p.blocks += run;
                p.prev = (*b).into();
            }
        }
        // Finished chains leave (the last lane takes the place); their
        // places are refilled above, or by the caller's new work.
        let mut i = 0;
        while i < n {
            if data[i].is_empty() {
                n -= 1;
                data.swap(i, n);
                blocks.swap(i, n);
                prog.swap(i, n);
                prog[n] = None;
            } else {
                i += 1;
            }
        }
        // Chains of this call still waiting take the free lanes first; only
        // then is there room for the caller's new work.
        if n < LANES && waiting.peek().is_none() && stop(n) {
            return;
        }
    }
}

/// The blocks of one run of the lanes, as a closure the cipher calls with
/// its backend (RustCrypto's `BlockClosure`): the whole run goes through
/// one backend, without the per-call dispatch of `encrypt_blocks`.
struct LaneRun<'a, 'b> {
    /// One chain block per lane (`LANES` of them; the first `data.len()`
    /// are lanes, the rest padding).
    blocks: &'a mut [GenericArray<u8, U16>; LANES],
    data: &'a mut [&'b mut [[u8; BLOCK]]],
    /// Blocks every lane has left (at least 1).
    run: usize,
}

impl BlockSizeUser for LaneRun<'_, '_> {
    type BlockSize = U16;
}

impl BlockClosure for LaneRun<'_, '_> {
    fn call<B: BlockBackend<BlockSize = U16>>(self, backend: &mut B) {
        let LaneRun { blocks, data, run } = self;
        let n = data.len();
        // Lanes rounded up to whole parallel batches of the backend (8 for
        // AES-NI): encrypting a padding block costs less than running the
        // last lanes one block at a time. Padding blocks are never read.
        let par = B::ParBlocksSize::USIZE.max(1);
        let width = match n.div_ceil(par) * par {
            w if w <= LANES => w,
            _ => n,
        };
        let encrypt = |blocks: &mut [GenericArray<u8, U16>], backend: &mut B| {
            let mut chunks = blocks.chunks_exact_mut(par);
            for c in &mut chunks {
                backend.proc_par_blocks_inplace(GenericArray::from_mut_slice(c));
            }
            backend.proc_tail_blocks_inplace(chunks.into_remainder());
        };
        // Block `j` of every lane: XORed into the chain, all lanes
        // encrypted together, then one pass writes each ciphertext block
        // back and XORs it with the lane's next plaintext block (the next
        // batch's input). Indexing by `j` keeps the per-block work to that
        // pass (the lanes' slices shrink once per run, in the caller).
        for (b, d) in blocks[..n].iter_mut().zip(data.iter()) {
            *b = xor(b, &d[0]);
        }
        match <&mut [&mut [[u8; BLOCK]]; LANES]>::try_from(&mut *data) {
            // All lanes full (the usual case under load): a fixed count the
            // compiler unrolls.
            Ok(full) => {
                for j in 0..run - 1 {
                    encrypt(&mut blocks[..], backend);
                    for (b, d) in blocks.iter_mut().zip(full.iter_mut()) {
                        chain_next(b, d, j);
                    }
                }
            }
            Err(_) => {
                for j in 0..run - 1 {
                    encrypt(&mut blocks[..width], backend);
                    for (b, d) in blocks[..n].iter_mut().zip(data.iter_mut()) {
                        chain_next(b, d, j);
                    }
                }
            }
        }
        encrypt(&mut blocks[..width], backend);
        for (b, d) in blocks[..n].iter().zip(data.iter_mut()) {
            d[run - 1] = (*b).into();
        }
    }
}

/// Writes the ciphertext block `b` back as block `j` of lane `d` and
/// chains it into the lane's next plaintext block.
#[inline(always)]
fn chain_next(b: &mut GenericArray<u8, U16>, d: &mut [[u8; BLOCK]], j: usize) {
    let pair = &mut d[j..j + 2];
    let ct = *b;
    pair[0] = ct.into();
    *b = xor(&ct, &pair[1]);
}

/// `a ^ b`, one block.
#[inline(always)]
fn xor(a: &GenericArray<u8, U16>, b: &[u8; BLOCK]) -> GenericArray<u8, U16> {
    // Byte by byte over fixed arrays: the compiler makes it one vector XOR.
    let mut x: [u8; BLOCK] = (*a).into();
    x.iter_mut().zip(b).for_each(|(x, b)| *x ^= b);
    x.into()
}

/// What the multi-buffer pass did for one request of a batch.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstStep {
    /// Not a CBC encryption (or alone under its key): run it as usual.
    NotTaken,
    /// The first step ran here; the remaining steps are still to run.
    Done,
    /// The first step failed; the request fails with this.
    Failed(Error),
    /// The first step stopped part way to let new work take the lanes
    /// ([`run_round`]); it resumes from its [`Progress`].
    Unfinished,
}

/// Whether a request's first step is a CBC encryption the lanes can run.
fn cbc_encrypt(steps: &[Step]) -> Option<&Step> {
    steps.first().filter(|s| s.op == Op::Encrypt && matches!(s.alg, Algorithm::Aes { mode: CipherMode::Cbc, .. }))
}

/// Runs the first step of every request whose first step is an AES-CBC
/// encryption and that shares its key with another request of the batch
/// (same session, or equal keys), as interleaved lanes. A request with a
/// bad IV or length fails alone. Returns, per request, what was done.
pub fn cbc_encrypt_batch(items: &mut [(&[Step], &mut Request)]) -> Vec<FirstStep> {
    let mut progress = vec![Progress::default(); items.len()];
    cbc_encrypt_round(items, &mut progress, &mut |_| false)
}

/// [`cbc_encrypt_batch`] as one round of a worker that keeps its lanes
/// full: each request resumes from its progress (a request already part
/// way through runs as a lane even alone under its key), and the lanes may
/// stop early when `stop` says so (see [`cbc_encrypt_lanes_until`]),
/// leaving requests [`FirstStep::Unfinished`].
pub fn cbc_encrypt_round(
    items: &mut [(&[Step], &mut Request)],
    progress: &mut [Progress],
    stop: &mut dyn FnMut(usize) -> bool,
) -> Vec<FirstStep> {
    let mut scratch = RoundScratch::default();
    cbc_encrypt_round_into(items, progress, stop, &mut scratch);
    scratch.first
}

/// Buffers a worker keeps from round to round, so that a round allocates
/// nothing once they have grown to its batch size.
#[derive(Default)]
pub struct RoundScratch {
    /// What the multi-buffer pass did, per request.
    first: Vec<FirstStep>,
    /// Per request, the group of requests under its key it belongs to.
    group_of: Vec<Option<usize>>,
    /// Per group, the index of its first request and its size.
    firsts: Vec<(usize, usize)>,
}

/// [`cbc_encrypt_round`] into `scratch.first`.
fn cbc_encrypt_round_into(
    items: &mut [(&[Step], &mut Request)],
    progress: &mut [Progress],
    stop: &mut dyn FnMut(usize) -> bool,
    scratch: &mut RoundScratch,
) {
    let RoundScratch { first: out, group_of, firsts } = scratch;
    out.clear();
    out.extend(items.iter().map(|_| FirstStep::NotTaken));
    // Groups of requests under one key: the index of each group's first
    // request, its size, and each request's group (buffers kept between
    // rounds: a round allocates no list per group).
    firsts.clear();
    group_of.clear();
    group_of.resize(items.len(), None);
    for (i, (steps, req)) in items.iter().enumerate() {
        let Some(step) = cbc_encrypt(steps) else { continue };
        if let Err(e) = step.alg.check_key(step.key.bytes()) {
            out[i] = FirstStep::Failed(e);
            continue;
        }
        if let Err(e) = step.alg.check_iv(&req.iv).and_then(|()| step.alg.check_data_len(req.current().len())) {
            out[i] = FirstStep::Failed(e);
            continue;
        }
        let same_key = |&(first, _): &(usize, usize)| {
            let other = cbc_encrypt(items[first].0).map(|s| (s.alg, &s.key));
            other.is_some_and(|(alg, key)| {
                alg == step.alg && (key.shares_schedule(&step.key) || bool::from(key.bytes().ct_eq(step.key.bytes())))
            })
        };
        match firsts.iter().position(same_key) {
            Some(g) => {
                firsts[g].1 += 1;
                group_of[i] = Some(g);
            }
            None => {
                group_of[i] = Some(firsts.len());
                firsts.push((i, 1));
            }
        }
    }
    for (g, &(first, size)) in firsts.iter().enumerate() {
        if size < 2 && progress[first].blocks == 0 {
            // Alone under its key and not started: it runs as usual.
            continue;
        }
        let steps: &[Step] = items[first].0;
        let Some(step) = cbc_encrypt(steps) else { continue };
        let members = || group_of.iter().enumerate().filter(move |(_, m)| **m == Some(g)).map(|(i, _)| i);
        let mut scratch = None;
        let sched = match schedule_for(step.alg, &step.key, &mut scratch) {
            Ok(s) => s,
            Err(e) => {
                for i in members() {
                    out[i] = FirstStep::Failed(e.clone());
                }
                continue;
            }
        };
        let mut lanes = Vec::with_capacity(size);
        lanes.extend(
            items.iter_mut().zip(progress.iter_mut()).zip(group_of.iter()).filter(|(_, m)| **m == Some(g)).map(
                |(((_, req), p), _)| {
                    let mut iv = [0u8; BLOCK];
                    iv.copy_from_slice(&req.iv);
                    (iv, p, req.current_mut().as_mut_slice())
                },
            ),
        );
        match sched {
            Schedule::Aes128(c) => cbc_encrypt_lanes_until(c, lanes, stop),
            Schedule::Aes192(c) => cbc_encrypt_lanes_until(c, lanes, stop),
            Schedule::Aes256(c) => cbc_encrypt_lanes_until(c, lanes, stop),
            _ => {
                for i in members() {
                    out[i] = FirstStep::Failed(Error::InvalidKey(format!("{}: no AES key schedule", step.alg)));
                }
                continue;
            }
        }
        for i in members() {
            let whole = items[i].1.current().len() / BLOCK;
            out[i] = if progress[i].blocks >= whole { FirstStep::Done } else { FirstStep::Unfinished };
        }
    }
}

/// Runs a batch of requests, each on its own steps: CBC encryptions under
/// shared keys as lanes, everything else one request at a time. The result
/// of each request is what [`apply_steps`] alone would give.
pub fn run_batch(items: &mut [(&[Step], &mut Request)]) -> Vec<Result<(), Error>> {
    let mut progress = vec![Progress::default(); items.len()];
    run_round(items, &mut progress, &mut |_| false).into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
}

/// One round of a worker that keeps its lanes full: as [`run_batch`], but
/// the lanes may stop early when `stop` says so. `None` for a request
/// left unfinished (run it in a later round with its progress); the
/// others are done, with their results.
pub fn run_round(
    items: &mut [(&[Step], &mut Request)],
    progress: &mut [Progress],
    stop: &mut dyn FnMut(usize) -> bool,
) -> Vec<Option<Result<(), Error>>> {
    let mut out = Vec::with_capacity(items.len());
    run_round_with(items, progress, stop, &mut RoundScratch::default(), &mut out);
    out
}

/// [`run_round`] with the worker's kept buffers: the results go to `out`
/// (cleared first).
pub fn run_round_with(
    items: &mut [(&[Step], &mut Request)],
    progress: &mut [Progress],
    stop: &mut dyn FnMut(usize) -> bool,
    scratch: &mut RoundScratch,
    out: &mut Vec<Option<Result<(), Error>>>,
) {
    cbc_encrypt_round_into(items, progress, stop, scratch);
    out.clear();
    out.extend(items.iter_mut().zip(scratch.first.drain(..)).map(|((steps, req), f)| match f {
        FirstStep::NotTaken => Some(apply_steps(steps, req)),
        FirstStep::Done => Some(apply_steps(&steps[1..], req)),
        FirstStep::Failed(e) => Some(Err(e)),
        FirstStep::Unfinished => None,
    }));
}
