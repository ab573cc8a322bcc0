//! `capq dashboard`: the web dashboard (being written).

use crate::cli::DashboardArgs;
use crate::exit::UserError;

pub fn run(_args: DashboardArgs) -> anyhow::Result<u8> {
    anyhow::bail!(UserError("the dashboard is not built yet".into()))
}
