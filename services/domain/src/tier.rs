//! Tiers and the limits they grant (API.md §4), with per-tenant overrides set by the operator.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Free,
    Pro,
    Enterprise,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Free, Tier::Pro, Tier::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Pro => "pro",
            Tier::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn limits(self) -> Limits {
        match self {
            Tier::Free => Limits {
                requests_per_hour: 1_000,
                burst: 20,
                concurrent_requests: 10,
                ws_connections: 10,
                tokens_per_day: 1_000_000,
                memories: 10_000,
                sessions: 1_000,
                messages_per_session: MESSAGES_PER_SESSION,
            },
            Tier::Pro => Limits {
                requests_per_hour: 10_000,
                burst: 100,
                concurrent_requests: 50,
                ws_connections: 100,
                tokens_per_day: 10_000_000,
                memories: 100_000,
                sessions: 10_000,
                messages_per_session: MESSAGES_PER_SESSION,
            },
            Tier::Enterprise => Limits {
                requests_per_hour: 100_000,
                burst: 500,
                concurrent_requests: 200,
                ws_connections: 1_000,
                tokens_per_day: 100_000_000,
                memories: 1_000_000,
                sessions: 100_000,
                messages_per_session: MESSAGES_PER_SESSION,
            },
        }
    }
}

/// The limits in force for one tenant: its tier's, with any overrides applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub requests_per_hour: u32,
    pub burst: u32,
    pub concurrent_requests: u32,
    pub ws_connections: u32,
    pub tokens_per_day: u64,
    /// Memories a tenant may hold (API.md §5.4).
    #[serde(default = "default_memories")]
    pub memories: u64,
    /// Sessions a tenant may hold (expired ones count until the sweep removes them). The
    /// figures are also `openclaw_session_cap`'s (migration 18), which enforces them.
    #[serde(default = "default_sessions")]
    pub sessions: u64,
    /// Messages one session may hold; past it, a user's message is refused.
    #[serde(default = "default_messages_per_session")]
    pub messages_per_session: u64,
}

/// Every tier's messages per session (`openclaw_session_message_cap`).
const MESSAGES_PER_SESSION: u64 = 10_000;

fn default_sessions() -> u64 {
    Tier::Free.limits().sessions
}

fn default_messages_per_session() -> u64 {
    MESSAGES_PER_SESSION
}

/// Limits serialised before memories existed read as the smallest tier's.
fn default_memories() -> u64 {
    Tier::Free.limits().memories
}

/// Operator overrides; `None` means "the tier's value". Stored as JSON on the tenant row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_hour: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent_requests: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_connections: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_day: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memories: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages_per_session: Option<u64>,
}

impl LimitOverrides {
    pub fn apply(&self, base: Limits) -> Limits {
        Limits {
            requests_per_hour: self.requests_per_hour.unwrap_or(base.requests_per_hour),
            burst: self.burst.unwrap_or(base.burst),
            concurrent_requests: self.concurrent_requests.unwrap_or(base.concurrent_requests),
            ws_connections: self.ws_connections.unwrap_or(base.ws_connections),
            tokens_per_day: self.tokens_per_day.unwrap_or(base.tokens_per_day),
            memories: self.memories.unwrap_or(base.memories),
            sessions: self.sessions.unwrap_or(base.sessions),
            messages_per_session: self
                .messages_per_session
                .unwrap_or(base.messages_per_session),
        }
    }

    /// Zero would lock a tenant out in a way that looks like a bug; suspension is the tool for
    /// that. Returns the offending field.
    pub fn validate(&self) -> Result<(), &'static str> {
        let fields: [(&'static str, Option<u64>); 8] = [
            ("requests_per_hour", self.requests_per_hour.map(u64::from)),
            ("burst", self.burst.map(u64::from)),
            (
                "concurrent_requests",
                self.concurrent_requests.map(u64::from),
            ),
            ("ws_connections", self.ws_connections.map(u64::from)),
            ("tokens_per_day", self.tokens_per_day),
            ("memories", self.memories),
            ("sessions", self.sessions),
            ("messages_per_session", self.messages_per_session),
        ];
        match fields.iter().find(|(_, v)| *v == Some(0)) {
            Some((name, _)) => Err(name),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_match_the_contract() {
        assert_eq!(Tier::Free.limits().requests_per_hour, 1_000);
        assert_eq!(Tier::Pro.limits().burst, 100);
        assert_eq!(Tier::Enterprise.limits().concurrent_requests, 200);
        assert_eq!(Tier::parse("pro"), Some(Tier::Pro));
        assert_eq!(Tier::parse("gold"), None);
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let o = LimitOverrides {
            burst: Some(3),
            ..Default::default()
        };
        let l = o.apply(Tier::Free.limits());
        assert_eq!(l.burst, 3);
        assert_eq!(l.requests_per_hour, 1_000);
        assert_eq!(
            LimitOverrides {
                burst: Some(0),
                ..Default::default()
            }
            .validate(),
            Err("burst")
        );
    }
}
