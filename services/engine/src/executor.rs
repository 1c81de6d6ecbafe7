//! Tools a run executes itself (`ToolExecutor`), several offered as one (`Toolbox`), and one
//! call bounded in time. Apart from the run loop so that memory and skills, which implement
//! executors, do not import the runs that use them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::provider::{ToolCall, ToolSpec};

/// How long one tool call may take: a stuck tool fails its call, not the whole run.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// Tools a run executes itself. Calls may be cancelled midway (their future dropped) when the
/// run is aborted or runs out of time.
#[async_trait::async_trait]
pub trait ToolExecutor: Send + Sync {
    /// Tools offered to the model on top of RunRequest.tools.
    fn tools(&self) -> Vec<ToolSpec>;
    /// Whether `name` is one of [`ToolExecutor::tools`]. Asked for every call a `Toolbox`
    /// routes: executors whose specs are costly to build (schemas cloned) answer it directly.
    fn offers(&self, name: &str) -> bool {
        self.tools().iter().any(|t| t.name == name)
    }
    /// Runs one call. Err(message) is a failed call: reported to the model as the tool's result
    /// (so it can recover), not a failed run.
    async fn call(&self, call: &ToolCall) -> Result<serde_json::Value, String>;
}

// So that `RunRequest` can keep deriving Debug.
impl fmt::Debug for dyn ToolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.tools().into_iter().map(|t| t.name).collect();
        f.debug_struct("ToolExecutor")
            .field("tools", &names)
            .finish_non_exhaustive()
    }
}

/// Several executors offered as one: each call goes to the executor that offers its tool.
pub struct Toolbox(pub Vec<Arc<dyn ToolExecutor>>);

#[async_trait::async_trait]
impl ToolExecutor for Toolbox {
    /// Each name once: the first executor offering it is the one `call` reaches (a run's own
    /// tool shadows an installed skill of the same name).
    fn tools(&self) -> Vec<ToolSpec> {
        let mut tools: Vec<ToolSpec> = Vec::new();
        for tool in self.0.iter().flat_map(|e| e.tools()) {
            if !tools.iter().any(|t| t.name == tool.name) {
                tools.push(tool);
            }
        }
        tools
    }

    fn offers(&self, name: &str) -> bool {
        self.0.iter().any(|e| e.offers(name))
    }

    async fn call(&self, call: &ToolCall) -> Result<serde_json::Value, String> {
        for executor in &self.0 {
            if executor.offers(&call.name) {
                return executor.call(call).await;
            }
        }
        Err(format!("no tool `{}`", call.name))
    }
}

/// Runs one call within `TOOL_TIMEOUT`: its output, or `{"error": …}` and `true` if it failed.
pub async fn execute(executor: &dyn ToolExecutor, call: &ToolCall) -> (serde_json::Value, bool) {
    match tokio::time::timeout(TOOL_TIMEOUT, executor.call(call)).await {
        Ok(Ok(output)) => (output, false),
        Ok(Err(message)) => (json!({ "error": message }), true),
        Err(_) => (
            json!({ "error": format!("the tool did not answer within {} s", TOOL_TIMEOUT.as_secs()) }),
            true,
        ),
    }
}

/// A call as recorded on the assistant message: `{id, name, arguments}`, plus `result` and
/// `is_error` once executed.
pub fn call_record(
    call: &ToolCall,
    result: Option<(&serde_json::Value, bool)>,
) -> serde_json::Value {
    let mut record = json!({"id": call.id, "name": call.name, "arguments": call.arguments});
    if let Some((output, is_error)) = result {
        record["result"] = output.clone();
        record["is_error"] = json!(is_error);
    }
    record
}
