//! The contract's part on what WhatsApp's rules ask of the ledger: a claim never takes a
//! number that opted out, sends held back on purpose (`capped`, `missed`) are recorded and
//! keep their row, and the sends that may have reached someone are listed for the limits,
//! with their category, test sends left out.

use chrono::{DateTime, TimeDelta, Utc};

use super::{finished, row, send};
use crate::ledger::backend::{Claim, Filter, Ledger, NewSend, Skipped};
use crate::ledger::row::{Messaged, OptOut, SendRow, Status};
use crate::schedule::Occurrence;

pub(super) fn run(open: &mut dyn FnMut(&str) -> Box<dyn Ledger>) {
    a_claim_never_takes_an_opted_out_number(open("limits-optout"));
    skipped_sends_are_recorded_once_and_claimed_only_when_asked(open("limits-skip"));
    messaged_lists_what_may_have_reached_someone(open("limits-messaged"));
    test_sends_are_no_occurrence_and_count_for_nothing(open("limits-test"));
    import_copies_category_and_test(open("limits-from"), open("limits-to"));
}

fn keys(l: &mut dyn Ledger) -> Vec<(String, Status)> {
    l.sends(&Filter::default())
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.status))
        .collect()
}

/// `sends` held back with `status` for `reason`.
fn skipped(sends: &[NewSend], status: Status, reason: &str) -> Vec<Skipped> {
    sends
        .iter()
        .map(|send| Skipped {
            send: send.clone(),
            status,
            reason: reason.to_owned(),
        })
        .collect()
}

fn marketing(key: &str) -> NewSend {
    NewSend {
        category: Some("marketing".to_owned()),
        ..send(key)
    }
}

fn a_claim_never_takes_an_opted_out_number(mut l: Box<dyn Ledger>) {
    let (a, b) = (send("c/once/919000000001"), send("c/once/919000000002"));
    let blast = NewSend {
        recipient: "blast".to_owned(),
        endpoint: "blast".to_owned(),
        ..send("b/once/blast")
    };
    l.claim(std::slice::from_ref(&b), &[]).unwrap();
    l.finish(&[finished(&b.key, Status::Failed)]).unwrap();
    l.add_optouts(&[
        OptOut::now("919000000001".to_owned(), None, "optout add"),
        OptOut::now("919000000002".to_owned(), None, "api 131050"),
        // A blast's "recipient" is no number: an opt-out of the word changes nothing.
        OptOut::now("blast".to_owned(), None, "optout add"),
    ])
    .unwrap();
    // New, or retried from `failed`: neither is taken, and nothing is written for them.
    assert_eq!(
        l.claim(&[a.clone(), b.clone(), blast.clone()], &[Status::Failed])
            .unwrap(),
        vec![Claim::OptedOut, Claim::OptedOut, Claim::Claimed(None)]
    );
    assert_eq!(
        keys(&mut *l),
        vec![
            (blast.key.clone(), Status::InFlight),
            (b.key, Status::Failed)
        ]
    );
    // Once removed, the number is claimed again.
    l.remove_optouts(&["919000000001".to_owned()]).unwrap();
    assert_eq!(l.claim(&[a], &[]).unwrap(), vec![Claim::Claimed(None)]);
}

