//! Standard GraphQL clients against the server binary, as a frontend developer would use them:
//! `tests/clients/run.mjs` (graphql-js introspection and schema comparison, graphql-http's
//! audit of the GraphQL-over-HTTP spec, GraphQL Code Generator with tsc, Apollo Client's error
//! codes and persisted queries, graphql-request's whole flow). Its report lands in the suite's
//! log folder as `clients-summary.json`, which `scripts/test.sh` prints.

use std::time::Duration;

use crate::process::{ServerProcess, run_node, suite_log_dir};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[tokio::test]
async fn standard_graphql_clients_work_on_their_defaults() {
    let clients = format!("{ROOT}/tests/clients");
    assert!(
        std::path::Path::new(&format!("{clients}/node_modules/graphql-http")).exists(),
        "the client tests need their npm packages: run `bash scripts/node_packages.sh tests/clients` \
         (scripts/test.sh does)"
    );
    let data = crate::helpers::temp_dir();
    let server = ServerProcess::start(&data, &[]).await;
    let output = run_node(
        &clients,
        "run.mjs",
        &[&server.url(""), &server.bootstrap_token()],
        &[],
        Duration::from_secs(240),
    )
    .await;
    let printed = String::from_utf8_lossy(&output.stdout);
    std::fs::write(
        suite_log_dir().join("clients-summary.json"),
        printed.as_bytes(),
    )
    .unwrap();
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(
        report["audit"]["must_failed"],
        serde_json::json!([]),
        "{report:#}"
    );
    assert_eq!(report["apollo"]["unauthorized_code"], "UNAUTHENTICATED");
    server.stop().await;
    let _ = std::fs::remove_dir_all(data);
}
