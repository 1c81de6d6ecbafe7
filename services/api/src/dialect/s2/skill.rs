//! S2's skills (`/skills`): the install and register bodies, an installed skill, the list, a
//! registered HTTP skill (with its signing secret, shown once) and an uninstall.

use chrono::{DateTime, Utc};
use openclaw_engine::skills::{self, Permissions, Resolved};
use openclaw_store::{HttpSkillRecord, InstalledSkill};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An installed skill; `description` and `permissions` are null for one the catalogue no longer
/// has.
#[derive(Debug, Serialize)]
pub struct Installed<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub description: Option<String>,
    /// `builtin` or `http`.
    pub kind: &'static str,
    /// `active` or `disabled`.
    pub status: &'static str,
    pub enabled: bool,
    pub permissions: Option<Permissions>,
    pub installed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
    pub invocations: i64,
}

impl<'a> Installed<'a> {
    /// `registered`: the tenant's HTTP skills, where a name that is no built-in is looked up.
    pub fn of(i: &'a InstalledSkill, registered: &[HttpSkillRecord]) -> Self {
        let skill = skills::resolve(&i.name, registered);
        Installed {
            name: &i.name,
            version: &i.version,
            description: skill.as_ref().map(|s| s.description().to_string()),
            kind: match skill {
                Some(Resolved::Http(_)) => "http",
                _ => "builtin",
            },
            status: if i.enabled { "active" } else { "disabled" },
            enabled: i.enabled,
            permissions: skill.as_ref().map(Resolved::permissions),
            installed_at: i.installed_at,
            updated_at: i.updated_at,
            last_used: i.last_used,
            invocations: i.invocations,
        }
    }
}

/// `GET /skills`.
#[derive(Debug, Serialize)]
pub struct Skills<'a> {
    pub skills: &'a [Installed<'a>],
    pub total: usize,
}

/// `POST /skills`' answer: the installed skill, its manifest, and the secret that signs every
/// call to its endpoint.
#[derive(Debug, Serialize)]
pub struct Registered<'a> {
    #[serde(flatten)]
    pub installed: Installed<'a>,
    pub manifest: Value,
    pub signing_secret: &'a str,
}

/// What uninstalling answers.
#[derive(Debug, Serialize)]
pub struct SkillDeleted<'a> {
    pub name: &'a str,
    pub deleted: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Install {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, alias = "inputSchema", alias = "parameters")]
    pub input_schema: Option<Value>,
    #[serde(default, alias = "url")]
    pub endpoint: Option<String>,
    /// Seconds, 1–30 (default 10).
    #[serde(default)]
    pub timeout: Option<i64>,
}
