//! Output formats of the commands; reading TOML with errors that name the file and
//! the key lives in the application layer ([`ballast_app::doc`]).

pub use ballast_app::doc::Doc;

/// Output format of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    Text,
    /// JSON for programs.
    Json,
}
