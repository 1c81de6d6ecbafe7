//! The built-in catalogue: what a skill is (manifest, permissions, handler), the table of
//! built-ins, the names every new tenant gets installed, and S0's positional `args`.

use std::sync::LazyLock;

use futures::future::BoxFuture;
use openclaw_domain::Error;
use serde::Serialize;
use serde_json::{json, Value};

use super::schema::validate;
use super::web_fetch::FILE_READ;
use super::{calculator, clock, weather, web_fetch, SkillContext};

/// What a skill may reach beyond its input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Permissions {
    pub network: bool,
    pub filesystem: bool,
    pub shell: bool,
}

/// How a skill executes. Pure, quick skills run inline; skills that reach the network get the
/// guarded outbound client and their settings.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Runs inline on validated input: `Err` is a failure of this input (not worth retrying).
    Sync(fn(&Value) -> Result<Value, Error>),
    /// Waits on the network through [`SkillContext`].
    Net(for<'a> fn(&'a Value, &'a SkillContext) -> BoxFuture<'a, Result<Value, Error>>),
    /// Needs the tenant (and, in a run, its conversation or job): executed by the run that
    /// offers it, or by `Runs::execute_skill` when called directly.
    Tenant,
}

/// A skill's own check of an input (`&Value`) whose params are named below a path (`&str`).
pub type InputCheck = fn(&Value, &str) -> Result<(), Error>;

/// A skill: its manifest and its handler.
pub struct Skill {
    pub name: &'static str,
    /// The current version: what an install without a version gets.
    pub version: &'static str,
    /// Earlier versions a tenant may still install (the seeds install some by number). One
    /// implementation serves them all: each version's input is accepted by the current one.
    pub older_versions: &'static [&'static str],
    pub description: &'static str,
    /// JSON Schema of the input, which [`validate`] checks (compiled once, then cached).
    pub input_schema: Value,
    /// JSON Schema of the output.
    pub output_schema: Value,
    pub permissions: Permissions,
    /// Checks of a schema-valid input that a schema cannot express: cheap, without side
    /// effects, so they run when a task is created too. Params are named below the path given.
    pub check: Option<InputCheck>,
    pub handler: Handler,
}

impl std::fmt::Debug for Skill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Skill")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Skill {
    /// Whether `version` is the current one or an earlier one still installable.
    pub fn offers_version(&self, version: &str) -> bool {
        self.version == version || self.older_versions.contains(&version)
    }

    /// Every installable version, the current one first.
    pub fn versions(&self) -> Vec<&'static str> {
        std::iter::once(self.version)
            .chain(self.older_versions.iter().copied())
            .collect()
    }

    /// The manifest as JSON: name, version, description, schemas and permissions.
    pub fn manifest(&self) -> Value {
        json!({
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "permissions": self.permissions,
        })
    }

    /// Checks `input` against the input schema (and the skill's own checks) without executing
    /// anything; a bad field is a 400 whose `param` is `{path}.{field}` (`path` names the input
    /// itself, e.g. `input` or `parameters.input`).
    pub fn validate_input(&self, input: &Value, path: &str) -> Result<(), Error> {
        validate(&self.input_schema, input, path)?;
        match self.check {
            Some(check) => check(input, path),
            None => Ok(()),
        }
    }

    /// Whether this skill needs the tenant to execute (the memory skills, `spawn_agent`).
    pub fn needs_tenant(&self) -> bool {
        matches!(self.handler, Handler::Tenant)
    }

    /// The skill as a tool offered to a model.
    pub fn tool_spec(&self) -> crate::provider::ToolSpec {
        crate::provider::ToolSpec {
            name: self.name.to_string(),
            description: self.description.to_string(),
            parameters: self.input_schema.clone(),
        }
    }

    /// Validates `input` (params under `input.`) and executes the skill on it.
    pub async fn execute(&self, input: &Value, ctx: &SkillContext) -> Result<Value, Error> {
        self.execute_at(input, "input", ctx).await
    }

    /// Validates `input`, naming bad params below `path`, and executes the skill on it.
    pub async fn execute_at(
        &self,
        input: &Value,
        path: &str,
        ctx: &SkillContext,
    ) -> Result<Value, Error> {
        self.validate_input(input, path)?;
        let result = match self.handler {
            Handler::Sync(f) => f(input),
            Handler::Net(f) => f(input, ctx).await,
            // Callers route these through `Runs::execute_skill`; this is only a safe answer.
            Handler::Tenant => Err(Error::invalid(
                "name",
                format!("`{}` needs a tenant to run in", self.name),
            )),
        };
        // Handlers name their params below `input`; the caller's name for it is `path`.
        result.map_err(|mut e| {
            if let Some(rest) = e.param.as_deref().and_then(|p| p.strip_prefix("input")) {
                e.param = Some(format!("{path}{rest}"));
            }
            e
        })
    }

    /// An input from S0's `args` (see [`args_to_input`]).
    pub fn input_from_args(&self, args: &Value, param: &str) -> Result<Value, Error> {
        args_to_input(self.name, &self.input_schema, args, param)
    }
}

