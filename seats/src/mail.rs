//! The `email` channel of [`crate::notifier`]: the booking confirmation or
//! cancellation as an e-mail over SMTP (lettre, tokio, rustls), Korean
//! first and English second, plain text with a simple HTML alternative.
//!
//! **The recipient.** A booking has only a user id; the address comes from
//! the optional `email` claim of the user's token. The gateway's token
//! verifier hands every verified (user, `email`) pair to this node's
//! [`Contacts`], and the booking's change writes the address into the
//! `email` outbox row's payload (`{"to": …, <booking event>}`) in the same
//! transaction as the booking: the row needs nothing else at delivery, and a
//! user whose token carries no address gets no `email` row at all. The
//! address is the one of the token that made the change (the request's or
//! the session's own token, verified on the node that makes it).
//!
//! **Same message on redelivery.** The `Message-Id` is derived from the
//! event's idempotency key (`<booking>.<status>.email@<MAIL_FROM's domain>`),
//! so a message delivered twice (at least once) is recognisably the same; a
//! cancellation `References` its confirmation's id so mail clients thread them.
//!
//! **Failures.** An SMTP 5xx (a refused recipient, a refused message) is
//! permanent: the event is dead-lettered. A 4xx, a refused or broken
//! connection, a TLS failure or a timeout is transient: retried with backoff.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::notifier::NotifierError;
use crate::types::{BookingEvent, BookingStatus};
use crate::{Booking, Schedule};

/// The channel of the booking e-mail.
pub const EMAIL_CHANNEL: &str = "email";

/// The time zone the start time is written in (the cinemas are in Korea).
const ZONE: &str = "Asia/Seoul";

/// Where and as whom booking e-mail is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// `smtp://host[:port]` (plain, for a local relay or tests),
    /// `smtp://host[:port]?tls=required` (STARTTLS) or `smtps://host[:port]`
    /// (TLS from the first byte); `user:password@` for SMTP AUTH.
    pub smtp_url: String,
    /// The `From` address (`Marquee <tickets@example.com>` or a bare address).
    pub from: String,
    /// A PEM file of a private CA to trust for the SMTP server's certificate
    /// (instead of the public webpki roots).
    pub ca_file: Option<std::path::PathBuf>,
}

impl MailConfig {
    /// Checks the settings as the worker would use them (the URL, the
    /// sender, the CA file): a bad one is refused before anything runs.
    pub fn check(&self) -> Result<(), NotifierError> {
        Mailer::new(self, Duration::from_secs(1)).map(|_| ())
    }
}

/// The e-mail addresses of users, as their tokens last said on this node.
/// Cheap to clone; clones share the map.
#[derive(Debug, Clone, Default)]
pub struct Contacts(Arc<DashMap<String, String>>);

impl Contacts {
    /// Records the address of `user`'s token (`None`, or one that is not an
    /// address, forgets any earlier one).
    pub fn record(&self, user: &str, email: Option<&str>) {
        match email.filter(|e| e.parse::<lettre::Address>().is_ok()) {
            Some(e) => {
                if self.0.get(user).is_none_or(|known| known.as_str() != e) {
                    self.0.insert(user.to_owned(), e.to_owned());
                }
            }
            None => {
                self.0.remove(user);
            }
        }
    }

    /// The address of `user`, if a token gave one.
    pub fn get(&self, user: &str) -> Option<String> {
        self.0.get(user).map(|e| e.clone())
    }
}

/// The payload of an `email` row: the booking event and its recipient.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailEvent {
    /// The recipient's address.
    pub to: String,
    /// The event, as on the other channels.
    #[serde(flatten)]
    pub event: BookingEvent,
}

/// Gives the `email` rows among `rows` the address of `user` (from
/// `contacts`), and drops them when there is none.
pub(crate) fn addressed(rows: Vec<ledger::NewEvent>, contacts: &Contacts, user: &str) -> Vec<ledger::NewEvent> {
    let to = contacts.get(user);
    rows.into_iter()
        .filter_map(|mut row| {
            if row.channel != EMAIL_CHANNEL {
                return Some(row);
            }
            let mut value: serde_json::Value = serde_json::from_str(&row.payload).ok()?;
            value.as_object_mut()?.insert("to".into(), serde_json::Value::String(to.clone()?));
            row.payload = value.to_string();
            Some(row)
        })
        .collect()
}

