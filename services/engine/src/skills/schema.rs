//! Input validation against a skill's JSON Schema with the `jsonschema` crate, compiled once
//! per schema and cached: the first problem is a 400 naming the offending value's path
//! (`input.city`, `arguments.items[1].id`). Also the limits a tenant's schema must keep.

use std::sync::{Arc, LazyLock};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{PatternOptions, ValidationError, Validator};
use openclaw_domain::Error;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The largest tenant schema accepted, serialized: it is compiled, cached and sent to the model
/// with every run that offers the skill.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;
/// How deeply a tenant schema may nest objects and arrays: compiling and checking recurse.
pub const MAX_SCHEMA_DEPTH: usize = 32;

/// Schema text whose compiled validators stay cached, measured by the schemas' serialized size
/// (a compiled validator is a small multiple of that).
const CACHE_SCHEMA_BYTES: u64 = 16 * 1024 * 1024;

/// A compiled schema, or why it does not compile.
type Compiled = Arc<Result<Validator, String>>;

/// Compiled validators by the SHA-256 of their schema's serialization. Built-ins and tenant
/// HTTP skills alike are compiled on first use, not on every call; the cache is bounded, so
/// a tenant registering many schemas evicts the least used rather than growing memory.
static COMPILED: LazyLock<moka::sync::Cache<[u8; 32], (Compiled, u32)>> = LazyLock::new(|| {
    moka::sync::Cache::builder()
        .max_capacity(CACHE_SCHEMA_BYTES)
        .weigher(|_, (_, bytes): &(Compiled, u32)| *bytes)
        .build()
});

/// The compiled validator of `schema`, from the cache or compiled now.
fn compiled(schema: &Value) -> Compiled {
    let text = serde_json::to_vec(schema).expect("a JSON value serializes");
    let key: [u8; 32] = Sha256::digest(&text).into();
    let bytes = u32::try_from(text.len()).unwrap_or(u32::MAX);
    COMPILED
        .get_with(key, || (Arc::new(compile(schema)), bytes))
        .0
}

fn compile(schema: &Value) -> Result<Validator, String> {
    jsonschema::options()
        // A `$ref` to a URL is never fetched: a tenant's schema must not make us reach any
        // address, nor wait on one.
        .offline()
        // `pattern` in linear time: a tenant's pattern is run on model-written input, and a
        // backtracking engine lets one pattern stall a thread. Lookaround and backreferences
        // are refused when the schema is compiled.
        .with_pattern_options(PatternOptions::regex())
        // `format` stays an annotation, as JSON Schema 2020-12 (the default draft) has it.
        .should_validate_formats(false)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// Checks a tenant's schema when it registers a skill: at most [`MAX_SCHEMA_BYTES`]
/// serialized, objects and arrays nested at most [`MAX_SCHEMA_DEPTH`] deep, and a JSON Schema
/// the validator compiles (valid against its draft's meta-schema, patterns the linear regex
/// engine reads, no `$ref` outside the schema itself). A refusal is a 400 on `input_schema`.
/// The compiled schema is cached, so the skill's first call does not compile it again.
pub fn check_schema(schema: &Value) -> Result<(), Error> {
    const PARAM: &str = "input_schema";
    let size = serde_json::to_vec(schema).map_or(usize::MAX, |t| t.len());
    if size > MAX_SCHEMA_BYTES {
        return Err(Error::invalid(
            PARAM,
            format!("`{PARAM}` is {size} bytes; at most {MAX_SCHEMA_BYTES} are accepted"),
        ));
    }
    if depth(schema) > MAX_SCHEMA_DEPTH {
        return Err(Error::invalid(
            PARAM,
            format!("`{PARAM}` nests deeper than {MAX_SCHEMA_DEPTH} levels"),
        ));
    }
    match &*compiled(schema) {
        Ok(_) => Ok(()),
        Err(e) => Err(Error::invalid(
            PARAM,
            format!("`{PARAM}` is not a JSON Schema that can be used: {e}"),
        )),
    }
}

/// How deeply `value` nests objects and arrays (a scalar is 0, `{}` is 1). Without recursion:
/// the value may be as deep as the JSON parser allows.
fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0)];
    while let Some((v, d)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Object(m) => Box::new(m.values()),
            Value::Array(a) => Box::new(a.iter()),
            _ => continue,
        };
        deepest = deepest.max(d + 1);
        stack.extend(children.map(|c| (c, d + 1)));
    }
    deepest
}

