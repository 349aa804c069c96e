//! The ledger writer of a run: every claim, put-back and outcome goes through it, and it
//! commits whatever has queued up while its last transaction ran in one go (group commit):
//! one claim transaction, with its disk flush, for every send that is ready to go. A send
//! waits for its own claim to commit before its request is written, so the rows `in_flight`
//! are the requests in flight, and after a crash no more than those become `unknown`.
//! The opt-out an answer asked for (WhatsApp's 131050) is recorded right after its outcome,
//! in the same round.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::report::StopReason;
use crate::ledger::{Claim, Finished, LedgerError, NewSend, OptOut, SharedLedger, Status};

/// Most writes committed in one go.
const MAX_BATCH: usize = 1024;

/// After the run, outcomes the ledger could not take are tried again this often (seconds).
const LAST_TRIES: [u64; 5] = [1, 2, 4, 8, 8];

/// A handle on the writer; the writer stops when every handle is gone.
#[derive(Clone)]
pub(super) struct Committer {
    writes: mpsc::UnboundedSender<Write>,
}

enum Write {
    Claim(NewSend, oneshot::Sender<Result<Claim, String>>),
    /// Puts a claimed row back as it was (deleted when it was new).
    Release(String, Option<Status>, Option<oneshot::Sender<bool>>),
    Finish(Outcome, Option<oneshot::Sender<bool>>),
}

/// An outcome, and the opt-out its answer asked for.
type Outcome = (Finished, Option<OptOut>);

/// Writes that did not reach the ledger by the end of the run: their rows stay
/// `in_flight` and become `unknown` when the ledger is next opened.
pub(super) struct Unwritten {
    pub outcomes: usize,
    pub releases: usize,
    /// The numbers of the opt-outs not recorded (with their outcomes, or after them).
    pub optouts: Vec<String>,
}

impl Committer {
    /// Starts the writer. `retry`: the statuses a claim may take a row from.
    pub(super) fn start(
        ledger: SharedLedger,
        retry: Vec<Status>,
        stop: watch::Sender<Option<StopReason>>,
    ) -> (Committer, tokio::task::JoinHandle<Unwritten>) {
        let (writes, queue) = mpsc::unbounded_channel();
        let writer = Writer {
            ledger,
            retry,
            stop,
            finishes: Vec::new(),
            releases: Vec::new(),
            optouts: Vec::new(),
            lost: 0,
            lost_optouts: Vec::new(),
        };
        (Committer { writes }, tokio::spawn(writer.run(queue)))
    }

    /// Commits `send` as `in_flight`: `Claimed` when this run may send it, `Taken` when
    /// another run recorded it first. An error when the ledger failed (nothing is sent).
    pub(super) async fn claim(&self, send: NewSend) -> Result<Claim, String> {
        let (done, claimed) = oneshot::channel();
        if self.writes.send(Write::Claim(send, done)).is_err() {
            return Err("the ledger writer stopped".to_owned());
        }
        claimed
            .await
            .unwrap_or_else(|_| Err("the ledger writer stopped".to_owned()))
    }

    /// Puts a claim back (its request was not written); true once committed.
    pub(super) async fn release(&self, key: String, previous: Option<Status>) -> bool {
        let (done, written) = oneshot::channel();
        let _ = self.writes.send(Write::Release(key, previous, Some(done)));
        written.await.unwrap_or(false)
    }

    /// Records an outcome, and then the opt-out its answer asked for; true once the outcome
    /// is committed (false: it is kept and tried again).
    pub(super) async fn finish(&self, finished: Finished, optout: Option<OptOut>) -> bool {
        let (done, written) = oneshot::channel();
        let _ = self
            .writes
            .send(Write::Finish((finished, optout), Some(done)));
        written.await.unwrap_or(false)
    }

    /// [`Committer::release`] and [`Committer::finish`] for a send whose task is being
    /// dropped: queued, not waited for.
    pub(super) fn release_later(&self, key: String, previous: Option<Status>) {
        let _ = self.writes.send(Write::Release(key, previous, None));
    }

