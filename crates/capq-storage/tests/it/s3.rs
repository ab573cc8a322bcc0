//! S3 against a real moto server: objects, listings, missing things, bad buckets and endpoints,
//! and settings taken from the process environment.

use bytes::Bytes;
use capq_storage::{Location, Storage, StorageError};
use capq_test_support::S3Server;
use capq_test_support::net::free_port;

use crate::s3_with_bucket;

fn s3(text: &str) -> Location {
    Location::parse(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_list() {
    let (server, storage) = s3_with_bucket("capq-objects");
    let out = s3("s3://capq-objects/out/");
    storage
        .put(&out.join("b.csv"), Bytes::from_static(b"b,1\n"))
        .await
        .unwrap();
    storage
        .put(&out.join("a b.csv"), Bytes::from_static(b"a\n"))
        .await
        .unwrap();
    storage
        .put(&out.join("sub/c.csv"), Bytes::from_static(b"c"))
        .await
        .unwrap();
    // What the server holds, read independently of the code under test.
    assert_eq!(
        server.get_object("capq-objects", "out/b.csv").unwrap(),
        b"b,1\n"
    );
    assert_eq!(
        server.list_keys("capq-objects", "out/"),
        ["out/a b.csv", "out/b.csv", "out/sub/c.csv"]
    );

    assert_eq!(
        storage
            .get(&s3("s3://capq-objects/out/b.csv"))
            .await
            .unwrap()
            .unwrap(),
        &b"b,1\n"[..]
    );
    storage
        .put(&out.join("b.csv"), Bytes::from_static(b"replaced"))
        .await
        .unwrap();
    assert_eq!(
        storage.get(&out.join("b.csv")).await.unwrap().unwrap(),
        &b"replaced"[..]
    );
    server.put_object("capq-objects", "out/empty.csv", b"");
    assert_eq!(
        storage.get(&out.join("empty.csv")).await.unwrap().unwrap(),
        Bytes::new()
    );

    let expected = ["a b.csv", "b.csv", "empty.csv"];
    assert_eq!(storage.list(&out).await.unwrap(), expected);
    assert_eq!(
        storage.list(&s3("s3://capq-objects/out")).await.unwrap(),
        expected
    );
    assert_eq!(storage.list(&out.join("sub")).await.unwrap(), ["c.csv"]);
    assert!(
        storage
            .list(&s3("s3://capq-objects"))
            .await
            .unwrap()
            .is_empty(),
        "only folders at the root"
    );
    assert!(
        storage
            .list(&s3("s3://capq-objects/nothing/here"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(storage.get(&out.join("missing.csv")).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_an_error_naming_it() {
    let (_server, storage) = s3_with_bucket("capq-present");
    let location = s3("s3://capq-absent/data/x.csv");
    let get = storage.get(&location).await.unwrap_err();
    let put = storage
        .put(&location, Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    let list = storage
        .list(&s3("s3://capq-absent/data"))
        .await
        .unwrap_err();
    for err in [get, put, list] {
        assert!(
            matches!(err, StorageError::NoSuchBucket { ref bucket, .. } if bucket == "capq-absent"),
            "{err:?}"
        );
        assert!(err.to_string().contains("capq-absent"), "{err}");
        assert!(!err.is_transient(), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_that_are_folders_are_rejected() {
    let (_server, storage) = s3_with_bucket("capq-keys");
    for text in ["s3://capq-keys", "s3://capq-keys/folder/"] {
        let err = storage.get(&s3(text)).await.unwrap_err();
        assert!(
            matches!(err, StorageError::InvalidLocation { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(text), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_transient() {
    let storage = Storage::from_env_vars([
        (
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", free_port()),
        ),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
    ])
    .unwrap();
    let err = storage.get(&s3("s3://capq-any/x.csv")).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot read s3://capq-any/x.csv: "),
        "{err}"
    );
    assert_eq!(err.status(), None);
}

/// A real server's error status travels through object_store's messages: an S3 endpoint that
/// is really `python3 -m http.server` answers PUT with 501, a server error worth retrying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_transient_with_their_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::HttpServer::start(dir.path());
    let storage = Storage::from_env_vars([
        (
            "AWS_ENDPOINT_URL",
            server.url("").trim_end_matches('/').to_owned(),
        ),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
    ])
    .unwrap();
    let err = storage
        .put(&s3("s3://capq-fake/x.csv"), Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(501), "{err:?}");
    assert!(err.is_transient(), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot write s3://capq-fake/x.csv: HTTP 501"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_variable_names_work() {
    let server = S3Server::start();
    server.create_bucket("capq-legacy");
    // AWS_ENDPOINT instead of AWS_ENDPOINT_URL, AWS_DEFAULT_REGION only, no AWS_ALLOW_HTTP: an
    // http:// endpoint is allowed by itself.
    let storage = Storage::from_env_vars([
        ("AWS_ENDPOINT", server.endpoint()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_SESSION_TOKEN", "token".to_owned()),
    ])
    .unwrap();
    storage
        .put(&s3("s3://capq-legacy/k.csv"), Bytes::from_static(b"v"))
        .await
        .unwrap();
    assert_eq!(server.get_object("capq-legacy", "k.csv").unwrap(), b"v");
}

/// Set (with the server's variables) when the test below runs itself as a child process.
const CHILD_BUCKET: &str = "CAPQ_STORAGE_TEST_CHILD_BUCKET";

/// `Storage::from_env` reads the real process environment. Tests share one environment across
/// threads (and changing it is `unsafe`), so the test runs itself again as a child process with
/// the server's variables set, and the child writes an object through `from_env`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_env_reads_the_process_environment() {
    if let Ok(bucket) = std::env::var(CHILD_BUCKET) {
        let storage = Storage::from_env().unwrap();
        let location = s3(&format!("s3://{bucket}/from-env.txt"));
        storage
            .put(&location, Bytes::from_static(b"child"))
            .await
            .unwrap();
        assert_eq!(
            storage.get(&location).await.unwrap().unwrap(),
            &b"child"[..]
        );
        return;
    }
    let server = S3Server::start();
    server.create_bucket("capq-env");
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "s3::from_env_reads_the_process_environment",
            "--nocapture",
        ])
        .envs(server.env())
        .env(CHILD_BUCKET, "capq-env")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child ran the test:\n{stdout}"
    );
    assert_eq!(
        server.get_object("capq-env", "from-env.txt").unwrap(),
        b"child"
    );
}
