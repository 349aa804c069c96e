//! The project file's limits in a plan: the number of unique people messaged in any moving
//! 24 hours (WhatsApp's messaging tier) and the frequency caps per recipient, counted from
//! the ledger's recent sends and from the plan's own sends as it goes.
//!
//! What must stay true: a plan never admits a send that takes the daily count over the
//! limit or a recipient over a cap, counting everything the ledger says may have reached
//! someone (`sent`, `unknown`, `in_flight`; never test sends), and the sends this plan
//! admitted before it, across every campaign of the plan. The sends are admitted in the
//! plan's order, so every pass over the plan (the scan, the feed, a saved plan) must start
//! from [`Budget::reset`] and see the same sends in the same order, which it does: planning
//! is deterministic.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

use crate::campaign::limits::{Cap, Limits};
use crate::campaign::mobile::{Mobile, MobileMap};
use crate::ledger::{Ledger, LedgerError, Messaged};

/// Whether `source` is `CAMPAIGN/OCCURRENCE` of these.
fn is_source(source: &str, campaign: &str, occurrence: &str) -> bool {
    source.len() == campaign.len() + 1 + occurrence.len()
        && source.starts_with(campaign)
        && source.ends_with(occurrence)
        && source.as_bytes()[campaign.len()] == b'/'
}

/// A send to one number: when it was last updated, its category and where it came from
/// (indices into [`History`]'s tables), 16 bytes each.
#[derive(Debug, Clone, Copy)]
struct Past {
    at: i64,
    category: u8,
    source: u32,
}

/// What the ledger says may have reached someone since the limits' horizon.
///
/// The sends are one vector sorted by number (24 bytes a send, a lookup is a binary
/// search): a ledger of a million recent sends takes 24 MB, where a map of vectors per
/// number took three times that.
#[derive(Debug, Default)]
pub(crate) struct History {
    /// The number of each send of `pasts`, sorted: a number's sends are adjacent.
    numbers: Vec<Mobile>,
    pasts: Vec<Past>,
    /// Sends read but not sorted in yet (see [`History::sort`]).
    staged: Vec<(Mobile, Past)>,
    /// Blasts sent, by when: each reached an unknown number of people.
    blasts: Vec<i64>,
    /// `CAMPAIGN/OCCURRENCE` of the sends, by index (most plans see a few).
    sources: Vec<String>,
    source_index: HashMap<String, u32>,
    /// Category names, by index + 1 (0: none).
    categories: Vec<String>,
}

impl History {
    /// Reads the ledger's sends that may have reached someone since `now - limits.horizon()`
    /// (later ones count too: with `--now` in the past, what was sent since is not undone).
    pub(crate) fn load(
        ledger: &mut dyn Ledger,
        limits: &Limits,
        now: DateTime<Utc>,
    ) -> Result<History, LedgerError> {
        let mut history = History::default();
        if !limits.any() {
            return Ok(history);
        }
        ledger.each_messaged(now - limits.horizon(), &mut |m| history.add(m))?;
        history.sort();
        Ok(history)
    }

