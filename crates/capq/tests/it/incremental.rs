//! The change-and-rerun loop on one machine: `capq run` is incremental (every `reason`, a
//! rerun with no change processes nothing, one changed input re-runs one day, a parameter or
//! processor change re-runs all, `--force`), keeps every version of a day, records its runs
//! (`capq runs`), ends with its aggregate (reused when nothing it depends on changed),
//! `capq plan` tells the same without doing it, and all of it works on S3 (a real moto).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use capq_test_support::s3::S3Server;
use serde_json::Value;

use crate::{capq_bin, files_in, stderr, stdout, testdata};

pub const DAYS: [&str; 4] = ["2016-11-24", "2016-11-25", "2016-11-26", "2016-11-27"];

/// A data folder with the fixture's metadata and its small day's positions under each of
/// `DAYS` (fast to process, real rows).
pub fn data() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = testdata().join("fixture/data");
    crate::copy_metadata(&fixture, dir.path());
    let positions = dir.path().join("vehicle_positions");
    fs::create_dir_all(&positions).unwrap();
    let day = fs::read(fixture.join("vehicle_positions/2016-11-25.csv")).unwrap();
    for name in DAYS {
        fs::write(positions.join(format!("{name}.csv")), &day).unwrap();
    }
    dir
}

/// Appends a new position to `day`'s positions file: its input changes.
pub fn add_position(data: &Path, day: &str) {
    let positions = data.join(format!("vehicle_positions/{day}.csv"));
    let mut bytes = fs::read(&positions).unwrap();
    bytes.extend_from_slice(
        format!(
            "2223,{day}T23:59:14-06:00,0.0,1,1669610,30.25,-97.74,1-Metric/South Congress-SB\n"
        )
        .as_bytes(),
    );
    fs::write(&positions, &bytes).unwrap();
}

fn capq_env(args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(capq_bin())
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("CAPQ_DATA")
        .output()
        .expect("capq runs")
}

/// `capq run --json` over `data` into `output`, with more arguments and environment.
fn run(data: &Path, output: &str, extra: &[&str], env: &[(String, String)]) -> Value {
    let mut args = vec![
        "run",
        "--json",
        "--workers",
        "2",
        "--data",
        data.to_str().unwrap(),
        "--output",
        output,
    ];
    args.extend_from_slice(extra);
    let result = capq_env(&args, env);
    assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
    serde_json::from_slice(&result.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&result)))
}

/// Each day's status and reason (`-` without one).
fn decisions(json: &Value) -> BTreeMap<String, (String, String)> {
    json["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_owned(),
                (
                    d["status"].as_str().unwrap().to_owned(),
                    d["reason"].as_str().unwrap_or("-").to_owned(),
                ),
            )
        })
        .collect()
}

fn all(status: &str, reason: &str) -> BTreeMap<String, (String, String)> {
    DAYS.iter()
        .map(|d| ((*d).to_owned(), (status.to_owned(), reason.to_owned())))
        .collect()
}

fn processed(json: &Value) -> u64 {
    json["processed"].as_u64().unwrap()
}

fn other_processor() -> Vec<(String, String)> {
    vec![
        (
            "CAPQ_TEST_PROCESSOR_FINGERPRINT".to_owned(),
            "0123456789abcdef".to_owned(),
        ),
        // The override is honoured only with the test switch on.
        ("CAPQ_TEST_TASKS".to_owned(), "1".to_owned()),
    ]
}

