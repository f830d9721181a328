//! Session tokens: HS256 JWTs carrying the user id, display name and,
//! optionally, the rooms the user may join, and guest tokens (minted for the
//! demo by the gateway's `POST /auth/guest`). This crate decides identity
//! only; what a user may do with a topic is the gateway's `permissions`. It
//! depends on no other Marquee crate, so clients such as `loadtest` sign
//! tokens without compiling the gateway.
//!
//! A token may also carry an `email` claim, the address booking e-mail goes
//! to. It is not part of [`Claims`] (what a session keeps); a verifier built
//! with [`Auth::with_contact_hook`] hands each verified user id and its
//! `email` (or `None`) to the hook, which is how the gateway tells the seat
//! store where to send a user's confirmations.
//!
//! Display names are cleaned and judged by [`text::display_name`] both when a
//! guest token is minted and when any token is verified (a token minted
//! before the rule, or by another issuer, gets the same treatment).

pub mod text;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Default secret for HS256 tokens. Fine for a laptop demo; the gateway
/// refuses it with Redis.
pub const DEV_JWT_SECRET: &str = "marquee-dev-secret-change-me";

/// How far apart the issuer's and the verifier's clocks may be, in seconds:
/// a token is accepted until `exp` plus this, and from `nbf` minus this.
pub const CLOCK_LEEWAY_SECS: u64 = 5;

/// A rule the user id must satisfy (the gateway's: usable as a topic id).
pub type SubjectRule = fn(&str) -> bool;

/// The claims Marquee reads from a token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Expiry, seconds since the epoch. A token may also carry `nbf` (not
    /// before); it is checked but not kept.
    pub exp: u64,
    /// Rooms the user may join; absent means any room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token in the request.
    #[error("missing token")]
    Missing,
    /// Bad signature, malformed, expired, or not valid yet (`nbf`).
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    /// The user id breaks the verifier's [`SubjectRule`].
    #[error("invalid user id in token")]
    BadSubject,
}

/// Told of every verified token: its user id and its `email` claim (`None`
/// when it has none).
pub type ContactHook = Arc<dyn Fn(&str, Option<&str>) + Send + Sync>;

/// Signs and checks tokens with one HS256 secret.
#[derive(Clone)]
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    subject_ok: SubjectRule,
    contact_hook: Option<ContactHook>,
}

/// What [`Auth::verify`] decodes: the claims and the optional `email`.
#[derive(Deserialize)]
struct Verified {
    #[serde(flatten)]
    claims: Claims,
    #[serde(default)]
    email: Option<String>,
}

impl Auth {
    /// A signer/checker for `secret`; it accepts any non-empty user id.
    pub fn new(secret: &str) -> Auth {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = CLOCK_LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        Auth {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            subject_ok: |sub| !sub.is_empty(),
            contact_hook: None,
        }
    }

    /// The same signer/checker, refusing tokens whose user id breaks `rule`.
    pub fn with_subject_rule(self, rule: SubjectRule) -> Auth {
        Auth { subject_ok: rule, ..self }
    }

    /// The same signer/checker, telling `hook` the user id and `email` claim
    /// of every token it accepts.
    pub fn with_contact_hook(self, hook: ContactHook) -> Auth {
        Auth { contact_hook: Some(hook), ..self }
    }

