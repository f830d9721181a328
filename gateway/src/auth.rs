//! Session tokens as the gateway checks them: the `auth` crate (re-exported
//! here, so `gateway::auth::…` keeps working) with the gateway's rule that a
//! user id must be usable as a topic id (`user:<id>`).

pub use ::auth::*;

/// A signer/checker for `secret` that refuses user ids which are not valid
/// topic ids.
pub fn for_gateway(secret: &str) -> Auth {
    Auth::new(secret).with_subject_rule(|sub| bus::Topic::new(bus::TopicKind::User, sub).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_must_be_topic_ids() {
        let auth = for_gateway("s3cret");
        let (claims, token) = auth.guest(Some("Ann"), 60).expect("sign");
        assert_eq!(auth.verify(&token).expect("a guest id is a topic id"), claims);
        let bad_sub = Claims { sub: "a b".into(), name: String::new(), exp: now_secs() + 60, rooms: None };
        assert!(matches!(auth.verify(&auth.sign(&bad_sub).expect("sign")), Err(AuthError::BadSubject)));
    }
}