/// Validates `value` against the JSON Schema `schema` (any keyword of its draft: `pattern`,
/// `oneOf`, `$ref` within the schema, `minItems`…; `format` is an annotation). The first problem
/// is a 400 whose `param` is the path of the offending value below `path` — for a missing or
/// unknown field, the field's own path. A schema that does not compile is a 400 on `path`.
pub fn validate(schema: &Value, value: &Value, path: &str) -> Result<(), Error> {
    let compiled = compiled(schema);
    let validator = match &*compiled {
        Ok(v) => v,
        Err(e) => {
            return Err(Error::invalid(
                path,
                format!("the input schema of `{path}` is not a JSON Schema that can be used: {e}"),
            ));
        }
    };
    match validator.validate(value) {
        Ok(()) => Ok(()),
        Err(e) => Err(to_error(&e, schema, value, path)),
    }
}

/// The 400 for one validation error: its value's path in our notation, and a sentence.
fn to_error(e: &ValidationError<'_>, schema: &Value, value: &Value, path: &str) -> Error {
    let (at, instance) = instance_path(e, value, path);
    let field = |name: &str| format!("{at}.{name}");
    let list = |values: &Value| match values.as_array() {
        Some(a) => a
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        None => values.to_string(),
    };
    let (param, message) = match e.kind() {
        ValidationErrorKind::Type { kind } => {
            let types: Vec<String> = match kind {
                TypeKind::Single(t) => vec![t.to_string()],
                TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect(),
            };
            let want: Vec<String> = types.iter().map(|t| article(t)).collect();
            (at.clone(), format!("`{at}` must be {}", want.join(" or ")))
        }
        ValidationErrorKind::Enum { options } => (
            at.clone(),
            format!("`{at}` must be one of {}", list(options)),
        ),
        ValidationErrorKind::Constant { expected_value } => {
            (at.clone(), format!("`{at}` must be {expected_value}"))
        }
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_string);
            let param = field(&name);
            let message = format!("`{param}` is required");
            (param, message)
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            let name = unexpected.first().map_or("", String::as_str);
            unknown_field(schema, e, &at, name)
        }
        // `additionalProperties: false` without `properties` reports its object's first field
        // as a false schema at the object: name the field, as for any unknown one.
        ValidationErrorKind::FalseSchema
            if e.schema_path().as_str().ends_with("/additionalProperties") =>
        {
            let first = instance
                .and_then(Value::as_object)
                .and_then(|o| o.keys().next());
            match first {
                Some(name) => unknown_field(schema, e, &at, name),
                None => (at.clone(), format!("`{at}` is not allowed")),
            }
        }
        ValidationErrorKind::MaxLength { limit } => (
            at.clone(),
            format!("`{at}` must be at most {limit} characters"),
        ),
        ValidationErrorKind::MinLength { limit: 1 } => {
            (at.clone(), format!("`{at}` must not be empty"))
        }
        ValidationErrorKind::MinLength { limit } => (
            at.clone(),
            format!("`{at}` must be at least {limit} characters"),
        ),
        ValidationErrorKind::Minimum { limit } => {
            (at.clone(), format!("`{at}` must be at least {limit}"))
        }
        ValidationErrorKind::Maximum { limit } => {
            (at.clone(), format!("`{at}` must be at most {limit}"))
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            (at.clone(), format!("`{at}` must be greater than {limit}"))
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            (at.clone(), format!("`{at}` must be less than {limit}"))
        }
        ValidationErrorKind::MultipleOf { multiple_of } => (
            at.clone(),
            format!("`{at}` must be a multiple of {multiple_of}"),
        ),
        ValidationErrorKind::Pattern { pattern } => (
            at.clone(),
            format!("`{at}` must match the pattern `{pattern}`"),
        ),
        ValidationErrorKind::MinItems { limit } => (
            at.clone(),
            format!("`{at}` must have at least {limit} item(s)"),
        ),
        ValidationErrorKind::MaxItems { limit } => (
            at.clone(),
            format!("`{at}` must have at most {limit} item(s)"),
        ),
        ValidationErrorKind::UniqueItems => (at.clone(), format!("`{at}` must not repeat an item")),
        ValidationErrorKind::MinProperties { limit } => (
            at.clone(),
            format!("`{at}` must have at least {limit} field(s)"),
        ),
        ValidationErrorKind::MaxProperties { limit } => (
            at.clone(),
            format!("`{at}` must have at most {limit} field(s)"),
        ),
        ValidationErrorKind::OneOfNotValid { .. } => (
            at.clone(),
            format!("`{at}` must match one of the schemas its `oneOf` lists"),
        ),
        ValidationErrorKind::OneOfMultipleValid { .. } => (
            at.clone(),
            format!("`{at}` must match exactly one of the schemas its `oneOf` lists, not several"),
        ),
        ValidationErrorKind::AnyOf { .. } => (
            at.clone(),
            format!("`{at}` must match at least one of the schemas its `anyOf` lists"),
        ),
        ValidationErrorKind::Not { .. } => (
            at.clone(),
            format!("`{at}` must not match the schema its `not` gives"),
        ),
        ValidationErrorKind::FalseSchema => (at.clone(), format!("`{at}` is not allowed")),
        // The rest (`contains`, `propertyNames`, content and regex failures…) in the
        // validator's words.
        _ => (at.clone(), format!("`{at}`: {e}")),
    };
    Error::invalid(param, message)
}