#[test]
fn every_reason_and_a_rerun_without_change_processes_nothing() {
    let data = data();
    let out = tempfile::tempdir().unwrap();
    let output = out.path().to_str().unwrap();

    let first = run(data.path(), output, &[], &[]);
    assert_eq!(decisions(&first), all("ok", "new"));
    assert_eq!(first["aggregate"]["reused"], false);

    // Nothing changed: nothing is processed, and the aggregate is the one already there.
    let again = run(data.path(), output, &[], &[]);
    assert_eq!(processed(&again), 0);
    assert_eq!(again["up_to_date"], 4);
    assert_eq!(decisions(&again), all("up-to-date", "-"));
    assert_eq!(again["aggregate"]["reused"], true);
    assert_eq!(again["aggregate"]["summary"], first["aggregate"]["summary"]);
    for (a, b) in first["days"]
        .as_array()
        .unwrap()
        .iter()
        .zip(again["days"].as_array().unwrap())
    {
        assert_eq!(a["output_hash"], b["output_hash"]);
        assert_eq!(
            b["made_by"], first["run"],
            "up-to-date days name the run that made them"
        );
    }

    // Touching a file (same bytes, new time) is no change; editing one is.
    let positions = data.path().join("vehicle_positions/2016-11-26.csv");
    let bytes = fs::read(&positions).unwrap();
    fs::write(&positions, &bytes).unwrap();
    assert_eq!(processed(&run(data.path(), output, &[], &[])), 0);
    let text = String::from_utf8(bytes.clone()).unwrap();
    let (header, rows) = text.split_once('\n').unwrap();
    let first_row = rows.lines().next().unwrap();
    fs::write(&positions, format!("{header}\n{rows}{first_row}\n")).unwrap();
    let changed = run(data.path(), output, &[], &[]);
    let mut expected = all("up-to-date", "-");
    expected.insert("2016-11-26".into(), ("ok".into(), "input-changed".into()));
    assert_eq!(decisions(&changed), expected);
    // A repeated position merges into its group: the day's output is the same bytes, so it is
    // reported unchanged, and the aggregate (which depends only on outputs) is reused.
    assert_eq!(changed["days"][2]["unchanged"], true, "{changed}");
    assert_eq!(changed["aggregate"]["reused"], true);

    // An output that is gone, or edited, is made again.
    fs::remove_file(out.path().join("2016-11-24_processed.csv")).unwrap();
    let edited = out.path().join("2016-11-25_processed.csv");
    let mut output_bytes = fs::read(&edited).unwrap();
    output_bytes.extend_from_slice(b"extra\n");
    fs::write(&edited, &output_bytes).unwrap();
    let repaired = run(data.path(), output, &[], &[]);
    let mut expected = all("up-to-date", "-");
    expected.insert("2016-11-24".into(), ("ok".into(), "output-missing".into()));
    expected.insert("2016-11-25".into(), ("ok".into(), "output-missing".into()));
    assert_eq!(decisions(&repaired), expected);
    assert_eq!(
        fs::read(&edited).unwrap(),
        fs::read(out.path().join("2016-11-27_processed.csv")).unwrap(),
        "the edited output is the processor's again (days 25 and 27 have the same positions)"
    );
    // The edited file was not thrown away: it is kept as a version of the day.
    let versions = out.path().join(".capq/versions/2016-11-25");
    let edited_hash = format!("{:016x}", xxhash_rust::xxh64::xxh64(&output_bytes, 0));
    assert_eq!(files_in(&versions), [format!("{edited_hash}.csv")]);
    assert_eq!(
        fs::read(versions.join(format!("{edited_hash}.csv"))).unwrap(),
        output_bytes
    );

    // A failing day fails again until fixed, and is re-run after it failed.
    fs::write(&positions, format!("{header}\n{first_row}\nnot,a,row\n")).unwrap();
    let mut args = vec!["run", "--json", "--data", data.path().to_str().unwrap()];
    args.extend(["--output", output]);
    let failing = capq_env(&args, &[]);
    assert_eq!(failing.status.code(), Some(1), "{}", stderr(&failing));
    let failing: Value = serde_json::from_slice(&failing.stdout).unwrap();
    assert_eq!(
        decisions(&failing)["2016-11-26"],
        ("failed".into(), "input-changed".into())
    );
    // A failure stores nothing: the day's previous output stays in place.
    assert!(out.path().join("2016-11-26_processed.csv").is_file());
    fs::write(&positions, &bytes).unwrap();
    let fixed = run(data.path(), output, &[], &[]);
    assert_eq!(
        decisions(&fixed)["2016-11-26"],
        ("ok".into(), "last-failed".into())
    );

    // Parameters: every day again; then back to the defaults, every day again.
    let params = run(
        data.path(),
        output,
        &["--param", "group_max_distance=0.1"],
        &[],
    );
    assert_eq!(decisions(&params), all("ok", "params-changed"));
    let back = run(data.path(), output, &[], &[]);
    assert_eq!(decisions(&back), all("ok", "params-changed"));
    assert!(
        back["days"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["unchanged"] == false),
        "group_max_distance=0.1 changed every day's rows, and the defaults changed them back"
    );

    // Another processor: every day again; same bytes, so each is unchanged and the aggregate
    // (and each day's partial) is reused.
    let partial = out.path().join("2016-11-27_processed.partial");
    let partial_before = fs::metadata(&partial).unwrap().modified().unwrap();
    let processor = run(data.path(), output, &[], &other_processor());
    assert_eq!(decisions(&processor), all("ok", "processor-changed"));
    assert!(
        processor["days"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["unchanged"] == true),
        "{processor}"
    );
    assert_eq!(processor["aggregate"]["reused"], true);
    assert_eq!(
        fs::metadata(&partial).unwrap().modified().unwrap(),
        partial_before
    );
    // Back to this build's processor: processor-changed again.
    let mine = run(data.path(), output, &["--no-aggregate"], &[]);
    assert_eq!(decisions(&mine), all("ok", "processor-changed"));
    assert!(mine.get("aggregate").is_none(), "--no-aggregate");

    // --force processes every day whatever its state.
    let forced = run(data.path(), output, &["--force"], &[]);
    assert_eq!(decisions(&forced), all("ok", "forced"));

    // Every run is on record, oldest first.
    let listed = capq_env(&["runs", "--json", "--output", output], &[]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let runs: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 12, "{runs:?}");
    assert_eq!(runs[0]["id"], first["run"]);
    assert_eq!(runs[1]["days"]["up_to_date"], 4);
    assert_eq!(runs[7]["params_changed"][0], "group_max_distance=0.1");
    assert_eq!(runs[9]["processor"], "0123456789abcdef");
    assert!(runs[0]["otp"].as_f64().is_some());
    let table = capq_env(&["runs", "--output", output], &[]);
    let table = stdout(&table);
    assert!(table.starts_with("run "), "{table}");
    assert_eq!(table.lines().count(), 13, "{table}");
}

