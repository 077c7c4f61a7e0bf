//! Multi-buffer AES-CBC encryption (drivers/src/multibuffer.rs): every CBC
//! known-answer vector and an openssl cross-check run through batches of 1
//! to 16 lanes, with random neighbours of random lengths under the same
//! key, an equal key and other keys, in place and with separate output; a
//! randomized comparison with single-stream output over thousands of
//! batches; a bad lane fails alone; and the same through the software
//! device's queue. The seed is printed; `ACRYPTO_TEST_SEED` replays a run.

mod common;

use acrypto::drivers::crypto::apply_steps;
use acrypto::drivers::multibuffer::{cbc_encrypt_batch, run_batch, run_round, FirstStep, Progress, LANES};
use acrypto::{
    Algorithm, CipherMode, Completion, CompletionQueue, DigestKind, Error, Op, Request, SessionBuilder, Step,
};
use common::{openssl, rng, vectors};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

fn cbc(bits: u16) -> Algorithm {
    Algorithm::Aes { key_bits: bits, mode: CipherMode::Cbc }
}

/// A random CBC request of up to `max_blocks` blocks, in place or not.
fn random_request(r: &mut StdRng, max_blocks: usize) -> Request {
    let n = 16 * r.gen_range(0..=max_blocks);
    let req = Request::new(rng::bytes(r, n)).with_iv(&rng::bytes(r, 16));
    if r.gen_bool(0.5) {
        req.with_output(Vec::new())
    } else {
        req
    }
}

/// One batch member: its steps and its request.
struct Member {
    steps: Vec<Step>,
    req: Request,
}

/// What single-stream processing gives for each member.
fn single_stream(members: &[Member]) -> Vec<(Result<(), Error>, Request)> {
    members
        .iter()
        .map(|m| {
            let mut r = m.req.clone();
            (apply_steps(&m.steps, &mut r), r)
        })
        .collect()
}

/// Runs `members` as one multi-buffer batch; returns the statuses and requests.
fn multi_buffer(members: &[Member]) -> Vec<(Result<(), Error>, Request)> {
    let mut reqs: Vec<Request> = members.iter().map(|m| m.req.clone()).collect();
    let statuses = {
        let mut items: Vec<(&[Step], &mut Request)> =
            members.iter().zip(reqs.iter_mut()).map(|(m, r)| (m.steps.as_slice(), r)).collect();
        run_batch(&mut items)
    };
    statuses.into_iter().zip(reqs).collect()
}

/// Neighbours for a lane under `step`'s key: the same step (one session),
/// a step with an equal key (another session), and steps with other keys.
fn neighbours(r: &mut StdRng, step: &Step, count: usize) -> Vec<Member> {
    (0..count)
        .map(|_| {
            let s = match r.gen_range(0..3) {
                0 => step.clone(),
                1 => Step::new(step.alg, Op::Encrypt, step.key.bytes()).unwrap(),
                _ => Step::new(step.alg, Op::Encrypt, &rng::bytes(r, step.key.bytes().len())).unwrap(),
            };
            Member { steps: vec![s], req: random_request(r, 40) }
        })
        .collect()
}

#[test]
fn every_cbc_known_answer_holds_in_every_lane_count() {
    let mut r = rng::seeded("multibuffer-kat");
    let cases: Vec<_> =
        vectors::aes_cases("aes-cbc", CipherMode::Cbc).into_iter().filter(|c| c.op == Op::Encrypt).collect();
    assert!(cases.len() > 100, "only {} CBC encrypt vectors", cases.len());
    let mut lanes_run = 0;
    for (k, case) in cases.iter().enumerate() {
        let step = Step::new(case.alg, Op::Encrypt, &case.key).unwrap();
        let lanes = 1 + k % LANES;
        let mut members = neighbours(&mut r, &step, lanes - 1);
        let mut req = Request::new(case.input.clone()).with_iv(&case.iv);
        if k % 2 == 1 {
            req = req.with_output(vec![0xee; 3]);
        }
        let at = r.gen_range(0..=members.len());
        members.insert(at, Member { steps: vec![step], req });
        let got = multi_buffer(&members);
        let want = single_stream(&members);
        let (status, out) = &got[at];
        assert_eq!(status, &Ok(()), "{case:?}");
        assert_eq!(out.output(), case.expected, "{case:?} in lane {at} of {lanes}");
        if k % 2 == 1 {
            assert_eq!(out.data, case.input, "{case:?}: the input stays with a separate output");
        }
        for (i, ((gs, gr), (ws, wr))) in got.iter().zip(&want).enumerate() {
            assert_eq!((gs, gr.output()), (ws, wr.output()), "{case:?}: neighbour {i}");
        }
        lanes_run += lanes;
    }
    assert!(lanes_run > cases.len());
}

