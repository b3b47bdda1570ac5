//! The `calendarbot` command line: parse arguments, build the parts, run. Nothing else.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "calendarbot",
    version,
    about = "Meeting kiosk: ICS feeds, SQLite, kiosk page and JSON API"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the kiosk page and the API (the default).
    Serve,
    /// Expand an ICS file into occurrences, printed as JSON lines sorted by start.
    Expand(calendarbot::ics::cli::ExpandArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => anyhow::bail!("serve: not built yet"),
        Command::Expand(args) => std::process::exit(calendarbot::ics::cli::run_expand(&args)),
    }
}
