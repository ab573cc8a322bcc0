//! Checks the reader and writer against `tests/fixtures/fixtures.txt`, made by CPython with
//! `make_fixtures.py`: every pickle Python wrote at protocols 0–5 loads as the value and repr it
//! recorded, every refused one fails naming the reason, and the writer reproduces Python's
//! protocol 2 bytes exactly (bytes the script checked Python reads back as the same value).

use capq_pickle::{dumps, loads};

use crate::common::{assert_error_style, parse_value, same, unhex};

const FIXTURES: &str = include_str!("../fixtures/fixtures.txt");

fn lines(kind: &str) -> Vec<Vec<&'static str>> {
    FIXTURES
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.split(' ').collect::<Vec<_>>())
        .filter(|fields| fields[0] == kind)
        .collect()
}

#[test]
fn python_pickles_load_as_python_saw_them() {
    let loads_lines = lines("load");
    assert!(
        loads_lines.len() > 150,
        "only {} load fixtures",
        loads_lines.len()
    );
    let mut failures = Vec::new();
    for fields in &loads_lines {
        let [_, name, protocol, pickle, repr, value @ ..] = fields.as_slice() else {
            panic!("bad load line {fields:?}");
        };
        let expected = parse_value(&mut value.iter().copied());
        match loads(&unhex(pickle)) {
            Ok(loaded) => {
                if !same(&loaded, &expected) {
                    failures.push(format!(
                        "{name} protocol {protocol}: loaded {loaded:?}, expected {expected:?}"
                    ));
                }
                let repr = String::from_utf8(unhex(repr)).unwrap();
                if loaded.to_string() != repr {
                    failures.push(format!(
                        "{name} protocol {protocol}: displays {loaded}, python repr {repr}"
                    ));
                }
            }
            Err(error) => failures.push(format!("{name} protocol {protocol}: {error}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_protocol_is_covered_for_the_rq_job() {
    let protocols: Vec<&str> = lines("load")
        .iter()
        .filter(|fields| fields[1] == "rq_job")
        .map(|fields| fields[2])
        .collect();
    assert_eq!(protocols, ["0", "1", "2", "3", "4", "5"]);
    let job = loads(&unhex(
        lines("load")
            .iter()
            .find(|f| f[1] == "rq_job" && f[2] == "5")
            .unwrap()[3],
    ))
    .unwrap();
    let items = job.as_tuple().unwrap();
    assert_eq!(items[0].as_str(), Some("tasks.process_day_to_s3"));
    assert!(items[1].is_none());
    assert_eq!(items[2].as_seq().unwrap().len(), 3);
    assert_eq!(items[3].as_dict(), Some(&[][..]));
    assert_eq!(
        job.to_string(),
        "('tasks.process_day_to_s3', None, ('2016-11-24', 'bucket', 'key'), {})"
    );
}

#[test]
fn foreign_pickles_are_refused_with_the_reason() {
    let refuse_lines = lines("refuse");
    assert!(
        refuse_lines.len() > 40,
        "only {} refuse fixtures",
        refuse_lines.len()
    );
    let mut failures = Vec::new();
    for fields in &refuse_lines {
        let [_, name, protocol, pickle, text @ ..] = fields.as_slice() else {
            panic!("bad refuse line {fields:?}");
        };
        let text = text.join(" ");
        match loads(&unhex(pickle)) {
            Ok(value) => failures.push(format!("{name} protocol {protocol}: accepted as {value}")),
            Err(error) => {
                assert_error_style(&error);
                if !error.to_string().contains(&text) {
                    failures.push(format!(
                        "{name} protocol {protocol}: `{error}` lacks `{text}`"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_date_refusal_reads_exactly() {
    let fields = lines("refuse")
        .into_iter()
        .find(|f| f[1] == "date" && f[2] == "5")
        .unwrap();
    let error = loads(&unhex(fields[3])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "pickle refers to `datetime.date`; only built-in values are accepted"
    );
}

#[test]
fn writer_matches_python_byte_for_byte() {
    let dump_lines = lines("dump");
    assert!(
        dump_lines.len() >= 13,
        "only {} dump fixtures",
        dump_lines.len()
    );
    let mut failures = Vec::new();
    for fields in &dump_lines {
        let [_, name, pickle, repr, value @ ..] = fields.as_slice() else {
            panic!("bad dump line {fields:?}");
        };
        let value = parse_value(&mut value.iter().copied());
        let python = unhex(pickle);
        let ours = dumps(&value);
        if ours != python {
            let at = ours
                .iter()
                .zip(&python)
                .position(|(a, b)| a != b)
                .unwrap_or(ours.len().min(python.len()));
            failures.push(format!("{name}: differs from python at byte {at}"));
        }
        match loads(&ours) {
            Ok(back) if same(&back, &value) => {}
            other => failures.push(format!("{name}: reads back as {other:?}")),
        }
        let repr = String::from_utf8(unhex(repr)).unwrap();
        if value.to_string() != repr {
            failures.push(format!("{name}: displays {value}, python repr {repr}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
