//! `capq bench`: speed figures of the day processor, measured in-process so that metadata
//! loading, decompression and processing can be told apart. Each figure is the median of
//! `--repeat` runs, with the fastest beside it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Context;
use capmetrics::metadata::{MetadataKind, choose};
use capmetrics::{DataSource, Input, LocalDir, Schedule, Stops, process_day};

use super::{connect, data_dir, parse_day, runtime};
use crate::cli::{BenchArgs, EnqueueBenchArgs};
use crate::exit;

pub fn run(args: BenchArgs) -> anyhow::Result<u8> {
    let day = parse_day(&args.day)?;
    let source = LocalDir::new(data_dir(args.data)?);
    let repeat = args.repeat.max(1);
    let raw = |folder: &str, name: &str| -> anyhow::Result<Vec<u8>> {
        let path = source.root().join(folder).join(name);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    };
    let metadata = |kind: MetadataKind| -> anyhow::Result<String> {
        let names = source.list(kind.folder())?;
        choose(kind, day, names.iter().map(String::as_str))
            .map(str::to_owned)
            .with_context(|| format!("no {kind} file covers {day}"))
    };
    let positions_name = ["csv", "csv.gz"]
        .map(|ext| format!("{day}.{ext}"))
        .into_iter()
        .find(|name| source.root().join("vehicle_positions").join(name).exists())
        .with_context(|| format!("no positions file for {day}"))?;
    let positions_raw = raw("vehicle_positions", &positions_name)?;
    let stops_name = metadata(MetadataKind::Stops)?;
    let schedule_name = metadata(MetadataKind::Schedule)?;
    let stops_raw = raw("stops", &stops_name)?;
    let schedule_raw = raw("schedule", &schedule_name)?;

    if args.only_processing {
        let stops = Stops::parse(&Input::from_bytes(&stops_name, stops_raw)?)?;
        let schedule = Schedule::parse(&Input::from_bytes(&schedule_name, schedule_raw)?)?;
        let positions = Input::from_bytes(&positions_name, positions_raw)?;
        let (median, min) = measure(repeat, || {
            let mut out = Vec::new();
            process_day(&positions, &stops, &schedule, &mut out).map(|_| out.len())
        })?;
        println!(
            "process day: median {:.2} ms, min {:.2} ms",
            ms(median),
            ms(min)
        );
        return Ok(exit::SUCCESS);
    }
    let stops_load = measure(repeat, || {
        Stops::parse(&Input::from_bytes("stops", stops_raw.clone())?).map(|s| s.len())
    })?;
    let schedule_load = measure(repeat, || {
        Schedule::parse(&Input::from_bytes("schedule", schedule_raw.clone())?).map(|s| s.len())
    })?;
    let stops = Stops::parse(&Input::from_bytes(&stops_name, stops_raw.clone())?)?;
    let schedule = Schedule::parse(&Input::from_bytes(&schedule_name, schedule_raw.clone())?)?;
    let positions = Input::from_bytes(&positions_name, positions_raw.clone())?;
    let decompress = measure(repeat, || {
        Input::from_bytes("positions", positions_raw.clone()).map(|i| i.bytes().len())
    })?;
    let mut diagnostics = None;
    let processing = measure(repeat, || {
        let mut out = Vec::new();
        let d = process_day(&positions, &stops, &schedule, &mut out)?;
        diagnostics = Some(d);
        Ok(out.len())
    })?;

    let d = diagnostics.context("no run")?;
    println!("day {day}: {} rows in, {} rows out", d.rows_in, d.rows_out);
    println!("{:<46} {:>10} {:>10}", "figure", "median ms", "min ms");
    let row = |name: String, (median, min): (Duration, Duration)| {
        println!("{name:<46} {:>10.2} {:>10.2}", ms(median), ms(min));
    };
    row(format!("load stops ({} rows)", stops.len()), stops_load);
    row(
        format!(
            "load schedule ({} rows, {} trips)",
            schedule.len(),
            schedule.trip_count()
        ),
        schedule_load,
    );
    row(
        format!(
            "decompress positions ({} kB gz)",
            positions_raw.len() / 1000
        ),
        decompress,
    );
    row(
        "process day (parse, match, group, format)".to_owned(),
        processing,
    );
    row(
        "process day incl. decompression".to_owned(),
        (processing.0 + decompress.0, processing.1 + decompress.1),
    );
    Ok(exit::SUCCESS)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs `f` `repeat` times (after one warm-up) and returns the median and minimum time.
fn measure<T>(
    repeat: usize,
    mut f: impl FnMut() -> capmetrics::Result<T>,
) -> anyhow::Result<(Duration, Duration)> {
    black_box(f()?);
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let started = Instant::now();
        black_box(f()?);
        times.push(started.elapsed());
    }
    times.sort();
    Ok((times[times.len() / 2], times[0]))
}

/// Enqueues `--jobs` no-op jobs with capq's enqueue path (MULTI pipelines of a few hundred jobs)
/// and prints the rate as JSON.
pub fn enqueue(args: EnqueueBenchArgs) -> anyhow::Result<u8> {
    use capq_core::payload::{Call, Serializer};
    use capq_redis::NewJob;
    let call = Call {
        func: "capq.noop".into(),
        args: vec![],
        kwargs: vec![],
        serializer: Serializer::Pickle,
    };
    let jobs: Vec<NewJob> = (0..args.jobs)
        .map(|_| NewJob::new(args.queue.clone(), call.clone()))
        .collect();
    runtime()?.block_on(async {
        let redis = connect(&args.redis.url).await?;
        let started = Instant::now();
        redis.enqueue(&jobs, None).await?;
        let seconds = started.elapsed().as_secs_f64();
        println!("{}", serde_json::json!({"jobs": args.jobs, "seconds": seconds, "jobs_per_second": args.jobs as f64 / seconds}));
        Ok(exit::SUCCESS)
    })
}
