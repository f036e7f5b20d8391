//! `cargo bench --bench server -- --scale 1000000`: a million invitations on each store.
//!
//! Fills the store through its own bulk insert (`InvitationStore::insert_many`, 2,000 a call,
//! two calls in flight; not through HTTP), then starts the release binary on it with
//! `count_max_age` 0, so that every `totalCount` is counted, and times the reads a CMS makes
//! over HTTP: each the first time (nothing cached by the server) and the median of five. Before
//! the server starts (it sweeps once at start), one sweeper pass in-process: the expiries,
//! then the purge. Last, the size of every index. On MongoDB the TTL index purges finished
//! invitations too, so the pass's purge finds what the TTL monitor has not yet taken.
//!
//! The data: 1 in 100 invitations PENDING past its expiry (the sweeper's work), 5 in 100
//! revoked 300 days ago (the purge's, with the default retention of 180 days), 10 in 100
//! accepted, the rest PENDING; 20 scopes; emails `first.lastN@domainK.example`, one of them
//! holding the rare word `kestrel`.

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeDelta, Utc};
use cms_invitations::config::Config;
use cms_invitations::domain::{
    Actor, Contact, EmailAddress, Groups, Invitation, InvitationDetails, InvitationDraft,
    InvitationId, IsoDuration, Metadata, Role, Scope, Secret,
};
use cms_invitations::ports::{Clock, Store, SystemClock};
use cms_invitations::service::{InvitationService, Settings};
use cms_invitations::standalone::StoreProvisioner;
use cms_invitations::store::mongo::MongoStore;
use cms_invitations::store::sqlite::SqliteStore;
use serde_json::{Value, json};

use super::{BENCH_MESSAGE_KEY, Server, drop_database};

const CHUNK: usize = 2_000;
const FIRST: [&str; 8] = [
    "anna", "ben", "chloe", "david", "emma", "felix", "greta", "hugo",
];
const LAST: [&str; 8] = [
    "smith", "meyer", "martin", "garcia", "rossi", "novak", "jensen", "kowalski",
];

/// What the reads need to know about the data.
struct Filled {
    secrets: Vec<String>,
    seconds: f64,
}

/// The one invitation whose email holds the word `kestrel`.
const RARE: usize = 424_242;

fn email_of(i: usize) -> String {
    if i == RARE {
        return format!("kestrel.{i}@birds.example");
    }
    format!(
        "{}.{}{i}@domain{}.example",
        FIRST[i % FIRST.len()],
        LAST[(i / FIRST.len()) % LAST.len()],
        i % 40
    )
}

/// Invitation `i` of the data set, as of `now`.
fn invitation(i: usize, now: chrono::DateTime<Utc>) -> (Invitation, Secret) {
    let secret = Secret::generate().unwrap();
    let bucket = i % 100;
    let age = match bucket {
        0 => TimeDelta::days(10),
        1..=5 => TimeDelta::days(300),
        _ => TimeDelta::seconds(i64::try_from(i % 500_000).unwrap()),
    };
    let created = now - age;
    let draft = InvitationDraft {
        details: InvitationDetails {
            contact: Contact::email_only(EmailAddress::parse(&email_of(i)).unwrap()),
            name: None,
            role: Role::parse("viewer").unwrap(),
            groups: Groups::default(),
            metadata: Metadata::default(),
            locale: None,
            scope: Some(Scope::parse(&format!("team-{}", i % 20)).unwrap()),
            redirect_url: None,
            template: None,
        },
        send_email: false,
    };
    let actor = Actor {
        id: "bench".to_owned(),
        name: "Bench".to_owned(),
    };
    let mut invitation = Invitation::create(
        InvitationId::new(),
        draft,
        actor.clone(),
        None,
        secret.digest(),
        created,
        created + TimeDelta::days(7),
    );
    match bucket {
        1..=5 => invitation.revoke(created, actor).unwrap(),
        6..=15 => invitation.accept(created, format!("user-{i}")).unwrap(),
        _ => {}
    }
    // As if the dispatcher had published its events long ago.
    invitation.pending_events.clear();
    (invitation, secret)
}

