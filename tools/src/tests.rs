//! The contract's own checks: names, the schemas against the argument
//! structs, and the exact JSON of calls and results.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;

/// A call of `tool` with every optional argument set.
fn full(tool: Tool) -> ToolCall {
    let hold = || HoldRef { showtime_id: "st".into(), hold_id: "h1".into() };
    match tool {
        Tool::FindShowtimes => ToolCall::FindShowtimes(FindShowtimes {
            movie_id: Some("m".into()),
            date: Some("2026-11-28".into()),
            theater_id: Some("t".into()),
        }),
        Tool::HoldBestAvailable => ToolCall::HoldBestAvailable(HoldBestAvailable {
            showtime_id: "st".into(),
            party_size: 2,
            class: Some(SeatClass::Wheelchair),
            position: Some(SeatPosition::LastRow),
            wheelchair: Some(1),
            tickets: Some(Tickets::from_counts([(TicketType::Disabled, 1), (TicketType::Adult, 1)])),
        }),
        Tool::ExtendHold => ToolCall::ExtendHold(hold()),
        Tool::ReleaseHold => ToolCall::ReleaseHold(hold()),
        Tool::ConfirmBooking => ToolCall::ConfirmBooking(hold()),
        Tool::CancelBooking => ToolCall::CancelBooking(BookingRef { booking_id: "bk1".into() }),
        Tool::ListBookings => ToolCall::ListBookings,
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn names_are_the_serde_names_and_round_trip() {
    let names: BTreeSet<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(names.len(), Tool::ALL.len());
    for tool in Tool::ALL {
        assert_eq!(serde_json::to_value(tool).unwrap(), json!(tool.name()));
        assert_eq!(Tool::from_name(tool.name()), Some(tool));
        assert_eq!(full(tool).tool(), tool);
    }
    assert_eq!(Tool::from_name("book_everything"), None);
}

#[test]
fn every_schema_matches_its_argument_struct() {
    let defs = definitions();
    let defs = defs.as_array().unwrap();
    assert_eq!(defs.len(), Tool::ALL.len());
    for (tool, def) in Tool::ALL.into_iter().zip(defs) {
        let f = &def["function"];
        assert_eq!(f["name"], json!(tool.name()));
        let params = &f["parameters"];
        assert_eq!(params["type"], json!("object"));
        // The schema names exactly the keys a full call serialises.
        let call = full(tool);
        assert_eq!(keys(&params["properties"]), keys(&call.arguments()), "{tool}");
        // Each required key is needed to parse; every other key may go.
        let required: BTreeSet<String> =
            params["required"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).collect();
        for key in keys(&call.arguments()) {
            let mut args = call.arguments();
            args.as_object_mut().unwrap().remove(&key);
            let parsed = ToolCall::parse(tool.name(), &args.to_string());
            assert_eq!(parsed.is_err(), required.contains(&key), "{tool}.{key}");
        }
        // A full call survives the trip through its JSON.
        assert_eq!(ToolCall::parse(tool.name(), &call.arguments_json()).unwrap(), call);
    }
    // The class enum is the seat classes' names.
    let hold = &defs[1]["function"]["parameters"]["properties"]["class"]["enum"];
    let classes: Vec<Value> =
        [SeatClass::Standard, SeatClass::Premium, SeatClass::Wheelchair].iter().map(|c| json!(c.as_str())).collect();
    assert_eq!(hold, &json!(classes));
    for c in [SeatClass::Standard, SeatClass::Premium, SeatClass::Wheelchair] {
        assert_eq!(serde_json::to_value(c).unwrap(), json!(c.as_str()));
    }
}

#[test]
fn arguments_are_the_documented_json() {
    let find = ToolCall::FindShowtimes(FindShowtimes { movie_id: Some("nsyn-11".into()), ..Default::default() });
    assert_eq!(find.arguments_json(), r#"{"movie_id":"nsyn-11"}"#);
    let hold = ToolCall::HoldBestAvailable(HoldBestAvailable::new("g1", 2, None));
    assert_eq!(hold.arguments_json(), r#"{"party_size":2,"showtime_id":"g1"}"#);
    let mut family = HoldBestAvailable::new("g1", 3, Some(SeatClass::Standard));
    family.position = Some(SeatPosition::LastRow);
    family.tickets =
        Some(Tickets::from_counts([(TicketType::Adult, 2), (TicketType::Child, 1), (TicketType::Teen, 0)]));
    assert_eq!(
        ToolCall::HoldBestAvailable(family).arguments_json(),
        r#"{"class":"standard","party_size":3,"position":"last_row","showtime_id":"g1","tickets":{"adult":2,"child":1}}"#
    );
    // The ticket types and positions in the schema are the enums' names.
    let defs = definitions();
    let props = &defs[1]["function"]["parameters"]["properties"];
    for t in TicketType::ALL {
        assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        assert!(props["tickets"]["properties"][t.as_str()].is_object(), "{t:?}");
    }
    for p in SeatPosition::ALL {
        assert_eq!(serde_json::to_value(p).unwrap(), json!(p.as_str()));
    }
    assert_eq!(props["position"]["enum"], json!(SeatPosition::ALL.map(SeatPosition::as_str)));
    let e = ToolCall::parse("hold_best_available", r#"{"showtime_id":"g1","party_size":1,"tickets":{"pensioner":1}}"#);
    assert_eq!(e.unwrap_err().code(), "bad_arguments");
    assert_eq!(ToolCall::ListBookings.arguments_json(), "{}");
    assert_eq!(ToolCall::parse("list_bookings", "").unwrap(), ToolCall::ListBookings);
    assert_eq!(ToolCall::parse("find_showtimes", " ").unwrap(), ToolCall::FindShowtimes(FindShowtimes::default()));
}

#[test]
fn bad_calls_are_named_errors() {
    let e = ToolCall::parse("drop_tables", "{}").unwrap_err();
    assert_eq!((e.code(), e.to_string().as_str()), ("unknown_tool", "no tool named \"drop_tables\""));
    let e = ToolCall::parse("hold_best_available", r#"{"showtime_id": "g1", "party_size": "two"}"#).unwrap_err();
    assert_eq!(e.code(), "bad_arguments");
    let e = ToolCall::parse("cancel_booking", "[1]").unwrap_err();
    assert_eq!(e.code(), "bad_arguments");
}

#[test]
fn results_parse_by_tool_and_write_sorted_keys() {
    let hold = r#"{"amount":30000,"expires_at":1,"extends_left":12,"hold_id":"h1","seats":["F7","F8"],"showtime":"g1","version":3}"#;
    let priced = r#"{"amount":24000,"expires_at":1,"extends_left":12,"hold_id":"h1","lines":[{"class":"standard","price":15000,"seat":"F7","ticket":"adult"},{"class":"standard","price":9000,"seat":"F8","ticket":"child"}],"seats":["F7","F8"],"showtime":"g1","tickets":{"adult":1,"child":1},"version":3}"#;
    let r = ToolResult::parse("hold_best_available", priced, false).unwrap();
    assert!(
        matches!(&r.outcome, Ok(ToolOutput::Hold(h)) if h.lines[1].ticket == TicketType::Child && h.tickets.get(TicketType::Adult) == 1)
    );
    assert_eq!(r.to_json(), priced);
    for name in ["hold_best_available", "extend_hold"] {
        let r = ToolResult::parse(name, hold, false).unwrap();
        assert!(matches!(&r.outcome, Ok(ToolOutput::Hold(h)) if h.hold_id == "h1" && h.amount == 30000));
        assert_eq!(r.to_json(), hold);
    }
    let booking = r#"{"amount":30000,"booking_id":"bk1-g1","created_at":5,"seats":["F7"],"showtime":"g1","status":"confirmed","user":"alice","version":4}"#;
    let r = ToolResult::parse("confirm_booking", booking, false).unwrap();
    assert_eq!(r.to_json(), booking);
    let list = format!(r#"{{"bookings":[{booking}]}}"#);
    assert_eq!(ToolResult::parse("list_bookings", &list, false).unwrap().to_json(), list);
    let released = r#"{"seats":["F7"],"version":5}"#;
    assert_eq!(ToolResult::parse("release_hold", released, false).unwrap().to_json(), released);
    let showtimes = r#"{"showtimes":[{"capacity":180,"free":100,"id":"g1","movie":"nsyn-11","prices":{"premium":20000,"standard":15000,"wheelchair":15000},"screen":"1","starts_at":"2026-11-28T19:00:00+09:00[Asia/Seoul]","theater":"gangnam","theater_name":"Gangnam","theater_name_ko":null,"title":"The Matrix","title_ko":"매트릭스"}]}"#;
    assert_eq!(ToolResult::parse("find_showtimes", showtimes, false).unwrap().to_json(), showtimes);
    let error = r#"{"error":"seats_unavailable","message":"taken","seats":["F7"]}"#;
    let r = ToolResult::parse("hold_best_available", error, true).unwrap();
    assert!(r.is_error());
    assert_eq!(r.to_json(), error);
    assert_eq!(
        ToolResult::error(Tool::ListBookings, ToolError::new("x", "y")).to_json(),
        r#"{"error":"x","message":"y"}"#
    );
}

#[test]
fn results_that_do_not_fit_are_refused() {
    assert!(matches!(ToolResult::parse("nope", "{}", false), Err(ResultError::UnknownTool(_))));
    assert!(matches!(ToolResult::parse("find_showtimes", "{nope", false), Err(ResultError::Malformed { .. })));
    // A hold without its id cannot be extended or confirmed.
    assert!(ToolResult::parse("hold_best_available", r#"{"seats":[]}"#, false).is_err());
}

/// web/js/tools.js is the browser's one table of tool names; it must name
/// exactly these tools.
#[test]
fn the_web_table_mirrors_the_tools() {
    let js = include_str!("../../web/js/tools.js");
    let named: BTreeSet<&str> =
        js.lines().filter_map(|l| l.trim().strip_suffix("\",")?.split_once(": \"").map(|(_, name)| name)).collect();
    let tools: BTreeSet<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
    assert_eq!(named, tools);
}
