//! The server under attack, and the tally of what it answered.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::Backend;
use crate::process::{ServerProcess, UNSTRUCTURED};

/// Peak resident memory the server may reach while attacked. It idles near 20 MiB; the
/// largest accepted body is 2 MiB, the largest document 100 KiB, and inputs come one at a
/// time.
pub const PEAK_RSS_LIMIT_MIB: u64 = 128;

/// How long the server has to answer one input.
pub const ANSWER_LIMIT: Duration = Duration::from_secs(15);

/// The header-read timeout of the server under attack (short, so stalled clients are cheap).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// The seed of this run's random inputs: `INVITATIONS_HOSTILE_SEED`, else the clock.
pub fn seed() -> u64 {
    std::env::var("INVITATIONS_HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            // Truncating nanoseconds to 64 bits is fine for a seed.
            now.as_nanos() as u64
        })
}

pub struct Target {
    pub server: ServerProcess,
    pub token: String,
    name: String,
    seed: u64,
    inputs: u64,
    statuses: BTreeMap<u16, u64>,
    /// Connections closed (or left silent) without an answer.
    unanswered: u64,
    /// The slowest answers: milliseconds and the start of the input.
    slowest: Vec<(u128, String)>,
    cleanup: Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>,
    data_dir: std::path::PathBuf,
}

impl Target {
    /// The release-like server on `backend`, logging at debug level, with the public rate
    /// limit and the email quota off (so inputs reach the code behind them).
    pub async fn start(name: &str, backend: Backend, seed: u64) -> Self {
        let (store_env, cleanup) = crate::helpers::process_store(backend).await;
        let data_dir = crate::helpers::temp_dir();
        let header_timeout = format!("PT{}S", HEADER_READ_TIMEOUT.as_secs());
        let mut env: Vec<(&str, &str)> = vec![
            ("INVITATIONS_LOG", "debug"),
            ("INVITATIONS_PUBLIC_RATE_LIMIT", "0"),
            ("INVITATIONS_EMAIL_QUOTA_PER_HOUR", "0"),
            ("INVITATIONS_HEADER_READ_TIMEOUT", &header_timeout),
            ("INVITATIONS_REQUEST_TIMEOUT", "PT5S"),
        ];
        env.extend(store_env.iter().map(|(k, v)| (*k, v.as_str())));
        let server = ServerProcess::start(&data_dir, &env).await;
        let token = server.bootstrap_token();
        Self {
            server,
            token,
            name: name.to_owned(),
            seed,
            inputs: 0,
            statuses: BTreeMap::new(),
            unanswered: 0,
            slowest: Vec::new(),
            cleanup: Some(Box::pin(cleanup)),
            data_dir,
        }
    }

    /// Counts one input and its answer; an answer of 500 or above fails the test, naming
    /// the input.
    pub fn record(&mut self, status: Option<u16>, input: &str, took: Duration) {
        self.inputs += 1;
        self.slowest.push((
            took.as_millis(),
            excerpt(&input.chars().take(80).collect::<String>()),
        ));
        self.slowest
            .sort_by_key(|(millis, _)| std::cmp::Reverse(*millis));
        self.slowest.truncate(3);
        match status {
            Some(code) => {
                *self.statuses.entry(code).or_default() += 1;
                assert!(
                    code < 500,
                    "{} (seed {}): answered {code} to {}",
                    self.name,
                    self.seed,
                    excerpt(input)
                );
            }
            None => self.unanswered += 1,
        }
    }

    /// The server still answers a health check.
    pub async fn assert_alive(&self, after: &str) {
        let answer = reqwest::Client::new()
            .get(self.server.url("/healthz"))
            .timeout(ANSWER_LIMIT)
            .send()
            .await;
        assert!(
            answer.is_ok_and(|a| a.status().is_success()),
            "{} (seed {}): no longer healthy after {}",
            self.name,
            self.seed,
            excerpt(after)
        );
    }

    /// Resident memory now and at its peak, in KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.server.pid())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// The final checks (nothing panicked, memory bounded, a clean stop) and the summary.
    pub async fn finish(mut self) {
        self.assert_alive("the last input").await;
        let panics: Vec<Value> = self
            .server
            .logged("panicked")
            .into_iter()
            .chain(self.server.logged(UNSTRUCTURED).into_iter().filter(|line| {
                line["line"]
                    .as_str()
                    .is_some_and(|l| l.contains("panicked"))
            }))
            .collect();
        let errors = self.server.logged_at("ERROR");
        let (rss, peak) = self.memory_kib();
        let mut summary = format!(
            "hostile {}: seed {}, {} inputs, answers {:?}, closed without answer {}, 5xx 0, \
             panics {}, error log lines {}, RSS {} MiB (peak {} MiB), slowest {:?}",
            self.name,
            self.seed,
            self.inputs,
            self.statuses,
            self.unanswered,
            panics.len(),
            errors.len(),
            rss / 1024,
            peak / 1024,
            self.slowest
        );
        summary.push('\n');
        append_summary(&summary);
        assert!(panics.is_empty(), "{}: panicked: {panics:#?}", self.name);
        assert!(
            errors.is_empty(),
            "{}: logged errors: {errors:#?}",
            self.name
        );
        assert!(
            peak / 1024 < PEAK_RSS_LIMIT_MIB,
            "{}: peak RSS {} MiB",
            self.name,
            peak / 1024
        );
        self.server.stop().await;
        if let Some(cleanup) = self.cleanup.take() {
            cleanup.await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn append_summary(line: &str) {
    crate::process::append_to_suite_file("hostile-summary.txt", line);
}

/// The start of an input, printable, for a failure message.
pub fn excerpt(input: &str) -> String {
    let mut text = String::new();
    for c in input.chars().take(300) {
        if c.is_control() {
            let _ = write!(text, "\\u{{{:x}}}", c as u32);
        } else {
            text.push(c);
        }
    }
    if input.chars().count() > 300 {
        let _ = write!(text, "... ({} bytes)", input.len());
    }
    text
}
