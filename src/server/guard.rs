//! The guard between a client's socket and hyper. It hands hyper each request head only once the
//! head is whole and [`head::check`] accepts it, and follows the body after it to where the next
//! head starts. So it can:
//!
//! - answer a head hyper would refuse with problem+json itself, where hyper would answer with an
//!   empty body;
//! - close a connection whose head does not arrive whole within `header_read_timeout` (408 when
//!   part of it came; nothing to a connection that never sent a byte), and one that waits longer
//!   than `keep_alive_timeout` for its next request;
//! - close an idle connection at once when the server shuts down.
//!
//! It ends a connection by reading end-of-file to hyper, which closes it cleanly and shuts the
//! socket down through [`Guard::poll_shutdown`], where the guard's own answer, if any, is written
//! first: hyper's answers to earlier requests on the connection still go out in order.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use bytes::{Buf, BytesMut};
use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::head::{self, Chunked, Framing, Step};
use crate::api::problem::{standard_json, PROBLEM_JSON};

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 8 * 1024;
/// After answering a refusal, how long the guard keeps reading (and dropping) what the client
/// still sends before closing. Closing with unread input makes the kernel reset the connection,
/// which can destroy the answer before the client reads it.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes dropped while lingering.
const LINGER_BYTES: usize = 1 << 20;

/// The limits a guard enforces (see `[server]` in config/default.toml).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_head_bytes: usize,
}

/// What a connection's service and its server tell its guard: whether a request is being
/// handled, since when the connection has been waiting for the next, and whether the server is
/// shutting down.
#[derive(Debug)]
pub(super) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds from `opened` to the end of the last request (or the opening).
    idle_since_ms: AtomicU64,
    closing: AtomicBool,
    /// The guard's reader, woken when any of the above changes.
    reader: AtomicWaker,
}

impl Activity {
    pub(super) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            reader: AtomicWaker::new(),
        })
    }

    /// Counts a request as being handled until the value returned is dropped.
    pub(super) fn handling(self: &Arc<Self>) -> Handling {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Handling(Arc::clone(self))
    }

    /// Asks the connection to close as soon as no request is under way.
    pub(super) fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.reader.wake();
    }

    /// Restarts the wait for the next request from now.
    fn touch(&self) {
        let ms = self.opened.elapsed().as_millis();
        self.idle_since_ms
            .store(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::SeqCst);
        self.reader.wake();
    }

    fn idle_since(&self) -> Instant {
        self.opened + Duration::from_millis(self.idle_since_ms.load(Ordering::SeqCst))
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) > 0
    }
}

/// A request being handled; see [`Activity::handling`].
#[derive(Debug)]
pub(super) struct Handling(Arc<Activity>);

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

/// Where in the conversation the bytes at the front of the buffer are.
#[derive(Debug, Clone, Copy)]
enum Section {
    /// A request head, not yet whole.
    Head,
    /// This many bytes of a body with a `Content-Length`.
    Body(u64),
    Chunked(Chunked),
    /// A body hyper will refuse as malformed, closing the connection: the rest passes unread.
    Unframed,
}

/// How far the guard is in closing the connection, once hyper shuts it down.
#[derive(Debug)]
enum Closing {
    /// Writing the guard's own answer: the bytes and how many are written.
    Answer(Vec<u8>, usize),
    /// Shutting the socket's sending side down, then lingering after an answer of the guard's.
    ShutDown {
        linger: bool,
    },
    /// Dropping what the client still sends until then, this many bytes so far.
    Linger(Instant, usize),
    Done,
}