#[test]
fn multi_buffer_agrees_with_openssl() {
    let mut r = rng::seeded("multibuffer-openssl");
    for (b, bits) in [128u16, 192, 256].into_iter().enumerate() {
        for lanes in [2usize, 7, 16] {
            let key = rng::bytes(&mut r, usize::from(bits) / 8);
            let step = Step::new(cbc(bits), Op::Encrypt, &key).unwrap();
            let mut members = neighbours(&mut r, &step, lanes);
            // One lane runs much longer than the others.
            members[0].req = Request::new(rng::bytes(&mut r, 16 * (200 + b))).with_iv(&rng::bytes(&mut r, 16));
            let got = multi_buffer(&members);
            for (m, (status, out)) in members.iter().zip(&got) {
                assert_eq!(status, &Ok(()));
                let s = &m.steps[0];
                let want = openssl::cipher(s.alg, Op::Encrypt, s.key.bytes(), &m.req.iv, &m.req.data);
                assert_eq!(out.output(), want, "{} {lanes} lanes, {} bytes", s.alg, m.req.data.len());
            }
        }
    }
}

#[test]
fn multi_buffer_equals_single_stream_on_random_batches() {
    let mut r = rng::seeded("multibuffer-random");
    let keys: Vec<Step> = [128u16, 192, 256, 128]
        .iter()
        .map(|&bits| Step::new(cbc(bits), Op::Encrypt, &rng::bytes(&mut r, usize::from(bits) / 8)).unwrap())
        .collect();
    let mac = Step::new(Algorithm::Hmac(DigestKind::Sha1), Op::Digest, b"mac key").unwrap();
    let mut lanes_taken = 0;
    for batch in 0..3000 {
        let n = r.gen_range(1..=2 * LANES);
        let members: Vec<Member> = (0..n)
            .map(|_| {
                let k = keys.choose(&mut r).unwrap().clone();
                let steps = match r.gen_range(0..10) {
                    // Not for the lanes: decryption, and another mode.
                    0 => vec![Step::new(k.alg, Op::Decrypt, k.key.bytes()).unwrap()],
                    1 => vec![Step::new("aes-128-ctr".parse().unwrap(), Op::Encrypt, &[3; 16]).unwrap()],
                    // Encrypt then MAC: the lanes run the first step.
                    2 => vec![k, mac.clone()],
                    // An equal key in another session.
                    3 => vec![Step::new(k.alg, Op::Encrypt, k.key.bytes()).unwrap()],
                    _ => vec![k],
                };
                Member { steps, req: random_request(&mut r, 24) }
            })
            .collect();
        let got = multi_buffer(&members);
        let want = single_stream(&members);
        for (i, ((gs, gr), (ws, wr))) in got.iter().zip(&want).enumerate() {
            assert_eq!(gs, ws, "batch {batch} member {i}");
            assert_eq!(gr.output(), wr.output(), "batch {batch} member {i}");
            assert_eq!(gr.tag, wr.tag, "batch {batch} member {i}");
            assert_eq!(gr.data.len(), wr.data.len());
        }
        // Count what ran as lanes, so the test knows the lanes were used.
        let mut reqs: Vec<Request> = members.iter().map(|m| m.req.clone()).collect();
        let mut items: Vec<(&[Step], &mut Request)> =
            members.iter().zip(reqs.iter_mut()).map(|(m, r)| (m.steps.as_slice(), r)).collect();
        lanes_taken += cbc_encrypt_batch(&mut items).iter().filter(|f| **f == FirstStep::Done).count();
    }
    assert!(lanes_taken > 10_000, "only {lanes_taken} requests ran as lanes");
}

#[test]
fn a_bad_lane_fails_alone() {
    let mut r = rng::seeded("multibuffer-bad");
    let step = Step::new(cbc(128), Op::Encrypt, &[9; 16]).unwrap();
    for bad in 0..4 {
        let mut members = neighbours(&mut r, &step, 9);
        for m in &mut members {
            m.steps = vec![step.clone()];
        }
        match bad {
            0 => members[4].req.data.push(1),      // not whole blocks
            1 => members[4].req.iv.truncate(8),    // short IV
            2 => members[4].req.iv.push(0),        // long IV
            _ => members[4].req.data.truncate(15), // less than a block
        }
        let before = members[4].req.clone();
        let got = multi_buffer(&members);
        assert!(matches!(got[4].0, Err(Error::InvalidLength(_))), "case {bad}: {:?}", got[4].0);
        assert_eq!(got[4].1, before, "case {bad}: the bad request is untouched");
        let want = single_stream(&members);
        for i in (0..members.len()).filter(|&i| i != 4) {
            assert_eq!(got[i].0, Ok(()), "case {bad}: neighbour {i}");
            assert_eq!(got[i].1.output(), want[i].1.output(), "case {bad}: neighbour {i}");
        }
    }
}

