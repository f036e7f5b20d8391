//! Property-based GraphQL inputs against the real server on both stores. Each input is drawn
//! from one of the families below by proptest's strategies, sent as a POST to `/graphql`, with
//! an admin token or without one.

use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

use super::target::{ANSWER_LIMIT, Target, excerpt, seed};
use crate::helpers::{Backend, fragment_fan_out};

/// Inputs per store and run.
const INPUTS: usize = 1_500;

/// The server's default `max_body_bytes`.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

crate::on_both_backends!(graphql_inputs_of_every_hostile_kind_get_answers_below_500);

async fn graphql_inputs_of_every_hostile_kind_get_answers_below_500(backend: Backend) {
    let seed = seed();
    let mut target = Target::start(&format!("graphql {backend:?}"), backend, seed).await;
    let known = Known::make(&target).await;
    let mut runner = runner(seed);
    let strategy = input(&known);
    // A connection per input: the server closes idle kept-alive connections after its short
    // header timeout, and one closed just as the next input goes out is no answer to judge.
    let http = reqwest::Client::builder()
        .timeout(ANSWER_LIMIT)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let regressions = regressions();
    let random = (0..INPUTS).map(|_| strategy.new_tree(&mut runner).unwrap().current());
    for (n, input) in regressions.into_iter().chain(random).enumerate() {
        let mut request = if input.via_get {
            let url = format!(
                "{}?{}",
                target.server.url("/graphql"),
                query_string(&input.body)
            );
            http.get(url)
        } else {
            http.post(target.server.url("/graphql"))
                .header("content-type", input.content_type)
                .body(input.body.clone())
        };
        if input.signed_in {
            request = request.bearer_auth(&target.token);
        }
        let shown = String::from_utf8_lossy(&input.body).into_owned();
        let started = std::time::Instant::now();
        let status = match request.send().await {
            Ok(answer) => {
                let status = answer.status().as_u16();
                // Read the whole answer: a body cut off half-way is no answer either.
                let body = answer.bytes().await;
                assert!(body.is_ok(), "answer to {} cut off", excerpt(&shown));
                Some(status)
            }
            // The server answers 413 and closes before a body past its limit is all sent.
            Err(_) if input.body.len() > MAX_BODY_BYTES => None,
            Err(err) => panic!(
                "seed {seed}: no answer to {} ({:?})",
                excerpt(&shown),
                err.without_url()
            ),
        };
        target.record(status, &shown, started.elapsed());
        if n % 100 == 99 {
            target.assert_alive(&shown).await;
        }
    }
    target.finish().await;
}

