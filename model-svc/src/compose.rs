//! The deterministic composer: writes an answer from retrieved records in
//! Korean or English (top movies with a one-line reason, what reviewers say,
//! the next step). Booking turns are not written here: the `dialog` crate's
//! policy decides their words and tool calls (see `answer.rs`).
//!
//! It is pure: no I/O, no clock, no index access. The same inputs always
//! give the same text, which the tests rely on.

use std::sync::Arc;

use crate::catalog::Movie;
use crate::index::{Hit, ReviewHit, Sentiment};
use crate::query::Aspect;
use crate::text;

/// How many movies a recommendation lists.
pub const LISTED: usize = 3;
/// Longest quoted review or synopsis sentence, in characters.
const QUOTE_CHARS: usize = 90;
/// Longest synopsis sentence used as a reason, in characters.
const REASON_CHARS: usize = 150;

/// The booking tools the gateway executes: the typed contract of the
/// `booking-tools` crate (proto/marquee/v1/model.proto, `ToolCall`).
pub use booking_tools::{Tool, ToolCall};

/// A record the answer relies on.
#[derive(Debug, Clone, PartialEq)]
pub struct Citation {
    /// The movie.
    pub movie_id: String,
    /// The review, when the snippet is from one.
    pub review_id: Option<String>,
    /// The passage used.
    pub snippet: String,
    /// Licence attribution to show with it (may be empty).
    pub attribution: String,
}

/// The result of a tool the gateway ran, parsed once where the request
/// arrives (`service.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    /// The call id it answers.
    pub call_id: String,
    /// The tool and its typed result or error.
    pub result: booking_tools::ToolResult,
}

/// One piece of a composed answer, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Answer text.
    Text(String),
    /// A citation for the text just before it.
    Cite(Citation),
    /// A tool call to propose (the id is assigned when streaming).
    Call(ToolCall),
}

/// Reviews of the movie in focus, for opinion questions and summaries.
#[derive(Debug, Clone)]
pub struct Focus {
    /// The movie.
    pub movie: Arc<Movie>,
    /// Its reviews that best match the question.
    pub reviews: Vec<ReviewHit>,
    /// Aggregate of all its review ratings.
    pub sentiment: Sentiment,
}

/// Everything the composer needs.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// Answer in Korean?
    pub korean: bool,
    /// The user's text.
    pub text: &'a str,
    /// The review aspect asked about, if any.
    pub aspect: Option<Aspect>,
    /// Retrieved movies, best first.
    pub hits: &'a [Hit],
    /// The movie the question is about (on screen, or the best hit), with reviews.
    pub focus: Option<Focus>,
    /// The showtime on screen.
    pub showtime_id: Option<&'a str>,
    /// The movie on screen.
    pub screen_movie: Option<Arc<Movie>>,
    /// Set when recommending among the movies showing at a requested time:
    /// the opening line (Korean, English); the closing "shall I book" line is
    /// left to the booking dialogue, which offers the showtimes.
    pub showing_intro: Option<(&'a str, &'a str)>,
}

/// Composes a discovery or opinion answer. The parts' text concatenated is
/// the whole answer. Booking turns are the dialogue's (`dialog::policy`).
pub fn compose(input: &Input<'_>) -> Vec<Part> {
    let mut w = Writer { ko: input.korean, parts: Vec::new() };
    let asked = input.focus.as_ref().map(|f| f.movie.clone()).or_else(|| input.hits.first().map(|h| h.movie.clone()));
    if let (true, None, Some(movie)) = (asks_cast(input.text), input.showing_intro, asked)
        && !movie.cast.is_empty()
    {
        cast(&mut w, &movie);
    } else if let (Some(aspect), Some(focus), None) = (input.aspect, &input.focus, input.showing_intro) {
        opinions(&mut w, focus, aspect);
    } else {
        recommend(&mut w, input);
    }
    w.parts
}

/// True when the question asks who is in a film (not which films someone is in).
pub fn asks_cast(text: &str) -> bool {
    let t = text.to_lowercase();
    [
        "누가 나와",
        "누가 나오",
        "누가 출연",
        "출연진",
        "출연 배우",
        "출연배우",
        "배우가 누구",
        "배우 누구",
        "주연이 누구",
        "주연 배우가",
        "캐스팅",
        "who is in",
        "who's in",
        "who stars in",
        "cast of",
        "who plays in",
        "who acted in",
        "the cast",
    ]
    .iter()
    .any(|k| t.contains(k))
}

