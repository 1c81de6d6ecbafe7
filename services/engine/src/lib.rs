//! The agent engine: providers, the run loop, skills, memory recall, webhook signing and job
//! handlers. Today: the model providers (`provider`), runs (`run`), job handlers (`jobs`) and
//! the built-in skills (`skills`).

pub mod executor;
pub mod jobs;
pub mod memory;
pub mod outbound;
pub mod provider;
pub mod run;
pub mod skills;

pub use openclaw_domain::memory::MemoryAccess;
pub use provider::{
    collect, ChatMessage, ChatRequest, ChatStream, Completion, FinishReason, ModelInfo, ModelRef,
    Provider, Providers, ProvidersConfig, Role, StreamEvent, Thinking, ToolCall, ToolChoice,
    ToolSpec, Usage,
};
pub use run::{
    Done, Queued, RunEvent, RunEventKind, RunRequest, Runs, RunsConfig, Started, Subscription,
    TokenQuota, ToolExecutor, MAX_TOOL_CALLS_PER_STEP,
};
