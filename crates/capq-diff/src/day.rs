//! Comparing one day: deciding whether its two CSVs are identical (by content hash when one is
//! known, else by bytes), and when they are not, joining their rows on `(trip_id, stop_id)`
//! and comparing the pairs field by field under SPEC.md's equivalence.
//!
//! Every row read is counted for the statistics, on its side, as it goes by. A day that is
//! identical on both sides is counted once, from its current partial when there is one (no CSV
//! is read at all), else from one side's CSV.

use std::borrow::Cow;
use std::collections::BTreeMap;

use capmetrics::Date;
use capmetrics::equivalence::ColumnKind;
use capq_aggregate::{DayPartial, RowClass, Window};

use crate::report::{ChangedRow, FieldChange, HeaderChange, SampleRow, Samples};
use crate::side::{OutputFile, Side};
use crate::table::{Table, decimal, decompress, header, whole};
use crate::tally::{Class, DayRows, Moved, SideStats, Tally};
use crate::{Error, Fetch};

/// What there is to do for a day.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Job<'a> {
    /// Both sides have an output: compare them.
    Compare(&'a OutputFile, &'a OutputFile),
    /// Only A has an output: its rows are removed.
    OnlyA(&'a OutputFile),
    /// Only B has an output: its rows are added.
    OnlyB(&'a OutputFile),
}

/// How a compared day turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The same bytes; `by_hash` when content hashes told, without reading the CSVs.
    Identical {
        by_hash: bool,
    },
    /// Different bytes, equivalent rows.
    Equivalent,
    Changed,
    /// One side only: every row added or removed.
    OneSided,
}

/// The result of one day.
#[derive(Debug, Clone)]
pub(crate) struct DayResult {
    pub verdict: Verdict,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub unchanged: u64,
    /// Changed rows per differing column.
    pub columns: BTreeMap<String, u64>,
    pub header: Option<HeaderChange>,
    pub samples: Samples,
    pub notes: Vec<String>,
}

impl DayResult {
    fn new(verdict: Verdict) -> DayResult {
        DayResult {
            verdict,
            added: 0,
            removed: 0,
            changed: 0,
            unchanged: 0,
            columns: BTreeMap::new(),
            header: None,
            samples: Samples::default(),
            notes: Vec::new(),
        }
    }
}

/// What the comparison of days needs to know: the sides, how to read them, the window and
/// how many sample rows to keep.
pub(crate) struct Context<'a> {
    pub sides: [&'a Side; 2],
    pub fetch: [&'a Fetch<'a>; 2],
    pub window: Window,
    pub samples: usize,
    pub use_partials: bool,
}

/// The columns a row is joined and counted by.
#[derive(Debug, Clone, Copy)]
struct Columns {
    trip: usize,
    stop: usize,
    route: usize,
    distance: usize,
    deviation: usize,
    hour: usize,
}

impl Columns {
    fn of(table: &Table<'_>) -> Result<Columns, Error> {
        Ok(Columns {
            trip: table.required("trip_id")?,
            stop: table.required("stop_id")?,
            route: table.required("route_id")?,
            distance: table.required("distance_to_stop")?,
            deviation: table.required("sched_dev")?,
            hour: table.required("hourofday")?,
        })
    }
}

/// What the statistics and the rankings read of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Row {
    route: i64,
    stop: i64,
    class: RowClass,
    deviation: i64,
    hour: u8,
}

fn key(table: &Table<'_>, columns: &Columns, record: usize) -> Result<(i64, i64), Error> {
    let number = |column: usize, name: &'static str| {
        whole(table.field(record, column))
            .ok_or_else(|| table.field_error(record, column, name, "not an integer"))
    };
    Ok((
        number(columns.trip, "trip_id")?,
        number(columns.stop, "stop_id")?,
    ))
}

