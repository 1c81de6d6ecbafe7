//! A tenant's installed skills as a run's tool executor: validated, executed and counted.

use serde_json::Value;

use super::{tool_error, Resolved, SkillContext};

/// The skills a tenant installed and enabled, as tools a run executes: each call is validated
/// against the skill's schema, run, and counted on the tenant's installation.
pub struct InstalledTools {
    pub tenant: openclaw_domain::TenantId,
    pub store: openclaw_store::Store,
    pub skills: Vec<Resolved>,
    pub context: SkillContext,
}

#[async_trait::async_trait]
impl crate::executor::ToolExecutor for InstalledTools {
    fn tools(&self) -> Vec<crate::provider::ToolSpec> {
        self.skills.iter().map(Resolved::tool_spec).collect()
    }

    fn offers(&self, name: &str) -> bool {
        self.skills.iter().any(|s| s.name() == name)
    }

    async fn call(&self, call: &crate::provider::ToolCall) -> Result<Value, String> {
        let skill = self
            .skills
            .iter()
            .find(|s| s.name() == call.name)
            .ok_or_else(|| format!("no skill `{}`", call.name))?;
        let result = skill
            .execute_at(&call.arguments, "arguments", &self.context)
            .await;
        if let Err(e) = self.store.record_skill_use(self.tenant, skill.name()).await {
            tracing::warn!(error = %e, skill = skill.name(), "skill use not recorded");
        }
        result.map_err(tool_error)
    }
}