    /// Checks a token (signature, `exp` and `nbf` with [`CLOCK_LEEWAY_SECS`])
    /// and returns its claims. The display name comes back cleaned by
    /// [`text::display_name`]; a name it refuses is replaced by
    /// [`fallback_name`] of the user id.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let Verified { mut claims, email } =
            jsonwebtoken::decode::<Verified>(token, &self.decoding, &self.validation)?.claims;
        if !(self.subject_ok)(&claims.sub) {
            return Err(AuthError::BadSubject);
        }
        if let Some(hook) = &self.contact_hook {
            hook(&claims.sub, email.as_deref());
        }
        claims.name = text::display_name(&claims.name).unwrap_or_else(|_| fallback_name(&claims.sub));
        Ok(claims)
    }

    /// Signs claims into a token: Marquee's [`Claims`], or any other
    /// serializable set (for instance with an `nbf`).
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String, AuthError> {
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)?)
    }

    /// Mints a guest token valid for `ttl_secs`. The name is cleaned by
    /// [`text::display_name`]; without one, or when it is refused (empty,
    /// reserved, shaped like a user id), the guest gets the generated name
    /// `Guest <4 hex digits of its id>`. The claims say which name was given.
    pub fn guest(&self, name: Option<&str>, ttl_secs: u64) -> Result<(Claims, String), AuthError> {
        let id = format!("guest-{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
        let name = name.and_then(|n| text::display_name(n).ok()).unwrap_or_else(|| fallback_name(&id));
        let claims = Claims { sub: id, name, exp: now_secs().saturating_add(ttl_secs), rooms: None };
        let token = self.sign(&claims)?;
        Ok((claims, token))
    }
}

impl Claims {
    /// The last second (since the epoch) at which [`Auth::verify`] still
    /// accepts this token: `exp` plus [`CLOCK_LEEWAY_SECS`]. A session must
    /// not outlive it.
    pub fn valid_until(&self) -> u64 {
        self.exp.saturating_add(CLOCK_LEEWAY_SECS)
    }
}

