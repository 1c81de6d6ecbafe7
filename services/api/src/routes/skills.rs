//! Skills and tools (API.md §5.5): the catalogue (built-ins and the tenant's registered HTTP
//! skills) as S1's tools, a tenant's installed skills in S2's shape (install, uninstall, enable,
//! disable, register), and executing a skill in S0's shape (`/skills/{name}/execute`,
//! enveloped under `/api/v1`) or S1's (`/tools/{name}/execute`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use axum::{Extension, Json};
use openclaw_domain::{Error, ErrorKind, Scope};
use openclaw_engine::skills::{self, Resolved, Skill};
use openclaw_store::{HttpSkillRecord, InstalledSkill, MemoryScope};
use rand::distributions::{Alphanumeric, DistString};
use serde_json::{json, Value};

use crate::auth::Authenticated;
use crate::dialect::{s0, s1, s2, Dialect};
use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_json, ApiJson};
use crate::middleware::envelope::Enveloped;
use crate::state::AppState;

/// An HTTP skill's call timeout, in seconds: default and most.
const DEFAULT_HTTP_TIMEOUT_SECS: i64 = 10;
const MAX_HTTP_TIMEOUT_SECS: i64 = 30;
/// HTTP skills one tenant may register.
const MAX_HTTP_SKILLS: usize = 100;

/// The skills a tenant can use as `[{name, versions}]`, for errors that name what exists.
fn available(registered: &[HttpSkillRecord]) -> Value {
    skills::builtins()
        .iter()
        .map(|s| json!({"name": s.name, "versions": s.versions()}))
        .chain(
            registered
                .iter()
                .map(|h| json!({"name": h.name, "versions": [h.version]})),
        )
        .collect()
}

/// A skill by name among the built-ins and the tenant's HTTP skills (another tenant's are
/// unknown: 404 like any unknown skill, listing those there are), and the tenant's HTTP skills
/// — read only when the name is not a built-in's, so executing a built-in costs no query.
async fn tenant_skill(
    state: &AppState,
    auth: &Authenticated,
    name: &str,
) -> ApiResult<(Resolved, Vec<HttpSkillRecord>)> {
    if let Some(skill) = skills::builtin(name) {
        return Ok((Resolved::Builtin(skill), Vec::new()));
    }
    let registered = state.store().http_skills(auth.tenant_id).await?;
    match skills::resolve(name, &registered) {
        Some(skill) => Ok((skill, registered)),
        None => Err(ApiError(Error::not_found("skill").with_details(
            json!({"name": name, "available": available(&registered)}),
        ))),
    }
}

/// Executes `skill` for the caller. The memory skills need the memory scope too and work in
/// `named` session's conversation (S0's `session`) when one is given; a token limited to one
/// session reaches only that conversation's memories. Other skills have no use for a session.
async fn execute(
    state: &AppState,
    auth: &Authenticated,
    skill: &Resolved,
    input: &Value,
    path: &str,
    named: Option<&str>,
) -> ApiResult<Value> {
    let mut scope = MemoryScope::Tenant;
    if skill.needs_tenant() && skill.name() != skills::SPAWN_AGENT {
        auth.require(Scope::Memory)?;
        let key = match (auth.session.as_deref(), named) {
            (Some(own), Some(named)) if own != named => return Err(ApiError::not_found("session")),
            (Some(own), _) => Some(own),
            (None, named) => named,
        };
        if let Some(key) = key {
            let found = state.store().get_session(auth.tenant_id, key).await?;
            let id = found.ok_or_else(|| ApiError::not_found("session"))?.id;
            // A limited credential sees its conversation alone; a named one is seen as a run
            // in it sees it (its memories and the tenant's own).
            scope = match auth.session {
                Some(_) => MemoryScope::Session(id),
                None => MemoryScope::Recall(id),
            };
        }
    }
    Ok(state
        .runs()
        .execute_skill(auth.tenant_id, scope, skill, input, path)
        .await?)
}

/// `GET /v1/skills` (S2): the tenant's installed skills, `{skills, total}`; under `/api/v1` also
/// S0's envelope.
pub async fn list_installed(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
) -> ApiResult<Response> {
    let (installed, registered) = installed_skills(&state, &auth).await?;
    let skills: Vec<s2::Installed> = installed
        .iter()
        .map(|i| s2::Installed::of(i, &registered))
        .collect();
    Ok(match dialect {
        Dialect::Hosted => Json(s2::Skills {
            skills: &skills,
            total: skills.len(),
        })
        .into_response(),
        Dialect::Gateway => Json(s0::Skills::of(&skills)).into_response(),
    })
}

/// The caller's installed skills, and its registered HTTP skills their views look up.
pub async fn installed_skills(
    state: &AppState,
    auth: &Authenticated,
) -> ApiResult<(Vec<InstalledSkill>, Vec<HttpSkillRecord>)> {
    auth.require(Scope::Skills)?;
    let store = state.store();
    let (installed, registered) = tokio::try_join!(
        store.installed_skills(auth.tenant_id),
        store.http_skills(auth.tenant_id)
    )?;
    Ok((installed, registered))
}

