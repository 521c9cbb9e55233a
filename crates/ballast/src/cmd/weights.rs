//! `ballast weights`.

/// Arguments of `ballast weights`.
#[derive(Debug, clap::Args)]
pub struct WeightsArgs {}

/// Runs `ballast weights`.
pub fn run(_args: &WeightsArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet implemented")
}