fn skipped_sends_are_recorded_once_and_claimed_only_when_asked(mut l: Box<dyn Ledger>) {
    let (a, b, c) = (
        marketing("c/once/919000000001"),
        marketing("c/once/919000000002"),
        send("c/once/919000000003"),
    );
    l.claim(std::slice::from_ref(&c), &[]).unwrap();
    l.finish(&[finished(&c.key, Status::Sent)]).unwrap();
    let reason = "capped: 2 marketing message(s) in 7d";
    // A row already recorded keeps it: only a and b are recorded.
    assert_eq!(
        l.skip(&skipped(
            &[a.clone(), b.clone(), c.clone()],
            Status::Capped,
            reason
        ))
        .unwrap(),
        2
    );
    assert_eq!(
        l.skip(&skipped(std::slice::from_ref(&a), Status::Missed, "late"))
            .unwrap(),
        0
    );
    let rows: Vec<SendRow> = l.sends(&Filter::default()).unwrap();
    let capped = rows.iter().find(|r| r.key == a.key).unwrap();
    assert_eq!(
        (
            capped.status,
            capped.attempts,
            capped.error.as_deref(),
            capped.category.as_deref(),
            capped.http_status,
        ),
        (Status::Capped, 0, Some(reason), Some("marketing"), None)
    );
    assert_eq!(
        rows.iter().find(|r| r.key == c.key).unwrap().status,
        Status::Sent
    );
    assert_eq!(
        l.recorded("c", Occurrence::Once).unwrap()["919000000001"].status,
        Status::Capped
    );
    // A capped send is resent only when asked.
    assert_eq!(
        l.claim(std::slice::from_ref(&a), &[Status::Failed, Status::Unknown])
            .unwrap(),
        vec![Claim::Taken]
    );
    assert_eq!(
        l.claim(std::slice::from_ref(&a), &[Status::Capped])
            .unwrap(),
        vec![Claim::Claimed(Some(Status::Capped))]
    );
    // One batch, each with its own status and reason.
    let (d, e) = (send("d/once/919000000005"), send("d/once/919000000006"));
    let mut batch = skipped(std::slice::from_ref(&d), Status::Capped, "cap of d");
    batch.extend(skipped(
        std::slice::from_ref(&e),
        Status::Missed,
        "window of e",
    ));
    assert_eq!(l.skip(&batch).unwrap(), 2);
    let rows = l.sends(&Filter::default()).unwrap();
    let of = |key: &str| {
        let r = rows.iter().find(|r| r.key == key).unwrap();
        (r.status, r.error.clone().unwrap())
    };
    assert_eq!(of(&d.key), (Status::Capped, "cap of d".to_owned()));
    assert_eq!(of(&e.key), (Status::Missed, "window of e".to_owned()));
    // A missed send never is.
    let late = send("c/2026-12-01T03:30:00Z/919000000004");
    assert_eq!(
        l.skip(&skipped(
            std::slice::from_ref(&late),
            Status::Missed,
            "its send window did not open within max_delay (24h)"
        ))
        .unwrap(),
        1
    );
    assert_eq!(
        l.claim(&[late], &[Status::Failed, Status::Unknown, Status::Capped])
            .unwrap(),
        vec![Claim::Taken]
    );
}

fn messaged(l: &mut dyn Ledger, since: DateTime<Utc>) -> Vec<(String, Option<String>)> {
    let mut seen = Vec::new();
    let count = l
        .each_messaged(since, &mut |m: Messaged| {
            assert_eq!(
                format!("{}/{}/{}", m.campaign, m.occurrence, m.recipient).len(),
                m.campaign.len() + m.occurrence.len() + m.recipient.len() + 2
            );
            seen.push((
                format!("{}/{}/{}", m.campaign, m.occurrence, m.recipient),
                m.category.map(str::to_owned),
            ));
        })
        .unwrap();
    assert_eq!(count, seen.len());
    seen.sort();
    seen
}

