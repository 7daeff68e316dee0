//! Just enough HTTP/1.1: one request per connection, answered with `Connection: close`, so
//! there is no keep-alive or pipelining state to get wrong. Hostile input (huge, truncated,
//! non-UTF-8) yields an error value, never a panic.

use serde_json::Value;
use std::io::{self, Read, Write};
use std::net::IpAddr;

/// Cap on a whole request (head and body): far above any real token call.
pub(crate) const MAX_REQUEST: usize = 64 * 1024;

pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer: IpAddr,
}

impl Request {
    /// The first query parameter named `name`, percent-decoded.
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        find(&self.query, name)
    }

    /// A header by case-insensitive name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, &name.to_ascii_lowercase())
    }

    /// The body as a JSON object, if it is one.
    pub(crate) fn json_body(&self) -> Option<Value> {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .filter(Value::is_object)
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// The peer went away or stayed silent: nothing to answer.
    Closed,
    TooLarge,
    Malformed(&'static str),
}

/// Reads one request; `stream` is also written to for `Expect: 100-continue`.
pub(crate) fn read_request<S: Read + Write>(
    stream: &mut S,
    peer: IpAddr,
) -> Result<Request, ReadError> {
    let mut buf = Vec::with_capacity(2048);
    let (head_end, body_start) = read_head(stream, &mut buf)?;
    let mut req = parse_head(&String::from_utf8_lossy(&buf[..head_end]), peer)?;
    let rest = buf.split_off(body_start);
    req.body = read_body(stream, &req, rest, body_start)?;
    Ok(req)
}

/// Reads until the blank line ending the head; returns (head end, body start) in `buf`.
fn read_head<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> Result<(usize, usize), ReadError> {
    loop {
        if let Some(found) = head_end(buf) {
            return Ok(found);
        }
        if buf.len() >= MAX_REQUEST {
            return Err(ReadError::TooLarge);
        }
        if read_some(stream, buf)? == 0 {
            return Err(if buf.is_empty() {
                ReadError::Closed
            } else {
                ReadError::Malformed("truncated request head")
            });
        }
    }
}

/// Appends what one read returns; errors and timeouts count as a vanished peer.
fn read_some<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> Result<usize, ReadError> {
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(ReadError::Closed),
        }
    }
}

