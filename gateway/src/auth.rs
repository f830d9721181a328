//! Session tokens: HS256 JWTs carrying the user id, display name and,
//! optionally, the rooms the user may join. Guest tokens are minted for the
//! demo by `POST /auth/guest`. This module decides identity only; what a user
//! may do with a topic is in `permissions`.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

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
    /// The user id is not usable as a topic id.
    #[error("invalid user id in token")]
    BadSubject,
}

/// Signs and checks tokens with one HS256 secret.
#[derive(Clone)]
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Auth {
    /// A signer/checker for `secret`.
    pub fn new(secret: &str) -> Auth {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.validate_aud = false;
        Auth {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// Checks a token and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)?.claims;
        // The user id becomes part of a topic name (`user:<id>`).
        bus::Topic::new(bus::TopicKind::User, &claims.sub).map_err(|_| AuthError::BadSubject)?;
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
        let bad_sub = Claims { sub: "a b".into(), name: String::new(), exp: now_secs() + 60, rooms: None };
        assert!(matches!(auth.verify(&auth.sign(&bad_sub).expect("sign")), Err(AuthError::BadSubject)));
    }
}
