//! A real SMTP server per test: `scripts/smtp_sink.py` (aiosmtpd from PyPI, installed by
//! `scripts/smtp.sh`) on 127.0.0.1, keeping each message as `.eml` plus a `.json` summary with
//! the decoded parts. Self-contained, so `benches/email_delivery.rs` uses it too.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// One received message, as the server decoded it.
#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    pub rcpt_to: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
}

impl Mail {
    pub fn text(&self) -> &str {
        self.text
            .as_deref()
            .unwrap_or_else(|| panic!("no text part: {self:#?}"))
    }

    pub fn html(&self) -> &str {
        self.html
            .as_deref()
            .unwrap_or_else(|| panic!("no html part: {self:#?}"))
    }
}

/// A running SMTP server that stores what it receives in `dir`.
pub struct SmtpSink {
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
}

/// A port nothing listens on right now (for "the mail server is down").
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn python_path() -> String {
    if let Ok(path) = std::env::var("INVITATIONS_TEST_SMTP_PYTHONPATH") {
        return path;
    }
    // Run outside scripts/test.sh: install (once) the same way it does.
    let out = Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/smtp.sh"))
        .arg("pythonpath")
        .output()
        .unwrap();
    assert!(out.status.success(), "scripts/smtp.sh failed: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

impl SmtpSink {
    /// Starts a server on a free port, storing into a new directory.
    pub async fn start() -> Self {
        let dir =
            std::env::temp_dir().join(format!("cms-invitations-smtp-{}", uuid::Uuid::now_v7()));
        Self::start_on(free_port(), dir, &[]).await
    }

    /// Starts a server on `port` storing into `dir`; RCPT TO any of `refuse` gets a 550.
    pub async fn start_on(port: u16, dir: PathBuf, refuse: &[&str]) -> Self {
        let refuse: Vec<String> = refuse.iter().map(|s| (*s).to_owned()).collect();
        let dir_for_child = dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut command = Command::new("python3");
            command
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/smtp_sink.py"))
                .args(["--port", &port.to_string()])
                .arg("--dir")
                .arg(&dir_for_child)
                .env("PYTHONPATH", python_path())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped());
            for address in &refuse {
                command.args(["--refuse", address]);
            }
            let mut child = command.spawn().unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
            Self {
                port,
                dir: dir_for_child,
                child,
            }
        })
        .await
        .unwrap()
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<Mail> {
        read_messages(&self.dir)
    }

    /// Waits (at most 20 s) until at least `count` messages arrived, and returns all of them.
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} messages, {} arrived: {messages:#?}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_messages(dir: &Path) -> Vec<Mail> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|path| serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
        .collect()
}

/// The secret in an invitation link (`…#secret=XYZ`) found in `body`.
pub fn secret_in(body: &str) -> String {
    let start = body
        .find("#secret=")
        .unwrap_or_else(|| panic!("no invitation link in {body}"))
        + "#secret=".len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
