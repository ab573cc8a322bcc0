//! The bytes of a `<DAY>_processed.partial` file, format version 2.
//!
//! ```text
//! magic     8 bytes  "CAPQPART"
//! version   u32 LE   2
//! header    varints (unsigned LEB128; signed values zigzag-encoded first):
//!   day (days since 1970-01-01), source flag, [name, csv length, csv XXH64 as u64 LE],
//!   rows, far, outlier, bins(used deviations), bins(outlier deviations),
//!   the number of entries, the number of outside bins,
//!   directions: n, then each as length + UTF-8 bytes, sorted by bytes,
//!   routes: n, then each route_id (delta from the previous), direction index, trips,
//!   stops: n, then each route index, stop_id (delta), stop_lat and stop_lon as f64 LE bits,
//!          its number of entries,
//!   route hours: n, then each route_id (delta), hour, its number of entries,
//!   headways: n, then each route index, pairs, bunched, gapped, its number of observed
//!          entries, bins(observed headways outside the packed range), its number of
//!          scheduled entries
//! entries   u32 LE each: the cells' packed counts, in the order of the cells above (stops,
//!           route hours, then each headway's observed and scheduled)
//! checksum  u64 LE   XXH64 of everything before it
//! bins = n, then the first value, then each later value as (gap − 1); each count as count − 1
//! ```
//!
//! An entry is `(value − lo) << count_bits | count`, exactly as the merged aggregate keeps it
//! (`crate::counts::Packing`; deviations −1800 … 1800, observed headways −3600 … 14400,
//! scheduled headways 1 … 3600), so reading a day is a copy of its entries rather than a
//! decode per value. Writers write each run in ascending order (so equal days give equal
//! bytes); the aggregate sums entries in any order, so readers check only that every count is
//! at least 1, every value in its range, and that the counts add up.
//!
//! Decoding checks every length, index, order and range, the sums of the counts, and the
//! checksum, so a damaged or truncated file is an error (and the caller reads the CSV instead),
//! never a panic or a wrong number. A file of another version (version 1 stored varint bins)
//! is refused the same way.

use capmetrics::Date;

use super::{
    Bins, DEVIATIONS, DayPartial, HeadwayCell, OBSERVED, RouteCell, RouteHourCell, Run, SCHEDULED,
    SourceInfo, StopCell,
};
use crate::Error;
use crate::hash::content_hash;
use crate::visit::OUTLIER_SECONDS;

/// The first bytes of every partial file.
pub const MAGIC: &[u8; 8] = b"CAPQPART";

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;

impl DayPartial {
    /// The partial as the bytes of a `.partial` file.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Encoder {
            buf: Vec::with_capacity(64 + self.entries.len() * 4 + self.stops.len() * 24),
        };
        out.buf.extend_from_slice(MAGIC);
        out.buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.signed(i64::from(self.day.day_number()));
        match &self.source {
            None => out.unsigned(0),
            Some(source) => {
                out.unsigned(1);
                out.text(&source.name);
                out.unsigned(source.len);
                out.buf.extend_from_slice(&source.hash.to_le_bytes());
            }
        }
        out.unsigned(self.rows);
        out.unsigned(self.far);
        out.unsigned(self.outlier);
        out.bins(&self.used);
        out.bins(&self.outliers);
        out.unsigned(self.entries.len() as u64);
        out.unsigned(self.outside.len() as u64);
        out.unsigned(self.directions.len() as u64);
        for direction in &self.directions {
            out.text(direction);
        }
        out.unsigned(self.routes.len() as u64);
        let mut previous = 0i64;
        for route in &self.routes {
            out.signed(route.route_id.wrapping_sub(previous));
            previous = route.route_id;
            out.unsigned(u64::from(route.direction));
            out.unsigned(route.trips);
        }
        out.unsigned(self.stops.len() as u64);
        let mut previous = 0i64;
        for stop in &self.stops {
            out.unsigned(u64::from(stop.route));
            out.signed(stop.stop_id.wrapping_sub(previous));
            previous = stop.stop_id;
            out.buf.extend_from_slice(&stop.lat.to_bits().to_le_bytes());
            out.buf.extend_from_slice(&stop.lon.to_bits().to_le_bytes());
            out.run(stop.deviations);
        }
        out.unsigned(self.route_hours.len() as u64);
        let mut previous = 0i64;
        for cell in &self.route_hours {
            out.signed(cell.route_id.wrapping_sub(previous));
            previous = cell.route_id;
            out.unsigned(u64::from(cell.hour));
            out.run(cell.deviations);
        }
        out.unsigned(self.headways.len() as u64);
        for cell in &self.headways {
            out.unsigned(u64::from(cell.route));
            out.unsigned(cell.pairs);
            out.unsigned(cell.bunched);
            out.unsigned(cell.gapped);
            out.run(cell.observed);
            out.bins(self.outside(cell.observed_outside));
            out.run(cell.scheduled);
        }
        let runs = self
            .stops
            .iter()
            .map(|c| c.deviations)
            .chain(self.route_hours.iter().map(|c| c.deviations))
            .chain(self.headways.iter().flat_map(|c| [c.observed, c.scheduled]));
        for run in runs {
            for entry in self.entries(run) {
                out.buf.extend_from_slice(&entry.to_le_bytes());
            }
        }
        let checksum = content_hash(&out.buf);
        out.buf.extend_from_slice(&checksum.to_le_bytes());
        out.buf
    }

    /// Reads a `.partial` file; `file` names it in errors.
    pub fn decode(file: &str, bytes: &[u8]) -> Result<DayPartial, Error> {
        let fail = |detail: String| Error::Partial {
            file: file.to_owned(),
            detail,
        };
        if bytes.len() < MAGIC.len() + 4 + 8 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(fail("not a capq partial file (wrong magic bytes)".into()));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != FORMAT_VERSION {
            return Err(fail(format!(
                "format version {version}, but this capq reads version {FORMAT_VERSION}"
            )));
        }
        let (content, checksum) = bytes.split_at(bytes.len() - 8);
        let mut expected = [0u8; 8];
        expected.copy_from_slice(checksum);
        if content_hash(content) != u64::from_le_bytes(expected) {
            return Err(fail(
                "checksum mismatch (the file is damaged or truncated)".into(),
            ));
        }
        let mut input = Decoder {
            data: content,
            pos: MAGIC.len() + 4,
        };
        decode_body(&mut input).map_err(|detail| fail(detail.to_owned()))
    }
}