    pub(super) fn finish_later(&self, finished: Finished) {
        let _ = self.writes.send(Write::Finish((finished, None), None));
    }
}

/// A put-back: the key, and the status to put its row back to (`None`: delete it).
type Release = (String, Option<Status>);

/// Answered with whether the write was committed (`None`: nobody waits for it).
type Done = Option<oneshot::Sender<bool>>;

struct Writer {
    ledger: SharedLedger,
    retry: Vec<Status>,
    stop: watch::Sender<Option<StopReason>>,
    /// Outcomes and put-backs not committed yet (queued, or refused by the ledger).
    finishes: Vec<(Outcome, Done)>,
    releases: Vec<(Release, Done)>,
    /// Opt-outs whose outcomes were committed, and which the ledger then refused.
    optouts: Vec<OptOut>,
    /// Writes lost with a ledger call that panicked.
    lost: usize,
    /// The numbers of the opt-outs lost so.
    lost_optouts: Vec<String>,
}

impl Writer {
    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<Write>) -> Unwritten {
        let mut claims = Vec::new();
        while let Some(first) = queue.recv().await {
            self.take(first, &mut claims);
            while claims.len() + self.finishes.len() + self.releases.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(write) => self.take(write, &mut claims),
                    Err(_) => break,
                }
            }
            self.commit(std::mem::take(&mut claims)).await;
        }
        // The ledger may come back: a few more tries for what it refused.
        for wait in LAST_TRIES {
            if self.finishes.is_empty() && self.releases.is_empty() && self.optouts.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(wait)).await;
            self.commit(Vec::new()).await;
        }
        let mut optouts = self.lost_optouts;
        optouts.extend(self.optouts.into_iter().map(|o| o.mobile));
        optouts.extend(
            self.finishes
                .iter()
                .filter_map(|((_, o), _)| o.as_ref().map(|o| o.mobile.clone())),
        );
        Unwritten {
            outcomes: self.finishes.len() + self.lost,
            releases: self.releases.len(),
            optouts,
        }
    }

    fn take(
        &mut self,
        write: Write,
        claims: &mut Vec<(NewSend, oneshot::Sender<Result<Claim, String>>)>,
    ) {
        match write {
            Write::Claim(send, done) => claims.push((send, done)),
            Write::Release(key, previous, done) => self.releases.push(((key, previous), done)),
            Write::Finish(finished, done) => self.finishes.push((finished, done)),
        }
    }

    /// One round: outcomes (and then their opt-outs) and put-backs first (a put-back must
    /// land before a later claim of the same key), then the claims. A refused outcome,
    /// opt-out or put-back is kept for the next round and stops the run: nothing is sent
    /// that cannot be recorded.
    async fn commit(&mut self, claims: Vec<(NewSend, oneshot::Sender<Result<Claim, String>>)>) {
        if !(self.finishes.is_empty() && self.optouts.is_empty() && self.releases.is_empty()) {
            self.commit_outcomes().await;
        }
        if !claims.is_empty() {
            self.commit_claims(claims).await;
        }
    }

    /// Outcomes, their opt-outs and put-backs: written without a disk flush, in a ledger
    /// call of their own so that their tasks (and request slots) need not wait for the
    /// claims' flush. Answered from this task, not from the ledger's thread: a task woken
    /// from another thread costs the runtime a system call, one per send.
    async fn commit_outcomes(&mut self) {
        let (outcomes, finish_done): (Vec<Outcome>, Vec<_>) =
            std::mem::take(&mut self.finishes).into_iter().unzip();
        let (finishes, mut asked): (Vec<Finished>, Vec<Option<OptOut>>) =
            outcomes.into_iter().unzip();
        let mut optouts = std::mem::take(&mut self.optouts);
        let (releases, release_done): (Vec<Release>, Vec<_>) =
            std::mem::take(&mut self.releases).into_iter().unzip();
        let (finish_count, release_count) = (finish_done.len(), release_done.len());
        // The numbers of the opt-outs this round holds, said if the call loses them.
        let lost_optouts: Vec<String> = optouts
            .iter()
            .chain(asked.iter().flatten())
            .map(|o| o.mobile.clone())
            .collect();
        let written = self
            .ledger
            .call(move |ledger| {
                let finished = match finishes.is_empty() {
                    true => Ok(()),
                    false => ledger.finish(&finishes),
                };
                // The opt-outs of the outcomes just written (those of refused outcomes wait
                // with them).
                if finished.is_ok() {
                    optouts.extend(asked.iter_mut().filter_map(Option::take));
                }
                let opted = match optouts.is_empty() {
                    true => Ok(()),
                    false => ledger.add_optouts(&optouts).map(drop),
                };
                let released = match releases.is_empty() {
                    true => Ok(()),
                    false => ledger.release(&releases),
                };
                Ok((
                    (finished, finishes.into_iter().zip(asked).collect()),
                    (opted, optouts),
                    (released, releases),
                ))
            })
            .await;
        let ((finished, outcomes), (opted, optouts), (released, releases)) = match written {
            Ok(written) => written,
            Err(e) => {
                // The ledger call itself failed (it panicked): what it held is lost, and
                // those rows stay as the ledger has them.
                self.lost += finish_count + release_count;
                self.lost_optouts.extend(lost_optouts);
                self.stop_for(&e);
                return;
            }
        };
        self.settle(finished, outcomes, finish_done, Writer::keep_finish);
        if let Err(e) = opted {
            self.stop_for(&e);
            self.optouts = optouts;
        }
        self.settle(released, releases, release_done, Writer::keep_release);
    }

    /// Claims, committed with a disk flush before any of their requests is written.
    async fn commit_claims(
        &mut self,
        claims: Vec<(NewSend, oneshot::Sender<Result<Claim, String>>)>,
    ) {
        let (sends, claim_done): (Vec<NewSend>, Vec<_>) = claims.into_iter().unzip();
        let retry = self.retry.clone();
        let written = self
            .ledger
            .call(move |ledger| Ok((ledger.claim(&sends, &retry), sends)))
            .await;
        match written {
            Ok((Ok(claims), sends)) => {
                for ((claim, done), send) in claims.into_iter().zip(claim_done).zip(sends) {
                    if let Err(Ok(Claim::Claimed(previous))) = done.send(Ok(claim)) {
                        // Its task is gone (the run stopped): the claim goes back.
                        self.releases.push(((send.key, previous), None));
                    }
                }
            }
            Ok((Err(e), _)) | Err(e) => {
                self.stop_for(&e);
                for done in claim_done {
                    let _ = done.send(Err(e.to_string()));
                }
            }
        }
    }

    /// Answers the writes of one kind: those the ledger took are done; those it refused are
    /// kept for the next round (and their tasks told to move on).
    fn settle<T>(
        &mut self,
        result: Result<(), LedgerError>,
        items: Vec<T>,
        done: Vec<Done>,
        keep: fn(&mut Writer, T, Done),
    ) {
        match result {
            Ok(()) => {
                for done in done.into_iter().flatten() {
                    let _ = done.send(true);
                }
            }
            Err(e) => {
                self.stop_for(&e);
                for (item, done) in items.into_iter().zip(done) {
                    // The task waiting for it moves on; the write stays queued.
                    if let Some(done) = done {
                        let _ = done.send(false);
                    }
                    keep(self, item, None);
                }
            }
        }
    }

    fn keep_finish(&mut self, outcome: Outcome, done: Done) {
        self.finishes.push((outcome, done));
    }

    fn keep_release(&mut self, release: Release, done: Done) {
        self.releases.push((release, done));
    }

    fn stop_for(&self, error: &LedgerError) {
        self.stop.send_if_modified(|reason| match reason {
            Some(StopReason::LedgerFailed(_)) => false,
            _ => {
                *reason = Some(StopReason::LedgerFailed(error.to_string()));
                true
            }
        });
    }
}
