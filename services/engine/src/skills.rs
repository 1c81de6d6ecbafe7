//! Skills: the built-in catalogue with its manifests and JSON Schemas, input validation, execution.

use std::sync::{Arc, LazyLock};

use hmac::{Hmac, Mac};
use openclaw_store::HttpSkillRecord;
use sha2::Sha256;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use futures::future::BoxFuture;
use openclaw_domain::Error;
use serde::Serialize;
use serde_json::{json, Map, Number, Value};

use crate::outbound::{Outbound, OutboundConfig};

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

/// What skills that reach the network use: the SSRF-guarded client and the weather API's
/// addresses (configurable, so tests point them at a local fake).
#[derive(Debug, Clone)]
pub struct SkillContext {
    pub outbound: Outbound,
    pub weather: WeatherConfig,
}

#[derive(Debug, Clone)]
pub struct WeatherConfig {
    /// Open-Meteo's forecast API base (`…/v1/forecast` is appended).
    pub forecast_url: String,
    /// Open-Meteo's geocoding API base (`…/v1/search` is appended).
    pub geocoding_url: String,
}

impl Default for WeatherConfig {
    fn default() -> Self {
        WeatherConfig {
            forecast_url: "https://api.open-meteo.com".into(),
            geocoding_url: "https://geocoding-api.open-meteo.com".into(),
        }
    }
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
    /// JSON Schema of the input (the subset [`validate`] understands).
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
    vec![
        Skill {
            name: "calculator",
            version: "1.0.0",
            older_versions: &[],
            description: "Evaluate an arithmetic expression: + - * / % ^, parentheses, \
                          pi and e, sqrt abs ln log10 sin cos tan floor ceil round min max.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "expression": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_EXPRESSION_CHARS,
                        "description": "For example `2 * (3 + 4) ^ 2` or `sqrt(2) / 2`. Angles in radians."
                    }
                },
                "required": ["expression"],
                "additionalProperties": false
            }),
            output_schema: json!({
                "type": "object",
                "properties": {
                    "result": {"type": "number"},
                    "expression": {"type": "string"}
                },
                "required": ["result", "expression"],
                "additionalProperties": false
            }),
            permissions: Permissions::default(),
            check: None,
            handler: Handler::Sync(calculator),
        },
        Skill {
            name: "current_time",
            version: "1.0.0",
            older_versions: &[],
            description: "The current date and time, in UTC or at a fixed offset such as +08:00.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "timezone": {
                        "type": "string",
                        "maxLength": 16,
                        "description": "`UTC` (the default), `Z`, or a fixed offset `+08:00` / `-05:30`."
                    }
                },
                "additionalProperties": false
            }),
            output_schema: json!({
                "type": "object",
                "properties": {
                    "iso": {"type": "string", "format": "date-time"},
                    "unix": {"type": "integer"},
                    "timezone": {"type": "string"}
                },
                "required": ["iso", "unix", "timezone"],
                "additionalProperties": false
            }),
            permissions: Permissions::default(),
            check: Some(check_current_time),
            handler: Handler::Sync(current_time),
        },
        Skill {
            name: "web_fetch",
            version: "1.0.0",
            older_versions: &[],
            description: "Fetch a public web page or text document over HTTP(S) and return its \
                          text (HTML reduced to text). Private and local addresses are refused; \
                          redirects are returned, not followed.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "url": {"type": "string", "minLength": 1, "maxLength": 2048,
                            "description": "An http or https URL"}
                },
                "required": ["url"],
                "additionalProperties": false
            }),
            output_schema: json!({
                "type": "object",
                "properties": {
                    "url": {"type": "string"},
                    "status": {"type": "integer"},
                    "content_type": {"type": ["string", "null"]},
                    "text": {"type": "string"},
                    "truncated": {"type": "boolean"},
                    "location": {"type": ["string", "null"]}
                },
                "required": ["url", "status", "text", "truncated"],
                "additionalProperties": false
            }),
            permissions: Permissions {
                network: true,
                ..Permissions::default()
            },
            check: None,
            handler: Handler::Net(web_fetch),
        },
        Skill {
            name: FILE_READ,
            version: "1.0.0",
            older_versions: &[],
            description: "Read a text document (code, Markdown, CSV, JSON, logs…) from an http or \
                          https URL, as it is, by lines: `offset` (the first line, from 1) and \
                          `limit` (how many) page through long files. Private and local \
                          addresses are refused.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "url": {"type": "string", "minLength": 1, "maxLength": 2048,
                            "description": "An http or https URL"},
                    "offset": {"type": "integer", "minimum": 1,
                               "description": "The first line to return, from 1 (default 1)"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_FILE_LINES,
                              "description": "Lines to return (default and most 2000)"}
                },
                "required": ["url"],
                "additionalProperties": false
            }),
            output_schema: json!({
                "type": "object",
                "properties": {
                    "url": {"type": "string"},
                    "content_type": {"type": ["string", "null"]},
                    "offset": {"type": "integer"},
                    "lines": {"type": "integer"},
                    "total_lines": {"type": "integer"},
                    "text": {"type": "string"},
                    "truncated": {"type": "boolean"}
                },
                "required": ["url", "offset", "lines", "total_lines", "text", "truncated"],
                "additionalProperties": false
            }),
            permissions: Permissions {
                network: true,
                ..Permissions::default()
            },
            check: None,
            handler: Handler::Net(file_read),
        },
        Skill {
            name: "weather",
            // 1.2.0 is what S2 installs; S0 lists 1.0.0.
            version: "1.2.0",
            older_versions: &["1.0.0"],
            description: "The weather forecast for a city: today's conditions and the daily \
                          low and high in °C (Open-Meteo).",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "minLength": 1, "maxLength": 100,
                             "description": "A city name in any language, e.g. 北京 or Berlin"},
                    "days": {"type": "integer", "description": "Days of forecast, 1 to 7 (default 1)"}
                },
                "required": ["city"],
                "additionalProperties": false
            }),
            output_schema: json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "country": {"type": ["string", "null"]},
                    "summary": {"type": "string"},
                    "daily": {"type": "array"}
                },
                "required": ["city", "summary", "daily"],
                "additionalProperties": false
            }),
            permissions: Permissions {
                network: true,
                ..Permissions::default()
            },
            check: Some(check_weather),
            handler: Handler::Net(weather),
        },
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
});

