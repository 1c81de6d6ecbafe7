//! Skills: the built-in catalogue with its manifests and JSON Schemas, input validation,
//! execution, a tenant's own HTTP skills and the installed skills a run executes.
//!
//! One module per concern; the paths other crates use (`skills::resolve`, `skills::Skill`, …)
//! are re-exported here so the split stays invisible to them.

mod calculator;
mod catalogue;
mod clock;
mod http;
mod installed;
mod schema;
mod weather;
mod web_fetch;

use openclaw_domain::Error;

use crate::outbound::{Outbound, OutboundConfig};

pub use calculator::{evaluate, MAX_EXPRESSION_CHARS, MAX_EXPRESSION_DEPTH};
pub use catalogue::{
    args_to_input, builtin, builtin_names, builtins, Handler, InputCheck, Permissions, Skill,
    DEFAULT_SKILLS, MEMORY_ADD, MEMORY_SEARCH, SPAWN_AGENT,
};
pub use http::{resolve, sign, Resolved, SIGNATURE_HEADER};
pub use installed::InstalledTools;
pub use schema::{check_schema, validate, MAX_SCHEMA_BYTES, MAX_SCHEMA_DEPTH};
pub use weather::WeatherConfig;
pub use web_fetch::FILE_READ;

/// What skills that reach the network use: the SSRF-guarded client and the weather API's
/// addresses (configurable, so tests point them at a local fake).
#[derive(Debug, Clone)]
pub struct SkillContext {
    pub outbound: Outbound,
    pub weather: WeatherConfig,
}

/// Skill settings an operator can change.
#[derive(Debug, Clone, Default)]
pub struct SkillsConfig {
    pub outbound: OutboundConfig,
    pub weather: WeatherConfig,
}

impl SkillContext {
    pub fn new(config: &SkillsConfig) -> SkillContext {
        SkillContext {
            outbound: Outbound::new(config.outbound.clone()),
            weather: config.weather.clone(),
        }
    }
}

/// A failed tool call as the model reads it: the offending param first, when there is one.
pub fn tool_error(e: Error) -> String {
    match e.param {
        Some(param) => format!("{param}: {}", e.message),
        None => e.message,
    }
}

/// Runs a built-in on `input` as a direct call would, checking a success against the skill's
/// output schema: what the modules' tests share.
#[cfg(test)]
fn run_builtin(skill: &str, input: serde_json::Value) -> Result<serde_json::Value, Error> {
    let skill = builtin(skill).expect("a built-in");
    let ctx = SkillContext::new(&SkillsConfig::default());
    let out = futures::executor::block_on(skill.execute(&input, &ctx));
    if let Ok(out) = &out {
        validate(&skill.output_schema, out, "output").expect("output matches its schema");
    }
    out
}
