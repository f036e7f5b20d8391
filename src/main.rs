//! `cms-invitations`: the standalone binary, a thin host around the library.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cms_invitations::config::{Config, LogFormat};
use cms_invitations::domain::IsoDuration;
use cms_invitations::domain::MessageKind;
use cms_invitations::email::{
    EmailContext, EmailPart, EmailTemplates, Page, PageMessages, SMS_SEGMENT_BUDGET, SmsLength,
};
use cms_invitations::graphql;
use cms_invitations::ports::SystemClock;
use cms_invitations::standalone::seed;
use cms_invitations::standalone::{self, Server};

/// An Invitations module for headless CMSs: GraphQL API, admin UI, localized emails.
///
/// Configuration comes from INVITATIONS_* environment variables and the TOML file named by
/// INVITATIONS_CONFIG; see docs/configuration.md.
#[derive(Debug, Parser)]
#[command(name = "cms-invitations", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the GraphQL API, GraphiQL, health, readiness and metrics.
    Serve,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Create the invitations listed in a seed file (see fixtures/seed.json). Invitations that
    /// are already pending are left alone, so seeding twice changes nothing.
    Seed { file: PathBuf },
    /// Check or preview the email templates (built-in, or the override folder's).
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
    /// Persist expiry of overdue invitations and purge finished ones past the retention
    /// period, once (the server does this continuously).
    Sweep,
    /// Validate the configuration and print the effective settings (credentials redacted).
    Config,
    /// List the latest erasures (`deleteInvitation`, `eraseInvitee`): when, by whom, how
    /// many invitations. They hold nothing about the people erased.
    Erasures {
        /// How many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
enum TemplatesCommand {
    /// Compile every template, check that every locale has every kind and part, and render each
    /// with sample data in strict mode. Prints file:line for each problem; exits 1 on any.
    Check,
    /// Render a template with sample data.
    Preview {
        /// invitation, invitation_accepted or invitation_extended.
        #[arg(long)]
        kind: String,
        /// A locale that has templates, e.g. de.
        #[arg(long)]
        locale: String,
        /// subject, html or txt; all three when left out.
        #[arg(long)]
        part: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an API token; the token is the last line of the output. It is shown only once.
    Create {
        /// One of the configured roles (default: admin, editor, author, viewer).
        #[arg(long)]
        role: String,
        /// A name to recognise the token by in invitation histories.
        #[arg(long)]
        name: Option<String>,
        /// Where "invitation accepted" notices for invitations made with this token go.
        #[arg(long)]
        email: Option<String>,
        /// How long the token works, as an ISO 8601 duration (`P90D`); unset: until revoked.
        #[arg(long)]
        expires_in: Option<String>,
        /// Limits the token to invitations in this scope (repeat for several); unset: every
        /// scope.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List every token: id, name, role, scopes, created, last used, expiry, revoked.
    List,
    /// Revoke a token by its id (from `token list`); it stops working at once.
    Revoke { id: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Schema = cli.command {
        // Exactly the SDL, byte for byte as committed in schema/invitations.graphql.
        return match std::io::stdout().write_all(graphql::sdl().as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(&format!("cannot write the schema: {err}")),
        };
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(problems) => return fail(&problems.to_string()),
    };
    match cli.command {
        Command::Config => return say(&format!("{config:#?}")),
        Command::Templates { command } => return templates(&config, &command),
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(&config).await,
            Command::Token { command } => token(&config, command).await,
            Command::Seed { file } => seed_file(&config, &file).await,
            Command::Sweep => sweep(&config).await,
            Command::Erasures { limit } => erasures(&config, limit).await,
            Command::Schema | Command::Config | Command::Templates { .. } => ExitCode::SUCCESS,
        }
    })
}

async fn serve(config: &Config) -> ExitCode {
    if let Err(err) = init_logging(config) {
        return fail(&err);
    }
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let mut server = match Server::bind(config).await {
        Ok(server) => server,
        Err(err) => return fail(&format!("cannot start: {err}")),
    };
    let address = match server.local_addr() {
        Ok(address) => address,
        Err(err) => return fail(&format!("cannot start: {err}")),
    };
    if let Some(token) = server.take_bootstrap_token() {
        let path = standalone::bootstrap_token_path(&config.store.data_dir);
        // A token on a terminal is read by the person who started the server; printed into a
        // pipe it would end up in service logs, so there only the file is named.
        let shown = if std::io::stdout().is_terminal() {
            format!("It is shown only this once:\n\n    {}\n\n", token.expose())
        } else {
            String::from("It is not printed here (this output is not a terminal).\n")
        };
        say(&format!(
            "\nFirst start: created an admin API token. {shown}\
             A copy is in {} (readable only by you). Keep the token in a password manager and\n\
             delete that file; make more with `cms-invitations token create --role ROLE`.\n",
            path.display()
        ));
    }
    tracing::info!(%address, graphiql = %format!("http://{address}/graphiql"), "listening");
    match &config.email.smtp_url {
        Some(url) => {
            let server = url::Url::parse(url.expose())
                .ok()
                .map(|u| {
                    format!(
                        "{}:{}",
                        u.host_str().unwrap_or("?"),
                        u.port_or_known_default().unwrap_or(25)
                    )
                })
                .unwrap_or_default();
            tracing::info!(smtp = %server, "emails go to the SMTP server");
        }
        None => {
            let outbox = config.store.data_dir.join(standalone::OUTBOX_DIR);
            tracing::info!(outbox = %outbox.display(), "no SMTP server configured: emails are written there as .eml files");
        }
    }
    server.run(shutdown_signal()).await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

async fn token(config: &Config, command: TokenCommand) -> ExitCode {
    let store = match standalone::open_store(config).await {
        Ok(store) => store,
        Err(err) => return fail(&format!("cannot open the store: {err}")),
    };
    let tokens = standalone::tokens_on(config, store, std::sync::Arc::new(SystemClock));
    let outcome = match command {
        TokenCommand::Create {
            role,
            name,
            email,
            expires_in,
            scopes,
        } => {
            let expires_in = match expires_in.as_deref().map(IsoDuration::parse).transpose() {
                Ok(expires_in) => expires_in,
                Err(err) => return fail(&format!("--expires-in: {}", err.message())),
            };
            let created = tokens.create(standalone::NewToken {
                role: &role,
                name: name.as_deref(),
                email: email.as_deref(),
                expires_in,
                scopes: &scopes,
            });
            created.await.map(|issued| {
                let expires = issued
                    .record
                    .expires_at
                    .map_or_else(|| "never".to_owned(), |at| at.to_rfc3339());
                format!(
                    "Created API token {:?} (id {}, role {}, scopes {}, expires {expires}). It is shown only this once:\n{}",
                    issued.record.name,
                    issued.record.id,
                    issued.record.role,
                    scope_list(&issued.record.scopes),
                    issued.expose()
                )
            })
        }
        TokenCommand::List => tokens.list().await.map(|records| token_table(&records)),
        TokenCommand::Revoke { id } => tokens
            .revoke(&id)
            .await
            .map(|()| format!("Revoked API token {id}; it no longer works.")),
    };
    match outcome {
        Ok(text) => say(&text),
        // A bad value names the option it came from: `--expires-in: must be at least PT1M`.
        Err(err) => match err.field() {
            Some(field) => fail(&format!("--{}: {err} ({})", flag_name(field), err.code())),
            None => fail(&format!("{err} ({})", err.code())),
        },
    }
}

/// The command-line option for an input field: `expiresIn` is `expires-in`.
fn flag_name(field: &str) -> String {
    field.chars().fold(String::new(), |mut flag, c| {
        if c.is_ascii_uppercase() {
            flag.push('-');
        }
        flag.push(c.to_ascii_lowercase());
        flag
    })
}

/// One line per erasure, tab-separated, with a header line.
async fn erasures(config: &Config, limit: usize) -> ExitCode {
    let store = match standalone::open_store(config).await {
        Ok(store) => store,
        Err(err) => return fail(&format!("cannot open the store: {err}")),
    };
    match store.erasures(limit.clamp(1, 10_000)).await {
        Ok(entries) => {
            let mut table = String::from("at\toperation\tcount\tby id\tby name");
            for entry in entries {
                table.push_str(&format!(
                    "\n{}\t{}\t{}\t{}\t{}",
                    entry.at.format("%Y-%m-%d %H:%M:%S"),
                    entry.operation,
                    entry.count,
                    entry.actor.id,
                    entry.actor.name
                ));
            }
            say(&table)
        }
        Err(err) => fail(&format!("cannot read the erasures: {err}")),
    }
}

/// A token's scopes as the CLI shows them: `all`, or the names separated by commas.
fn scope_list(scopes: &[String]) -> String {
    if scopes.is_empty() {
        "all".to_owned()
    } else {
        scopes.join(",")
    }
}

/// One line per token, the columns separated by tabs, with a header line.
fn token_table(records: &[cms_invitations::ports::ApiTokenRecord]) -> String {
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or_else(
            || "-".to_owned(),
            |at| at.format("%Y-%m-%d %H:%M").to_string(),
        )
    };
    let mut table = String::from("id\tname\trole\tscopes\tcreated\tlast used\texpires\trevoked");
    for record in records {
        table.push_str(&format!(
            "\n{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            record.id,
            record.name,
            record.role,
            scope_list(&record.scopes),
            time(Some(record.created_at)),
            time(record.last_used_at),
            time(record.expires_at),
            time(record.revoked_at),
        ));
    }
    table
}

async fn seed_file(config: &Config, file: &std::path::Path) -> ExitCode {
    let service = match standalone::service(config).await {
        Ok(service) => service,
        Err(err) => return fail(&err.to_string()),
    };
    match seed::load(&service, file).await {
        Ok(report) if report.failures.is_empty() => say(&report.to_string()),
        Ok(report) => fail(&report.to_string()),
        Err(err) => fail(&err.to_string()),
    }
}

async fn sweep(config: &Config) -> ExitCode {
    let service = match standalone::service(config).await {
        Ok(service) => service,
        Err(err) => return fail(&err.to_string()),
    };
    match service.sweep().await {
        Ok(report) => say(&format!(
            "expired {} invitation(s), purged {}",
            report.expired, report.purged
        )),
        Err(err) => fail(&format!("sweep failed: {err} ({})", err.code())),
    }
}

fn templates(config: &Config, command: &TemplatesCommand) -> ExitCode {
    let loaded = EmailTemplates::load(config.email.email_templates_dir.as_deref(), false);
    let templates = match loaded {
        Ok(templates) => templates,
        Err(problems) => {
            let _ = writeln!(std::io::stderr(), "{problems}");
            return ExitCode::from(1);
        }
    };
    match command {
        TemplatesCommand::Check => {
            let pages = PageMessages::load(config.email.email_templates_dir.as_deref(), false);
            let mut problems = templates.check();
            problems.extend(pages.check(&templates.locales()));
            if problems.is_empty() {
                let locales = templates.locales();
                let variants = templates.variants();
                let mut report = format!(
                    "ok: {} locale(s) ({}), {} kinds (messages to the invitee with an SMS), \
                     invitation variants: {}; accept page messages in {}; admin UI messages in {}",
                    locales.len(),
                    locales.join(", "),
                    MessageKind::ALL.len(),
                    if variants.is_empty() {
                        "none".to_owned()
                    } else {
                        variants.join(", ")
                    },
                    pages.locales(Page::Accept).join(", "),
                    pages.locales(Page::Admin).join(", ")
                );
                // A variant a locale lacks still renders, from another locale: worth a warning.
                for (variant, locale, fallback) in templates.variant_fallbacks() {
                    report.push_str(&format!(
                        "\nwarning: {locale} has no variant {variant:?}; invitations in {locale} \
                         with it are written in {fallback}"
                    ));
                }
                // What each text message costs, with a 40-character accept URL (plus its
                // secret) and a 20-character inviter's name; more than the budget warns.
                for measure in templates.sms_lengths() {
                    let over = measure.length.segments > SMS_SEGMENT_BUDGET;
                    report.push_str(&format!(
                        "\n{}{}: {}",
                        if over { "warning: " } else { "" },
                        measure.file,
                        measure.length
                    ));
                    if over {
                        report.push_str(&format!(
                            ", more than {SMS_SEGMENT_BUDGET} segments: each costs a message"
                        ));
                    }
                }
                return say(&report);
            }
            for problem in &problems {
                let _ = writeln!(std::io::stderr(), "{problem}");
            }
            ExitCode::from(1)
        }
        TemplatesCommand::Preview { kind, locale, part } => {
            let Some(kind) = kind.parse::<MessageKind>().ok() else {
                return fail(&format!(
                    "unknown kind {kind:?}; use invitation, invitation_accepted or invitation_extended"
                ));
            };
            if !templates.locales().contains(locale) {
                return fail(&format!(
                    "no templates for locale {locale:?}; there are: {}",
                    templates.locales().join(", ")
                ));
            }
            let mut context = EmailContext::sample(kind, locale, true);
            context.set_product_name(&config.email.email_product_name);
            let rendered = match part.as_deref().map(|part| part.parse::<EmailPart>().ok()) {
                Some(None) => return fail("unknown part; use subject, html, txt or sms"),
                Some(Some(EmailPart::Sms)) => templates
                    .render_sms(locale, &context)
                    .map(|sms| format!("{}\n--- {} ---", sms.text, SmsLength::of(&sms.text))),
                Some(Some(part)) => templates.render_part(locale, part, &context),
                None => templates.render(locale, &context).map(|email| {
                    format!(
                        "Subject: {}\n\n--- txt ---\n{}\n--- html ---\n{}",
                        email.subject, email.text, email.html
                    )
                }),
            };
            match rendered {
                Ok(text) => say(&text),
                Err(problems) => fail(&problems.to_string()),
            }
        }
    }
}

fn init_logging(config: &Config) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.log)
        .map_err(|err| format!("invalid log filter {:?}: {err}", config.log.log))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let installed = match config.log.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|err| format!("cannot install the logger: {err}"))?;
    std::panic::set_hook(Box::new(log_panic));
    Ok(())
}

/// A panic becomes a log event like any other, so JSON logs stay one event per line; the
/// request it happened in is answered 500 by the server's panic layer.
fn log_panic(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let said = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("");
    let said: String = said.chars().take(300).collect();
    let location = info.location().map(ToString::to_string).unwrap_or_default();
    tracing::error!(%location, said, "panicked");
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = interrupt => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down; finishing requests in flight");
}

fn say(text: &str) -> ExitCode {
    let _ = writeln!(std::io::stdout(), "{text}");
    ExitCode::SUCCESS
}

fn fail(text: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "cms-invitations: {text}");
    ExitCode::from(2)
}