/// A cast question: the film and its cast, nothing else.
fn cast(w: &mut Writer, m: &Movie) {
    let names = if w.ko && !m.cast_ko.is_empty() { &m.cast_ko } else { &m.cast };
    let names: Vec<&str> = names.iter().take(6).map(String::as_str).collect();
    let title = w.title(m);
    let year = if m.year > 0 { format!(" ({})", m.year) } else { String::new() };
    if w.ko {
        w.text(&format!("{title}{year}에는 {} 등이 출연해요.", names.join(", ")));
    } else {
        let list = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        };
        w.text(&format!("{title}{year} stars {list}."));
    }
    w.cite(Citation {
        movie_id: m.id.clone(),
        review_id: None,
        snippet: names.join(", "),
        attribution: m.attribution(),
    });
    w.say("\n\n이 영화 상영 시간을 찾아 드릴까요?", "\n\nShall I look for showtimes of it?");
}

/// The answer as plain text for read-aloud: no brackets, list numbers or line breaks.
pub fn speech(parts: &[Part]) -> String {
    let mut out = String::new();
    for p in parts {
        if let Part::Text(t) = p {
            out.push_str(t);
        }
    }
    let mut lines = Vec::new();
    for line in out.lines() {
        let line = line.trim();
        let line = line.trim_start_matches(|c: char| c.is_ascii_digit()).trim_start_matches(". ");
        let line = line.trim_start_matches("- ");
        if !line.is_empty() {
            lines.push(line.replace(['《', '》'], "").replace(" — ", ", "));
        }
    }
    lines.join(" ")
}

struct Writer {
    ko: bool,
    parts: Vec<Part>,
}

impl Writer {
    fn text(&mut self, s: &str) {
        if let Some(Part::Text(t)) = self.parts.last_mut() {
            t.push_str(s);
        } else {
            self.parts.push(Part::Text(s.to_owned()));
        }
    }

    fn say(&mut self, ko: &str, en: &str) {
        let s = if self.ko { ko } else { en };
        self.text(s);
    }

    fn cite(&mut self, c: Citation) {
        self.parts.push(Part::Cite(c));
    }

    fn title(&self, m: &Movie) -> String {
        if self.ko { format!("《{}》", m.display_title(true)) } else { m.title.clone() }
    }
}

/// True when the last Hangul syllable of `s` has a final consonant, which
/// picks the particle (은/는, 이/가, 과/와, 으로/로).
fn has_batchim(s: &str) -> bool {
    let s = s.trim_end_matches(['》', ')', '"', '”', ' ']);
    match s.chars().last() {
        Some(c @ '\u{AC00}'..='\u{D7A3}') => !(c as u32 - 0xAC00).is_multiple_of(28),
        Some(c) if c.is_ascii_digit() => matches!(c, '0' | '1' | '3' | '6' | '7' | '8'),
        Some(c) => matches!(c.to_ascii_lowercase(), 'l' | 'm' | 'n'),
        None => false,
    }
}

/// `word` followed by the particle that fits it.
fn josa(word: &str, with: &str, without: &str) -> String {
    format!("{word}{}", if has_batchim(word) { with } else { without })
}

/// Positive, mixed and negative shares in whole percent that add up to 100
/// (largest remainder), so "98 %, 3 %" never happens.
pub fn shares(s: Sentiment) -> (u32, u32, u32) {
    if s.count == 0 {
        return (0, 0, 0);
    }
    let mixed = (1.0 - s.positive - s.negative).max(0.0);
    let raw = [s.positive * 100.0, mixed * 100.0, s.negative * 100.0];
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mut whole: Vec<u32> = raw.iter().map(|x| x.floor() as u32).collect();
    let mut order: Vec<usize> = (0..3).collect();
    order.sort_by(|&a, &b| (raw[b] - raw[b].floor()).total_cmp(&(raw[a] - raw[a].floor())).then(a.cmp(&b)));
    let mut left = 100u32.saturating_sub(whole.iter().sum());
    for i in order.into_iter().cycle().take(6) {
        if left == 0 {
            break;
        }
        whole[i] += 1;
        left -= 1;
    }
    (whole[0], whole[1], whole[2])
}

