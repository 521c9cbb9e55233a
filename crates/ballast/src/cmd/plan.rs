//! `ballast plan`.

/// Arguments of `ballast plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {}

/// Runs `ballast plan`.
pub fn run(_args: &PlanArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet implemented")
}
