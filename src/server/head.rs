//! Request heads checked before hyper reads them, and the framing of the body that follows, so
//! the guard knows where the next head starts.
//!
//! hyper answers a head it cannot parse itself, with an empty body, before the API sees the
//! request. [`check`] refuses, with the answer's status and words, every head hyper would refuse
//! (the same parser, httparse with its defaults, and the same rules for the request line,
//! `Content-Length` and `Transfer-Encoding`, hyper 1.x `proto/h1/role.rs`), so hyper is only ever
//! handed heads it accepts.

use axum::http::{Method, StatusCode, Uri};

/// hyper's own limit on header fields: a head with more is refused.
const MAX_HEADERS: usize = 100;
/// Longest chunk-size or trailer line followed; a longer one loses the framing.
const MAX_LINE: usize = 4096;
/// Most trailer lines followed.
const MAX_TRAILERS: u16 = 100;

/// How a request's body is framed: where its next request starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body: the next request follows the head.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A head refused: the status and detail of the problem answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal {
    pub status: StatusCode,
    pub detail: &'static str,
}

fn bad(detail: &'static str) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        detail,
    }
}

/// Too long a head: 414 while its request line has not even ended, else 431.
fn too_long(head: &[u8]) -> Refusal {
    if head.contains(&b'\n') {
        Refusal {
            status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            detail: "the request's header fields are larger than the server accepts",
        }
    } else {
        Refusal {
            status: StatusCode::URI_TOO_LONG,
            detail: "the request target is longer than the server accepts",
        }
    }
}

/// Checks the request head at the start of `buf`, at most `max` bytes long: `None` while it is
/// incomplete, else its length and its body's framing.
pub(super) fn check(buf: &[u8], max: usize) -> Result<Option<(usize, Framing)>, Refusal> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() >= max => return Err(too_long(buf)),
        Ok(httparse::Status::Partial) => return Ok(None),
        Ok(httparse::Status::Complete(len)) if len > max => return Err(too_long(&buf[..len])),
        Ok(httparse::Status::Complete(len)) => len,
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refusal {
                status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                detail: "the request has more header fields than the server accepts",
            })
        }
        // As hyper tells them apart: a bad token before the method is known is the method's.
        Err(httparse::Error::Token) if req.method.is_none() => {
            return Err(bad("the request method is malformed"))
        }
        Err(httparse::Error::Token) => return Err(bad("the request target is malformed")),
        Err(httparse::Error::Version) => {
            return Err(bad("the request's HTTP version is not 1.0 or 1.1"))
        }
        Err(_) => return Err(bad("a header field is malformed")),
    };
    framing(&req).map(|framing| Some((len, framing)))
}

/// What hyper checks of a parsed head beyond httparse, and the framing that results.
fn framing(req: &httparse::Request<'_, '_>) -> Result<Framing, Refusal> {
    let method = req.method.unwrap_or_default();
    Method::from_bytes(method.as_bytes()).map_err(|_| bad("the request method is malformed"))?;
    Uri::try_from(req.path.unwrap_or_default())
        .map_err(|_| bad("the request target is malformed"))?;
    let http_11 = req.version == Some(1);
    // Some(chunked?) once a Transfer-Encoding is seen; it overrides any Content-Length.
    let mut transfer_chunked: Option<bool> = None;
    let mut length: Option<u64> = None;
    for header in req.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if !http_11 {
                return Err(bad("`Transfer-Encoding` is not allowed in HTTP/1.0"));
            }
            transfer_chunked = Some(ends_in_chunked(header.value));
        } else if header.name.eq_ignore_ascii_case("content-length") && transfer_chunked.is_none() {
            let n = digits(header.value).ok_or(bad("`Content-Length` is not a number"))?;
            if length.is_some_and(|first| first != n) {
                return Err(bad("`Content-Length` is given twice, differently"));
            }
            length = Some(n);
        }
    }
    match (transfer_chunked, length) {
        (Some(false), _) => Err(bad("`Transfer-Encoding` must end in `chunked`")),
        (Some(true), _) => Ok(Framing::Chunked),
        // hyper's largest length: two values above it mean "chunked" and "until close".
        (None, Some(n)) if n > u64::MAX - 2 => Err(Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            detail: "the request body is larger than the server accepts",
        }),
        (None, None | Some(0)) => Ok(Framing::Empty),
        (None, Some(n)) => Ok(Framing::Length(n)),
    }
}

