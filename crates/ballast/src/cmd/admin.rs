//! `ballast admin reset`: the way back in when the authenticator (or the password) of
//! the dashboard's admin is lost and no session is open to enrol a new one.

use std::io::IsTerminal;

use anyhow::{Context, Result, bail};

use super::bot::DirArgs;
use crate::app::data_dir;

/// `ballast admin`.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(subcommand)]
    pub verb: AdminVerb,
}

/// The verbs.
#[derive(Debug, clap::Subcommand)]
pub enum AdminVerb {
    /// Forget the dashboard's admin (password, two-factor key, sessions, API tokens):
    /// the next `ballast serve` prints a setup token to set it up again. Stop the
    /// server first. Bots, keys and notifications are not touched.
    Reset {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs `ballast admin`.
pub fn run(args: &AdminArgs) -> Result<()> {
    let dir = data_dir(args.dir.data_dir.as_deref());
    match &args.verb {
        AdminVerb::Reset { yes } => {
            let path = dir.join("admin.json");
            if !path.exists() {
                println!("No admin is set up in {}: `ballast serve` prints a setup token.", dir.display());
                return Ok(());
            }
            println!(
                "This forgets the admin of {}: its password, two-factor key, sessions and API tokens.",
                dir.display()
            );
            println!("Stop `ballast serve` first: a running server keeps the old admin until it stops.");
            if !yes {
                if !std::io::stdin().is_terminal() {
                    bail!("not reset: standard input is not a terminal; add --yes to confirm in scripts");
                }
                print!("Reset the admin? [y/N] ");
                std::io::Write::flush(&mut std::io::stdout())?;
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                if !matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
                    bail!("not reset");
                }
            }
            std::fs::remove_file(&path).with_context(|| format!("{}: cannot remove", path.display()))?;
            println!("Admin reset. Start `ballast serve`: it prints a setup token to set the admin up again.");
            Ok(())
        }
    }
}