    /// Counts sends that are not in the ledger yet: those other occurrences of the same
    /// daemon admitted and are still sending. Each is left out when the ledger has its key
    /// already.
    pub(crate) fn add_pending<'a>(&mut self, sends: impl Iterator<Item = Messaged<'a>>) {
        for m in sends {
            if let Some(mobile) = Mobile::from_digits(m.recipient) {
                let source = format!("{}/{}", m.campaign, m.occurrence);
                if self
                    .of(mobile)
                    .iter()
                    .any(|p| self.sources[p.source as usize] == source)
                {
                    continue;
                }
            }
            self.add(m);
        }
        self.sort();
    }

    /// The sends of `mobile`.
    fn of(&self, mobile: Mobile) -> &[Past] {
        let start = self.numbers.partition_point(|m| *m < mobile);
        let len = self.numbers[start..].partition_point(|m| *m == mobile);
        &self.pasts[start..start + len]
    }

    /// Sorts the staged sends in with the others, by number.
    fn sort(&mut self) {
        if self.staged.is_empty() {
            return;
        }
        let mut all = std::mem::take(&mut self.staged);
        all.extend(self.numbers.drain(..).zip(self.pasts.drain(..)));
        all.sort_unstable_by_key(|(m, p)| (*m, p.at));
        (self.numbers, self.pasts) = all.into_iter().unzip();
    }

    /// Every number with sends, and its sends.
    fn each_number(&self) -> impl Iterator<Item = (Mobile, &[Past])> {
        let mut start = 0;
        std::iter::from_fn(move || {
            let mobile = *self.numbers.get(start)?;
            let len = self.numbers[start..].partition_point(|m| *m == mobile);
            let sends = &self.pasts[start..start + len];
            start += len;
            Some((mobile, sends))
        })
    }

    fn add(&mut self, m: Messaged<'_>) {
        let at = m.at.timestamp();
        if m.recipient == "blast" {
            self.blasts.push(at);
            return;
        }
        let Some(mobile) = Mobile::from_digits(m.recipient) else {
            return;
        };
        // Rows come mostly in runs of one campaign's occurrence: the last source is tried
        // before the table.
        let source = match self.sources.last() {
            Some(last) if is_source(last, m.campaign, m.occurrence) => {
                self.sources.len() as u32 - 1
            }
            _ => {
                let text = format!("{}/{}", m.campaign, m.occurrence);
                let next = self.sources.len() as u32;
                *self.source_index.entry(text).or_insert_with_key(|s| {
                    self.sources.push(s.clone());
                    next
                })
            }
        };
        let category = match m.category {
            None => 0,
            Some(name) => match self.categories.iter().position(|c| c == name) {
                Some(i) => i as u8 + 1,
                None => {
                    self.categories.push(name.to_owned());
                    self.categories.len() as u8
                }
            },
        };
        self.staged.push((
            mobile,
            Past {
                at,
                category,
                source,
            },
        ));
    }

    fn category_of(&self, index: u8) -> Option<&str> {
        index
            .checked_sub(1)
            .map(|i| self.categories[i as usize].as_str())
    }

    /// The key of a past send of `mobile`.
    fn key(&self, past: &Past, mobile: Mobile) -> String {
        format!("{}/{mobile}", self.sources[past.source as usize])
    }
}

/// What the limits say of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Within every limit: it may go.
    Send,
    /// A frequency cap holds it back: not sent, and not resent unless asked.
    Capped(CapHit),
    /// Over the daily limit: it waits for the moving 24 hours to free up.
    Wait {
        /// When enough of the day's recipients fall out of the 24 hours for this send; `None`
        /// when that is not within the next 24 hours as far as the ledger tells.
        until: Option<DateTime<Utc>>,
    },
}

/// The cap that held a send back, and the sends that count against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CapHit {
    /// `2 marketing message(s) per 7d`.
    pub cap: String,
    /// The sends that count against it (their keys), the first few; this plan's own
    /// earlier sends included.
    pub against: Vec<String>,
    /// How many count against it.
    pub count: usize,
}

impl CapHit {
    /// `capped: 2 marketing message(s) per 7d (sent: c/once/91..., ...)`, as reports say it.
    pub(crate) fn text(&self) -> String {
        format!(
            "frequency cap of {}: {} already ({}{})",
            self.cap,
            self.count,
            self.against.join(", "),
            if self.count > self.against.len() {
                ", …"
            } else {
                ""
            }
        )
    }
}

/// Sends counting against a cap that a [`CapHit`] names.
const AGAINST_LISTED: usize = 5;

/// The daily budget as the plan shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct DailyBudget {
    pub limit: u64,
    /// Unique recipients (and blasts, at their estimate) the ledger counts in the last 24
    /// hours.
    pub used: u64,
    /// New recipients this plan sends to (recipients messaged in the last 24 hours already
    /// count once).
    pub needed: u64,
    /// Sends that wait for the 24 hours to free up.
    pub waiting: u64,
    /// Blasts planned without `limits.blast_estimate`: not counted.
    pub uncounted_blasts: u64,
}

/// The limits of one plan: the settings, the ledger's history, and the count of what the
/// plan admitted so far in the current pass.
#[derive(Debug)]
pub(crate) struct Budget {
    limits: Arc<Limits>,
    history: Arc<History>,
    now: DateTime<Utc>,
    pass: Mutex<Pass>,
}

/// What one pass over the plan admitted so far.
#[derive(Debug, Default)]
struct Pass {
    /// Sends admitted to each number in this pass (most numbers get one per plan).
    added: MobileMap<Own>,
    /// `CAMPAIGN/OCCURRENCE/` of the pass's own sends, by index.
    prefixes: Vec<String>,
    /// Numbers the daily limit counts, from the ledger, each with when it stops counting
    /// (its last send + 24 hours): computed once per pass, on first use.
    day: Option<Day>,
    daily: DailyBudget,
}

