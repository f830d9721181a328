//! The booking dialogue without an LLM: what the bot says and which seat
//! tools it asks for, turn by turn.
//!
//! * [`slots`] reads one utterance (Korean or English) into booking slots and
//!   a dialogue act, resolving relative dates against the cinema's clock.
//! * [`policy`] is the state machine: given the conversation's
//!   [`policy::State`] (carried by the caller as opaque JSON), the new
//!   utterance or the results of the tools it asked for, it returns the reply
//!   (text, read-aloud speech, quick replies), the tool calls to run, and the
//!   next state.
//! * [`lexicon`] holds the movie and theater names the caller knows.
//!
//! The crate is pure: no I/O, no clock, no randomness. The caller (model-svc)
//! supplies `now`, the names and the tool results, and runs nothing itself.

pub mod eval;
pub mod lexicon;
pub mod policy;
pub mod slots;
pub mod text;

pub use crate::lexicon::Lexicon;
pub use crate::slots::{Act, Party, Position, SeatClass, Slots, TimeSpec, Utterance, extract};
