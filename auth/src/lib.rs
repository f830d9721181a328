//! Session tokens: HS256 JWTs carrying the user id, display name and,
//! optionally, the rooms the user may join, and guest tokens (minted for the
//! demo by the gateway's `POST /auth/guest`). This crate decides identity
//! only; what a user may do with a topic is the gateway's `permissions`. It
//! depends on no other Marquee crate, so clients such as `loadtest` sign
//! tokens without compiling the gateway.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Default secret for HS256 tokens. Fine for a laptop demo; the gateway
/// refuses it with Redis.
pub const DEV_JWT_SECRET: &str = "marquee-dev-secret-change-me";

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
    /// Expiry, seconds since the epoch.
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
    /// Bad signature, malformed, or expired.
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    /// The user id breaks the verifier's [`SubjectRule`].
    #[error("invalid user id in token")]
    BadSubject,
}

/// Signs and checks tokens with one HS256 secret.
#[derive(Clone)]
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    subject_ok: SubjectRule,
}

impl Auth {
    /// A signer/checker for `secret`; it accepts any non-empty user id.
    pub fn new(secret: &str) -> Auth {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.validate_aud = false;
        Auth {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            subject_ok: |sub| !sub.is_empty(),
        }
    }

    /// The same signer/checker, refusing tokens whose user id breaks `rule`.
    pub fn with_subject_rule(self, rule: SubjectRule) -> Auth {
        Auth { subject_ok: rule, ..self }
    }

    /// Checks a token and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)?.claims;
        if !(self.subject_ok)(&claims.sub) {
            return Err(AuthError::BadSubject);
        }
        Ok(claims)
    }

    /// Signs claims into a token.
    pub fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)?)
    }

    /// Mints a guest token valid for `ttl_secs`.
    pub fn guest(&self, name: Option<&str>, ttl_secs: u64) -> Result<(Claims, String), AuthError> {
        let id = format!("guest-{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
        let name = name.map(clean_name).filter(|n| !n.is_empty()).unwrap_or_else(|| format!("Guest {}", &id[6..10]));
        let claims = Claims { sub: id, name, exp: now_secs() + ttl_secs, rooms: None };
        let token = self.sign(&claims)?;
        Ok((claims, token))
    }
}

/// Trims a display name and drops control characters; at most 40 characters.
fn clean_name(name: &str) -> String {
    name.trim().chars().filter(|c| !c.is_control()).take(40).collect()
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
