//! The SQLite spool: the conformance suite every backend passes, then what is SQLite's own (a
//! record corrupted on disk, a failing request inside a commit group, schema versions and
//! migration from spools written by earlier versions).

use impulse_spool::conformance::{Backend, dest, flat, message, submission, t};
use impulse_spool::{
    MobileStore, Outcome, QueueQueries, QueueStore, RecipientState, SpoolError, SqliteSpool,
};

/// A fresh spool directory per case; `open` reopens the same one.
struct Sqlite(tempfile::TempDir);

impl Sqlite {
    fn new() -> Self {
        Sqlite(tempfile::tempdir().unwrap())
    }
}

impl Backend for Sqlite {
    type Spool = SqliteSpool;
    async fn open(&self) -> (SqliteSpool, u64) {
        SqliteSpool::open(self.0.path()).unwrap()
    }
}

impulse_spool::conformance_tests!(Sqlite::new());

#[tokio::test]
async fn unreadable_record_is_reported_and_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
    let bad = spool
        .enqueue(message(&[("a@one.example", "one.example")], 1))
        .await
        .unwrap();
    let good = spool
        .enqueue(message(&[("b@one.example", "one.example")], 2))
        .await
        .unwrap();
    // Damage one record behind the spool's back: its sender is no longer text.
    let raw = rusqlite::Connection::open(dir.path().join("spool.db")).unwrap();
    raw.execute(
        "UPDATE messages SET sender = x'fffe' WHERE id = ?1",
        [bad.0],
    )
    .unwrap();
    drop(raw);

    let err = spool.load(bad).await.unwrap_err();
    assert!(
        matches!(err, SpoolError::Unreadable(id, _) if id == bad),
        "{err}"
    );
    assert!(spool.load(good).await.is_ok());
    let leased = spool
        .lease_due(&dest("one.example"), t(10), 10)
        .await
        .unwrap();
    let bad_entry = leased
        .messages
        .iter()
        .find(|m| m.leases[0].message == bad)
        .unwrap();
    assert!(matches!(bad_entry.message, Err(SpoolError::Unreadable(id, _)) if id == bad));
    assert!(
        leased
            .messages
            .iter()
            .any(|m| m.leases[0].message == good && m.message.is_ok())
    );
    let bad_lease = &bad_entry.leases[0];
    spool
        .record(vec![(
            bad_lease.reference(),
            Outcome::Quarantined {
                reason: err.to_string(),
            },
        )])
        .await
        .unwrap();
    let info = spool.inspect(bad).await.unwrap();
    assert_eq!(info[0].state, RecipientState::Quarantined);
    assert_eq!(
        spool
            .lease_due(&dest("one.example"), t(10_000), 10)
            .await
            .unwrap()
            .recipients(),
        0,
        "quarantined is never leased"
    );
}

/// A request that fails inside a commit group is refused alone: the messages committed with it
/// are stored and acknowledged, and nothing of the failed request is left behind.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_request_spoils_nothing_else_in_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
    // Make one kind of write fail, as a full disk or a corrupt index would.
    let db = rusqlite::Connection::open(dir.path().join("spool.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON reverse_mappings WHEN NEW.domain = 'bad' \
         BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    )
    .unwrap();
    let mapping = |domain: &str| impulse_spool::ReverseMapping {
        domain: domain.into(),
        sms_addr: "4445551234".into(),
        shortcode: "12345".into(),
        email_addr: "alice@example.org".into(),
        expires: i64::MAX,
    };
    for round in 0..50 {
        // Queued back to back so that they usually share a group.
        let bad = spool.save_mapping(mapping("bad"));
        let good = spool.save_mapping(mapping("good"));
        let (a, b, bad, good) = tokio::join!(
            spool.enqueue(message(&[("a@one.example", "one.example")], round)),
            spool.enqueue(message(&[("b@one.example", "one.example")], round)),
            bad,
            good,
        );
        assert!(
            bad.is_err(),
            "round {round}: the refused write reports its error"
        );
        good.unwrap();
        for id in [a.unwrap(), b.unwrap()] {
            assert_eq!(spool.inspect(id).await.unwrap().len(), 1);
        }
    }
    assert_eq!(
        spool
            .lookup_mapping("good", "4445551234", "12345", 0)
            .await
            .unwrap()
            .as_deref(),
        Some("alice@example.org")
    );
    assert_eq!(
        spool
            .lookup_mapping("bad", "4445551234", "12345", 0)
            .await
            .unwrap(),
        None
    );
    let leased = flat(
        spool
            .lease_due(&dest("one.example"), i64::MAX, 1000)
            .await
            .unwrap(),
    );
    assert_eq!(leased.len(), 100);
}

/// One submit_multi gives several recipients the same SMSC id: each keeps its submission. A
/// spool written before that (submissions keyed without the recipient) is migrated on open.
#[tokio::test(flavor = "multi_thread")]
async fn recipients_sharing_an_smsc_id_keep_their_submissions_after_migration() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = rusqlite::Connection::open(dir.path().join("spool.db")).unwrap();
        db.execute_batch(
            "CREATE TABLE submissions (key TEXT NOT NULL, smsc_id TEXT NOT NULL, message TEXT NOT NULL, \
             domain TEXT NOT NULL, recipient TEXT NOT NULL, sender TEXT NOT NULL, segment INTEGER NOT NULL, \
             total INTEGER NOT NULL, submitted_at INTEGER NOT NULL, PRIMARY KEY (key, message, segment));
             CREATE INDEX submissions_message ON submissions (message, recipient);",
        )
        .unwrap();
        let s = submission("old@sms.example.com");
        db.execute(
            "INSERT INTO submissions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                s.key,
                s.smsc_id,
                s.message,
                s.domain,
                s.recipient,
                s.sender,
                s.segment,
                s.total,
                s.submitted_at
            ],
        )
        .unwrap();
    }
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
    spool
        .record_submissions(vec![
            submission("a@sms.example.com"),
            submission("b@sms.example.com"),
        ])
        .await
        .unwrap();
    let mut found: Vec<String> = spool
        .find_submissions(vec!["d:1234".into()])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.recipient)
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "a@sms.example.com",
            "b@sms.example.com",
            "old@sms.example.com"
        ]
    );
}

/// The schema version is recorded, and a spool written by a newer Impulse is refused with an
/// error that says so instead of being misread.
#[tokio::test]
async fn a_spool_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteSpool::open(dir.path()).unwrap());
    let db = rusqlite::Connection::open(dir.path().join("spool.db")).unwrap();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    db.pragma_update(None, "user_version", 3).unwrap();
    drop(db);
    match SqliteSpool::open(dir.path()) {
        Err(SpoolError::NewerSchema {
            found: 3,
            supported: 2,
        }) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a newer spool was opened"),
    }
}