fn runner(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config {
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

/// Ids and secrets of invitations that exist, so mutated operations reach past the lookups.
#[derive(Debug, Clone)]
struct Known {
    ids: Vec<String>,
    secrets: Vec<String>,
}

impl Known {
    async fn make(target: &Target) -> Self {
        let mut known = Self {
            ids: Vec::new(),
            secrets: Vec::new(),
        };
        for i in 0..4 {
            let created = target
                .server
                .gql(
                    "mutation($e: String!) { createInvitation(input: {email: $e, role: \"viewer\", sendEmail: false}) { id secret } }",
                    json!({ "e": format!("known{i}@example.org") }),
                    Some(&target.token),
                )
                .await;
            let invitation = &created["data"]["createInvitation"];
            known
                .ids
                .push(invitation["id"].as_str().unwrap().to_owned());
            known
                .secrets
                .push(invitation["secret"].as_str().unwrap().to_owned());
        }
        known
    }
}

/// One request: its body, as what it claims to be, signed in or not; or, `via_get`, the same
/// GraphQL request in a GET query string.
#[derive(Debug, Clone)]
struct Input {
    body: Vec<u8>,
    content_type: &'static str,
    signed_in: bool,
    via_get: bool,
}

/// A JSON request body's `query`, `variables` and `operationName` as a GET query string.
fn query_string(body: &[u8]) -> String {
    let request: Value = serde_json::from_slice(body).unwrap();
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    if let Some(query) = request["query"].as_str() {
        pairs.append_pair("query", query);
    }
    if !request["variables"].is_null() {
        pairs.append_pair("variables", &request["variables"].to_string());
    }
    pairs.finish()
}

/// Inputs that once brought a server down, sent first in every run: brackets nested far
/// past the parser's stack (in a POST and in a GET, which the HTTP layer parses itself), and
/// fragments that spread each other into 2^40 fields.
fn regressions() -> Vec<Input> {
    let nested = |open: &str, close: &str, depth: usize| {
        format!(
            "query {{ invitations(filter: {{states: {}PENDING{}}}) {{ totalCount }} }}",
            open.repeat(depth),
            close.repeat(depth)
        )
    };
    let queries = [
        nested("[", "]", 100_000),
        format!("{{{}}}", "{".repeat(100_000)),
        fragment_fan_out(40, 2, "__typename"),
    ];
    let mut inputs = Vec::new();
    for query in queries {
        for signed_in in [true, false] {
            inputs.push(json_input(graphql_body(&query, &json!({})), signed_in));
        }
    }
    // Within what a URL holds.
    for query in [
        nested("[", "]", 5_000),
        format!("{{{}}}", "{".repeat(8_000)),
    ] {
        inputs.push(Input {
            via_get: true,
            ..json_input(graphql_body(&query, &json!({})), true)
        });
    }
    inputs
}

/// Valid operations, each with variables; the families below start from these.
const OPERATIONS: &[(&str, &str)] = &[
    (
        "query($id: ID!) { invitation(id: $id) { id email name role groups metadata locale scope state expiresAt delivery { status attempts lastError } events { kind at } isResendable } }",
        "id",
    ),
    (
        "query($f: InvitationFilter, $n: Int, $a: String) { invitations(filter: $f, first: $n, after: $a, sort: [{field: CREATED_AT, direction: DESC}]) { totalCount nodes { id email state } pageInfo { hasNextPage endCursor } edges { cursor } } }",
        "f",
    ),
    (
        "query($s: String!) { invitationBySecret(secret: $s) { state email name role expiresAt } }",
        "s",
    ),
    (
        "query { invitationViewer { id name canRead grantableRoles } }",
        "",
    ),
    (
        "mutation($i: CreateInvitationInput!) { createInvitation(input: $i) { id secret inviteUrl state } }",
        "i",
    ),
    (
        "mutation($is: [CreateInvitationInput!]!) { createInvitations(inputs: $is) { created failed items { index error { code field } } } }",
        "is",
    ),
    (
        "mutation($id: ID!, $v: Duration) { resendInvitation(id: $id, validFor: $v) { id state sendCount } }",
        "id",
    ),
    (
        "mutation($id: ID!) { revokeInvitation(id: $id) { id state } }",
        "id",
    ),
    (
        "mutation($s: String!, $in: AcceptInvitationInput) { acceptInvitation(secret: $s, input: $in) { userId existingUser invitation { state } } }",
        "s",
    ),
    (
        "mutation($s: String!) { declineInvitation(secret: $s) { state } }",
        "s",
    ),
    ("{ __schema { types { name fields { name } } } }", ""),
    (
        "{ __type(name: \"Invitation\") { fields { name type { name kind } } } }",
        "",
    ),
];

/// Names an attacker tries in place of the real ones.
const NAMES: &[&str] = &[
    "invitations",
    "invitation",
    "createInvitation",
    "__typename",
    "__schema",
    "secret",
    "inviteUrl",
    "metadata",
    "totalCount",
    "nodes",
    "edges",
    "id",
    "constructor",
    "__proto__",
    "$where",
    "a",
];

/// Fragments of syntax spliced in at random places.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "$",
    "!",
    "...",
    "@skip(if: true)",
    "@include(if: $x)",
    "\"",
    "\"\"\"",
    "\\",
    "#",
    ",",
    "=",
    "|",
    "&",
    "on",
    "fragment F on Query { __typename }",
    "...F",
    "null",
    "true",
    "1e309",
    "-0",
    "9223372036854775808",
    "0x10",
    "\u{0}",
    "\u{202e}",
    "\u{feff}",
    "\u{1f600}",
    "query",
    "mutation",
    "subscription",
    "__typename",
];

fn input(known: &Known) -> impl Strategy<Value = Input> {
    let family = prop_oneof![
        3 => mutated_operation(known.clone()),
        3 => type_confused(known.clone()),
        2 => deep_nesting(),
        2 => alias_flood(),
        2 => odd_body(),
    ];
    // A quarter of the GraphQL requests go as GET, whose query the HTTP layer parses itself.
    (family, 0..4u8).prop_map(|(mut input, quarter)| {
        let is_request = serde_json::from_slice::<Value>(&input.body)
            .is_ok_and(|body| body["query"].is_string());
        // A URL holds at most 64 KiB; escaped, a body takes up to three times its size.
        input.via_get = quarter == 0 && is_request && input.body.len() < 20_000;
        input
    })
}

/// The variables that make an operation valid for the known invitations.
fn valid_variables(name: &str, known: &Known, pick: usize) -> Value {
    let id = &known.ids[pick % known.ids.len()];
    let secret = &known.secrets[pick % known.secrets.len()];
    match name {
        "id" => json!({ "id": id, "v": "P3D" }),
        "f" => json!({ "f": { "states": ["PENDING"], "emailContains": "known" }, "n": 5 }),
        "s" => json!({ "s": secret, "in": { "name": "N", "password": "a long passphrase" } }),
        "i" => json!({ "i": { "email": format!("fuzz{pick}@example.org"), "role": "viewer" } }),
        "is" => json!({ "is": [{ "email": format!("bulk{pick}@example.org"), "role": "viewer" }] }),
        _ => json!({}),
    }
}

fn graphql_body(query: &str, variables: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "query": query, "variables": variables })).unwrap()
}

