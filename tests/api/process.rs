//! The binary, `cms-invitations serve`, as a process of its own: on 127.0.0.1 port 0 (it
//! reports the port it got in its "listening" log line), with JSON logs captured line by line,
//! and with none of the caller's `INVITATIONS_*` variables, only the ones a test gives.
//! Every line a process logs is also kept in the suite's log folder, which `scripts/test.sh`
//! scans for secrets and tokens once the suite has run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::{Child, Command};

pub const BINARY: &str = env!("CARGO_BIN_EXE_cms-invitations");

/// How long a process may take to start listening before the test fails.
const START_LIMIT: Duration = Duration::from_secs(60);

/// The `message` under which a line that is not a JSON log event is kept.
pub const UNSTRUCTURED: &str = "(not a log event)";

/// `Command` for the binary with a clean `INVITATIONS_*` environment.
pub fn command() -> Command {
    let mut command = Command::from(std_command());
    command.kill_on_drop(true);
    command
}

/// The same, for blocking use: none of the caller's `INVITATIONS_*` variables (the test
/// runner's own included) reaches the binary.
pub fn std_command() -> std::process::Command {
    let mut command = std::process::Command::new(BINARY);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("INVITATIONS_") {
            command.env_remove(name);
        }
    }
    command
}

/// The folder where every test process's log lines are kept for the suite-wide scan:
/// `INVITATIONS_TEST_LOG_DIR` (set by `scripts/test.sh`), else one under the temp folder.
pub fn suite_log_dir() -> PathBuf {
    let dir = std::env::var_os("INVITATIONS_TEST_LOG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("cms-invitations-test-logs"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Appends `text` to `file` in the suite's log folder (summaries `scripts/test.sh` prints).
pub fn append_to_suite_file(file: &str, text: &str) {
    use std::io::Write as _;
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(suite_log_dir().join(file))
        .unwrap();
    out.write_all(text.as_bytes()).unwrap();
}

pub struct ServerProcess {
    pub address: SocketAddr,
    pub data_dir: PathBuf,
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    printed: Arc<Mutex<Vec<u8>>>,
}

impl ServerProcess {
    /// Starts `serve` on `data_dir` with `env` on top of the test defaults, and waits until it
    /// listens.
    pub async fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut command = command();
        command.env("INVITATIONS_DATA_DIR", data_dir);
        Self::spawn(command, data_dir.to_owned(), env).await
    }

    /// Starts `serve` in `folder` as a new user would, with the default data folder
    /// (`./data`).
    pub async fn start_in(folder: &Path, env: &[(&str, &str)]) -> Self {
        let mut command = command();
        command.current_dir(folder);
        Self::spawn(command, folder.join("data"), env).await
    }

    async fn spawn(mut command: Command, data_dir: PathBuf, env: &[(&str, &str)]) -> Self {
        command
            .arg("serve")
            .env("INVITATIONS_LISTEN", "127.0.0.1:0")
            .env("INVITATIONS_LOG_FORMAT", "json")
            .env("INVITATIONS_LOG", "info")
            // Tests resend at once; `tests/api/edge.rs` tests the cooldown itself.
            .env("INVITATIONS_RESEND_COOLDOWN", "PT0S")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        // The bootstrap banner goes to stdout: keep it, and never let the process block on it.
        let mut stdout = child.stdout.take().unwrap();
        let printed = Arc::new(Mutex::new(Vec::new()));
        let keep = printed.clone();
        tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut chunk).await {
                keep.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (found, listening) = tokio::sync::oneshot::channel();
        let stderr = child.stderr.take().unwrap();
        tokio::spawn(keep_lines(stderr, lines.clone(), found));
        let address = match tokio::time::timeout(START_LIMIT, listening).await {
            Ok(Ok(address)) => address,
            other => {
                let logged = lines.lock().unwrap().clone();
                panic!("the server did not start listening ({other:?}); it logged {logged:#?}")
            }
        };
        Self {
            address,
            data_dir,
            child,
            lines,
            printed,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// What the process printed on its standard output so far.
    pub fn printed(&self) -> String {
        String::from_utf8_lossy(&self.printed.lock().unwrap()).into_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The bootstrap admin token the first process on a store wrote to its data folder.
    pub fn bootstrap_token(&self) -> String {
        let path = cms_invitations::standalone::bootstrap_token_path(&self.data_dir);
        std::fs::read_to_string(path).unwrap().trim().to_owned()
    }

    /// Every JSON log line so far at `level` (`ERROR`, `WARN`, ...).
    pub fn logged_at(&self, level: &str) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line["level"] == level)
            .cloned()
            .collect()
    }

    /// Every JSON log line so far whose message is `message`.
    pub fn logged(&self, message: &str) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line["message"] == message)
            .cloned()
            .collect()
    }

    /// Creates `inputs` in one `createInvitations` call as `token`; asserts every one was.
    pub async fn create_all(&self, token: &str, inputs: Vec<Value>) {
        let count = inputs.len();
        let bulk = self
            .gql(
                "mutation($inputs: [CreateInvitationInput!]!) { createInvitations(inputs: $inputs) { created } }",
                serde_json::json!({ "inputs": inputs }),
                Some(token),
            )
            .await;
        assert_eq!(
            bulk["data"]["createInvitations"]["created"], count,
            "{bulk:#}"
        );
    }

    /// The ids of the messages this process logged as sent ("message sent").
    pub fn sent_message_ids(&self) -> std::collections::BTreeSet<String> {
        self.logged("message sent")
            .iter()
            .map(|line| line["message_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits (at most 30 s) until `first` and `second` together logged `count` sends; the ids
    /// each sent. Each logs a message right after recording it sent.
    pub async fn sends_of_both(
        first: &Self,
        second: &Self,
        count: usize,
    ) -> (
        std::collections::BTreeSet<String>,
        std::collections::BTreeSet<String>,
    ) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (a, b) = (first.sent_message_ids(), second.sent_message_ids());
            if a.len() + b.len() >= count {
                return (a, b);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the processes logged {} sends of {count}",
                a.len() + b.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A GraphQL request with an optional bearer token; the JSON answer.
    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let mut request = reqwest::Client::new()
            .post(self.url("/graphql"))
            .json(&serde_json::json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    /// SIGKILL: no shutdown, no flushing; what was acknowledged must already be durable.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// SIGTERM, then waits for a clean exit (at most 30 s).
    pub async fn stop(mut self) {
        let pid = self.child.id().unwrap().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().await;
        assert!(status.unwrap().success());
        let exited = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        assert!(
            exited.unwrap().unwrap().success(),
            "the server did not stop cleanly"
        );
    }
}

/// Reads the process's log lines as they come: keeps each one (parsed) for the test, appends it
/// to the suite's log folder, and reports the address of the "listening" line.
async fn keep_lines(
    stderr: tokio::process::ChildStderr,
    lines: Arc<Mutex<Vec<Value>>>,
    found: tokio::sync::oneshot::Sender<SocketAddr>,
) {
    let log_path = suite_log_dir().join(format!("process-{}.log", uuid::Uuid::now_v7()));
    let mut log = std::fs::File::create(log_path).unwrap();
    let mut found = Some(found);
    let mut reader = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = reader.next_line().await {
        use std::io::Write as _;
        let _ = writeln!(log, "{line}");
        let Ok(value) = serde_json::from_str::<Value>(&line) else {
            // Not a log event: what the runtime writes itself (a panic message, for one).
            lines
                .lock()
                .unwrap()
                .push(serde_json::json!({ "message": UNSTRUCTURED, "line": line }));
            continue;
        };
        if value["message"] == "listening"
            && let Some(address) = value["address"].as_str().and_then(|a| a.parse().ok())
            && let Some(found) = found.take()
        {
            let _ = found.send(address);
        }
        lines.lock().unwrap().push(value);
    }
}

/// `node <script> <args>` in `dir` with `env`, given at most `limit` (a test that needs longer
/// has hung); what it printed and how it ended.
pub async fn run_node(
    dir: &str,
    script: &str,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> std::process::Output {
    let run = Command::new("node")
        .arg(format!("{dir}/{script}"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(limit, run)
        .await
        .unwrap_or_else(|_| panic!("node {script} did not finish within {limit:?}"))
        .unwrap()
}
