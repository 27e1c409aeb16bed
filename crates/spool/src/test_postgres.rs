//! A PostgreSQL database of its own for each test (feature `conformance`): the server is the
//! one `scripts/test-postgres.sh` runs (started on first use; `scripts/test.sh` starts it
//! before the suite and stops it after), or the one `IMPULSE_TEST_POSTGRES` names.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The server's URL (to its `postgres` database).
fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(url) = std::env::var("IMPULSE_TEST_POSTGRES") {
            return url;
        }
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/test-postgres.sh"
        );
        let out = std::process::Command::new("bash")
            .args([script, "start"])
            .output()
            .expect("running scripts/test-postgres.sh");
        assert!(
            out.status.success(),
            "scripts/test-postgres.sh start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let server = server();
    let name = format!(
        "impulse_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        crate::now_millis()
    );
    let (client, conn) = tokio_postgres::connect(server, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL at {server}: {e}"));
    let task = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    drop(client);
    let _ = task.await;
    let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
    format!("{base}/{name}")
}

/// Runs SQL on the database at `url` behind the spool's back (a test's view of the rows).
pub async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// Gives the database at `url` the schema of version 1 (the first shared spool), as that
/// version of Impulse left it: the migration to the current version is tested from it.
pub async fn create_version_1(url: &str) {
    raw(url)
        .await
        .batch_execute(&format!(
            "{} INSERT INTO impulse_schema (version) VALUES (1);",
            crate::postgres::SCHEMA_V1
        ))
        .await
        .unwrap();
}
