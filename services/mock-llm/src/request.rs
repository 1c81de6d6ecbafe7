//! Reads the few fields of an OpenAI or Anthropic request body that shape the reply: the model,
//! the streaming flags, the last user text and a word count standing in for input tokens.

use std::borrow::Cow;

use serde::Deserialize;

use crate::reply::count_words;

/// Echoed when a request names no model.
const DEFAULT_MODEL: &str = "mock-1";

/// What the reply needs to know about the request.
pub(crate) struct Prompt {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub last_user_text: String,
    pub input_words: u32,
}

/// Both formats share one reader: the fields they do not have are simply absent, and every
/// field we do not use is skipped without being materialised.
#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    system: Option<Content<'a>>,
    #[serde(borrow, default)]
    messages: Vec<Message<'a>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    role: Cow<'a, str>,
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// A message content: a string, or parts/blocks whose `text` counts and whose nested `content`
/// (an Anthropic `tool_result`) counts too.
#[derive(Deserialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Blocks(#[serde(borrow)] Vec<Block<'a>>),
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
}

impl Content<'_> {
    fn for_each_text<'s>(&'s self, f: &mut dyn FnMut(&'s str)) {
        match self {
            Content::Text(text) => f(text),
            Content::Blocks(blocks) => {
                for block in blocks {
                    if let Some(text) = &block.text {
                        f(text);
                    }
                    if let Some(nested) = &block.content {
                        nested.for_each_text(f);
                    }
                }
            }
        }
    }
}

pub(crate) fn parse(body: &[u8]) -> Result<Prompt, serde_json::Error> {
    let request: Request<'_> = serde_json::from_slice(body)?;

    let mut words = 0;
    let mut count = |text: &str| words += count_words(text);
    if let Some(system) = &request.system {
        system.for_each_text(&mut count);
    }
    for content in request.messages.iter().filter_map(|m| m.content.as_ref()) {
        content.for_each_text(&mut count);
    }

    let mut last_user_text = String::new();
    if let Some(content) = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .and_then(|m| m.content.as_ref())
    {
        content.for_each_text(&mut |text| {
            if !last_user_text.is_empty() {
                last_user_text.push('\n');
            }
            last_user_text.push_str(text);
        });
    }

    Ok(Prompt {
        model: request
            .model
            .map_or_else(|| DEFAULT_MODEL.to_owned(), Cow::into_owned),
        stream: request.stream.unwrap_or(false),
        include_usage: request
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        last_user_text,
        input_words: u32::try_from(words.max(1)).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_text_and_echoes_the_last_user_message() {
        let body = br#"{
            "model": "claude-x", "stream": true, "system": [{"type": "text", "text": "be brief"}],
            "messages": [
                {"role": "user", "content": "first question here"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "sunny"}]},
                    {"type": "text", "text": "so what\u0021"},
                    {"type": "image", "source": {"type": "base64", "data": "AAAA"}}
                ]}
            ],
            "unknown": {"ignored": [1, 2]}
        }"#;
        let prompt = parse(body).unwrap();
        assert_eq!(prompt.model, "claude-x");
        assert!(prompt.stream);
        assert!(!prompt.include_usage);
        assert_eq!(prompt.last_user_text, "sunny\nso what!");
        assert_eq!(prompt.input_words, 2 + 3 + 1 + 2);
    }

    #[test]
    fn empty_request_still_costs_one_token() {
        let prompt = parse(b"{}").unwrap();
        assert_eq!(prompt.model, DEFAULT_MODEL);
        assert_eq!(prompt.last_user_text, "");
        assert_eq!(prompt.input_words, 1);
    }

    #[test]
    fn include_usage_is_read_from_stream_options() {
        let prompt = parse(br#"{"stream":true,"stream_options":{"include_usage":true}}"#).unwrap();
        assert!(prompt.include_usage);
    }

    #[test]
    fn rejects_a_body_that_is_not_a_request() {
        assert!(parse(b"[1,2]").is_err());
        assert!(parse(br#"{"messages":[{"role":"user","content":7}]}"#).is_err());
    }
}