/// The memory skills and `spawn_agent`: built-ins that need the tenant to run in.
pub const MEMORY_SEARCH: &str = "memory_search";
pub const MEMORY_ADD: &str = "memory_add";
pub const SPAWN_AGENT: &str = "spawn_agent";
pub const FILE_READ: &str = "file_read";

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

/// A failed tool call as the model reads it: the offending param first, when there is one.
pub fn tool_error(e: Error) -> String {
    match e.param {
        Some(param) => format!("{param}: {}", e.message),
        None => e.message,
    }
}

/// Most characters of text `web_fetch` returns.
const MAX_FETCHED_TEXT_CHARS: usize = 100_000;

fn web_fetch<'a>(input: &'a Value, ctx: &'a SkillContext) -> BoxFuture<'a, Result<Value, Error>> {
    Box::pin(async move {
        let url = input["url"].as_str().unwrap_or_default();
        let fetched = ctx.outbound.get(url, "input.url").await?;
        let content_type = fetched.content_type.clone();
        let kind = content_type.as_deref().unwrap_or("").to_ascii_lowercase();
        let raw = String::from_utf8_lossy(&fetched.body);
        let text = if kind.contains("html") {
            html_text(&raw)
        } else if kind.is_empty()
            || kind.starts_with("text/")
            || kind.contains("json")
            || kind.contains("xml")
        {
            raw.into_owned()
        } else {
            return Err(Error::invalid(
                "input.url",
                format!("the document is `{kind}`, not text"),
            ));
        };
        let truncated = fetched.truncated || text.chars().count() > MAX_FETCHED_TEXT_CHARS;
        let text: String = text.chars().take(MAX_FETCHED_TEXT_CHARS).collect();
        Ok(json!({
            "url": url,
            "status": fetched.status,
            "content_type": content_type,
            "text": text,
            "truncated": truncated,
            "location": fetched.location,
        }))
    })
}

/// Most lines `file_read` returns at once.
const MAX_FILE_LINES: usize = 2000;

fn file_read<'a>(input: &'a Value, ctx: &'a SkillContext) -> BoxFuture<'a, Result<Value, Error>> {
    Box::pin(async move {
        let url = input["url"].as_str().unwrap_or_default();
        let offset = input["offset"].as_u64().unwrap_or(1).max(1) as usize;
        let limit = input["limit"]
            .as_u64()
            .map_or(MAX_FILE_LINES, |l| l as usize);
        let fetched = ctx.outbound.get(url, "input.url").await?;
        if !(200..300).contains(&fetched.status) {
            return Err(Error::invalid(
                "input.url",
                format!("the server answered HTTP {}", fetched.status),
            ));
        }
        let kind = fetched.content_type.as_deref().unwrap_or("");
        let kind = kind.to_ascii_lowercase();
        let text_like = kind.is_empty()
            || kind.starts_with("text/")
            || ["json", "xml", "yaml", "csv", "javascript", "toml"]
                .iter()
                .any(|k| kind.contains(k));
        if !text_like {
            return Err(Error::invalid(
                "input.url",
                format!("the document is `{kind}`, not text"),
            ));
        }
        let raw = String::from_utf8_lossy(&fetched.body);
        let total_lines = raw.lines().count();
        let lines: Vec<&str> = raw.lines().skip(offset - 1).take(limit).collect();
        Ok(json!({
            "url": url,
            "content_type": fetched.content_type,
            "offset": offset,
            "lines": lines.len(),
            "total_lines": total_lines,
            "text": lines.join("\n"),
            // More lines follow, or the body was cut at the outbound size limit.
            "truncated": fetched.truncated || offset - 1 + lines.len() < total_lines,
        }))
    })
}

