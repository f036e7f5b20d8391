//! `cms-invitations`: the standalone binary, a thin host around the library.

use std::io::Write as _;
use std::process::ExitCode;

use cms_invitations::config::Config;

const USAGE: &str = "usage: cms-invitations <command>

commands:
  sweep     persist expiry of overdue invitations and purge finished ones past the retention
            period, once (the server does this continuously)
  config    validate the configuration and print the effective settings (credentials redacted)

Configuration comes from INVITATIONS_* environment variables and the TOML file named by
INVITATIONS_CONFIG; see docs/configuration.md.";

fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    let config = match command.as_str() {
        "sweep" | "config" => match Config::from_env() {
            Ok(config) => config,
            Err(problems) => return fail(&problems.to_string()),
        },
        "" | "-h" | "--help" | "help" => return say(USAGE),
        other => return fail(&format!("unknown command {other:?}\n\n{USAGE}")),
    };
    if command == "config" {
        return say(&format!("{config:#?}"));
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    runtime.block_on(async {
        let service = match cms_invitations::standalone::service(&config).await {
            Ok(service) => service,
            Err(err) => return fail(&format!("cannot open the store: {err} ({})", err.code())),
        };
        match service.sweep().await {
            Ok(report) => say(&format!(
                "expired {} invitation(s), purged {}",
                report.expired, report.purged
            )),
            Err(err) => fail(&format!("sweep failed: {err} ({})", err.code())),
        }
    })
}

fn say(text: &str) -> ExitCode {
    let _ = writeln!(std::io::stdout(), "{text}");
    ExitCode::SUCCESS
}

fn fail(text: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "cms-invitations: {text}");
    ExitCode::from(2)
}