fn json_input(body: Vec<u8>, signed_in: bool) -> Input {
    Input {
        body,
        content_type: "application/json",
        signed_in,
        via_get: false,
    }
}

/// A valid operation with one to four random edits: a span deleted or repeated, a token or a
/// name spliced in.
fn mutated_operation(known: Known) -> impl Strategy<Value = Input> {
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), 1..40usize).prop_map(|(at, len)| Edit::Delete(at, len)),
        (any::<prop::sample::Index>(), 1..40usize, 1..50usize)
            .prop_map(|(at, len, times)| Edit::Repeat(at, len, times)),
        (any::<prop::sample::Index>(), prop::sample::select(TOKENS))
            .prop_map(|(at, token)| Edit::Insert(at, token.to_owned())),
        (any::<prop::sample::Index>(), prop::sample::select(NAMES))
            .prop_map(|(at, name)| Edit::Insert(at, format!(" {name} "))),
    ];
    (
        prop::sample::select(OPERATIONS),
        prop::collection::vec(edit, 1..5),
        any::<usize>(),
        any::<bool>(),
    )
        .prop_map(move |((query, vars), edits, pick, signed_in)| {
            let mut chars: Vec<char> = query.chars().collect();
            for edit in edits {
                edit.apply(&mut chars);
            }
            let query: String = chars.into_iter().collect();
            json_input(
                graphql_body(&query, &valid_variables(vars, &known, pick)),
                signed_in,
            )
        })
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(prop::sample::Index, usize),
    Repeat(prop::sample::Index, usize, usize),
    Insert(prop::sample::Index, String),
}

impl Edit {
    fn apply(self, chars: &mut Vec<char>) {
        if chars.is_empty() {
            return;
        }
        match self {
            Edit::Delete(at, len) => {
                let start = at.index(chars.len());
                let end = (start + len).min(chars.len());
                chars.drain(start..end);
            }
            Edit::Repeat(at, len, times) => {
                let start = at.index(chars.len());
                let end = (start + len).min(chars.len());
                let span: Vec<char> = chars[start..end].to_vec();
                for _ in 0..times {
                    chars.splice(end..end, span.iter().copied());
                }
            }
            Edit::Insert(at, text) => {
                let at = at.index(chars.len() + 1);
                chars.splice(at..at, text.chars());
            }
        }
    }
}

