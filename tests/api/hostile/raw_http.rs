//! Raw bytes on a TCP connection to the real server: what no HTTP library would send. A
//! list of named oddities, then byte-level mutations of a valid request drawn by proptest.
//! Each answer, if the server gives one, must be below 500; the server may also just close
//! the connection. A stalled header must be closed within the header-read timeout.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::target::{ANSWER_LIMIT, HEADER_READ_TIMEOUT, Target, seed};
use crate::helpers::Backend;

/// Mutated requests per run, after the named oddities.
const MUTATIONS: usize = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_http_oddities_get_answers_below_500_or_a_closed_connection() {
    let seed = seed();
    let mut target = Target::start("raw HTTP", Backend::Sqlite, seed).await;
    for (name, bytes) in oddities() {
        let started = Instant::now();
        let status = exchange(&target, &bytes).await;
        target.record(status, name, started.elapsed());
    }
    target.assert_alive("the named oddities").await;

    stalled_headers_are_closed_within_the_timeout(&target).await;

    let mut runner = runner(seed);
    let strategy = mutated_request(&target.token);
    for n in 0..MUTATIONS {
        let bytes = strategy.new_tree(&mut runner).unwrap().current();
        let started = Instant::now();
        let status = exchange(&target, &bytes).await;
        target.record(status, &String::from_utf8_lossy(&bytes), started.elapsed());
        if n % 100 == 99 {
            target.assert_alive(&String::from_utf8_lossy(&bytes)).await;
        }
    }
    target.finish().await;
}

fn runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[8..16].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

/// Writes `bytes` and half-closes the connection (so a request cut short ends at once
/// instead of at a timeout), then reads what comes back until the server closes, or the
/// answer limit passes; the status of the first answer, if there was one.
async fn exchange(target: &Target, bytes: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(target.server.address).await.unwrap();
    // The server may refuse before reading it all; a write it cut short is not a failure.
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
    let mut received = Vec::new();
    let deadline = tokio::time::sleep(ANSWER_LIMIT);
    tokio::pin!(deadline);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            read = stream.read(&mut chunk) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            },
            () = &mut deadline => break,
        }
    }
    status_of(&received)
}

