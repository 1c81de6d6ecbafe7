//! The OpenAI dialect (API.md §5.2), so that the official OpenAI SDKs work unchanged: the
//! chat-completions request and its parsing (`request`), and the completion, chunk and model
//! views (`views`). The routes (`routes::openai`) are thin over these and one run.

pub mod request;
pub mod views;
