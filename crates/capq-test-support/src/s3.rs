//! A real S3-compatible server for one test: moto's `moto_server` from the project virtualenv,
//! on a free port, in its own temporary folder, killed when dropped.
//!
//! The harness creates buckets and reads back what the code under test wrote through a tiny
//! HTTP/1.1 client over a plain TCP socket. moto does not check signatures, so requests with a
//! dummy one are enough, and the harness needs no async runtime or AWS SDK: it keeps working
//! while the storage code it checks is broken.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::net::{free_port, wait_until};
use crate::python::venv_bin;

/// How long moto may take to answer after it is started (it usually takes 2–3 s; builds running
/// alongside the tests can slow it a lot).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `moto_server`.
#[derive(Debug)]
pub struct S3Server {
    port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until it answers.
    ///
    /// Panics when the virtualenv is missing (run `scripts/setup-test-env`) or the server does
    /// not come up, with its log.
    pub fn start() -> S3Server {
        let moto = venv_bin("moto_server");
        let dir = tempfile::Builder::new()
            .prefix("capq-moto-")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        let log = File::create(dir.path().join("moto.log")).expect("create moto.log");
        let child = Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", moto.display()));
        let mut server = S3Server { port, child, dir };
        let mut exited = None;
        let ready = wait_until(START_TIMEOUT, || {
            if let Ok(Some(status)) = server.child.try_wait() {
                exited = Some(status);
                return true;
            }
            server.request("GET", "/", &[]).is_ok()
        });
        if !ready || exited.is_some() {
            let why =
                exited.map_or_else(|| "did not answer".to_owned(), |s| format!("exited ({s})"));
            panic!("moto_server on port {port} {why}:\n{}", server.log());
        }
        server
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The endpoint URL to give the code under test: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The variables a capq process needs to reach this server (endpoint, dummy credentials,
    /// region, plain HTTP).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint().as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    /// Creates a bucket; panics if moto refuses.
    pub fn create_bucket(&self, name: &str) {
        let (status, body) = self.expect_request("PUT", &format!("/{}", encode(name, false)), &[]);
        assert!(
            status == 200,
            "create bucket {name}: HTTP {status}: {}",
            lossy(&body)
        );
    }

    /// Stores an object; panics if moto refuses.
    pub fn put_object(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let (status, body) = self.expect_request("PUT", &object_path(bucket, key), bytes);
        assert!(
            status == 200,
            "put s3://{bucket}/{key}: HTTP {status}: {}",
            lossy(&body)
        );
    }

    /// Reads an object; `None` when it does not exist.
    pub fn get_object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let (status, body) = self.expect_request("GET", &object_path(bucket, key), &[]);
        match status {
            200 => Some(body),
            404 => None,
            _ => panic!("get s3://{bucket}/{key}: HTTP {status}: {}", lossy(&body)),
        }
    }

    /// Every key in the bucket that starts with `prefix`, in S3's (byte) order.
    pub fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = format!("list-type=2&prefix={}", encode(prefix, false));
            if let Some(token) = &token {
                query.push_str(&format!("&continuation-token={}", encode(token, false)));
            }
            let path = format!("/{}?{query}", encode(bucket, false));
            let (status, body) = self.expect_request("GET", &path, &[]);
            let xml = lossy(&body);
            assert!(
                status == 200,
                "list s3://{bucket}/{prefix}: HTTP {status}: {xml}"
            );
            keys.extend(xml_elements(&xml, "Key"));
            token = match xml_elements(&xml, "IsTruncated")
                .first()
                .map(String::as_str)
            {
                Some("true") => xml_elements(&xml, "NextContinuationToken")
                    .into_iter()
                    .next(),
                _ => None,
            };
            if token.is_none() {
                return keys;
            }
        }
    }

    /// moto's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }

    /// The server's temporary folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn expect_request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        self.request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {}{path}: {e}\n{}", self.endpoint(), self.log()))
    }

    /// One HTTP/1.1 request (not really signed) on a fresh connection; returns the status and body.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        // moto answers 403 to anonymous reads of private objects but never checks signatures,
        // so a well-formed Authorization header with a dummy signature is enough. Without a
        // content type, moto's web framework could take a body for form data and drop it.
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n",
            port = self.port,
            length = body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        read_response(BufReader::new(stream))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

/// Reads a status line, headers and a body (by Content-Length, chunked, or to the end).
fn read_response(mut reader: impl BufRead) -> std::io::Result<(u16, Vec<u8>)> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {line:?}")))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(invalid("connection closed in the headers".into()));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse()
                    .map_err(|_| invalid(format!("bad {header:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size_text = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size + 2, 0);
            reader.read_exact(&mut body[start..])?;
            body.truncate(start + size);
        }
    } else if let Some(length) = length {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok((status, body))
}

fn object_path(bucket: &str, key: &str) -> String {
    format!("/{}/{}", encode(bucket, false), encode(key, true))
}

/// Percent-encodes everything but RFC 3986's unreserved characters (and `/` when `keep_slash`).
fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The text of every `<tag>…</tag>` element, with XML entities decoded. S3's listing XML has
/// no attributes on these elements and no nesting of the same tag, so this is enough.
fn xml_elements(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(xml_unescape(&after[..end]));
        rest = &after[end + close.len()..];
    }
    found
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_objects_and_listing() {
        let server = S3Server::start();
        assert!(server.endpoint().starts_with("http://127.0.0.1:"));
        server.create_bucket("capq-test");
        server.put_object("capq-test", "a/one.csv", b"1,2\n");
        server.put_object("capq-test", "a/two & three.csv", b"");
        server.put_object("capq-test", "b/other.csv", b"x");
        assert_eq!(
            server.get_object("capq-test", "a/one.csv").as_deref(),
            Some(&b"1,2\n"[..])
        );
        assert_eq!(
            server.get_object("capq-test", "a/two & three.csv"),
            Some(Vec::new())
        );
        assert_eq!(server.get_object("capq-test", "a/missing.csv"), None);
        assert_eq!(
            server.list_keys("capq-test", "a/"),
            ["a/one.csv", "a/two & three.csv"]
        );
        assert_eq!(server.list_keys("capq-test", "").len(), 3);
        assert!(server.list_keys("capq-test", "zzz").is_empty());
        let env = server.env();
        let endpoint = env.iter().find(|(name, _)| name == "AWS_ENDPOINT_URL");
        assert_eq!(
            endpoint.map(|(_, value)| value.clone()),
            Some(server.endpoint())
        );
    }

    #[test]
    fn dropping_stops_the_server() {
        let server = S3Server::start();
        let port = server.port();
        drop(server);
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still answers"
        );
    }

    #[test]
    fn parses_chunked_and_xml() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(read_response(&raw[..]).unwrap(), (200, b"abcde".to_vec()));
        let xml = "<R><Key>a&amp;b</Key><Size>1</Size><Key>c&lt;d</Key></R>";
        assert_eq!(xml_elements(xml, "Key"), ["a&b", "c<d"]);
        assert_eq!(encode("a b/c", true), "a%20b/c");
        assert_eq!(encode("a b/c", false), "a%20b%2Fc");
    }
}
