//! A TCP proxy in front of a real server, for outages a test controls: the port can refuse
//! connections for a while (as a server that is down does) and come back on the same port, and
//! requests can be held (the server sees nothing of them) until the test lets them through.
//!
//! Plain threads and blocking sockets, so it keeps working whatever the code under test does.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::net::free_port;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards both ways.
    Up,
    /// The port refuses connections; open ones are cut.
    Down,
    /// Accepts connections and reads requests, but forwards nothing to the server until the
    /// mode changes back to `Up`.
    Hold,
}

#[derive(Debug)]
struct Shared {
    mode: Mutex<Mode>,
    changed: Condvar,
    /// Every connection accepted and still open, to cut them when going down.
    open: Mutex<Vec<TcpStream>>,
    accepted: AtomicU64,
    /// Bytes read from clients while holding.
    held_bytes: AtomicU64,
    stop: AtomicBool,
}

/// A proxy on 127.0.0.1, forwarding to `target`, stopped when dropped.
#[derive(Debug)]
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts forwarding a free port of 127.0.0.1 to `127.0.0.1:<target>`.
    pub fn start(target: u16) -> Proxy {
        let port = free_port();
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Up),
            changed: Condvar::new(),
            open: Mutex::default(),
            accepted: AtomicU64::new(0),
            held_bytes: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || accept_loop(port, target, &shared))
        };
        let proxy = Proxy {
            port,
            shared,
            acceptor: Some(acceptor),
        };
        assert!(
            crate::net::wait_until(Duration::from_secs(10), || TcpStream::connect((
                "127.0.0.1",
                port
            ))
            .is_ok()),
            "the proxy on port {port} never listened"
        );
        proxy
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Switches the mode; going `Down` cuts every open connection, leaving `Hold` forwards
    /// what was held.
    pub fn set(&self, mode: Mode) {
        *self
            .shared
            .mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = mode;
        if mode == Mode::Down {
            for stream in self
                .shared
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .drain(..)
            {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        self.shared.changed.notify_all();
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Bytes clients sent while the proxy held them.
    pub fn held_bytes(&self) -> u64 {
        self.shared.held_bytes.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.set(Mode::Down);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn mode(shared: &Shared) -> Mode {
    *shared.mode.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Listens while the mode is not `Down` (so the port refuses connections while it is), and
/// pumps each connection on two threads.
fn accept_loop(port: u16, target: u16, shared: &Arc<Shared>) {
    let mut listener: Option<TcpListener> = None;
    while !shared.stop.load(Ordering::Relaxed) {
        if mode(shared) == Mode::Down {
            listener = None;
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let Some(bound) = listener.as_ref() else {
            // std sets SO_REUSEADDR, so the port can be bound again at once.
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(bound) => {
                    bound.set_nonblocking(true).expect("non-blocking listener");
                    listener = Some(bound);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
            continue;
        };
        match bound.accept() {
            Ok((client, _)) => {
                shared.accepted.fetch_add(1, Ordering::Relaxed);
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let mut open = shared.open.lock().unwrap_or_else(PoisonError::into_inner);
                for stream in [&client, &server] {
                    if let Ok(clone) = stream.try_clone() {
                        open.push(clone);
                    }
                }
                drop(open);
                pump(client.try_clone(), server.try_clone(), shared, true);
                pump(Ok(server), Ok(client), shared, false);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Copies `from` to `to` until either end closes; requests (client to server) wait while the
/// proxy holds.
fn pump(
    from: std::io::Result<TcpStream>,
    to: std::io::Result<TcpStream>,
    shared: &Arc<Shared>,
    request: bool,
) {
    let (Ok(mut from), Ok(mut to)) = (from, to) else {
        return;
    };
    let shared = Arc::clone(shared);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if request {
                let mut current = shared.mode.lock().unwrap_or_else(PoisonError::into_inner);
                if *current == Mode::Hold {
                    shared.held_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                while *current == Mode::Hold {
                    current = shared
                        .changed
                        .wait(current)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if *current == Mode::Down {
                    break;
                }
            }
            if to.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
