//! A skill as a tenant can use it (`Resolved`): a built-in or one of its registered HTTP
//! skills, called by a signed POST through the outbound guard.

use std::sync::Arc;

use chrono::Utc;
use hmac::{Hmac, Mac};
use openclaw_domain::Error;
use openclaw_store::HttpSkillRecord;
use serde_json::{json, Value};
use sha2::Sha256;

use super::catalogue::{args_to_input, builtin, Permissions, Skill};
use super::schema::validate;
use super::SkillContext;

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
