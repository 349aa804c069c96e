//! The workers: one long-lived task per request slot, each sending one claimed send at a
//! time with its retries.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, Semaphore, mpsc, watch};

use super::executor::Executor;
use super::outcome::{Attempt, Outcome};
use super::report::StopReason;
use hyper::body::Bytes;

use crate::campaign::Kind;
use crate::campaign::mobile::Mobile;
use crate::ledger::{Finished, Status};

/// A claimed send on its way out.
pub(super) struct Job {
    pub(super) key: String,
    pub(super) kind: Kind,
    pub(super) mobile: Option<Mobile>,
    /// The exact request body, built once per send (shared by every attempt).
    pub(super) body: Bytes,
    /// The status it was claimed from (`None`: a new row).
    pub(super) previous: Option<Status>,
}

/// Jobs for the workers, first in first out. The dispatcher queues a job only once it has
/// its request slot, so an idle worker is there to take it.
#[derive(Default)]
pub(super) struct JobQueue {
    jobs: Mutex<VecDeque<Job>>,
    added: Notify,
    closed: AtomicBool,
}

impl JobQueue {
    pub(super) fn push(&self, job: Job) {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(job);
        self.added.notify_one();
    }

    /// The next job; `None` once the queue is closed and empty.
    async fn next(&self) -> Option<Job> {
        loop {
            // Registered before looking, so a push or close in between still wakes us.
            let added = self.added.notified();
            tokio::pin!(added);
            added.as_mut().enable();
            if let Some(job) = self
                .jobs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front()
            {
                return Some(job);
            }
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            added.await;
        }
    }

    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.added.notify_waiters();
    }

    pub(super) fn take_all(&self) -> Vec<Job> {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect()
    }
}

/// A worker: sends the queued jobs one at a time until the queue closes. Long-lived workers,
/// not a task per send: spawning one costs more than the rest of the dispatch.
pub(super) async fn work(
    executor: Arc<Executor>,
    queue: Arc<JobQueue>,
    done: mpsc::UnboundedSender<Outcome>,
    mut stop: watch::Receiver<Option<StopReason>>,
) {
    while let Some(job) = queue.next().await {
        let mut delivering = Delivering {
            job,
            reported: false,
            done: &done,
            slots: &executor.slots,
        };
        let outcome = executor.deliver(&delivering.job, &mut stop).await;
        delivering.reported = true;
        let _ = done.send(outcome);
    }
}

/// A send on its way out, holding a request slot. Dropped before its outcome was reported
/// (the drain timed out and the worker was aborted), it reports the send `unknown`: the
/// request may or may not have reached the API. Either way the slot is given back.
struct Delivering<'a> {
    job: Job,
    reported: bool,
    done: &'a mpsc::UnboundedSender<Outcome>,
    slots: &'a Semaphore,
}

impl Drop for Delivering<'_> {
    fn drop(&mut self) {
        if !self.reported {
            let _ = self.done.send(Outcome::Finished {
                finished: Finished {
                    key: std::mem::take(&mut self.job.key),
                    status: Status::Unknown,
                    attempts: 1,
                    http_status: None,
                    response: None,
                    error: Some("the run stopped while this request was in flight; it may or may not have been sent".to_owned()),
                },
                retries: 0,
                stops_run: false,
            });
        }
        self.slots.add_permits(1);
    }
}

impl Executor {
    /// One send, with retries; never fails, the outcome says what happened.
    async fn deliver(&self, job: &Job, stop: &mut watch::Receiver<Option<StopReason>>) -> Outcome {
        let retry = self.settings.retry;
        let url = self.endpoints.url(job.kind);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = self
                .client
                .post_json(url, self.key.header(), job.body.clone())
                .await;
            let attempt = match result {
                Ok(response) => Attempt::from_response(response, &self.pacer),
                Err(e) => Attempt::from_error(&e),
            };
            let finished = |attempt: Attempt| Outcome::Finished {
                finished: Finished {
                    key: job.key.clone(),
                    status: attempt.status,
                    attempts,
                    http_status: attempt.http_status,
                    response: attempt.response,
                    error: attempt.error,
                },
                retries: (attempts - 1) as usize,
                stops_run: attempt.stops_run,
            };
            if attempts >= retry.max_attempts || !attempt.retryable {
                return finished(attempt);
            }
            let wait = retry.delay(attempts, attempt.retry_after);
            let stopped = stop.borrow().is_some()
                || tokio::select! {
                    _ = tokio::time::sleep(wait) => false,
                    _ = stop.changed() => true,
                };
            if stopped {
                // No new request after a stop. A send known not to have been delivered is
                // put back for the next run; anything else is recorded as it stands.
                return if attempt.not_delivered {
                    Outcome::Released {
                        key: job.key.clone(),
                        previous: job.previous,
                    }
                } else {
                    finished(attempt)
                };
            }
        }
    }
}