/// A valid operation whose variables are replaced, one or all, by values of any type.
fn type_confused(known: Known) -> impl Strategy<Value = Input> {
    (
        prop::sample::select(OPERATIONS),
        prop::collection::vec(("[a-z]{1,2}", odd_value()), 0..4),
        any::<usize>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(move |((query, vars), odd, pick, keep_valid, signed_in)| {
            let mut variables = if keep_valid {
                valid_variables(vars, &known, pick)
            } else {
                json!({})
            };
            // Replace the real variable names too, not only unknown ones.
            let names = ["id", "f", "n", "a", "s", "in", "i", "is", "v"];
            for (index, (name, value)) in odd.into_iter().enumerate() {
                let name = if index % 2 == 0 {
                    names[(pick + index) % names.len()].to_owned()
                } else {
                    name
                };
                variables[name] = value;
            }
            // The variables object itself may be of the wrong type.
            let variables = match pick % 7 {
                0 => json!("not an object"),
                1 => json!([variables]),
                _ => variables,
            };
            json_input(graphql_body(query, &variables), signed_in)
        })
}

/// JSON of every type: extreme numbers, odd strings, long arrays, `$` keys, deep nesting.
fn odd_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0),
            Just(-1),
            any::<i64>()
        ]
        .prop_map(Value::from),
        Just(json!(u64::MAX)),
        Just(json!(1e308)),
        Just(json!(-0.0)),
        Just(json!(0.1)),
        odd_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("$gt".to_owned()),
                    Just("a.b".to_owned()),
                    Just("__proto__".to_owned()),
                    Just("email".to_owned()),
                    Just("role".to_owned()),
                    Just("states".to_owned()),
                    "[a-zA-Z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn odd_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("\u{0}".to_owned()),
        Just("\u{202e}gro.elpmaxe@evil".to_owned()),
        Just("a\u{200b}@example.org".to_owned()),
        Just("<script>alert(1)</script>".to_owned()),
        Just("{\"$gt\": \"\"}".to_owned()),
        Just("../../../../etc/passwd".to_owned()),
        Just("P99999999999999999D".to_owned()),
        Just("PT-1S".to_owned()),
        Just("9999-12-31T23:59:59Z".to_owned()),
        Just("-000001-01-01T00:00:00Z".to_owned()),
        Just("viewer".to_owned()),
        Just("PENDING".to_owned()),
        Just("javascript:alert(1)".to_owned()),
        Just("de-AT-x-".to_owned() + &"a".repeat(300)),
        (1..200_000usize).prop_map(|n| "a".repeat(n)),
        (1..5_000usize).prop_map(|n| format!("{}@example.org", "x".repeat(n))),
        (1..2_000usize).prop_map(|n| "\u{1f600}".repeat(n)),
        "\\PC{0,64}",
        any::<String>(),
    ]
}

/// Nesting far past every bound: selections, list values, object values, fragments that
/// spread each other (in a cycle, or fanning out), in the query or in the variables.
fn deep_nesting() -> impl Strategy<Value = Input> {
    (0..6usize, 10..20_000usize, any::<bool>()).prop_map(|(kind, depth, signed_in)| {
        let body = match kind {
            0 => graphql_body(
                &format!(
                    "query {{ {} }}",
                    "invitations { nodes { ".repeat(depth) + &"} } ".repeat(depth)
                ),
                &json!({}),
            ),
            1 => graphql_body(
                &format!(
                    "query {{ invitations(filter: {{states: {}PENDING{}}}) {{ totalCount }} }}",
                    "[".repeat(depth),
                    "]".repeat(depth)
                ),
                &json!({}),
            ),
            2 => graphql_body(
                &format!(
                    "mutation {{ createInvitation(input: {{email: \"d@example.org\", role: \"viewer\", metadata: {}1{}}}) {{ id }} }}",
                    "{a: ".repeat(depth),
                    "}".repeat(depth)
                ),
                &json!({}),
            ),
            3 if depth % 2 == 0 => graphql_body(
                "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
                &json!({}),
            ),
            3 => {
                // Fragments spreading the next one several times: fan-out^levels fields.
                let (levels, spreads) = (depth % 60 + 1, depth % 5 + 2);
                let leaf = "invitations(first: 1) { totalCount }";
                graphql_body(&fragment_fan_out(levels, spreads, leaf), &json!({}))
            }
            4 => {
                // Nested JSON variables, built as text so serde's own limit is not in the way.
                let variables = "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth);
                format!(
                    "{{\"query\":\"mutation($m: JSON) {{ createInvitation(input: {{email: \\\"v@example.org\\\", role: \\\"viewer\\\", metadata: $m}}) {{ id }} }}\",\"variables\":{{\"m\":{variables}}}}}"
                )
                .into_bytes()
            }
            _ => ("{".repeat(depth) + &"}".repeat(depth)).into_bytes(),
        };
        json_input(body, signed_in)
    })
}