#[test]
fn every_version_of_a_day_is_kept_and_the_newest_is_shown() {
    let data = data();
    let out = tempfile::tempdir().unwrap();
    let output = out.path().to_str().unwrap();
    let day = "2016-11-25";
    let first = run(data.path(), output, &["--days", day], &[]);
    let default_bytes = fs::read(out.path().join(format!("{day}_processed.csv"))).unwrap();
    let second = run(
        data.path(),
        output,
        &["--days", day, "--param", "group_max_distance=0.1"],
        &[],
    );
    let narrow_bytes = fs::read(out.path().join(format!("{day}_processed.csv"))).unwrap();
    assert_ne!(default_bytes, narrow_bytes);
    let hash = |json: &Value| json["days"][0]["output_hash"].as_str().unwrap().to_owned();
    let versions = out.path().join(".capq/versions").join(day);
    // The replaced output is kept; the newest is the user-facing file.
    assert_eq!(
        files_in(&versions),
        [
            format!("{}.csv", hash(&first)),
            format!("{}.partial", hash(&first))
        ]
    );
    assert_eq!(
        fs::read(versions.join(format!("{}.csv", hash(&first)))).unwrap(),
        default_bytes,
        "the first version is kept"
    );
    assert_eq!(
        format!("{:016x}", xxhash_rust::xxh64::xxh64(&narrow_bytes, 0)),
        hash(&second)
    );
    // Back to the defaults: the second version is kept too.
    run(data.path(), output, &["--days", day], &[]);
    assert_eq!(
        fs::read(versions.join(format!("{}.csv", hash(&second)))).unwrap(),
        narrow_bytes
    );
    assert_eq!(
        fs::read(out.path().join(format!("{day}_processed.csv"))).unwrap(),
        default_bytes
    );
    // Each run's manifest names the version it made.
    for json in [&first, &second] {
        let manifest: Value = serde_json::from_slice(
            &fs::read(
                out.path()
                    .join(".capq/runs")
                    .join(json["run"].as_str().unwrap())
                    .join("run.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["format"], "capq-run");
        assert_eq!(manifest["version"], 1);
        let record = &manifest["days"][0];
        assert_eq!(record["output"]["hash"].as_str().unwrap(), hash(json));
        assert_eq!(
            record["output"]["version"].as_str().unwrap(),
            format!(".capq/versions/{day}/{}.csv", hash(json))
        );
        assert_eq!(record["inputs"]["files"][0]["name"], format!("{day}.csv"));
        assert_eq!(record["rows_in"], 29);
    }
}

#[test]
fn plan_says_what_run_would_do_without_doing_it() {
    let data = data();
    let out = tempfile::tempdir().unwrap();
    let output = out.path().to_str().unwrap();
    let base = ["--data", data.path().to_str().unwrap(), "--output", output];
    let plan = |extra: &[&str], env: &[(String, String)]| -> Value {
        let mut args = vec!["plan", "--json"];
        args.extend_from_slice(&base);
        args.extend_from_slice(extra);
        let result = capq_env(&args, env);
        assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
        serde_json::from_slice(&result.stdout).unwrap()
    };
    let fresh = plan(&[], &[]);
    assert_eq!(fresh["to_process"], 4);
    assert_eq!(fresh["reasons"]["new"], 4);
    assert!(files_in(out.path()).is_empty(), "plan writes nothing");

    run(data.path(), output, &[], &[]);
    let planned = plan(&["--days", "2016-11-24..2016-11-28"], &[]);
    assert_eq!(
        (
            planned["to_process"].as_u64(),
            planned["up_to_date"].as_u64()
        ),
        (Some(0), Some(4))
    );
    assert_eq!(planned["missing"], 1);
    assert_eq!(plan(&["--force"], &[])["reasons"]["forced"], 4);
    assert_eq!(
        plan(&["--param", "group_arrived_min_dev=30"], &[])["reasons"]["params-changed"],
        4
    );
    assert_eq!(
        plan(&[], &other_processor())["reasons"]["processor-changed"],
        4
    );

    add_position(data.path(), "2016-11-24");
    let mut args = vec!["plan"];
    args.extend_from_slice(&base);
    let table = capq_env(&args, &[]);
    let table = stdout(&table);
    let line = table.lines().find(|l| l.starts_with("2016-11-24")).unwrap();
    assert!(
        line.contains("input-changed") && line.contains("positions 2016-11-24.csv changed"),
        "{table}"
    );
    assert!(
        table.contains("4 days: 1 to process (1 input-changed), 3 up to date"),
        "{table}"
    );
    // Still nothing processed: the run that follows does it.
    assert_eq!(processed(&run(data.path(), output, &[], &[])), 1);
}

#[test]
fn bad_parameters_are_refused_before_any_work_listing_the_valid_keys() {
    let data = data();
    let out = tempfile::tempdir().unwrap();
    for (command, params) in [
        ("run", "group_max_dist=0.3"),
        ("plan", "group_max_distance=far"),
        ("process", "nonsense"),
    ] {
        let mut args = vec![
            command,
            "--data",
            data.path().to_str().unwrap(),
            "--output",
            out.path().to_str().unwrap(),
            "--param",
            params,
        ];
        if command == "process" {
            args.extend(["--day", "2016-11-25"]);
        }
        let result = capq_env(&args, &[]);
        assert_eq!(
            result.status.code(),
            Some(1),
            "{command}: {}",
            stderr(&result)
        );
        let message = stderr(&result);
        assert!(message.contains("--param"), "{message}");
        assert!(
            message.contains("group_max_distance") && message.contains("group_arrived_min_dev")
                || message.contains("expected a finite number"),
            "{message}"
        );
    }
    assert!(files_in(out.path()).is_empty());
}

#[test]
fn parameters_reach_the_output_and_defaults_reproduce_the_reference() {
    let data = data();
    let out = tempfile::tempdir().unwrap();
    let process = |params: &[&str], name: &str| -> Vec<u8> {
        let path = out.path().join(name);
        let mut args = vec![
            "process",
            "--data",
            data.path().to_str().unwrap(),
            "--day",
            "2016-11-25",
            "--output",
            path.to_str().unwrap(),
        ];
        for p in params {
            args.extend(["--param", p]);
        }
        let result = capq_env(&args, &[]);
        assert_eq!(result.status.code(), Some(0), "{}", stderr(&result));
        fs::read(path).unwrap()
    };
    let expected = fs::read(testdata().join("fixture/expected/2016-11-25.csv")).unwrap();
    let defaults = process(&[], "a.csv");
    assert_eq!(
        capmetrics::equivalence::compare(&expected, &defaults),
        Ok(21)
    );
    assert_eq!(process(&["group_max_distance=0.25"], "b.csv"), defaults);
    let narrow = process(&["group_max_distance=0.01"], "c.csv");
    assert!(narrow.len() < defaults.len());
    // capq run with the same parameter makes the same bytes.
    let folder = out.path().join("run");
    run(
        data.path(),
        folder.to_str().unwrap(),
        &["--days", "2016-11-25", "--param", "group_max_distance=0.01"],
        &[],
    );
    assert_eq!(
        fs::read(folder.join("2016-11-25_processed.csv")).unwrap(),
        narrow
    );
}

#[test]
fn a_run_writes_to_s3_and_reruns_incrementally_there() {
    let s3 = S3Server::start();
    s3.create_bucket("runs");
    let data = data();
    let output = "s3://runs/out/";
    let first = run(data.path(), output, &[], &s3.env());
    assert_eq!(decisions(&first), all("ok", "new"));
    let keys = s3.list_keys("runs", "out/");
    for day in DAYS {
        assert!(
            keys.contains(&format!("out/{day}_processed.csv")),
            "{keys:?}"
        );
        assert!(
            keys.contains(&format!("out/{day}_processed.partial")),
            "{keys:?}"
        );
    }
    assert!(
        keys.contains(&"out/aggregate/summary.json".to_owned()),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("out/.capq/runs/") && k.ends_with("/run.json"))
    );
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with("out/.capq/versions/"))
            .count(),
        0,
        "nothing was replaced yet"
    );
    // The bytes are the local run's.
    let local = tempfile::tempdir().unwrap();
    run(data.path(), local.path().to_str().unwrap(), &[], &[]);
    for day in DAYS {
        assert_eq!(
            s3.get_object("runs", &format!("out/{day}_processed.csv"))
                .unwrap(),
            fs::read(local.path().join(format!("{day}_processed.csv"))).unwrap()
        );
    }

    let again = run(data.path(), output, &[], &s3.env());
    assert_eq!(processed(&again), 0, "{again}");
    assert_eq!(again["aggregate"]["reused"], true);
    add_position(data.path(), "2016-11-27");
    let changed = run(data.path(), output, &[], &s3.env());
    assert_eq!(processed(&changed), 1);
    assert_eq!(
        decisions(&changed)["2016-11-27"],
        ("ok".into(), "input-changed".into())
    );
    // Another parameter replaces every output on S3; each replaced one is kept by a
    // server-side copy, with its partial, and keeps its bytes.
    let narrow = run(
        data.path(),
        output,
        &["--param", "group_max_distance=0.01"],
        &s3.env(),
    );
    assert_eq!(processed(&narrow), 4);
    let kept = s3.list_keys("runs", "out/.capq/versions/");
    // Four days' first outputs, and day 27's second (its input changed), each with its partial.
    assert_eq!(kept.len(), 10, "{kept:?}");
    for day in changed["days"].as_array().unwrap() {
        let key = format!(
            "out/.capq/versions/{}/{}.csv",
            day["day"].as_str().unwrap(),
            day["output_hash"].as_str().unwrap()
        );
        let bytes = s3
            .get_object("runs", &key)
            .unwrap_or_else(|| panic!("{key} in {kept:?}"));
        assert_eq!(
            format!("{:016x}", xxhash_rust::xxh64::xxh64(&bytes, 0)),
            day["output_hash"].as_str().unwrap()
        );
    }
    let back = run(data.path(), output, &[], &s3.env());
    assert_eq!(processed(&back), 4);

    // `capq aggregate` of the prefix reads the partials the run wrote, and agrees with the run.
    let agg = capq_env(
        &[
            "aggregate",
            "--input",
            output,
            "--output",
            "s3://runs/agg/",
            "--json",
        ],
        &s3.env(),
    );
    assert!(agg.status.success(), "{}", stderr(&agg));
    assert!(
        stderr(&agg).contains("(4 from partials, 0 from CSVs)"),
        "{}",
        stderr(&agg)
    );
    assert_eq!(
        s3.get_object("runs", "agg/summary.json").unwrap(),
        s3.get_object("runs", "out/aggregate/summary.json").unwrap()
    );

    let listed = capq_env(&["runs", "--json", "--output", output], &s3.env());
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 5);
}

