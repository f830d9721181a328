//! Text that people show to other people: display names and chat text. One
//! rule for what is invisible (bidi controls, zero-width characters, control
//! characters, Hangul fillers, …) so a name cannot hide characters that
//! reorder or disguise what others see, and chat text cannot smuggle terminal
//! or bidi control sequences into echoes and logs. Names also get a policy:
//! no reserved staff words, nothing shaped like a guest id. The gateway's
//! chat frames use [`message_text`]; names pass [`display_name`] when a
//! guest token is minted and again whenever a token is verified.
//!
//! It only cleans and judges strings; what to do with a refused name (fall
//! back to a generated one) is the caller's choice.

use unicode_normalization::UnicodeNormalization;

/// Longest display name, in characters (Unicode scalar values, after NFC).
pub const MAX_NAME_CHARS: usize = 40;

/// Words a display name may not consist of (compared case-insensitively,
/// after NFKC, ignoring spaces and punctuation, optionally with digits).
const RESERVED: &[&str] = &[
    "admin",
    "administrator",
    "root",
    "system",
    "sysop",
    "staff",
    "moderator",
    "operator",
    "support",
    "official",
    "marquee",
    "운영자",
    "관리자",
    "운영진",
    "운영팀",
    "관리팀",
    "시스템",
    "고객센터",
    "마퀴",
];

/// Words that only count next to a reserved word ("The Marquee Team").
const FILLER: &[&str] = &["the", "team", "real", "팀", "공식"];

/// Why a display name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing visible is left once invisible characters and spaces are gone.
    #[error("the name is empty")]
    Empty,
    /// The name claims to be staff or the service (`admin`, `운영자`, …).
    #[error("the name is reserved")]
    Reserved,
    /// The name is shaped like a guest's user id or generated name.
    #[error("the name looks like a user id")]
    LooksLikeUserId,
}

/// Whether `c` is invisible or changes how text around it is shown: format
/// characters (bidi embeddings, overrides, isolates and marks; zero-width
/// space, joiners, word joiner, BOM; soft hyphen; tags), fillers that render
/// as nothing (Hangul fillers, Khmer inherent vowels, Mongolian selectors),
/// and every C0/C1 control character. Variation selectors are kept (emoji
/// presentation).
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Cleans a display name and judges it.
///
/// Invisible characters ([`is_invisible`]) are dropped, any run of
/// whitespace becomes one space, the result is NFC-normalised, trimmed and
/// cut to [`MAX_NAME_CHARS`] characters. "김영희" stays "김영희" (also when
/// sent decomposed).
///
/// # Errors
/// [`NameError::Empty`] when nothing visible is left; [`NameError::Reserved`]
/// for a name made only of reserved words (and digits, spaces, punctuation):
/// `Admin`, `ＡＤＭＩＮ`, `admin_01`, `Marquee Team`, `관리자`;
/// [`NameError::LooksLikeUserId`] for `guest-0123456789ab` or `Guest 1a2b`,
/// the shapes of a guest's id and generated name.
pub fn display_name(raw: &str) -> Result<String, NameError> {
    let mut spaced = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_whitespace() {
            spaced.push(' ');
        } else if !is_invisible(c) {
            spaced.push(c);
        }
    }
    let nfc: String = spaced.nfc().collect();
    let collapsed = nfc.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
    let name: String = collapsed.chars().take(MAX_NAME_CHARS).collect();
    let name = name.trim_end().to_owned();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    let skeleton = skeleton(&name);
    if skeleton.is_empty() {
        // Only punctuation or symbols: visible, so allowed ("🙂", "~").
        return Ok(name);
    }
    if looks_like_guest(&skeleton) {
        return Err(NameError::LooksLikeUserId);
    }
    if only_reserved_words(&skeleton) {
        return Err(NameError::Reserved);
    }
    Ok(name)
}

/// Cleans chat text: invisible characters ([`is_invisible`]) are dropped,
/// except that `\n` and `\t` are kept, `\r\n`, a lone `\r` and the Unicode
/// line and paragraph separators become `\n`, and a zero-width joiner right
/// after an emoji stays (it builds sequences such as 👩‍💻). The result is
/// NFC-normalised. Nothing else changes: no trimming, no length limit (the
/// caller checks both).
pub fn message_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\u{200D}' if out.chars().next_back().is_some_and(is_emoji) => out.push(c),
            c if is_invisible(c) => {}
            c => out.push(c),
        }
    }
    out.nfc().collect()
}

/// Emoji and the characters that continue an emoji sequence, roughly: what a
/// zero-width joiner may follow in chat text.
fn is_emoji(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27BF}' | '\u{FE0F}' | '\u{1F000}'..='\u{1FAFF}')
}

/// The name as compared with reserved words: NFKC (so full-width letters
/// match), lower case, letters and digits only.
fn skeleton(name: &str) -> String {
    name.nfkc().flat_map(char::to_lowercase).filter(|c| c.is_alphanumeric()).collect()
}

