//! Waiting for room without blocking: an awaited submission
//! ([`Engine::submit_async`](crate::Engine::submit_async)). When the engine
//! has no room (the in-flight or byte limit, or full queues) the future
//! registers its task's waker with the engine's "work completed or left a
//! queue" notification and tries again when woken, so it neither fails
//! `Busy` nor spins nor blocks an executor thread. No runtime is needed.

use crate::completion::Pending;
use crate::engine::{EngineInner, Rejected, Room};
use crate::error::Error;
use crate::request::Request;
use crate::session::SessionInner;
use crate::sync::Arc;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A submission that resolves when the request is accepted (to its
/// [`Pending`]) or refused for a reason other than `Busy`. Dropping it
/// before it resolves drops the request unsubmitted.
#[must_use = "a submission does nothing unless awaited"]
pub struct Submission {
    engine: Arc<EngineInner>,
    session: Arc<SessionInner>,
    request: Option<Request>,
}

impl fmt::Debug for Submission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Submission").field("waiting", &self.request.is_some()).finish()
    }
}

impl Submission {
    pub(crate) fn new(engine: Arc<EngineInner>, session: Arc<SessionInner>, request: Request) -> Self {
        Submission { engine, session, request: Some(request) }
    }

    fn try_once(&self, request: Request) -> Result<Pending, Rejected> {
        let p = Pending::new();
        self.engine.submit(&self.session, request, p.completion(), Room::Retry)?;
        Ok(p)
    }
}

impl Future for Submission {
    type Output = Result<Pending, Rejected>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(request) = self.request.take() else {
            let error = Error::InvalidArgument("submission polled after it resolved".into());
            return Poll::Ready(Err(Rejected { error, request: Request::default() }));
        };
        let request = match self.try_once(request) {
            Err(Rejected { error: Error::Busy, request }) => request,
            done => return Poll::Ready(done),
        };
        // Register, then look again: room that freed before the
        // registration is seen now, room that frees after it wakes us.
        self.engine.changed.register(cx.waker());
        match self.try_once(request) {
            Err(Rejected { error: Error::Busy, request }) => {
                self.request = Some(request);
                Poll::Pending
            }
            done => Poll::Ready(done),
        }
    }
}
