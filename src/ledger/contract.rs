//! The behaviour every backend must have: each backend's tests run all of it.

use std::ops::ControlFlow;

use chrono::{DateTime, TimeDelta, Utc};

use super::backend::{Claim, Filter, Finished, Ledger, NewSend};
use super::error::LedgerError;
use super::holder::Holder;
use super::row::{MAX_RESPONSE_BYTES, OptOut, Recorded, SendRow, Status};
use crate::schedule::Occurrence;

mod codes;
mod limits;

/// A send with every field derived from its key `CAMPAIGN/OCCURRENCE/RECIPIENT`.
pub(crate) fn send(key: &str) -> NewSend {
    let (campaign, rest) = key.split_once('/').unwrap();
    let (occurrence, recipient) = rest.rsplit_once('/').unwrap();
    NewSend {
        key: key.to_owned(),
        campaign: campaign.to_owned(),
        file: format!("campaigns/{campaign}.yaml"),
        occurrence: occurrence.to_owned(),
        recipient: recipient.to_owned(),
        endpoint: "single".to_owned(),
        request: format!("{{\"to\":{{\"mobile\":\"{recipient}\"}}}}"),
        request_hash: format!("hash-{key}"),
        category: None,
        test: false,
    }
}

pub(crate) fn finished(key: &str, status: Status) -> Finished {
    Finished {
        key: key.to_owned(),
        status,
        attempts: 1,
        http_status: Some(if status == Status::Sent { 200 } else { 400 }),
        response: Some("{\"ok\":true}".to_owned()),
        error: None,
        wa_code: None,
        retry_not_before: None,
    }
}

/// Runs every contract test. `open(name)` opens the ledger called `name`, empty on its
/// first opening; opening a name again gives a second handle on the same ledger.
pub(crate) fn run(open: &mut dyn FnMut(&str) -> Box<dyn Ledger>) {
    claim_is_exactly_once(open("claim"));
    recorded_and_listed_per_campaign_and_occurrence(open("recorded"));
    outcomes_are_recorded_and_listed(open("outcomes"));
    each_send_lists_in_order_one_at_a_time_with_every_filter(open("each"));
    each_row_of_a_batch_keeps_its_values(open("batch"));
    retry_only_what_is_asked(open("retry"));
    release_puts_back(open("release"));
    recover_marks_in_flight_unknown(open("recover"));
    missed_is_recorded_once(open("missed"));
    last_occurrence_spans_sends_and_missed(open("last"));
    fired_occurrences_are_started(open("fired"));
    import_is_idempotent_and_refuses_conflicts(open("import-from"), open("import-to"));
    single_writer_lock(open("lock"), open("lock"));
    optouts_keep_their_first_record(open("optouts"));
    optouts_are_looked_up_in_batches(open("optouts-many"));
    optouts_need_no_writer_lock(open("optouts-lock"), open("optouts-lock"));
    codes::run(open);
    limits::run(open);
}

fn claim_is_exactly_once(mut l: Box<dyn Ledger>) {
    let a = send("c/once/919000000001");
    let b = send("c/once/919000000002");
    assert_eq!(
        l.claim(&[a.clone(), b.clone()], &[]).unwrap(),
        vec![Claim::Claimed(None); 2]
    );
    assert_eq!(
        l.claim(&[a, b], &[Status::Failed, Status::Unknown])
            .unwrap(),
        vec![Claim::Taken; 2]
    );
    let recorded = l.recorded("c", Occurrence::Once).unwrap();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded["919000000001"].status, Status::InFlight);
}