/// Words that keep a review out of an answer (profanity, and the corpus' "OOO" masking of it).
const CRUDE: &[&str] = &[
    "시발",
    "씨발",
    "씨바",
    "시바",
    "ㅅㅂ",
    "ㅆㅂ",
    "병신",
    "ㅂㅅ",
    "개새",
    "새끼",
    "좆",
    "존나",
    "졸라",
    "ㅈ같",
    "썅",
    "미친놈",
    "fuck",
    "shit",
    "ooo",
    "개x",
    "x새",
];

/// True when `text` may be quoted: no link, no crude word, no profanity
/// disguised with digits ("ㅆ1바"), not mostly punctuation.
pub fn quotable(text: &str) -> bool {
    let lower = text.to_lowercase();
    let link = ["http", "www.", ".com", ".kr", ".net"].iter().any(|k| lower.contains(k));
    let crude = CRUDE.iter().any(|w| lower.contains(w));
    let chars: Vec<char> = text.chars().collect();
    let disguised = chars.windows(2).any(|p| matches!(p[0] as u32, 0x3131..=0x314E) && p[1].is_ascii_digit())
        || chars.windows(2).any(|p| crate::text::is_cjk(p[0]) && p[1].is_ascii_digit() && p[1] == '1');
    let letters = chars.iter().filter(|c| c.is_alphanumeric()).count();
    !link && !crude && !disguised && letters * 2 >= chars.len()
}

/// The shipped lexicon, for English glosses of Korean quotes.
static LEXICON: std::sync::LazyLock<crate::crosslingual::Lexicon> =
    std::sync::LazyLock::new(crate::crosslingual::Lexicon::builtin);

/// How a review is shown in an answer: quoted as is, or — in an English
/// answer — a Korean review summarised in English words (`None` when no
/// English gloss can be given: better unsaid than untranslated).
fn shown_quote(korean_answer: bool, text: &str) -> Option<String> {
    if korean_answer || !crate::text::has_hangul(text) {
        return Some(crate::text::snippet(text, QUOTE_CHARS));
    }
    let gloss = LEXICON.english_summary([text], 1);
    (!gloss.is_empty()).then(|| format!("(a Korean review, in short: {})", gloss.replace(' ', ", ")))
}

/// The one-line reason for recommending `hit`, and the citation backing it.
fn reason(w: &Writer, hit: &Hit, question: &str) -> (String, Option<Citation>) {
    let m = &hit.movie;
    let synopsis = if w.ko {
        m.synopsis_ko.as_deref().or(m.synopsis.as_deref().filter(|_| m.lang.as_deref() == Some("ko")))
    } else {
        m.synopsis.as_deref().filter(|_| m.lang.as_deref() != Some("ko"))
    };
    let best_review = hit
        .reviews
        .iter()
        .find(|r| r.score > 0.0 && quotable(&r.review.text) && shown_quote(w.ko, &r.review.text).is_some());
    let sentence = synopsis.map(|s| best_sentence(s, question));
    if let Some((sentence, overlap)) = sentence.clone()
        && (overlap > 0 || best_review.is_none())
    {
        let attribution = if m.synopsis_ko.is_some() && w.ko { String::new() } else { m.attribution() };
        let cite = Citation { movie_id: m.id.clone(), review_id: None, snippet: sentence.clone(), attribution };
        return (sentence, Some(cite));
    }
    if let Some(r) = best_review {
        let quote = text::snippet(&r.review.text, QUOTE_CHARS);
        let shown = shown_quote(w.ko, &r.review.text).unwrap_or_default();
        let line = if w.ko {
            format!("관객 리뷰에 “{quote}”라는 평이 있어요.")
        } else if shown.starts_with('(') {
            format!("Reviewers' words {shown}.")
        } else {
            format!("A reviewer wrote: “{shown}”")
        };
        let cite = Citation {
            movie_id: m.id.clone(),
            review_id: Some(r.review.id.clone()),
            snippet: quote,
            attribution: String::new(),
        };
        return (line, Some(cite));
    }
    let genres = if w.ko {
        m.genres_ko.iter().take(2).cloned().collect::<Vec<_>>().join("·")
    } else {
        m.genres.iter().take(2).cloned().collect::<Vec<_>>().join(" and ").to_lowercase()
    };
    let cast_src = if w.ko && !m.cast_ko.is_empty() { &m.cast_ko } else { &m.cast };
    let cast: Vec<&str> = cast_src.iter().take(2).map(String::as_str).collect();
    let line = match (w.ko, genres.is_empty(), cast.is_empty()) {
        (true, false, false) => format!("{} 영화로, {} 등이 출연해요.", genres, cast.join(", ")),
        (true, false, true) => format!("{genres} 영화예요."),
        (true, true, false) => format!("{} 등이 출연해요.", cast.join(", ")),
        (false, false, false) => format!("A {genres} film starring {}.", cast.join(" and ")),
        (false, false, true) => format!("A {genres} film."),
        (false, true, false) => format!("Starring {}.", cast.join(" and ")),
        (_, true, true) => String::new(),
    };
    (line, None)
}

