//! Memory vocabulary (kinds, tiers) and the lexical side of memory search: how text becomes
//! index terms, and how well a memory answers a query (a score in 0..1).
//!
//! English (and other space-separated scripts) is split into words, stop words dropped and the
//! rest stemmed (Snowball), so "prefers" finds "preference". Chinese, Japanese and Korean are not
//! segmented by spaces: their runs are indexed as overlapping character bigrams (and single
//! characters), the classic CJK approach, so `配置` finds `OpenClaw 配置文件位于…` wherever it sits.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};
use serde::{Deserialize, Serialize};

/// `long-term` (kept until deleted) or `short-term` (expires on its own; S0's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemoryKind {
    LongTerm,
    ShortTerm,
}

impl MemoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryKind::LongTerm => "long-term",
            MemoryKind::ShortTerm => "short-term",
        }
    }

    pub fn parse(s: &str) -> Option<MemoryKind> {
        match s {
            "long-term" | "long_term" | "longterm" => Some(MemoryKind::LongTerm),
            "short-term" | "short_term" | "shortterm" => Some(MemoryKind::ShortTerm),
            _ => None,
        }
    }
}

/// `wal`: as written; `compacted`: a summary that compaction folded older entries into (S2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryTier {
    Wal,
    Compacted,
}

impl MemoryTier {
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryTier::Wal => "wal",
            MemoryTier::Compacted => "compacted",
        }
    }

    pub fn parse(s: &str) -> Option<MemoryTier> {
        match s {
            "wal" => Some(MemoryTier::Wal),
            "compacted" => Some(MemoryTier::Compacted),
            _ => None,
        }
    }
}

/// What a run's credential may do with the tenant's memory: recall and the memory tools need
/// the `memory` scope, and a credential limited to one session reaches that session's alone.
/// Kept with a queued job, so the worker that runs it later grants no more than its creator had.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MemoryAccess {
    /// The tenant's own memories and the session's.
    #[default]
    Tenant,
    /// The session's memories only.
    Session,
    /// Neither recall nor the memory tools.
    Off,
}

impl MemoryAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryAccess::Tenant => "tenant",
            MemoryAccess::Session => "session",
            MemoryAccess::Off => "off",
        }
    }
}

impl TryFrom<String> for MemoryAccess {
    type Error = crate::status::UnknownStatus;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "tenant" => Ok(MemoryAccess::Tenant),
            "session" => Ok(MemoryAccess::Session),
            "off" => Ok(MemoryAccess::Off),
            _ => Err(crate::status::UnknownStatus(s)),
        }
    }
}

/// Terms a query looks for at most (a 2 000-character query of CJK text would otherwise be
/// 2 000 bigrams); the first ones are kept.
pub const MAX_QUERY_TERMS: usize = 64;
/// Longest index term kept (a 500-character "word" is noise, not something anyone searches).
const MAX_TERM_CHARS: usize = 40;

/// Words too common to say anything about relevance.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "for",
    "from", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i",
    "if", "in", "into", "is", "it", "its", "just", "me", "my", "no", "nor", "not", "of", "on",
    "or", "our", "ours", "she", "should", "so", "some", "such", "than", "that", "the", "their",
    "theirs", "them", "then", "there", "these", "they", "this", "those", "to", "too", "us", "very",
    "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will",
    "with", "would", "you", "your", "yours",
];

fn stop_words() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| STOP_WORDS.iter().copied().collect())
}

/// Han ideographs, kana and Hangul: scripts written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0x1100..=0x11FF    // Hangul Jamo
        | 0x3130..=0x318F    // Hangul compatibility Jamo
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FA1F  // Extensions B and later
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0xFF66..=0xFF9D // Half-width katakana
    )
}

/// Full-width ASCII (ＯｐｅｎＣｌａｗ, common in CJK text) read as ASCII, then lower case.
fn fold(c: char) -> impl Iterator<Item = char> {
    let c = match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    };
    c.to_lowercase()
}

enum Run {
    Word(String),
    Cjk(Vec<char>),
}

