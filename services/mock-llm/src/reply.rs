//! Decides what a request is answered with, independent of the wire format: the reply text or
//! tool calls, the token counts, how streamed text is cut into chunks, and the latencies.

use crate::request::Prompt;
use crate::script::{Options, Script, ToolCall, Usage};

/// A reply ready to be written in either format.
pub(crate) struct Answer {
    /// `None` only when the reply is tool calls alone.
    pub text: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    /// A `thinking` block's text (Anthropic format only).
    pub thinking: Option<String>,
    pub usage: Usage,
    pub chunks: Option<usize>,
    pub disconnect_after_chunks: Option<usize>,
}

/// Stands in a chunk's text for the time it is sent ([`Options::timestamp_chunks`]), written in
/// as the chunk goes out. The stamped text is this and a space per chunk, which an even cut
/// gives back one per chunk.
pub(crate) const EMITTED_AT: &str = "{mock:emitted-at}";

impl Answer {
    pub fn new(script: Script, prompt: &Prompt, options: &Options) -> Self {
        let text = match script.text {
            Some(text) => Some(text),
            None if script.tool_calls.is_empty() => {
                Some(format!("mock: {}", prompt.last_user_text))
            }
            None => None,
        };
        let usage = script.usage.unwrap_or_else(|| Usage {
            input_tokens: prompt.input_words,
            output_tokens: output_words(text.as_deref(), &script.tool_calls),
        });
        let mut answer = Self {
            text,
            tool_calls: script.tool_calls,
            thinking: script.thinking,
            usage,
            chunks: script.chunks.or(options.chunks),
            disconnect_after_chunks: script.disconnect_after_chunks,
        };
        if options.timestamp_chunks {
            if let Some(text) = &answer.text {
                let n = answer.split(text).len();
                answer.text = Some(format!("{EMITTED_AT} ").repeat(n));
                answer.chunks = Some(n);
            }
        }
        answer
    }

    pub fn calls_tools(&self) -> bool {
        !self.tool_calls.is_empty()
    }

    /// The streamed pieces of `text` (the reply text or a tool call's arguments).
    pub fn split<'t>(&self, text: &'t str) -> Vec<&'t str> {
        match self.chunks {
            Some(n) => split_even(text, n),
            None => split_words(text),
        }
    }
}

/// When the parts of a response go out. Server-wide and scripted latencies add up, so a
/// benchmark's latency profile still holds for the requests a test scripts.
#[derive(Clone, Copy)]
pub(crate) struct Timing {
    pub delay_ms: u64,
    pub ttft_ms: u64,
    pub token_delay_ms: u64,
    /// Write the send time into each chunk ([`EMITTED_AT`]).
    pub timestamp_chunks: bool,
}

impl Timing {
    pub fn new(options: &Options, script: &Script) -> Self {
        Self {
            delay_ms: options.delay_ms.saturating_add(script.delay_ms),
            ttft_ms: options.ttft_ms.saturating_add(script.ttft_ms),
            token_delay_ms: options.token_delay_ms.saturating_add(script.token_delay_ms),
            timestamp_chunks: options.timestamp_chunks,
        }
    }
}

/// The stand-in for a tokenizer: whitespace-separated words.
pub(crate) fn count_words(text: &str) -> usize {
    text.split_whitespace().count()
}

/// Output tokens: the words of the text plus those of each tool call's name and arguments.
fn output_words(text: Option<&str>, tool_calls: &[ToolCall]) -> u32 {
    let words = text.map_or(0, count_words)
        + tool_calls
            .iter()
            .map(|call| count_words(&call.name) + count_words(&call.arguments_text()))
            .sum::<usize>();
    u32::try_from(words).unwrap_or(u32::MAX)
}

/// One piece per word, each carrying the whitespace before it, so the pieces concatenate back
/// to the text exactly as a real token stream does.
fn split_words(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut seen_word = false;
    let mut gap_start = None;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if seen_word && gap_start.is_none() {
                gap_start = Some(i);
            }
        } else {
            if let Some(gap) = gap_start.take() {
                pieces.push(&text[start..gap]);
                start = gap;
            }
            seen_word = true;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// `n` pieces of (nearly) equal character counts; fewer when the text has fewer characters.
fn split_even(text: &str, n: usize) -> Vec<&str> {
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let chars = starts.len();
    let n = n.clamp(1, chars.max(1));
    if chars == 0 {
        return Vec::new();
    }
    (0..n)
        .map(|k| {
            let end = if k + 1 == n {
                text.len()
            } else {
                starts[(k + 1) * chars / n]
            };
            &text[starts[k * chars / n]..end]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_their_leading_whitespace() {
        assert_eq!(
            split_words("mock: hello  world "),
            ["mock:", " hello", "  world "]
        );
        assert_eq!(split_words("  lead"), ["  lead"]);
        assert!(split_words("").is_empty());
    }

    #[test]
    fn even_split_covers_the_text_on_char_boundaries() {
        assert_eq!(split_even("abcdefg", 3), ["ab", "cd", "efg"]);
        assert_eq!(split_even("héé", 5), ["h", "é", "é"]);
        assert_eq!(split_even("abc", 0), ["abc"]);
        assert!(split_even("", 4).is_empty());
    }

    #[test]
    fn default_reply_echoes_and_counts_words() {
        let prompt = Prompt {
            model: "m".into(),
            stream: false,
            include_usage: false,
            last_user_text: "two words".into(),
            input_words: 5,
        };
        let answer = Answer::new(Script::default(), &prompt, &Options::default());
        assert_eq!(answer.text.as_deref(), Some("mock: two words"));
        assert_eq!(
            answer.usage,
            Usage {
                input_tokens: 5,
                output_tokens: 3
            }
        );

        let tools_only = Script {
            tool_calls: vec![ToolCall {
                id: "c".into(),
                name: "lookup".into(),
                arguments: serde_json::json!({"q": "a b"}),
            }],
            ..Script::default()
        };
        let answer = Answer::new(tools_only, &prompt, &Options::default());
        assert_eq!(answer.text, None);
        assert!(answer.calls_tools());
        assert_eq!(answer.usage.output_tokens, 3);
    }
}
