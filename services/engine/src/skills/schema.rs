//! Input validation against a skill's JSON Schema: the first problem is a 400 naming the
//! offending value's path (`input.city`, `arguments.items[1].id`).

use openclaw_domain::Error;
use serde_json::{Map, Value};

/// Validates `value` against `schema`, a subset of JSON Schema: `type` (`object`, `string`,
/// `number`, `integer`, `boolean`, `array`, `null`, or a list of them), `properties`,
/// `required`, `additionalProperties: false`, `items`, `minLength`/`maxLength` (characters),
/// `minimum`/`maximum` and `enum`. Other keywords (`description`, `format`…) are annotations and ignored. The first
/// problem is a 400 whose `param` is the path of the offending value below `path`.
pub fn validate(schema: &Value, value: &Value, path: &str) -> Result<(), Error> {
    let Some(schema) = schema.as_object() else {
        return Ok(());
    };
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
            let want = types
                .iter()
                .map(|t| article(t))
                .collect::<Vec<_>>()
                .join(" or ");
            return Err(Error::invalid(path, format!("`{path}` must be {want}")));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let list = allowed
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::invalid(
                path,
                format!("`{path}` must be one of {list}"),
            ));
        }
    }
    if let Value::String(s) = value {
        let chars = s.chars().count();
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if chars as u64 > max {
                return Err(Error::invalid(
                    path,
                    format!("`{path}` must be at most {max} characters"),
                ));
            }
        }
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if (chars as u64) < min {
                let what = if min == 1 {
                    "must not be empty".to_string()
                } else {
                    format!("must be at least {min} characters")
                };
                return Err(Error::invalid(path, format!("`{path}` {what}")));
            }
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if n < min {
                return Err(Error::invalid(
                    path,
                    format!("`{path}` must be at least {}", schema["minimum"]),
                ));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            if n > max {
                return Err(Error::invalid(
                    path,
                    format!("`{path}` must be at most {}", schema["maximum"]),
                ));
            }
        }
    }
    if let Value::Object(fields) = value {
        validate_object(schema, fields, path)?;
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(item_schema, item, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn validate_object(
    schema: &Map<String, Value>,
    fields: &Map<String, Value>,
    path: &str,
) -> Result<(), Error> {
    let empty = Map::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !fields.contains_key(name) {
                let at = format!("{path}.{name}");
                return Err(Error::invalid(&at, format!("`{at}` is required")));
            }
        }
    }
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    for (name, v) in fields {
        let at = format!("{path}.{name}");
        match properties.get(name) {
            Some(s) => validate(s, v, &at)?,
            None if closed => {
                let known = properties
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let msg = if known.is_empty() {
                    format!("unknown field `{at}`: `{path}` takes no fields")
                } else {
                    format!("unknown field `{at}`; `{path}` takes {known}")
                };
                return Err(Error::invalid(&at, msg));
            }
            None => {}
        }
    }
    Ok(())
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        _ => true,
    }
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
    fn the_validator_covers_its_subset() {
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
}