/// Why one send failed.
#[derive(Debug)]
pub(crate) enum MailFailure {
    /// Retrying cannot help (an SMTP 5xx, an unusable recipient).
    Permanent(String),
    /// Worth trying again (a 4xx, no connection, a timeout).
    Transient(String),
}

/// The SMTP transport and sender of the `email` channel.
#[derive(Clone)]
pub(crate) struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The right-hand side of the `Message-Id`s (the sender's domain).
    domain: String,
    timeout: Duration,
}

impl Mailer {
    /// Checks the settings and builds the transport (no connection yet:
    /// each message opens its own, so nothing is stale after an outage).
    pub(crate) fn new(config: &MailConfig, timeout: Duration) -> Result<Mailer, NotifierError> {
        let bad_url = |why: String| NotifierError::BadSmtpUrl(config.smtp_url.clone(), why);
        let url = url_parts(&config.smtp_url).map_err(bad_url)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp_url)
            .map_err(|e| bad_url(e.to_string()))?
            .timeout(Some(timeout));
        if let Some(path) = &config.ca_file {
            let mail = |why: String| NotifierError::Mail(format!("SMTP_CA_FILE {}: {why}", path.display()));
            let pem = std::fs::read(path).map_err(|e| mail(e.to_string()))?;
            let ca = Certificate::from_pem(&pem).map_err(|e| mail(e.to_string()))?;
            let params = TlsParameters::builder(url.host.clone())
                .add_root_certificate(ca)
                .build_rustls()
                .map_err(|e| mail(e.to_string()))?;
            builder = builder.tls(match url.tls {
                TlsMode::Wrapper => Tls::Wrapper(params),
                TlsMode::Required => Tls::Required(params),
                TlsMode::Opportunistic => Tls::Opportunistic(params),
                TlsMode::None => return Err(mail("the SMTP_URL is plain smtp:// (no TLS to verify)".into())),
            });
        }
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| NotifierError::Mail(format!("MAIL_FROM: {e}")))?;
        let domain = from.email.domain().to_owned();
        Ok(Mailer { transport: builder.build(), from, domain, timeout })
    }

    /// Renders and sends one event; `key` is its idempotency key.
    pub(crate) async fn send(&self, key: &str, event: &MailEvent, schedule: &Schedule) -> Result<(), MailFailure> {
        let to: Mailbox = event
            .to
            .parse()
            .map_err(|e: lettre::address::AddressError| MailFailure::Permanent(format!("recipient: {e}")))?;
        let text = render(&event.event, schedule);
        let b = &event.event.booking;
        let mut message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(text.subject)
            .message_id(Some(message_id(key, &self.domain)));
        if event.event.event == BookingStatus::Cancelled {
            let confirmation = message_id(&format!("{}:confirmed:{EMAIL_CHANNEL}", b.booking_id), &self.domain);
            message = message.in_reply_to(confirmation.clone()).references(confirmation);
        }
        let message = message
            .multipart(MultiPart::alternative_plain_html(text.plain, text.html))
            .map_err(|e| MailFailure::Permanent(format!("message: {e}")))?;
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Err(_) => Err(MailFailure::Transient("SMTP timed out".into())),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(MailFailure::Permanent(e.to_string())),
            Ok(Err(e)) => Err(MailFailure::Transient(e.to_string())),
        }
    }
}

/// How an SMTP URL asks for TLS.
enum TlsMode {
    None,
    Opportunistic,
    Required,
    Wrapper,
}

struct UrlParts {
    host: String,
    tls: TlsMode,
}

