//! Dev-only harnesses for tests that talk to real things: a `redis-server` started on a free
//! port (and killed on drop), an S3-compatible server (moto), a proxy that fakes outages in
//! front of either, and the Python RQ tools in the project's virtualenv.

/// Free TCP ports and waiting for conditions.
pub mod net;
/// A TCP proxy whose port can refuse connections or hold requests, for outages on cue.
pub mod proxy;
/// The project's Python virtualenv (rq, rq-dashboard, moto) and running scripts in it.
pub mod python;
/// A real `redis-server` per test: start, restart, kill; AOF, password and TLS options.
pub mod redis_server;
/// A real S3-compatible HTTP server (moto) per test, with buckets and object reads.
pub mod s3;

pub use redis_server::RedisServer;
pub use s3::S3Server;