/// `guest` followed by 4 to 12 hex digits: a guest id (`guest-` + 12 hex)
/// or a generated guest name (`Guest ` + 4 hex).
fn looks_like_guest(skeleton: &str) -> bool {
    skeleton
        .strip_prefix("guest")
        .is_some_and(|rest| (4..=12).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `s` splits into reserved words, filler words and digits, with at
/// least one reserved word.
fn only_reserved_words(s: &str) -> bool {
    // `reach[i]`: s[..i] splits; the flag says whether a reserved word was used.
    let mut reach: Vec<Option<bool>> = vec![None; s.len() + 1];
    reach[0] = Some(false);
    for i in 0..s.len() {
        let Some(used) = reach[i] else { continue };
        let rest = &s[i..];
        let mut step = |len: usize, reserved: bool| {
            let j = i + len;
            reach[j] = Some(reach[j].unwrap_or(false) || used || reserved);
        };
        for w in RESERVED {
            if rest.starts_with(w) {
                step(w.len(), true);
            }
        }
        for w in FILLER {
            if rest.starts_with(w) {
                step(w.len(), false);
            }
        }
        if let Some(d) = rest.chars().next().filter(char::is_ascii_digit) {
            step(d.len_utf8(), false);
        }
    }
    reach[s.len()] == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_and_ordinary_names_pass_cleaned() {
        assert_eq!(display_name("김영희").as_deref(), Ok("김영희"));
        assert_eq!(display_name("할머니").as_deref(), Ok("할머니"));
        // Decomposed jamo (what some keyboards send) become the same syllables.
        assert_eq!(display_name("\u{1100}\u{1175}\u{11B7}영희").as_deref(), Ok("김영희"));
        assert_eq!(display_name("  Ann \t  Lee\n").as_deref(), Ok("Ann Lee"));
        assert_eq!(display_name("Kim\u{7}Lee").as_deref(), Ok("KimLee"));
        assert_eq!(display_name("🙂").as_deref(), Ok("🙂"));
        assert_eq!(display_name("Guest").as_deref(), Ok("Guest"), "the word alone is not an id");
        assert_eq!(display_name("guestbook").as_deref(), Ok("guestbook"));
        assert_eq!(display_name("Sysadmin Kim").as_deref(), Ok("Sysadmin Kim"), "a word that only contains one");
        assert_eq!(display_name("관리자 김영희").as_deref(), Ok("관리자 김영희"), "a title with a name is a name");
    }

    #[test]
    fn bidi_and_zero_width_characters_are_dropped() {
        for (raw, want) in [
            ("\u{202E}nimda", "nimda"),
            ("Ann\u{202A}\u{202B}\u{202C}\u{202D}", "Ann"),
            ("\u{2066}Ann\u{2067}\u{2068}\u{2069}", "Ann"),
            ("A\u{200E}n\u{200F}n", "Ann"),
            ("A\u{200B}n\u{200C}n\u{200D}\u{2060}\u{FEFF}", "Ann"),
            ("김\u{3164}영희", "김영희"),
            ("A\u{00AD}nn\u{E0041}", "Ann"),
        ] {
            assert_eq!(display_name(raw).as_deref(), Ok(want), "{raw:?}");
        }
    }

    #[test]
    fn empty_reserved_and_id_shaped_names_are_refused() {
        for raw in ["", "   ", "\u{3000}\t", "\u{200B}\u{202E}", "\u{3164}", "\u{115F}\u{1160}"] {
            assert_eq!(display_name(raw), Err(NameError::Empty), "{raw:?}");
        }
        for raw in [
            "admin",
            "ADMIN",
            "Administrator",
            "ａｄｍｉｎ",
            "a d m i n",
            "admin_01",
            "Ad\u{200B}min",
            "\u{202C}admin\u{202E}",
            "System",
            "marquee",
            "Marquee Team",
            "the staff",
            "운영자",
            "관리자",
            "운영 팀",
            "관리자1",
            "공식 운영자",
        ] {
            assert_eq!(display_name(raw), Err(NameError::Reserved), "{raw:?}");
        }
        for raw in ["guest-0123456789ab", "GUEST-0123456789AB", "Guest 1a2b", "guest_1a2b"] {
            assert_eq!(display_name(raw), Err(NameError::LooksLikeUserId), "{raw:?}");
        }
    }

    #[test]
    fn names_are_bounded_in_characters() {
        let long = "가".repeat(100);
        assert_eq!(display_name(&long).map(|n| n.chars().count()), Ok(MAX_NAME_CHARS));
        // Cut at 40 characters, then trimmed: no trailing space.
        let spaced = format!("{} b", "a".repeat(MAX_NAME_CHARS - 1));
        assert_eq!(display_name(&spaced), Ok("a".repeat(MAX_NAME_CHARS - 1)));
    }

    #[test]
    fn chat_text_keeps_lines_and_tabs_and_drops_the_rest() {
        assert_eq!(message_text("표 두 장\r\n예매해 줘\r고마워"), "표 두 장\n예매해 줘\n고마워");
        assert_eq!(message_text("a\tb\u{2028}c"), "a\tb\nc");
        assert_eq!(message_text("\u{1b}[2Jhi\u{7}\u{0}"), "[2Jhi");
        assert_eq!(message_text("safe\u{202E}txt.exe\u{200B}"), "safetxt.exe");
        assert_eq!(message_text("👩\u{200D}💻 ok"), "👩\u{200D}💻 ok", "emoji sequences stay");
        assert_eq!(message_text("a\u{200D}b"), "ab");
        assert_eq!(message_text("\u{1100}\u{1161}"), "가");
    }
}