fn status_of(received: &[u8]) -> Option<u16> {
    let line = received.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

/// A connection that sends part of a header and then nothing is closed by the server within
/// its header-read timeout (with slack for a loaded machine), whatever part it stopped in.
async fn stalled_headers_are_closed_within_the_timeout(target: &Target) {
    let parts: [&[u8]; 3] = [
        b"POST /graphql HTTP/1.1\r\nHost: x\r\n",
        b"GET /healthz HT",
        b"POST /graphql HTTP/1.1\r\nContent-Length: 10\r\nX-Padding: aaaa",
    ];
    let limit = HEADER_READ_TIMEOUT + Duration::from_secs(5);
    for part in parts {
        let mut stream = TcpStream::connect(target.server.address).await.unwrap();
        stream.write_all(part).await.unwrap();
        let started = Instant::now();
        let mut sink = Vec::new();
        let closed = tokio::time::timeout(limit, stream.read_to_end(&mut sink)).await;
        assert!(
            closed.is_ok(),
            "a connection stalled after {:?} was still open after {limit:?}",
            String::from_utf8_lossy(part)
        );
        assert!(started.elapsed() >= HEADER_READ_TIMEOUT - Duration::from_millis(500));
        if let Some(status) = status_of(&sink) {
            assert!(status < 500, "answered {status} to a stalled header");
        }
    }
}

/// Named oddities: what a broken or malicious client writes on the wire.
fn oddities() -> Vec<(&'static str, Vec<u8>)> {
    let body = br#"{"query":"{ __typename }"}"#;
    // A JSON POST to /graphql with `headers` (each ending in CRLF) and then `body`.
    let post_json = |headers: &str, body: &[u8]| -> Vec<u8> {
        let mut bytes = format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}"
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        bytes
    };
    let mut client_hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    client_hello.extend(std::iter::repeat_n(0x42, 600));
    vec![
        ("an unknown method", b"BREW /graphql HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        (
            "a 2 KB method",
            format!("{} / HTTP/1.1\r\nHost: x\r\n\r\n", "M".repeat(2048)).into_bytes(),
        ),
        ("a lowercase method", b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("a method with a NUL", b"GE\0T /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("CONNECT", b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n".to_vec()),
        ("TRACE", b"TRACE /graphql HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("the HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
        ("HTTP/0.9", b"GET /\r\n".to_vec()),
        ("HTTP/1.0 without Host", b"GET /healthz HTTP/1.0\r\n\r\n".to_vec()),
        ("HTTP/3.7", b"GET /healthz HTTP/3.7\r\nHost: x\r\n\r\n".to_vec()),
        ("an absolute URI", b"GET http://evil.example/healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("dot segments", b"GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("an encoded NUL in the path", b"GET /%00 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("invalid UTF-8 in the path", b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("a broken escape in the query", b"GET /graphql?query=%ZZ HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        (
            "a 64 KB URI",
            format!("GET /graphql?query={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(65_536)).into_bytes(),
        ),
        (
            "a 100 KB header",
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "b".repeat(100_000)).into_bytes(),
        ),
        (
            "2,000 headers",
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
                (0..2000).map(|i| format!("X-H{i}: v\r\n")).collect::<String>()
            )
            .into_bytes(),
        ),
        ("a header without a colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n".to_vec()),
        ("a folded header", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n".to_vec()),
        ("bare line feeds", b"GET /healthz HTTP/1.1\nHost: x\n\n".to_vec()),
        ("a space before the colon", b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n".to_vec()),
        ("two Host headers", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec()),
        (
            "a chunk size that is not hex",
            post_json("Transfer-Encoding: chunked\r\n\r\nzz\r\n", b"abc\r\n0\r\n\r\n"),
        ),
        (
            "a chunk size past 64 bits",
            post_json("Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffffff\r\n", b"abc"),
        ),
        (
            "a chunk without its line end",
            post_json("Transfer-Encoding: chunked\r\n\r\n1a\r\n", b"{\"query\":\"{ __typename }\"}XX0\r\n\r\n"),
        ),
        (
            "a chunk longer than what follows",
            post_json("Transfer-Encoding: chunked\r\n\r\n1000\r\n", body),
        ),
        (
            "chunk extensions",
            post_json("Transfer-Encoding: chunked\r\n\r\n1a;ext=\"v\";x\r\n", b"{\"query\":\"{ __typename }\"}\r\n0\r\n\r\n"),
        ),
        (
            "no last chunk",
            post_json("Transfer-Encoding: chunked\r\n\r\n1a\r\n", b"{\"query\":\"{ __typename }\"}\r\n"),
        ),
        (
            "chunked and a length",
            post_json("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n", b"{\"query\":\"{ __typename }\"}\r\n0\r\n\r\n"),
        ),
        (
            "an unknown transfer coding",
            post_json("Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", b""),
        ),
        (
            "chunked not last",
            post_json("Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", b""),
        ),
        (
            "a negative length",
            post_json("Content-Length: -1\r\n\r\n", body),
        ),
        (
            "two different lengths",
            post_json("Content-Length: 26\r\nContent-Length: 3\r\n\r\n", body),
        ),
        (
            "a length list",
            post_json("Content-Length: 26, 27\r\n\r\n", body),
        ),
        (
            "a length past 64 bits",
            post_json("Content-Length: 99999999999999999999999\r\n\r\n", body),
        ),
        (
            "a 10 GB length with a short body",
            post_json("Content-Length: 10000000000\r\n\r\n", body),
        ),
        (
            "a 3 MB body",
            post_json(
                "Content-Length: 3145728\r\n\r\n",
                &vec![b' '; 3 * 1024 * 1024],
            ),
        ),
        (
            "Expect: 100-continue and no body",
            post_json("Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n", b""),
        ),
        (
            "an unknown expectation",
            post_json("Content-Length: 26\r\nExpect: 999-teapot\r\n\r\n", body),
        ),
        (
            "an upgrade to WebSocket",
            b"GET /graphql HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec(),
        ),
        (
            "an upgrade to h2c",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n".to_vec(),
        ),
        (
            "100 pipelined requests",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100),
        ),
        ("a TLS ClientHello", client_hello),
        ("an SSH banner", b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()),
        ("an SMTP greeting", b"EHLO evil.example\r\n".to_vec()),
        ("nothing but line ends", b"\r\n\r\n\r\n\r\n".to_vec()),
        ("nothing at all", Vec::new()),
        ("1 KB of zeros", vec![0u8; 1024]),
        (
            "a Bearer token that is a megabyte",
            format!("GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n", "t".repeat(1 << 20)).into_bytes(),
        ),
        (
            "an Authorization header that is not UTF-8",
            b"GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n\r\n".to_vec(),
        ),
        (
            "an X-Forwarded-For of garbage",
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 26\r\nX-Forwarded-For: ,,,\xff, 999.1.1.1, ::::\r\n\r\n{\"query\":\"{ __typename }\"}".to_vec(),
        ),
        (
            "an Accept-Language of 10,000 tags",
            format!("GET /email-preview.json HTTP/1.1\r\nHost: x\r\nAccept-Language: {}\r\n\r\n", "de;q=0.5,".repeat(10_000)).into_bytes(),
        ),
    ]
}

/// What byte-level edits splice into a request besides random bytes.
const SPLICED: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\0",
    b":",
    b" ",
    b"\t",
    b"\r\n\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 0\r\n",
    b"Connection: close\r\n",
    b"HTTP/1.0",
    b"%",
    b"\xff",
];

/// A valid request (signed in, with a small body), with one to eight byte-level edits:
/// bytes flipped, inserted, deleted or repeated, or the whole cut short.
fn mutated_request(token: &str) -> impl Strategy<Value = Vec<u8>> + use<> {
    let body = r#"{"query":"query($f: InvitationFilter) { invitations(filter: $f, first: 2) { totalCount nodes { id } } }","variables":{"f":{"states":["PENDING"]}}}"#;
    let valid = format!(
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nAccept-Language: de-AT, en;q=0.5\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, byte)| ByteEdit::Set(at, byte)),
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| ByteEdit::Insert(at, bytes)),
        (any::<prop::sample::Index>(), 1..32usize).prop_map(|(at, len)| ByteEdit::Delete(at, len)),
        (any::<prop::sample::Index>(), 1..32usize, 1..200usize)
            .prop_map(|(at, len, times)| ByteEdit::Repeat(at, len, times)),
        any::<prop::sample::Index>().prop_map(ByteEdit::Truncate),
        (any::<prop::sample::Index>(), prop::sample::select(SPLICED))
            .prop_map(|(at, token)| ByteEdit::Insert(at, token.to_vec())),
    ];
    prop::collection::vec(edit, 1..8).prop_map(move |edits| {
        let mut bytes = valid.clone();
        for edit in edits {
            edit.apply(&mut bytes);
        }
        bytes
    })
}

#[derive(Debug, Clone)]
enum ByteEdit {
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
    Repeat(prop::sample::Index, usize, usize),
    Truncate(prop::sample::Index),
}

impl ByteEdit {
    fn apply(self, bytes: &mut Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        match self {
            ByteEdit::Set(at, byte) => {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            ByteEdit::Insert(at, inserted) => {
                let at = at.index(bytes.len() + 1);
                bytes.splice(at..at, inserted);
            }
            ByteEdit::Delete(at, len) => {
                let start = at.index(bytes.len());
                let end = (start + len).min(bytes.len());
                bytes.drain(start..end);
            }
            ByteEdit::Repeat(at, len, times) => {
                let start = at.index(bytes.len());
                let end = (start + len).min(bytes.len());
                let span = bytes[start..end].to_vec();
                for _ in 0..times {
                    bytes.splice(end..end, span.iter().copied());
                }
            }
            ByteEdit::Truncate(at) => bytes.truncate(at.index(bytes.len())),
        }
    }
}
