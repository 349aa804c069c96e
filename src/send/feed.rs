//! The executor's input: due sends, each built into its ledger row and request body on the
//! planning thread, handed over in chunks.

use hyper::body::Bytes;
use tokio::sync::mpsc;

use crate::api::body_hash;
use crate::campaign::Kind;
use crate::campaign::mobile::Mobile;
use crate::ledger::NewSend;
use crate::plan::{PlannedSend, SendItem};

/// A due send as the executor takes it: the ledger row to claim and the request body, built
/// by whoever produces the sends, on its own thread: rendering, serialising and hashing
/// stay off the thread that sends.
pub(crate) struct Outgoing {
    pub(super) record: NewSend,
    pub(super) kind: Kind,
    pub(super) mobile: Option<Mobile>,
    pub(super) body: Bytes,
}

impl Outgoing {
    /// A send of a saved plan: its row and its exact body, as saved.
    pub(crate) fn saved(record: NewSend) -> Outgoing {
        let kind = if record.endpoint == Kind::Blast.as_str() {
            Kind::Blast
        } else {
            Kind::Single
        };
        let mobile = match kind {
            Kind::Single => Mobile::from_digits(&record.recipient),
            Kind::Blast => None,
        };
        Outgoing {
            body: Bytes::from(record.request.clone()),
            record,
            kind,
            mobile,
        }
    }

    /// A test send (`apply --to`): recorded as a test, which no limit counts.
    pub(crate) fn test(send: PlannedSend) -> Outgoing {
        let mut outgoing = Outgoing::new(send);
        outgoing.record.test = true;
        outgoing
    }

    /// Its ledger row, for a send that is recorded without being sent (capped, missed).
    pub(crate) fn into_record(self) -> NewSend {
        self.record
    }

    pub(crate) fn new(send: PlannedSend) -> Outgoing {
        let body = send.body();
        let record = NewSend {
            campaign: send.campaign.name.clone(),
            file: send.campaign.file.to_string_lossy().into_owned(),
            occurrence: send.occurrence_text().to_owned(),
            endpoint: send.kind.as_str().to_owned(),
            request_hash: body_hash(&body),
            request: body,
            recipient: send.recipient,
            key: send.key,
            category: send.campaign.category().map(str::to_owned),
            test: false,
        };
        Outgoing {
            body: Bytes::from(record.request.clone()),
            record,
            kind: send.kind,
            mobile: send.mobile,
        }
    }
}

/// Sends travel to the executor in chunks of this many: one channel operation, and at most
/// one wake-up of the planning thread, per chunk rather than per send (the executor takes
/// them faster than they are planned, so the channel is mostly full).
const INPUT_CHUNK: usize = 64;

/// The executor's input: chunks of sends, about a thousand sends deep.
pub(crate) fn input() -> (mpsc::Sender<Vec<Outgoing>>, mpsc::Receiver<Vec<Outgoing>>) {
    mpsc::channel(1024 / INPUT_CHUNK)
}

/// Plans the due sends among `items` (rendering, building and hashing each request body)
/// and hands them to `input`. Runs on a planning thread of its own; returns when every send
/// was handed over or the run stopped.
pub(crate) fn feed(items: impl Iterator<Item = SendItem>, input: &mpsc::Sender<Vec<Outgoing>>) {
    feed_outgoing(
        items.filter_map(|item| match item {
            SendItem::Send(send) if send.due => Some(Outgoing::new(send)),
            _ => None,
        }),
        input,
    );
}

/// Hands sends built already (a saved plan's) to `input`, in chunks.
pub(crate) fn feed_outgoing(
    sends: impl Iterator<Item = Outgoing>,
    input: &mpsc::Sender<Vec<Outgoing>>,
) {
    let mut chunk = Vec::with_capacity(INPUT_CHUNK);
    for send in sends {
        chunk.push(send);
        if chunk.len() == INPUT_CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(INPUT_CHUNK));
            if input.blocking_send(full).is_err() {
                return; // the run stopped
            }
        }
    }
    if !chunk.is_empty() {
        let _ = input.blocking_send(chunk);
    }
}