fn row(table: &Table<'_>, columns: &Columns, record: usize) -> Result<Row, Error> {
    let distance = decimal(table.field(record, columns.distance)).ok_or_else(|| {
        table.field_error(
            record,
            columns.distance,
            "distance_to_stop",
            "not a finite number",
        )
    })?;
    let deviation = whole(table.field(record, columns.deviation)).ok_or_else(|| {
        table.field_error(
            record,
            columns.deviation,
            "sched_dev",
            "not a whole number of seconds",
        )
    })?;
    let route = whole(table.field(record, columns.route))
        .ok_or_else(|| table.field_error(record, columns.route, "route_id", "not an integer"))?;
    let stop = whole(table.field(record, columns.stop))
        .ok_or_else(|| table.field_error(record, columns.stop, "stop_id", "not an integer"))?;
    let hour = whole(table.field(record, columns.hour))
        .and_then(|h| u8::try_from(h).ok())
        .filter(|h| *h < 24)
        .ok_or_else(|| {
            table.field_error(
                record,
                columns.hour,
                "hourofday",
                "not an hour from 0 to 23",
            )
        })?;
    Ok(Row {
        route,
        stop,
        class: RowClass::of(distance, deviation),
        deviation,
        hour,
    })
}

/// True when two field values are equivalent: the same text, or equal under the column's
/// rule (text that is not UTF-8 compares as bytes).
fn equivalent(kind: ColumnKind, a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(a), Ok(b)) => kind.same(a, b),
        _ => false,
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Context<'_> {
    /// Compares one day, counting its rows into `tally`.
    pub(crate) fn run(
        &self,
        day: Date,
        job: Job<'_>,
        tally: &mut Tally,
    ) -> Result<DayResult, Error> {
        match job {
            Job::Compare(a, b) => self.compare(day, a, b, tally),
            Job::OnlyA(a) => self.one_sided(day, 0, a, tally),
            Job::OnlyB(b) => self.one_sided(day, 1, b, tally),
        }
    }

    /// The CSV of `file`, decompressed.
    fn read(&self, side: usize, file: &OutputFile) -> Result<Vec<u8>, Error> {
        let name = &file.csv.name;
        let label = self.sides[side].file_label(name);
        let raw = (self.fetch[side])(name)?.ok_or_else(|| Error::Vanished {
            file: label.clone(),
        })?;
        decompress(&label, raw)
    }

    fn table(
        &self,
        side: usize,
        file: &OutputFile,
        bytes: Vec<u8>,
    ) -> Result<Table<'static>, Error> {
        Table::parse(
            self.sides[side].file_label(&file.csv.name),
            Cow::Owned(bytes),
        )
    }

    /// The bytes of the day's partial on `side`, unless partials are off, there is none, or
    /// the CSV is newer than it (rewritten after it, when both times are known).
    fn partial_bytes(
        &self,
        side: usize,
        file: &OutputFile,
        notes: &mut Vec<String>,
    ) -> Option<Vec<u8>> {
        if !self.use_partials {
            return None;
        }
        let partial = file.partial.as_ref()?;
        if let (Some(csv_time), Some(partial_time)) = (file.csv.modified, partial.modified)
            && csv_time > partial_time
        {
            return None;
        }
        match (self.fetch[side])(&partial.name) {
            Ok(bytes) => bytes,
            Err(e) => {
                notes.push(format!("{e}; compared the CSVs instead"));
                None
            }
        }
    }

    /// Decodes a partial; an unusable one is a note, never an error (the CSVs are read
    /// instead).
    fn decode(
        &self,
        side: usize,
        file: &OutputFile,
        bytes: &[u8],
        notes: &mut Vec<String>,
    ) -> Option<DayPartial> {
        let name = file.partial.as_ref().map_or("", |p| p.name.as_str());
        match DayPartial::decode(&self.sides[side].file_label(name), bytes) {
            Ok(decoded) => Some(decoded),
            Err(e) => {
                notes.push(format!("{e}; compared the CSVs instead"));
                None
            }
        }
    }

    /// The current partials of a day's two sides. When the side recorded the CSV's content
    /// hash (a run does), a partial is current when its recorded source has that hash: a kept
    /// version is named by its hash, not as the partial recorded it. Otherwise
    /// (docs/aggregate.md §4) the partial's recorded source has the CSV's name and length, and
    /// the CSV is not newer than it. Two partial files with the same bytes are decoded once.
    fn partials(&self, day: Date, files: [&OutputFile; 2], notes: &mut Vec<String>) -> Partials {
        let current = |p: &DayPartial, file: &OutputFile| {
            if p.day() != day {
                return false;
            }
            match (file.hash, p.source()) {
                (Some(hash), Some(source)) => {
                    source.hash == hash && file.csv.size.is_none_or(|size| size == source.len)
                }
                _ => {
                    let name = file.csv.name.rsplit('/').next().unwrap_or(&file.csv.name);
                    file.csv.size.is_some_and(|size| p.describes(name, size))
                }
            }
        };
        let raw = [
            self.partial_bytes(0, files[0], notes),
            self.partial_bytes(1, files[1], notes),
        ];
        let mut partials = Partials::default();
        if let [Some(x), Some(y)] = &raw
            && x == y
        {
            if let Some(p) = self.decode(0, files[0], x, notes) {
                partials.shared = [current(&p, files[0]), current(&p, files[1])];
                partials.decoded[0] = Some(p);
            }
            return partials;
        }
        for side in 0..2 {
            if let Some(bytes) = &raw[side]
                && let Some(p) = self.decode(side, files[side], bytes, notes)
                && current(&p, files[side])
            {
                partials.decoded[side] = Some(p);
            }
        }
        partials
    }

    fn compare(
        &self,
        day: Date,
        a: &OutputFile,
        b: &OutputFile,
        tally: &mut Tally,
    ) -> Result<DayResult, Error> {
        let mut notes = Vec::new();
        let partials = self.partials(day, [a, b], &mut notes);
        let hashes = [
            a.hash
                .or_else(|| partials.get(0).and_then(|p| p.source()).map(|s| s.hash)),
            b.hash
                .or_else(|| partials.get(1).and_then(|p| p.source()).map(|s| s.hash)),
        ];
        let identical = |by_hash: bool, unchanged: u64, notes: Vec<String>| {
            let mut result = DayResult::new(Verdict::Identical { by_hash });
            result.unchanged = unchanged;
            result.notes = notes;
            result
        };
        if let [Some(x), Some(y)] = hashes
            && x == y
        {
            let unchanged = match partials.get(0).or(partials.get(1)) {
                Some(partial) => self.count_partial(partial, tally),
                None => {
                    let table = self.table(0, a, self.read(0, a)?)?;
                    self.count_identical(&table, tally)?
                }
            };
            return Ok(identical(true, unchanged, notes));
        }
        let bytes_a = self.read(0, a)?;
        let bytes_b = self.read(1, b)?;
        if bytes_a == bytes_b {
            let unchanged = match partials.get(0).or(partials.get(1)) {
                Some(partial) => self.count_partial(partial, tally),
                None => {
                    let table = self.table(0, a, bytes_a)?;
                    self.count_identical(&table, tally)?
                }
            };
            return Ok(identical(false, unchanged, notes));
        }
        if let (Some(pa), Some(pb)) = (partials.get(0), partials.get(1))
            && let Some(mut result) =
                self.join_lines(day, [a, b], [&bytes_a, &bytes_b], [pa, pb], tally)?
        {
            result.notes = notes;
            return Ok(result);
        }
        let table_a = self.table(0, a, bytes_a)?;
        let table_b = self.table(1, b, bytes_b)?;
        let (mut result, rows) = self.join(day, &table_a, &table_b, tally)?;
        for (side, rows) in rows.iter().enumerate() {
            rows.add_to(&mut tally.all[side]);
            if result.verdict == Verdict::Changed {
                rows.add_to(&mut tally.changed_days[side]);
            }
        }
        result.notes = notes;
        Ok(result)
    }

    /// The comparison of a changed day whose two partials are current: rows whose text is
    /// the same on both sides are recognised by walking the two files together (a memory
    /// comparison, no field is split), only the others are joined on their key, and the
    /// statistics come from the partials. `None` when this does not apply (quotes, blank
    /// lines, another header) or when the partials' counts do not add up with the rows found
    /// (then the partials do not describe these CSVs): the caller reads the whole files.
    fn join_lines(
        &self,
        day: Date,
        files: [&OutputFile; 2],
        bytes: [&[u8]; 2],
        partials: [&DayPartial; 2],
        tally: &mut Tally,
    ) -> Result<Option<DayResult>, Error> {
        let (columns, start_a) = header(&self.sides[0].file_label(&files[0].csv.name), bytes[0])?;
        let (columns_b, start_b) = header(&self.sides[1].file_label(&files[1].csv.name), bytes[1])?;
        // Quoted fields may hold commas and line ends; such files take the general path. (A
        // blank line, which holds no row, is counted as one by the walk, so the partials'
        // counts do not add up below and the general path is taken too.)
        let plain = |data: &[u8], start: usize| memchr::memchr(b'"', &data[start..]).is_none();
        if columns != columns_b || !plain(bytes[0], start_a) || !plain(bytes[1], start_b) {
            return Ok(None);
        }
        let lines = walk(bytes[0], start_a, bytes[1], start_b);
        let label = |side: usize| self.sides[side].file_label(&files[side].csv.name);
        let table_a = Table::from_lines(label(0), bytes[0], columns.clone(), &lines.only[0])?;
        let table_b = Table::from_lines(label(1), bytes[1], columns, &lines.only[1])?;
        let mut local = Tally::default();
        let (mut result, rows) = self.join(day, &table_a, &table_b, &mut local)?;
        // Rows of the same text are the same row on both sides, of the same class: what the
        // partials count beyond the joined rows must be them, class by class.
        let joined = [rows[0].classes(self.window), rows[1].classes(self.window)];
        let totals = [
            class_counts(partials[0], self.window),
            class_counts(partials[1], self.window),
        ];
        let mut same_text = [0u64; 5];
        for class in 0..5 {
            let (Some(x), Some(y)) = (
                totals[0][class].checked_sub(joined[0][class]),
                totals[1][class].checked_sub(joined[1][class]),
            ) else {
                return Ok(None);
            };
            if x != y {
                return Ok(None);
            }
            same_text[class] = x;
        }
        if same_text.iter().sum::<u64>() != lines.same {
            return Ok(None);
        }
        for (class, n) in same_text.into_iter().enumerate() {
            local.matrix[class][class] += n;
        }
        result.unchanged += lines.same;
        // The local tally holds the matrix and the places only; the statistics go straight
        // into the thread's (no per-day histograms to allocate and merge).
        tally.merge(&local);
        for (side, partial) in partials.into_iter().enumerate() {
            add_partial(partial, &mut tally.all[side]);
            if result.verdict == Verdict::Changed {
                add_partial(partial, &mut tally.changed_days[side]);
            }
        }
        Ok(Some(result))
    }

    /// Counts a day identical on both sides from its partial; returns its rows.
    fn count_partial(&self, partial: &DayPartial, tally: &mut Tally) -> u64 {
        for stats in &mut tally.all {
            add_partial(partial, stats);
        }
        for (class, n) in class_counts(partial, self.window).into_iter().enumerate() {
            tally.matrix[class][class] += n;
        }
        partial.rows()
    }

    /// Counts a day identical on both sides from one side's CSV; returns its rows.
    fn count_identical(&self, table: &Table<'_>, tally: &mut Tally) -> Result<u64, Error> {
        let columns = Columns::of(table)?;
        for record in 0..table.len() {
            let r = row(table, &columns, record)?;
            for stats in &mut tally.all {
                stats.add_row(r.route, r.class, r.deviation);
            }
            let class = Class::of(r.class, r.deviation, self.window).index();
            tally.matrix[class][class] += 1;
        }
        Ok(table.len() as u64)
    }

    /// A day one side has: every row is added (B) or removed (A).
    fn one_sided(
        &self,
        day: Date,
        side: usize,
        file: &OutputFile,
        tally: &mut Tally,
    ) -> Result<DayResult, Error> {
        let table = self.table(side, file, self.read(side, file)?)?;
        let columns = Columns::of(&table)?;
        let mut result = DayResult::new(Verdict::OneSided);
        for record in 0..table.len() {
            let r = row(&table, &columns, record)?;
            tally.all[side].add_row(r.route, r.class, r.deviation);
            let class = Class::of(r.class, r.deviation, self.window).index();
            let absent = Class::Absent.index();
            let moved = if side == 0 {
                tally.matrix[class][absent] += 1;
                result.removed += 1;
                Moved::Removed
            } else {
                tally.matrix[absent][class] += 1;
                result.added += 1;
                Moved::Added
            };
            tally.places.add(moved, r.route, r.hour, r.stop);
            let samples = if side == 0 {
                &mut result.samples.removed
            } else {
                &mut result.samples.added
            };
            if samples.len() < self.samples {
                samples.push(sample(day, &table, &columns, record, &r)?);
            }
        }
        Ok(result)
    }

    /// Joins the rows of two different CSVs of a day on `(trip_id, stop_id)` and compares the
    /// pairs, counting the moved rows and the class of every pair into `tally`. Returns the
    /// rows read, for the caller to count into the statistics.
    fn join(
        &self,
        day: Date,
        a: &Table<'_>,
        b: &Table<'_>,
        tally: &mut Tally,
    ) -> Result<(DayResult, [DayRows; 2]), Error> {
        let columns_a = Columns::of(a)?;
        let columns_b = Columns::of(b)?;
        let same_header = a.columns() == b.columns();
        let mut result = DayResult::new(Verdict::Changed);
        if !same_header {
            result.header = Some(HeaderChange {
                a: a.columns().to_vec(),
                b: b.columns().to_vec(),
            });
        }
        // The columns compared: (name, position in A, position in B, rule); a column only one
        // side has differs on every pair.
        let mut compared: Vec<(&str, Option<usize>, Option<usize>, ColumnKind)> = a
            .columns()
            .iter()
            .enumerate()
            .map(|(i, name)| (name.as_str(), Some(i), b.column(name), ColumnKind::of(name)))
            .collect();
        for (i, name) in b.columns().iter().enumerate() {
            if a.column(name).is_none() {
                compared.push((name.as_str(), None, Some(i), ColumnKind::of(name)));
            }
        }
        let mut differing = vec![0u64; compared.len()];

        let keys = |table: &Table<'_>, columns: &Columns| -> Result<Vec<(i64, i64, u32)>, Error> {
            let mut keys = (0..table.len())
                .map(|record| key(table, columns, record).map(|(t, s)| (t, s, record as u32)))
                .collect::<Result<Vec<_>, Error>>()?;
            // Already sorted when the processor wrote the file in key order; cheap either way.
            keys.sort_unstable();
            Ok(keys)
        };
        let keys_a = keys(a, &columns_a)?;
        let keys_b = keys(b, &columns_b)?;
        let mut rows = [DayRows::default(), DayRows::default()];
        let absent = Class::Absent.index();
        let (mut i, mut j) = (0, 0);
        while i < keys_a.len() || j < keys_b.len() {
            let order = match (keys_a.get(i), keys_b.get(j)) {
                (Some(x), Some(y)) => (x.0, x.1).cmp(&(y.0, y.1)),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match order {
                std::cmp::Ordering::Less => {
                    let record = keys_a[i].2 as usize;
                    i += 1;
                    let r = row(a, &columns_a, record)?;
                    rows[0].push(r.route, r.class, r.deviation);
                    tally.matrix[Class::of(r.class, r.deviation, self.window).index()][absent] += 1;
                    tally.places.add(Moved::Removed, r.route, r.hour, r.stop);
                    result.removed += 1;
                    if result.samples.removed.len() < self.samples {
                        result
                            .samples
                            .removed
                            .push(sample(day, a, &columns_a, record, &r)?);
                    }
                }
                std::cmp::Ordering::Greater => {
                    let record = keys_b[j].2 as usize;
                    j += 1;
                    let r = row(b, &columns_b, record)?;
                    rows[1].push(r.route, r.class, r.deviation);
                    tally.matrix[absent][Class::of(r.class, r.deviation, self.window).index()] += 1;
                    tally.places.add(Moved::Added, r.route, r.hour, r.stop);
                    result.added += 1;
                    if result.samples.added.len() < self.samples {
                        result
                            .samples
                            .added
                            .push(sample(day, b, &columns_b, record, &r)?);
                    }
                }
                std::cmp::Ordering::Equal => {
                    let (trip, stop, record_a) = keys_a[i];
                    let record_b = keys_b[j].2;
                    i += 1;
                    j += 1;
                    let (record_a, record_b) = (record_a as usize, record_b as usize);
                    let same_text = same_header && a.raw(record_a) == b.raw(record_b);
                    let row_a = row(a, &columns_a, record_a)?;
                    let row_b = if same_text {
                        row_a
                    } else {
                        row(b, &columns_b, record_b)?
                    };
                    rows[0].push(row_a.route, row_a.class, row_a.deviation);
                    rows[1].push(row_b.route, row_b.class, row_b.deviation);
                    let class_a = Class::of(row_a.class, row_a.deviation, self.window);
                    let class_b = Class::of(row_b.class, row_b.deviation, self.window);
                    tally.matrix[class_a.index()][class_b.index()] += 1;
                    if same_text {
                        result.unchanged += 1;
                        continue;
                    }
                    let keep = result.samples.changed.len() < self.samples;
                    let mut changes = Vec::new();
                    let mut any = false;
                    for (slot, &(name, in_a, in_b, kind)) in compared.iter().enumerate() {
                        let before = in_a.map(|c| a.field(record_a, c));
                        let after = in_b.map(|c| b.field(record_b, c));
                        let same = match (before, after) {
                            (Some(x), Some(y)) => equivalent(kind, x, y),
                            _ => false,
                        };
                        if !same {
                            any = true;
                            differing[slot] += 1;
                            if keep {
                                changes.push(FieldChange {
                                    column: name.to_owned(),
                                    before: before.map(text),
                                    after: after.map(text),
                                });
                            }
                        }
                    }
                    if !any {
                        result.unchanged += 1;
                        continue;
                    }
                    result.changed += 1;
                    tally
                        .places
                        .add(Moved::Changed, row_b.route, row_b.hour, row_b.stop);
                    if keep {
                        result.samples.changed.push(ChangedRow {
                            day,
                            trip_id: trip,
                            stop_id: stop,
                            route_id: row_b.route,
                            changes,
                        });
                    }
                }
            }
        }
        for (slot, count) in differing.into_iter().enumerate() {
            if count > 0 {
                result.columns.insert(compared[slot].0.to_owned(), count);
            }
        }
        let differs = result.added + result.removed + result.changed > 0 || !same_header;
        result.verdict = if differs {
            Verdict::Changed
        } else {
            Verdict::Equivalent
        };
        Ok((result, rows))
    }
}

