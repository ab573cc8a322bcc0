//! Redis URLs with a password and with TLS (`rediss://`) work for every command.

use std::time::Duration;

use capq_test_support::redis_server::{RedisOptions, RedisServer};

use super::{run_capq, spawn_capq};
use crate::testdata;

fn round_trip(redis: &RedisServer, extra_env: &[(String, String)]) {
    let url = redis.url();
    let out = tempfile::tempdir().unwrap();
    let prefix = format!("{}/", out.path().display());
    let enqueued = run_capq(
        &[
            "enqueue",
            "--url",
            &url,
            "--days",
            "2016-12-18",
            "--output",
            &prefix,
        ],
        extra_env,
    );
    assert!(
        enqueued.status.success(),
        "{}",
        String::from_utf8_lossy(&enqueued.stderr)
    );
    let data = testdata().join("data");
    let mut worker = spawn_capq(
        &[
            "worker",
            "--burst",
            "--url",
            &url,
            "--data",
            data.to_str().unwrap(),
            "--allow-output",
            &prefix,
        ],
        extra_env,
    );
    assert!(
        worker.wait(Duration::from_secs(60)).success(),
        "{}",
        worker.log()
    );
    assert!(
        out.path().join("2016-12-18_processed.csv").exists(),
        "{}",
        worker.log()
    );
    let info = run_capq(&["info", "--json", "--url", &url], extra_env);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(info["queues"][0]["finished"], 1, "{info}");
}

#[test]
fn password_protected_redis() {
    let redis = RedisServer::start_with(RedisOptions {
        password: Some("s3cret pass".replace(' ', "-")),
        ..RedisOptions::default()
    });
    round_trip(&redis, &[]);
    // A wrong password is refused with a clear message and no password in it.
    let wrong = redis.url().replace("s3cret-pass", "wrong");
    let output = run_capq(&["info", "--url", &wrong], &[]);
    let message = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0));
    assert!(
        message.contains("cannot connect to Redis") && !message.contains("wrong@"),
        "{message}"
    );
}

#[test]
fn tls_redis() {
    let redis = RedisServer::start_with(RedisOptions {
        tls: true,
        password: Some("tls-pass".into()),
        ..RedisOptions::default()
    });
    // Verification skipped with the URL's #insecure fragment.
    round_trip(&redis, &[]);
    // Verification against the test CA, given in CAPQ_REDIS_CA_FILE.
    let verified = RedisServer::start_with(RedisOptions {
        tls: true,
        ..RedisOptions::default()
    });
    let ca = verified.ca_certificate().unwrap().display().to_string();
    let url = verified.url().replace("/#insecure", "");
    let output = run_capq(
        &["info", "--url", &url],
        &[("CAPQ_REDIS_CA_FILE".into(), ca)],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Without the CA, the self-signed certificate is rejected.
    let output = run_capq(&["info", "--url", &url], &[]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