/// Finds the end of the head, accepting bare `\n` line ends from hand-typed requests.
fn head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let crlf = position(buf, b"\r\n\r\n").map(|i| (i, i + 4));
    let lf = position(buf, b"\n\n").map(|i| (i, i + 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn position(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &str, peer: IpAddr) -> Result<Request, ReadError> {
    let mut lines = head.split('\n').map(|l| l.trim_end_matches('\r'));
    let first = lines.next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("bad request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Malformed("unsupported HTTP version"));
    }
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or(ReadError::Malformed("bad header line"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let (path, query) = split_target(target);
    Ok(Request {
        method: method.to_owned(),
        path,
        query: parse_query(query),
        headers,
        body: Vec::new(),
        peer,
    })
}

/// Splits origin-form or absolute-form targets into path and raw query.
fn split_target(target: &str) -> (String, &str) {
    let target = target.split('#').next().unwrap_or("");
    let target = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    (percent_decode(path), query)
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` and `+`; malformed escapes are kept literally, bad UTF-8 is replaced.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| Some((hex(h[0])? << 4) | hex(h[1])?));
        match (b[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (c, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn read_body<S: Read + Write>(
    stream: &mut S,
    req: &Request,
    mut body: Vec<u8>,
    head_len: usize,
) -> Result<Vec<u8>, ReadError> {
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(stream, body, head_len);
    }
    let Some(len) = req.header("content-length") else {
        return Ok(Vec::new());
    };
    let len: usize = len
        .parse()
        .map_err(|_| ReadError::Malformed("bad Content-Length"))?;
    if len > MAX_REQUEST.saturating_sub(head_len) {
        return Err(ReadError::TooLarge);
    }
    if body.len() < len && expects_continue(req) {
        let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    while body.len() < len {
        if read_some(stream, &mut body)? == 0 {
            return Err(ReadError::Malformed("truncated body"));
        }
    }
    body.truncate(len);
    Ok(body)
}

fn expects_continue(req: &Request) -> bool {
    req.header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
}

fn read_chunked<S: Read>(
    stream: &mut S,
    mut raw: Vec<u8>,
    head_len: usize,
) -> Result<Vec<u8>, ReadError> {
    loop {
        if let Some(body) = dechunk(&raw)? {
            return Ok(body);
        }
        if head_len + raw.len() >= MAX_REQUEST {
            return Err(ReadError::TooLarge);
        }
        if read_some(stream, &mut raw)? == 0 {
            return Err(ReadError::Malformed("truncated chunked body"));
        }
    }
}

const BAD_CHUNK: ReadError = ReadError::Malformed("bad chunk");

/// Decodes a complete chunked body; `Ok(None)` while more bytes are needed.
fn dechunk(data: &[u8]) -> Result<Option<Vec<u8>>, ReadError> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let Some(eol) = position(&data[i..], b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&data[i..i + eol]).map_err(|_| BAD_CHUNK)?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| BAD_CHUNK)?;
        i += eol + 2;
        if size == 0 {
            let trailers_done =
                data[i..].starts_with(b"\r\n") || position(&data[i..], b"\r\n\r\n").is_some();
            return Ok(trailers_done.then_some(out));
        }
        if size > MAX_REQUEST {
            return Err(ReadError::TooLarge);
        }
        if data.len() < i + size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&data[i..i + size]);
        i += size + 2;
    }
}

/// A complete answer; always sent with `Connection: close`.
pub(crate) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

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

    /// The status line and headers, with the blank line that ends them.
    pub(crate) fn head(&self) -> String {
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        )
    }

    /// Writes head and body in one buffer, so small answers go out in one segment.
    pub(crate) fn write_to<W: Write>(&self, w: &mut W) -> io::Result<()> {
        let mut out = self.head().into_bytes();
        out.extend_from_slice(&self.body);
        w.write_all(&out)?;
        w.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::net::Ipv4Addr;

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// An in-memory stream: reads `input`, collects what is written.
    struct Mem {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Mem {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Mem {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn parse(raw: &[u8]) -> Result<Request, ReadError> {
        let mut mem = Mem {
            input: Cursor::new(raw.to_vec()),
            output: Vec::new(),
        };
        read_request(&mut mem, PEER)
    }

    #[test]
    fn get_with_query() {
        let req = parse(b"GET /cgi-bin/token?appid=wx%31&secret=a+b&x HTTP/1.1\r\nHost: h\r\n\r\n")
            .unwrap();
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("GET", "/cgi-bin/token")
        );
        assert_eq!(req.query("appid"), Some("wx1"));
        assert_eq!(req.query("secret"), Some("a b"));
        assert_eq!(req.query("x"), Some(""));
        assert_eq!(req.header("HOST"), Some("h"));
    }

    #[test]
    fn post_with_length_and_chunked() {
        let req = parse(b"POST /x HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"a\":1}").unwrap();
        assert_eq!(req.json_body().unwrap()["a"], 1);
        let raw = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":2}\r\n0\r\n\r\n";
        assert_eq!(parse(raw).unwrap().json_body().unwrap()["a"], 2);
        let req = parse(b"GET http://h:1/p?q=1 HTTP/1.0\n\n").unwrap();
        assert_eq!((req.path.as_str(), req.query("q")), ("/p", Some("1")));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(parse(b"").err(), Some(ReadError::Closed));
        assert!(matches!(
            parse(b"\xff\xfe\r\n\r\n"),
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nnocolon\r\n\r\n"),
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET / SPDY\r\n\r\n"),
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHost"),
            Err(ReadError::Malformed(_))
        ));
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_REQUEST));
        assert_eq!(parse(big.as_bytes()).err(), Some(ReadError::TooLarge));
        let huge_body = b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n";
        assert_eq!(parse(huge_body).err(), Some(ReadError::TooLarge));
        let bad_len = b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n";
        assert!(matches!(parse(bad_len), Err(ReadError::Malformed(_))));
        let short = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab";
        assert!(matches!(parse(short), Err(ReadError::Malformed(_))));
        let bad_chunk = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(matches!(parse(bad_chunk), Err(ReadError::Malformed(_))));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn expect_continue_is_answered() {
        let mut mem = Mem {
            input: Cursor::new(
                b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".to_vec(),
            ),
            output: Vec::new(),
        };
        // The body never arrives in this stream, but the interim answer must go out first.
        assert!(read_request(&mut mem, PEER).is_err());
        assert!(mem.output.starts_with(b"HTTP/1.1 100 Continue"));
    }

    #[test]
    fn response_format() {
        let mut out = Vec::new();
        Response::new(404, "text/plain", "no")
            .write_to(&mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("Content-Length: 2\r\nConnection: close\r\n\r\nno"));
    }
}
