//! The requests a backend's writer commits in groups, and their answers: shared by the
//! backends that group writes (SQLite's writer thread, PostgreSQL's writer task), so that both
//! answer each caller only after its group has committed, in the same way.

use tokio::sync::oneshot;

use crate::{
    Destination, LeaseRef, Leased, MessageId, Millis, MoPart, MoPartStored, NewMessage, Outcome,
    ReverseMapping, Selection, SpoolError, Submission,
};

pub(crate) enum Request {
    Enqueue(NewMessage, oneshot::Sender<Result<MessageId, SpoolError>>),
    Lease(
        Destination,
        Millis,
        usize,
        oneshot::Sender<Result<Leased, SpoolError>>,
    ),
    Record(
        Vec<(LeaseRef, Outcome)>,
        oneshot::Sender<Result<(), SpoolError>>,
    ),
    Mapping(ReverseMapping, oneshot::Sender<Result<(), SpoolError>>),
    Submissions(Vec<Submission>, oneshot::Sender<Result<(), SpoolError>>),
    MoPart(MoPart, oneshot::Sender<Result<MoPartStored, SpoolError>>),
    MoDone(
        String,
        Vec<u32>,
        bool,
        oneshot::Sender<Result<(), SpoolError>>,
    ),
    MoStale(
        Millis,
        Millis,
        oneshot::Sender<Result<Vec<Vec<MoPart>>, SpoolError>>,
    ),
    /// Due time, and the destination to move the recipients to (reroute), if any.
    Reschedule(
        Selection,
        Millis,
        Option<Destination>,
        oneshot::Sender<Result<Vec<Destination>, SpoolError>>,
    ),
}

/// What a request produced, held back until its transaction has committed.
pub(crate) enum Produced {
    Enqueue(Result<MessageId, SpoolError>),
    Lease(Result<Leased, SpoolError>),
    Unit(Result<(), SpoolError>),
    Destinations(Result<Vec<Destination>, SpoolError>),
    MoPart(Result<MoPartStored, SpoolError>),
    MoParts(Result<Vec<Vec<MoPart>>, SpoolError>),
}

impl Produced {
    pub(crate) fn is_ok(&self) -> bool {
        match self {
            Produced::Enqueue(r) => r.is_ok(),
            Produced::Lease(r) => r.is_ok(),
            Produced::Unit(r) => r.is_ok(),
            Produced::Destinations(r) => r.is_ok(),
            Produced::MoPart(r) => r.is_ok(),
            Produced::MoParts(r) => r.is_ok(),
        }
    }

    /// The answer to `req` when its group could not commit.
    pub(crate) fn failed(req: &Request, e: &SpoolError) -> Produced {
        let e = || SpoolError::Storage(e.to_string());
        match req {
            Request::Enqueue(..) => Produced::Enqueue(Err(e())),
            Request::Lease(..) => Produced::Lease(Err(e())),
            Request::Reschedule(..) => Produced::Destinations(Err(e())),
            Request::MoPart(..) => Produced::MoPart(Err(e())),
            Request::MoStale(..) => Produced::MoParts(Err(e())),
            _ => Produced::Unit(Err(e())),
        }
    }
}

/// Sends a request's result to whoever asked.
pub(crate) fn answer(req: Request, produced: Produced) {
    match (req, produced) {
        (Request::Enqueue(_, tx), Produced::Enqueue(r)) => drop(tx.send(r)),
        (Request::Lease(.., tx), Produced::Lease(r)) => drop(tx.send(r)),
        (Request::Reschedule(.., tx), Produced::Destinations(r)) => drop(tx.send(r)),
        (Request::MoPart(_, tx), Produced::MoPart(r)) => drop(tx.send(r)),
        (Request::MoStale(.., tx), Produced::MoParts(r)) => drop(tx.send(r)),
        (
            Request::Record(_, tx)
            | Request::Mapping(_, tx)
            | Request::Submissions(_, tx)
            | Request::MoDone(.., tx),
            Produced::Unit(r),
        ) => {
            if let Err(Err(e)) = tx.send(r) {
                // A write whose caller did not wait for the answer (see `write`).
                tracing::error!(error = %e, "spool write failed");
            }
        }
        // `execute` answers each kind of request with its own kind of result.
        _ => tracing::error!("spool request answered with another request's result"),
    }
}
