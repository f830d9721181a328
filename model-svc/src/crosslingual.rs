//! Bridges between Korean and English text, computed offline at ingest from
//! the data and a small hand-written lexicon (no network, no model):
//!
//! - [`Lexicon`]: English words and their Korean renderings
//!   (`data/lexicon-en-ko.tsv`). An English synopsis gets the Korean renderings
//!   of its words ([`Lexicon::korean_terms`]); a film's Korean reviews get an
//!   English keyword summary ([`Lexicon::english_summary`]).
//! - [`skeleton_latin`] / [`skeleton_hangul`]: a consonant skeleton of a name,
//!   the same for "Costner" and "코스트너", so a Korean question names an actor
//!   or title that the corpus spells only in English.
//!
//! Nothing here scores; the index decides how much these terms weigh.

use std::collections::HashMap;

/// The shipped lexicon (see the file's header for what it is and its licence).
const LEXICON_TSV: &str = include_str!("../data/lexicon-en-ko.tsv");

/// Korean stems shorter than this (in syllables) are not matched inside review
/// text: one syllable ("말", "배") occurs inside far too many unrelated words.
const MIN_KO_STEM: usize = 2;
/// English words in a film's review summary.
const SUMMARY_WORDS: usize = 24;

/// English word → Korean renderings, and the reverse (Korean stem → English words).
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    en_to_ko: HashMap<String, Vec<String>>,
    /// Korean stem → English word, keyed by the stem's first character.
    ko_to_en: HashMap<char, Vec<(String, String)>>,
}

impl Lexicon {
    /// The lexicon shipped in the binary.
    pub fn builtin() -> Self {
        Self::parse(LEXICON_TSV)
    }

    /// Parses `english<TAB>korean korean …` lines (`#` comments, blank lines skipped).
    pub fn parse(tsv: &str) -> Self {
        let mut lex = Self::default();
        for line in tsv.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((en, ko)) = line.split_once('\t') else { continue };
            let en = stem(&en.trim().to_lowercase()).to_owned();
            let kos: Vec<String> = ko.split_whitespace().map(str::to_owned).collect();
            for k in &kos {
                if k.chars().count() >= MIN_KO_STEM
                    && crate::text::has_hangul(k)
                    && let Some(first) = k.chars().next()
                {
                    lex.ko_to_en.entry(first).or_default().push((k.clone(), en.clone()));
                }
            }
            lex.en_to_ko.entry(en).or_default().extend(kos);
        }
        lex
    }

    /// Number of English entries.
    pub fn len(&self) -> usize {
        self.en_to_ko.len()
    }

    /// True when the lexicon has no entries.
    pub fn is_empty(&self) -> bool {
        self.en_to_ko.is_empty()
    }

    /// The Korean renderings of the English words of `text`, each once, in order of first use.
    pub fn korean_terms(&self, text: &str) -> String {
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<&str> = Vec::new();
        for w in crate::text::words(text) {
            if let Some(kos) = self.en_to_ko.get(stem(&w)) {
                for k in kos {
                    if seen.insert(k.as_str()) {
                        out.push(k);
                    }
                }
            }
        }
        out.join(" ")
    }

    /// An English keyword summary of Korean `reviews`: the English words whose
    /// Korean stems occur in the most reviews (at least `min_reviews` of them),
    /// most frequent first, at most a couple of dozen.
    pub fn english_summary<'a>(&self, reviews: impl IntoIterator<Item = &'a str>, min_reviews: usize) -> String {
        let mut count: HashMap<&str, usize> = HashMap::new();
        for text in reviews {
            let mut in_this: Vec<&str> = Vec::new();
            for (i, c) in text.char_indices() {
                for (ko, en) in self.ko_to_en.get(&c).map_or(&[][..], Vec::as_slice) {
                    if text[i..].starts_with(ko.as_str()) && !in_this.contains(&en.as_str()) {
                        in_this.push(en);
                    }
                }
            }
            for en in in_this {
                *count.entry(en).or_default() += 1;
            }
        }
        let mut ranked: Vec<(&str, usize)> = count.into_iter().filter(|&(_, n)| n >= min_reviews.max(1)).collect();
        ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        ranked.into_iter().take(SUMMARY_WORDS).map(|(w, _)| w).collect::<Vec<_>>().join(" ")
    }
}

