//! The whole server under load, against the physical limit.
//!
//! `cargo bench --bench server` starts the release binary (`cms-invitations serve`) on the real
//! `mongod` of the test scripts (started by `scripts/mongod.sh` if it is not running), drives it
//! over HTTP with concurrent clients, and compares each figure with the raw `mongodb` driver
//! doing the same database work with no server in between. A second pass runs the server on the
//! embedded SQLite store. See `docs/performance.md`.
//!
//! `cargo test --all-targets` runs this binary without `--bench`: it then only checks that the
//! server starts and answers, with a handful of requests.
//!
//! Options after `--`: `--events` runs the events passes alone; `--replica-set` runs the
//! MongoDB passes on the three-member set of `scripts/mongod-replset.sh`; `--scale N` runs
//! the scale passes alone with N invitations (`server/scale.rs`).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

#[path = "server/events.rs"]
mod events;
#[path = "server/scale.rs"]
mod scale;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{Bson, Document, doc};
use futures_util::{StreamExt as _, TryStreamExt as _};
use mongodb::options::{Acknowledgment, CollectionOptions, WriteConcern};
use serde_json::{Value, json};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Sizes of the full run, and of the smoke run under `cargo test`.
struct Sizes {
    /// The events pass: creates per `createInvitation` figure, the burst delivered to the
    /// receiver, subscription round trips.
    event_creates: usize,
    event_burst: usize,
    subscription_rounds: usize,
    creates_1: usize,
    creates_16: usize,
    bulk_calls: usize,
    lookups: usize,
    accepts: usize,
    stored_for_list: usize,
    lists: usize,
}

const FULL: Sizes = Sizes {
    event_creates: 3000,
    event_burst: 5000,
    subscription_rounds: 300,
    creates_1: 500,
    creates_16: 4000,
    bulk_calls: 10,
    lookups: 4000,
    accepts: 800,
    stored_for_list: 100_000,
    lists: 2000,
};

const SMOKE: Sizes = Sizes {
    event_creates: 16,
    event_burst: 20,
    subscription_rounds: 3,
    creates_1: 5,
    creates_16: 16,
    bulk_calls: 1,
    lookups: 16,
    accepts: 4,
    stored_for_list: 1000,
    lists: 16,
};

// ------------------------------------------------------------------------------ measurements

#[derive(Debug, Clone)]
struct Figure {
    name: String,
    clients: usize,
    requests: usize,
    seconds: f64,
    latencies_ms: Vec<f64>,
    errors: usize,
    /// The server's resident set after the scenario, in MiB (`None` for raw runs).
    rss_after_mib: Option<f64>,
    /// CPU time each process spent during the scenario, per request.
    cpu: Option<CpuPerRequest>,
}

/// Milliseconds of CPU per request: where the time of a scenario went.
#[derive(Debug, Clone, Copy)]
struct CpuPerRequest {
    /// `None` for raw runs, which have no server.
    server: Option<f64>,
    /// `None` when no `mongod` process is found (or for the SQLite pass).
    mongod: Option<f64>,
    /// The load generator itself (this process).
    client: f64,
}

impl Figure {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index]
    }
}

/// Runs `requests` calls of `call(i)` with `clients` at a time; each returns whether it
/// succeeded.
async fn drive<F, Fut>(name: &str, clients: usize, requests: usize, call: F) -> Figure
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    let outcomes: Vec<(f64, bool)> = futures_util::stream::iter(0..requests)
        .map(|i| {
            let fut = call(i);
            async move {
                let t = Instant::now();
                let ok = fut.await;
                (t.elapsed().as_secs_f64() * 1000.0, ok)
            }
        })
        .buffer_unordered(clients)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    Figure {
        name: name.to_owned(),
        clients,
        requests,
        seconds,
        errors: outcomes.iter().filter(|(_, ok)| !ok).count(),
        latencies_ms: outcomes.into_iter().map(|(ms, _)| ms).collect(),
        rss_after_mib: None,
        cpu: None,
    }
}

/// CPU time a process has used so far, over all its threads, in seconds (`utime + stime`
/// from `/proc/<pid>/stat`, in the kernel's 100 Hz user ticks).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name, in parentheses, may hold spaces: count fields after it. utime and
    // stime are fields 14 and 15 of the line, the 12th and 13th after the name.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: f64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|field| field.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

