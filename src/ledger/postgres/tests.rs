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
        category: None,
        test: false,
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

/// A version-1 ledger (before the opt-out table) read by this campaignctl has no opt-outs;
/// opened for writing it gains the table and keeps every row it had.
#[test]
fn a_version_1_ledger_gains_the_optout_table_keeping_its_rows() {
    let db = TestDb::create("v1-optouts");
    let mut old = Config::from_str(&db.url).unwrap().connect(NoTls).unwrap();
    old.batch_execute(
        "CREATE TABLE campaignctl_schema (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
         INSERT INTO campaignctl_schema VALUES (1, '2026-11-27T05:00:00.000Z');",
    )
    .unwrap();
    old.batch_execute(SCHEMA_V1).unwrap();
    old.batch_execute(
        "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                            request_hash, status, attempts, created_at, updated_at)
         VALUES ('c/once/919000000001', 'c', 'c.yaml', 'once', '919000000001', 'single', '{}',
                 'h1', 'sent', 1, '2026-11-27T05:00:00.000Z', '2026-11-27T05:00:01.000Z'),
                ('c/once/919000000002', 'c', 'c.yaml', 'once', '919000000002', 'single', '{}',
                 'h2', 'failed', 2, '2026-11-27T05:00:00.000Z', '2026-11-27T05:00:01.000Z');
         INSERT INTO missed VALUES ('d', '2026-12-02T03:30:00Z', 'd.yaml', '2026-12-02T05:00:00.000Z');",
    )
    .unwrap();
    let mut before = PgLedger::open_read_only(&db.location()).unwrap().unwrap();
    let (sends, missed) = (
        before.sends(&Filter::default()).unwrap(),
        before.missed(None).unwrap(),
    );
    assert_eq!((sends.len(), missed.len()), (2, 1));
    assert!(
        before.fired().unwrap().is_empty(),
        "no table yet, nothing fired"
    );
    assert_eq!(before.each_optout(&mut |_| {}).unwrap(), 0);
    assert!(
        before
            .optouts_among(&["919000000001".to_owned()])
            .unwrap()
            .is_empty()
    );
    drop(before);

    let mut l = PgLedger::open(&db.location()).unwrap();
    assert_eq!(l.version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(l.sends(&Filter::default()).unwrap(), sends);
    assert_eq!(l.missed(None).unwrap(), missed);
    let o = OptOut::now(
        "919000000001".to_owned(),
        Some("STOP".to_owned()),
        "optout add",
    );
    assert_eq!(l.add_optouts(std::slice::from_ref(&o)).unwrap(), vec![None]);
    let mut listed = Vec::new();
    l.each_optout(&mut |o| listed.push(o)).unwrap();
    assert_eq!(listed, [o]);
    drop(l);
    assert_eq!(
        PgLedger::open(&db.location()).unwrap().version().unwrap(),
        MIGRATIONS.len() as i64
    );
}

/// A version-2 ledger (before the WhatsApp columns) is read as if they were empty; opened
/// for writing it becomes version 3, keeping its rows, and records codes and holds.
#[test]
fn a_version_2_ledger_gains_the_whatsapp_columns_as_version_3() {
    let db = TestDb::create("v2-codes");
    let mut old = Config::from_str(&db.url).unwrap().connect(NoTls).unwrap();
    old.batch_execute(
        "CREATE TABLE campaignctl_schema (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
         INSERT INTO campaignctl_schema VALUES (1, '2026-11-27T05:00:00.000Z'),
                                               (2, '2026-11-28T05:00:00.000Z');",
    )
    .unwrap();
    for sql in &MIGRATIONS[..2] {
        old.batch_execute(sql).unwrap();
    }
    old.batch_execute(
        "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                            request_hash, status, attempts, created_at, updated_at)
         VALUES ('c/once/919000000001', 'c', 'c.yaml', 'once', '919000000001', 'single', '{}',
                 'h1', 'failed', 1, '2026-11-27T05:00:00.000Z', '2026-11-27T05:00:01.000Z');",
    )
    .unwrap();
    let mut before = PgLedger::open_read_only(&db.location()).unwrap().unwrap();
    let sends = before.sends(&Filter::default()).unwrap();
    assert_eq!(
        (sends.len(), sends[0].wa_code, &sends[0].retry_not_before),
        (1, None, &None)
    );
    let recorded = before.recorded("c", Occurrence::Once).unwrap();
    assert_eq!(recorded["919000000001"].wa_code, None);
    drop(before);

    let mut l = PgLedger::open(&db.location()).unwrap();
    assert_eq!(l.version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(l.sends(&Filter::default()).unwrap(), sends);
    assert_eq!(l.recorded("c", Occurrence::Once).unwrap(), recorded);
    let key = "c/once/919000000001";
    l.claim(&[crate::ledger::contract::send(key)], &[Status::Failed])
        .unwrap();
    l.finish(&[Finished {
        wa_code: Some(131049),
        retry_not_before: Some("2026-12-02T10:00:00.000Z".to_owned()),
        ..crate::ledger::contract::finished(key, Status::Failed)
    }])
    .unwrap();
    let row = l.sends(&Filter::default()).unwrap().remove(0);
    assert_eq!(
        (row.wa_code, row.retry_not_before.as_deref()),
        (Some(131049), Some("2026-12-02T10:00:00.000Z"))
    );
}

/// A version-3 ledger (before categories, test sends and the `capped` and `missed`
/// statuses) is read as having none; opened for writing it becomes version 4, keeping its
/// rows, and takes the new statuses.
#[test]
fn a_version_3_ledger_gains_categories_tests_and_statuses_as_version_4() {
    let db = TestDb::create("v3-limits");
    let mut old = Config::from_str(&db.url).unwrap().connect(NoTls).unwrap();
    old.batch_execute(
        "CREATE TABLE campaignctl_schema (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
         INSERT INTO campaignctl_schema VALUES (1, '2026-11-27T05:00:00.000Z'),
             (2, '2026-11-28T05:00:00.000Z'), (3, '2026-12-01T05:00:00.000Z');",
    )
    .unwrap();
    for sql in &MIGRATIONS[..3] {
        old.batch_execute(sql).unwrap();
    }
    old.batch_execute(
        "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                            request_hash, status, attempts, created_at, updated_at)
         VALUES ('c/2026-12-01T03:30:00Z/919000000001', 'c', 'c.yaml', '2026-12-01T03:30:00Z',
                 '919000000001', 'single', '{}', 'h1', 'sent', 1, '2026-12-01T03:30:00.000Z',
                 '2026-12-01T03:30:01.000Z');",
    )
    .unwrap();
    let since: DateTime<Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
    let messaged = |l: &mut PgLedger| {
        let mut seen = Vec::new();
        l.each_messaged(since, &mut |m| {
            seen.push((m.recipient.to_owned(), m.category.map(str::to_owned)));
        })
        .unwrap();
        seen
    };
    let mut before = PgLedger::open_read_only(&db.location()).unwrap().unwrap();
    let sends = before.sends(&Filter::default()).unwrap();
    assert_eq!(sends.len(), 1);
    assert!(sends[0].category.is_none() && !sends[0].test);
    assert_eq!(
        messaged(&mut before),
        vec![("919000000001".to_owned(), None)]
    );
    drop(before);

    let mut l = PgLedger::open(&db.location()).unwrap();
    assert_eq!(l.version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(l.sends(&Filter::default()).unwrap(), sends);
    assert_eq!(
        l.skip(&[crate::ledger::Skipped {
            send: crate::ledger::contract::send("c/once/919000000003"),
            status: Status::Capped,
            reason: "capped".to_owned(),
        }])
        .unwrap(),
        1
    );
    assert_eq!(messaged(&mut l), vec![("919000000001".to_owned(), None)]);
}
