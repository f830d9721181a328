//! Text normalisation and the terms both retrievers index: whole Latin words
//! and Hangul/CJK character bigrams (plus single syllables).
//!
//! Korean is agglutinative ("영화를", "영화가"), and we ship no morphological
//! analyser, so Hangul words are indexed as overlapping character bigrams:
//! "영화를" gives "영화" and "화를", and a query "영화" still matches. This
//! module must stay free of index or scoring logic.

/// English words too common to help retrieval.
const STOPWORDS_EN: &[&str] = &[
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "by",
    "for",
    "from",
    "has",
    "he",
    "her",
    "his",
    "in",
    "is",
    "it",
    "its",
    "of",
    "on",
    "or",
    "she",
    "that",
    "the",
    "their",
    "they",
    "this",
    "to",
    "was",
    "were",
    "which",
    "who",
    "with",
    "film",
    "movie",
    "movies",
    "films",
    "me",
    "i",
    "you",
    "what",
    "about",
    "any",
    "some",
    "one",
    "want",
    "watch",
    "recommend",
    "like",
    "there",
    "where",
    "do",
    "does",
    "can",
    "could",
    "would",
    "show",
    "tell",
    "please",
    "my",
    "we",
    "our",
];

/// Korean words (or word stems) that say nothing about which movie is meant.
const STOPWORDS_KO: &[&str] = &[
    "영화",
    "영화를",
    "영화가",
    "영화는",
    "영화야",
    "추천",
    "추천해",
    "추천해줘",
    "추천해주세요",
    "알려줘",
    "알려주세요",
    "보고",
    "싶어",
    "싶어요",
    "뭐야",
    "뭐예요",
    "어때",
    "어때요",
    "있어",
    "있어요",
    "있나요",
    "좀",
    "나오는",
    "나온",
    "그",
    "이",
    "제목",
    "무슨",
    "어떤",
    "찾아줘",
    "찾아",
    "같은",
    "거",
    "것",
];

/// True for Hangul syllables/jamo and CJK ideographs, which are indexed as bigrams.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7A3 | 0x4E00..=0x9FFF | 0x3040..=0x30FF)
}

/// Lower-cases and splits `text` into words (runs of letters/digits).
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// A term with its kind, so scorers can weigh kinds differently.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Term {
    /// A whole Latin/digit word, lightly stemmed.
    Word(String),
    /// Two adjacent CJK characters inside one word.
    Bigram([char; 2]),
    /// One CJK character (only for one-character words).
    Unigram(char),
}

/// Very light English stemming: plural `s`, `'s` left-overs.
fn stem(word: &str) -> &str {
    if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") { &word[..word.len() - 1] } else { word }
}

/// The lexical terms of `text`. With `drop_stopwords`, query filler words are skipped.
pub fn terms(text: &str, drop_stopwords: bool) -> Vec<Term> {
    let mut out = Vec::new();
    for word in words(text) {
        if drop_stopwords && (STOPWORDS_EN.contains(&word.as_str()) || STOPWORDS_KO.contains(&word.as_str())) {
            continue;
        }
        let chars: Vec<char> = word.chars().collect();
        if chars.iter().any(|&c| is_cjk(c)) {
            if chars.len() == 1 {
                out.push(Term::Unigram(chars[0]));
            }
            for pair in chars.windows(2) {
                out.push(Term::Bigram([pair[0], pair[1]]));
            }
        } else {
            out.push(Term::Word(stem(&word).to_owned()));
        }
    }
    out
}

/// True when `text` contains Hangul, the signal for a Korean answer.
pub fn has_hangul(text: &str) -> bool {
    text.chars().any(|c| matches!(c as u32, 0xAC00..=0xD7A3 | 0x3130..=0x318F))
}

/// The first `max_chars` characters of `text`, cut at a word boundary, with "…" when cut.
pub fn snippet(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > cut.len() / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches([',', '.', ' ']))
}

/// Splits `text` into sentences (ending in `.`, `!` or `?` followed by whitespace).
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '.' | '!' | '?')
            && chars.peek().is_some_and(|&(_, n)| n.is_whitespace())
            && !(c == '.' && is_abbreviation(&text[start..i]))
        {
            let end = i + c.len_utf8();
            let s = text[start..end].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = end;
        }
    }
    let tail = text[start..].trim();
    if !tail.is_empty() {
        out.push(tail);
    }
    out
}

/// True when `before` (the text up to a period) ends in an abbreviation or an
/// initial ("Dr.", "Mrs.", "Daniel R."), where a period does not end a sentence.
fn is_abbreviation(before: &str) -> bool {
    const ABBREVIATIONS: &[&str] =
        &["dr", "mr", "mrs", "ms", "st", "jr", "sr", "vs", "no", "lt", "col", "gen", "co", "inc"];
    let word = before.rsplit(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
    let single_capital = word.chars().count() == 1 && word.chars().all(char::is_uppercase);
    single_capital || ABBREVIATIONS.contains(&word.to_lowercase().as_str())
}

/// The first sentence of `text` (up to `max_chars`).
pub fn first_sentence(text: &str, max_chars: usize) -> String {
    snippet(sentences(text).first().copied().unwrap_or(""), max_chars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_words_become_bigrams_so_particles_do_not_block_matches() {
        let t = terms("쇼생크 탈출을", false);
        assert!(t.contains(&Term::Bigram(['쇼', '생'])));
        assert!(t.contains(&Term::Bigram(['탈', '출'])));
        assert!(t.contains(&Term::Bigram(['출', '을'])));
    }

    #[test]
    fn english_words_are_lowercased_stemmed_and_stopwords_dropped() {
        let t = terms("The Robots of Mars", true);
        assert_eq!(t, vec![Term::Word("robot".into()), Term::Word("mar".into())]);
    }

    #[test]
    fn snippet_cuts_long_text() {
        assert_eq!(snippet("short", 10), "short");
        assert!(snippet("a b c d e f g h i j k l m n o p", 10).ends_with('…'));
        assert_eq!(first_sentence("One thing. Two things.", 100), "One thing.");
        assert_eq!(
            sentences("Dr. Brown and Daniel R. Smith meet. Then"),
            vec!["Dr. Brown and Daniel R. Smith meet.", "Then"]
        );
    }
}