/// `--replica-set`: the MongoDB passes run on the three-member set of
/// `scripts/mongod-replset.sh` (majority writes then wait for a second member).
static REPLICA_SET: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// The running `mongod`, found by its command name; `None` on the three-member set, whose
/// CPU is spread over three processes (the column then shows `-`).
fn mongod_pid() -> Option<u32> {
    if REPLICA_SET.get() == Some(&true) {
        return None;
    }
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            (comm.trim() == "mongod").then_some(pid)
        })
}

/// CPU used so far by the server (if any), `mongod` (if any) and this process.
#[derive(Debug, Clone, Copy)]
struct CpuMark {
    server: Option<(u32, f64)>,
    mongod: Option<(u32, f64)>,
    client: f64,
}

impl CpuMark {
    fn now(server: Option<u32>, mongod: Option<u32>) -> Self {
        Self {
            server: server.map(|pid| (pid, cpu_seconds(pid))),
            mongod: mongod.map(|pid| (pid, cpu_seconds(pid))),
            client: cpu_seconds(std::process::id()),
        }
    }

    /// Stamps `figure` with the CPU each process spent since this mark, per request.
    fn stamp(self, mut figure: Figure) -> Figure {
        let per_request = |spent: f64| spent * 1000.0 / figure.requests as f64;
        let since = |mark: Option<(u32, f64)>| {
            mark.map(|(pid, before)| per_request(cpu_seconds(pid) - before))
        };
        figure.cpu = Some(CpuPerRequest {
            server: since(self.server),
            mongod: since(self.mongod),
            client: per_request(cpu_seconds(std::process::id()) - self.client),
        });
        figure
    }
}

/// Resident set size now and at its peak, in MiB, from `/proc/<pid>/status`.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

// ---------------------------------------------------------------------------------- server

struct Server {
    child: Child,
    base: String,
    token: String,
    http: reqwest::Client,
    data_dir: PathBuf,
    startup_ms: f64,
}