/// The two sides' current partials of a day; one decoded partial may serve both.
#[derive(Default)]
struct Partials {
    decoded: [Option<DayPartial>; 2],
    /// The partial decoded for side A is also side B's (their files are the same bytes).
    shared: [bool; 2],
}

impl Partials {
    fn get(&self, side: usize) -> Option<&DayPartial> {
        if self.shared[side] {
            self.decoded[0].as_ref()
        } else {
            self.decoded[side].as_ref()
        }
    }
}

/// Adds a partial's used rows to a side's statistics.
fn add_partial(partial: &DayPartial, stats: &mut SideStats) {
    stats
        .system
        .add_bins(partial.used_deviations().iter().copied());
    for (route_id, _, bins) in partial.route_hour_deviations() {
        stats.routes.entry(route_id).or_default().add_bins(bins);
    }
}

/// A partial's rows per class (early, on time, late, far, outlier) under `window`.
fn class_counts(partial: &DayPartial, window: Window) -> [u64; 5] {
    let (far, outlier, _) = partial.classes();
    let mut counts = [0, 0, 0, far, outlier];
    for &(deviation, count) in partial.used_deviations() {
        counts[Class::of(RowClass::Used, deviation, window).index()] += count;
    }
    counts
}

/// What walking two files together found: how many lines have the same text on both sides,
/// and the `(start, end)` spans of the others, per side.
#[derive(Debug, Default)]
struct Walk {
    same: u64,
    only: [Vec<(usize, usize)>; 2],
}