/// The text cut into runs of word characters and runs of CJK characters.
fn runs(text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut cjk = Vec::new();
    for c in text.chars().flat_map(fold) {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(Run::Word(std::mem::take(&mut word)));
            }
            cjk.push(c);
        } else if c.is_alphanumeric() {
            if !cjk.is_empty() {
                out.push(Run::Cjk(std::mem::take(&mut cjk)));
            }
            word.push(c);
        } else {
            if !word.is_empty() {
                out.push(Run::Word(std::mem::take(&mut word)));
            }
            if !cjk.is_empty() {
                out.push(Run::Cjk(std::mem::take(&mut cjk)));
            }
        }
    }
    if !word.is_empty() {
        out.push(Run::Word(word));
    }
    if !cjk.is_empty() {
        out.push(Run::Cjk(cjk));
    }
    out
}

fn stem(word: &str) -> String {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    let stemmer = STEMMER.get_or_init(|| Stemmer::create(Algorithm::English));
    let stemmed = stemmer.stem(word);
    stemmed.chars().take(MAX_TERM_CHARS).collect()
}

/// A word worth indexing: not a stop word, and not a lone letter (digits stay: "7", "2026").
fn keep_word(word: &str) -> bool {
    let mut chars = word.chars();
    let single_letter = matches!((chars.next(), chars.next()), (Some(c), None) if !c.is_numeric());
    !single_letter && !stop_words().contains(word)
}

/// The terms a memory is indexed under: stemmed words, and the characters and character bigrams
/// of its CJK runs. Sorted and without repeats, as stored.
pub fn document_terms(text: &str) -> Vec<String> {
    let mut terms = BTreeSet::new();
    for run in runs(text) {
        match run {
            Run::Word(w) => {
                if keep_word(&w) {
                    terms.insert(stem(&w));
                }
            }
            Run::Cjk(chars) => {
                for (i, c) in chars.iter().enumerate() {
                    terms.insert(c.to_string());
                    if let Some(next) = chars.get(i + 1) {
                        terms.insert([*c, *next].iter().collect());
                    }
                }
            }
        }
    }
    terms.into_iter().collect()
}

/// The terms a query looks for, in order, without repeats: like a document's, except that a CJK
/// run of two or more characters is looked up by its bigrams only (its single characters would
/// match far too much). A query of nothing but stop words keeps them rather than finding nothing.
pub fn query_terms(text: &str) -> Vec<String> {
    let runs = runs(text);
    let mut terms = Vec::new();
    let mut seen = HashSet::new();
    let mut push = |t: String, terms: &mut Vec<String>| {
        if seen.insert(t.clone()) {
            terms.push(t);
        }
    };
    let all_stop_words = runs
        .iter()
        .all(|r| matches!(r, Run::Word(w) if !keep_word(w)));
    for run in &runs {
        match run {
            Run::Word(w) => {
                if keep_word(w) || all_stop_words {
                    push(stem(w), &mut terms);
                }
            }
            Run::Cjk(chars) if chars.len() == 1 => push(chars[0].to_string(), &mut terms),
            Run::Cjk(chars) => {
                for pair in chars.windows(2) {
                    push(pair.iter().collect(), &mut terms);
                }
            }
        }
    }
    terms.truncate(MAX_QUERY_TERMS);
    terms
}

/// Lower-cased, full-width folded, every run of other characters made one space: what "the
/// query appears in the memory as written" is checked on.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text.chars().flat_map(fold) {
        if c.is_alphanumeric() {
            out.push(c);
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// A memory found for a query, before scoring: its content, how many index terms it has, and
/// which of the query's terms.
pub struct Candidate<'a> {
    pub content: &'a str,
    pub terms: usize,
    pub matched: &'a [String],
}