/// Text of an HTML document: scripts, styles and tags dropped, common entities decoded,
/// whitespace collapsed.
fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < bytes.len() {
        if bytes[i] == b'<' {
            let skip_to = ["script", "style", "noscript"].iter().find_map(|tag| {
                lower[i + 1..]
                    .starts_with(tag)
                    .then(|| lower[i..].find(&format!("</{tag}")).map(|e| i + e))
                    .flatten()
            });
            let from = skip_to.unwrap_or(i);
            match lower[from..].find('>') {
                Some(end) => i = from + end + 1,
                None => break,
            }
            out.push(' ');
        } else {
            let next = html[i..].find('<').map_or(html.len(), |n| i + n);
            out.push_str(&html[i..next]);
            i = next;
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn check_weather(input: &Value, path: &str) -> Result<(), Error> {
    match input.get("days").and_then(Value::as_i64) {
        Some(d) if !(1..=7).contains(&d) => Err(Error::invalid(
            format!("{path}.days"),
            "`days` must be between 1 and 7",
        )),
        _ => Ok(()),
    }
}

/// WMO weather codes, as Open-Meteo reports them, in words.
fn weather_words(code: i64) -> &'static str {
    match code {
        0 => "clear",
        1..=2 => "partly cloudy",
        3 => "overcast",
        45 | 48 => "fog",
        51..=57 => "drizzle",
        61..=67 => "rain",
        71..=77 => "snow",
        80..=82 => "rain showers",
        85 | 86 => "snow showers",
        95..=99 => "thunderstorm",
        _ => "unknown",
    }
}

fn weather<'a>(input: &'a Value, ctx: &'a SkillContext) -> BoxFuture<'a, Result<Value, Error>> {
    Box::pin(async move {
        let city = input["city"].as_str().unwrap_or_default().trim();
        let days = input["days"].as_i64().unwrap_or(1);
        let json_of = |f: crate::outbound::Fetched, what: &str| -> Result<Value, Error> {
            if f.status != 200 {
                return Err(Error::new(
                    openclaw_domain::ErrorKind::Upstream,
                    format!("the {what} service answered HTTP {}", f.status),
                ));
            }
            serde_json::from_slice(&f.body).map_err(|_| {
                Error::new(
                    openclaw_domain::ErrorKind::Upstream,
                    format!("the {what} service sent something unreadable"),
                )
            })
        };
        let mut search = reqwest::Url::parse(&format!(
            "{}/v1/search",
            ctx.weather.geocoding_url.trim_end_matches('/')
        ))
        .map_err(|_| Error::internal())?;
        search
            .query_pairs_mut()
            .append_pair("name", city)
            .append_pair("count", "1");
        let places = json_of(
            ctx.outbound.get(search.as_str(), "input.city").await?,
            "geocoding",
        )?;
        let Some(place) = places["results"].get(0) else {
            return Err(Error::invalid(
                "input.city",
                format!("no place called `{city}` was found"),
            ));
        };
        let (lat, lon) = (place["latitude"].as_f64(), place["longitude"].as_f64());
        let (Some(lat), Some(lon)) = (lat, lon) else {
            return Err(Error::new(
                openclaw_domain::ErrorKind::Upstream,
                "the geocoding service sent a place without coordinates",
            ));
        };
        let mut forecast = reqwest::Url::parse(&format!(
            "{}/v1/forecast",
            ctx.weather.forecast_url.trim_end_matches('/')
        ))
        .map_err(|_| Error::internal())?;
        forecast
            .query_pairs_mut()
            .append_pair("latitude", &lat.to_string())
            .append_pair("longitude", &lon.to_string())
            .append_pair(
                "daily",
                "weather_code,temperature_2m_max,temperature_2m_min",
            )
            .append_pair("timezone", "auto")
            .append_pair("forecast_days", &days.to_string());
        let f = json_of(
            ctx.outbound.get(forecast.as_str(), "input.city").await?,
            "forecast",
        )?;
        let daily = &f["daily"];
        let column = |name: &str| daily[name].as_array().cloned().unwrap_or_default();
        let (dates, codes, highs, lows) = (
            column("time"),
            column("weather_code"),
            column("temperature_2m_max"),
            column("temperature_2m_min"),
        );
        let days: Vec<Value> = dates
            .iter()
            .enumerate()
            .map(|(i, date)| {
                let code = codes.get(i).and_then(Value::as_i64).unwrap_or(-1);
                json!({
                    "date": date,
                    "conditions": weather_words(code),
                    "weather_code": code,
                    "min_c": lows.get(i),
                    "max_c": highs.get(i),
                })
            })
            .collect();
        let name = place["name"].as_str().unwrap_or(city).to_string();
        // A sentence, as S0 shows its result ("北京今天晴,温度 20-28°C"): whole degrees
        // without a decimal point.
        let degrees = |v: &Value| match v.as_f64() {
            Some(t) if t.fract() == 0.0 => format!("{t:.0}"),
            Some(t) => format!("{t:.1}"),
            None => "?".into(),
        };
        let summary = match days.first() {
            Some(d) => format!(
                "{name} today: {}, {}–{} °C",
                d["conditions"].as_str().unwrap_or("unknown"),
                degrees(&d["min_c"]),
                degrees(&d["max_c"])
            ),
            None => format!("{name}: no forecast available"),
        };
        Ok(json!({
            "city": name,
            "country": place["country"],
            "summary": summary,
            "daily": days,
        }))
    })
}

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

/// A skill a tenant can use: a built-in, or an HTTP skill it registered.
#[derive(Debug, Clone)]
pub enum Resolved {
    Builtin(&'static Skill),
    Http(Arc<HttpSkillRecord>),
}

/// The header carrying an HTTP skill call's signature: `t=<unix seconds>,v1=<hex>`, where the
/// hex is HMAC-SHA256 with the skill's secret of `<t>.<body>` (as Stripe signs webhooks).
pub const SIGNATURE_HEADER: &str = "x-openclaw-signature";

/// The signature of `body` sent at unix time `t` with `secret`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

impl Resolved {
    pub fn name(&self) -> &str {
        match self {
            Resolved::Builtin(s) => s.name,
            Resolved::Http(h) => &h.name,
        }
    }

    pub fn version(&self) -> &str {
        match self {
            Resolved::Builtin(s) => s.version,
            Resolved::Http(h) => &h.version,
        }
    }

    /// Whether `version` can be installed: an HTTP skill has only the version it registered.
    pub fn offers_version(&self, version: &str) -> bool {
        match self {
            Resolved::Builtin(s) => s.offers_version(version),
            Resolved::Http(h) => h.version == version,
        }
    }

    pub fn description(&self) -> &str {
        match self {
            Resolved::Builtin(s) => s.description,
            Resolved::Http(h) => &h.description,
        }
    }

    pub fn input_schema(&self) -> &Value {
        match self {
            Resolved::Builtin(s) => &s.input_schema,
            Resolved::Http(h) => &h.input_schema,
        }
    }

    /// The skill as a tool offered to a model.
    pub fn tool_spec(&self) -> crate::provider::ToolSpec {
        crate::provider::ToolSpec {
            name: self.name().to_string(),
            description: self.description().to_string(),
            parameters: self.input_schema().clone(),
        }
    }

    /// Whether this is a built-in that needs the tenant to execute.
    pub fn needs_tenant(&self) -> bool {
        matches!(self, Resolved::Builtin(s) if s.needs_tenant())
    }

    /// An HTTP skill reaches the network (its endpoint) and nothing else of ours.
    pub fn permissions(&self) -> Permissions {
        match self {
            Resolved::Builtin(s) => s.permissions,
            Resolved::Http(_) => Permissions {
                network: true,
                ..Permissions::default()
            },
        }
    }

    /// An input from S0's `args` (see [`args_to_input`]).
    pub fn input_from_args(&self, args: &Value, param: &str) -> Result<Value, Error> {
        args_to_input(self.name(), self.input_schema(), args, param)
    }

    /// The manifest (never an HTTP skill's secret).
    pub fn manifest(&self) -> Value {
        match self {
            Resolved::Builtin(s) => s.manifest(),
            Resolved::Http(h) => json!({
                "name": h.name,
                "version": h.version,
                "description": h.description,
                "input_schema": h.input_schema,
                "output_schema": {},
                "permissions": self.permissions(),
                "endpoint": h.endpoint,
                "timeout": h.timeout_ms / 1000,
            }),
        }
    }

    /// Validates `input` (bad params named below `path`) and executes: a built-in in process, an
    /// HTTP skill by a signed POST to its endpoint, whose JSON answer is the result.
    pub async fn execute_at(
        &self,
        input: &Value,
        path: &str,
        ctx: &SkillContext,
    ) -> Result<Value, Error> {
        let h = match self {
            Resolved::Builtin(s) => return s.execute_at(input, path, ctx).await,
            Resolved::Http(h) => h,
        };
        validate(&h.input_schema, input, path)?;
        let body = serde_json::to_vec(&json!({
            "skill": h.name,
            "version": h.version,
            "input": input,
        }))
        .expect("JSON serialises");
        let signature = sign(&h.secret, Utc::now().timestamp(), &body);
        let timeout = std::time::Duration::from_millis(h.timeout_ms.max(1) as u64);
        let upstream = |message: String| Error::new(openclaw_domain::ErrorKind::Upstream, message);
        let answer = ctx
            .outbound
            .post_json(
                &h.endpoint,
                body,
                vec![
                    (SIGNATURE_HEADER, signature),
                    ("x-openclaw-skill", h.name.clone()),
                ],
                timeout,
                "endpoint",
            )
            .await?;
        if !(200..300).contains(&answer.status) {
            return Err(upstream(format!(
                "skill `{}`: its endpoint answered HTTP {}",
                h.name, answer.status
            )));
        }
        if answer.truncated {
            return Err(upstream(format!(
                "skill `{}`: its answer is larger than {} bytes",
                h.name,
                ctx.outbound.config().max_bytes
            )));
        }
        serde_json::from_slice(&answer.body).map_err(|_| {
            upstream(format!(
                "skill `{}`: its endpoint did not answer with JSON",
                h.name
            ))
        })
    }
}

/// The skill `name` as `tenant_skills` (its registered HTTP skills) and the catalogue have it.
pub fn resolve(name: &str, tenant_skills: &[HttpSkillRecord]) -> Option<Resolved> {
    builtin(name).map(Resolved::Builtin).or_else(|| {
        tenant_skills
            .iter()
            .find(|h| h.name == name)
            .map(|h| Resolved::Http(Arc::new(h.clone())))
    })
}

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

// ---------------------------------------------------------------------------------------------
// Schema validation

/// Validates `value` against `schema`, a subset of JSON Schema: `type` (`object`, `string`,
/// `number`, `integer`, `boolean`, `array`, `null`, or a list of them), `properties`,
/// `required`, `additionalProperties: false`, `items`, `minLength`/`maxLength` (characters),
/// `minimum`/`maximum` and `enum`. Other keywords (`description`, `format`…) are annotations and ignored. The first
/// problem is a 400 whose `param` is the path of the offending value below `path`.
pub fn validate(schema: &Value, value: &Value, path: &str) -> Result<(), Error> {
    let Some(schema) = schema.as_object() else {
        return Ok(());
    };
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
            let want = types
                .iter()
                .map(|t| article(t))
                .collect::<Vec<_>>()
                .join(" or ");
            return Err(Error::invalid(path, format!("`{path}` must be {want}")));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let list = allowed
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::invalid(
                path,
                format!("`{path}` must be one of {list}"),
            ));
        }
    }
    if let Value::String(s) = value {
        let chars = s.chars().count();
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if chars as u64 > max {
                return Err(Error::invalid(
                    path,
                    format!("`{path}` must be at most {max} characters"),
                ));
            }
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if (chars as u64) < min {
                let what = if min == 1 {
                    "must not be empty".to_string()
                } else {
                    format!("must be at least {min} characters")
                };
                return Err(Error::invalid(path, format!("`{path}` {what}")));
            }
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if n < min {
                return Err(Error::invalid(
                    path,
                    format!("`{path}` must be at least {}", schema["minimum"]),
                ));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            if n > max {
                return Err(Error::invalid(
                    path,
                    format!("`{path}` must be at most {}", schema["maximum"]),
                ));
            }
        }
    }
    if let Value::Object(fields) = value {
        validate_object(schema, fields, path)?;
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(item_schema, item, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn validate_object(
    schema: &Map<String, Value>,
    fields: &Map<String, Value>,
    path: &str,
) -> Result<(), Error> {
    let empty = Map::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !fields.contains_key(name) {
                let at = format!("{path}.{name}");
                return Err(Error::invalid(&at, format!("`{at}` is required")));
            }
        }
    }
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    for (name, v) in fields {
        let at = format!("{path}.{name}");
        match properties.get(name) {
            Some(s) => validate(s, v, &at)?,
            None if closed => {
                let known = properties
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let msg = if known.is_empty() {
                    format!("unknown field `{at}`: `{path}` takes no fields")
                } else {
                    format!("unknown field `{at}`; `{path}` takes {known}")
                };
                return Err(Error::invalid(&at, msg));
            }
            None => {}
        }
    }
    Ok(())
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn article(t: &str) -> String {
    match t {
        "object" | "array" | "integer" => format!("an {t}"),
        "null" => "null".into(),
        _ => format!("a {t}"),
    }
}

// ---------------------------------------------------------------------------------------------
// calculator

/// The longest expression `calculator` takes, in characters.
pub const MAX_EXPRESSION_CHARS: usize = 1000;
/// How deeply parentheses, function calls, signs and exponents may nest.
pub const MAX_EXPRESSION_DEPTH: usize = 64;
/// Integral results below this magnitude are written as JSON integers.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53

const EXPRESSION_PARAM: &str = "input.expression";

const FUNCTIONS: &[&str] = &[
    "sqrt", "abs", "ln", "log10", "sin", "cos", "tan", "floor", "ceil", "round", "min", "max",
];
const CONSTANTS: &[&str] = &["pi", "e"];

fn calculator(input: &Value) -> Result<Value, Error> {
    let expression = input
        .get("expression")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid(EXPRESSION_PARAM, "`input.expression` is required"))?;
    let result = evaluate(expression)?;
    Ok(json!({"result": number(result), "expression": expression}))
}