/// Lines looked ahead for the same text after a difference.
const LOOKAHEAD: usize = 8;

/// The line starting at `pos`: its span without the line end, and where the next one starts.
fn line_at(data: &[u8], pos: usize) -> (usize, usize, usize) {
    let newline = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |i| pos + i);
    let end = if newline > pos && data[newline - 1] == b'\r' {
        newline - 1
    } else {
        newline
    };
    (pos, end, (newline + 1).min(data.len()))
}

/// Walks the bodies of two CSVs (from `a_start` and `b_start`) together. Runs of equal bytes
/// are skipped with a memory comparison and their lines counted; at a line that differs, up to
/// [`LOOKAHEAD`] lines on each side are searched for the other side's line (a row inserted or
/// removed), else both lines are set aside. Lines set aside whose text the other side also set
/// aside are paired at the end, so a row that moved within the file is still the same row.
fn walk(a: &[u8], a_start: usize, b: &[u8], b_start: usize) -> Walk {
    let mut out = Walk::default();
    let (mut i, mut j) = (a_start, b_start);
    while i < a.len() && j < b.len() {
        let common = common_prefix(&a[i..], &b[j..]);
        if common > 0 {
            let region = &a[i..i + common];
            match memchr::memrchr(b'\n', region) {
                Some(last) => {
                    out.same += count_newlines(&region[..=last]);
                    i += last + 1;
                    j += last + 1;
                }
                None if i + common == a.len() && j + common == b.len() => {
                    // The last lines, without line ends, are the same.
                    out.same += 1;
                    i = a.len();
                    j = b.len();
                    break;
                }
                None => {}
            }
            if i >= a.len() || j >= b.len() {
                break;
            }
        }
        let (sa, ea, na) = line_at(a, i);
        let (sb, eb, nb) = line_at(b, j);
        if a[sa..ea] == b[sb..eb] {
            // Only the line ends differ.
            out.same += 1;
            (i, j) = (na, nb);
            continue;
        }
        // Look ahead for a resynchronisation: B's line further on in A, or A's in B.
        let mut resynced = false;
        let (mut ai, mut bj) = (na, nb);
        // The lines passed over on each side, the differing line first (no allocation: this
        // runs at every differing line).
        let mut skipped_a = [(sa, ea); LOOKAHEAD + 1];
        let mut skipped_b = [(sb, eb); LOOKAHEAD + 1];
        let (mut passed_a, mut passed_b) = (1, 1);
        for _ in 0..LOOKAHEAD {
            if ai < a.len() {
                let (s, e, n) = line_at(a, ai);
                if a[s..e] == b[sb..eb] {
                    out.only[0].extend_from_slice(&skipped_a[..passed_a]);
                    i = s;
                    resynced = true;
                    break;
                }
                skipped_a[passed_a] = (s, e);
                passed_a += 1;
                ai = n;
            }
            if bj < b.len() {
                let (s, e, n) = line_at(b, bj);
                if b[s..e] == a[sa..ea] {
                    out.only[1].extend_from_slice(&skipped_b[..passed_b]);
                    j = s;
                    resynced = true;
                    break;
                }
                skipped_b[passed_b] = (s, e);
                passed_b += 1;
                bj = n;
            }
            if ai >= a.len() && bj >= b.len() {
                break;
            }
        }
        if !resynced {
            out.only[0].push((sa, ea));
            out.only[1].push((sb, eb));
            (i, j) = (na, nb);
        }
    }
    for (data, mut pos, side) in [(a, i, 0), (b, j, 1)] {
        while pos < data.len() {
            let (s, e, n) = line_at(data, pos);
            out.only[side].push((s, e));
            pos = n;
        }
    }
    // A blank line holds no row.
    for only in &mut out.only {
        only.retain(|(s, e)| s < e);
    }
    // Lines set aside on both sides with the same text.
    let mut texts: rustc_hash::FxHashMap<&[u8], Vec<usize>> = rustc_hash::FxHashMap::default();
    for (index, &(s, e)) in out.only[0].iter().enumerate() {
        texts.entry(&a[s..e]).or_default().push(index);
    }
    let mut paired_a = vec![false; out.only[0].len()];
    let mut rest_b = Vec::with_capacity(out.only[1].len());
    for &(s, e) in &out.only[1] {
        match texts.get_mut(&b[s..e]).and_then(|indexes| indexes.pop()) {
            Some(index) => {
                paired_a[index] = true;
                out.same += 1;
            }
            None => rest_b.push((s, e)),
        }
    }
    let rest_a = out.only[0]
        .iter()
        .zip(&paired_a)
        .filter(|(_, paired)| !**paired)
        .map(|(span, _)| *span)
        .collect();
    out.only = [rest_a, rest_b];
    out
}

