//! The awaitable submission (issue 18 item 5): under a burst far beyond the
//! engine's room, every request is accepted in time with no `Busy` and no
//! polling loop: a waiting submission is polled again only when its waker
//! is called, and its waker is called only when work completes.

mod support;

use acrypto::{Engine, Error, Op, Pending, Request, SessionBuilder, ShutdownMode, Submission};
use ctr::cipher::{KeyIvInit, StreamCipher};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use support::*;

const KEY: [u8; 16] = [3; 16];

fn ctr_by_hand(data: &[u8], iv: &[u8; 16]) -> Vec<u8> {
    let mut out = data.to_vec();
    ctr::Ctr128BE::<aes::Aes128>::new(&KEY.into(), iv.into()).apply_keystream(&mut out);
    out
}

/// A waker that counts its calls and queues its task for the executor.
struct TaskWaker {
    task: usize,
    wakes: AtomicUsize,
    ready: Mutex<Sender<usize>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        let _ = self.ready.lock().unwrap().send(self.task);
    }
}

fn input(i: usize) -> (Vec<u8>, [u8; 16]) {
    let mut iv = [0u8; 16];
    iv[..8].copy_from_slice(&(i as u64).to_le_bytes());
    (vec![(i % 253) as u8; 64 + i % 64], iv)
}

#[test]
fn a_burst_of_awaited_submissions_is_accepted_without_busy_or_spinning() {
    const N: usize = 3000;
    const ROOM: usize = 16;
    let dev = Scripted::gated("g", Script { algs: vec![AES128CTR], queue_len: 1024, ..Script::default() });
    let gate = dev.shared.clone();
    let e = Engine::builder().max_in_flight(ROOM).device(dev).build().unwrap();
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();

    let (tx, rx) = channel();
    let wakers: Vec<Arc<TaskWaker>> = (0..N)
        .map(|task| Arc::new(TaskWaker { task, wakes: AtomicUsize::new(0), ready: Mutex::new(tx.clone()) }))
        .collect();
    let mut futs: Vec<Option<Submission>> = (0..N)
        .map(|i| {
            let (data, iv) = input(i);
            Some(e.submit_async(&s, Request::new(data).with_iv(&iv).with_user(i as u64)))
        })
        .collect();
    let mut accepted: Vec<Option<Pending>> = (0..N).map(|_| None).collect();
    let mut polls = 0usize;
    let mut poll = |i: usize, futs: &mut Vec<Option<Submission>>, accepted: &mut Vec<Option<Pending>>| {
        let Some(f) = futs[i].as_mut() else { return };
        polls += 1;
        let waker = Waker::from(wakers[i].clone());
        match Pin::new(f).poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(Ok(p)) => {
                accepted[i] = Some(p);
                futs[i] = None;
            }
            Poll::Ready(Err(rej)) => panic!("submission {i} refused: {}", rej.error),
            Poll::Pending => {}
        }
    };
    // The burst: with the device held, exactly the room is accepted and the
    // rest wait.
    for i in 0..N {
        poll(i, &mut futs, &mut accepted);
    }
    assert_eq!(accepted.iter().filter(|p| p.is_some()).count(), ROOM);
    // Nothing completes while the gate is closed, so nobody is woken: a
    // waiting submission costs nothing while there is no room.
    assert!(rx.try_recv().is_err(), "a submission was woken although no room freed");
    assert_eq!(wakers.iter().map(|w| w.wakes.load(Ordering::SeqCst)).sum::<usize>(), 0);

    // Open the device; poll only what is woken, until everything is in.
    gate.open();
    let mut waiting = N - ROOM;
    let mut woken = VecDeque::new();
    while waiting > 0 {
        if woken.is_empty() {
            woken.push_back(rx.recv_timeout(HAND_OFF_TIMEOUT).expect("a waiting submission was never woken"));
        }
        woken.extend(rx.try_iter());
        while let Some(i) = woken.pop_front() {
            let before = futs[i].is_some();
            poll(i, &mut futs, &mut accepted);
            if before && futs[i].is_none() {
                waiting -= 1;
            }
        }
    }
    e.wait_idle().unwrap();
    let st = e.stats();
    assert_eq!(st.rejected_busy, 0, "no Busy reached anyone");
    assert_eq!(st.submitted, N as u64);
    for (i, p) in accepted.into_iter().enumerate() {
        let d = p.expect("every submission was accepted").wait();
        assert!(d.status.is_ok(), "request {i}: {:?}", d.status);
        let (data, iv) = input(i);
        assert_eq!(d.request.user, i as u64);
        assert_eq!(d.request.data, ctr_by_hand(&data, &iv), "request {i}");
    }
    let wakes: usize = wakers.iter().map(|w| w.wakes.load(Ordering::SeqCst)).sum();
    println!("submit_async: {N} submissions, room {ROOM}, {polls} polls, {wakes} wakes");
    e.shutdown(ShutdownMode::Drain);
}

#[test]
fn an_awaited_submission_ends_with_the_engine_and_refuses_bad_input_at_once() {
    let dev = Scripted::gated("g", Script { algs: vec![AES128CTR], ..Script::default() });
    let e = Engine::builder().max_in_flight(1).device(dev).build().unwrap();
    let s = e.session(SessionBuilder::new().step(AES128CTR, Op::Encrypt, &KEY)).unwrap();
    let first = block_on(e.submit_async(&s, Request::new(vec![1; 16]).with_iv(&[0; 16]))).unwrap();
    // Bad input is refused at the first poll, not waited on.
    let bad = block_on(e.submit_async(&s, Request::new(vec![1; 16]).with_iv(&[0; 3]))).unwrap_err();
    assert!(matches!(bad.error, Error::InvalidLength(_)), "{:?}", bad.error);
    // A submission waiting for room when the engine shuts down resolves to
    // ShutDown with its request.
    let e2 = e.clone();
    let waiter = std::thread::spawn(move || block_on(e2.submit_async(&s, Request::new(vec![9; 32]).with_iv(&[0; 16]))));
    wait_until("the submission waits", || e.stats().in_flight == 1 && !waiter.is_finished());
    e.shutdown(ShutdownMode::Cancel);
    let rej = waiter.join().unwrap().unwrap_err();
    assert_eq!(rej.error, Error::ShutDown);
    assert_eq!(rej.request.data, vec![9; 32]);
    // Queued, it was canceled; if the device had taken it, it ran.
    let st = first.wait().status;
    assert!(matches!(st, Ok(()) | Err(Error::Canceled)), "{st:?}");
}
