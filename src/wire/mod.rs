//! The wire format (docs/contract.md#messages): the request envelope and the replies.

mod envelope;
mod reply;

pub use envelope::{decode_object, decode_request, DecodeError, Envelope, Request};
pub use reply::{ErrorReply, ScoreReply};
