//! Small text helpers shared by the extractor and the policy: Hangul tests,
//! the compact phonetic form used for name matching, and Korean particles.

/// True for a precomposed Hangul syllable.
pub fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// True when `s` contains Hangul (the user writes Korean).
pub fn has_hangul(s: &str) -> bool {
    s.chars().any(is_hangul)
}

/// The compact form of `s` for name matching: lower case, letters and digits
/// only (no spaces or punctuation), with Hangul spelling variants folded
/// (tense initials to plain: 빽 = 백; ㅔ/ㅒ to ㅐ; 쳐 = 처).
pub fn compact(s: &str) -> Vec<char> {
    s.chars().flat_map(char::to_lowercase).filter(|c| c.is_alphanumeric()).map(fold).collect()
}

/// Folds one Hangul syllable to its canonical spelling (others unchanged).
fn fold(c: char) -> char {
    if !is_hangul(c) {
        return c;
    }
    let code = c as u32 - 0xAC00;
    let (mut initial, mut medial, fin) = (code / 588, (code % 588) / 28, code % 28);
    initial = match initial {
        1 => 0,
        4 => 3,
        8 => 7,
        10 => 9,
        13 => 12,
        i => i,
    };
    medial = match medial {
        3 | 5 => 1,
        6 if matches!(initial, 12 | 14) => 4,
        m => m,
    };
    char::from_u32(0xAC00 + initial * 588 + medial * 28 + fin).unwrap_or(c)
}

/// True when the last Hangul syllable of `s` has a final consonant (picks 은/는, 이/가, 을/를).
pub fn has_batchim(s: &str) -> bool {
    match s.trim_end().chars().last() {
        Some(c) if is_hangul(c) => !(c as u32 - 0xAC00).is_multiple_of(28),
        Some(c) if c.is_ascii_digit() => matches!(c, '0' | '1' | '3' | '6' | '7' | '8'),
        Some(c) => matches!(c.to_ascii_lowercase(), 'l' | 'm' | 'n'),
        None => false,
    }
}

/// `word` followed by the particle that fits it ("매트릭스를", "레옹을").
pub fn josa(word: &str, with: &str, without: &str) -> String {
    format!("{word}{}", if has_batchim(word) { with } else { without })
}

/// Thousands separators for a won amount ("45,000").
pub fn won(amount: u64) -> String {
    let s = amount.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_folds_spelling_variants() {
        assert_eq!(compact("빽 투 더 퓨쳐"), compact("백투더퓨처"));
        assert_eq!(compact("The Matrix!"), "thematrix".chars().collect::<Vec<_>>());
        assert_ne!(compact("세 명"), compact("세얼간이"));
    }

    #[test]
    fn particles_and_money() {
        assert_eq!(josa("매트릭스", "을", "를"), "매트릭스를");
        assert_eq!(josa("레옹", "을", "를"), "레옹을");
        assert_eq!(won(45000), "45,000");
        assert_eq!(won(900), "900");
        assert_eq!(won(1234567), "1,234,567");
    }
}