/// The sends a pass admitted to one number: where each came from (an index into
/// [`Pass::prefixes`]) and its category. Inline for one send: a million admitted sends take
/// no allocation of their own.
#[derive(Debug)]
enum Own {
    One(OwnSend),
    Many(Vec<OwnSend>),
}

/// One send of the pass: the index of its prefix in [`Pass::prefixes`], and its category.
type OwnSend = (u32, Option<&'static str>);

impl Own {
    fn push(&mut self, send: OwnSend) {
        match self {
            Own::One(first) => *self = Own::Many(vec![*first, send]),
            Own::Many(sends) => sends.push(send),
        }
    }

    fn sends(&self) -> &[OwnSend] {
        match self {
            Own::One(send) => std::slice::from_ref(send),
            Own::Many(sends) => sends,
        }
    }
}

#[derive(Debug, Default)]
struct Day {
    counted: MobileMap<i64>,
    /// When each counted number (and blast) stops counting, earliest first: a waiting send
    /// goes when enough of them have.
    frees: Vec<i64>,
}

impl Budget {
    pub(crate) fn new(limits: Arc<Limits>, history: Arc<History>, now: DateTime<Utc>) -> Budget {
        Budget {
            limits,
            history,
            now,
            pass: Mutex::default(),
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(crate) fn shared_limits(&self) -> Arc<Limits> {
        self.limits.clone()
    }

    /// Starts a pass over the plan: nothing admitted yet.
    pub(crate) fn reset(&self) {
        *self.pass() = Pass::default();
    }

    fn pass(&self) -> std::sync::MutexGuard<'_, Pass> {
        self.pass.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The daily budget of the current pass so far (after a whole pass: the plan's).
    pub(crate) fn daily(&self) -> Option<DailyBudget> {
        let limit = self.limits.daily_recipients?;
        let mut pass = self.pass();
        let used = self.day(&mut pass).frees.len() as u64;
        Some(DailyBudget {
            limit,
            used,
            ..pass.daily
        })
    }

    /// Decides whether the send `key` to `mobile` (`None`: a blast) of a template of
    /// `category` may go now, and counts it if so.
    pub(crate) fn admit(
        &self,
        key: &str,
        mobile: Option<Mobile>,
        category: Option<&'static str>,
    ) -> Admission {
        if !self.limits.any() {
            return Admission::Send;
        }
        let mut pass = self.pass();
        if let Some(mobile) = mobile
            && let Some(hit) = self.capped(&pass, mobile, category)
        {
            return Admission::Capped(hit);
        }
        if let Some(limit) = self.limits.daily_recipients {
            let day = self.day(&mut pass);
            let used = day.frees.len() as u64;
            let (new, units) = match mobile {
                Some(m) => (
                    !day.counted.contains_key(&m) && !pass.added.contains_key(&m),
                    1,
                ),
                None => match self.limits.blast_estimate {
                    Some(estimate) => (true, estimate),
                    None => {
                        pass.daily.uncounted_blasts += 1;
                        (false, 0)
                    }
                },
            };
            if new {
                let total = used + pass.daily.needed + pass.daily.waiting + units;
                if used + pass.daily.needed + units > limit {
                    // It can go once `over` of the counted sends have left the 24 hours:
                    // the ledger's first, then this plan's own (24 hours from now).
                    let over = total.saturating_sub(limit) as usize;
                    let day = pass.day.as_ref().expect("computed above");
                    let until = if over <= day.frees.len() {
                        day.frees.get(over.saturating_sub(1)).copied()
                    } else if over <= day.frees.len() + pass.daily.needed as usize {
                        Some((self.now + TimeDelta::hours(24)).timestamp())
                    } else {
                        None
                    };
                    pass.daily.waiting += units;
                    return Admission::Wait {
                        until: until.and_then(|t| DateTime::from_timestamp(t, 0)),
                    };
                }
                pass.daily.needed += units;
            }
        }
        if let Some(mobile) = mobile {
            // The key is `CAMPAIGN/OCCURRENCE/NUMBER`: its prefix is kept once.
            let prefix = key.rsplit_once('/').map_or("", |(prefix, _)| prefix);
            let index = match pass.prefixes.last() {
                Some(last) if last == prefix => pass.prefixes.len() - 1,
                _ => match pass.prefixes.iter().position(|p| p == prefix) {
                    Some(i) => i,
                    None => {
                        pass.prefixes.push(prefix.to_owned());
                        pass.prefixes.len() - 1
                    }
                },
            } as u32;
            match pass.added.entry(mobile) {
                Entry::Occupied(mut own) => own.get_mut().push((index, category)),
                Entry::Vacant(slot) => {
                    slot.insert(Own::One((index, category)));
                }
            }
        }
        Admission::Send
    }

    /// The first cap that the send to `mobile` would go over, with what counts against it.
    fn capped(&self, pass: &Pass, mobile: Mobile, category: Option<&str>) -> Option<CapHit> {
        let history = self.history.of(mobile);
        let added = pass.added.get(&mobile).map_or(&[][..], Own::sends);
        for cap in self.limits.caps.iter().filter(|c| c.counts(category)) {
            let from = (self.now - cap.per).timestamp();
            let mut against: Vec<String> = Vec::new();
            let mut count = 0;
            for past in history {
                if past.at > from && cap.counts(self.history.category_of(past.category)) {
                    count += 1;
                    if against.len() < AGAINST_LISTED {
                        against.push(self.history.key(past, mobile));
                    }
                }
            }
            for (prefix, c) in added {
                if cap.counts(*c) {
                    count += 1;
                    if against.len() < AGAINST_LISTED {
                        against.push(format!("{}/{mobile}", pass.prefixes[*prefix as usize]));
                    }
                }
            }
            if count >= cap.max as usize {
                return Some(CapHit {
                    cap: cap.describe(),
                    against,
                    count,
                });
            }
        }
        None
    }

    /// The numbers the daily limit counts from the ledger: messaged in the last 24 hours.
    fn day<'p>(&self, pass: &'p mut Pass) -> &'p Day {
        pass.day.get_or_insert_with(|| {
            let from = (self.now - TimeDelta::hours(24)).timestamp();
            let mut counted: MobileMap<i64> = MobileMap::default();
            for (mobile, sends) in self.history.each_number() {
                if let Some(last) = sends.iter().map(|p| p.at).filter(|at| *at > from).max() {
                    counted.insert(mobile, last + 24 * 3600);
                }
            }
            let mut frees: Vec<i64> = counted.values().copied().collect();
            let blast = self.limits.blast_estimate.unwrap_or(0);
            for at in self.history.blasts.iter().filter(|at| **at > from) {
                frees.extend(std::iter::repeat_n(at + 24 * 3600, blast as usize));
            }
            frees.sort_unstable();
            Day { counted, frees }
        })
    }

    /// The caps, for reports.
    pub(crate) fn caps(&self) -> &[Cap] {
        &self.limits.caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-12-07T12:00:00Z";

    fn now() -> DateTime<Utc> {
        NOW.parse().unwrap()
    }

    fn number(n: u64) -> Mobile {
        Mobile::from_digits(&(919_000_000_000 + n).to_string()).unwrap()
    }

    /// A send to number `n`, `hours_ago` before [`NOW`].
    /// A send to number `n`, `hours_ago` before [`NOW`]: `(campaign, number, at, category)`.
    fn past(
        campaign: &'static str,
        n: u64,
        hours_ago: i64,
        category: Option<&'static str>,
    ) -> (&'static str, String, DateTime<Utc>, Option<&'static str>) {
        (
            campaign,
            number(n).to_string(),
            now() - TimeDelta::hours(hours_ago),
            category,
        )
    }

    type Past = (&'static str, String, DateTime<Utc>, Option<&'static str>);

    fn budget(limits: Limits, sends: Vec<Past>) -> Budget {
        let mut history = History::default();
        for (campaign, recipient, at, category) in &sends {
            let recipient = if *campaign == "blast" {
                "blast"
            } else {
                recipient
            };
            history.add(Messaged {
                campaign,
                occurrence: "once",
                recipient,
                category: *category,
                at: *at,
            });
        }
        history.sort();
        Budget::new(Arc::new(limits), Arc::new(history), now())
    }

    fn at(hours: i64) -> Option<DateTime<Utc>> {
        Some(now() + TimeDelta::hours(hours))
    }

    #[test]
    fn the_daily_limit_counts_unique_recipients_and_says_when_each_wait_ends() {
        let b = budget(
            Limits {
                daily_recipients: Some(3),
                ..Limits::default()
            },
            vec![
                past("a", 1, 2, None),
                past("a", 2, 23, None),
                past("b", 1, 5, None),
                // Outside the 24 hours.
                past("a", 3, 25, None),
            ],
        );
        let admit = |n: u64| b.admit(&format!("c/once/{}", number(n)), Some(number(n)), None);
        for pass in 0..2 {
            b.reset();
            // Messaged in the last 24 hours already: free.
            assert_eq!(admit(1), Admission::Send, "pass {pass}");
            // The third of three.
            assert_eq!(admit(4), Admission::Send);
            // Number 2 leaves the 24 hours in 1 hour, number 1 in 22 (its last send).
            assert_eq!(admit(5), Admission::Wait { until: at(1) });
            assert_eq!(admit(6), Admission::Wait { until: at(22) });
            // Then number 4, admitted now, in 24 hours; after that nothing is known.
            assert_eq!(admit(7), Admission::Wait { until: at(24) });
            assert_eq!(admit(8), Admission::Wait { until: None });
            // A number admitted in this pass is free the second time.
            assert_eq!(admit(4), Admission::Send);
            assert_eq!(
                b.daily(),
                Some(DailyBudget {
                    limit: 3,
                    used: 2,
                    needed: 1,
                    waiting: 4,
                    uncounted_blasts: 0,
                })
            );
        }
    }

    #[test]
    fn blasts_count_at_their_estimate_or_are_reported_uncounted() {
        let limits = Limits {
            daily_recipients: Some(100),
            ..Limits::default()
        };
        let blast = |b: &Budget| b.admit("b/once/blast", None, None);
        let unknown = budget(limits.clone(), vec![]);
        assert_eq!(blast(&unknown), Admission::Send);
        assert_eq!(unknown.daily().unwrap().uncounted_blasts, 1);

        // A blast's row has `blast` for its recipient.
        let sent_blast = past("blast", 0, 3, None);
        let estimated = budget(
            Limits {
                blast_estimate: Some(60),
                ..limits
            },
            vec![sent_blast],
        );
        // 60 from the blast sent 3 hours ago: another 60 would be 120.
        assert_eq!(blast(&estimated), Admission::Wait { until: at(21) });
        assert_eq!(
            estimated.admit("c/once/1", Some(number(1)), None),
            Admission::Send
        );
        let daily = estimated.daily().unwrap();
        assert_eq!((daily.used, daily.needed, daily.waiting), (60, 1, 60));
    }

    #[test]
    fn a_cap_counts_the_ledger_and_the_plan_by_category_and_names_what_counts() {
        let cap = |max, days, category| Cap {
            max,
            per: TimeDelta::days(days),
            per_text: format!("{days}d"),
            category,
            pos: Default::default(),
        };
        let b = budget(
            Limits {
                caps: vec![cap(2, 7, Some("marketing")), cap(5, 1, None)],
                ..Limits::default()
            },
            vec![
                past("promo", 1, 24, Some("marketing")),
                past("sale", 1, 48, Some("marketing")),
                // Older than 7 days.
                past("old", 2, 8 * 24, Some("marketing")),
                past("promo", 2, 24, Some("marketing")),
                past("receipt", 2, 2, Some("utility")),
            ],
        );
        let key = |c: &str, n: u64| format!("{c}/once/{}", number(n));
        let send = |c: &str, n: u64, category| b.admit(&key(c, n), Some(number(n)), category);
        b.reset();
        assert_eq!(
            send("news", 1, Some("marketing")),
            Admission::Capped(CapHit {
                cap: "2 marketing message(s) per 7d".to_owned(),
                // Oldest first.
                against: vec![key("sale", 1), key("promo", 1)],
                count: 2,
            })
        );
        // Another category is not counted by the marketing cap.
        assert_eq!(send("news", 1, Some("utility")), Admission::Send);
        assert_eq!(send("news", 2, Some("marketing")), Admission::Send);
        // The plan's own send counts against the next campaign's.
        assert_eq!(
            send("later", 2, Some("marketing")),
            Admission::Capped(CapHit {
                cap: "2 marketing message(s) per 7d".to_owned(),
                against: vec![key("promo", 2), key("news", 2)],
                count: 2,
            })
        );
        // Without a catalogue a send has no category: only the cap of every category
        // counts it (and counts every send).
        for i in 0..3 {
            assert_eq!(send(&format!("x{i}"), 2, None), Admission::Send);
        }
        let Admission::Capped(hit) = send("x3", 2, None) else {
            panic!("not capped");
        };
        assert_eq!((hit.cap.as_str(), hit.count), ("5 message(s) per 1d", 5));
        assert!(
            hit.text()
                .starts_with("frequency cap of 5 message(s) per 1d: 5 already (")
        );
    }
}