/// `POST /v1/skills/install` `{name, version}` (S2) → 201 (200 when it was installed already:
/// the version is updated and it is enabled again). The version defaults to the current one;
/// earlier catalogue versions install too. An unknown name or version → 404 with the skills
/// there are.
pub async fn install(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<s2::Install>,
) -> ApiResult<Response> {
    auth.require(Scope::Skills)?;
    auth.require_tenant_wide("install skills")?;
    let Some(name) = req.name.filter(|n| !n.trim().is_empty()) else {
        return Err(ApiError::invalid("name", "`name` is required"));
    };
    let (skill, registered) = tenant_skill(&state, &auth, name.trim()).await?;
    let version = req.version.unwrap_or_else(|| skill.version().to_string());
    if !skill.offers_version(&version) {
        let registered = state.store().http_skills(auth.tenant_id).await?;
        return Err(ApiError(Error::not_found("skill version").with_details(
            json!({"name": skill.name(), "version": version, "available": available(&registered)}),
        )));
    }
    let (installed, new) = state
        .store()
        .install_skill(auth.tenant_id, skill.name(), &version)
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(s2::Installed::of(&installed, &registered))).into_response())
}

fn required(field: &str, value: Option<String>, max_chars: usize) -> ApiResult<String> {
    match value.map(|v| v.trim().to_string()) {
        Some(v) if !v.is_empty() && v.chars().count() <= max_chars => Ok(v),
        _ => Err(ApiError::invalid(
            field,
            format!("`{field}` is required, 1 to {max_chars} characters"),
        )),
    }
}

