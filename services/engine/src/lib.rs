//! The agent engine: providers, the run loop, skills, memory recall, webhook signing and job
//! handlers. Today it holds the model-provider layer (`provider`); the rest follows.

pub mod provider;

pub use provider::{
    collect, ChatMessage, ChatRequest, ChatStream, Completion, FinishReason, ModelInfo, ModelRef,
    Provider, Providers, ProvidersConfig, Role, StreamEvent, ToolCall, ToolChoice, ToolSpec, Usage,
};