/// The host and TLS mode of `smtp_url`, with the forms lettre accepts.
fn url_parts(smtp_url: &str) -> Result<UrlParts, String> {
    let (scheme, rest) = smtp_url.split_once("://").ok_or("not a URL")?;
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = authority.split('/').next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let tls = query.split('&').find_map(|p| p.strip_prefix("tls="));
    let tls = match (scheme, tls) {
        ("smtp", None) => TlsMode::None,
        ("smtp", Some("required")) => TlsMode::Required,
        ("smtp", Some("opportunistic")) => TlsMode::Opportunistic,
        ("smtps", None) => TlsMode::Wrapper,
        _ => return Err("use smtp://, smtp://…?tls=required|opportunistic or smtps://".into()),
    };
    Ok(UrlParts { host: host.to_owned(), tls })
}

/// `<booking>.<status>.email@domain` from the key `<booking>:<status>:email`
/// (a colon is not allowed on the left of a message id).
fn message_id(key: &str, domain: &str) -> String {
    let left: String = key
        .chars()
        .map(|c| match c {
            ':' => '.',
            c if c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) => c,
            _ => '-',
        })
        .collect();
    let left = left.trim_matches('.').replace("..", ".");
    format!("<{left}@{domain}>")
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The text/plain part.
    pub plain: String,
    /// The text/html part.
    pub html: String,
}

/// What the message says, in the order it says it.
struct Facts {
    movie_ko: String,
    movie_en: String,
    theater_ko: String,
    theater_en: String,
    starts_ko: String,
    starts_en: String,
    seats: String,
    amount: String,
    code: String,
}

/// The confirmation or cancellation of `event`, with the movie, theater,
/// screen and start time (in Asia/Seoul) from `schedule`. A showtime the
/// schedule no longer has is named by its id.
pub fn render(event: &BookingEvent, schedule: &Schedule) -> Rendered {
    let f = facts(&event.booking, schedule);
    let cancelled = event.event == BookingStatus::Cancelled;
    let (title_ko, title_en) = if cancelled {
        ("예매가 취소되었습니다.", "Your booking has been cancelled.")
    } else {
        ("예매가 완료되었습니다.", "Your booking is confirmed.")
    };
    let subject = if cancelled {
        format!("[Marquee] 예매 취소 · Booking cancelled: {} ({})", f.movie_ko, f.code)
    } else {
        format!("[Marquee] 예매 완료 · Booking confirmed: {} ({})", f.movie_ko, f.code)
    };
    let ko = [
        ("영화", &f.movie_ko),
        ("극장", &f.theater_ko),
        ("상영", &f.starts_ko),
        ("좌석", &f.seats),
        ("금액", &format!("{}원", f.amount)),
        ("예매번호", &f.code),
    ];
    let en = [
        ("Movie", &f.movie_en),
        ("Theater", &f.theater_en),
        ("Starts", &f.starts_en),
        ("Seats", &f.seats),
        ("Amount", &format!("₩{}", f.amount)),
        ("Booking code", &f.code),
    ];
    let lines = |rows: &[(&str, &String)]| rows.iter().map(|(k, v)| format!("{k}: {v}\n")).collect::<String>();
    let plain = format!("{title_ko}\n\n{}\n---\n\n{title_en}\n\n{}", lines(&ko), lines(&en));
    let table = |rows: &[(&str, &String)]| {
        rows.iter()
            .map(|(k, v)| format!("<tr><th align=\"left\">{}</th><td>{}</td></tr>", esc(k), esc(v)))
            .collect::<String>()
    };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"ko\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n\
         <h1>{}</h1>\n<table>{}</table>\n<hr>\n<h2 lang=\"en\">{}</h2>\n<table lang=\"en\">{}</table>\n</body></html>\n",
        esc(&subject),
        esc(title_ko),
        table(&ko),
        esc(title_en),
        table(&en)
    );
    Rendered { subject, plain, html }
}

