//! The built-in provider: `builtin/echo`, a deterministic model that needs no credentials and
//! no network, so every endpoint works out of the box and tests have exact expectations.

use async_trait::async_trait;
use futures::stream::{self, StreamExt};
use openclaw_domain::Error;

use super::types::{ChatRequest, Completion, FinishReason, Role, StreamEvent, Usage};
use super::{ChatStream, ModelInfo, Provider};

pub const PROVIDER: &str = "builtin";
pub const ECHO: &str = "echo";

#[derive(Debug, Default, Clone, Copy)]
pub struct Builtin;

impl Builtin {
    pub fn models() -> &'static [&'static str] {
        &[ECHO]
    }

    fn answer(req: &ChatRequest) -> Result<Completion, Error> {
        if req.model.model != ECHO {
            return Err(Error::invalid(
                "model",
                format!(
                    "unknown model `{}`; the builtin provider offers: {PROVIDER}/{ECHO}",
                    req.model
                ),
            ));
        }
        let last_user = req
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map_or("", |m| m.content.as_str());
        let content = format!("Echo: {last_user}");
        let input_tokens = req.messages.iter().map(|m| word_count(&m.content)).sum();
        Ok(Completion {
            usage: Usage {
                input_tokens,
                output_tokens: word_count(&content),
            },
            content,
            tool_calls: Vec::new(),
            finish_reason: FinishReason::Stop,
            model: ECHO.to_owned(),
            reasoning: Vec::new(),
        })
    }
}

/// "Tokens" for the echo model are whitespace-separated words: predictable in tests.
fn word_count(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Splits `text` into word-sized pieces, each word with the whitespace before it, so the
/// pieces concatenate back to exactly `text`.
pub(crate) fn word_pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut prev_ws = true;
    let mut seen_word = false;
    for (i, c) in text.char_indices() {
        let ws = c.is_whitespace();
        if prev_ws && !ws {
            // A new word begins: the previous piece ends before the whitespace leading into it.
            if seen_word {
                let cut = text[..i].trim_end().len();
                pieces.push(&text[start..cut]);
                start = cut;
            }
            seen_word = true;
        }
        prev_ws = ws;
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

#[async_trait]
impl Provider for Builtin {
    fn name(&self) -> &str {
        PROVIDER
    }

    async fn complete(&self, req: &ChatRequest) -> Result<Completion, Error> {
        Builtin::answer(req)
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, Error> {
        let answer = Builtin::answer(req)?;
        let mut events: Vec<_> = word_pieces(&answer.content)
            .into_iter()
            .map(|piece| Ok(StreamEvent::Delta(piece.to_owned())))
            .collect();
        events.push(Ok(StreamEvent::Done {
            finish_reason: answer.finish_reason,
            usage: answer.usage,
        }));
        Ok(stream::iter(events).boxed())
    }

    async fn models(&self) -> Result<Vec<ModelInfo>, Error> {
        Ok(Builtin::models()
            .iter()
            .map(|m| ModelInfo {
                id: format!("{PROVIDER}/{m}"),
                owned_by: "openclaw".to_owned(),
                created: None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::collect;
    use crate::provider::types::{ChatMessage, ModelRef};
    use openclaw_domain::ErrorKind;

    fn request(model: &str, messages: Vec<ChatMessage>) -> ChatRequest {
        ChatRequest::new(ModelRef::new(PROVIDER, model), messages)
    }

    #[test]
    fn pieces_concatenate_back_exactly() {
        for text in [
            "Echo: hello world",
            "Echo:   two  spaces\nand\tlines ",
            "  leading",
            "",
            "one",
            "Echo: 你好 世界",
        ] {
            let pieces = word_pieces(text);
            assert_eq!(pieces.concat(), text, "{text:?}");
            assert_eq!(
                pieces.len(),
                text.split_whitespace()
                    .count()
                    .max(usize::from(!text.is_empty())),
                "{text:?} -> {pieces:?}"
            );
        }
        assert_eq!(word_pieces("Echo: a b"), ["Echo:", " a", " b"]);
    }

    #[tokio::test]
    async fn echo_answers_the_last_user_message() {
        let req = request(
            ECHO,
            vec![
                ChatMessage::system("be nice"),
                ChatMessage::user("first question"),
                ChatMessage::assistant("Echo: first question"),
                ChatMessage::user("hello there world"),
            ],
        );
        let c = Builtin.complete(&req).await.unwrap();
        assert_eq!(c.content, "Echo: hello there world");
        assert_eq!(c.finish_reason, FinishReason::Stop);
        // 2 + 2 + 3 + 3 words in, 4 out.
        assert_eq!(
            c.usage,
            Usage {
                input_tokens: 10,
                output_tokens: 4
            }
        );
        assert_eq!(c.model, "echo");
    }

    #[tokio::test]
    async fn echo_streams_one_word_per_delta() {
        let req = request(ECHO, vec![ChatMessage::user("hello there world")]);
        let events: Vec<_> = Builtin
            .stream(&req)
            .await
            .unwrap()
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(
            events,
            vec![
                StreamEvent::Delta("Echo:".into()),
                StreamEvent::Delta(" hello".into()),
                StreamEvent::Delta(" there".into()),
                StreamEvent::Delta(" world".into()),
                StreamEvent::Done {
                    finish_reason: FinishReason::Stop,
                    usage: Usage {
                        input_tokens: 3,
                        output_tokens: 4
                    },
                },
            ]
        );
        let collected = collect(Builtin.stream(&req).await.unwrap(), "echo")
            .await
            .unwrap();
        assert_eq!(collected, Builtin.complete(&req).await.unwrap());
    }

    #[tokio::test]
    async fn unknown_builtin_models_are_400() {
        let err = Builtin
            .complete(&request("parrot", vec![ChatMessage::user("x")]))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidRequest);
        assert_eq!(err.param.as_deref(), Some("model"));
        assert!(err.message.contains("builtin/echo"), "{}", err.message);
    }
}
