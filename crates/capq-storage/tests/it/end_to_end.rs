//! Whole days processed from S3 and from HTTP through `RemoteDir`, compared with the same day
//! processed from the local fixture folder.

use capmetrics::{Catalog, DataSource, Date, LocalDir};
use capq_storage::{
    DayInputs, HashingSource, Location, RemoteDir, Storage, StorageError, data_source,
};
use tokio::runtime::Handle;

use crate::{HttpServer, files_under, fixture_data, s3_with_bucket};

const DAY: &str = "2016-11-25";

fn local_csv() -> Vec<u8> {
    let day: Date = DAY.parse().unwrap();
    Catalog::new(LocalDir::new(fixture_data()))
        .process(day)
        .unwrap()
        .csv
}

/// Processes the day from `source` on a blocking thread, as a worker does.
async fn process(source: impl DataSource + 'static) -> capmetrics::DayOutput {
    tokio::task::spawn_blocking(move || {
        let day: Date = DAY.parse().unwrap();
        Catalog::new(source).process(day)
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The day's inputs with their hashes, as `source` read them while processing the day.
async fn inputs(source: HashingSource) -> DayInputs {
    tokio::task::spawn_blocking(move || {
        let day: Date = DAY.parse().unwrap();
        let catalog = Catalog::new(source);
        let output = catalog.process(day).unwrap();
        catalog.source().inputs_of(&output.files).unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_from_s3_matches_the_local_day() {
    let (server, storage) = s3_with_bucket("capq-data");
    for (relative, path) in files_under(&fixture_data()) {
        server.put_object(
            "capq-data",
            &format!("fixture/{relative}"),
            &std::fs::read(path).unwrap(),
        );
    }
    let root = Location::parse("s3://capq-data/fixture").unwrap();
    let remote = RemoteDir::new(storage.clone(), root, Handle::current());
    assert_eq!(remote.location(), "s3://capq-data/fixture");
    let output = process(remote).await;
    assert!(!output.csv.is_empty());
    assert_eq!(output.csv, local_csv());
    assert_eq!(
        output.files.positions,
        "s3://capq-data/fixture/vehicle_positions/2016-11-25.csv"
    );
    assert_eq!(output.files.stops, "stops_20160821_20170121.csv.gz");

    // The same through `data_source`, which a worker's `--data` flag goes through; it hashes
    // the bytes it read, and they are the local files' bytes.
    let source = data_source("s3://capq-data/fixture/", &storage, Handle::current()).unwrap();
    assert_eq!(process(source).await.csv, local_csv());
    let source = data_source("s3://capq-data/fixture/", &storage, Handle::current()).unwrap();
    let local = data_source(
        fixture_data().to_str().unwrap(),
        &storage,
        Handle::current(),
    )
    .unwrap();
    let (remote, local) = (inputs(source).await, inputs(local).await);
    assert_eq!(remote, local);
    assert_eq!(remote.positions.name, "2016-11-25.csv");
    // Planning from S3 reads the same files and hashes: a batch planned from S3 matches what
    // its workers record.
    let source = data_source("s3://capq-data/fixture/", &storage, Handle::current()).unwrap();
    let planned = tokio::task::spawn_blocking(move || {
        let listing = source.listing().unwrap();
        source.plan(&listing, DAY.parse().unwrap()).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(planned, Some(local));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_over_http_matches_the_local_day() {
    let dir = tempfile::tempdir().unwrap();
    crate::copy_tree(&fixture_data(), &dir.path().join("fixture"));
    let server = HttpServer::start(dir.path());
    let storage = Storage::from_env_vars(Vec::<(String, String)>::new()).unwrap();
    let source = data_source(&server.url("fixture"), &storage, Handle::current()).unwrap();
    assert_eq!(source.location(), server.url("fixture"));
    let output = process(source).await;
    assert_eq!(output.csv, local_csv());
    assert_eq!(
        output.files.positions,
        server.url("fixture/vehicle_positions/2016-11-25.csv")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_failures_are_fetch_errors_naming_the_url() {
    let (_server, storage) = s3_with_bucket("capq-other");
    let root = Location::parse("s3://capq-gone/fixture").unwrap();
    let remote = RemoteDir::new(storage, root, Handle::current());
    let (listed, read) = tokio::task::spawn_blocking(move || {
        (
            remote.list("stops"),
            remote.read("vehicle_positions", "2016-11-25.csv"),
        )
    })
    .await
    .unwrap();
    for err in [listed.unwrap_err(), read.unwrap_err()] {
        assert!(matches!(err, capmetrics::Error::Fetch { .. }), "{err:?}");
        assert!(err.to_string().contains("s3://capq-gone/fixture/"), "{err}");
        assert!(err.to_string().contains("capq-gone"), "{err}");
        assert!(!err.is_input_error());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_days_and_files_read_as_none() {
    let (server, storage) = s3_with_bucket("capq-sparse");
    server.put_object(
        "capq-sparse",
        "d/vehicle_positions/2016-11-24.csv.gz",
        b"not gzip at all",
    );
    let remote = RemoteDir::new(
        storage,
        Location::parse("s3://capq-sparse/d").unwrap(),
        Handle::current(),
    );
    let (missing, listed, day) = tokio::task::spawn_blocking(move || {
        let missing = remote.read("stops", "nope.csv.gz").unwrap();
        let listed = remote.list("vehicle_positions").unwrap();
        let day = Catalog::new(remote).process(DAY.parse().unwrap());
        (missing, listed, day)
    })
    .await
    .unwrap();
    assert!(missing.is_none());
    assert_eq!(listed, ["2016-11-24.csv.gz"]);
    let err = day.unwrap_err();
    assert!(err.is_missing_day(), "{err}");
}

#[tokio::test]
async fn data_source_checks_local_folders() {
    let storage = Storage::from_env_vars(Vec::<(String, String)>::new()).unwrap();
    let local = data_source(
        fixture_data().to_str().unwrap(),
        &storage,
        Handle::current(),
    )
    .unwrap();
    assert_eq!(
        local.list("stops").unwrap(),
        ["stops_20160821_20170121.csv.gz"]
    );
    let missing = fixture_data().join("no-such-folder");
    let err = data_source(missing.to_str().unwrap(), &storage, Handle::current())
        .err()
        .unwrap();
    assert!(matches!(err, StorageError::NoFolder { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-folder"), "{err}");
    let err = data_source("gs://bucket/data", &storage, Handle::current())
        .err()
        .unwrap();
    assert!(
        matches!(err, StorageError::UnsupportedScheme { .. }),
        "{err:?}"
    );
}
