use super::occurrences::{LAST_OCCURRENCE, STARTED_SINCE};
use super::*;
use crate::ledger::contract::send;

#[test]
fn sqlite_ledger_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    crate::ledger::contract::run(&mut |name| {
        let path = dir.path().join(name).join("state.db");
        Box::new(SqliteLedger::open(&path).unwrap())
    });
}

#[test]
fn a_version_1_ledger_upgrades_in_place_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    // A ledger as campaignctl made it before schema version 2, with a row of each kind.
    let v1 = Connection::open(&path).unwrap();
    v1.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
    v1.execute_batch(SCHEMA_V1).unwrap();
    v1.pragma_update(None, "user_version", 1).unwrap();
    let rows = [
        (
            "c/once/919000000001",
            "sent",
            1,
            Some(200),
            Some("{\"status\":\"success\"}"),
            None,
        ),
        (
            "c/once/919000000002",
            "failed",
            3,
            Some(400),
            Some("{\"error\":\"bad\"}"),
            None,
        ),
        (
            "c/once/919000000003",
            "unknown",
            1,
            None,
            None,
            Some("timed out"),
        ),
        ("c/once/919000000004", "in_flight", 0, None, None, None),
        (
            "d/2026-11-30T03:30:00Z/919000000001",
            "sent",
            2,
            Some(200),
            Some("{}"),
            None,
        ),
        (
            "d/2026-12-01T03:30:00Z/919000000001",
            "failed",
            1,
            Some(500),
            None,
            None,
        ),
    ];
    for (key, status, attempts, http_status, response, error) in rows {
        let row = send(key);
        v1.execute(
            "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                                request_hash, status, attempts, http_status, response, error,
                                created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
                     '2026-11-27T05:00:00.000Z', '2026-11-27T05:00:01.000Z')",
            params![
                row.key,
                row.campaign,
                row.file,
                row.occurrence,
                row.recipient,
                row.endpoint,
                row.request,
                row.request_hash,
                status,
                attempts,
                http_status,
                response,
                error
            ],
        )
        .unwrap();
    }
    v1.execute(
        "INSERT INTO missed (campaign, occurrence, file, recorded_at)
         VALUES ('d', '2026-12-02T03:30:00Z', 'campaigns/d.yaml', '2026-12-02T05:00:00.000Z')",
        [],
    )
    .unwrap();
    drop(v1);
    let mut old = SqliteLedger::open_read_only(&path).unwrap().unwrap();
    let sends = old.sends(&Filter::default()).unwrap();
    let missed = old.missed(None).unwrap();
    let recorded = old.recorded("c", Occurrence::Once).unwrap();
    assert_eq!((sends.len(), missed.len(), recorded.len()), (6, 1, 4));
    assert!(
        old.fired().unwrap().is_empty(),
        "no table yet, nothing fired"
    );
    drop(old);

    let mut l = SqliteLedger::open(&path).unwrap();
    assert_eq!(l.version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(l.sends(&Filter::default()).unwrap(), sends);
    assert_eq!(l.missed(None).unwrap(), missed);
    assert_eq!(l.recorded("c", Occurrence::Once).unwrap(), recorded);
    assert_eq!(
        l.last_occurrence("d").unwrap(),
        Some("2026-12-02T03:30:00Z".parse().unwrap())
    );
    let schema: Vec<String> = l
        .conn
        .prepare("SELECT name FROM sqlite_schema WHERE tbl_name = 'sends' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        schema,
        ["sends", "sends_by_occurrence", "sqlite_autoindex_sends_1"]
    );
    // The CHECK on the status survived the rebuild.
    assert!(
        l.conn
            .execute(
                "UPDATE sends SET status = 'bogus' WHERE key = 'c/once/919000000001'",
                []
            )
            .is_err()
    );
    // Claims see the rows they migrated with.
    let claims = l
        .claim(
            &[
                send("c/once/919000000001"),
                send("c/once/919000000002"),
                send("c/once/919000000003"),
                send("c/once/919000000005"),
            ],
            &[Status::Failed],
        )
        .unwrap();
    assert_eq!(
        claims,
        [
            Claim::Taken,
            Claim::Claimed(Some(Status::Failed)),
            Claim::Taken,
            Claim::Claimed(None)
        ]
    );
    // The row left in flight before the upgrade, and the two just claimed.
    assert_eq!(l.recover().unwrap(), 3);
    drop(l);

    // Opening it again migrates nothing.
    let mut again = SqliteLedger::open(&path).unwrap();
    assert_eq!(again.version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(again.sends(&Filter::default()).unwrap().len(), 7);
}

#[test]
fn occurrence_lookups_use_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let l = SqliteLedger::open(&dir.path().join("state.db")).unwrap();
    let plan = |sql: &str, params: &[&dyn ToSql]| -> String {
        l.conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(params, |row| row.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let recorded = plan(RECORDED[0], params!["c", "once", "c/once/", "c/once0"]);
    assert!(
        recorded.contains("SEARCH sends USING INDEX sqlite_autoindex_sends_1 (key>? AND key<?)"),
        "{recorded}"
    );
    let campaign = plan(
        SENDS_OF_CAMPAIGN[0],
        params![None::<&str>, None::<&str>, "c/", "c0", "c"],
    );
    assert!(
        campaign.contains("SEARCH sends USING INDEX sqlite_autoindex_sends_1 (key>? AND key<?)"),
        "{campaign}"
    );
    let last = plan(LAST_OCCURRENCE, params!["c"]);
    assert!(
        last.contains("SEARCH sends USING COVERING INDEX sends_by_occurrence (campaign=?)"),
        "{last}"
    );
    let started = plan(STARTED_SINCE, params!["c", "2026-12-07T00:00:00Z"]);
    assert!(
        started.contains(
            "SEARCH sends USING COVERING INDEX sends_by_occurrence (campaign=? AND occurrence>?)"
        ),
        "{started}"
    );
}

#[test]
fn read_only_open_never_creates_and_newer_schemas_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    assert!(SqliteLedger::open_read_only(&path).unwrap().is_none());
    assert!(!path.exists());
    drop(SqliteLedger::open(&path).unwrap());
    assert!(SqliteLedger::open_read_only(&path).unwrap().is_some());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    assert!(matches!(
        SqliteLedger::open(&path),
        Err(LedgerError::TooNew { found: 99, .. })
    ));
}

/// A version-2 ledger (before the opt-out table) read by this campaignctl has no opt-outs;
/// opened for writing it gains the table and keeps every row it had.
#[test]
fn a_version_2_ledger_gains_the_optout_table_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        // A ledger as campaignctl made it before schema version 3, with rows.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.execute_batch(V2).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        for (key, status) in [
            ("c/once/919000000001", "sent"),
            ("c/once/919000000002", "failed"),
        ] {
            let row = send(key);
            conn.execute(
                "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                                    request_hash, status, attempts, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1,
                         '2026-11-27T05:00:00.000Z', '2026-11-27T05:00:01.000Z')",
                params![
                    row.key,
                    row.campaign,
                    row.file,
                    row.occurrence,
                    row.recipient,
                    row.endpoint,
                    row.request,
                    row.request_hash,
                    status
                ],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO missed (campaign, occurrence, file, recorded_at)
             VALUES ('d', '2026-12-02T03:30:00Z', 'campaigns/d.yaml', '2026-12-02T05:00:00.000Z')",
            [],
        )
        .unwrap();
    }
    let mut before = SqliteLedger::open_read_only(&path).unwrap().unwrap();
    let (sends, missed) = (
        before.sends(&Filter::default()).unwrap(),
        before.missed(None).unwrap(),
    );
    assert_eq!((sends.len(), missed.len()), (2, 1));
    assert_eq!(
        before.each_optout(&mut |_| {}).unwrap(),
        0,
        "no table yet, no opt-outs"
    );
    assert!(
        before
            .optouts_among(&["919000000001".to_owned()])
            .unwrap()
            .is_empty()
    );
    drop(before);

    let mut l = SqliteLedger::open(&path).unwrap();
    assert_eq!(l.version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(l.sends(&Filter::default()).unwrap(), sends);
    assert_eq!(l.missed(None).unwrap(), missed);
    let o = OptOut::now("919000000001".to_owned(), None, "optout add");
    assert_eq!(l.add_optouts(std::slice::from_ref(&o)).unwrap(), vec![None]);
    let mut listed = Vec::new();
    l.each_optout(&mut |o| listed.push(o)).unwrap();
    assert_eq!(listed, [o]);
    drop(l);
    let mut again = SqliteLedger::open(&path).unwrap();
    assert_eq!(again.version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(again.each_optout(&mut |_| {}).unwrap(), 1);
}

/// A version-3 ledger (before the WhatsApp columns) is read as if they were empty; opened
/// for writing it becomes version 4, keeping its rows, and records codes and holds.
#[test]
fn a_version_3_ledger_gains_the_whatsapp_columns_as_version_4() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let key = "c/once/919000000001";
    {
        let conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        let row = send(key);
        conn.execute(
            "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                                request_hash, status, attempts, created_at, updated_at)
             VALUES (?1, 'c', 'c.yaml', 'once', ?2, 'single', ?3, ?4, 'failed', 1,
                     '2026-11-27T05:00:00.000Z', '2026-11-27T05:00:01.000Z')",
            params![row.key, row.recipient, row.request, row.request_hash],
        )
        .unwrap();
    }
    let mut before = SqliteLedger::open_read_only(&path).unwrap().unwrap();
    let sends = before.sends(&Filter::default()).unwrap();
    assert_eq!(
        (sends.len(), sends[0].wa_code, &sends[0].retry_not_before),
        (1, None, &None)
    );
    let recorded = before.recorded("c", Occurrence::Once).unwrap();
    assert_eq!(recorded["919000000001"].retry_not_before, None);
    drop(before);

    let mut l = SqliteLedger::open(&path).unwrap();
    assert_eq!(l.version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(l.sends(&Filter::default()).unwrap(), sends);
    assert_eq!(l.recorded("c", Occurrence::Once).unwrap(), recorded);
    l.claim(&[send(key)], &[Status::Failed]).unwrap();
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

/// A version-4 ledger (before categories, test sends and the `capped` and `missed`
/// statuses) is read as having none; opened for writing it is rebuilt as version 5 with the
/// same rows, and takes the new statuses.
#[test]
fn a_version_4_ledger_is_rebuilt_as_version_5_keeping_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let (sent, held) = ("c/2026-12-01T03:30:00Z/919000000001", "c/once/919000000002");
    {
        let conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        for (key, status, code) in [(sent, "sent", None), (held, "failed", Some(131049))] {
            let row = send(key);
            conn.execute(
                "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                                    request_hash, status, attempts, created_at, updated_at,
                                    wa_code, retry_not_before)
                 VALUES (?1, 'c', 'c.yaml', ?2, ?3, 'single', ?4, ?5, ?6, 1,
                         '2026-12-01T03:30:00.000Z', '2026-12-01T03:30:01.000Z', ?7, NULL)",
                params![
                    row.key,
                    row.occurrence,
                    row.recipient,
                    row.request,
                    row.request_hash,
                    status,
                    code
                ],
            )
            .unwrap();
        }
    }
    let since: chrono::DateTime<chrono::Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
    let messaged = |l: &mut SqliteLedger| {
        let mut seen = Vec::new();
        l.each_messaged(since, &mut |m| {
            seen.push((m.recipient.to_owned(), m.category.map(str::to_owned)));
        })
        .unwrap();
        seen
    };
    let mut before = SqliteLedger::open_read_only(&path).unwrap().unwrap();
    let sends = before.sends(&Filter::default()).unwrap();
    assert_eq!(sends.len(), 2);
    assert!(sends.iter().all(|r| r.category.is_none() && !r.test));
    assert_eq!(sends[1].wa_code, Some(131049));
    assert_eq!(
        messaged(&mut before),
        vec![("919000000001".to_owned(), None)]
    );
    drop(before);

    let mut l = SqliteLedger::open(&path).unwrap();
    assert_eq!(l.version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(l.sends(&Filter::default()).unwrap(), sends);
    assert_eq!(
        l.last_occurrence("c").unwrap(),
        Some("2026-12-01T03:30:00Z".parse().unwrap())
    );
    assert_eq!(
        l.skip(&[crate::ledger::Skipped {
            send: send("c/once/919000000003"),
            status: Status::Capped,
            reason: "capped".to_owned(),
        }])
        .unwrap(),
        1
    );
    assert_eq!(messaged(&mut l), vec![("919000000001".to_owned(), None)]);
}
