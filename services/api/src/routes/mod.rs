//! Handlers grouped by resource. Each module exposes its handlers and its `router()` (the
//! paths it serves); `crate::router` merges them under the tenant gate and S0's envelope.

pub mod admin;
pub mod agents;
pub mod health;
pub mod keys;
pub mod memory;
pub mod messages;
pub mod openai;
pub mod runs;
pub mod sessions;
pub mod skills;
pub mod status;
pub mod tasks;
pub mod tokens;

use std::str::FromStr;

use openclaw_domain::Scopes;

use crate::error::ApiError;

/// A malformed id names nothing that exists: 404, like any id the caller may not see.
pub fn parse_id<T: FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}

/// A page of a listing: `limit` (1 to `max`, `default` when absent) and `offset` (≥ 0, 0 when
/// absent), or a 400 naming the one that is out of range.
pub fn page(
    limit: Option<i64>,
    offset: Option<i64>,
    default: i64,
    max: i64,
) -> Result<(i64, i64), ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("`limit` must be between 1 and {max}"),
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::invalid("offset", "`offset` must not be negative"));
    }
    Ok((limit, offset))
}

/// Trims and bounds a display name.
pub fn valid_name(param: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            param,
            format!("`{param}` must be 1 to 200 characters"),
        ));
    }
    Ok(name.to_string())
}

/// Requested scope names: known tenant scopes, at least one (`admin` is never grantable).
pub fn requested_scopes(names: &[String]) -> Result<Scopes, ApiError> {
    let set = Scopes::parse_tenant(names.iter().map(String::as_str))
        .map_err(|bad| ApiError::invalid("scopes", format!("unknown scope `{bad}`")))?;
    if set.is_empty() {
        return Err(ApiError::invalid("scopes", "at least one scope is needed"));
    }
    Ok(set)
}
