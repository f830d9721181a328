//! Marquee's gRPC contract, generated from `proto/marquee/v1/*.proto`.
//!
//! This crate holds generated code and the limits both sides of the contract
//! enforce: no domain logic. Each service adapts these types to its own
//! domain types in one module.

/// Longest `AnswerRequest.text`, in characters (Unicode
/// scalar values, what `str::chars` counts). The gateway refuses a longer
/// chat with `bad_request` and model-svc answers `INVALID_ARGUMENT`: one
/// limit, one unit, on both sides.
pub const MAX_CHAT_TEXT_CHARS: usize = 2000;

/// Package `marquee.v1`: the model service contract.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("marquee.v1");

    /// The encoded file descriptor set, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("marquee_v1_descriptor");
}