/// An input's parameter names in positional order: the required ones as the schema lists them,
/// then the others by name.
fn positional_names(schema: &Value) -> Vec<String> {
    let mut names: Vec<String> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect();
    let mut rest: Vec<String> = schema["properties"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.keys().cloned())
        .filter(|n| !names.contains(n))
        .collect();
    rest.sort();
    names.extend(rest);
    names
}

/// An input from S0's `args` for skill `name`: an object is the input itself; a list
/// (`["北京"]`) or a single value gives the parameters in positional order; nothing is `{}`.
/// Too many values → 400 on `param`.
pub fn args_to_input(
    name: &str,
    schema: &Value,
    args: &Value,
    param: &str,
) -> Result<Value, Error> {
    let values = match args {
        Value::Null => return Ok(json!({})),
        Value::Object(_) => return Ok(args.clone()),
        Value::Array(values) => values.clone(),
        single => vec![single.clone()],
    };
    let names = positional_names(schema);
    if values.len() > names.len() {
        return Err(Error::invalid(
            param,
            format!(
                "`{name}` takes at most {} argument(s): {}",
                names.len(),
                names.join(", ")
            ),
        ));
    }
    Ok(Value::Object(names.into_iter().zip(values).collect()))
}

static BUILTINS: LazyLock<Vec<Skill>> = LazyLock::new(|| {
    let mut skills = vec![
        calculator::manifest(),
        clock::manifest(),
        web_fetch::web_fetch_manifest(),
        web_fetch::file_read_manifest(),
        weather::manifest(),
    ];
    skills.extend(tenant_manifests());
    skills
});

/// The built-ins whose handler needs the tenant: the memory skills and `spawn_agent`.
fn tenant_manifests() -> [Skill; 3] {
    [
        Skill {
            name: MEMORY_SEARCH,
            version: "1.0.0",
            older_versions: &[],
            description: "Search your long-term memory of this user and organisation for \
                          facts, preferences and past decisions.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "minLength": 1, "maxLength": 2000,
                              "description": "What to look for"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 20,
                              "description": "How many memories at most (default 5)"}
                },
                "required": ["query"],
                "additionalProperties": false
            }),
            output_schema: json!({
                "type": "object",
                "properties": {
                    "results": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "content": {"type": "string"},
                            "score": {"type": "number"},
                            "tags": {"type": "array", "items": {"type": "string"}},
                            "created_at": {"type": "string", "format": "date-time"}
                        }
                    }}
                },
                "required": ["results"],
                "additionalProperties": false
            }),
            permissions: Permissions::default(),
            check: None,
            handler: Handler::Tenant,
        },
        Skill {
            name: MEMORY_ADD,
            version: "1.0.0",
            older_versions: &[],
            description: "Remember a fact, preference or decision for later conversations.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "content": {"type": "string", "minLength": 1,
                                "description": "What to remember"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "type": {"type": "string", "enum": ["long-term", "short-term"]}
                },
                "required": ["content"],
                "additionalProperties": false
            }),
            output_schema: json!({
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "saved": {"type": "boolean"}
                },
                "required": ["id", "saved"],
                "additionalProperties": false
            }),
            permissions: Permissions::default(),
            check: None,
            handler: Handler::Tenant,
        },
        Skill {
            name: SPAWN_AGENT,
            version: "1.0.0",
            older_versions: &[],
            description: "Start a sub-agent on a self-contained task and wait for its answer. \
                          Several calls in one reply run in parallel. Offered to background \
                          agents (POST /v1/agents/spawn).",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "task": {"type": "string", "minLength": 1, "maxLength": 100_000,
                             "description": "What the sub-agent should do."},
                    "model": {"type": "string", "description": "provider/model; the parent's if omitted."}
                },
                "required": ["task"],
                "additionalProperties": false
            }),
            output_schema: json!({
                "type": "object",
                "properties": {
                    "agent_id": {"type": "string"},
                    "status": {"type": "string"},
                    "content": {"type": ["string", "null"]},
                    "error": {"type": "object"}
                },
                "required": ["agent_id", "status"],
                "additionalProperties": false
            }),
            permissions: Permissions::default(),
            check: None,
            handler: Handler::Tenant,
        },
    ]
}

