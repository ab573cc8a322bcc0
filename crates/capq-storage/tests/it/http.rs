//! HTTP(S) folders served by `python3 -m http.server`: directory listings, reads, 404s.

use bytes::Bytes;
use capq_storage::{Location, Storage};

use crate::{HttpServer, copy_tree, fixture_data};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_get_from_a_directory_index() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture_data(), dir.path());
    std::fs::write(dir.path().join("stops/with space & more.csv"), b"x,y\n").unwrap();
    std::fs::create_dir(dir.path().join("stops/old")).unwrap();
    let server = HttpServer::start(dir.path());
    let storage = Storage::from_env_vars(Vec::<(String, String)>::new()).unwrap();
    let root = Location::parse(&server.url("")).unwrap();

    assert_eq!(
        storage.list(&root.join("stops")).await.unwrap(),
        ["stops_20160821_20170121.csv.gz", "with space & more.csv"]
    );
    assert_eq!(
        storage
            .list(&Location::parse(&server.url("vehicle_positions/")).unwrap())
            .await
            .unwrap(),
        ["2016-11-25.csv"]
    );
    assert!(
        storage.list(&root).await.unwrap().is_empty(),
        "only folders at the root"
    );
    assert!(
        storage
            .list(&root.join("missing"))
            .await
            .unwrap()
            .is_empty()
    );

    let positions = storage
        .get(&root.join("vehicle_positions/2016-11-25.csv"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        positions,
        Bytes::from(
            std::fs::read(fixture_data().join("vehicle_positions/2016-11-25.csv")).unwrap()
        )
    );
    let odd = storage
        .get(&root.join("stops").join("with space & more.csv"))
        .await
        .unwrap();
    assert_eq!(odd.unwrap(), &b"x,y\n"[..]);
    assert_eq!(
        storage.get(&root.join("stops/missing.csv")).await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_is_a_transient_error_naming_the_url() {
    let storage = Storage::from_env_vars(Vec::<(String, String)>::new()).unwrap();
    let port = capq_test_support::net::free_port();
    let url = format!("http://127.0.0.1:{port}/data/x.csv");
    let err = storage
        .get(&Location::parse(&url).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}