impl Server {
    /// Starts the release binary on `store_env` and waits for its first GraphQL answer.
    async fn start(store_env: &[(&str, String)]) -> Self {
        let data_dir = std::env::temp_dir().join(format!("cmsi-bench-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&data_dir).unwrap();
        Self::start_in(store_env, data_dir).await
    }

    /// The same, on the data folder `data_dir` (which may hold a SQLite store already).
    async fn start_in(store_env: &[(&str, String)], data_dir: PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let started = Instant::now();
        let mut command = Command::new(env!("CARGO_BIN_EXE_cms-invitations"));
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("INVITATIONS_LISTEN", format!("127.0.0.1:{port}"))
            .env("INVITATIONS_DATA_DIR", &data_dir)
            .env("INVITATIONS_PUBLIC_RATE_LIMIT", "0")
            // The load is one client creating many invitations: no hourly email quota.
            .env("INVITATIONS_EMAIL_QUOTA_PER_HOUR", "0")
            .env("INVITATIONS_LOG", "warn")
            // The events pass's webhook receiver listens on 127.0.0.1.
            .env("INVITATIONS_WEBHOOK_ALLOW_PRIVATE", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in store_env {
            command.env(key, value);
        }
        let child = command.spawn().expect("the server binary starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answered = http
                .post(format!("{base}/graphql"))
                .json(&json!({ "query": "{ __typename }" }))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let startup_ms = started.elapsed().as_secs_f64() * 1000.0;
        // A second instance on a database that has tokens makes no bootstrap token: the caller
        // gives it the first one's.
        let token = std::fs::read_to_string(data_dir.join("bootstrap-admin-token"))
            .map(|t| t.trim().to_owned())
            .unwrap_or_default();
        Self {
            child,
            base,
            token,
            http,
            data_dir,
            startup_ms,
        }
    }

    async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Option<Value> {
        let mut request = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let body: Value = request.send().await.ok()?.json().await.ok()?;
        body.get("errors").is_none().then_some(body)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Figures of one pass, each with the server's RSS right after it and the CPU spent on it.
struct Figures {
    pid: u32,
    mongod: Option<u32>,
    all: Vec<Figure>,
}

impl Figures {
    /// Call right before a scenario starts.
    fn mark(&self) -> CpuMark {
        CpuMark::now(Some(self.pid), self.mongod)
    }

    fn push(&mut self, mark: CpuMark, figure: Figure) {
        let mut figure = mark.stamp(figure);
        figure.rss_after_mib = Some(rss_mib(self.pid).0);
        self.all.push(figure);
    }
}

const CREATE: &str =
    "mutation($input: CreateInvitationInput!) { createInvitation(input: $input) { id secret } }";
const BULK: &str = "mutation($inputs: [CreateInvitationInput!]!) { createInvitations(inputs: $inputs) { created failed } }";
const LOOKUP: &str =
    "query($s: String!) { invitationBySecret(secret: $s) { email role state expiresAt } }";
const ACCEPT: &str = "mutation($s: String!, $input: AcceptInvitationInput) { acceptInvitation(secret: $s, input: $input) { userId } }";
const LIST: &str = "query { invitations(first: 50, filter: { states: [PENDING] }) { totalCount nodes { id email role state expiresAt } } }";

struct Pass {
    figures: Vec<Figure>,
    idle_mib: f64,
    peak_mib: f64,
    startup_ms: f64,
}

/// Starts a server on `store_env` and runs every scenario against it.
/// `mongod` is the database server's process, when the pass uses one.
async fn run_server(
    store_env: &[(&str, String)],
    mongod: Option<u32>,
    sizes: &Sizes,
    tag: &str,
) -> Pass {
    let server = Server::start(store_env).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (idle_mib, _) = rss_mib(server.pid());
    let figures = scenarios(&server, mongod, sizes, tag).await;
    Pass {
        figures,
        idle_mib,
        peak_mib: rss_mib(server.pid()).1,
        startup_ms: server.startup_ms,
    }
}

/// Every scenario in turn, each figure with the server's RSS right after it.
async fn scenarios(server: &Server, mongod: Option<u32>, sizes: &Sizes, tag: &str) -> Vec<Figure> {
    let token = server.token.clone();
    let s = server;
    let mut figures = Figures {
        pid: server.pid(),
        mongod,
        all: Vec::new(),
    };

    let create = |prefix: &'static str| {
        let token = token.clone();
        move |i: usize| {
            let token = token.clone();
            async move {
                let input = json!({ "email": format!("{prefix}{i}-{tag}@example.org"), "name": "Bench Person", "role": "viewer", "groups": ["bench"] });
                s.gql(CREATE, json!({ "input": input }), Some(&token))
                    .await
                    .and_then(|b| {
                        b["data"]["createInvitation"]["secret"]
                            .as_str()
                            .map(str::to_owned)
                    })
            }
        }
    };
    let secrets = Arc::new(std::sync::Mutex::new(Vec::new()));

    for (clients, count, prefix) in [(1, sizes.creates_1, "one"), (16, sizes.creates_16, "many")] {
        let make = create(prefix);
        let secrets = secrets.clone();
        figures.push(
            figures.mark(),
            drive("createInvitation", clients, count, |i| {
                let fut = make(i);
                let secrets = secrets.clone();
                async move {
                    match fut.await {
                        Some(secret) => {
                            secrets.lock().unwrap().push(secret);
                            true
                        }
                        None => false,
                    }
                }
            })
            .await,
        );
    }

    let mark = figures.mark();
    let bulk = drive("createInvitations ×1000", 1, sizes.bulk_calls, |call| {
        let token = token.clone();
        async move {
            let inputs: Vec<Value> = (0..1000)
                .map(|i| json!({ "email": format!("bulk{call}-{i}-{tag}@example.org"), "role": "viewer" }))
                .collect();
            s.gql(BULK, json!({ "inputs": inputs }), Some(&token))
                .await
                .is_some_and(|b| b["data"]["createInvitations"]["failed"] == 0)
        }
    })
    .await;
    figures.push(mark, bulk);

    let secrets: Vec<String> = secrets.lock().unwrap().clone();
    figures.push(
        figures.mark(),
        drive("invitationBySecret", 16, sizes.lookups, |i| {
            let secret = secrets[i % secrets.len()].clone();
            async move {
                s.gql(LOOKUP, json!({ "s": secret }), None)
                    .await
                    .is_some_and(|b| b["data"]["invitationBySecret"]["state"] == "PENDING")
            }
        })
        .await,
    );
    let accepts = sizes.accepts.min(secrets.len());
    figures.push(
        figures.mark(),
        drive("acceptInvitation (new accounts)", 16, accepts, |i| {
            let secret = secrets[secrets.len() - 1 - i].clone();
            async move {
                let input = json!({ "name": "Bench Person", "password": "correct horse battery" });
                s.gql(ACCEPT, json!({ "s": secret, "input": input }), None)
                    .await
                    .is_some()
            }
        })
        .await,
    );

    // Fill up to the listing size with bulk calls, then page.
    let stored = sizes.creates_1 + sizes.creates_16 + sizes.bulk_calls * 1000;
    let missing = sizes.stored_for_list.saturating_sub(stored);
    let fill_calls = missing.div_ceil(1000);
    drive("fill", 2, fill_calls, |call| {
        let token = token.clone();
        async move {
            let inputs: Vec<Value> = (0..1000)
                .map(|i| json!({ "email": format!("fill{call}-{i}-{tag}@example.org"), "role": "viewer", "sendEmail": false }))
                .collect();
            s.gql(BULK, json!({ "inputs": inputs }), Some(&token))
                .await
                .is_some()
        }
    })
    .await;
    figures.push(
        figures.mark(),
        drive(
            &format!(
                "invitations(first: 50, PENDING) over {}",
                sizes.stored_for_list
            ),
            16,
            sizes.lists,
            |_| {
                let token = token.clone();
                async move {
                    s.gql(LIST, json!({}), Some(&token)).await.is_some_and(|b| {
                        b["data"]["invitations"]["nodes"]
                            .as_array()
                            .is_some_and(|n| n.len() == 50)
                    })
                }
            },
        )
        .await,
    );
    figures.all
}

// ------------------------------------------------------------------------------------- raw

/// The same database work with the driver alone: equally sized documents, the same write
/// concern (majority, journaled), the same indexes, the same page query and count.
async fn run_raw(uri: &str, template: &Document, sizes: &Sizes) -> Vec<Figure> {
    let client = mongodb::Client::with_uri_str(uri).await.unwrap();
    let db = client.database(&format!("bench_raw_{}", std::process::id()));
    let durable = CollectionOptions::builder()
        .write_concern(
            WriteConcern::builder()
                .w(Acknowledgment::Majority)
                .journal(true)
                .build(),
        )
        .build();
    let coll = db.collection_with_options::<Document>("invitations", durable);
    for (keys, unique) in [
        (doc! { "secretDigest": 1 }, true),
        (doc! { "state": 1, "createdAt": -1, "_id": -1 }, false),
        (doc! { "state": 1, "expiresAt": 1 }, false),
        (doc! { "createdAt": -1, "_id": -1 }, false),
    ] {
        coll.create_index(
            mongodb::IndexModel::builder()
                .keys(keys)
                .options(
                    mongodb::options::IndexOptions::builder()
                        .unique(unique)
                        .build(),
                )
                .build(),
        )
        .await
        .unwrap();
    }
    let document = |i: usize| {
        let mut d = template.clone();
        d.insert("_id", bson::Uuid::new());
        d.insert("emailNorm", format!("raw{i}@example.org"));
        d.insert("email", format!("raw{i}@example.org"));
        d.insert("secretDigest", raw_digest(i));
        d
    };
    let c = &coll;
    let mongod = mongod_pid();
    let mark = CpuMark::now(None, mongod);
    let mut figures = vec![
        mark.stamp(
            drive("raw insert_one", 16, sizes.creates_16, |i| async move {
                c.insert_one(document(i)).await.is_ok()
            })
            .await,
        ),
    ];
    let mark = CpuMark::now(None, mongod);
    figures.push(
        mark.stamp(
            drive(
                "raw find_one by digest",
                16,
                sizes.lookups,
                |i| async move {
                    c.find_one(doc! { "secretDigest": raw_digest(i % sizes.creates_16) })
                        .await
                        .is_ok_and(|d| d.is_some())
                },
            )
            .await,
        ),
    );
    // Fill to the listing size, then page + count as the store does.
    let missing = sizes.stored_for_list.saturating_sub(sizes.creates_16);
    let batch: Vec<usize> = (sizes.creates_16..sizes.creates_16 + missing).collect();
    for chunk in batch.chunks(1000) {
        c.insert_many(chunk.iter().map(|&i| document(i)))
            .await
            .unwrap();
    }
    let mark = CpuMark::now(None, mongod);
    figures.push(
        mark.stamp(
            drive("raw page of 50 + count", 16, sizes.lists, |_| async move {
                let now = bson::DateTime::now();
                let filter =
                    doc! { "$or": [ { "state": "PENDING", "expiresAt": { "$gt": now } } ] };
                let page = async {
                    c.find(filter.clone())
                        .sort(doc! { "createdAt": -1, "_id": -1 })
                        .limit(51)
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                };
                let count = c.count_documents(filter.clone());
                matches!(tokio::join!(page, count), (Ok(p), Ok(_)) if p.len() == 51)
            })
            .await,
        ),
    );
    db.drop().await.unwrap();
    figures
}

/// A distinct 32-byte digest for raw document `i`.
fn raw_digest(i: usize) -> Bson {
    let mut bytes = vec![0xA5_u8; 32];
    bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Bson::Binary(bson::Binary {
        subtype: bson::spec::BinarySubtype::Generic,
        bytes,
    })
}

/// One stored invitation of the server's database, to size the raw documents like ours.
async fn stored_invitation(uri: &str, database: &str) -> Document {
    let client = mongodb::Client::with_uri_str(uri).await.unwrap();
    let mut d = client
        .database(database)
        .collection::<Document>("invitations")
        .find_one(doc! { "state": "PENDING", "outbox.0": { "$exists": true } })
        .await
        .unwrap()
        .expect("an invitation with a queued email");
    d.insert(
        "expiresAt",
        bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() + 7 * 86_400_000),
    );
    d
}

// ------------------------------------------------------------------------------------ main

fn mongo_uri() -> String {
    let replica_set = REPLICA_SET.get() == Some(&true);
    if let (Ok(uri), false) = (std::env::var("INVITATIONS_TEST_MONGODB_URI"), replica_set) {
        return uri;
    }
    let script = if replica_set {
        "mongod-replset.sh"
    } else {
        "mongod.sh"
    };
    let out = Command::new("bash")
        .arg(format!("{ROOT}/scripts/{script}"))
        .arg("start")
        .output()
        .unwrap();
    assert!(out.status.success(), "scripts/{script} start failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

/// `server, mongod, client` CPU milliseconds per request; `-` where there is no such process.
fn cpu_column(cpu: Option<CpuPerRequest>) -> String {
    let Some(cpu) = cpu else {
        return String::new();
    };
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
    format!(
        "{}, {}, {}",
        ms(cpu.server),
        ms(cpu.mongod),
        ms(Some(cpu.client))
    )
}

fn print_pass(title: &str, pass: &Pass, raw: Option<&[Figure]>) {
    println!("\n{title}");
    println!(
        "| scenario | clients | requests | req/s | p50 ms | p99 ms | errors | raw req/s | ours / raw | RSS after, MiB | CPU ms/req: server, mongod, client |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for f in &pass.figures {
        let raw_match = raw.and_then(|raw| {
            let name = match f.name.as_str() {
                "createInvitation" if f.clients == 16 => "raw insert_one",
                "invitationBySecret" => "raw find_one by digest",
                n if n.starts_with("invitations(") => "raw page of 50 + count",
                _ => return None,
            };
            raw.iter().find(|r| r.name == name)
        });
        let (raw_rate, ratio) = raw_match.map_or(("".to_owned(), "".to_owned()), |r| {
            (
                format!("{:.0}", r.rate()),
                format!("{:.2}", f.rate() / r.rate()),
            )
        });
        println!(
            "| {} | {} | {} | {:.0} | {:.1} | {:.1} | {} | {raw_rate} | {ratio} | {:.0} | {} |",
            f.name,
            f.clients,
            f.requests,
            f.rate(),
            f.percentile(0.5),
            f.percentile(0.99),
            f.errors,
            f.rss_after_mib.unwrap_or(f64::NAN),
            cpu_column(f.cpu),
        );
    }
    println!(
        "\nidle RSS {:.1} MiB, peak RSS {:.1} MiB, first answer {:.0} ms after start",
        pass.idle_mib, pass.peak_mib, pass.startup_ms
    );
    if let Some(raw) = raw {
        println!("\nraw driver alone:");
        for r in raw {
            println!(
                "- {}: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms ({} clients); CPU ms/req {}",
                r.name,
                r.rate(),
                r.percentile(0.5),
                r.percentile(0.99),
                r.clients,
                cpu_column(r.cpu),
            );
        }
    }
}

/// What the MongoDB server seals queued emails with (the SQLite one makes its own).
const BENCH_MESSAGE_KEY: &str = "YmVuY2ggbWVzc2FnZSBrZXksIDMyIGJ5dGVzIGxvbmc=";

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    // `cargo bench --bench server -- --events`: the events passes alone (about 3 minutes), to
    // compare the cost of a webhook endpoint across runs without the main passes' 10.
    let events_only = std::env::args().any(|arg| arg == "--events");
    // `cargo bench --bench server -- --scale 1000000`: the scale passes alone (see
    // `server/scale.rs`).
    let scale: Option<usize> = std::env::args()
        .skip_while(|arg| arg != "--scale")
        .nth(1)
        .map(|count| {
            count
                .parse()
                .expect("--scale takes a number of invitations")
        });
    // `-- --replica-set`: MongoDB passes on three members instead of one.
    REPLICA_SET
        .set(std::env::args().any(|arg| arg == "--replica-set"))
        .unwrap();
    let sizes = if full { &FULL } else { &SMOKE };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let uri = mongo_uri();
        if let Some(count) = scale {
            scale::run(&uri, count).await;
            return;
        }
        let main_passes = if events_only {
            None
        } else {
            Some(main_passes(&uri, sizes).await)
        };
        let (mongo_events, sqlite_events) = events_passes(&uri, sizes).await;
        if !full {
            mongo_events.check();
            sqlite_events.check();
            for pass in main_passes
                .iter()
                .flat_map(|(mongo, _, sqlite)| [mongo, sqlite])
            {
                assert!(
                    pass.figures.iter().all(|f| f.errors == 0),
                    "smoke run had errors"
                );
            }
            return;
        }
        if let Some((mongo, raw, sqlite)) = &main_passes {
            let title = if REPLICA_SET.get() == Some(&true) {
                "MongoDB (three-member replica set, majority + journaled writes)"
            } else {
                "MongoDB (single-member replica set, majority + journaled writes)"
            };
            print_pass(title, mongo, Some(raw));
            print_pass("Embedded SQLite (WAL, synchronous=FULL)", sqlite, None);
        }
        events::print(
            "Events on MongoDB (two instances on one database)",
            &mongo_events,
        );
        events::print("Events on embedded SQLite", &sqlite_events);
    });
}

/// The API on MongoDB, the raw driver doing the same, and the API on SQLite.
async fn main_passes(uri: &str, sizes: &Sizes) -> (Pass, Vec<Figure>, Pass) {
    let database = format!("bench_{}", std::process::id());
    let mongo_env = [
        ("INVITATIONS_MONGODB_URI", uri.to_owned()),
        ("INVITATIONS_MONGODB_DATABASE", database.clone()),
        ("INVITATIONS_MESSAGE_KEY", BENCH_MESSAGE_KEY.to_owned()),
    ];
    let mongo = run_server(&mongo_env, mongod_pid(), sizes, "m").await;
    let template = stored_invitation(uri, &database).await;
    let raw = run_raw(uri, &template, sizes).await;
    drop_database(uri, &database).await;
    let sqlite = run_server(&[], None, sizes, "s").await;
    (mongo, raw, sqlite)
}

/// Events on MongoDB (a fresh database, two instances on it) and on SQLite.
async fn events_passes(uri: &str, sizes: &Sizes) -> (events::EventFigures, events::EventFigures) {
    let events_database = format!("bench_events_{}", std::process::id());
    let events_env = [
        ("INVITATIONS_MONGODB_URI", uri.to_owned()),
        ("INVITATIONS_MONGODB_DATABASE", events_database.clone()),
        ("INVITATIONS_MESSAGE_KEY", BENCH_MESSAGE_KEY.to_owned()),
    ];
    let first = Server::start(&events_env).await;
    let mut second = Server::start(&events_env).await;
    second.token = first.token.clone();
    let mongo_events = events::run(
        &first,
        Some(&second),
        sizes.event_creates,
        sizes.event_burst,
        sizes.subscription_rounds,
        "m",
    )
    .await;
    drop((first, second));
    drop_database(uri, &events_database).await;
    let alone = Server::start(&[]).await;
    let sqlite_events = events::run(
        &alone,
        None,
        sizes.event_creates,
        sizes.event_burst,
        sizes.subscription_rounds,
        "s",
    )
    .await;
    drop(alone);
    (mongo_events, sqlite_events)
}

async fn drop_database(uri: &str, database: &str) {
    mongodb::Client::with_uri_str(uri)
        .await
        .unwrap()
        .database(database)
        .drop()
        .await
        .unwrap();
}