/// The light English stemming the lexical index uses (plural `s`).
fn stem(word: &str) -> &str {
    if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") { &word[..word.len() - 1] } else { word }
}

/// Consonant classes shared by both scripts.
const K: char = 'k';
const P: char = 'p';
const T: char = 't';
const S: char = 's';
const L: char = 'l';
const M: char = 'm';
const N: char = 'n';
const H: char = 'h';

fn push_class(out: &mut String, c: char) {
    if out.ends_with(c) {
        return;
    }
    out.push(c);
}

/// The consonant skeleton of one Latin word as Korean loanword spelling hears
/// it: vowels, `w`/`y`, silent `gh` and post-vocalic `r` dropped, similar
/// consonants merged ("Costner" → "kstn", "Jackman" → "skmn").
pub fn skeleton_latin(word: &str) -> String {
    let chars: Vec<char> = word.chars().flat_map(char::to_lowercase).map(fold_accent).collect();
    let vowel = |c: Option<&char>| c.is_some_and(|c| "aeiouy".contains(*c));
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1);
        let two = |a: char, b: char| c == a && next == Some(&b);
        let (class, step) = if two('p', 'h') {
            (Some(P), 2)
        } else if two('t', 'h') {
            (Some(T), 2)
        } else if two('s', 'h') || two('c', 'h') {
            (Some(S), 2)
        } else if two('c', 'k') || two('q', 'u') {
            (Some(K), 2)
        } else if two('g', 'h') {
            (None, 2)
        } else {
            let class = match c {
                'b' | 'p' | 'f' | 'v' => Some(P),
                'c' if next.is_some_and(|n| "eiy".contains(*n)) => Some(S),
                'c' | 'k' | 'q' => Some(K),
                'g' if i > 0 && chars[i - 1] == 'n' && !vowel(next) => None,
                'g' => Some(K),
                'd' | 't' => Some(T),
                's' | 'z' | 'j' => Some(S),
                'x' => {
                    push_class(&mut out, K);
                    Some(S)
                }
                'r' if i > 0 && vowel(chars.get(i - 1)) && !vowel(next) => None,
                'l' | 'r' => Some(L),
                'm' => Some(M),
                'n' => Some(N),
                'h' if i == 0 => Some(H),
                _ => None,
            };
            (class, 1)
        };
        if let Some(cl) = class {
            push_class(&mut out, cl);
        }
        i += step;
    }
    out
}

/// Latin letters without their accents (Léon → leon), for matching titles and names.
pub(crate) fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        'ñ' => 'n',
        _ => c,
    }
}

/// Initial consonants of a Hangul syllable, by index (ㄱ ㄲ ㄴ ㄷ ㄸ ㄹ ㅁ ㅂ ㅃ ㅅ ㅆ ㅇ ㅈ ㅉ ㅊ ㅋ ㅌ ㅍ ㅎ).
const INITIALS: [Option<char>; 19] = [
    Some(K),
    Some(K),
    Some(N),
    Some(T),
    Some(T),
    Some(L),
    Some(M),
    Some(P),
    Some(P),
    Some(S),
    Some(S),
    None,
    Some(S),
    Some(S),
    Some(S),
    Some(K),
    Some(T),
    Some(P),
    Some(H),
];
/// Final consonants by index (none, ㄱ ㄲ ㄳ ㄴ ㄵ ㄶ ㄷ ㄹ ㄺ ㄻ ㄼ ㄽ ㄾ ㄿ ㅀ ㅁ ㅂ ㅄ ㅅ ㅆ ㅇ ㅈ ㅊ ㅋ ㅌ ㅍ ㅎ);
/// in loanwords a final ㅅ stands for *t* ("로봇").
const FINALS: [&str; 28] = [
    "", "k", "k", "k", "n", "n", "n", "t", "l", "lk", "lm", "lp", "ls", "lt", "lp", "l", "m", "p", "ps", "t", "t", "n",
    "t", "t", "k", "t", "p", "",
];