/// The sentence of `text` sharing most terms with `question` (first on ties), with the overlap.
fn best_sentence(text: &str, question: &str) -> (String, usize) {
    let q: std::collections::HashSet<text::Term> = text::terms(question, true).into_iter().collect();
    let mut best: Option<(&str, usize)> = None;
    for s in text::sentences(text).into_iter().take(30) {
        let terms: std::collections::HashSet<text::Term> = text::terms(s, true).into_iter().collect();
        let overlap = terms.intersection(&q).count();
        if best.is_none_or(|b| overlap > b.1) {
            best = Some((s, overlap));
        }
    }
    best.map_or((String::new(), 0), |(s, o)| (text::snippet(s, REASON_CHARS), o))
}

fn recommend(w: &mut Writer, input: &Input<'_>) {
    if input.hits.is_empty() {
        w.say(
            "죄송해요, 말씀하신 조건에 맞는 영화를 찾지 못했어요. 장르나 배우, 개봉 연도를 알려 주시면 다시 찾아볼게요.",
            "Sorry, I could not find a movie that fits. Tell me a genre, an actor or a year and I will look again.",
        );
        return;
    }
    let listed: Vec<&Hit> = input.hits.iter().take(LISTED).collect();
    if let Some((ko, en)) = input.showing_intro {
        w.say(ko, en);
        w.text("\n");
    } else if listed.len() == 1 {
        w.say("말씀하신 내용에 가장 잘 맞는 영화는 이거예요.\n", "Here is the movie that fits best.\n");
    } else if w.ko {
        w.text(&format!("말씀하신 내용에 잘 맞는 영화 {}편을 골라 봤어요.\n", listed.len()));
    } else {
        w.text(&format!("Here are {} movies that fit what you asked for.\n", listed.len()));
    }
    for (i, hit) in listed.iter().enumerate() {
        let m = &hit.movie;
        let (line, cite) = reason(w, hit, input.text);
        let year = if m.year > 0 { format!(" ({})", m.year) } else { String::new() };
        let rating = m
            .rating
            .map(|r| if w.ko { format!(" 평점 {r:.1}점.") } else { format!(" Rated {r:.1}/10.") })
            .unwrap_or_default();
        let title = w.title(m);
        w.text(&format!("\n{}. {title}{year} — {line}{rating}", i + 1));
        if let Some(c) = cite {
            w.cite(c);
        }
    }
    if let Some(focus) = &input.focus
        && focus.sentiment.count > 0
    {
        w.text("\n\n");
        summary(w, focus);
    }
    if input.showing_intro.is_some() {
        return;
    }
    w.say(
        "\n\n마음에 드는 영화가 있으면 말씀해 주세요. 상영 시간을 찾아 예매까지 도와 드릴게요.",
        "\n\nIf one of these appeals to you, tell me and I will find showtimes and help you book.",
    );
}

