//! `ballast notify`: configure, show and test notifications (a JSON webhook and
//! Telegram), and the helper `ballast run` uses to send them after each round.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, anyhow, bail};
use ballast_server::notify::{DEFAULT_TELEGRAM_BASE_URL, Notifier, NotifyChange, NotifyConfig};
use ballast_store::Store;
use ballast_store::sqlite::SqliteStore;

use super::bot::DirArgs;
use crate::app::data_dir;

/// `ballast notify`.
#[derive(Debug, clap::Args)]
pub struct NotifyArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(subcommand)]
    pub verb: NotifyVerb,
}

/// The verbs.
#[derive(Debug, clap::Subcommand)]
pub enum NotifyVerb {
    /// Set the webhook and/or Telegram (a target not named is kept as it is).
    Set(SetArgs),
    /// Show the configuration (secrets redacted).
    Show,
    /// Send one test message to each configured target and say what happened.
    Test,
}

/// `ballast notify set`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The webhook URL receiving a JSON POST per event.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// A header sent with every webhook request, `Name: value` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE", requires = "webhook")]
    pub headers: Vec<String>,
    /// The Telegram bot's token (from @BotFather).
    #[arg(long, value_name = "TOKEN", requires = "telegram_chat")]
    pub telegram_token: Option<String>,
    /// The Telegram chat id (a number, or @channel).
    #[arg(long, value_name = "CHAT", requires = "telegram_token", allow_hyphen_values = true)]
    pub telegram_chat: Option<String>,
    /// The Telegram Bot API server.
    #[arg(long, value_name = "URL", requires = "telegram_token")]
    pub telegram_base_url: Option<String>,
    /// The event kinds to send, comma-separated (default: rebalance,guard,error,key_revoked,stop).
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub kinds: Option<Vec<String>>,
}

/// Runs `ballast notify`.
pub fn run(args: &NotifyArgs) -> Result<()> {
    let dir = data_dir(args.dir.data_dir.as_deref());
    match &args.verb {
        NotifyVerb::Set(s) => set(&dir, s),
        NotifyVerb::Show => show(&dir),
        NotifyVerb::Test => test(&dir),
    }
}

fn set(dir: &Path, args: &SetArgs) -> Result<()> {
    if args.webhook.is_none() && args.telegram_token.is_none() && args.kinds.is_none() {
        bail!("nothing to set: give --webhook URL, or --telegram-token T --telegram-chat C, or --kinds");
    }
    let mut webhook_headers = BTreeMap::new();
    for h in &args.headers {
        let (name, value) = h.split_once(':').ok_or_else(|| anyhow!("--header {h:?}: expected `Name: value`"))?;
        webhook_headers.insert(name.trim().to_string(), value.trim().to_string());
    }
    let change = NotifyChange {
        webhook_url: args.webhook.clone(),
        webhook_headers,
        telegram_token: args.telegram_token.clone(),
        telegram_chat: args.telegram_chat.clone(),
        telegram_base_url: args
            .telegram_token
            .as_ref()
            .map(|_| args.telegram_base_url.clone().unwrap_or_else(|| DEFAULT_TELEGRAM_BASE_URL.to_string())),
        kinds: args.kinds.clone(),
        ..NotifyChange::default()
    };
    let store = SqliteStore::open(&dir.join("ballast.sqlite")).map_err(|e| anyhow!("store: {e}"))?;
    // The same call as the dashboard's notification settings.
    let config = ballast_server::notify::change(dir, &change, &store).map_err(|e| anyhow!("{e}"))?;
    let path = NotifyConfig::path(dir);
    println!("Notifications written to {} (readable by you only):", path.display());
    print!("{}", config.map(|c| c.describe()).unwrap_or_default());
    println!("Events are sent by `ballast run`; try `ballast notify test`.");
    Ok(())
}

fn show(dir: &Path) -> Result<()> {
    match NotifyConfig::load(dir).map_err(|e| anyhow!("{e}"))? {
        Some(c) => {
            println!("{}:", NotifyConfig::path(dir).display());
            print!("{}", c.describe());
        }
        None => println!(
            "Notifications are off (no {}); set them with `ballast notify set --webhook URL` or `--telegram-token T --telegram-chat C`",
            NotifyConfig::path(dir).display()
        ),
    }
    Ok(())
}

fn test(dir: &Path) -> Result<()> {
    let mut n = Notifier::open(dir).map_err(|e| anyhow!("{e}"))?.ok_or_else(|| {
        anyhow!("notifications are off (no {}): see `ballast notify set`", NotifyConfig::path(dir).display())
    })?;
    crate::live::unseal_notifier(&crate::live::Keyring::new(dir), &mut n)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let mut failed = 0;
    for (target, result) in n.send_test(now) {
        match result {
            Ok(()) => println!("{target}: sent"),
            Err(e) => {
                failed += 1;
                println!("{target}: FAILED: {e}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} target(s) did not accept the test message");
    }
    Ok(())
}

/// The notifier of `ballast run`: `None` when notifications are off. A configuration
/// that cannot be read is printed as a warning and the bots run without it.
pub fn open_for_run(dir: &Path) -> Option<Notifier> {
    match Notifier::open(dir) {
        Ok(Some(mut n)) => match crate::live::unseal_notifier(&crate::live::Keyring::new(dir), &mut n) {
            Ok(()) => Some(n),
            Err(e) => {
                eprintln!("warning: notifications off: {e:#}");
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            eprintln!("warning: notifications off: {e}");
            None
        }
    }
}

/// Sends what the last round recorded; a failure is a warning, never a stop.
pub fn pump(notifier: &mut Option<Notifier>, store: &dyn Store) {
    if let Some(n) = notifier
        && let Err(e) = n.pump(store)
    {
        eprintln!("warning: notification not delivered (kept, retried after the next round): {e}");
    }
}