/// The line feeds in `bytes`, counted 255 bytes at a time in 8-bit counters (which the
/// compiler turns into vector instructions).
fn count_newlines(bytes: &[u8]) -> u64 {
    bytes
        .chunks(255)
        .map(|chunk| {
            let n = chunk
                .iter()
                .fold(0u8, |n, &b| n.wrapping_add(u8::from(b == b'\n')));
            u64::from(n)
        })
        .sum()
}

/// The length of the common prefix of two byte strings, found a block at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 256;
    let limit = a.len().min(b.len());
    let mut n = 0;
    while n + BLOCK <= limit && a[n..n + BLOCK] == b[n..n + BLOCK] {
        n += BLOCK;
    }
    while n + 16 <= limit && a[n..n + 16] == b[n..n + 16] {
        n += 16;
    }
    while n < limit && a[n] == b[n] {
        n += 1;
    }
    n
}

/// A row only one side has, for the samples.
fn sample(
    day: Date,
    table: &Table<'_>,
    columns: &Columns,
    record: usize,
    row: &Row,
) -> Result<SampleRow, Error> {
    let (trip_id, stop_id) = key(table, columns, record)?;
    Ok(SampleRow {
        day,
        trip_id,
        stop_id,
        route_id: row.route,
        fields: table
            .columns()
            .iter()
            .enumerate()
            .map(|(c, name)| (name.clone(), text(table.field(record, c))))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The walk of two bodies (no header): lines of the same text, and the others' text.
    fn walked(a: &str, b: &str) -> (u64, Vec<String>, Vec<String>) {
        let w = walk(a.as_bytes(), 0, b.as_bytes(), 0);
        let text = |data: &str, spans: &[(usize, usize)]| {
            let mut lines: Vec<String> =
                spans.iter().map(|&(s, e)| data[s..e].to_owned()).collect();
            lines.sort();
            lines
        };
        (w.same, text(a, &w.only[0]), text(b, &w.only[1]))
    }

    #[test]
    fn the_walk_finds_rows_of_the_same_text() {
        let a = "1\n2\n3\n4\n5\n";
        assert_eq!(walked(a, a), (5, vec![], vec![]));
        // Changed, inserted, removed, moved.
        assert_eq!(
            walked(a, "1\n2\nx\n4\n5\n"),
            (4, vec!["3".into()], vec!["x".into()])
        );
        assert_eq!(
            walked(a, "1\n2\nnew\n3\n4\n5\n"),
            (5, vec![], vec!["new".into()])
        );
        assert_eq!(
            walked(a, "1\n4\n5\n"),
            (3, vec!["2".into(), "3".into()], vec![])
        );
        assert_eq!(walked(a, "5\n1\n2\n3\n4\n"), (5, vec![], vec![]));
        assert_eq!(walked(a, "2\n1\n4\n3\n5\n"), (5, vec![], vec![]));
        // Line ends: CRLF, and no final line feed.
        assert_eq!(walked(a, "1\r\n2\r\n3\r\n4\r\n5"), (5, vec![], vec![]));
        assert_eq!(walked("1\n2", "1\n2"), (2, vec![], vec![]));
        assert_eq!(
            walked("1\n2", "1\n3"),
            (1, vec!["2".into()], vec!["3".into()])
        );
        // Everything different, and one side empty.
        assert_eq!(
            walked("a\nb\n", "c\nd\n"),
            (
                0,
                vec!["a".into(), "b".into()],
                vec!["c".into(), "d".into()]
            )
        );
        assert_eq!(walked("", "c\n"), (0, vec![], vec!["c".into()]));
        // A long file with a change past the lookahead from any other.
        let long: String = (0..1000).map(|i| format!("row {i}\n")).collect();
        let edited = long
            .replace("row 500\n", "row 500 changed\n")
            .replace("row 20\n", "");
        assert_eq!(
            walked(&long, &edited),
            (
                998,
                vec!["row 20".into(), "row 500".into()],
                vec!["row 500 changed".into()]
            )
        );
    }

    #[test]
    fn newlines_are_counted_in_any_length() {
        for len in [0, 1, 254, 255, 256, 1000] {
            let text: Vec<u8> = (0..len)
                .map(|i| if i % 3 == 0 { b'\n' } else { b'x' })
                .collect();
            let expected = text.iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(count_newlines(&text), expected, "{len}");
        }
    }
}