/// The `param` and message of a field its object's schema does not allow.
fn unknown_field(
    schema: &Value,
    e: &ValidationError<'_>,
    at: &str,
    name: &str,
) -> (String, String) {
    let param = format!("{at}.{name}");
    let message = match known_fields(schema, e).as_deref() {
        Some("") => format!("unknown field `{param}`: `{at}` takes no fields"),
        Some(known) => format!("unknown field `{param}`; `{at}` takes {known}"),
        None => format!("unknown field `{param}`"),
    };
    (param, message)
}

/// The offending value's path below `path` (`.field` and `[index]`, read against the value so
/// that an object's field named `0` stays a field), and the value there.
fn instance_path<'v>(
    e: &ValidationError<'_>,
    value: &'v Value,
    path: &str,
) -> (String, Option<&'v Value>) {
    let mut at = path.to_string();
    let mut current = Some(value);
    for segment in e.instance_path().iter() {
        let key = match &segment {
            LocationSegment::Index(i) if matches!(current, Some(Value::Array(_))) => {
                at.push_str(&format!("[{i}]"));
                current = current.and_then(|v| v.get(*i));
                continue;
            }
            LocationSegment::Index(i) => i.to_string(),
            LocationSegment::Property(p) => p.to_string(),
        };
        at.push('.');
        at.push_str(&key);
        current = current.and_then(|v| v.get(&key));
    }
    (at, current)
}

/// The fields the object schema of a failed `additionalProperties` names, for the message:
/// `` `a`, `b` `` (empty when it names none); `None` when that schema cannot be found.
fn known_fields(schema: &Value, e: &ValidationError<'_>) -> Option<String> {
    let (parent, _) = e.schema_path().as_str().rsplit_once('/')?;
    let object = schema.pointer(parent)?.as_object()?;
    let known = object
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.keys())
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(known)
}

