//! Scopes an API key or token may carry (API.md §2). `admin` is the operator's alone and can
//! never be granted to a tenant credential.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Messages,
    Sessions,
    Memory,
    Skills,
    Tasks,
    Agents,
    Webhooks,
    Config,
    Logs,
    Keys,
    Admin,
}

impl Scope {
    pub const TENANT: [Scope; 10] = [
        Scope::Messages,
        Scope::Sessions,
        Scope::Memory,
        Scope::Skills,
        Scope::Tasks,
        Scope::Agents,
        Scope::Webhooks,
        Scope::Config,
        Scope::Logs,
        Scope::Keys,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Messages => "messages",
            Scope::Sessions => "sessions",
            Scope::Memory => "memory",
            Scope::Skills => "skills",
            Scope::Tasks => "tasks",
            Scope::Agents => "agents",
            Scope::Webhooks => "webhooks",
            Scope::Config => "config",
            Scope::Logs => "logs",
            Scope::Keys => "keys",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::TENANT
            .into_iter()
            .chain([Scope::Admin])
            .find(|sc| sc.as_str() == s)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of scopes as a bit set: checked on every request, so it must be cheap to copy.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u16);

impl Scopes {
    /// What a key with no explicit scopes gets: every tenant scope.
    pub fn all_tenant() -> Scopes {
        Scope::TENANT.into_iter().collect()
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_subset_of(self, other: Scopes) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn intersect(self, other: Scopes) -> Scopes {
        Scopes(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::TENANT
            .into_iter()
            .chain([Scope::Admin])
            .filter(move |s| self.contains(*s))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Scope::as_str).collect()
    }

    /// Parses names, rejecting unknown ones and `admin`; returns the first bad name.
    pub fn parse_tenant<'a, I: IntoIterator<Item = &'a str>>(names: I) -> Result<Scopes, String> {
        let mut set = Scopes::default();
        for name in names {
            match Scope::parse(name) {
                Some(Scope::Admin) | None => return Err(name.to_string()),
                Some(s) => set.0 |= s.bit(),
            }
        }
        Ok(set)
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        Scopes(iter.into_iter().fold(0, |acc, s| acc | s.bit()))
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        Scopes::parse_tenant(names.iter().map(String::as_str))
            .map_err(|bad| serde::de::Error::custom(format!("unknown scope `{bad}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_is_never_a_tenant_scope() {
        assert!(!Scopes::all_tenant().contains(Scope::Admin));
        assert_eq!(
            Scopes::parse_tenant(["keys", "admin"]),
            Err("admin".to_string())
        );
        assert_eq!(
            Scopes::parse_tenant(["keys", "nope"]),
            Err("nope".to_string())
        );
    }

    #[test]
    fn subsets_and_names() {
        let s = Scopes::parse_tenant(["memory", "keys"]).unwrap();
        assert!(s.is_subset_of(Scopes::all_tenant()));
        assert!(!Scopes::all_tenant().is_subset_of(s));
        assert_eq!(s.names(), vec!["memory", "keys"]);
    }
}