/// Campaign names that share a prefix, and two occurrences of one campaign, stay apart.
fn recorded_and_listed_per_campaign_and_occurrence(mut l: Box<dyn Ledger>) {
    let keys = [
        "c/once/919000000001",
        "c-x/once/919000000002",
        "c0/once/919000000003",
        "c/2026-11-30T03:30:00Z/919000000004",
        "c/2026-11-30T03:30:01Z/919000000005",
    ];
    l.claim(&keys.map(send), &[]).unwrap();
    let at = |t: &str| Occurrence::At(t.parse().unwrap());
    for (campaign, occurrence, recipient) in [
        ("c", Occurrence::Once, "919000000001"),
        ("c-x", Occurrence::Once, "919000000002"),
        ("c0", Occurrence::Once, "919000000003"),
        ("c", at("2026-11-30T03:30:00Z"), "919000000004"),
        ("c", at("2026-11-30T03:30:01Z"), "919000000005"),
    ] {
        let recorded = l.recorded(campaign, occurrence).unwrap();
        assert_eq!(
            recorded.keys().collect::<Vec<_>>(),
            [recipient],
            "{campaign} {occurrence}"
        );
    }
    assert!(l.recorded("c-", Occurrence::Once).unwrap().is_empty());
    let listed = l
        .sends(&Filter {
            campaign: Some("c".to_owned()),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(
        listed.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
        [keys[3], keys[4], keys[0]]
    );
}

fn outcomes_are_recorded_and_listed(mut l: Box<dyn Ledger>) {
    let keys = [
        "c/once/919000000001",
        "c/once/919000000002",
        "d/once/919000000001",
    ];
    let sends: Vec<_> = keys.iter().map(|k| send(k)).collect();
    l.claim(&sends, &[]).unwrap();
    l.finish(&[
        finished(keys[0], Status::Sent),
        Finished {
            response: Some("x".repeat(MAX_RESPONSE_BYTES + 10)),
            ..finished(keys[1], Status::Failed)
        },
        finished(keys[2], Status::Sent),
    ])
    .unwrap();
    let recorded = l.recorded("c", Occurrence::Once).unwrap();
    assert_eq!(
        recorded["919000000001"],
        Recorded {
            status: Status::Sent,
            body_hash: format!("hash-{}", keys[0]),
            wa_code: None,
            retry_not_before: None,
        }
    );
    let all = l.sends(&Filter::default()).unwrap();
    assert_eq!(all.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), keys);
    let failed = l
        .sends(&Filter {
            campaign: Some("c".to_owned()),
            status: Some(Status::Failed),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].http_status, Some(400));
    assert_eq!(failed[0].attempts, 1);
    assert!(failed[0].response.as_ref().unwrap().len() <= MAX_RESPONSE_BYTES + 3);
}

/// A recorded row of `key` with this outcome, last updated at `updated_at`.
pub(crate) fn row(key: &str, status: Status, updated_at: &str) -> SendRow {
    let send = send(key);
    SendRow {
        key: send.key,
        campaign: send.campaign,
        file: send.file,
        occurrence: send.occurrence,
        recipient: send.recipient,
        endpoint: send.endpoint,
        status,
        attempts: 1,
        http_status: Some(if status == Status::Sent { 200 } else { 400 }),
        response: Some(format!("{{\"for\":\"{key}\"}}")),
        error: None,
        wa_code: None,
        retry_not_before: None,
        category: None,
        test: false,
        request: send.request,
        request_hash: send.request_hash,
        created_at: "2026-11-30T00:00:00.000Z".to_owned(),
        updated_at: updated_at.to_owned(),
    }
}

/// `each_send`: every column, in the order of campaign, occurrence and recipient (not of
/// keys: `c-x/` sorts before `c/`), filtered by campaign, status and `since` (inclusive, to
/// the millisecond), and a visitor can stop it with the ledger still usable after.
fn each_send_lists_in_order_one_at_a_time_with_every_filter(mut l: Box<dyn Ledger>) {
    // Imported, to choose each `updated_at`; in no particular order.
    let rows = [
        row(
            "c0/once/919000000001",
            Status::Sent,
            "2026-11-30T10:00:00.000Z",
        ),
        row(
            "c/2026-11-30T03:30:00Z/919000000002",
            Status::Failed,
            "2026-11-30T09:59:59.999Z",
        ),
        row(
            "c-x/once/919000000003",
            Status::Unknown,
            "2026-11-30T10:00:00.000Z",
        ),
        row(
            "c/once/919000000001",
            Status::Sent,
            "2026-11-30T10:00:00.001Z",
        ),
        row(
            "c/2026-11-30T03:30:00Z/91900000001",
            Status::Sent,
            "2026-11-30T09:00:00.000Z",
        ),
        row(
            "c/2026-11-29T03:30:00Z/919000000009",
            Status::Failed,
            "2026-11-30T11:00:00.000Z",
        ),
    ];
    l.import(&rows, &[]).unwrap();
    let mut expected = rows.to_vec();
    expected.sort_by(|a, b| {
        (&a.campaign, &a.occurrence, &a.recipient).cmp(&(&b.campaign, &b.occurrence, &b.recipient))
    });
    let each = |l: &mut Box<dyn Ledger>, filter: &Filter| {
        let mut listed = Vec::new();
        l.each_send(filter, &mut |row| {
            listed.push(row);
            ControlFlow::Continue(())
        })
        .unwrap();
        listed
    };
    let keys = |rows: &[SendRow]| rows.iter().map(|r| r.key.clone()).collect::<Vec<_>>();

    let all = each(&mut l, &Filter::default());
    assert_eq!(all, expected, "every row, every column, in order");
    assert_eq!(
        keys(&all),
        [
            "c/2026-11-29T03:30:00Z/919000000009",
            "c/2026-11-30T03:30:00Z/919000000002",
            "c/2026-11-30T03:30:00Z/91900000001",
            "c/once/919000000001",
            "c-x/once/919000000003",
            "c0/once/919000000001",
        ]
    );
    assert_eq!(l.sends(&Filter::default()).unwrap(), all);

    let since = Filter {
        since: Some("2026-11-30T10:00:00Z".parse().unwrap()),
        ..Filter::default()
    };
    assert_eq!(
        keys(&each(&mut l, &since)),
        [
            "c/2026-11-29T03:30:00Z/919000000009",
            "c/once/919000000001",
            "c-x/once/919000000003",
            "c0/once/919000000001",
        ],
        "updated at or after `since`"
    );
    assert_eq!(keys(&l.sends(&since).unwrap()), keys(&each(&mut l, &since)));
    let narrow = Filter {
        campaign: Some("c".to_owned()),
        status: Some(Status::Failed),
        ..since.clone()
    };
    assert_eq!(
        keys(&each(&mut l, &narrow)),
        ["c/2026-11-29T03:30:00Z/919000000009"]
    );
    let later = Filter {
        since: Some("2026-11-30T11:00:00.001Z".parse().unwrap()),
        ..Filter::default()
    };
    assert!(each(&mut l, &later).is_empty());

    // Stopped after two rows: no third is read, and the ledger answers the next call.
    let mut seen = 0;
    l.each_send(&Filter::default(), &mut |_| {
        seen += 1;
        if seen == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(seen, 2);
    assert_eq!(each(&mut l, &Filter::default()).len(), rows.len());
}

/// Rows of one batch keep their own values, the same as the previous row's or not.
fn each_row_of_a_batch_keeps_its_values(mut l: Box<dyn Ledger>) {
    let mut sends = [
        "c/once/919000000001",
        "d/2026-11-30T03:30:00Z/919000000002",
        "c/once/919000000003",
        "c/once/919000000004",
    ]
    .map(send);
    sends[1].endpoint = "blast".to_owned();
    sends[3].file = "campaigns/moved.yaml".to_owned();
    l.claim(&sends, &[]).unwrap();
    let outcomes = [
        finished(&sends[0].key, Status::Sent),
        Finished {
            attempts: 3,
            http_status: None,
            response: None,
            error: Some("connection refused".to_owned()),
            ..finished(&sends[1].key, Status::Unknown)
        },
        finished(&sends[2].key, Status::Sent),
        Finished {
            response: Some("{\"other\":true}".to_owned()),
            ..finished(&sends[3].key, Status::Sent)
        },
    ];
    l.finish(&outcomes).unwrap();
    let rows = l.sends(&Filter::default()).unwrap();
    for (send, outcome) in sends.iter().zip(&outcomes) {
        let row = rows.iter().find(|r| r.key == send.key).unwrap();
        assert_eq!(
            (
                &row.campaign,
                &row.file,
                &row.occurrence,
                &row.recipient,
                &row.endpoint,
                &row.request,
                &row.request_hash
            ),
            (
                &send.campaign,
                &send.file,
                &send.occurrence,
                &send.recipient,
                &send.endpoint,
                &send.request,
                &send.request_hash
            )
        );
        assert_eq!(
            (
                row.status,
                row.attempts,
                row.http_status,
                &row.response,
                &row.error
            ),
            (
                outcome.status,
                outcome.attempts,
                outcome.http_status,
                &outcome.response,
                &outcome.error
            )
        );
    }
}

fn retry_only_what_is_asked(mut l: Box<dyn Ledger>) {
    let (f, u) = (send("c/once/919000000001"), send("c/once/919000000002"));
    l.claim(&[f.clone(), u.clone()], &[]).unwrap();
    l.finish(&[
        finished(&f.key, Status::Failed),
        finished(&u.key, Status::Unknown),
    ])
    .unwrap();
    assert_eq!(
        l.claim(&[f.clone(), u.clone()], &[]).unwrap(),
        vec![Claim::Taken; 2]
    );
    assert_eq!(
        l.claim(&[f.clone(), u.clone()], &[Status::Failed]).unwrap(),
        vec![Claim::Claimed(Some(Status::Failed)), Claim::Taken]
    );
    l.finish(&[finished(&f.key, Status::Sent)]).unwrap();
    let row = l
        .sends(&Filter::default())
        .unwrap()
        .into_iter()
        .find(|r| r.key == f.key)
        .unwrap();
    assert_eq!((row.status, row.attempts), (Status::Sent, 2));
    assert_eq!(
        l.claim(&[f, u], &[Status::Failed, Status::Unknown])
            .unwrap(),
        vec![Claim::Taken, Claim::Claimed(Some(Status::Unknown))]
    );
}

fn release_puts_back(mut l: Box<dyn Ledger>) {
    let (new, retried) = (send("c/once/919000000001"), send("c/once/919000000002"));
    l.claim(std::slice::from_ref(&retried), &[]).unwrap();
    l.finish(&[finished(&retried.key, Status::Failed)]).unwrap();
    let claims = l
        .claim(&[new.clone(), retried.clone()], &[Status::Failed])
        .unwrap();
    assert_eq!(
        claims,
        vec![Claim::Claimed(None), Claim::Claimed(Some(Status::Failed))]
    );
    l.release(&[
        (new.key.clone(), None),
        (retried.key.clone(), Some(Status::Failed)),
    ])
    .unwrap();
    let recorded = l.recorded("c", Occurrence::Once).unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded["919000000002"].status, Status::Failed);
}

fn recover_marks_in_flight_unknown(mut l: Box<dyn Ledger>) {
    let sends = [send("c/once/919000000001"), send("c/once/919000000002")];
    l.claim(&sends, &[]).unwrap();
    l.finish(&[finished(&sends[0].key, Status::Sent)]).unwrap();
    assert_eq!(l.recover().unwrap(), 1);
    assert_eq!(l.recover().unwrap(), 0);
    let row = l
        .sends(&Filter {
            status: Some(Status::Unknown),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(row.len(), 1);
    assert!(row[0].error.as_ref().unwrap().contains("may or may not"));
}

fn missed_is_recorded_once(mut l: Box<dyn Ledger>) {
    let at = Occurrence::At("2026-11-30T03:30:00Z".parse().unwrap());
    assert!(l.record_missed("c", "campaigns/c.yaml", at).unwrap());
    assert!(!l.record_missed("c", "campaigns/c.yaml", at).unwrap());
    let missed = l.missed(Some("c")).unwrap();
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0].occurrence, "2026-11-30T03:30:00Z");
    assert!(l.missed(Some("other")).unwrap().is_empty());
}

fn last_occurrence_spans_sends_and_missed(mut l: Box<dyn Ledger>) {
    assert_eq!(l.last_occurrence("c").unwrap(), None);
    l.claim(&[send("c/once/919000000001")], &[]).unwrap();
    assert_eq!(
        l.last_occurrence("c").unwrap(),
        None,
        "`once` is not a scheduled occurrence"
    );
    l.claim(&[send("c/2026-11-30T03:30:00Z/919000000001")], &[])
        .unwrap();
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    assert_eq!(
        l.last_occurrence("c").unwrap(),
        Some(t("2026-11-30T03:30:00Z"))
    );
    l.record_missed("c", "c.yaml", Occurrence::At(t("2026-12-01T03:30:00Z")))
        .unwrap();
    assert_eq!(
        l.last_occurrence("c").unwrap(),
        Some(t("2026-12-01T03:30:00Z"))
    );
    l.claim(&[send("c/2026-12-02T03:30:00Z/919000000001")], &[])
        .unwrap();
    assert_eq!(
        l.last_occurrence("c").unwrap(),
        Some(t("2026-12-02T03:30:00Z"))
    );
    assert_eq!(l.last_occurrence("d").unwrap(), None);
}

fn fired_occurrences_are_started(mut l: Box<dyn Ledger>) {
    let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let (missed, fired, sent) = (
        t("2026-12-01T03:30:00Z"),
        t("2026-12-02T03:30:00Z"),
        t("2026-12-03T03:30:00Z"),
    );
    let since = |l: &mut Box<dyn Ledger>, campaign: &str, at: DateTime<Utc>| {
        l.started_since(campaign, at).unwrap()
    };
    assert!(since(&mut l, "c", missed).is_empty());
    l.record_missed("c", "c.yaml", Occurrence::At(missed))
        .unwrap();
    assert!(
        since(&mut l, "c", missed).is_empty(),
        "missed is not started"
    );
    l.record_fired("c", fired).unwrap();
    l.record_fired("c", fired).unwrap();
    assert_eq!(since(&mut l, "c", missed), vec![fired]);
    assert!(since(&mut l, "d", missed).is_empty());
    assert_eq!(l.last_occurrence("c").unwrap(), Some(fired));
    // A send starts one too, listed once however many it has.
    l.claim(
        &[
            send("c/2026-12-03T03:30:00Z/919000000001"),
            send("c/2026-12-03T03:30:00Z/919000000002"),
        ],
        &[],
    )
    .unwrap();
    l.record_fired("c", sent).unwrap();
    assert_eq!(since(&mut l, "c", missed), vec![fired, sent]);
    assert_eq!(
        since(&mut l, "c", fired),
        vec![fired, sent],
        "from `since` on"
    );
    assert_eq!(
        since(&mut l, "c", fired + TimeDelta::seconds(1)),
        vec![sent]
    );
    assert_eq!(l.last_occurrence("c").unwrap(), Some(sent));
    assert_eq!(l.last_occurrence("d").unwrap(), None);
}

fn import_is_idempotent_and_refuses_conflicts(mut from: Box<dyn Ledger>, mut to: Box<dyn Ledger>) {
    let sends: Vec<_> = ["c/once/919000000001", "c/once/919000000002"]
        .map(send)
        .to_vec();
    from.claim(&sends, &[]).unwrap();
    from.finish(&[
        finished(&sends[0].key, Status::Sent),
        finished(&sends[1].key, Status::Failed),
    ])
    .unwrap();
    let at = Occurrence::At("2026-11-30T03:30:00Z".parse().unwrap());
    from.record_missed("c", "c.yaml", at).unwrap();
    let fired_at = "2026-12-01T03:30:00Z".parse().unwrap();
    from.record_fired("c", fired_at).unwrap();
    let (rows, missed, fired) = (
        from.sends(&Filter::default()).unwrap(),
        from.missed(None).unwrap(),
        from.fired().unwrap(),
    );
    assert_eq!(rows[0].request, sends[0].request);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].occurrence, "2026-12-01T03:30:00Z");
    assert_eq!(to.import_fired(&fired).unwrap(), 1);
    assert_eq!(to.import_fired(&fired).unwrap(), 0, "kept as it was");
    assert_eq!(to.fired().unwrap(), fired);
    assert_eq!(to.started_since("c", fired_at).unwrap(), vec![fired_at]);

    let first = to.import(&rows, &missed).unwrap();
    assert_eq!((first.sends_copied, first.missed_copied), (2, 1));
    assert_eq!(to.sends(&Filter::default()).unwrap(), rows);
    let again = to.import(&rows, &missed).unwrap();
    assert_eq!(
        (
            again.sends_copied,
            again.sends_present,
            again.missed_present
        ),
        (0, 2, 1)
    );

    // A key recorded differently: nothing is written.
    let mut different = rows.clone();
    different[1].status = Status::Sent;
    let mut extra = send("c/once/919000000003");
    extra.request_hash = "other".to_owned();
    from.claim(&[extra], &[]).unwrap();
    different.push(from.sends(&Filter::default()).unwrap().pop().unwrap());
    let err = to.import(&different, &[]).unwrap_err();
    assert!(err.to_string().contains("c/once/919000000002"), "{err}");
    assert_eq!(
        to.sends(&Filter::default()).unwrap().len(),
        2,
        "a refused import wrote rows"
    );
}