/// "Reviewers give X an average of …" plus one quote.
fn summary(w: &mut Writer, focus: &Focus) {
    let s = focus.sentiment;
    let title = w.title(&focus.movie);
    let (pos, _, _) = shares(s);
    if w.ko {
        w.text(&format!(
            "관객 리뷰를 보면 {} 리뷰 {}개의 평균이 {:.1}점이고, {}%가 호평이에요.",
            josa(&title, "은", "는"),
            s.count,
            s.mean,
            pos
        ));
    } else {
        w.text(&format!(
            "Reviewers give {title} an average of {:.1}/10 over {} reviews, and {}% of them are positive.",
            s.mean, s.count, pos
        ));
    }
    let ko = w.ko;
    if let Some((r, shown)) = focus
        .reviews
        .iter()
        .filter(|r| quotable(&r.review.text))
        .find_map(|r| Some((r, shown_quote(ko, &r.review.text)?)))
    {
        let quote = text::snippet(&r.review.text, QUOTE_CHARS);
        if w.ko {
            w.text(&format!(" “{quote}”라는 평도 있어요."));
        } else if shown.starts_with('(') {
            w.text(&format!(" One of them {shown}."));
        } else {
            w.text(&format!(" One of them says: “{shown}”"));
        }
        w.cite(Citation {
            movie_id: focus.movie.id.clone(),
            review_id: Some(r.review.id.clone()),
            snippet: quote,
            attribution: String::new(),
        });
    }
}

