//! Typed, prefixed identifiers. On the wire an id reads `ten_…` / `key_…` (Stripe style, so a
//! misplaced id is obvious in logs); in Postgres it is the bare UUID v7 (time-ordered).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            /// Accepts the prefixed form and, for operators pasting from SQL, the bare UUID.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let raw = s
                    .strip_prefix($prefix)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .unwrap_or(s);
                Uuid::parse_str(raw).map(Self).map_err(|_| InvalidId)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed id")]
pub struct InvalidId;

prefixed_id!(TenantId, "ten");
prefixed_id!(ApiKeyId, "key");
prefixed_id!(TaskId, "task");
prefixed_id!(AgentId, "agent");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_wire_form() {
        let id = TenantId::new();
        let wire = id.to_string();
        assert!(wire.starts_with("ten_"));
        assert_eq!(wire.parse::<TenantId>().unwrap(), id);
        assert_eq!(id.0.to_string().parse::<TenantId>().unwrap(), id);
    }

    #[test]
    fn rejects_garbage_and_foreign_prefixes() {
        assert!("ten_nope".parse::<TenantId>().is_err());
        let key = ApiKeyId::new().to_string();
        assert!(key.parse::<TenantId>().is_err());
    }
}
