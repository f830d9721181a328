//! Fuzz target: the token a client sends (query string or `Authorization`
//! header), and tokens correctly signed around hostile claims. Verifying must
//! never panic; a signed token verifies to the claims it was signed with (its
//! name cleaned, as every verified name is) or fails as expired, and nothing
//! unsigned verifies.
#![no_main]

use auth::{Auth, Claims};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-secret-that-is-at-least-32-bytes-long";

fuzz_target!(|data: &[u8]| {
    let auth = Auth::new(SECRET);
    let Ok(text) = std::str::from_utf8(data) else { return };
    match text.strip_prefix("claims:") {
        // The rest is the JSON of claims a signer could be made to sign.
        Some(json) => {
            let Ok(claims) = serde_json::from_str::<Claims>(json) else { return };
            let Ok(token) = auth.sign(&claims) else { return };
            if let Ok(back) = auth.verify(&token) {
                // The same claims, but the name as verify shows it: cleaned,
                // or the user's fallback name when it is refused.
                assert_eq!((&back.sub, back.exp, &back.rooms), (&claims.sub, claims.exp, &claims.rooms));
                if let Ok(clean) = auth::text::display_name(&claims.name) {
                    assert_eq!(back.name, clean, "an acceptable name is shown cleaned");
                }
                assert!(!back.name.chars().any(auth::text::is_invisible), "a shown name has no invisible characters");
            }
            let other = Auth::new("another-secret-that-is-at-least-32-bytes");
            assert!(other.verify(&token).is_err(), "a token verifies only with its own key");
        }
        None => {
            // Fuzzed text is never signed with SECRET (the chance is 2^-256).
            assert!(auth.verify(text).is_err(), "an unsigned token verified: {text:?}");
        }
    }
});