fn messaged_lists_what_may_have_reached_someone(mut l: Box<dyn Ledger>) {
    let start = Utc::now() - TimeDelta::seconds(1);
    let sends: Vec<NewSend> = (1..=6)
        .map(|i| marketing(&format!("c/once/91900000000{i}")))
        .collect();
    l.claim(&sends, &[]).unwrap();
    l.finish(&[
        finished(&sends[0].key, Status::Sent),
        finished(&sends[1].key, Status::Unknown),
        finished(&sends[2].key, Status::Failed),
    ])
    .unwrap();
    // sends[3] stays in flight; sends[4] and [5] are put back and capped.
    l.release(&[(sends[4].key.clone(), None), (sends[5].key.clone(), None)])
        .unwrap();
    l.skip(&skipped(&sends[4..], Status::Capped, "capped"))
        .unwrap();
    let other = send("d/2026-12-01T03:30:00Z/919000000001");
    l.claim(std::slice::from_ref(&other), &[]).unwrap();
    l.finish(&[finished(&other.key, Status::Sent)]).unwrap();
    let m = Some("marketing".to_owned());
    assert_eq!(
        messaged(&mut *l, start),
        vec![
            (sends[0].key.clone(), m.clone()),
            (sends[1].key.clone(), m.clone()),
            (sends[3].key.clone(), m),
            (other.key.clone(), None),
        ]
    );
    // `since` is when they were last updated: nothing is that recent yet.
    assert!(messaged(&mut *l, Utc::now() + TimeDelta::seconds(1)).is_empty());
    // Imported rows keep their own `updated_at`.
    let old = row(
        "e/once/919000000009",
        Status::Sent,
        "2026-11-30T09:00:00.000Z",
    );
    l.import(std::slice::from_ref(&old), &[]).unwrap();
    let at: DateTime<Utc> = "2026-11-30T09:00:00Z".parse().unwrap();
    assert_eq!(
        messaged(&mut *l, at)
            .into_iter()
            .filter(|(k, _)| k.starts_with("e/"))
            .count(),
        1
    );
    assert!(
        !messaged(&mut *l, at + TimeDelta::milliseconds(1))
            .iter()
            .any(|(k, _)| k.starts_with("e/"))
    );
}

fn test_sends_are_no_occurrence_and_count_for_nothing(mut l: Box<dyn Ledger>) {
    let start = Utc::now() - TimeDelta::seconds(1);
    let real = send("c/2026-12-01T03:30:00Z/919000000001");
    let test = NewSend {
        test: true,
        ..send("c/test-2026-12-07T10:00:00.000Z/919000000002")
    };
    l.claim(&[real.clone(), test.clone()], &[]).unwrap();
    l.finish(&[
        finished(&real.key, Status::Sent),
        finished(&test.key, Status::Sent),
    ])
    .unwrap();
    assert_eq!(
        l.last_occurrence("c").unwrap(),
        Some("2026-12-01T03:30:00Z".parse().unwrap())
    );
    assert_eq!(
        l.started_since("c", "2026-11-01T00:00:00Z".parse().unwrap())
            .unwrap(),
        vec![
            "2026-12-01T03:30:00Z"
                .parse::<chrono::DateTime<Utc>>()
                .unwrap()
        ],
        "a test send starts no occurrence"
    );
    assert_eq!(
        messaged(&mut *l, start),
        vec![(real.key.clone(), None)],
        "a test send is nobody's send"
    );
    let rows = l.sends(&Filter::default()).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.key.as_str(), r.test))
            .collect::<Vec<_>>(),
        vec![(real.key.as_str(), false), (test.key.as_str(), true)]
    );
}

fn import_copies_category_and_test(mut from: Box<dyn Ledger>, mut to: Box<dyn Ledger>) {
    let test = NewSend {
        test: true,
        ..marketing("c/test-2026-12-07T10:00:00.000Z/919000000002")
    };
    from.claim(std::slice::from_ref(&test), &[]).unwrap();
    from.finish(&[finished(&test.key, Status::Sent)]).unwrap();
    from.skip(&skipped(
        &[marketing("c/once/919000000003")],
        Status::Capped,
        "capped",
    ))
    .unwrap();
    let rows = from.sends(&Filter::default()).unwrap();
    to.import(&rows, &[]).unwrap();
    assert_eq!(to.sends(&Filter::default()).unwrap(), rows);
    assert!(
        rows.iter()
            .all(|r| r.category.as_deref() == Some("marketing"))
    );
}