/// Whether the last of a `Transfer-Encoding`'s codings is `chunked`; like hyper, only for a
/// value of visible ASCII.
fn ends_in_chunked(value: &[u8]) -> bool {
    let visible = value.iter().all(|&b| b == b'\t' || (32..127).contains(&b));
    visible
        && std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
}

/// Decimal digits only, no sign or space, as hyper reads a `Content-Length`.
fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        let digit = char::from(b).to_digit(10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Where in a chunked body the reader is. Followed, not decoded: the bytes go to hyper as they
/// are, and only the body's end matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunked {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk, this many bytes left.
    Data(u64),
    /// After a chunk's data, before its CRLF.
    DataEnd,
    /// After the last chunk, this many trailer lines read.
    Trailers(u16),
}

/// What following a chunked body over some bytes found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// These bytes belong to the body, which goes on.
    Body(usize),
    /// The body ends after these bytes.
    End(usize),
    /// More bytes are needed to tell.
    NeedMore,
    /// Not a chunked body hyper reads: it will refuse it and close the connection.
    Lost,
}

impl Chunked {
    /// Follows the body over the start of `buf`.
    pub(super) fn step(&mut self, buf: &[u8]) -> Step {
        match *self {
            Chunked::Size => match line(buf) {
                Err(step) => step,
                Ok(len) => match httparse::parse_chunk_size(&buf[..len]) {
                    Ok(httparse::Status::Complete((used, 0))) => {
                        *self = Chunked::Trailers(0);
                        Step::Body(used)
                    }
                    Ok(httparse::Status::Complete((used, size))) => {
                        *self = Chunked::Data(size);
                        Step::Body(used)
                    }
                    _ => Step::Lost,
                },
            },
            Chunked::Data(left) => {
                if buf.is_empty() {
                    return Step::NeedMore;
                }
                let take = left.min(buf.len() as u64);
                *self = match left - take {
                    0 => Chunked::DataEnd,
                    rest => Chunked::Data(rest),
                };
                // `take` is at most `buf.len()`, a usize.
                Step::Body(take as usize)
            }
            Chunked::DataEnd => match buf {
                [b'\r', b'\n', ..] => {
                    *self = Chunked::Size;
                    Step::Body(2)
                }
                [] | [b'\r'] => Step::NeedMore,
                _ => Step::Lost,
            },
            Chunked::Trailers(read) => match line(buf) {
                Err(step) => step,
                Ok(len) if matches!(&buf[..len], b"\r\n" | b"\n") => Step::End(len),
                Ok(_) if read >= MAX_TRAILERS => Step::Lost,
                Ok(len) => {
                    *self = Chunked::Trailers(read + 1);
                    Step::Body(len)
                }
            },
        }
    }
}

