use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use postgres::{Config, NoTls};

use super::location::redact;
use super::test_db::TestDb;
use super::*;

#[test]
fn postgres_ledger_meets_the_contract() {
    let mut dbs: std::collections::HashMap<String, TestDb> = std::collections::HashMap::new();
    crate::ledger::contract::run(&mut |name| {
        let db = dbs
            .entry(name.to_owned())
            .or_insert_with(|| TestDb::create(name));
        Box::new(PgLedger::open(&db.location()).unwrap())
    });
}

#[test]
fn read_only_open_never_creates_and_newer_schemas_are_refused() {
    let db = TestDb::create("ro");
    assert!(PgLedger::open_read_only(&db.location()).unwrap().is_none());
    let mut check = Config::from_str(&db.url).unwrap().connect(NoTls).unwrap();
    let tables: i64 = check
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "a read-only open created tables");
    drop(PgLedger::open(&db.location()).unwrap());
    assert!(PgLedger::open_read_only(&db.location()).unwrap().is_some());
    check
        .execute("INSERT INTO campaignctl_schema VALUES (99, 'x')", &[])
        .unwrap();
    assert!(matches!(
        PgLedger::open(&db.location()),
        Err(LedgerError::TooNew { found: 99, .. })
    ));
}

#[test]
fn two_processes_racing_for_one_send_only_one_claims_it() {
    let db = TestDb::create("race");
    let location = db.location();
    let send = NewSend {
        key: "c/once/919000000001".to_owned(),
        campaign: "c".to_owned(),
        file: "c.yaml".to_owned(),
        occurrence: "once".to_owned(),
        recipient: "919000000001".to_owned(),
        endpoint: "single".to_owned(),
        request: "{}".to_owned(),
        request_hash: "h".to_owned(),
    };
    drop(PgLedger::open(&location).unwrap());
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (location, send, barrier) = (location.clone(), send.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut ledger = PgLedger::open(&location).unwrap();
                barrier.wait();
                ledger.claim(&[send], &[Status::Failed]).unwrap()[0]
            })
        })
        .collect();
    let claims: Vec<Claim> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        claims
            .iter()
            .filter(|c| **c == Claim::Claimed(None))
            .count(),
        1,
        "{claims:?}"
    );
}

#[test]
fn a_lost_connection_loses_the_lock_and_a_new_session_can_take_it() {
    let db = TestDb::create("lost");
    let location = db.location();
    let mut leader = PgLedger::open(&location).unwrap();
    let mut standby = PgLedger::open(&location).unwrap();
    leader.lock(&Holder::current("run")).unwrap();
    assert!(leader.holds_lock().unwrap());
    assert!(standby.try_lock(&Holder::current("run")).unwrap().is_some());
    // Cut the leader's session from the server side.
    let mut admin = Config::from_str(&db.url).unwrap().connect(NoTls).unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')",
            &[],
        )
        .unwrap();
    // The backend exits asynchronously; the standby polls like the daemon does.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while standby.try_lock(&Holder::current("run")).unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the standby never took over"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The old leader notices: it no longer holds the lock, and cannot take it back.
    assert!(!leader.holds_lock().unwrap_or(false));
    assert!(leader.try_lock(&Holder::current("run")).unwrap().is_some());
}

#[test]
fn urls_are_parsed_and_passwords_never_shown() {
    assert_eq!(
        redact("postgres://app:s3cret@db.example.com:5432/ledger?sslmode=require"),
        "postgres://app:***@db.example.com:5432/ledger?sslmode=require"
    );
    assert_eq!(
        redact("postgresql://app@db/ledger?password=s3cret&sslmode=require"),
        "postgresql://app@db/ledger?password=***&sslmode=require"
    );
    assert_eq!(
        redact("postgres://app:pa/ss?w@rd@db:5432/ledger?sslmode=require"),
        "postgres://app:***@db:5432/ledger?sslmode=require"
    );
    let location =
        PgLocation::parse("Postgres://app:pa/ss@db.example.com/ledger?sslmode=require").unwrap();
    assert_eq!(
        location.to_string(),
        "postgres://app:***@db.example.com:5432/ledger?sslmode=require"
    );
    let location =
        PgLocation::parse("postgres://app:s3cret@db.example.com:5432/ledger?sslmode=require")
            .unwrap();
    assert!(!format!("{location} {location:?}").contains("s3cret"));
    let err = PgLocation::parse("postgres://app:s3cret@db/ledger?sslmode=sometimes").unwrap_err();
    assert!(err.to_string().contains("unknown sslmode"));
    assert!(!err.to_string().contains("s3cret"));
}
