//! The stops table (`stops_<START>_<END>.csv.gz`): where each stop is.
//!
//! Stops keep their file order, because nearest-stop ties go to the stop that comes first in
//! the file.

use crate::error::Result;
use crate::index::GroupIndex;
use crate::input::Input;
use crate::table::Table;

/// All stops of one stops file, in file order.
#[derive(Debug, Clone)]
pub struct Stops {
    pub(crate) ids: Vec<u64>,
    pub(crate) lats: Vec<f64>,
    pub(crate) lons: Vec<f64>,
    by_id: GroupIndex,
}

impl Stops {
    /// Parses a stops file with at least the columns `stop_id`, `stop_lat` and `stop_lon`.
    pub fn parse(input: &Input) -> Result<Stops> {
        let mut table = Table::open(input)?;
        let (c_id, c_lat, c_lon) =
            (table.column("stop_id")?, table.column("stop_lat")?, table.column("stop_lon")?);
        let (mut ids, mut lats, mut lons) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(row) = table.next_row()? {
            ids.push(row.id(c_id, "stop_id")?);
            lats.push(row.float(c_lat, "stop_lat")?);
            lons.push(row.float(c_lon, "stop_lon")?);
        }
        let by_id = GroupIndex::build(&ids);
        Ok(Stops { ids, lats, lons, by_id })
    }

    /// Number of stop rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the file had no stop rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Row numbers of the stops with this id (usually one).
    pub(crate) fn rows_with_id(&self, id: u64) -> &[u32] {
        self.by_id.rows(id)
    }
}