/// The name shown for a user whose own name is missing or refused: for a
/// guest id `guest-1a2b…` the generated `Guest 1a2b`, for any other id the
/// id itself without invisible characters (cut to [`text::MAX_NAME_CHARS`]
/// characters). It names the user by their own id, so it can impersonate no one.
pub fn fallback_name(user: &str) -> String {
    // Drops invisible characters too: a verifier's subject rule may allow
    // ids that hold them (the gateway's does not), and the name is shown.
    let visible =
        |s: &str| s.chars().filter(|c| !text::is_invisible(*c)).take(text::MAX_NAME_CHARS).collect::<String>();
    match user.strip_prefix("guest-").and_then(|hex| hex.get(..4)) {
        Some(short) => format!("Guest {}", visible(short)),
        None => visible(user),
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fallback_name_shows_no_invisible_characters() {
        // Found by the `token` fuzz target: a subject rule that allows a tab
        // (the gateway's does not) must not put it into the shown name.
        assert_eq!(fallback_name("ann\t\u{202e}-2"), "ann-2");
        assert_eq!(fallback_name("guest-\u{200b}1a2b3c"), "Guest 1");
        assert_eq!(fallback_name("guest-1a2b3c4d5e6f"), "Guest 1a2b");
    }

    #[test]
    fn signs_verifies_and_rejects() {
        let auth = Auth::new("s3cret");
        let (claims, token) = auth.guest(Some("  김영희\u{7} "), 60).expect("sign");
        assert_eq!(claims.name, "김영희");
        assert_eq!(auth.verify(&token).expect("valid"), claims);
        assert!(Auth::new("other").verify(&token).is_err(), "wrong secret");
        assert!(auth.verify("garbage").is_err());
        let expired = Claims { sub: "u1".into(), name: String::new(), exp: now_secs() - 3600, rooms: None };
        assert!(auth.verify(&auth.sign(&expired).expect("sign")).is_err(), "expired");
        let empty_sub = Claims { sub: String::new(), name: String::new(), exp: now_secs() + 60, rooms: None };
        assert!(matches!(auth.verify(&auth.sign(&empty_sub).expect("sign")), Err(AuthError::BadSubject)));
        let strict = auth.clone().with_subject_rule(|sub| !sub.contains(' '));
        let bad_sub = Claims { sub: "a b".into(), name: String::new(), exp: now_secs() + 60, rooms: None };
        let bad = strict.sign(&bad_sub).expect("sign");
        assert!(auth.verify(&bad).is_ok(), "the default rule takes any non-empty id");
        assert!(matches!(strict.verify(&bad), Err(AuthError::BadSubject)));
    }

    #[test]
    fn the_contact_hook_hears_the_email_claim_of_verified_tokens_only() {
        #[derive(Serialize)]
        struct WithEmail<'a> {
            sub: &'a str,
            exp: u64,
            email: &'a str,
        }
        type Heard = Vec<(String, Option<String>)>;
        let heard: Arc<std::sync::Mutex<Heard>> = Arc::default();
        let h = heard.clone();
        let auth = Auth::new("s3cret").with_contact_hook(Arc::new(move |user: &str, email: Option<&str>| {
            h.lock().expect("lock").push((user.to_owned(), email.map(str::to_owned)));
        }));
        let token = auth.sign(&WithEmail { sub: "u1", exp: now_secs() + 60, email: "u1@example.org" }).expect("sign");
        assert_eq!(auth.verify(&token).expect("valid").sub, "u1");
        let (_, guest) = auth.guest(None, 60).expect("sign");
        let guest_id = auth.verify(&guest).expect("valid").sub;
        assert!(
            Auth::new("other")
                .with_contact_hook(Arc::new(|_: &str, _: Option<&str>| panic!("not verified")))
                .verify(&token)
                .is_err()
        );
        let heard = heard.lock().expect("lock").clone();
        assert_eq!(heard, [("u1".to_owned(), Some("u1@example.org".to_owned())), (guest_id, None)]);
    }

    /// A token signed with extra registered claims.
    #[derive(Serialize)]
    struct WithNbf<'a> {
        sub: &'a str,
        name: &'a str,
        exp: u64,
        nbf: u64,
    }

    #[test]
    fn nbf_is_checked_with_the_documented_leeway() {
        let auth = Auth::new("s3cret");
        let now = now_secs();
        let token = |nbf: u64, exp: u64| auth.sign(&WithNbf { sub: "u1", name: "Ann", exp, nbf }).expect("sign");
        let early = auth.verify(&token(now + 3600, now + 7200)).expect_err("not valid before nbf");
        assert!(
            matches!(&early, AuthError::Invalid(e) if *e.kind() == jsonwebtoken::errors::ErrorKind::ImmatureSignature),
            "{early:?}"
        );
        assert!(auth.verify(&token(now + CLOCK_LEEWAY_SECS - 2, now + 60)).is_ok(), "within the leeway");
        assert!(auth.verify(&token(now + CLOCK_LEEWAY_SECS + 30, now + 60)).is_err(), "past the leeway");
        assert!(auth.verify(&token(now - 10, now + 60)).is_ok(), "valid since 10 s");
        // exp: accepted up to the leeway after it, refused beyond.
        let claims = |exp: u64| Claims { sub: "u1".into(), name: "Ann".into(), exp, rooms: None };
        assert!(auth.verify(&auth.sign(&claims(now - 2)).expect("sign")).is_ok(), "expired 2 s ago, within 5 s");
        assert!(auth.verify(&auth.sign(&claims(now - 30)).expect("sign")).is_err(), "expired 30 s ago");
        assert_eq!(claims(now).valid_until(), now + CLOCK_LEEWAY_SECS);
    }

    #[test]
    fn refused_names_fall_back_to_the_users_own_id() {
        let auth = Auth::new("s3cret");
        for name in [Some("admin"), Some("운영자"), Some("  \u{200B} "), Some("guest-0123456789ab"), None] {
            let (claims, token) = auth.guest(name, 60).expect("sign");
            assert_eq!(claims.name, format!("Guest {}", &claims.sub[6..10]), "{name:?}");
            assert_eq!(auth.verify(&token).expect("valid").name, claims.name);
        }
        let (claims, _) = auth.guest(Some("\u{202E}할머니\u{2066}"), 60).expect("sign");
        assert_eq!(claims.name, "할머니");
        // A token minted elsewhere (or before this rule) is cleaned on verify.
        let raw = |name: &str| Claims { sub: "bob".into(), name: name.into(), exp: now_secs() + 60, rooms: None };
        let verified = |name: &str| auth.verify(&auth.sign(&raw(name)).expect("sign")).expect("valid").name;
        assert_eq!(verified("Administrator"), "bob");
        assert_eq!(verified(""), "bob");
        assert_eq!(verified("Bob\u{202E}\u{7} Lee"), "Bob Lee");
        assert_eq!(fallback_name(&"x".repeat(64)), "x".repeat(text::MAX_NAME_CHARS));
    }
}