async fn fill(store: Arc<dyn Store>, count: usize) -> Filled {
    let started = Instant::now();
    let now = Utc::now();
    let mut secrets = Vec::new();
    let mut in_flight = futures_util::stream::FuturesUnordered::new();
    for start in (0..count).step_by(CHUNK) {
        let mut chunk = Vec::with_capacity(CHUNK);
        for i in start..(start + CHUNK).min(count) {
            let (invitation, secret) = invitation(i, now);
            // A hundred secrets spread over the data (one per stride), for the lookups.
            let stride = (count / 100).max(1);
            if i % stride == stride / 2 {
                secrets.push(secret.expose().to_owned());
            }
            chunk.push(invitation);
        }
        let store = store.clone();
        in_flight.push(async move {
            for outcome in store.insert_many(&chunk).await {
                outcome.unwrap();
            }
        });
        if in_flight.len() >= 2 {
            futures_util::StreamExt::next(&mut in_flight).await;
        }
    }
    while futures_util::StreamExt::next(&mut in_flight)
        .await
        .is_some()
    {}
    Filled {
        secrets,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// One read: the first time and the median of five, in ms, and what it answered.
struct Read {
    name: String,
    first_ms: f64,
    median_ms: f64,
    answer: String,
}

const LIST: &str = "query($first: Int!, $sort: [InvitationSort!], $filter: InvitationFilter, $after: String) { invitations(first: $first, sort: $sort, filter: $filter, after: $after) { totalCount pageInfo { endCursor hasNextPage } nodes { id } } }";
const LIST_NO_COUNT: &str = "query($first: Int!, $sort: [InvitationSort!], $filter: InvitationFilter, $after: String) { invitations(first: $first, sort: $sort, filter: $filter, after: $after) { pageInfo { endCursor hasNextPage } nodes { id } } }";

async fn timed(server: &Server, query: &str, variables: Value) -> (f64, Value) {
    let started = Instant::now();
    let answer = server
        .gql(query, variables, Some(&server.token))
        .await
        .unwrap();
    assert!(answer.get("errors").is_none(), "{answer:#}");
    (started.elapsed().as_secs_f64() * 1000.0, answer)
}

async fn read(server: &Server, name: &str, query: &str, variables: Value) -> Read {
    let (first_ms, answer) = timed(server, query, variables.clone()).await;
    let mut times = vec![first_ms];
    for _ in 0..4 {
        times.push(timed(server, query, variables.clone()).await.0);
    }
    times.sort_by(f64::total_cmp);
    let connection = &answer["data"]["invitations"];
    let summary = if connection.is_object() {
        format!(
            "{} rows, totalCount {}",
            connection["nodes"].as_array().map_or(0, Vec::len),
            connection["totalCount"]
        )
    } else {
        answer["data"].to_string().chars().take(60).collect()
    };
    Read {
        name: name.to_owned(),
        first_ms,
        median_ms: times[2],
        answer: summary,
    }
}

async fn reads(server: &Server, filled: &Filled, count: usize) -> Vec<Read> {
    let mut reads = Vec::new();
    reads.push(
        read(
            server,
            "invitationBySecret",
            "query($s: String!) { invitationBySecret(secret: $s) { state } }",
            json!({ "s": filled.secrets[filled.secrets.len() / 2] }),
        )
        .await,
    );
    for (field, direction) in [
        ("CREATED_AT", "DESC"),
        ("CREATED_AT", "ASC"),
        ("EXPIRES_AT", "ASC"),
        ("EMAIL", "ASC"),
        ("EMAIL", "DESC"),
        ("STATE", "ASC"),
    ] {
        reads.push(
            read(
                server,
                &format!("first page of 50, sort {field} {direction}, totalCount"),
                LIST,
                json!({ "first": 50, "sort": [{ "field": field, "direction": direction }] }),
            )
            .await,
        );
    }
    for (name, filter) in [
        ("PENDING", json!({ "states": ["PENDING"] })),
        ("one scope", json!({ "scope": "team-7" })),
        ("exact email", json!({ "email": email_of(count / 3) })),
        (
            "emailContains \"kestrel\" (1 match)",
            json!({ "emailContains": "kestrel" }),
        ),
        (
            "emailContains \"mart\" (1 in 8)",
            json!({ "emailContains": "mart" }),
        ),
        (
            "emailContains \"n.k\" (3 characters)",
            json!({ "emailContains": "n.k" }),
        ),
        (
            "emailContains \"99999\"",
            json!({ "emailContains": "99999" }),
        ),
    ] {
        reads.push(
            read(
                server,
                &format!("first page of 50, {name}, totalCount"),
                LIST,
                json!({ "first": 50, "filter": filter }),
            )
            .await,
        );
    }
    // A deep page: 40 pages of 500 through cursors; the figure is the 40th (rows 19,501 to
    // 20,000), without totalCount.
    let mut after = Value::Null;
    let mut last = (0.0, Value::Null);
    for _ in 0..40 {
        last = timed(
            server,
            LIST_NO_COUNT,
            json!({ "first": 500, "after": after }),
        )
        .await;
        after = last.1["data"]["invitations"]["pageInfo"]["endCursor"].clone();
    }
    reads.push(Read {
        name: "page 40 of 500 through cursors".to_owned(),
        first_ms: last.0,
        median_ms: last.0,
        answer: format!(
            "{} rows",
            last.1["data"]["invitations"]["nodes"]
                .as_array()
                .map_or(0, Vec::len)
        ),
    });
    reads
}

/// One sweeper pass (expiries, then the purge) in-process, on `store`.
async fn sweep(store: Arc<dyn Store>, env: &[(&str, String)]) -> (f64, String) {
    let config = Config::load(|name| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    })
    .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let provisioner = Arc::new(StoreProvisioner::new(
        store.clone(),
        clock.clone(),
        config.rules.existing_account_policy,
    ));
    let settings = Settings::from_config(&config).unwrap();
    let service = InvitationService::new(store, clock, provisioner, settings);
    let started = Instant::now();
    let report = service.sweep().await.unwrap();
    (
        started.elapsed().as_secs_f64(),
        format!("{} expired, {} purged", report.expired, report.purged),
    )
}

fn print(title: &str, count: usize, filled: &Filled, reads: &[Read], sweep: &(f64, String)) {
    println!("\n{title}: {count} invitations");
    println!(
        "filled in {:.1} s ({:.0}/s, bulk inserts of {CHUNK} through the store)",
        filled.seconds,
        count as f64 / filled.seconds
    );
    println!("| read | first ms | median of 5, ms | answer |");
    println!("|---|---:|---:|---|");
    for read in reads {
        println!(
            "| {} | {:.1} | {:.1} | {} |",
            read.name, read.first_ms, read.median_ms, read.answer
        );
    }
    println!("one sweeper pass: {:.1} s ({})", sweep.0, sweep.1);
}

pub async fn run(uri: &str, count: usize) {
    // MongoDB.
    let database = format!("bench_scale_{}", std::process::id());
    let env = vec![
        ("INVITATIONS_MONGODB_URI", uri.to_owned()),
        ("INVITATIONS_MONGODB_DATABASE", database.clone()),
        ("INVITATIONS_MESSAGE_KEY", BENCH_MESSAGE_KEY.to_owned()),
        ("INVITATIONS_COUNT_MAX_AGE", "PT0S".to_owned()),
        // The pass runs the sweeper itself, once.
        ("INVITATIONS_SWEEP_INTERVAL", "P1D".to_owned()),
    ];
    let store: Arc<dyn Store> = Arc::new(
        MongoStore::connect(uri, &database, Some(IsoDuration::parse("P180D").unwrap()))
            .await
            .unwrap(),
    );
    let filled = fill(store.clone(), count).await;
    // Before the server starts: it sweeps once at start.
    let mongo_sweep = sweep(store.clone(), &env).await;
    let server = Server::start(&env).await;
    let mongo_reads = reads(&server, &filled, count).await;
    drop(server);
    print("MongoDB", count, &filled, &mongo_reads, &mongo_sweep);
    print_mongo_sizes(uri, &database).await;
    drop_database(uri, &database).await;

    // SQLite: filled in the data folder the server then opens.
    let data_dir = std::env::temp_dir().join(format!("cmsi-scale-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let file = data_dir.join("invitations.sqlite3");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).await.unwrap());
    let filled = fill(store.clone(), count).await;
    let env = vec![
        ("INVITATIONS_MESSAGE_KEY", BENCH_MESSAGE_KEY.to_owned()),
        ("INVITATIONS_COUNT_MAX_AGE", "PT0S".to_owned()),
        ("INVITATIONS_SWEEP_INTERVAL", "P1D".to_owned()),
    ];
    let sqlite_sweep = sweep(store, &env).await;
    let server = Server::start_in(&env, data_dir.clone()).await;
    let sqlite_reads = reads(&server, &filled, count).await;
    print("SQLite", count, &filled, &sqlite_reads, &sqlite_sweep);
    print_sqlite_sizes(&file);
    drop(server);
    let _ = std::fs::remove_dir_all(data_dir);
}

async fn print_mongo_sizes(uri: &str, database: &str) {
    let client = mongodb::Client::with_uri_str(uri).await.unwrap();
    let stats = client
        .database(database)
        .run_command(bson::doc! { "collStats": "invitations", "scale": 1024 * 1024 })
        .await
        .unwrap();
    println!(
        "MongoDB collStats (MiB): data {}, storage {}, indexes {}",
        stats.get("size").map_or(String::new(), ToString::to_string),
        stats
            .get("storageSize")
            .map_or(String::new(), ToString::to_string),
        stats
            .get("totalIndexSize")
            .map_or(String::new(), ToString::to_string),
    );
    if let Ok(sizes) = stats.get_document("indexSizes") {
        for (name, size) in sizes {
            println!("  index {name}: {size} MiB");
        }
    }
}

fn print_sqlite_sizes(file: &std::path::Path) {
    let conn = rusqlite::Connection::open(file).unwrap();
    let mut statement = conn
        .prepare("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
        .unwrap();
    let rows: Vec<(String, i64)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    println!("SQLite sizes (MiB), from dbstat:");
    for (name, bytes) in rows.iter().take(20) {
        println!("  {name}: {:.1}", *bytes as f64 / 1024.0 / 1024.0);
    }
}
