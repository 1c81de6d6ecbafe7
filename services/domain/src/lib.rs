//! The platform's vocabulary: ids, tiers and limits, scopes, API key format and the error
//! kinds of the contract. Pure data and rules — no I/O, so every other crate can share it.

pub mod api_key;
pub mod error;
pub mod ids;
pub mod memory;
pub mod models;
pub mod scope;
pub mod status;
pub mod tier;

pub use api_key::{ApiKeySecret, KeyHash};
pub use error::{Error, ErrorKind};
pub use ids::{AgentId, ApiKeyId, TaskId, TenantId};
pub use models::ModelAllowList;
pub use scope::{Scope, Scopes};
pub use status::{JobStatus, RunStatus};
pub use tier::{LimitOverrides, Limits, Tier};
pub mod tenant;
pub use tenant::TenantStatus;
