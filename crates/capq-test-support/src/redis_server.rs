//! A real `redis-server` for one test, on a free port, killed when dropped.
//!
//! Tests that restart or kill Redis need their own server, so every harness starts one; with
//! `REDIS_URL` set, plain servers (no AOF, password or TLS) use that server instead, each on its
//! own database number, flushed first. The harness talks to its server through a tiny RESP
//! client over a plain TCP port, so it needs no Redis crate and works while the code under
//! test is broken.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::net::{free_port, wait_until};

/// How to start a server.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// Append-only file persistence (`appendfsync always`), so restarts lose nothing.
    pub aof: bool,
    /// Require this password (`requirepass`).
    pub password: Option<String>,
    /// Also listen with TLS; the URL becomes `rediss://`.
    pub tls: bool,
    /// Also listen on this address (besides 127.0.0.1), such as the host end of a veth pair
    /// that a worker in another network namespace reaches the server through.
    pub also_bind: Option<String>,
}

/// A running (or stopped) `redis-server`, or a database of the one in `REDIS_URL`.
#[derive(Debug)]
pub struct RedisServer {
    options: RedisOptions,
    /// The plain-TCP port the harness talks to.
    port: u16,
    tls_port: Option<u16>,
    db: u32,
    dir: Option<tempfile::TempDir>,
    child: Option<Child>,
    external: Option<String>,
}

/// A reply from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Nil,
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Array(Vec<Reply>),
}

impl Reply {
    /// The reply as text (status, bulk or integer), or `None`.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// The reply as an integer (integer, or bulk holding digits).
    pub fn int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            Reply::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// The elements of an array reply, as text.
    pub fn strings(&self) -> Vec<String> {
        match self {
            Reply::Array(items) => items.iter().filter_map(Reply::text).collect(),
            _ => Vec::new(),
        }
    }
}

static NEXT_DB: AtomicU32 = AtomicU32::new(0);

impl RedisServer {
    /// A plain server: no persistence, no password, no TLS.
    pub fn start() -> RedisServer {
        RedisServer::start_with(RedisOptions::default())
    }

    /// A server with the given options.
    pub fn start_with(options: RedisOptions) -> RedisServer {
        let plain = options.password.is_none()
            && !options.tls
            && !options.aof
            && options.also_bind.is_none();
        if let (true, Ok(url)) = (plain, std::env::var("REDIS_URL")) {
            return RedisServer::external(url, options);
        }
        let dir = tempfile::Builder::new()
            .prefix("capq-redis-")
            .tempdir()
            .expect("temp dir");
        let mut server = RedisServer {
            options,
            port: free_port(),
            tls_port: None,
            db: 0,
            dir: Some(dir),
            child: None,
            external: None,
        };
        if server.options.tls {
            server.tls_port = Some(free_port());
            make_certificates(server.dir());
        }
        server.spawn();
        server
    }

    fn external(url: String, options: RedisOptions) -> RedisServer {
        let rest = url.trim_start_matches("redis://");
        let host_port = rest.split('/').next().unwrap_or(rest);
        let port = host_port
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(6379);
        let db = 1 + NEXT_DB.fetch_add(1, Ordering::Relaxed) % 15;
        let server = RedisServer {
            options,
            port,
            tls_port: None,
            db,
            dir: None,
            child: None,
            external: Some(url),
        };
        server.command(&["FLUSHDB"]);
        server
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("own server has a folder").path()
    }

    fn spawn(&mut self) {
        let dir = self.dir().to_path_buf();
        let mut args: Vec<String> = vec![
            "--port".into(),
            self.port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
        ];
        if let Some(address) = &self.options.also_bind {
            // `--bind` takes every address as its own argument. Without a password, protected
            // mode would refuse every client but loopback ones; the other address is a test's
            // private link.
            args.extend([address.clone(), "--protected-mode".into(), "no".into()]);
        }
        args.extend::<[String; 8]>([
            "--dir".into(),
            dir.display().to_string(),
            "--save".into(),
            String::new(),
            "--logfile".into(),
            dir.join("redis.log").display().to_string(),
            "--daemonize".into(),
            "no".into(),
        ]);
        if self.options.aof {
            args.extend(["--appendonly", "yes", "--appendfsync", "always"].map(String::from));
        } else {
            args.extend(["--appendonly", "no"].map(String::from));
        }
        if let Some(password) = &self.options.password {
            args.extend(["--requirepass".to_owned(), password.clone()]);
        }
        if let Some(tls_port) = self.tls_port {
            let file = |name: &str| dir.join(name).display().to_string();
            args.extend([
                "--tls-port".to_owned(),
                tls_port.to_string(),
                "--tls-cert-file".to_owned(),
                file("redis.crt"),
                "--tls-key-file".to_owned(),
                file("redis.key"),
                "--tls-ca-cert-file".to_owned(),
                file("ca.crt"),
                "--tls-auth-clients".to_owned(),
                "no".to_owned(),
            ]);
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)");
        self.child = Some(child);
        let ready = wait_until(Duration::from_secs(10), || {
            self.try_command(&["PING"])
                .is_ok_and(|r| r == Reply::Status("PONG".into()))
        });
        if !ready {
            let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
            panic!("redis-server on port {} did not start:\n{log}", self.port);
        }
    }