fn article(t: &str) -> String {
    match t {
        "object" | "array" | "integer" => format!("an {t}"),
        "null" => "null".into(),
        _ => format!("a {t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_problem_is_named_by_its_path() {
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

    #[test]
    fn messages_name_the_field_and_what_it_must_be() {
        let schema = json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 1},
                "days": {"type": "integer", "minimum": 1, "maximum": 7}
            },
            "required": ["city"],
            "additionalProperties": false
        });
        let message = |v: Value| validate(&schema, &v, "input").unwrap_err().message;
        assert_eq!(message(json!({})), "`input.city` is required");
        assert_eq!(message(json!({"city": 5})), "`input.city` must be a string");
        assert_eq!(
            message(json!({"city": ""})),
            "`input.city` must not be empty"
        );
        assert_eq!(
            message(json!({"city": "x", "days": 9})),
            "`input.days` must be at most 7"
        );
        assert_eq!(
            message(json!({"city": "x", "zip": 1})),
            "unknown field `input.zip`; `input` takes `city`, `days`"
        );
        assert_eq!(message(json!([])), "`input` must be an object");
        // Below a `$ref`, the fields named are the referenced schema's.
        let referring = json!({
            "type": "object",
            "properties": {"to": {"$ref": "#/$defs/address"}},
            "$defs": {"address": {"type": "object", "properties": {"street": {}},
                                  "additionalProperties": false}}
        });
        let e = validate(&referring, &json!({"to": {"zip": 1}}), "input").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input.to.zip"));
        assert_eq!(
            e.message,
            "unknown field `input.to.zip`; `input.to` takes `street`"
        );
        let closed = json!({"type": "object", "additionalProperties": false});
        assert_eq!(
            validate(&closed, &json!({"a": 1}), "input")
                .unwrap_err()
                .message,
            "unknown field `input.a`: `input` takes no fields"
        );
    }

    #[test]
    fn keywords_beyond_the_old_subset_are_enforced() {
        let schema = json!({
            "type": "object",
            "$defs": {
                "code": {"type": "string", "pattern": "^[A-Z]{3}$"}
            },
            "properties": {
                "currency": {"$ref": "#/$defs/code"},
                "tags": {"type": "array", "minItems": 1, "uniqueItems": true,
                         "items": {"type": "string"}},
                "amount": {"oneOf": [
                    {"type": "integer", "multipleOf": 5},
                    {"type": "string", "const": "all"}
                ]},
                "0": {"type": "boolean"}
            }
        });
        let check = |v: Value| {
            validate(&schema, &v, "arguments").map_err(|e| (e.param.unwrap(), e.message))
        };
        assert_eq!(
            check(json!({"currency": "EUR", "tags": ["a"], "amount": 10})),
            Ok(())
        );
        assert_eq!(check(json!({"amount": "all"})), Ok(()));
        let (param, message) = check(json!({"currency": "eur"})).unwrap_err();
        assert_eq!(param, "arguments.currency");
        assert!(message.contains("pattern `^[A-Z]{3}$`"), "{message}");
        let (param, message) = check(json!({"tags": []})).unwrap_err();
        assert_eq!(param, "arguments.tags");
        assert!(message.contains("at least 1 item"), "{message}");
        assert_eq!(
            check(json!({"tags": ["a", "a"]})).unwrap_err().0,
            "arguments.tags"
        );
        let (param, message) = check(json!({"amount": 7})).unwrap_err();
        assert_eq!(param, "arguments.amount");
        assert!(message.contains("`oneOf`"), "{message}");
        // A field named `0` is a field, not an index.
        assert_eq!(check(json!({"0": "yes"})).unwrap_err().0, "arguments.0");
        let nested =
            json!({"type": "array", "items": {"type": "array", "items": {"type": "integer"}}});
        assert_eq!(
            validate(&nested, &json!([[1], [2, "x"]]), "input")
                .unwrap_err()
                .param
                .unwrap(),
            "input[1][1]"
        );
    }

    #[test]
    fn a_tenant_schema_is_checked_for_size_depth_and_sense() {
        let ok =
            json!({"type": "object", "properties": {"q": {"type": "string", "pattern": "^a+$"}}});
        assert_eq!(check_schema(&ok), Ok(()));
        let refused = |schema: Value| {
            let e = check_schema(&schema).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("input_schema"), "{}", e.message);
            e.message
        };
        let huge = json!({"type": "object", "description": "x".repeat(MAX_SCHEMA_BYTES)});
        assert!(refused(huge).contains("at most 65536"));
        let mut deep = json!({"type": "string"});
        for _ in 0..MAX_SCHEMA_DEPTH {
            deep = json!({"type": "object", "properties": {"a": deep}});
        }
        assert!(refused(deep).contains("deeper than 32"));
        assert!(refused(json!({"type": "objekt"})).contains("not a JSON Schema"));
        assert!(refused(json!({"type": "object", "minItems": -1})).contains("not a JSON Schema"));
        // A remote `$ref` is never fetched, so it cannot compile.
        refused(
            json!({"type": "object", "properties": {"a": {"$ref": "http://169.254.169.254/s.json"}}}),
        );
        // Backtracking-only regex features are refused rather than run.
        refused(
            json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "(a)\\1"}}}),
        );
        // The depth counted is the schema's own nesting.
        assert_eq!(depth(&json!("s")), 0);
        assert_eq!(depth(&json!({})), 1);
        assert_eq!(depth(&json!({"a": [{"b": 1}]})), 3);
    }

    #[test]
    fn a_schema_that_does_not_compile_refuses_every_input_under_its_path() {
        let e = validate(&json!({"type": 5}), &json!({}), "arguments").unwrap_err();
        assert_eq!(e.param.as_deref(), Some("arguments"));
        assert!(e.message.contains("not a JSON Schema"), "{}", e.message);
    }
}
