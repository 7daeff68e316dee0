//! The simulator's view of HTTP: a request read whole, an answer as status,
//! content type and body. The protocol itself (parsing, chunked bodies,
//! `Expect: 100-continue`, keep-alive, malformed input) is hyper's.

use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::StatusCode;
use serde_json::Value;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

/// Cap on a request's head and on its body: far above any real token call.
pub(crate) const MAX_REQUEST: usize = 64 * 1024;

pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Bytes,
    pub peer: IpAddr,
}

impl Request {
    fn new(head: &hyper::http::request::Parts, body: Bytes, peer: IpAddr) -> Request {
        let path = percent_encoding::percent_decode_str(head.uri.path()).decode_utf8_lossy();
        let query = head.uri.query().unwrap_or("").as_bytes();
        Request {
            method: head.method.as_str().to_owned(),
            path: path.into_owned(),
            query: form_urlencoded::parse(query).into_owned().collect(),
            body,
            peer,
        }
    }

    /// The first query parameter named `name`, percent-decoded.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as a JSON object, if it is one.
    pub(crate) fn json_body(&self) -> Option<Value> {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .filter(Value::is_object)
    }
}

/// A request that has a head but no acceptable body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadError {
    TooLarge,
    Malformed(&'static str),
}

/// Reads the body (at most `MAX_REQUEST` bytes) of a request hyper has parsed.
pub(crate) async fn read_request(
    req: hyper::Request<Incoming>,
    peer: IpAddr,
) -> Result<Request, ReadError> {
    let (head, body) = req.into_parts();
    // A Content-Length past the cap is refused before anything is read.
    if body.size_hint().lower() > MAX_REQUEST as u64 {
        return Err(ReadError::TooLarge);
    }
    match Limited::new(body, MAX_REQUEST).collect().await {
        Ok(body) => Ok(Request::new(&head, body.to_bytes(), peer)),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ReadError::TooLarge),
        Err(_) => Err(ReadError::Malformed("truncated or malformed body")),
    }
}

/// A complete answer.
pub(crate) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// What hyper sends: a body at once, or dribbled.
pub(crate) type HttpResponse = hyper::Response<Either<Full<Bytes>, Dribble>>;

impl Response {
    pub(crate) fn new(status: u16, content_type: &'static str, body: &str) -> Response {
        Response {
            status,
            content_type,
            body: body.as_bytes().to_vec(),
        }
    }

    pub(crate) fn json(status: u16, v: &Value) -> Response {
        Response {
            status,
            content_type: "application/json; charset=utf-8",
            body: v.to_string().into_bytes(),
        }
    }

    /// The whole body at once (hyper sets Content-Length).
    pub(crate) fn into_http(self) -> HttpResponse {
        self.with_body(|body| Either::Left(Full::new(body)))
    }

    /// The head at once, then the body one byte per `gap`.
    pub(crate) fn dribbled(self, gap: Duration) -> HttpResponse {
        self.with_body(|body| Either::Right(Dribble::new(body, gap)))
    }

    fn with_body(self, wrap: impl FnOnce(Bytes) -> Either<Full<Bytes>, Dribble>) -> HttpResponse {
        let mut resp = hyper::Response::new(wrap(Bytes::from(self.body)));
        *resp.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        resp
    }
}

/// A body sent one byte per interval, for as long as the client stays (hyper
/// drops it when the connection ends). Its exact length is announced, so
/// the head carries Content-Length as a normal answer's does.
pub(crate) struct Dribble {
    rest: Bytes,
    gap: Duration,
    next: Pin<Box<Sleep>>,
}

impl Dribble {
    fn new(body: Bytes, gap: Duration) -> Dribble {
        Dribble {
            rest: body,
            gap,
            next: Box::pin(tokio::time::sleep(gap)),
        }
    }
}

impl Body for Dribble {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        ready!(self.next.as_mut().poll(cx));
        let at = tokio::time::Instant::now() + self.gap;
        self.next.as_mut().reset(at);
        let byte = self.rest.split_to(1);
        Poll::Ready(Some(Ok(Frame::data(byte))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.rest.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn request(method: &str, uri: &str, body: &str) -> Request {
        let (head, ()) = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .unwrap()
            .into_parts();
        Request::new(&head, Bytes::from(body.to_owned()), PEER)
    }

    #[test]
    fn query_and_path_are_decoded() {
        let req = request("GET", "/cgi-bin/%74oken?appid=wx%31&secret=a+b&x", "");
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("GET", "/cgi-bin/token")
        );
        assert_eq!(req.query("appid"), Some("wx1"));
        assert_eq!(req.query("secret"), Some("a b"));
        assert_eq!(req.query("x"), Some(""));
        assert_eq!(req.query("y"), None);
        let req = request("GET", "http://h:1/p?q=%zz%4&r=%ff", "");
        assert_eq!(req.path, "/p");
        assert_eq!(req.query("q"), Some("%zz%4"), "malformed escapes kept");
        assert_eq!(req.query("r"), Some("\u{fffd}"), "bad UTF-8 replaced");
    }

    #[test]
    fn json_body_only_when_an_object() {
        assert_eq!(
            request("POST", "/", r#"{"a":1}"#).json_body().unwrap()["a"],
            1
        );
        assert!(request("POST", "/", "[1]").json_body().is_none());
        assert!(request("POST", "/", "a=1").json_body().is_none());
    }

    #[test]
    fn answers_carry_status_and_type() {
        let resp = Response::new(404, "text/plain", "no").into_http();
        assert_eq!(resp.status(), 404);
        assert_eq!(resp.headers()[CONTENT_TYPE], "text/plain");
        assert_eq!(resp.body().size_hint().exact(), Some(2));
    }
}
