//! The `calendarbot` command line: parse arguments, build the parts, run. Nothing else.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "calendarbot",
    version,
    about = "Meeting kiosk: ICS feeds, SQLite, kiosk page and JSON API"
)]
struct Cli {
    /// TOML configuration file (else $CALENDARBOT_CONFIG, else /etc/calendarbot/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the kiosk page and the API (the default).
    Serve,
    /// Print the effective configuration (secrets redacted).
    Config,
    /// Expand an ICS file into occurrences, printed as JSON lines sorted by start.
    Expand(calendarbot::expand_cmd::ExpandArgs),
    /// Fetch a feed once as the service would and report what the kiosk makes of it
    /// (exit 0 whole, 1 with problems, 2 usage, 3 fetch failed, 4 not a whole calendar).
    CheckFeed(calendarbot::check_feed::CheckFeedArgs),
    /// Print the optimisation layer's effective flags for a device and a rollout stage.
    Flags {
        /// The device's machine id (default: the first line of `machine_id_path`).
        #[arg(long, value_name = "ID")]
        machine_id: Option<String>,
        /// The stage: disabled, canary, partial, majority, full or 0-100 (default: configured).
        #[arg(long, value_name = "STAGE")]
        rollout: Option<calendarbot::config::Rollout>,
    },
    /// Draw the kiosk on the framebuffer (or --snapshot one frame to PNG).
    Display(calendarbot::display::DisplayArgs),
    /// Install a newer signed release from update.url: recover, check, install, health gate
    /// (docs/updates.md). Exit 0 installed or nothing to do, 1 refused (signature, hash,
    /// channel, downgrade, bad version, size), 2 usage or configuration, 3 fetch failed,
    /// 4 the new version failed the gate and was rolled back, 5 local failure or busy.
    Update(calendarbot::update::UpdateArgs),
}

fn main() -> ExitCode {
    // The version line is the release's (stamped by ci/release.sh), its commit and profile.
    let matches = Cli::command()
        .version(calendarbot::version::long())
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let config = cli.config.as_deref();
    let command = cli.command.unwrap_or(Command::Serve);
    // The server and the display run the current update slot's binary when there is one
    // (this returns when there is none, or it cannot be run: the factory binary serves).
    if matches!(command, Command::Serve | Command::Display(_)) {
        calendarbot::update::launch(config);
    }
    let result = match command {
        Command::Serve => calendarbot::service::serve_command(config),
        Command::Config => calendarbot::service::config_command(config),
        Command::Expand(args) => return ExitCode::from(calendarbot::expand_cmd::run_expand(&args)),
        Command::CheckFeed(args) => {
            return ExitCode::from(calendarbot::check_feed::run_check_feed(&args, config));
        }
        Command::Flags {
            machine_id,
            rollout,
        } => calendarbot::service::flags_command(config, machine_id.as_deref(), rollout),
        Command::Display(args) => calendarbot::display::display_command(config, args),
        Command::Update(args) => {
            return ExitCode::from(calendarbot::update::update_command(config, &args));
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error and its causes.
            eprintln!("{e:#}");
            ExitCode::from(2)
        }
    }
}