#[test]
fn the_software_device_runs_queued_batches_as_lanes_correctly() {
    let e = acrypto::soft_engine(1).unwrap();
    let mut r = rng::seeded("multibuffer-engine");
    let key = rng::bytes(&mut r, 16);
    let s = e.session(SessionBuilder::new().step(cbc(128), Op::Encrypt, &key)).unwrap();
    let step = Step::new(cbc(128), Op::Encrypt, &key).unwrap();
    let cq = CompletionQueue::new();
    for round in 0..20 {
        let reqs: Vec<Request> = (0..48).map(|i| random_request(&mut r, 100).with_user(i)).collect();
        let items = reqs.iter().map(|q| (q.clone(), Completion::Queue(cq.clone())));
        assert_eq!(e.submit_batch(&s, items).unwrap(), 48);
        let mut done = Vec::new();
        while done.len() < 48 {
            done.extend(cq.wait(64));
        }
        for d in done {
            let mut want = reqs[d.request.user as usize].clone();
            apply_steps(std::slice::from_ref(&step), &mut want).unwrap();
            assert_eq!(d.into_result().unwrap().output(), want.output(), "round {round}");
        }
    }
}

/// A worker that keeps its lanes full: rounds stop as soon as a lane is
/// free, new requests (from a simulated queue) join the ones part way
/// through, and every request ends as single-stream processing has it.
#[test]
fn lanes_freed_part_way_are_refilled_from_the_queue() {
    let mut r = rng::seeded("multibuffer-refill");
    let key = Step::new(cbc(128), Op::Encrypt, &[5; 16]).unwrap();
    let other = Step::new(cbc(256), Op::Encrypt, &[6; 32]).unwrap();
    let mac = Step::new(Algorithm::Hmac(DigestKind::Sha1), Op::Digest, b"k").unwrap();
    let mut total_resumed = 0;
    for trial in 0..50 {
        let mut queue: Vec<Member> = (0..r.gen_range(1..=4 * LANES))
            .map(|_| {
                let steps = match r.gen_range(0..6) {
                    0 => vec![other.clone()],
                    1 => vec![key.clone(), mac.clone()],
                    2 => vec![Step::new(key.alg, Op::Decrypt, key.key.bytes()).unwrap()],
                    _ => vec![key.clone()],
                };
                Member { steps, req: random_request(&mut r, 40) }
            })
            .collect();
        let want = single_stream(&queue);
        queue.reverse(); // popped from the end: submission order
        let (mut held, mut progress): (Vec<(usize, Member)>, Vec<Progress>) = (Vec::new(), Vec::new());
        let mut got: Vec<Option<(Result<(), Error>, Request)>> = (0..want.len()).map(|_| None).collect();
        let (mut next, mut rounds, mut resumed) = (0, 0, 0);
        while !queue.is_empty() || !held.is_empty() {
            // Free places are filled from the queue, a few at a time.
            for _ in 0..r.gen_range(1..=LANES).min(queue.len()) {
                held.push((next, queue.pop().unwrap()));
                progress.push(Progress::default());
                next += 1;
            }
            resumed += progress.iter().filter(|p| p.blocks > 0).count();
            let queued = !queue.is_empty();
            let statuses = {
                let mut items: Vec<(&[Step], &mut Request)> =
                    held.iter_mut().map(|(_, m)| (m.steps.as_slice(), &mut m.req)).collect();
                run_round(&mut items, &mut progress, &mut |_| queued)
            };
            rounds += 1;
            let mut keep = Vec::new();
            for (((i, m), p), st) in held.drain(..).zip(progress.drain(..)).zip(statuses) {
                match st {
                    Some(st) => got[i] = Some((st, m.req)),
                    None => keep.push(((i, m), p)),
                }
            }
            (held, progress) = keep.into_iter().unzip();
            assert!(rounds < 10_000, "trial {trial}: no progress");
        }
        for (i, (g, (ws, wr))) in got.into_iter().zip(&want).enumerate() {
            let (gs, gr) = g.expect("every request finished");
            assert_eq!(&gs, ws, "trial {trial} request {i}");
            assert_eq!(gr.output(), wr.output(), "trial {trial} request {i}");
            assert_eq!(gr.tag, wr.tag, "trial {trial} request {i}");
        }
        total_resumed += resumed;
    }
    // Requests really were stopped part way and resumed beside new ones.
    assert!(total_resumed > 100, "only {total_resumed} resumed lanes");
}