/// `capq diff latest~1 latest --json` in `output`.
fn diff_latest(output: &str) -> Value {
    let result = capq_env(
        &["diff", "latest~1", "latest", "--output", output, "--json"],
        &[],
    );
    assert!(
        matches!(result.status.code(), Some(0 | 1)),
        "{}",
        stderr(&result)
    );
    serde_json::from_slice(&result.stdout).unwrap()
}

#[test]
fn every_run_ends_with_a_comparison_against_the_previous_one() {
    let data = data();
    let out = tempfile::tempdir().unwrap();
    let output = out.path().to_str().unwrap();

    let first = run(data.path(), output, &[], &[]);
    assert!(
        first["compared"].is_null(),
        "a first run has nothing to compare: {first}"
    );

    let again = run(data.path(), output, &[], &[]);
    let compared = &again["compared"];
    assert_eq!(compared["previous"], first["run"], "{compared}");
    assert_eq!(compared["differs"], false, "{compared}");
    assert_eq!(compared["days"]["identical"], 4, "{compared}");
    assert_eq!(compared["otp"]["change_pp"], 0.0, "{compared}");
    // Known from the manifests without a diff; the figure is the one a diff gives.
    let full = diff_latest(output);
    assert_eq!(full["days"]["identical"], 4);
    assert_eq!(compared["otp"]["b"], full["otp"]["system"]["b"]["otp"]);

    // A parameter that moves rows: the comparison's counts are `capq diff`'s.
    let changed = run(
        data.path(),
        output,
        &["--param", "group_max_distance=0.05"],
        &[],
    );
    let compared = &changed["compared"];
    let full = diff_latest(output);
    assert_eq!(compared["previous"], again["run"]);
    assert_eq!(compared["differs"], true, "{compared}");
    let changed_days = full["days"]["changed"].as_array().unwrap().len();
    assert!(changed_days > 0, "{}", full["days"]);
    assert_eq!(compared["days"]["changed"], changed_days);
    for key in ["added", "removed", "changed"] {
        assert_eq!(compared["rows"][key], full["rows"][key], "rows.{key}");
    }
    assert_eq!(
        compared["otp"]["change_pp"],
        full["otp"]["system"]["change_pp"]
    );
    assert_eq!(compared["otp"]["b"], full["otp"]["system"]["b"]["otp"]);

    // The table view says the same in a few lines, and where the detail is.
    let text = capq_env(
        &[
            "run",
            "--data",
            data.path().to_str().unwrap(),
            "--output",
            output,
        ],
        &[],
    );
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let shown = stdout(&text);
    assert!(
        shown.contains(&format!(
            "compared with the previous run, {}:",
            changed["run"].as_str().unwrap()
        )),
        "{shown}"
    );
    assert!(shown.contains("  rows     "), "{shown}");
    assert!(
        shown.contains("capq diff latest~1 latest --output"),
        "{shown}"
    );

    let quiet = run(data.path(), output, &["--no-compare"], &[]);
    assert!(quiet["compared"].is_null(), "{quiet}");
}
