//! Integration tests of capq-storage against real things: local folders, a moto S3 server
//! (from `scripts/setup-test-env`'s virtualenv) and `python3 -m http.server`, ending with whole
//! days processed from S3 and HTTP and compared with the same day read from disk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod end_to_end;
mod http;
mod local;
mod s3;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use capq_storage::Storage;
use capq_test_support::S3Server;
use capq_test_support::net::{free_port, wait_until};

/// The hand-checkable fixture's data folder (one day, 2016-11-25).
pub fn fixture_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/capmetrics/fixture/data")
}

/// Every file under `root`, as (`a/b.csv`-style relative name, path), sorted.
pub fn files_under(root: &Path) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                files.push((relative, path));
            }
        }
    }
    files.sort();
    files
}

/// Copies a folder tree (the HTTP tests add files to their copy).
pub fn copy_tree(from: &Path, to: &Path) {
    for (relative, path) in files_under(from) {
        let target = to.join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(path, target).unwrap();
    }
}

/// A moto server with one bucket, and a `Storage` configured to reach it the way a capq process
/// would, from the variables of `S3Server::env`.
pub fn s3_with_bucket(bucket: &str) -> (S3Server, Storage) {
    let server = S3Server::start();
    server.create_bucket(bucket);
    let storage = Storage::from_env_vars(server.env()).unwrap();
    (server, storage)
}

/// `python3 -m http.server` serving a folder on a free port, killed on drop.
#[derive(Debug)]
pub struct HttpServer {
    port: u16,
    child: Child,
}

impl HttpServer {
    pub fn start(dir: &Path) -> HttpServer {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
                "--directory",
            ])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 is installed");
        let server = HttpServer { port, child };
        let up = wait_until(Duration::from_secs(30), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "python3 -m http.server on port {port} did not start");
        server
    }

    /// `http://127.0.0.1:PORT/` plus `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