/// Scores each candidate for `query` (whose terms are `terms`), in 0..1:
/// - 70 %: the share of the query's terms the memory has, each term weighted by how rare it is
///   among the candidates (a word every candidate shares tells them apart less than a rare one);
/// - 20 %: the query appears in the memory as written (a phrase match);
/// - 10 %: how much of the memory is about the query (matched terms against its length), so
///   that of two memories with the same words the focused one ranks first.
///
/// A memory with none of the terms scores 0.
pub fn score(query: &str, terms: &[String], candidates: &[Candidate<'_>]) -> Vec<f32> {
    if terms.is_empty() {
        return vec![0.0; candidates.len()];
    }
    let mut df: HashMap<&str, usize> = HashMap::new();
    for c in candidates {
        for t in c.matched {
            *df.entry(t.as_str()).or_default() += 1;
        }
    }
    let pool = candidates.len() as f32;
    let weight = |t: &str| {
        let n = df.get(t).copied().unwrap_or(0).max(1) as f32;
        (1.0 + (pool + 1.0) / (n + 0.5)).ln()
    };
    let total: f32 = terms.iter().map(|t| weight(t)).sum();
    let phrase = normalise(query);
    candidates
        .iter()
        .map(|c| {
            let matched: HashSet<&str> = c
                .matched
                .iter()
                .map(String::as_str)
                .filter(|t| terms.iter().any(|q| q == t))
                .collect();
            if matched.is_empty() {
                return 0.0;
            }
            let coverage = matched.iter().map(|t| weight(t)).sum::<f32>() / total;
            let as_written = !phrase.is_empty() && normalise(c.content).contains(&phrase);
            let focus = (matched.len() as f32 / c.terms.max(1) as f32)
                .sqrt()
                .min(1.0);
            let s = 0.7 * coverage + 0.2 * f32::from(u8::from(as_written)) + 0.1 * focus;
            s.clamp(0.0, 1.0)
        })
        .collect()
}

/// A rough token count for budgeting what goes into a model's context: about four characters
/// a token for alphabetic text, one a character for CJK.
pub fn estimate_tokens(text: &str) -> usize {
    let (cjk, other) = text.chars().fold((0usize, 0usize), |(c, o), ch| {
        if is_cjk(ch) {
            (c + 1, o)
        } else {
            (c, o + 1)
        }
    });
    cjk + other.div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(query: &[String], content: &str) -> Vec<String> {
        let doc = document_terms(content);
        query.iter().filter(|t| doc.contains(t)).cloned().collect()
    }

    fn scores(query: &str, contents: &[&str]) -> Vec<f32> {
        let terms = query_terms(query);
        let matches: Vec<Vec<String>> = contents.iter().map(|c| matched(&terms, c)).collect();
        let candidates: Vec<Candidate> = contents
            .iter()
            .zip(&matches)
            .map(|(content, m)| Candidate {
                content,
                terms: document_terms(content).len(),
                matched: m,
            })
            .collect();
        score(query, &terms, &candidates)
    }

    #[test]
    fn english_words_are_stemmed_and_stop_words_dropped() {
        assert_eq!(
            document_terms("The user prefers short answers"),
            ["answer", "prefer", "short", "user"]
        );
        assert_eq!(query_terms("preference"), ["prefer"]);
        // Nothing but stop words: still something to look for.
        assert_eq!(query_terms("the"), ["the"]);
    }

    #[test]
    fn cjk_runs_become_characters_and_bigrams() {
        let doc = document_terms("OpenClaw 配置文件");
        for t in ["openclaw", "配置", "置文", "文件", "配", "件"] {
            assert!(doc.contains(&t.to_string()), "{t} missing from {doc:?}");
        }
        assert_eq!(query_terms("OpenClaw 配置"), ["openclaw", "配置"]);
        assert_eq!(query_terms("猫"), ["猫"]);
        // Korean and Japanese are CJK runs too; full-width Latin reads as ASCII.
        assert!(document_terms("사용자의 설정").contains(&"사용".to_string()));
        assert!(document_terms("設定ファイル").contains(&"ファ".to_string()));
        assert_eq!(query_terms("ＯｐｅｎＣｌａｗ"), ["openclaw"]);
    }

    #[test]
    fn the_seed_example_scores_above_its_min_score_and_unrelated_text_below() {
        let s = scores(
            "OpenClaw 配置",
            &[
                "OpenClaw 配置文件位于 ~/.openclaw/config.yaml",
                "今天的会议讨论了配置管理",
                "用户偏好简洁的回复风格",
            ],
        );
        assert!(s[0] >= 0.7, "{s:?}");
        assert!(s[1] < s[0] && s[1] < 0.7, "{s:?}");
        assert_eq!(s[2], 0.0);
    }

    #[test]
    fn scores_stay_in_range_and_favour_rare_terms() {
        let s = scores(
            "user prefers dark mode",
            &[
                "The user prefers dark mode in every editor",
                "The user lives in Berlin",
                "The user works at Acme",
                "Dark chocolate is the user's favourite",
            ],
        );
        assert!(s.iter().all(|v| (0.0..=1.0).contains(v)), "{s:?}");
        assert!(s[0] > s[3] && s[3] > s[1], "{s:?}");
    }

    #[test]
    fn token_estimates_count_cjk_per_character() {
        assert_eq!(estimate_tokens("配置文件"), 4);
        assert_eq!(estimate_tokens("abcdefgh"), 2);
    }
}
