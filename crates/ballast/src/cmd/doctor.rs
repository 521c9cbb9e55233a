//! `ballast doctor`: checks the data directory's bookkeeping. For every bot, the
//! running ledger the store keeps as it records fills and cash flows (what each step
//! reads) must equal the ledger derived from those records, to the last digit.

use anyhow::{Result, anyhow};
use ballast_store::Store;
use ballast_store::sqlite::SqliteStore;

use crate::app::data_dir;
use crate::cmd::bot::DirArgs;

/// Arguments of `ballast doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub dir: DirArgs,
}

/// Runs `ballast doctor`: an error (exit 1) when a bot's ledger disagrees.
pub fn run(args: &DoctorArgs) -> Result<()> {
    let dir = data_dir(args.dir.data_dir.as_deref());
    let path = dir.join("ballast.sqlite");
    if !path.exists() {
        return Err(anyhow!("no store at {}: nothing to check", path.display()));
    }
    let store = SqliteStore::open(&path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let bots = store.bots().map_err(|e| anyhow!("{e}"))?;
    let mut bad = 0;
    for b in &bots {
        let mismatches = ballast_engine::ledger::audit(&store, b.id).map_err(|e| anyhow!("bot {}: {e}", b.id))?;
        if mismatches.is_empty() {
            println!("bot {} ({}): ledger ok", b.id, b.name);
            continue;
        }
        bad += 1;
        for m in mismatches {
            println!(
                "bot {} ({}): {} held {} (running) vs {} (from the records), fees {} vs {}",
                b.id, b.name, m.asset, m.running.held, m.derived.held, m.running.fees, m.derived.fees
            );
        }
    }
    if bad > 0 {
        return Err(anyhow!("{bad} of {} bot(s) have a running ledger that differs from their records", bots.len()));
    }
    println!("{} bot(s) checked: every running ledger equals its records.", bots.len());
    Ok(())
}