/// `x` as JSON: an integer when it is integral and exactly representable, else a float.
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < EXACT_INTEGER_LIMIT {
        Value::Number(Number::from(x as i64))
    } else {
        Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

/// Evaluates an arithmetic expression (see the `calculator` skill). Errors are 400s on
/// `input.expression`; positions are 1-based character columns.
pub fn evaluate(expression: &str) -> Result<f64, Error> {
    let mut p = Parser {
        chars: expression.chars().collect(),
        pos: 0,
        depth: 0,
    };
    p.skip_space();
    if p.peek().is_none() {
        return Err(p.error_at(0, "the expression is empty"));
    }
    let v = p.expr()?;
    p.skip_space();
    if let Some(c) = p.peek() {
        return Err(p.error_at(p.pos, format!("unexpected `{c}`")));
    }
    Ok(v)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn error_at(&self, pos: usize, what: impl std::fmt::Display) -> Error {
        Error::invalid(EXPRESSION_PARAM, format!("{what} at position {}", pos + 1))
    }

    fn unexpected(&self) -> Error {
        match self.peek() {
            Some(c) => self.error_at(self.pos, format!("unexpected `{c}`")),
            None => self.error_at(self.pos, "unexpected end of expression"),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// The next non-space character, if it is one of `ops`, consumed, with its position.
    fn op(&mut self, ops: &[char]) -> Option<(char, usize)> {
        self.skip_space();
        let c = self.peek().filter(|c| ops.contains(c))?;
        self.pos += 1;
        Some((c, self.pos - 1))
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_EXPRESSION_DEPTH`].
    fn nested(
        &mut self,
        at: usize,
        f: impl FnOnce(&mut Self) -> Result<f64, Error>,
    ) -> Result<f64, Error> {
        if self.depth >= MAX_EXPRESSION_DEPTH {
            return Err(self.error_at(
                at,
                format!("the expression nests deeper than {MAX_EXPRESSION_DEPTH} levels"),
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// expr := term (('+' | '-') term)*
    fn expr(&mut self) -> Result<f64, Error> {
        let mut v = self.term()?;
        while let Some((op, at)) = self.op(&['+', '-']) {
            let r = self.term()?;
            v = finite(if op == '+' { v + r } else { v - r }, || {
                self.error_at(at, format!("`{op}` overflows"))
            })?;
        }
        Ok(v)
    }

    /// term := unary (('*' | '/' | '%') unary)*
    fn term(&mut self) -> Result<f64, Error> {
        let mut v = self.unary()?;
        while let Some((op, at)) = self.op(&['*', '/', '%']) {
            let r = self.unary()?;
            if op != '*' && r == 0.0 {
                return Err(self.error_at(at, format!("division by zero (`{op}`)")));
            }
            let x = match op {
                '*' => v * r,
                '/' => v / r,
                _ => v % r,
            };
            v = finite(x, || self.error_at(at, format!("`{op}` overflows")))?;
        }
        Ok(v)
    }

    /// unary := ('-' | '+') unary | power — so `-2^2` is `-(2^2)`.
    fn unary(&mut self) -> Result<f64, Error> {
        match self.op(&['-', '+']) {
            Some((op, at)) => {
                let v = self.nested(at, Self::unary)?;
                Ok(if op == '-' { -v } else { v })
            }
            None => self.power(),
        }
    }

    /// power := primary ('^' unary)? — right-associative: `2^3^2` is `2^(3^2)`.
    fn power(&mut self) -> Result<f64, Error> {
        let base = self.primary()?;
        match self.op(&['^']) {
            Some((_, at)) => {
                let exp = self.nested(at, Self::unary)?;
                finite(base.powf(exp), || {
                    self.error_at(at, format!("`{base} ^ {exp}` is not a finite number"))
                })
            }
            None => Ok(base),
        }
    }

    /// primary := number | '(' expr ')' | constant | function '(' expr (',' expr)* ')'
    fn primary(&mut self) -> Result<f64, Error> {
        self.skip_space();
        let start = self.pos;
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let v = self.nested(start, Self::expr)?;
                if self.op(&[')']).is_none() {
                    return Err(match self.peek() {
                        None => self.error_at(self.pos, "missing `)`"),
                        Some(_) => self.unexpected(),
                    });
                }
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => self.number(),
            Some(c) if c.is_alphabetic() || c == '_' => self.name(),
            _ => Err(self.unexpected()),
        }
    }

    fn number(&mut self) -> Result<f64, Error> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos - from
        };
        let mut n = digits(self);
        if self.peek() == Some('.') {
            self.pos += 1;
            n += digits(self);
        }
        if n == 0 {
            return Err(self.error_at(start, "unexpected `.`"));
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            // An exponent only if digits follow; otherwise the number ends here.
            let mark = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                self.pos = mark;
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let v: f64 = text
            .parse()
            .map_err(|_| self.error_at(start, format!("`{text}` is not a number")))?;
        finite(v, || self.error_at(start, format!("`{text}` is too large")))
    }

    fn name(&mut self) -> Result<f64, Error> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let name = name.as_str();
        if CONSTANTS.contains(&name) {
            return Ok(if name == "pi" {
                std::f64::consts::PI
            } else {
                std::f64::consts::E
            });
        }
        if !FUNCTIONS.contains(&name) {
            return Err(self.error_at(
                start,
                format!(
                    "unknown name `{name}` (known: {}, {})",
                    CONSTANTS.join(", "),
                    FUNCTIONS.join(", ")
                ),
            ));
        }
        if self.op(&['(']).is_none() {
            return Err(self.error_at(
                start,
                format!("`{name}` is a function: call it as `{name}(…)`"),
            ));
        }
        let mut args = Vec::new();
        self.skip_space();
        if self.peek() != Some(')') {
            loop {
                args.push(self.nested(start, Self::expr)?);
                if self.op(&[',']).is_none() {
                    break;
                }
            }
        }
        if self.op(&[')']).is_none() {
            return Err(match self.peek() {
                None => self.error_at(self.pos, "missing `)`"),
                Some(_) => self.unexpected(),
            });
        }
        let v = match (name, args.as_slice()) {
            ("min", [_, ..]) => args.iter().copied().fold(f64::INFINITY, f64::min),
            ("max", [_, ..]) => args.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ("min" | "max", []) => {
                return Err(self.error_at(start, format!("`{name}` takes at least one argument")));
            }
            (_, [x]) => {
                let x = *x;
                match name {
                    "sqrt" => x.sqrt(),
                    "abs" => x.abs(),
                    "ln" => x.ln(),
                    "log10" => x.log10(),
                    "sin" => x.sin(),
                    "cos" => x.cos(),
                    "tan" => x.tan(),
                    "floor" => x.floor(),
                    "ceil" => x.ceil(),
                    _ => x.round(),
                }
            }
            _ => {
                return Err(self.error_at(
                    start,
                    format!("`{name}` takes one argument, not {}", args.len()),
                ));
            }
        };
        finite(v, || {
            let args = args
                .iter()
                .map(f64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            self.error_at(start, format!("`{name}({args})` is not a finite number"))
        })
    }
}

fn finite(v: f64, err: impl FnOnce() -> Error) -> Result<f64, Error> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(err())
    }
}

// ---------------------------------------------------------------------------------------------
// current_time

fn current_time(input: &Value) -> Result<Value, Error> {
    current_time_at(input, Utc::now())
}

fn current_time_at(input: &Value, now: DateTime<Utc>) -> Result<Value, Error> {
    let tz = input
        .get("timezone")
        .and_then(Value::as_str)
        .unwrap_or("UTC");
    let (offset, name) = parse_timezone(tz, "input.timezone")?;
    let local = now.with_timezone(&offset);
    Ok(json!({
        "iso": local.to_rfc3339_opts(SecondsFormat::Secs, name == "UTC"),
        "unix": now.timestamp(),
        "timezone": name,
    }))
}

/// A timezone the skill cannot read is refused when the task is created.
fn check_current_time(input: &Value, path: &str) -> Result<(), Error> {
    match input.get("timezone").and_then(Value::as_str) {
        Some(tz) => parse_timezone(tz, &format!("{path}.timezone")).map(drop),
        None => Ok(()),
    }
}

/// `UTC`/`Z` (any case) or a fixed offset `±HH:MM` (also `±HHMM`, `±HH`), with its normalized
/// name: `UTC` or `±HH:MM`. Errors are 400s on `param`.
fn parse_timezone(tz: &str, param: &str) -> Result<(FixedOffset, String), Error> {
    let bad = || {
        Error::invalid(
            param,
            format!(
                "`{param}` must be `UTC` (or `Z`) or a fixed offset from UTC such as \
                 `+08:00` or `-05:30`, not `{tz}`; time-zone names such as `Asia/Shanghai` are \
                 not supported"
            ),
        )
    };
    let t = tz.trim();
    if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") {
        return Ok((FixedOffset::east_opt(0).expect("zero offset"), "UTC".into()));
    }
    if !t.is_ascii() {
        return Err(bad());
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let (hh, mm) = match rest.len() {
        2 => (rest, "00"),
        4 => (&rest[..2], &rest[2..]),
        5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return Err(bad()),
    };
    let two_digits = |s: &str| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i32>().ok())
            .flatten()
    };
    let (Some(h), Some(m)) = (two_digits(hh), two_digits(mm)) else {
        return Err(bad());
    };
    if h > 23 || m > 59 {
        return Err(Error::invalid(
            param,
            format!("`{param}` `{tz}` is out of range: offsets go from -23:59 to +23:59"),
        ));
    }
    let seconds = sign * (h * 3600 + m * 60);
    let offset = FixedOffset::east_opt(seconds).ok_or_else(bad)?;
    let sign = if seconds < 0 { '-' } else { '+' };
    Ok((offset, format!("{sign}{h:02}:{m:02}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_domain::ErrorKind;

    fn eval(s: &str) -> f64 {
        evaluate(s).unwrap_or_else(|e| panic!("{s}: {}", e.message))
    }

    fn eval_err(s: &str) -> String {
        let e = evaluate(s).expect_err(s);
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{s}");
        assert_eq!(e.param.as_deref(), Some("input.expression"), "{s}");
        e.message
    }

    fn run(skill: &str, input: Value) -> Result<Value, Error> {
        let skill = builtin(skill).expect("a built-in");
        let ctx = SkillContext::new(&SkillsConfig::default());
        let out = futures::executor::block_on(skill.execute(&input, &ctx));
        if let Ok(out) = &out {
            validate(&skill.output_schema, out, "output").expect("output matches its schema");
        }
        out
    }

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
            let m = s.manifest();
            assert_eq!(m["name"], s.name);
            assert_eq!(m["input_schema"]["type"], "object");
            assert_eq!(m["output_schema"]["type"], "object");
        }
    }

    #[test]
    fn html_becomes_text_without_scripts_styles_or_tags() {
        assert_eq!(
            html_text(
                "<html><style>a{}</style><script>x()</script><p>a &amp; b</p>\n<p>c</p></html>"
            ),
            "a & b c"
        );
        // A tag left open ends the text rather than looping.
        assert_eq!(html_text("before <p"), "before");
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(eval("2 + 3 * 4"), 14.0);
        assert_eq!(eval("(2 + 3) * 4"), 20.0);
        assert_eq!(eval("10 - 4 - 3"), 3.0);
        assert_eq!(eval("100 / 10 / 5"), 2.0);
        assert_eq!(eval("7 % 4 * 2"), 6.0);
        assert_eq!(eval("-7 % 4"), -3.0);
        assert_eq!(eval("2 * (3 + 4) ^ 2"), 98.0);
        assert_eq!(eval("2 ^ 3 ^ 2"), 512.0, "right-associative");
        assert_eq!(eval("2 ^ 3 * 2"), 16.0);
        assert_eq!(eval("2^-1"), 0.5);
        assert_eq!(eval("  1\t+\n1 "), 2.0);
    }

    #[test]
    fn unary_signs() {
        assert_eq!(eval("-3"), -3.0);
        assert_eq!(eval("+3"), 3.0);
        assert_eq!(eval("--3"), 3.0);
        assert_eq!(eval("-2 ^ 2"), -4.0, "the sign applies after the power");
        assert_eq!(eval("(-2) ^ 2"), 4.0);
        assert_eq!(eval("3 - -2"), 5.0);
        assert_eq!(eval("2 * -3"), -6.0);
    }

    #[test]
    fn numbers_constants_and_functions() {
        assert_eq!(eval("1e3"), 1000.0);
        assert_eq!(eval("2.5E-1"), 0.25);
        assert_eq!(eval(".5 + 1."), 1.5);
        assert_eq!(eval("pi"), std::f64::consts::PI);
        assert_eq!(eval("e"), std::f64::consts::E);
        assert_eq!(eval("sqrt(16)"), 4.0);
        assert_eq!(eval("abs(-2.5)"), 2.5);
        assert!((eval("ln(e)") - 1.0).abs() < 1e-12);
        assert_eq!(eval("log10(1000)"), 3.0);
        assert!(eval("sin(pi)").abs() < 1e-12);
        assert_eq!(eval("cos(0)"), 1.0);
        assert!((eval("tan(pi / 4)") - 1.0).abs() < 1e-12);
        assert_eq!(eval("floor(-1.5)"), -2.0);
        assert_eq!(eval("ceil(1.2)"), 2.0);
        assert_eq!(eval("round(2.5)"), 3.0);
        assert_eq!(eval("min(3, 1, 2)"), 1.0);
        assert_eq!(eval("max(3, 1 + 9, 2)"), 10.0);
        assert_eq!(eval("max(4)"), 4.0);
        assert_eq!(eval("sqrt(max(9, 4)) * 2"), 6.0);
    }

    #[test]
    fn errors_name_the_position() {
        assert_eq!(
            eval_err("2 +"),
            "unexpected end of expression at position 4"
        );
        assert_eq!(eval_err("2 + * 3"), "unexpected `*` at position 5");
        assert_eq!(eval_err("(1 + 2"), "missing `)` at position 7");
        assert_eq!(eval_err("1 + 2)"), "unexpected `)` at position 6");
        // `2e` is 2 followed by the name `e`: not an exponent, and no implicit multiplication.
        assert_eq!(eval_err("2e"), "unexpected `e` at position 2");
        assert_eq!(eval_err("3 4"), "unexpected `4` at position 3");
        assert_eq!(eval_err(""), "the expression is empty at position 1");
        assert_eq!(eval_err("1 / 0"), "division by zero (`/`) at position 3");
        assert_eq!(
            eval_err("5 % (2 - 2)"),
            "division by zero (`%`) at position 3"
        );
        let unknown = eval_err("1 + foo(2)");
        assert!(
            unknown.starts_with("unknown name `foo` (known: pi, e, sqrt"),
            "{unknown}"
        );
        assert!(unknown.ends_with("at position 5"), "{unknown}");
        assert!(eval_err("x").contains("known: pi, e, sqrt"));
        assert!(eval_err("PI").contains("unknown name `PI`"));
        assert!(eval_err("sqrt 4").contains("`sqrt` is a function"));
        assert!(eval_err("sqrt(1, 2)").contains("takes one argument, not 2"));
        assert!(eval_err("min()").contains("at least one argument"));
        assert!(eval_err("sqrt(-1)").contains("not a finite number"));
        assert!(eval_err("ln(0)").contains("not a finite number"));
        assert!(eval_err("10 ^ 400").contains("not a finite number"));
        assert!(eval_err("1e400").contains("too large"));
        assert!(eval_err("1e308 * 10").contains("`*` overflows"));
        assert!(eval_err("1 # 2").contains("unexpected `#` at position 3"));
    }

    #[test]
    fn nesting_is_limited_to_64_levels() {
        let ok = format!("{}1{}", "(".repeat(64), ")".repeat(64));
        assert_eq!(eval(&ok), 1.0);
        let deep = format!("{}1{}", "(".repeat(65), ")".repeat(65));
        assert_eq!(
            eval_err(&deep),
            "the expression nests deeper than 64 levels at position 65"
        );
        assert!(eval_err(&"-".repeat(65)).contains("nests deeper than 64"));
        assert!(
            eval_err(&format!("{}1{}", "sqrt(".repeat(70), ")".repeat(70)))
                .contains("nests deeper")
        );
        // A long but flat expression is fine.
        let flat = vec!["1"; 400].join("+");
        assert_eq!(eval(&flat), 400.0);
    }

    #[test]
    fn the_calculator_writes_integral_results_as_integers() {
        let out = run("calculator", json!({"expression": "2+2"})).unwrap();
        assert_eq!(out, json!({"result": 4, "expression": "2+2"}));
        assert_eq!(out.to_string(), r#"{"expression":"2+2","result":4}"#);
        let out = run("calculator", json!({"expression": "1 / 4"})).unwrap();
        assert_eq!(out["result"], json!(0.25));
        let out = run("calculator", json!({"expression": "-0"})).unwrap();
        assert_eq!(out["result"].to_string(), "0");
        let out = run("calculator", json!({"expression": "2^53"})).unwrap();
        assert!(out["result"].is_f64(), "{out}");
        let out = run("calculator", json!({"expression": "2^53 - 1"})).unwrap();
        assert_eq!(out["result"], json!(9_007_199_254_740_991_i64));
    }

    #[test]
    fn calculator_input_is_validated_against_its_schema() {
        let param = |input: Value| run("calculator", input).unwrap_err().param.unwrap();
        assert_eq!(param(json!({})), "input.expression");
        assert_eq!(param(json!({"expression": 5})), "input.expression");
        assert_eq!(param(json!({"expression": ""})), "input.expression");
        assert_eq!(
            param(json!({"expression": "1".repeat(1001)})),
            "input.expression"
        );
        assert_eq!(param(json!({"expression": "1", "x": 1})), "input.x");
        assert_eq!(param(json!([1])), "input");
        let e = run("calculator", json!({"expression": "1", "x": 1})).unwrap_err();
        assert!(e.message.contains("`expression`"), "{}", e.message);
        // 1000 characters is fine.
        let long = format!("1{}", "+0".repeat(499) + " ");
        assert_eq!(long.chars().count(), 1000);
        assert_eq!(
            run("calculator", json!({"expression": long})).unwrap()["result"],
            1
        );
    }

    #[test]
    fn the_validator_covers_its_subset() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a": {"type": "integer"},
                "b": {"type": ["string", "null"], "enum": ["x", null]},
                "c": {"type": "array", "items": {"type": "object", "properties": {"d": {"type": "boolean"}}, "required": ["d"]}},
                "n": {"type": "object", "properties": {"m": {"type": "string", "maxLength": 2}}, "additionalProperties": false}
            },
            "required": ["a"]
        });
        let check =
            |v: Value| validate(&schema, &v, "parameters.input").map_err(|e| e.param.unwrap());
        assert_eq!(check(json!({"a": 1, "extra": true})), Ok(()));
        assert_eq!(check(json!({"a": 1.0, "b": null})), Ok(()));
        assert_eq!(check(json!({})), Err("parameters.input.a".into()));
        assert_eq!(check(json!({"a": 1.5})), Err("parameters.input.a".into()));
        assert_eq!(
            check(json!({"a": 1, "b": "y"})),
            Err("parameters.input.b".into())
        );
        assert_eq!(
            check(json!({"a": 1, "c": [{"d": true}, {}]})),
            Err("parameters.input.c[1].d".into())
        );
        assert_eq!(
            check(json!({"a": 1, "n": {"m": "abc"}})),
            Err("parameters.input.n.m".into())
        );
        assert_eq!(
            check(json!({"a": 1, "n": {"z": 1}})),
            Err("parameters.input.n.z".into())
        );
        assert_eq!(check(json!("s")), Err("parameters.input".into()));
        // maxLength counts characters, not bytes.
        assert_eq!(check(json!({"a": 1, "n": {"m": "数据"}})), Ok(()));
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn current_time_in_utc_and_at_offsets() {
        let now = at("2026-01-02T03:04:05Z");
        let t = |tz: Option<&str>| {
            let input = tz.map_or(json!({}), |tz| json!({"timezone": tz}));
            current_time_at(&input, now).unwrap()
        };
        assert_eq!(
            t(None),
            json!({"iso": "2026-01-02T03:04:05Z", "unix": 1_767_323_045, "timezone": "UTC"})
        );
        assert_eq!(t(Some("Z"))["timezone"], "UTC");
        assert_eq!(t(Some("utc"))["iso"], "2026-01-02T03:04:05Z");
        let sh = t(Some("+08:00"));
        assert_eq!(sh["iso"], "2026-01-02T11:04:05+08:00");
        assert_eq!(sh["timezone"], "+08:00");
        assert_eq!(sh["unix"], 1_767_323_045);
        let ny = t(Some("-05:30"));
        assert_eq!(ny["iso"], "2026-01-01T21:34:05-05:30");
        assert_eq!(t(Some("+0530"))["timezone"], "+05:30");
        assert_eq!(t(Some("-03"))["timezone"], "-03:00");
        assert_eq!(t(Some("-00:00"))["iso"], "2026-01-02T03:04:05+00:00");
        assert_eq!(t(Some("+00:00"))["timezone"], "+00:00");
        for v in [t(None), sh, ny] {
            let iso = v["iso"].as_str().unwrap();
            let parsed = DateTime::parse_from_rfc3339(iso).unwrap();
            assert_eq!(parsed.timestamp(), 1_767_323_045);
        }
        // Through the skill, with the real clock.
        let out = run("current_time", json!({"timezone": "+09:00"})).unwrap();
        let iso = DateTime::parse_from_rfc3339(out["iso"].as_str().unwrap()).unwrap();
        assert_eq!(iso.timestamp(), out["unix"].as_i64().unwrap());
        assert!((Utc::now().timestamp() - iso.timestamp()).abs() < 5);
    }

    #[test]
    fn bad_timezones_are_refused_naming_the_forms_accepted() {
        for tz in [
            "Asia/Shanghai",
            "EST",
            "+8",
            "+08:0",
            "08:00",
            "+08-00",
            "+ab:cd",
            "",
            "+24:00",
            "-05:60",
            "+数:00",
            "+0数",
        ] {
            let e = run("current_time", json!({"timezone": tz})).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("input.timezone"), "{tz}");
            assert_eq!(e.kind, ErrorKind::InvalidRequest);
        }
        let e = run("current_time", json!({"timezone": "Asia/Shanghai"})).unwrap_err();
        assert!(
            e.message.contains("`UTC`") && e.message.contains("+08:00"),
            "{}",
            e.message
        );
        // Refused before executing, under the path given.
        let e = builtin("current_time")
            .unwrap()
            .validate_input(&json!({"timezone": "Europe/Paris"}), "parameters.input")
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("parameters.input.timezone"));
        assert!(
            e.message.starts_with("`parameters.input.timezone` must be"),
            "{}",
            e.message
        );
        let e = run("current_time", json!({"timezone": 8})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input.timezone"));
        let e = run("current_time", json!({"tz": "UTC"})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input.tz"));
    }
}