fn decode_body(input: &mut Decoder<'_>) -> Result<DayPartial, &'static str> {
    let day = i32::try_from(input.signed()?).map_err(|_| "day out of range")?;
    let day = Date::from_day_number(day);
    let source = match input.unsigned()? {
        0 => None,
        1 => {
            let name = input.text()?;
            let len = input.unsigned()?;
            let hash = input.fixed_u64()?;
            Some(SourceInfo { name, len, hash })
        }
        _ => return Err("bad source flag"),
    };
    let rows = input.unsigned()?;
    let far = input.unsigned()?;
    let outlier = input.unsigned()?;
    let used_rows = rows
        .checked_sub(far)
        .and_then(|r| r.checked_sub(outlier))
        .ok_or("class counts exceed the rows")?;
    let mut used = Vec::new();
    input.bins(&mut used)?;
    if used.iter().any(|&(v, _)| DEVIATIONS.index(v).is_none()) {
        return Err("a used deviation beyond ±1800 s");
    }
    if total(&used)? != used_rows {
        return Err("the used deviations do not add up to the used rows");
    }
    let mut outliers = Vec::new();
    input.bins(&mut outliers)?;
    if outliers.iter().any(|&(v, _)| v.abs() <= OUTLIER_SECONDS) || total(&outliers)? != outlier {
        return Err("the outlier deviations do not match the outlier rows");
    }

    // Entries come last, four bytes each; outside bins take at least two bytes.
    let total_entries = input.count(4)?;
    let total_outside = input.count(2)?;
    let n = input.count(1)?;
    let mut directions: Vec<String> = Vec::with_capacity(n);
    for _ in 0..n {
        let direction = input.text()?;
        if directions.last().is_some_and(|last| *last >= direction) {
            return Err("directions out of order");
        }
        directions.push(direction);
    }

    let n = input.count(3)?;
    let mut routes: Vec<RouteCell> = Vec::with_capacity(n);
    let mut previous = 0i64;
    for _ in 0..n {
        let route_id = previous.wrapping_add(input.signed()?);
        previous = route_id;
        let direction = input.index(directions.len())?;
        let trips = input.unsigned()?;
        if routes
            .last()
            .is_some_and(|last| (last.route_id, last.direction) >= (route_id, direction))
        {
            return Err("routes out of order");
        }
        if trips == 0 {
            return Err("a route without trips");
        }
        routes.push(RouteCell {
            route_id,
            direction,
            trips,
        });
    }

    // The cells' runs are laid out one after the other; `next` is where the next one starts.
    let mut next = 0usize;
    let mut run = |input: &mut Decoder<'_>| -> Result<Run, &'static str> {
        let len = usize::try_from(input.unsigned()?).map_err(|_| "more entries than announced")?;
        let end = next.checked_add(len).filter(|&end| end <= total_entries);
        let end = end.ok_or("more entries than announced")?;
        let run = (next as u32, end as u32);
        next = end;
        Ok(run)
    };

    let n = input.count(20)?;
    let mut stops: Vec<StopCell> = Vec::with_capacity(n);
    let mut previous = 0i64;
    for _ in 0..n {
        let route = input.index(routes.len())?;
        let stop_id = previous.wrapping_add(input.signed()?);
        previous = stop_id;
        let lat = f64::from_bits(input.fixed_u64()?);
        let lon = f64::from_bits(input.fixed_u64()?);
        if !lat.is_finite() || !lon.is_finite() {
            return Err("stop coordinates are not finite");
        }
        if stops
            .last()
            .is_some_and(|last| (last.route, last.stop_id) >= (route, stop_id))
        {
            return Err("stops out of order");
        }
        let deviations = run(input)?;
        if deviations.0 == deviations.1 {
            return Err("a stop without rows");
        }
        stops.push(StopCell {
            route,
            stop_id,
            lat,
            lon,
            deviations,
        });
    }

    let n = input.count(3)?;
    let mut route_hours: Vec<RouteHourCell> = Vec::with_capacity(n);
    let mut previous = 0i64;
    for _ in 0..n {
        let route_id = previous.wrapping_add(input.signed()?);
        previous = route_id;
        let hour = u8::try_from(input.unsigned()?).map_err(|_| "hour out of range")?;
        if route_hours
            .last()
            .is_some_and(|last| (last.route_id, last.hour) >= (route_id, hour))
        {
            return Err("route hours out of order");
        }
        let deviations = run(input)?;
        if deviations.0 == deviations.1 {
            return Err("a route hour without rows");
        }
        route_hours.push(RouteHourCell {
            route_id,
            hour,
            deviations,
        });
    }

    let n = input.count(7)?;
    let mut headways: Vec<HeadwayCell> = Vec::with_capacity(n);
    let mut outside: Vec<(i64, u64)> = Vec::with_capacity(total_outside);
    for _ in 0..n {
        let route = input.index(routes.len())?;
        if headways.last().is_some_and(|last| last.route >= route) {
            return Err("headways out of order");
        }
        let pairs = input.unsigned()?;
        let bunched = input.unsigned()?;
        let gapped = input.unsigned()?;
        let observed = run(input)?;
        let start = outside.len();
        input.bins(&mut outside)?;
        if outside[start..]
            .iter()
            .any(|&(v, _)| OBSERVED.index(v).is_some())
        {
            return Err("an observed headway kept aside lies within the packed range");
        }
        let observed_outside = (start as u32, outside.len() as u32);
        let scheduled = run(input)?;
        if pairs == 0 || bunched > pairs || gapped > pairs {
            return Err("headway counts do not match their pairs");
        }
        headways.push(HeadwayCell {
            route,
            pairs,
            bunched,
            gapped,
            observed,
            observed_outside,
            scheduled,
        });
    }
    if next != total_entries || outside.len() != total_outside {
        return Err("the entries do not add up to their announced number");
    }
    let entries = input.entries(total_entries)?;
    if input.pos != input.data.len() {
        return Err("trailing bytes after the last section");
    }

    // Every count at least 1 and in range, and the counts adding up. The runs were laid out
    // one after the other: the stops', the route hours', then the headways'.
    let stops_end = stops.last().map_or(0, |c| c.deviations.1 as usize);
    let hours_end = route_hours
        .last()
        .map_or(stops_end, |c| c.deviations.1 as usize);
    if DEVIATIONS.check(&entries[..stops_end])? != used_rows {
        return Err("the stops' rows do not add up to the used rows");
    }
    if DEVIATIONS.check(&entries[stops_end..hours_end])? != used_rows {
        return Err("the route hours' rows do not add up to the used rows");
    }
    for cell in &headways {
        let observed = OBSERVED.check(run_of(&entries, cell.observed))?;
        let outside_pairs = total(run_of(&outside, cell.observed_outside))?;
        let scheduled = SCHEDULED.check(run_of(&entries, cell.scheduled))?;
        if observed.checked_add(outside_pairs) != Some(cell.pairs) || scheduled != cell.pairs {
            return Err("headway counts do not match their pairs");
        }
    }
    Ok(DayPartial {
        day,
        source,
        rows,
        far,
        outlier,
        used,
        outliers,
        directions,
        routes,
        stops,
        route_hours,
        headways,
        entries,
        outside,
    })
}

/// The run of a cell; runs were checked to lie within the slice.
fn run_of<T>(items: &[T], run: Run) -> &[T] {
    items
        .get(run.0 as usize..run.1 as usize)
        .unwrap_or_default()
}

const OVERFLOW: &str = "counts overflow 64 bits";

/// The sum of the counts, refusing sums that overflow.
fn total(bins: &Bins) -> Result<u64, &'static str> {
    bins.iter()
        .try_fold(0u64, |sum, &(_, count)| sum.checked_add(count))
        .ok_or(OVERFLOW)
}

struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    fn unsigned(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.buf.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.buf.push(value as u8);
    }

    fn signed(&mut self, value: i64) {
        self.unsigned(((value << 1) ^ (value >> 63)) as u64);
    }

    fn text(&mut self, text: &str) {
        self.unsigned(text.len() as u64);
        self.buf.extend_from_slice(text.as_bytes());
    }

    fn run(&mut self, run: Run) {
        self.unsigned(u64::from(run.1 - run.0));
    }

    fn bins(&mut self, bins: &Bins) {
        self.unsigned(bins.len() as u64);
        let mut previous = None;
        for &(value, count) in bins {
            match previous {
                None => self.signed(value),
                Some(p) => self.unsigned(value.wrapping_sub(p) as u64 - 1),
            }
            previous = Some(value);
            self.unsigned(count - 1);
        }
    }
}

struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    /// Most numbers (gaps between deviations, counts) fit one byte.
    #[inline(always)]
    fn unsigned(&mut self) -> Result<u64, &'static str> {
        match self.data.get(self.pos) {
            Some(&byte) if byte < 0x80 => {
                self.pos += 1;
                Ok(u64::from(byte))
            }
            _ => self.unsigned_long(),
        }
    }

    fn unsigned_long(&mut self) -> Result<u64, &'static str> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.data.get(self.pos).ok_or("truncated")?;
            self.pos += 1;
            let bits = u64::from(byte & 0x7f);
            // Only the shortest encoding is accepted, so a file decodes one way and encodes back
            // to itself.
            if byte == 0 && shift > 0 {
                return Err("a number is not in its shortest form");
            }
            if shift == 63 && bits > 1 {
                return Err("a number overflows 64 bits");
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a number overflows 64 bits")
    }

    fn signed(&mut self) -> Result<i64, &'static str> {
        let raw = self.unsigned()?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    fn fixed_u64(&mut self) -> Result<u64, &'static str> {
        let bytes = self.data.get(self.pos..self.pos + 8).ok_or("truncated")?;
        self.pos += 8;
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(word))
    }

    /// A count of items that take at least `min_bytes` each: never more than the bytes left,
    /// so a damaged count cannot make us allocate without bound.
    fn count(&mut self, min_bytes: usize) -> Result<usize, &'static str> {
        let n = self.unsigned()?;
        let left = (self.data.len() - self.pos) as u64;
        if n > left / min_bytes as u64 {
            return Err("a count larger than the file");
        }
        Ok(n as usize)
    }

    fn index(&mut self, len: usize) -> Result<u32, &'static str> {
        let i = self.unsigned()?;
        if i >= len as u64 {
            return Err("an index out of range");
        }
        Ok(i as u32)
    }

    fn text(&mut self) -> Result<String, &'static str> {
        let len = self.count(1)?;
        let bytes = &self.data[self.pos..self.pos + len];
        self.pos += len;
        String::from_utf8(bytes.to_vec()).map_err(|_| "a name that is not UTF-8")
    }

    /// Appends a bins section to `bins`: sorted `(value, count)` pairs, counts at least 1.
    fn bins(&mut self, bins: &mut Vec<(i64, u64)>) -> Result<(), &'static str> {
        let n = self.count(2)?;
        bins.reserve(n);
        if n > 0 {
            let mut value = self.signed()?;
            let count = self.unsigned()?.checked_add(1).ok_or("a count overflows")?;
            bins.push((value, count));
            for _ in 1..n {
                let gap = self.unsigned()?;
                let count = self.unsigned()?;
                // A gap of g is written as g − 1; values stay strictly ascending.
                value = i64::try_from(gap)
                    .ok()
                    .and_then(|gap| value.checked_add(gap)?.checked_add(1))
                    .ok_or("a value overflows")?;
                bins.push((value, count.checked_add(1).ok_or("a count overflows")?));
            }
        }
        Ok(())
    }

    /// `n` little-endian u32 entries.
    fn entries(&mut self, n: usize) -> Result<Vec<u32>, &'static str> {
        let bytes = n
            .checked_mul(4)
            .and_then(|len| self.data.get(self.pos..self.pos.checked_add(len)?))
            .ok_or("truncated")?;
        self.pos += bytes.len();
        let mut entries = vec![0u32; n];
        for (entry, b) in entries.iter_mut().zip(bytes.chunks_exact(4)) {
            *entry = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        Ok(entries)
    }
}
