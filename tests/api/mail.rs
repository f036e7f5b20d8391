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
    /// The `Auto-Submitted` header (RFC 3834).
    #[serde(default)]
    pub auto_submitted: Option<String>,
    #[serde(default)]
    pub reply_to: Option<String>,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
    /// Arrived over TLS (STARTTLS or implicit).
    #[serde(default)]
    pub tls: bool,
    /// The client authenticated.
    #[serde(default)]
    pub login: bool,
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

/// How the test SMTP server behaves (see `scripts/smtp_sink.py`).
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// RCPT TO these addresses gets a permanent 550.
    pub refuse: Vec<String>,
    /// The first N messages to each address get a transient 451 after DATA.
    pub defer: Vec<(String, u32)>,
    /// TLS with the test certificate: STARTTLS required, or TLS from the first byte.
    pub tls: Option<SinkTls>,
    /// AUTH required with these credentials.
    pub login: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkTls {
    StartTls,
    Implicit,
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

/// How long a test SMTP server may take to say it is ready before the test fails.
const START_LIMIT: Duration = Duration::from_secs(30);

impl SmtpSink {
    /// Starts a plain server on a port of its own choosing, storing into a new directory.
    pub async fn start() -> Self {
        Self::start_with(SinkOptions::default()).await
    }

    /// Starts a server as `options` say, on a port it picks itself (and reports), storing
    /// into a new directory. Fails the test if it is not ready within [`START_LIMIT`].
    pub async fn start_with(options: SinkOptions) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cms-invitations-smtp-{}", uuid::Uuid::now_v7()));
        let mut command = Command::new("python3");
        command
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/smtp_sink.py"))
            .arg("--dir")
            .arg(&dir)
            .env("PYTHONPATH", python_path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for address in &options.refuse {
            command.args(["--refuse", address]);
        }
        for (address, count) in &options.defer {
            command.args(["--defer", &format!("{address}:{count}")]);
        }
        if let Some(tls) = options.tls {
            let (cert, key) = test_certificate();
            let mode = match tls {
                SinkTls::StartTls => "starttls",
                SinkTls::Implicit => "implicit",
            };
            command.args(["--tls", mode]).arg("--tls-cert").arg(cert);
            command.arg("--tls-key").arg(key);
        }
        if let Some((user, password)) = &options.login {
            command.args(["--login", &format!("{user}:{password}")]);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let ready = tokio::time::timeout(
            START_LIMIT,
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line).map(|_| line)
            }),
        )
        .await;
        let line = match ready {
            Ok(Ok(Ok(line))) => line,
            other => {
                let _ = child.kill();
                panic!("the SMTP sink did not start within {START_LIMIT:?}: {other:?}");
            }
        };
        let port = line
            .trim()
            .strip_prefix("ready ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP sink said {line:?}, not \"ready PORT\""));
        Self { port, dir, child }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<Mail> {
        read_messages(&self.dir)
    }

    /// The Message-ID of every attempt the server answered with 451, in order.
    pub fn deferred_message_ids(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join("deferred.jsonl")).unwrap_or_default();
        log.lines()
            .map(|line| {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                record["message_id"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    /// Waits (at most 60 s) until at least `count` messages arrived, and returns all of them.
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(60);
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

/// A self-signed certificate for `127.0.0.1`, made once per test run with `openssl`:
/// `(certificate, key)`, PEM files.
pub fn test_certificate() -> (PathBuf, PathBuf) {
    static MADE: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("cms-invitations-tls-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("smtp-cert.pem"), dir.join("smtp-key.pem"));
        let made = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(made.status.success(), "openssl failed: {made:?}");
        (cert, key)
    })
    .clone()
}

/// A port the test holds in front of a mail server, to stage its outages: while `Closed`
/// every connection is dropped at once, while `Hung` connections are accepted and never
/// answered, while `Forward(port)` they are relayed to a real server. The port stays the
/// test's for the gate's whole life, so nothing else can take it during an "outage".
pub struct SmtpGate {
    pub port: u16,
    mode: tokio::sync::watch::Sender<GateMode>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateMode {
    Closed,
    Hung,
    Forward(u16),
}

impl SmtpGate {
    pub async fn open(mode: GateMode) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mode, watch) = tokio::sync::watch::channel(mode);
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let current = *watch.borrow();
                match current {
                    GateMode::Closed => drop(client),
                    GateMode::Hung => held.push(client),
                    GateMode::Forward(port) => {
                        tokio::spawn(async move {
                            let Ok(mut server) =
                                tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                            else {
                                return;
                            };
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        });
                    }
                }
            }
        });
        Self { port, mode, task }
    }

    pub fn set(&self, mode: GateMode) {
        self.mode.send_replace(mode);
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
}

impl Drop for SmtpGate {
    fn drop(&mut self) {
        self.task.abort();
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