/// A socket as hyper reads it through the guard.
pub(super) struct Guard<IO> {
    io: IO,
    limits: Limits,
    activity: Arc<Activity>,
    /// Bytes read from the socket and not yet handed to hyper.
    buf: BytesMut,
    /// How many bytes at the front of `buf` hyper may have.
    ready: usize,
    section: Section,
    /// Length of `buf` when the head in it was last checked: it is checked again only once a
    /// new line has come.
    checked: usize,
    /// When the head awaited began: the connection's opening for the first, the first byte of
    /// each later one.
    head_since: Instant,
    /// Whether a request has been handed to hyper yet.
    served: bool,
    /// The client closed its side; hyper reads end-of-file.
    peer_closed: bool,
    /// The guard ends the conversation (a refusal or a timeout): hyper reads end-of-file once no
    /// request of the connection is under way.
    ending: bool,
    /// The guard's own answer, written when hyper shuts the socket down.
    answer: Option<Vec<u8>>,
    closing: Option<Closing>,
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl<IO> Guard<IO> {
    pub(super) fn new(io: IO, limits: Limits, activity: Arc<Activity>) -> Guard<IO> {
        let head_since = activity.opened;
        Guard {
            io,
            limits,
            activity,
            buf: BytesMut::new(),
            ready: 0,
            section: Section::Head,
            checked: 0,
            head_since,
            served: false,
            peer_closed: false,
            ending: false,
            answer: None,
            closing: None,
            timer: Box::pin(tokio::time::sleep_until(head_since)),
            armed: None,
        }
    }

    /// Ends the conversation with a problem answer of `status`.
    fn refuse(&mut self, status: StatusCode, detail: &str) {
        self.answer = Some(problem_answer(status, detail));
        self.ending = true;
        self.buf.clear();
        self.ready = 0;
    }

    /// Decides what the buffered bytes are; true when it made progress (bytes for hyper, a new
    /// section, or the end of the conversation), false when it needs more bytes.
    fn judge(&mut self) -> bool {
        match &mut self.section {
            Section::Head => {
                let fresh = &self.buf[self.checked.min(self.buf.len())..];
                let full = self.buf.len() >= self.limits.max_head_bytes;
                if self.buf.is_empty() || !(fresh.contains(&b'\n') || full) {
                    return false;
                }
                self.checked = self.buf.len();
                match head::check(&self.buf, self.limits.max_head_bytes) {
                    Ok(None) => false,
                    Ok(Some((len, framing))) => {
                        self.ready = len;
                        self.checked = 0;
                        self.served = true;
                        self.section = match framing {
                            Framing::Empty => Section::Head,
                            Framing::Length(n) => Section::Body(n),
                            Framing::Chunked => Section::Chunked(Chunked::Size),
                        };
                        self.activity.touch();
                        true
                    }
                    Err(refusal) => {
                        self.refuse(refusal.status, refusal.detail);
                        true
                    }
                }
            }
            Section::Body(left) => {
                if self.buf.is_empty() {
                    return false;
                }
                let take = (*left).min(self.buf.len() as u64);
                *left -= take;
                // `take` is at most `buf.len()`, a usize.
                self.ready = take as usize;
                if *left == 0 {
                    self.section = Section::Head;
                }
                true
            }
            Section::Chunked(state) => match state.step(&self.buf) {
                Step::Body(n) => {
                    self.ready = n;
                    n > 0
                }
                Step::End(n) => {
                    self.ready = n;
                    self.section = Section::Head;
                    true
                }
                Step::NeedMore => false,
                Step::Lost => {
                    self.section = Section::Unframed;
                    true
                }
            },
            Section::Unframed => {
                self.ready = self.buf.len();
                self.ready > 0
            }
        }
    }

    /// When the wait for bytes must end, if it must; `None` also while a request is handled
    /// (its own timeout bounds it) or a body arrives (the handler reading it is bounded too).
    fn deadline(&self) -> Option<Instant> {
        if !matches!(self.section, Section::Head) {
            return None;
        }
        if !self.buf.is_empty() {
            return Some(self.head_since + self.limits.header_read_timeout);
        }
        if self.activity.busy() {
            return None;
        }
        let wait = if self.served {
            self.limits.keep_alive_timeout
        } else {
            self.limits.header_read_timeout
        };
        Some(self.activity.idle_since() + wait)
    }

    /// Arms the timer for `deadline`; true once it has passed.
    fn expired(&mut self, deadline: Instant, cx: &mut Context<'_>) -> bool {
        if self.armed != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
        self.timer.as_mut().poll(cx).is_ready()
    }
}

impl<IO: AsyncRead + Unpin> Guard<IO> {
    /// Reads what the socket has into `buf`: the count, 0 at end-of-file.
    fn fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut chunk = [0u8; READ_CHUNK];
        let mut read = ReadBuf::new(&mut chunk);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut read))?;
        if matches!(self.section, Section::Head) && self.buf.is_empty() && self.served {
            self.head_since = Instant::now();
        }
        self.buf.extend_from_slice(read.filled());
        Poll::Ready(Ok(read.filled().len()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guard<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.ready > 0 {
                let n = this.ready.min(out.remaining());
                out.put_slice(&this.buf[..n]);
                this.buf.advance(n);
                this.ready -= n;
                return Poll::Ready(Ok(()));
            }
            if this.peer_closed {
                return Poll::Ready(Ok(()));
            }
            // Registered before the checks below, so a change after them still wakes this read.
            this.activity.reader.register(cx.waker());
            let idle = matches!(this.section, Section::Head) && this.buf.is_empty();
            let closing = idle && this.activity.closing.load(Ordering::SeqCst);
            if this.ending || closing {
                // End-of-file while a request is handled would make hyper drop it unanswered.
                if this.activity.busy() {
                    return Poll::Pending;
                }
                return Poll::Ready(Ok(()));
            }
            if this.judge() {
                continue;
            }
            match this.fill(cx) {
                Poll::Ready(Ok(0)) => {
                    this.peer_closed = true;
                    // The rest of a body is hyper's to judge; part of a head is nothing to it.
                    if matches!(this.section, Section::Head) {
                        this.buf.clear();
                    } else {
                        this.ready = this.buf.len();
                    }
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    let Some(deadline) = this.deadline() else {
                        return Poll::Pending;
                    };
                    if !this.expired(deadline, cx) {
                        return Poll::Pending;
                    }
                    if this.buf.is_empty() {
                        // Nothing of a request came: close without a word, as for a kept-alive
                        // connection that is done.
                        this.ending = true;
                    } else {
                        this.refuse(
                            StatusCode::REQUEST_TIMEOUT,
                            "the request's head did not arrive in time",
                        );
                    }
                }
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guard<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, bytes)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    /// Writes the guard's own answer, if any, shuts the socket down, and then lingers.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let step = match this.closing.take() {
                Some(step) => step,
                None => match this.answer.take() {
                    Some(answer) => Closing::Answer(answer, 0),
                    None => Closing::ShutDown { linger: false },
                },
            };
            // Whatever returns Pending below puts its step back first.
            let next = match step {
                Closing::Answer(answer, written) if written < answer.len() => {
                    match Pin::new(&mut this.io).poll_write(cx, &answer[written..]) {
                        Poll::Ready(Ok(0)) => {
                            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()))
                        }
                        Poll::Ready(Ok(n)) => Closing::Answer(answer, written + n),
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => {
                            this.closing = Some(Closing::Answer(answer, written));
                            return Poll::Pending;
                        }
                    }
                }
                Closing::Answer(..) => Closing::ShutDown { linger: true },
                Closing::ShutDown { linger } => {
                    if Pin::new(&mut this.io).poll_shutdown(cx)?.is_pending() {
                        this.closing = Some(Closing::ShutDown { linger });
                        return Poll::Pending;
                    }
                    if linger {
                        Closing::Linger(Instant::now() + LINGER, 0)
                    } else {
                        Closing::Done
                    }
                }
                Closing::Linger(until, dropped) => match this.linger(cx, until, dropped) {
                    Some(dropped) => {
                        this.closing = Some(Closing::Linger(until, dropped));
                        return Poll::Pending;
                    }
                    None => Closing::Done,
                },
                Closing::Done => {
                    this.closing = Some(Closing::Done);
                    return Poll::Ready(Ok(()));
                }
            };
            this.closing = Some(next);
        }
    }
}

impl<IO: AsyncRead + Unpin> Guard<IO> {
    /// Drops what the client still sends: `None` once it has closed, the linger is over or
    /// enough was dropped; else the count dropped so far, with the read pending.
    fn linger(
        &mut self,
        cx: &mut Context<'_>,
        until: Instant,
        mut dropped: usize,
    ) -> Option<usize> {
        loop {
            if dropped >= LINGER_BYTES || self.expired(until, cx) {
                return None;
            }
            let mut chunk = [0u8; READ_CHUNK];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut self.io).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => return None,
                Poll::Ready(Ok(())) => dropped += read.filled().len(),
                Poll::Ready(Err(_)) => return None,
                Poll::Pending => return Some(dropped),
            }
        }
    }
}

/// A whole HTTP/1.1 answer of `status` with a problem+json body, closing the connection.
fn problem_answer(status: StatusCode, detail: &str) -> Vec<u8> {
    let body = standard_json(status, detail);
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {PROBLEM_JSON}\r\ncontent-length: {}\r\n\
         connection: close\r\ndate: {}\r\n\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or_default(),
        body.len(),
        httpdate::fmt_http_date(SystemTime::now()),
    );
    [head.into_bytes(), body].concat()
}
