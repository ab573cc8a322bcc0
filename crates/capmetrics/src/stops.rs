//! The stops table (`stops_<START>_<END>.csv.gz`): where each stop is.
//!
//! Stops keep their file order, because nearest-stop ties go to the stop that comes first in
//! the file.

use crate::error::Result;
use crate::index::GroupIndex;
use crate::input::Input;
use crate::output::{push_float, push_int};
use crate::table::Table;

/// All stops of one stops file, in file order.
#[derive(Debug, Clone)]
pub struct Stops {
    pub(crate) ids: Vec<u64>,
    pub(crate) lats: Vec<f64>,
    pub(crate) lons: Vec<f64>,
    /// Stop rows by latitude (ties by row), and each row's rank in that order.
    pub(crate) lat_order: Vec<u32>,
    pub(crate) lat_rank: Vec<u32>,
    /// Each stop's `stop_lat,stop_lon,stop_id,` as printed in outputs, formatted once at load:
    /// row `r` is `output_text[output_starts[r]..output_starts[r + 1]]`.
    output_text: Vec<u8>,
    output_starts: Vec<usize>,
    by_id: GroupIndex,
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
        let by_id = GroupIndex::build(&ids);
        let mut lat_order: Vec<u32> = (0..ids.len() as u32).collect();
        lat_order.sort_by(|&a, &b| lats[a as usize].total_cmp(&lats[b as usize]));
        let mut lat_rank = vec![0u32; ids.len()];
        for (rank, &row) in lat_order.iter().enumerate() {
            lat_rank[row as usize] = rank as u32;
        }
        Ok(Stops {
            ids,
            lats,
            lons,
            lat_order,
            lat_rank,
            output_text,
            output_starts,
            by_id,
        })
    }

    /// Number of stop rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the file had no stop rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// `stop_lat,stop_lon,stop_id,` of stop row `row`, as the output prints them.
    pub(crate) fn output_text(&self, row: u32) -> &[u8] {
        let row = row as usize;
        &self.output_text[self.output_starts[row]..self.output_starts[row + 1]]
    }

    /// Row numbers of the stops with this id (usually one).
    pub(crate) fn rows_with_id(&self, id: u64) -> &[u32] {
        self.by_id.rows(id)
    }
}
