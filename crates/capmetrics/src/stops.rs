//! The stops table (`stops_<START>_<END>.csv.gz`): where each stop is.
//!
//! Stops keep their file order, because nearest-stop ties go to the stop that comes first in
//! the file. For matching they are also kept in latitude order, with everything a trip's
//! candidate list needs side by side, so building it reads memory in one direction.

use crate::error::Result;
use crate::index::GroupIndex;
use crate::input::Input;
use crate::output::{push_float, push_int};
use crate::table::Table;

/// All stops of one stops file, in file order.
#[derive(Debug, Clone)]
pub struct Stops {
    /// The stops by latitude (ties by row): the index is a stop's latitude rank.
    pub(crate) by_lat: Vec<StopPoint>,
    /// Each stop's `stop_lat,stop_lon,stop_id,` as printed in outputs, formatted once at load:
    /// row `r` is `output_text[output_starts[r]..output_starts[r + 1]]`.
    output_text: Vec<u8>,
    output_starts: Vec<usize>,
    /// Each stop's `(stop_lat, stop_lon)`, by row.
    coordinates: Vec<(f64, f64)>,
    /// Latitude ranks by stop id.
    by_id: GroupIndex,
}

/// One stop row, as matching sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StopPoint {
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) id: u64,
    /// Its row in the file.
    pub(crate) row: u32,
}

impl Stops {
    /// Parses a stops file with at least the columns `stop_id`, `stop_lat` and `stop_lon`.
    pub fn parse(input: &Input) -> Result<Stops> {
        let mut table = Table::open(input)?;
        let (c_id, c_lat, c_lon) = (
            table.column("stop_id")?,
            table.column("stop_lat")?,
            table.column("stop_lon")?,
        );
        let (mut ids, mut lats, mut lons) = (Vec::new(), Vec::new(), Vec::new());
        let (mut output_text, mut output_starts) = (Vec::new(), vec![0]);
        while let Some(row) = table.next_row()? {
            let id = row.id(c_id, "stop_id")?;
            let lat = row.float(c_lat, "stop_lat")?.value;
            let lon = row.float(c_lon, "stop_lon")?.value;
            ids.push(id);
            lats.push(lat);
            lons.push(lon);
            push_float(&mut output_text, lat);
            output_text.push(b',');
            push_float(&mut output_text, lon);
            output_text.push(b',');
            push_int(&mut output_text, id);
            output_text.push(b',');
            output_starts.push(output_text.len());
        }
        let mut lat_order: Vec<u32> = (0..ids.len() as u32).collect();
        // Stable, so equal latitudes stay in row order.
        lat_order.sort_by(|&a, &b| lats[a as usize].total_cmp(&lats[b as usize]));
        let by_lat: Vec<StopPoint> = lat_order
            .iter()
            .map(|&row| {
                let r = row as usize;
                StopPoint {
                    lat: lats[r],
                    lon: lons[r],
                    id: ids[r],
                    row,
                }
            })
            .collect();
        // Grouping the ids in latitude order makes the "rows" of each id its ranks.
        let by_id = GroupIndex::build(&by_lat.iter().map(|s| s.id).collect::<Vec<_>>());
        let coordinates = lats.iter().copied().zip(lons.iter().copied()).collect();
        Ok(Stops {
            by_lat,
            output_text,
            output_starts,
            coordinates,
            by_id,
        })
    }

    /// Number of stop rows.
    pub fn len(&self) -> usize {
        self.by_lat.len()
    }

    /// True when the file had no stop rows.
    pub fn is_empty(&self) -> bool {
        self.by_lat.is_empty()
    }

    /// `stop_lat,stop_lon,stop_id,` of stop row `row`, as the output prints them.
    pub(crate) fn output_text(&self, row: u32) -> &[u8] {
        let row = row as usize;
        &self.output_text[self.output_starts[row]..self.output_starts[row + 1]]
    }

    /// `(stop_lat, stop_lon)` of stop row `row`, as parsed.
    pub(crate) fn coordinates(&self, row: u32) -> (f64, f64) {
        self.coordinates[row as usize]
    }

    /// Latitude ranks (indexes into `by_lat`) of the stops with this id (usually one).
    pub(crate) fn ranks_with_id(&self, id: u64) -> &[u32] {
        self.by_id.rows(id)
    }
}
