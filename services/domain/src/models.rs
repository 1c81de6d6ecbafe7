//! Which models a tenant may name: the operator's allow-list for its tier, or one the operator
//! set for the tenant. Entries are `provider/model` names, `provider/*`, or a prefix ending in
//! `*` (`openai/gpt-4o-mini*` takes its dated snapshots too).

/// An allow-list of model names; `None` where it is used means every model.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct ModelAllowList(Vec<String>);

impl ModelAllowList {
    /// From entries as given (trimmed; blanks dropped). `Err` names the first entry that is
    /// neither `provider/model` nor a pattern ending in `*`.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<ModelAllowList, String> {
        let mut list = Vec::new();
        for e in entries.iter().map(|e| e.as_ref().trim()) {
            if e.is_empty() {
                continue;
            }
            let star = e.find('*');
            let ok = (e == "*" || e.contains('/'))
                && star.is_none_or(|i| i == e.len() - 1)
                && e.len() <= 200;
            if !ok {
                return Err(e.to_string());
            }
            list.push(e.to_string());
        }
        Ok(ModelAllowList(list))
    }

    /// The list that allows nothing.
    pub fn none() -> ModelAllowList {
        ModelAllowList(Vec::new())
    }

    /// A comma-separated list (an environment variable's).
    pub fn parse_csv(csv: &str) -> Result<ModelAllowList, String> {
        ModelAllowList::parse(&csv.split(',').collect::<Vec<_>>())
    }

    /// Whether `model` (`provider/model`, as resolved) is on the list.
    pub fn allows(&self, model: &str) -> bool {
        self.0.iter().any(|e| match e.strip_suffix('*') {
            Some(prefix) => model.starts_with(prefix),
            None => e == model,
        })
    }

    pub fn entries(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_provider_wildcards_and_prefixes() {
        let list = ModelAllowList::parse(&[
            "openai/gpt-4o-mini*",
            "builtin/*",
            " anthropic/claude-3-haiku ",
        ])
        .unwrap();
        assert!(list.allows("openai/gpt-4o-mini"));
        assert!(list.allows("openai/gpt-4o-mini-2024-07-18"));
        assert!(!list.allows("openai/gpt-4o"));
        assert!(list.allows("builtin/echo"));
        assert!(list.allows("anthropic/claude-3-haiku"));
        assert!(!list.allows("anthropic/claude-3-opus"));
        assert!(ModelAllowList::parse(&["*"]).unwrap().allows("any/thing"));
        assert!(ModelAllowList::parse(&[] as &[&str])
            .unwrap()
            .entries()
            .is_empty());
        assert_eq!(ModelAllowList::parse(&["gpt-4o"]), Err("gpt-4o".into()));
        assert_eq!(
            ModelAllowList::parse(&["openai/*-mini"]),
            Err("openai/*-mini".into())
        );
    }
}
