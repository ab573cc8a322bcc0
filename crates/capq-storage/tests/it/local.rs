//! Local folders: atomic writes that create their folders, reads, listings.

use bytes::Bytes;
use capq_storage::{Location, Storage, StorageError};

fn storage() -> Storage {
    Storage::from_env_vars(Vec::<(String, String)>::new()).unwrap()
}

fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn put_creates_folders_and_replaces_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage();
    let out = Location::Path(dir.path().join("out/2016"));
    let file = out.join("2016-11-25_processed.csv");
    storage
        .put(&file, Bytes::from_static(b"first\n"))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("out/2016/2016-11-25_processed.csv")).unwrap(),
        b"first\n"
    );
    storage
        .put(&file, Bytes::from_static(b"second\n"))
        .await
        .unwrap();
    assert_eq!(
        storage.get(&file).await.unwrap().unwrap(),
        Bytes::from_static(b"second\n")
    );
    // Only the output itself: no temporary siblings left behind.
    assert_eq!(
        names_in(&dir.path().join("out/2016")),
        ["2016-11-25_processed.csv"]
    );
}

#[tokio::test]
async fn failed_put_names_the_path_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage();
    // A folder where the file should go: the rename fails after the temp file was written.
    std::fs::create_dir(dir.path().join("taken.csv")).unwrap();
    std::fs::write(dir.path().join("taken.csv/inside"), b"x").unwrap();
    let target = Location::parse(dir.path().join("taken.csv").to_str().unwrap()).unwrap();
    let err = storage
        .put(&target, Bytes::from_static(b"data"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::Io {
                action: "write",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("taken.csv"), "{err}");
    assert_eq!(names_in(dir.path()), ["taken.csv"]);
    // A file where a folder should go.
    std::fs::write(dir.path().join("plain"), b"x").unwrap();
    let err = storage
        .put(
            &Location::Path(dir.path().join("plain/sub/x.csv")),
            Bytes::new(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("plain/sub/x.csv"), "{err}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn get_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage();
    std::fs::create_dir_all(dir.path().join("data/stops/sub")).unwrap();
    std::fs::write(dir.path().join("data/stops/b.csv"), b"b").unwrap();
    std::fs::write(dir.path().join("data/stops/a.csv.gz"), b"a").unwrap();
    std::fs::write(dir.path().join("data/stops/sub/c.csv"), b"c").unwrap();
    let data = Location::parse(&format!("file://{}", dir.path().join("data").display())).unwrap();
    assert_eq!(
        storage.list(&data.join("stops")).await.unwrap(),
        ["a.csv.gz", "b.csv"]
    );
    assert!(
        storage
            .list(&data.join("missing"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        storage.list(&data).await.unwrap().is_empty(),
        "folders are not files"
    );
    assert_eq!(
        storage
            .get(&data.join("stops/b.csv"))
            .await
            .unwrap()
            .unwrap(),
        Bytes::from_static(b"b")
    );
    assert_eq!(
        storage.get(&data.join("stops/nope.csv")).await.unwrap(),
        None
    );
    let err = storage.get(&data.join("stops/sub")).await.unwrap_err();
    assert!(err.to_string().contains("stops/sub"), "{err}");
}

#[tokio::test]
async fn http_locations_are_read_only() {
    let storage = storage();
    let url = Location::parse("http://127.0.0.1:9/out/x.csv").unwrap();
    let err = storage
        .put(&url, Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot write to http(s) locations (http://127.0.0.1:9/out/x.csv)"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn put_refuses_outputs_outside_the_allowed_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let allowed = root.join("out");
    let list = capq_storage::OutputAllowList::parse(&[allowed.to_str().unwrap()]).unwrap();
    let limited = storage().with_allowed_outputs(list);
    let inside = Location::Path(allowed.join("2016/day.csv"));
    limited
        .put(&inside, Bytes::from_static(b"ok"))
        .await
        .unwrap();
    assert_eq!(std::fs::read(allowed.join("2016/day.csv")).unwrap(), b"ok");
    for outside in [
        Location::Path(root.join("out-evil/day.csv")),
        Location::Path(root.join("day.csv")),
        Location::parse("s3://bucket/day.csv").unwrap(),
    ] {
        assert!(limited.check_output(&outside).is_err(), "{outside}");
        let err = limited
            .put(&outside, Bytes::from_static(b"no"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StorageError::OutputNotAllowed { .. }),
            "{outside}: {err:?}"
        );
        assert!(!err.is_transient());
        let message = err.to_string();
        assert!(
            message.contains(&outside.to_string()) && message.contains(allowed.to_str().unwrap()),
            "{message}"
        );
    }
    assert_eq!(names_in(&root), ["out"]);
    // Without a list (the CLI's own commands), anywhere.
    assert!(
        storage()
            .check_output(&Location::Path(root.join("x")))
            .is_ok()
    );
}