/// The same field under thousands of aliases, directives or variable definitions.
fn alias_flood() -> impl Strategy<Value = Input> {
    (0..5usize, 100..6_000usize, any::<bool>()).prop_map(|(kind, count, signed_in)| {
        let repeated = |f: &dyn Fn(usize) -> String| (0..count).map(f).collect::<String>();
        let query = match kind {
            0 => format!("query {{ {} }}", repeated(&|i| format!("a{i}: __typename "))),
            1 => format!(
                "query {{ {} }}",
                repeated(&|i| format!("c{i}: invitations(first: 1) {{ totalCount }} "))
            ),
            2 => format!(
                "query {{ {} }}",
                repeated(&|i| format!(
                    "s{i}: invitationBySecret(secret: \"{}\") {{ state }} ",
                    "A".repeat(43)
                ))
            ),
            3 => format!(
                "mutation {{ {} }}",
                repeated(&|i| format!(
                    "m{i}: createInvitation(input: {{email: \"flood{i}@example.org\", role: \"viewer\"}}) {{ id }} "
                ))
            ),
            _ => format!(
                "query({}) {{ __typename {} }}",
                repeated(&|i| format!("$v{i}: Int ")),
                "@skip(if: false) ".repeat(count)
            ),
        };
        json_input(graphql_body(&query, &json!({})), signed_in)
    })
}

/// Bodies that are not the JSON they claim to be, or claim to be something else.
fn odd_body() -> impl Strategy<Value = Input> {
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..4096),
        Just(b"[]".to_vec()),
        Just(b"null".to_vec()),
        Just(b"\"query\"".to_vec()),
        Just(b"{\"query\": 5}".to_vec()),
        Just(b"{\"query\": null}".to_vec()),
        Just(b"{\"query\": \"{ __typename }\", \"variables\": \"x\"}".to_vec()),
        Just(b"{\"query\": \"{ __typename }\", \"operationName\": 7}".to_vec()),
        Just(b"{\"query\": \"query A { __typename } query B { __typename }\"}".to_vec()),
        Just(b"{\"query\": \"\\ud800\"}".to_vec()),
        Just(b"{\"query\": \"{ __typename }\"".to_vec()),
        Just(
            b"{\"query\": \"{ __typename }\", \"query\": \"{ invitations { totalCount } }\"}"
                .to_vec()
        ),
        Just(serde_json::to_vec(&vec![json!({ "query": "{ __typename }" }); 1000]).unwrap()),
        Just(
            b"{\"extensions\": {\"persistedQuery\": {\"version\": 1, \"sha256Hash\": \"00\"}}}"
                .to_vec()
        ),
        Just([0xff, 0xfe, b'{', b'}'].to_vec()),
        (1..3_000_000usize).prop_map(|n| {
            let mut body = b"{\"query\": \"{ __typename }\", \"pad\": \"".to_vec();
            body.extend(std::iter::repeat_n(b'x', n));
            body.extend_from_slice(b"\"}");
            body
        }),
    ];
    let content_type = prop::sample::select(
        &[
            "application/json",
            "application/json; charset=latin1",
            "application/graphql",
            "application/graphql-response+json",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "",
        ][..],
    );
    (body, content_type, any::<bool>()).prop_map(|(body, content_type, signed_in)| Input {
        body,
        content_type,
        signed_in,
        via_get: false,
    })
}