/// The consonant skeleton of one Hangul word, comparable with [`skeleton_latin`]
/// ("코스트너" → "kstn", "잭맨" → "skmn"). Non-Hangul characters are skipped.
pub fn skeleton_hangul(word: &str) -> String {
    let mut out = String::new();
    for c in word.chars() {
        let code = c as u32;
        if !(0xAC00..=0xD7A3).contains(&code) {
            continue;
        }
        let s = code - 0xAC00;
        let (initial, fin) = ((s / 28 / 21) as usize, (s % 28) as usize);
        if let Some(cl) = INITIALS[initial] {
            push_class(&mut out, cl);
        }
        for cl in FINALS[fin].chars() {
            push_class(&mut out, cl);
        }
    }
    out
}

/// Shortest skeleton used for matching: two consonants match far too much.
pub const MIN_SKELETON: usize = 3;

/// Longest Hangul word (in syllables) taken for a name.
const MAX_NAME_SYLLABLES: usize = 4;

/// Korean particles stripped from a query word before its skeleton is taken ("코스트너가").
const PARTICLES: &[&str] =
    &["이랑", "하고", "에서", "으로", "가", "이", "은", "는", "을", "를", "의", "와", "과", "랑", "도", "로"];

/// The index term for a skeleton (a Latin word no real text contains).
pub fn skeleton_term(skeleton: &str) -> String {
    format!("zq{skeleton}")
}

/// Skeleton terms of the Latin words of `text` (names: cast, titles), space-separated.
pub fn latin_skeleton_terms(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for w in crate::text::words(text) {
        if w.chars().all(|c| c.is_alphabetic() && !crate::text::is_cjk(c)) {
            let sk = skeleton_latin(&w);
            if sk.chars().count() >= MIN_SKELETON {
                let t = skeleton_term(&sk);
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
    }
    out.join(" ")
}

/// Skeleton terms of the Hangul words of a question (each with and without a
/// trailing particle), space-separated.
pub fn hangul_skeleton_terms(query: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for w in query.split(|c: char| !c.is_alphanumeric()) {
        if w.chars().count() < 2 || !w.chars().all(|c| (0xAC00..=0xD7A3).contains(&(c as u32))) {
            continue;
        }
        let mut forms = vec![w];
        for p in PARTICLES {
            if let Some(stripped) = w.strip_suffix(p)
                && stripped.chars().count() >= 2
            {
                forms.push(stripped);
                break;
            }
        }
        // Longer words are compounds ("빽투더퓨처") whose skeleton collides with unrelated names.
        for f in forms.into_iter().filter(|f| f.chars().count() <= MAX_NAME_SYLLABLES) {
            let sk = skeleton_hangul(f);
            if sk.chars().count() >= MIN_SKELETON {
                let t = skeleton_term(&sk);
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_and_hangul_spellings_of_a_name_share_a_skeleton() {
        for (en, ko) in [
            ("Costner", "코스트너"),
            ("Jackman", "잭맨"),
            ("Gibson", "깁슨"),
            ("Sinise", "시니즈"),
            ("Cruise", "크루즈"),
            ("Hanks", "행크스"),
            ("Robert", "로버트"),
            ("Peaks", "픽스"),
            ("DiCaprio", "디카프리오"),
        ] {
            assert_eq!(skeleton_latin(en), skeleton_hangul(ko), "{en} / {ko}");
        }
        assert_ne!(skeleton_latin("Costner"), skeleton_hangul("코미디"));
    }

    #[test]
    fn query_skeletons_drop_particles_and_short_words() {
        let t = hangul_skeleton_terms("케빈 코스트너가 나오는 영화");
        assert!(t.split(' ').any(|w| w == skeleton_term("kstn")), "{t}");
        assert!(t.split(' ').any(|w| w == skeleton_term("kpn")), "케빈 = Kevin: {t}");
        assert_eq!(hangul_skeleton_terms("영화 나오는"), "", "too few consonants to match on");
    }

    #[test]
    fn lexicon_renders_english_in_korean_and_summarises_korean_reviews_in_english() {
        let lex = Lexicon::parse("# c\nprison\t감옥 교도소\nscary\t무서 공포\nfunny\t웃기\n");
        assert_eq!(lex.len(), 3);
        assert_eq!(lex.korean_terms("He escapes from prisons."), "감옥 교도소");
        let reviews = ["너무 무서워요", "무서운 장면", "웃기다"];
        assert_eq!(lex.english_summary(reviews.iter().copied(), 2), "scary");
        assert_eq!(lex.english_summary(reviews.iter().copied(), 1), "scary funny");
        assert!(!Lexicon::builtin().is_empty());
    }
}