/// The names of the memory skills and `spawn_agent`, the built-ins that need the tenant to run
/// in (other modules match on them).
pub const MEMORY_SEARCH: &str = "memory_search";
pub const MEMORY_ADD: &str = "memory_add";
pub const SPAWN_AGENT: &str = "spawn_agent";

/// The skills every new tenant has installed (enabled): the harmless catalogue — nothing here
/// touches our files or a shell, and what reaches the network goes through the outbound guard —
/// so the seeds' skill examples run on a fresh tenant. `openclaw_store::DEFAULT_SKILLS` records
/// them with their versions; a test keeps the two equal.
pub const DEFAULT_SKILLS: [&str; 8] = [
    "calculator",
    "current_time",
    "web_fetch",
    FILE_READ,
    "weather",
    MEMORY_SEARCH,
    MEMORY_ADD,
    SPAWN_AGENT,
];

/// Every built-in skill.
pub fn builtins() -> &'static [Skill] {
    &BUILTINS
}

/// The built-in skill called `name`.
pub fn builtin(name: &str) -> Option<&'static Skill> {
    builtins().iter().find(|s| s.name == name)
}

/// The built-in skills' names, comma-separated, for error messages.
pub fn builtin_names() -> String {
    builtins()
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_lists_its_skills_with_manifests() {
        let names: Vec<&str> = builtins().iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "calculator",
                "current_time",
                "web_fetch",
                "file_read",
                "weather",
                "memory_search",
                "memory_add",
                "spawn_agent"
            ]
        );
        assert_eq!(
            builtin_names(),
            "calculator, current_time, web_fetch, file_read, weather, memory_search, memory_add, \
             spawn_agent"
        );
        // What the store installs for every new tenant is these skills at their versions.
        let defaults: Vec<(&str, &str)> = DEFAULT_SKILLS
            .iter()
            .map(|n| (*n, builtin(n).unwrap().version))
            .collect();
        assert_eq!(defaults, openclaw_store::DEFAULT_SKILLS);
        // The whole catalogue, so every seed's example finds its skill on a fresh tenant.
        let mut sorted_defaults = DEFAULT_SKILLS.to_vec();
        sorted_defaults.sort();
        let mut sorted_names = names.clone();
        sorted_names.sort();
        assert_eq!(sorted_defaults, sorted_names);
        assert!(builtin("shell").is_none());
        // S2 installs weather 1.2.0; S0 lists 1.0.0: both install.
        let weather = builtin("weather").unwrap();
        assert!(weather.offers_version("1.2.0") && weather.offers_version("1.0.0"));
        assert!(!weather.offers_version("9.9.9"));
        for s in builtins() {
            assert!(!s.description.is_empty());
            // Only the skills that fetch from the network may reach it; none touch files or a
            // shell.
            let network = matches!(s.handler, Handler::Net(_));
            assert_eq!(
                s.permissions,
                Permissions {
                    network,
                    ..Permissions::default()
                },
                "{}",
                s.name
            );
            // Every schema compiles and keeps the limits a tenant's must.
            for schema in [&s.input_schema, &s.output_schema] {
                crate::skills::check_schema(schema)
                    .unwrap_or_else(|e| panic!("{}: {}", s.name, e.message));
            }
            let m = s.manifest();
            assert_eq!(m["name"], s.name);
            assert_eq!(m["input_schema"]["type"], "object");
            assert_eq!(m["output_schema"]["type"], "object");
        }
    }
}
