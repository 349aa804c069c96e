//! The contract's part on what WhatsApp said of a send: its code and the time before which
//! it is not sent again are recorded, listed, kept by a put-back, copied by an import, and
//! honoured by every claim.

use chrono::{TimeDelta, Utc};

use super::{finished, row, send};
use crate::ledger::backend::{Claim, Filter, Finished, Ledger};
use crate::ledger::row::{SendRow, Status, timestamp};
use crate::schedule::Occurrence;

pub(super) fn run(open: &mut dyn FnMut(&str) -> Box<dyn Ledger>) {
    codes_are_recorded_listed_and_replaced(open("codes"));
    a_claim_waits_for_retry_not_before(open("codes-hold"));
    import_copies_codes(open("codes-from"), open("codes-to"));
}

fn listed(l: &mut dyn Ledger, key: &str) -> SendRow {
    l.sends(&Filter::default())
        .unwrap()
        .into_iter()
        .find(|r| r.key == key)
        .unwrap()
}

/// An outcome carrying a code, and a hold until `not_before`.
fn with_code(key: &str, code: u32, not_before: Option<String>) -> Finished {
    Finished {
        wa_code: Some(code),
        retry_not_before: not_before,
        ..finished(key, Status::Failed)
    }
}

fn codes_are_recorded_listed_and_replaced(mut l: Box<dyn Ledger>) {
    let (a, b) = (send("c/once/919000000001"), send("c/once/919000000002"));
    l.claim(&[a.clone(), b.clone()], &[]).unwrap();
    let hold = "2026-12-02T10:00:00.000Z".to_owned();
    // One batch: a row with a code and a hold, then one with neither.
    l.finish(&[
        with_code(&a.key, 131049, Some(hold.clone())),
        finished(&b.key, Status::Sent),
    ])
    .unwrap();
    let row = listed(&mut *l, &a.key);
    assert_eq!(
        (row.wa_code, row.retry_not_before.as_deref()),
        (Some(131049), Some(hold.as_str()))
    );
    let other = listed(&mut *l, &b.key);
    assert_eq!((other.wa_code, other.retry_not_before), (None, None));
    let recorded = l.recorded("c", Occurrence::Once).unwrap();
    let r = &recorded["919000000001"];
    assert_eq!(r.wa_code, Some(131049));
    assert_eq!(r.retry_not_before, Some(hold.parse().unwrap()));
    assert_eq!(recorded["919000000002"].retry_not_before, None);

    // Held until a time gone by: claimed again, then answered without a code.
    let past = timestamp(Utc::now() - TimeDelta::seconds(1));
    l.finish(&[with_code(&a.key, 131049, Some(past))]).unwrap();
    assert_eq!(
        l.claim(std::slice::from_ref(&a), &[Status::Failed])
            .unwrap(),
        [Claim::Claimed(Some(Status::Failed))]
    );
    l.finish(&[finished(&a.key, Status::Sent)]).unwrap();
    let row = listed(&mut *l, &a.key);
    assert_eq!(
        (row.status, row.wa_code, row.retry_not_before),
        (Status::Sent, None, None),
        "the last outcome's code replaces the one before"
    );
}

/// A row held until later is not claimed, whatever `retry` says; a claim that took a row
/// and is put back leaves its code and its hold as they were.
fn a_claim_waits_for_retry_not_before(mut l: Box<dyn Ledger>) {
    let keys = [
        "c/once/919000000001",
        "c/once/919000000002",
        "c/once/919000000003",
    ];
    let sends = keys.map(send);
    l.claim(&sends, &[]).unwrap();
    let later = timestamp(Utc::now() + TimeDelta::hours(24));
    let past = timestamp(Utc::now() - TimeDelta::seconds(1));
    l.finish(&[
        with_code(keys[0], 131049, Some(later.clone())),
        with_code(keys[1], 131026, None),
        with_code(keys[2], 131049, Some(past.clone())),
    ])
    .unwrap();
    assert_eq!(
        l.claim(&sends, &[Status::Failed]).unwrap(),
        [
            Claim::Taken,
            Claim::Claimed(Some(Status::Failed)),
            Claim::Claimed(Some(Status::Failed)),
        ]
    );
    l.release(&[
        (keys[1].to_owned(), Some(Status::Failed)),
        (keys[2].to_owned(), Some(Status::Failed)),
    ])
    .unwrap();
    let rows: Vec<_> = keys.iter().map(|k| listed(&mut *l, k)).collect();
    assert_eq!(
        rows.iter()
            .map(|r| (r.status, r.wa_code, r.retry_not_before.clone()))
            .collect::<Vec<_>>(),
        [
            (Status::Failed, Some(131049), Some(later)),
            (Status::Failed, Some(131026), None),
            (Status::Failed, Some(131049), Some(past)),
        ]
    );
}

fn import_copies_codes(mut from: Box<dyn Ledger>, mut to: Box<dyn Ledger>) {
    let rows = [
        SendRow {
            wa_code: Some(131049),
            retry_not_before: Some("2026-12-02T10:00:00.000Z".to_owned()),
            ..row(
                "c/once/919000000001",
                Status::Failed,
                "2026-12-01T10:00:00.000Z",
            )
        },
        row(
            "c/once/919000000002",
            Status::Sent,
            "2026-12-01T10:00:00.000Z",
        ),
    ];
    from.import(&rows, &[]).unwrap();
    let listed = from.sends(&Filter::default()).unwrap();
    assert_eq!(listed, rows);
    to.import(&listed, &[]).unwrap();
    assert_eq!(to.sends(&Filter::default()).unwrap(), rows);
}