fn facts(b: &Booking, schedule: &Schedule) -> Facts {
    let seats = b.seats.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    let amount = thousands(b.amount);
    let code = if b.code.is_empty() { b.booking_id.clone() } else { b.code.clone() };
    let Some(st) = schedule.showtime(&b.showtime) else {
        let unknown = format!("{} (?)", b.showtime);
        return Facts {
            movie_ko: unknown.clone(),
            movie_en: unknown.clone(),
            theater_ko: unknown.clone(),
            theater_en: unknown.clone(),
            starts_ko: unknown.clone(),
            starts_en: unknown,
            seats,
            amount,
            code,
        };
    };
    let movie = schedule.movie(&st.movie);
    let movie_en = movie.map_or_else(|| st.movie.clone(), |m| m.title.clone());
    let movie_ko = movie.and_then(|m| m.title_ko.clone()).unwrap_or_else(|| movie_en.clone());
    let theater = schedule.theaters().iter().find(|t| t.id == st.theater);
    let screen = schedule.screen_of(&st.id);
    let theater_en_name = theater.map_or_else(|| st.theater.clone(), |t| t.name.clone());
    let theater_ko_name = theater.and_then(|t| t.name_ko.clone()).unwrap_or_else(|| theater_en_name.clone());
    let screen_en = screen.map_or_else(|| st.screen.clone(), |s| s.name.clone());
    let screen_ko = screen.and_then(|s| s.name_ko.clone()).unwrap_or_else(|| screen_en.clone());
    let (starts_ko, starts_en) = match st.starts_at.in_tz(ZONE) {
        Ok(z) => {
            let day = z.weekday().to_sunday_zero_offset() as usize;
            let ko_day = ["일", "월", "화", "수", "목", "금", "토"][day % 7];
            let en_day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][day % 7];
            let en_month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                [(z.month() as usize).saturating_sub(1) % 12];
            (
                format!("{}년 {}월 {}일 ({ko_day}) {:02}:{:02}", z.year(), z.month(), z.day(), z.hour(), z.minute()),
                format!("{en_day} {} {en_month} {}, {:02}:{:02} (KST)", z.day(), z.year(), z.hour(), z.minute()),
            )
        }
        Err(_) => (st.starts_at.to_string(), st.starts_at.to_string()),
    };
    Facts {
        movie_ko,
        movie_en,
        theater_ko: format!("{theater_ko_name} {screen_ko}"),
        theater_en: format!("{theater_en_name}, {screen_en}"),
        starts_ko,
        starts_en,
        seats,
        amount,
        code,
    }
}

/// `15000` as `15,000`.
fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `s` safe inside HTML text and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(url: &str) -> MailConfig {
        MailConfig { smtp_url: url.into(), from: "Marquee <tickets@marquee.test>".into(), ca_file: None }
    }

    #[test]
    fn smtp_urls_of_the_forms_lettre_knows_are_accepted_and_others_refused() {
        for ok in ["smtp://127.0.0.1:2525", "smtp://mail.example.org?tls=required", "smtps://u:p@mail.example.org:465"]
        {
            assert!(config(ok).check().is_ok(), "{ok}");
        }
        for bad in ["http://mail.example.org", "smtp://", "mail.example.org", "smtp://x?tls=maybe", "smtps://:25"] {
            assert!(matches!(config(bad).check(), Err(NotifierError::BadSmtpUrl(..))), "{bad}");
        }
        let mut c = config("smtp://127.0.0.1:2525");
        c.from = "not an address".into();
        assert!(matches!(c.check(), Err(NotifierError::Mail(_))));
        c.from = "tickets@marquee.test".into();
        c.ca_file = Some("/nonexistent/ca.pem".into());
        assert!(matches!(c.check(), Err(NotifierError::Mail(_))));
    }

    #[test]
    fn message_ids_come_from_the_idempotency_key() {
        assert_eq!(
            message_id("bk0a1b-st-1:confirmed:email", "marquee.test"),
            "<bk0a1b-st-1.confirmed.email@marquee.test>"
        );
        assert_eq!(thousands(15_000), "15,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(900), "900");
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn contacts_keep_only_addresses() {
        let c = Contacts::default();
        c.record("alice", Some("alice@example.org"));
        assert_eq!(c.get("alice").as_deref(), Some("alice@example.org"));
        c.record("alice", Some("not an address"));
        assert_eq!(c.get("alice"), None);
        c.record("bob", Some("bob@example.org"));
        c.record("bob", None);
        assert_eq!(c.get("bob"), None);
    }
}
