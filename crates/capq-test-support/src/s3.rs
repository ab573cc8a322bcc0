//! placeholder: a real S3-compatible server (moto) for tests; being written.

/// A moto S3 server for one test.
#[derive(Debug)]
pub struct S3Server;