/// `POST /v1/skills` (manifest) → 201: registers a tenant HTTP skill and installs it. The
/// answer carries `signing_secret`, shown this once: every call to the endpoint is signed with
/// it (`X-OpenClaw-Signature: t=…,v1=…`, HMAC-SHA256 of `t.body`).
pub async fn register(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(req): ApiJson<s2::Register>,
) -> ApiResult<Response> {
    auth.require(Scope::Skills)?;
    auth.require_tenant_wide("register skills")?;
    let name = required("name", req.name, 64)?;
    let name_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !name_ok {
        return Err(ApiError::invalid(
            "name",
            "`name` is lower-case letters, digits, `_` and `-`, starting with a letter",
        ));
    }
    if skills::builtin(&name).is_some() {
        return Err(ApiError(Error::new(
            ErrorKind::Conflict,
            format!("`{name}` is a built-in skill's name"),
        )));
    }
    let version = required("version", req.version, 32)?;
    let description = required("description", req.description, 1000)?;
    let input_schema = match req.input_schema {
        Some(schema) if schema["type"] == "object" => schema,
        _ => {
            return Err(ApiError::invalid(
                "input_schema",
                "`input_schema` is required: a JSON Schema with `\"type\": \"object\"`",
            ));
        }
    };
    // At most 64 KiB and 32 levels deep, and a JSON Schema that compiles (then cached).
    skills::check_schema(&input_schema)?;
    let endpoint = required("endpoint", req.endpoint, 2048)?;
    if !state
        .runs()
        .skill_context()
        .outbound
        .endpoint_acceptable(&endpoint)
    {
        return Err(ApiError::invalid(
            "endpoint",
            "`endpoint` must be an https URL",
        ));
    }
    let timeout = req.timeout.unwrap_or(DEFAULT_HTTP_TIMEOUT_SECS);
    if !(1..=MAX_HTTP_TIMEOUT_SECS).contains(&timeout) {
        return Err(ApiError::invalid(
            "timeout",
            format!("`timeout` is 1 to {MAX_HTTP_TIMEOUT_SECS} seconds"),
        ));
    }
    let registered = state.store().http_skills(auth.tenant_id).await?;
    if registered.len() >= MAX_HTTP_SKILLS {
        return Err(ApiError(
            Error::new(
                ErrorKind::RateLimited,
                format!(
                    "this tenant has registered {MAX_HTTP_SKILLS} HTTP skills, the most it may; \
                     delete some first"
                ),
            )
            .with_details(json!({"limit": MAX_HTTP_SKILLS})),
        ));
    }
    let secret = format!(
        "sks_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
    );
    let record = HttpSkillRecord {
        name,
        version,
        description,
        input_schema,
        endpoint,
        timeout_ms: (Duration::from_secs(timeout as u64).as_millis()) as i32,
        secret: secret.clone(),
        created_at: chrono::Utc::now(),
    };
    let Some(installed) = state
        .store()
        .register_http_skill(auth.tenant_id, &record)
        .await?
    else {
        return Err(ApiError(Error::new(
            ErrorKind::Conflict,
            format!(
                "a skill `{}` is registered already; delete it first",
                record.name
            ),
        )));
    };
    let view = s2::Registered {
        installed: s2::Installed::of(&installed, std::slice::from_ref(&record)),
        manifest: Resolved::Http(Arc::new(record.clone())).manifest(),
        signing_secret: &secret,
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `DELETE /v1/skills/{name}` (S2): uninstalls (a registered HTTP skill goes with it); 404 when
/// it is not installed.
pub async fn uninstall(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    auth.require(Scope::Skills)?;
    auth.require_tenant_wide("uninstall skills")?;
    if !state.store().uninstall_skill(auth.tenant_id, &name).await? {
        return Err(ApiError::not_found("installed skill"));
    }
    Ok(Json(s2::SkillDeleted {
        name: &name,
        deleted: true,
    })
    .into_response())
}

async fn set_enabled(
    state: &AppState,
    auth: &Authenticated,
    name: &str,
    enabled: bool,
) -> ApiResult<Response> {
    auth.require(Scope::Skills)?;
    auth.require_tenant_wide("enable or disable skills")?;
    match state
        .store()
        .set_skill_enabled(auth.tenant_id, name, enabled)
        .await?
    {
        Some(installed) => {
            let registered = state.store().http_skills(auth.tenant_id).await?;
            Ok(Json(s2::Installed::of(&installed, &registered)).into_response())
        }
        None => Err(ApiError::not_found("installed skill")),
    }
}

/// `POST /v1/skills/{name}/enable`: offered to the model again.
pub async fn enable(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    set_enabled(&state, &auth, &name, true).await
}

/// `POST /v1/skills/{name}/disable`: kept installed (with its usage) but not offered.
pub async fn disable(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    set_enabled(&state, &auth, &name, false).await
}

/// `GET /v1/tools` (S1): the catalogue and the tenant's HTTP skills, a bare array.
pub async fn list_tools(
    State(state): State<AppState>,
    auth: Authenticated,
) -> ApiResult<Json<Value>> {
    auth.require(Scope::Skills)?;
    let registered = state.store().http_skills(auth.tenant_id).await?;
    Ok(Json(Value::Array(
        skills::builtins()
            .iter()
            .map(Skill::manifest)
            .chain(
                registered
                    .into_iter()
                    .map(|h| Resolved::Http(Arc::new(h)).manifest()),
            )
            .collect(),
    )))
}

/// `POST /v1/tools/{name}/execute` `{parameters}` (S1) →
/// `{result, metadata{execution_time (ms), memory_used}}`.
pub async fn execute_tool(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    ApiJson(call): ApiJson<s1::ToolCall>,
) -> ApiResult<Response> {
    auth.require(Scope::Skills)?;
    let (skill, _) = tenant_skill(&state, &auth, &name).await?;
    let input = match call.parameters {
        None | Some(Value::Null) => json!({}),
        Some(p @ Value::Object(_)) => p,
        Some(_) => {
            return Err(ApiError::invalid(
                "parameters",
                "`parameters` must be an object",
            ));
        }
    };
    let started = Instant::now();
    let result = execute(&state, &auth, &skill, &input, "parameters", None).await?;
    Ok(Json(s1::ToolResult {
        result: &result,
        metadata: s1::ToolMetadata {
            execution_time: started.elapsed().as_secs_f64() * 1000.0,
            memory_used: None,
            skill: skill.name(),
            version: skill.version(),
        },
    })
    .into_response())
}

/// `POST /v1/skills/{name}/execute` `{args, session}` (S0) → `{result, output, executionTime
/// (s)}`: `result` is the skill's sentence where it has one, else its output.
pub async fn execute_skill(
    State(state): State<AppState>,
    Extension(dialect): Extension<Dialect>,
    auth: Authenticated,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let resp = async {
        auth.require(Scope::Skills)?;
        let (skill, _) = tenant_skill(&state, &auth, &name).await?;
        let call: s0::SkillCall = if body.iter().all(u8::is_ascii_whitespace) {
            s0::SkillCall::default()
        } else {
            parse_json(&body)?
        };
        let input = skill.input_from_args(&call.args, "args")?;
        let started = Instant::now();
        let result = execute(
            &state,
            &auth,
            &skill,
            &input,
            "args",
            call.session.as_deref(),
        )
        .await?;
        let took = started.elapsed().as_secs_f64();
        let view = s0::SkillResult::of(&result, took, skill.name(), skill.version());
        Ok::<_, ApiError>(Json(view).into_response())
    }
    .await
    .unwrap_or_else(IntoResponse::into_response);
    match dialect {
        Dialect::Gateway => (Extension(Enveloped), resp).into_response(),
        Dialect::Hosted => resp,
    }
}

/// Skills and tools. S0's execute marks its answers for the envelope under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/skills/{name}/execute", post(execute_skill))
        .route("/skills", get(list_installed).post(register))
        .route("/skills/install", post(install))
        .route("/skills/{name}", delete(uninstall))
        .route("/skills/{name}/enable", post(enable))
        .route("/skills/{name}/disable", post(disable))
        .route("/tools", get(list_tools))
        .route("/tools/{name}/execute", post(execute_tool))
}