/// The length of the line at the start of `buf`, its LF included.
fn line(buf: &[u8]) -> Result<usize, Step> {
    let window = &buf[..buf.len().min(MAX_LINE)];
    match window.iter().position(|&b| b == b'\n') {
        Some(at) => Ok(at + 1),
        None if window.len() == MAX_LINE => Err(Step::Lost),
        None => Err(Step::NeedMore),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1024;

    fn status(head: &[u8]) -> Option<u16> {
        check(head, MAX).err().map(|r| r.status.as_u16())
    }

    #[test]
    fn a_whole_head_is_measured_and_its_body_framed() {
        let get = b"GET /v1/orders?limit=5 HTTP/1.1\r\nHost: x\r\n\r\nnext";
        assert_eq!(check(get, MAX), Ok(Some((get.len() - 4, Framing::Empty))));
        let post = b"POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n";
        assert_eq!(
            check(post, MAX),
            Ok(Some((post.len(), Framing::Length(12))))
        );
        // Transfer-Encoding wins over Content-Length, before it or after.
        let both =
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert_eq!(check(both, MAX), Ok(Some((both.len(), Framing::Chunked))));
        let both = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n";
        assert_eq!(check(both, MAX), Ok(Some((both.len(), Framing::Chunked))));
        // Leading empty lines are allowed before a request, and bare LFs end lines.
        let lf = b"\r\n\nGET / HTTP/1.0\nHost: x\n\n";
        assert_eq!(check(lf, MAX), Ok(Some((lf.len(), Framing::Empty))));
    }

    #[test]
    fn an_incomplete_head_waits_until_it_is_too_long() {
        assert_eq!(check(b"GET / HTTP/1.1\r\nHost: x\r\n", MAX), Ok(None));
        assert_eq!(check(b"", MAX), Ok(None));
        // A request line that never ends is too long a target, whatever it holds.
        assert_eq!(status(&[b'a'; MAX]), Some(414));
        let line = [b"GET /".as_slice(), &[b'a'; MAX]].concat();
        assert_eq!(status(&line), Some(414));
        let headers = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'b'; MAX]].concat();
        assert_eq!(status(&headers), Some(431));
        let whole = [headers.as_slice(), b"\r\n\r\n"].concat();
        assert_eq!(status(&whole), Some(431));
    }

    #[test]
    fn every_head_hyper_refuses_is_refused_with_its_status() {
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: 1\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        let cases: [(&[u8], u16); 12] = [
            (b"G\x01T / HTTP/1.1\r\n\r\n", 400),
            (b"GET /\x7f HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nNo colon\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nBad\x01: 1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                400,
            ),
            (
                b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                400,
            ),
            (b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
                413,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                400,
            ),
            (many.as_bytes(), 431),
        ];
        for (head, expected) in cases {
            assert_eq!(
                status(head),
                Some(expected),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        let same_twice = b"GET / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n";
        assert!(matches!(
            check(same_twice, MAX),
            Ok(Some((_, Framing::Length(2))))
        ));
    }

    /// Follows `body` fed `piece` bytes at a time; the offset where it ended, or the last step.
    fn follow(body: &[u8], piece: usize) -> Result<usize, Step> {
        let mut state = Chunked::Size;
        let (mut done, mut fed) = (0, 0);
        loop {
            match state.step(&body[done..fed]) {
                Step::Body(n) => done += n,
                Step::End(n) => return Ok(done + n),
                Step::NeedMore if fed < body.len() => fed = (fed + piece).min(body.len()),
                other => return Err(other),
            }
        }
    }

    #[test]
    fn a_chunked_body_is_followed_to_its_end_however_it_arrives() {
        let body = b"5;name=v\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\n";
        for piece in [1, 2, 3, 7, body.len()] {
            assert_eq!(follow(body, piece), Ok(body.len()), "piece {piece}");
        }
        let then_next = [body.as_slice(), b"GET / HTTP/1.1\r\n\r\n"].concat();
        assert_eq!(follow(&then_next, 4), Ok(body.len()));
        assert_eq!(follow(b"0\r\n\r\n", 1), Ok(5));
    }

    #[test]
    fn a_body_that_is_not_chunked_loses_the_framing() {
        assert_eq!(follow(b"zz\r\n", 4), Err(Step::Lost));
        assert_eq!(follow(b"2\r\nabXY", 8), Err(Step::Lost));
        assert_eq!(follow(&[b'1'; MAX_LINE + 1], 512), Err(Step::Lost));
        assert_eq!(follow(b"2\r\nab", 1), Err(Step::NeedMore));
    }
}
