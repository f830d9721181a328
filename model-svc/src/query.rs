//! Reads soft hints out of a free-text question: genres, a year or decade,
//! and review aspects ("scary?", "the ending?"), in Korean and English.
//!
//! Hints only boost or steer retrieval; they never filter, because the
//! corpus genres are noisy and a wrong guess must not hide the right movie.

/// Genre words (Korean and English) and the corpus genre label they mean.
const GENRES: &[(&str, &str)] = &[
    ("공포", "Horror"),
    ("호러", "Horror"),
    ("horror", "Horror"),
    ("scary", "Horror"),
    ("코미디", "Comedy"),
    ("코믹", "Comedy"),
    ("comedy", "Comedy"),
    ("funny", "Comedy"),
    ("액션", "Action"),
    ("action", "Action"),
    ("스릴러", "Thriller"),
    ("thriller", "Thriller"),
    ("로맨스", "Romance"),
    ("멜로", "Romance"),
    ("사랑", "Romance"),
    ("romance", "Romance"),
    ("romantic", "Romance"),
    ("모험", "Adventure"),
    ("adventure", "Adventure"),
    ("sf", "Science Fiction"),
    ("공상과학", "Science Fiction"),
    ("sci", "Science Fiction"),
    ("science", "Science Fiction"),
    ("애니메이션", "Animated"),
    ("애니", "Animated"),
    ("만화", "Animated"),
    ("animated", "Animated"),
    ("animation", "Animated"),
    ("cartoon", "Animated"),
    ("판타지", "Fantasy"),
    ("fantasy", "Fantasy"),
    ("범죄", "Crime"),
    ("crime", "Crime"),
    ("갱스터", "Crime"),
    ("gangster", "Crime"),
    ("뮤지컬", "Musical"),
    ("musical", "Musical"),
    ("전쟁", "War"),
    ("war", "War"),
    ("전기", "Biography"),
    ("실화", "Biography"),
    ("biopic", "Biography"),
    ("biography", "Biography"),
    ("슈퍼히어로", "Superhero"),
    ("히어로", "Superhero"),
    ("superhero", "Superhero"),
    ("가족", "Family"),
    ("family", "Family"),
    ("역사", "Historical"),
    ("사극", "Historical"),
    ("historical", "Historical"),
    ("느와르", "Noir"),
    ("누아르", "Noir"),
    ("noir", "Noir"),
    ("서부", "Western"),
    ("western", "Western"),
    ("미스터리", "Mystery"),
    ("mystery", "Mystery"),
    ("슬래셔", "Slasher"),
    ("slasher", "Slasher"),
    ("스포츠", "Sports"),
    ("sports", "Sports"),
    ("sport", "Sports"),
    ("첩보", "Spy"),
    ("스파이", "Spy"),
    ("spy", "Spy"),
    ("드라마", "Drama"),
    ("drama", "Drama"),
    ("재난", "Disaster"),
    ("disaster", "Disaster"),
    ("무술", "Martial Arts"),
    ("무협", "Martial Arts"),
    ("쿵푸", "Martial Arts"),
    ("kung", "Martial Arts"),
    ("martial", "Martial Arts"),
];

/// What reviewers are asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aspect {
    /// Is it scary / tense?
    Scary,
    /// The ending.
    Ending,
    /// The acting.
    Acting,
    /// Music / soundtrack.
    Music,
    /// Is it fun / boring / worth it (general opinion).
    General,
}

impl Aspect {
    /// Words that find reviews about this aspect (used as a review query).
    pub fn review_terms(self) -> &'static str {
        match self {
            Self::Scary => "무서 무섭 무서움 공포 소름 깜짝 scary horror frightening",
            Self::Ending => "결말 마지막 엔딩 반전 끝 ending twist",
            Self::Acting => "연기 배우 연기력 acting performance",
            Self::Music => "음악 OST 노래 음악이 music soundtrack score",
            Self::General => "재밌 재미 최고 지루 감동 fun boring great",
        }
    }
}

/// Hints found in a question.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    /// Corpus genre labels mentioned.
    pub genres: Vec<&'static str>,
    /// An inclusive year range mentioned ("1994", "90년대", "the 80s").
    pub years: Option<(i32, i32)>,
    /// A review aspect asked about, if the question is about opinions.
    pub aspect: Option<Aspect>,
}

/// Extracts [`Hints`] from `question`.
pub fn hints(question: &str) -> Hints {
    let lower = question.to_lowercase();
    let mut h = Hints::default();
    for word in crate::text::words(&lower) {
        for &(key, genre) in GENRES {
            let hit = if key.is_ascii() { word == key } else { word.starts_with(key) };
            if hit && !h.genres.contains(&genre) {
                h.genres.push(genre);
            }
        }
        h.years = h.years.or_else(|| year_of(&word));
    }
    h.aspect = aspect(&lower);
    h
}

fn year_of(word: &str) -> Option<(i32, i32)> {
    let digits: String = word.chars().take_while(char::is_ascii_digit).collect();
    let rest = &word[digits.len()..];
    let n: i32 = digits.parse().ok()?;
    let decade = rest.starts_with("년대") || rest == "s";
    match digits.len() {
        4 if (1900..=2030).contains(&n) => {
            if decade {
                Some((n, n + 9))
            } else {
                Some((n, n))
            }
        }
        2 if decade => {
            let base = if n >= 30 { 1900 + n } else { 2000 + n };
            Some((base, base + 9))
        }
        _ => None,
    }
}

fn aspect(lower: &str) -> Option<Aspect> {
    let any = |keys: &[&str]| keys.iter().any(|k| lower.contains(k));
    if any(&["무서", "무섭", "scary", "frightening", "creepy", "소름"]) {
        Some(Aspect::Scary)
    } else if any(&["결말", "엔딩", "ending", "마지막 장면", "twist", "반전"]) {
        Some(Aspect::Ending)
    } else if any(&["연기", "acting", "performance"]) {
        Some(Aspect::Acting)
    } else if any(&["음악", "ost", "soundtrack", "music"]) {
        Some(Aspect::Music)
    } else if any(&["평", "리뷰", "반응", "review", "people say", "재밌", "재미있", "worth", "볼만", "지루", "boring"])
    {
        Some(Aspect::General)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_genres_years_and_aspects_in_both_languages() {
        let h = hints("90년대 공포 영화 무서워?");
        assert_eq!(h.genres, vec!["Horror"]);
        assert_eq!(h.years, Some((1990, 1999)));
        assert_eq!(h.aspect, Some(Aspect::Scary));
        let h = hints("a 1985 science fiction comedy — how is the ending?");
        assert!(h.genres.contains(&"Science Fiction") && h.genres.contains(&"Comedy"));
        assert_eq!(h.years, Some((1985, 1985)));
        assert_eq!(h.aspect, Some(Aspect::Ending));
        assert_eq!(hints("the 80s").years, Some((1980, 1989)));
    }
}