fn single_writer_lock(mut first: Box<dyn Ledger>, mut second: Box<dyn Ledger>) {
    let holder = Holder {
        pid: 4242,
        host: "runner-1".to_owned(),
        since: "2026-11-27T05:00:00Z".parse().unwrap(),
        command: "apply".to_owned(),
    };
    let before = chrono::Utc::now() - chrono::TimeDelta::seconds(1);
    first.lock(&holder).unwrap();
    match second.lock(&Holder::current("apply")) {
        Err(LedgerError::Locked { holder: found, .. }) => {
            assert_eq!(
                (found.pid, &found.host, &found.command),
                (4242, &holder.host, &holder.command)
            );
            // `since` is when the lock was taken, not when the process started.
            assert!(found.since >= before, "{found:?}");
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(first);
    // A database releases a closed session's lock as its backend exits: moments later.
    second
        .lock_within(
            &Holder::current("apply"),
            std::time::Duration::from_secs(10),
        )
        .unwrap();
}

fn optout(mobile: &str, reason: Option<&str>, source: &str, at: &str) -> OptOut {
    OptOut {
        mobile: mobile.to_owned(),
        reason: reason.map(str::to_owned),
        source: source.to_owned(),
        created_at: at.to_owned(),
    }
}

fn all_optouts(l: &mut dyn Ledger) -> Vec<OptOut> {
    let mut listed = Vec::new();
    let n = l.each_optout(&mut |o| listed.push(o)).unwrap();
    assert_eq!(n, listed.len());
    listed
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Added once (a number given again, in the same call or later, keeps its first record),
/// listed and looked up by number, removed and added again.
fn optouts_keep_their_first_record(mut l: Box<dyn Ledger>) {
    assert!(all_optouts(&mut *l).is_empty());
    let a = optout(
        "919000000002",
        Some("replied STOP"),
        "optout add",
        "2026-12-01T05:00:00.000Z",
    );
    let b = optout(
        "919000000001",
        None,
        "optout import list.csv",
        "2026-12-01T05:00:01.000Z",
    );
    let again = optout(
        "919000000002",
        Some("blocked"),
        "api 131050",
        "2026-12-02T05:00:00.000Z",
    );
    assert_eq!(
        l.add_optouts(&[a.clone(), b.clone(), again.clone()])
            .unwrap(),
        vec![None, None, Some(a.clone())]
    );
    assert_eq!(
        l.add_optouts(std::slice::from_ref(&again)).unwrap(),
        vec![Some(a.clone())]
    );
    assert_eq!(all_optouts(&mut *l), [b.clone(), a.clone()]);
    assert_eq!(
        l.optouts_among(&strings(&["919000000003", "919000000002", "919000000002"]))
            .unwrap(),
        std::slice::from_ref(&a)
    );
    assert!(l.optouts_among(&[]).unwrap().is_empty());

    assert_eq!(
        l.remove_optouts(&strings(&["919000000003", "919000000002", "919000000001"]))
            .unwrap(),
        [a.clone(), b.clone()],
        "removed in the order asked, numbers without one left out"
    );
    assert!(
        l.remove_optouts(&strings(&["919000000002"]))
            .unwrap()
            .is_empty()
    );
    assert!(all_optouts(&mut *l).is_empty());
    // Removed, then opted out again: the new record is kept.
    assert_eq!(
        l.add_optouts(std::slice::from_ref(&again)).unwrap(),
        vec![None]
    );
    assert_eq!(all_optouts(&mut *l), [again]);
}

/// More numbers than one query takes, in one call each way.
fn optouts_are_looked_up_in_batches(mut l: Box<dyn Ledger>) {
    let number = |i: usize| format!("91{:010}", 9_000_000_000usize + i);
    let many: Vec<OptOut> = (0..25_000)
        .step_by(10)
        .map(|i| {
            optout(
                &number(i),
                None,
                "optout import big.csv",
                "2026-12-01T05:00:00.000Z",
            )
        })
        .collect();
    assert!(l.add_optouts(&many).unwrap().iter().all(Option::is_none));
    let asked: Vec<String> = (0..25_000).rev().map(number).collect();
    let found = l.optouts_among(&asked).unwrap();
    assert_eq!(found, many, "every one found once, by number");
    assert_eq!(all_optouts(&mut *l).len(), many.len());
}

/// Opt-outs are recorded while another process holds the writer lock (a running daemon).
fn optouts_need_no_writer_lock(mut holder: Box<dyn Ledger>, mut other: Box<dyn Ledger>) {
    holder.lock(&Holder::current("run")).unwrap();
    let o = optout(
        "919000000001",
        None,
        "optout add",
        "2026-12-01T05:00:00.000Z",
    );
    assert_eq!(
        other.add_optouts(std::slice::from_ref(&o)).unwrap(),
        vec![None]
    );
    assert_eq!(all_optouts(&mut *holder), std::slice::from_ref(&o));
    assert_eq!(
        other.remove_optouts(&strings(&["919000000001"])).unwrap(),
        [o]
    );
}