    /// The URL the code under test should use.
    pub fn url(&self) -> String {
        if let Some(url) = &self.external {
            let base = url.split('/').take(3).collect::<Vec<_>>().join("/");
            return format!("{base}/{}", self.db);
        }
        let auth = self
            .options
            .password
            .as_ref()
            .map(|p| format!(":{p}@"))
            .unwrap_or_default();
        match self.tls_port {
            // The test CA is not in the system store, so verification is skipped.
            Some(tls_port) => format!("rediss://{auth}127.0.0.1:{tls_port}/#insecure"),
            None => format!("redis://{auth}127.0.0.1:{}", self.port),
        }
    }

    /// The plain-TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA certificate of a TLS server.
    pub fn ca_certificate(&self) -> Option<PathBuf> {
        self.tls_port.map(|_| self.dir().join("ca.crt"))
    }

    /// Runs a command and returns its reply; panics if the server cannot be reached.
    pub fn command(&self, args: &[&str]) -> Reply {
        self.try_command(args)
            .unwrap_or_else(|e| panic!("redis {args:?}: {e}"))
    }

    /// Runs a command; errors if the server cannot be reached.
    pub fn try_command(&self, args: &[&str]) -> std::io::Result<Reply> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut preamble: Vec<Vec<String>> = Vec::new();
        if let Some(password) = &self.options.password {
            preamble.push(vec!["AUTH".into(), password.clone()]);
        }
        if self.db != 0 {
            preamble.push(vec!["SELECT".into(), self.db.to_string()]);
        }
        let mut reader = BufReader::new(stream.try_clone()?);
        for command in &preamble {
            let refs: Vec<&str> = command.iter().map(String::as_str).collect();
            write_command(&mut stream, &refs)?;
            read_reply(&mut reader)?;
        }
        write_command(&mut stream, args)?;
        read_reply(&mut reader)
    }

    /// Stops the server gracefully (SIGTERM), as an operator or Kubernetes would; with AOF on,
    /// nothing acknowledged is lost.
    pub fn shutdown(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Kills the server with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stalls the server (SIGSTOP): it accepts connections and reads nothing, as a Redis
    /// frozen by a long command, a fork on a big dataset or a paused VM does.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT); it then runs what it was sent meanwhile.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self
            .child
            .as_ref()
            .expect("a server of the test's own, running");
        let sent = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill {signal} {}", child.id());
    }

    /// Starts the server again on the same port and folder (after `shutdown` or `kill`).
    pub fn restart(&mut self) {
        assert!(
            self.external.is_none(),
            "restart needs a server of the test's own"
        );
        self.kill();
        self.spawn();
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        match &self.dir {
            Some(dir) => std::fs::read_to_string(dir.path().join("redis.log")).unwrap_or_default(),
            None => String::new(),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn write_command(stream: &mut TcpStream, args: &[&str]) -> std::io::Result<()> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    stream.write_all(&out)
}

fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line.trim_end_matches("\r\n");
    let bad = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad reply {line:?}"),
        )
    };
    let (kind, rest) = line.split_at_checked(1).ok_or_else(bad)?;
    Ok(match kind {
        "+" => Reply::Status(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Int(rest.parse().map_err(|_| bad())?),
        "$" => {
            let len: i64 = rest.parse().map_err(|_| bad())?;
            if len < 0 {
                return Ok(Reply::Nil);
            }
            let mut data = vec![0; len as usize + 2];
            reader.read_exact(&mut data)?;
            data.truncate(len as usize);
            Reply::Bulk(data)
        }
        "*" => {
            let len: i64 = rest.parse().map_err(|_| bad())?;
            if len < 0 {
                return Ok(Reply::Nil);
            }
            let mut items = Vec::with_capacity(len as usize);
            for _ in 0..len {
                items.push(read_reply(reader)?);
            }
            Reply::Array(items)
        }
        _ => return Err(bad()),
    })
}

/// A throwaway CA and a server certificate for 127.0.0.1, made with the `openssl` command.
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is installed");
        assert!(status.success(), "openssl {args:?} failed");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=capq test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "redis.key",
        "-out",
        "redis.csr",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("write san.ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "redis.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "redis.crt",
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_command_restart_with_aof() {
        let mut server = RedisServer::start_with(RedisOptions {
            aof: true,
            ..RedisOptions::default()
        });
        assert_eq!(
            server.command(&["SET", "k", "v"]),
            Reply::Status("OK".into())
        );
        server.shutdown();
        assert!(server.try_command(&["PING"]).is_err(), "stopped");
        server.restart();
        assert_eq!(
            server.command(&["GET", "k"]).text().as_deref(),
            Some("v"),
            "AOF kept the key"
        );
    }

    #[test]
    fn password_and_tls() {
        let server = RedisServer::start_with(RedisOptions {
            password: Some("s3cret".into()),
            tls: true,
            ..RedisOptions::default()
        });
        assert_eq!(server.command(&["PING"]), Reply::Status("PONG".into()));
        assert!(
            server.url().starts_with("rediss://:s3cret@127.0.0.1:"),
            "{}",
            server.url()
        );
        assert!(server.ca_certificate().is_some_and(|p| p.exists()));
    }
}