fn opinions(w: &mut Writer, focus: &Focus, aspect: Aspect) {
    let title = w.title(&focus.movie);
    if focus.sentiment.count == 0 {
        if w.ko {
            w.text(&format!("{}에 대한 관객 리뷰는 아직 없어요.", title));
        } else {
            w.text(&format!("There are no reviews of {title} yet."));
        }
        if let Some(s) = focus.movie.synopsis_ko.as_deref().filter(|_| w.ko).or(focus.movie.synopsis.as_deref()) {
            let line = text::first_sentence(s, QUOTE_CHARS * 2);
            w.say(" 줄거리는 이래요: ", " Here is what it is about: ");
            w.text(&line);
            w.cite(Citation {
                movie_id: focus.movie.id.clone(),
                review_id: None,
                snippet: line,
                attribution: focus.movie.attribution(),
            });
        }
        w.say("\n\n보고 싶으시면 상영 시간을 찾아 드릴까요?", "\n\nWould you like me to find showtimes?");
        return;
    }
    let about = match (aspect, w.ko) {
        (Aspect::Scary, true) => "무서운지",
        (Aspect::Ending, true) => "결말이 어떤지",
        (Aspect::Acting, true) => "연기가 어떤지",
        (Aspect::Music, true) => "음악이 어떤지",
        (Aspect::General, true) => "볼만한지",
        (Aspect::Scary, false) => "how scary it is",
        (Aspect::Ending, false) => "the ending",
        (Aspect::Acting, false) => "the acting",
        (Aspect::Music, false) => "the music",
        (Aspect::General, false) => "whether it is worth watching",
    };
    if w.ko {
        w.text(&format!("{} {} 관객 리뷰에서 찾아봤어요.\n", title, about));
    } else {
        w.text(&format!("Here is what reviewers of {title} say about {about}.\n"));
    }
    let ko = w.ko;
    let quoted: Vec<(&ReviewHit, String)> = focus
        .reviews
        .iter()
        .filter(|r| quotable(&r.review.text))
        .filter_map(|r| Some((r, shown_quote(ko, &r.review.text)?)))
        .take(3)
        .collect();
    for (r, shown) in quoted {
        let quote = text::snippet(&r.review.text, QUOTE_CHARS);
        if w.ko {
            w.text(&format!("\n- “{quote}” ({}점)", r.review.rating));
        } else if shown.starts_with('(') {
            w.text(&format!("\n- {shown} ({}/10)", r.review.rating));
        } else {
            w.text(&format!("\n- “{shown}” ({}/10)", r.review.rating));
        }
        w.cite(Citation {
            movie_id: focus.movie.id.clone(),
            review_id: Some(r.review.id.clone()),
            snippet: quote,
            attribution: String::new(),
        });
    }
    let s = focus.sentiment;
    let verdict = if s.positive >= 0.6 {
        if w.ko { "대체로 호평이 많은 편이에요." } else { "Most reviewers liked it." }
    } else if s.negative >= 0.35 {
        if w.ko { "평이 꽤 엇갈리는 편이에요." } else { "Opinions are clearly divided." }
    } else {
        if w.ko { "평가는 무난한 편이에요." } else { "Reviews are mostly middling." }
    };
    let (pos, mixed, neg) = shares(s);
    if w.ko {
        w.text(&format!(
            "\n\n리뷰 {}개의 평균 평점은 {:.1}점이고, 호평이 {pos}%, 보통이 {mixed}%, 혹평이 {neg}%예요. {verdict}",
            s.count, s.mean
        ));
    } else {
        w.text(&format!(
            "\n\nAcross {} reviews the average rating is {:.1}/10: {pos}% positive, {mixed}% mixed, {neg}% negative. {verdict}",
            s.count, s.mean
        ));
    }
    w.say("\n\n보고 싶으시면 상영 시간을 찾아 드릴까요?", "\n\nWould you like me to find showtimes?");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn particles_follow_the_final_consonant() {
        assert_eq!(josa("《부산행 막차》", "은", "는"), "《부산행 막차》는");
        assert_eq!(josa("《조용한 층》", "은", "는"), "《조용한 층》은");
    }

    #[test]
    fn a_cast_question_names_the_cast() {
        let m: Movie = serde_json::from_value(serde_json::json!({
            "id": "m1", "title": "Heat", "year": 1995, "cast": ["Al Pacino", "Robert De Niro", "Val Kilmer"],
            "cast_ko": ["알 파치노", "로버트 드 니로"]
        }))
        .unwrap();
        let hits = vec![Hit { movie: Arc::new(m), score: 1.0, reviews: Vec::new() }];
        for (ko, q, want) in [
            (false, "who is in Heat?", "Heat (1995) stars Al Pacino, Robert De Niro and Val Kilmer."),
            (true, "히트에 누가 나와?", "《Heat》 (1995)에는 알 파치노, 로버트 드 니로 등이 출연해요."),
        ] {
            let input = Input {
                korean: ko,
                text: q,
                aspect: None,
                hits: &hits,
                focus: None,
                showtime_id: None,
                screen_movie: None,
                showing_intro: None,
            };
            let parts = compose(&input);
            let Some(Part::Text(t)) = parts.first() else { panic!("{parts:?}") };
            assert_eq!(t, want);
        }
        assert!(!asks_cast("톰 행크스 나오는 영화"), "films with an actor is a search, not a cast question");
    }

    #[test]
    fn shares_add_up_to_one_hundred() {
        for (pos, neg, n) in [(0.985, 0.025, 200), (1.0 / 3.0, 1.0 / 3.0, 3), (0.0, 0.0, 5), (0.5, 0.5, 2)] {
            let s = Sentiment { count: n, mean: 5.0, positive: pos, negative: neg };
            let (p, m, q) = shares(s);
            assert_eq!(p + m + q, 100, "{pos} {neg}: {p} {m} {q}");
        }
        assert_eq!(shares(Sentiment::default()), (0, 0, 0));
    }

    #[test]
    fn links_and_crude_reviews_are_not_quoted_and_english_answers_gloss_korean() {
        assert!(quotable("정말 감동적인 영화였어요"));
        assert!(!quotable("자세한 건 http://example.com 참고"));
        assert!(!quotable("아 이 개x새ㄲ1들아 스포 하지마"));
        assert!(!quotable("ㅆ1바 진짜"));
        assert!(!quotable("이 OOO 같은 영화"));
        assert!(!quotable(";;;;;;;;;;;;;;;;;;;;;;;;"));
        let g = shown_quote(false, "너무 무서워서 잠을 못 잤다").unwrap();
        assert!(!crate::text::has_hangul(&g) && g.contains("scary"), "{g}");
        assert_eq!(shown_quote(false, "ㅋㅋㅋㅋ"), None);
        assert_eq!(shown_quote(true, "좋아요").as_deref(), Some("좋아요"));
    }

    #[test]
    fn speech_has_no_markup() {
        let parts = vec![Part::Text("골라 봤어요.\n\n1. 《A》 (2001) — 좋아요.\n- “x” (9점)".into())];
        let s = speech(&parts);
        assert!(!s.contains('《') && !s.contains('\n') && !s.contains("1. "), "{s}");
    }
}
