//! Skills: the built-in catalogue with its manifests and JSON Schemas, input validation, execution.

use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use openclaw_domain::Error;
use serde::Serialize;
use serde_json::{json, Map, Number, Value};

/// What a skill may reach beyond its input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Permissions {
    pub network: bool,
    pub filesystem: bool,
    pub shell: bool,
}

/// How a skill executes. Pure, quick skills run inline; skills that wait on the network or on
/// other jobs will add variants of their own.
#[derive(Clone, Copy)]
pub enum Handler {
    /// Runs inline on validated input: `Err` is a failure of this input (not worth retrying).
    Sync(fn(&Value) -> Result<Value, Error>),
}

/// A skill's own check of an input (`&Value`) whose params are named below a path (`&str`).
pub type InputCheck = fn(&Value, &str) -> Result<(), Error>;

/// A skill: its manifest and its handler.
pub struct Skill {
    pub name: &'static str,
    pub version: &'static str,
    pub description: &'static str,
    /// JSON Schema of the input (the subset [`validate`] understands).
    pub input_schema: Value,
    /// JSON Schema of the output.
    pub output_schema: Value,
    pub permissions: Permissions,
    /// Checks of a schema-valid input that a schema cannot express: cheap, without side
    /// effects, so they run when a task is created too. Params are named below the path given.
    pub check: Option<InputCheck>,
    pub handler: Handler,
}

impl std::fmt::Debug for Skill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Skill")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Skill {
    /// The manifest as JSON: name, version, description, schemas and permissions.
    pub fn manifest(&self) -> Value {
        json!({
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "permissions": self.permissions,
        })
    }

    /// Checks `input` against the input schema (and the skill's own checks) without executing
    /// anything; a bad field is a 400 whose `param` is `{path}.{field}` (`path` names the input
    /// itself, e.g. `input` or `parameters.input`).
    pub fn validate_input(&self, input: &Value, path: &str) -> Result<(), Error> {
        validate(&self.input_schema, input, path)?;
        match self.check {
            Some(check) => check(input, path),
            None => Ok(()),
        }
    }

    /// Validates `input` (params under `input.`) and executes the skill on it.
    pub async fn execute(&self, input: &Value) -> Result<Value, Error> {
        self.validate_input(input, "input")?;
        match self.handler {
            Handler::Sync(f) => f(input),
        }
    }
}

static BUILTINS: LazyLock<Vec<Skill>> = LazyLock::new(|| {
    vec![
        Skill {
            name: "calculator",
            version: "1.0.0",
            description: "Evaluate an arithmetic expression: + - * / % ^, parentheses, \
                          pi and e, sqrt abs ln log10 sin cos tan floor ceil round min max.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "expression": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_EXPRESSION_CHARS,
                        "description": "For example `2 * (3 + 4) ^ 2` or `sqrt(2) / 2`. Angles in radians."
                    }
                },
                "required": ["expression"],
                "additionalProperties": false
            }),
            output_schema: json!({
                "type": "object",
                "properties": {
                    "result": {"type": "number"},
                    "expression": {"type": "string"}
                },
                "required": ["result", "expression"],
                "additionalProperties": false
            }),
            permissions: Permissions::default(),
            check: None,
            handler: Handler::Sync(calculator),
        },
        Skill {
            name: "current_time",
            version: "1.0.0",
            description: "The current date and time, in UTC or at a fixed offset such as +08:00.",
            input_schema: json!({
                "type": "object",
                "properties": {
                    "timezone": {
                        "type": "string",
                        "maxLength": 16,
                        "description": "`UTC` (the default), `Z`, or a fixed offset `+08:00` / `-05:30`."
                    }
                },
                "additionalProperties": false
            }),
            output_schema: json!({
                "type": "object",
                "properties": {
                    "iso": {"type": "string", "format": "date-time"},
                    "unix": {"type": "integer"},
                    "timezone": {"type": "string"}
                },
                "required": ["iso", "unix", "timezone"],
                "additionalProperties": false
            }),
            permissions: Permissions::default(),
            check: Some(check_current_time),
            handler: Handler::Sync(current_time),
        },
    ]
});

/// Every built-in skill.
pub fn builtins() -> &'static [Skill] {
    &BUILTINS
}

/// The built-in skill called `name`.
pub fn builtin(name: &str) -> Option<&'static Skill> {
    builtins().iter().find(|s| s.name == name)
}

/// The built-in skills' names, comma-separated, for error messages.
pub fn builtin_names() -> String {
    builtins()
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Schema validation

/// Validates `value` against `schema`, a subset of JSON Schema: `type` (`object`, `string`,
/// `number`, `integer`, `boolean`, `array`, `null`, or a list of them), `properties`,
/// `required`, `additionalProperties: false`, `items`, `minLength`/`maxLength` (characters) and
/// `enum`. Other keywords (`description`, `format`…) are annotations and ignored. The first
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

// ---------------------------------------------------------------------------------------------
// calculator

/// The longest expression `calculator` takes, in characters.
pub const MAX_EXPRESSION_CHARS: usize = 1000;
/// How deeply parentheses, function calls, signs and exponents may nest.
pub const MAX_EXPRESSION_DEPTH: usize = 64;
/// Integral results below this magnitude are written as JSON integers.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53

const EXPRESSION_PARAM: &str = "input.expression";

const FUNCTIONS: &[&str] = &[
    "sqrt", "abs", "ln", "log10", "sin", "cos", "tan", "floor", "ceil", "round", "min", "max",
];
const CONSTANTS: &[&str] = &["pi", "e"];

fn calculator(input: &Value) -> Result<Value, Error> {
    let expression = input
        .get("expression")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid(EXPRESSION_PARAM, "`input.expression` is required"))?;
    let result = evaluate(expression)?;
    Ok(json!({"result": number(result), "expression": expression}))
}

/// `x` as JSON: an integer when it is integral and exactly representable, else a float.
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < EXACT_INTEGER_LIMIT {
        Value::Number(Number::from(x as i64))
    } else {
        Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

/// Evaluates an arithmetic expression (see the `calculator` skill). Errors are 400s on
/// `input.expression`; positions are 1-based character columns.
pub fn evaluate(expression: &str) -> Result<f64, Error> {
    let mut p = Parser {
        chars: expression.chars().collect(),
        pos: 0,
        depth: 0,
    };
    p.skip_space();
    if p.peek().is_none() {
        return Err(p.error_at(0, "the expression is empty"));
    }
    let v = p.expr()?;
    p.skip_space();
    if let Some(c) = p.peek() {
        return Err(p.error_at(p.pos, format!("unexpected `{c}`")));
    }
    Ok(v)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn error_at(&self, pos: usize, what: impl std::fmt::Display) -> Error {
        Error::invalid(EXPRESSION_PARAM, format!("{what} at position {}", pos + 1))
    }

    fn unexpected(&self) -> Error {
        match self.peek() {
            Some(c) => self.error_at(self.pos, format!("unexpected `{c}`")),
            None => self.error_at(self.pos, "unexpected end of expression"),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// The next non-space character, if it is one of `ops`, consumed, with its position.
    fn op(&mut self, ops: &[char]) -> Option<(char, usize)> {
        self.skip_space();
        let c = self.peek().filter(|c| ops.contains(c))?;
        self.pos += 1;
        Some((c, self.pos - 1))
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_EXPRESSION_DEPTH`].
    fn nested(
        &mut self,
        at: usize,
        f: impl FnOnce(&mut Self) -> Result<f64, Error>,
    ) -> Result<f64, Error> {
        if self.depth >= MAX_EXPRESSION_DEPTH {
            return Err(self.error_at(
                at,
                format!("the expression nests deeper than {MAX_EXPRESSION_DEPTH} levels"),
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// expr := term (('+' | '-') term)*
    fn expr(&mut self) -> Result<f64, Error> {
        let mut v = self.term()?;
        while let Some((op, at)) = self.op(&['+', '-']) {
            let r = self.term()?;
            v = finite(if op == '+' { v + r } else { v - r }, || {
                self.error_at(at, format!("`{op}` overflows"))
            })?;
        }
        Ok(v)
    }

    /// term := unary (('*' | '/' | '%') unary)*
    fn term(&mut self) -> Result<f64, Error> {
        let mut v = self.unary()?;
        while let Some((op, at)) = self.op(&['*', '/', '%']) {
            let r = self.unary()?;
            if op != '*' && r == 0.0 {
                return Err(self.error_at(at, format!("division by zero (`{op}`)")));
            }
            let x = match op {
                '*' => v * r,
                '/' => v / r,
                _ => v % r,
            };
            v = finite(x, || self.error_at(at, format!("`{op}` overflows")))?;
        }
        Ok(v)
    }

    /// unary := ('-' | '+') unary | power — so `-2^2` is `-(2^2)`.
    fn unary(&mut self) -> Result<f64, Error> {
        match self.op(&['-', '+']) {
            Some((op, at)) => {
                let v = self.nested(at, Self::unary)?;
                Ok(if op == '-' { -v } else { v })
            }
            None => self.power(),
        }
    }

    /// power := primary ('^' unary)? — right-associative: `2^3^2` is `2^(3^2)`.
    fn power(&mut self) -> Result<f64, Error> {
        let base = self.primary()?;
        match self.op(&['^']) {
            Some((_, at)) => {
                let exp = self.nested(at, Self::unary)?;
                finite(base.powf(exp), || {
                    self.error_at(at, format!("`{base} ^ {exp}` is not a finite number"))
                })
            }
            None => Ok(base),
        }
    }

    /// primary := number | '(' expr ')' | constant | function '(' expr (',' expr)* ')'
    fn primary(&mut self) -> Result<f64, Error> {
        self.skip_space();
        let start = self.pos;
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let v = self.nested(start, Self::expr)?;
                if self.op(&[')']).is_none() {
                    return Err(match self.peek() {
                        None => self.error_at(self.pos, "missing `)`"),
                        Some(_) => self.unexpected(),
                    });
                }
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => self.number(),
            Some(c) if c.is_alphabetic() || c == '_' => self.name(),
            _ => Err(self.unexpected()),
        }
    }

    fn number(&mut self) -> Result<f64, Error> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos - from
        };
        let mut n = digits(self);
        if self.peek() == Some('.') {
            self.pos += 1;
            n += digits(self);
        }
        if n == 0 {
            return Err(self.error_at(start, "unexpected `.`"));
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            // An exponent only if digits follow; otherwise the number ends here.
            let mark = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                self.pos = mark;
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let v: f64 = text
            .parse()
            .map_err(|_| self.error_at(start, format!("`{text}` is not a number")))?;
        finite(v, || self.error_at(start, format!("`{text}` is too large")))
    }

    fn name(&mut self) -> Result<f64, Error> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let name = name.as_str();
        if CONSTANTS.contains(&name) {
            return Ok(if name == "pi" {
                std::f64::consts::PI
            } else {
                std::f64::consts::E
            });
        }
        if !FUNCTIONS.contains(&name) {
            return Err(self.error_at(
                start,
                format!(
                    "unknown name `{name}` (known: {}, {})",
                    CONSTANTS.join(", "),
                    FUNCTIONS.join(", ")
                ),
            ));
        }
        if self.op(&['(']).is_none() {
            return Err(self.error_at(
                start,
                format!("`{name}` is a function: call it as `{name}(…)`"),
            ));
        }
        let mut args = Vec::new();
        self.skip_space();
        if self.peek() != Some(')') {
            loop {
                args.push(self.nested(start, Self::expr)?);
                if self.op(&[',']).is_none() {
                    break;
                }
            }
        }
        if self.op(&[')']).is_none() {
            return Err(match self.peek() {
                None => self.error_at(self.pos, "missing `)`"),
                Some(_) => self.unexpected(),
            });
        }
        let v = match (name, args.as_slice()) {
            ("min", [_, ..]) => args.iter().copied().fold(f64::INFINITY, f64::min),
            ("max", [_, ..]) => args.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ("min" | "max", []) => {
                return Err(self.error_at(start, format!("`{name}` takes at least one argument")))
            }
            (_, [x]) => {
                let x = *x;
                match name {
                    "sqrt" => x.sqrt(),
                    "abs" => x.abs(),
                    "ln" => x.ln(),
                    "log10" => x.log10(),
                    "sin" => x.sin(),
                    "cos" => x.cos(),
                    "tan" => x.tan(),
                    "floor" => x.floor(),
                    "ceil" => x.ceil(),
                    _ => x.round(),
                }
            }
            _ => {
                return Err(self.error_at(
                    start,
                    format!("`{name}` takes one argument, not {}", args.len()),
                ))
            }
        };
        finite(v, || {
            let args = args
                .iter()
                .map(f64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            self.error_at(start, format!("`{name}({args})` is not a finite number"))
        })
    }
}

fn finite(v: f64, err: impl FnOnce() -> Error) -> Result<f64, Error> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(err())
    }
}

// ---------------------------------------------------------------------------------------------
// current_time

fn current_time(input: &Value) -> Result<Value, Error> {
    current_time_at(input, Utc::now())
}

fn current_time_at(input: &Value, now: DateTime<Utc>) -> Result<Value, Error> {
    let tz = input
        .get("timezone")
        .and_then(Value::as_str)
        .unwrap_or("UTC");
    let (offset, name) = parse_timezone(tz, "input.timezone")?;
    let local = now.with_timezone(&offset);
    Ok(json!({
        "iso": local.to_rfc3339_opts(SecondsFormat::Secs, name == "UTC"),
        "unix": now.timestamp(),
        "timezone": name,
    }))
}

/// A timezone the skill cannot read is refused when the task is created.
fn check_current_time(input: &Value, path: &str) -> Result<(), Error> {
    match input.get("timezone").and_then(Value::as_str) {
        Some(tz) => parse_timezone(tz, &format!("{path}.timezone")).map(drop),
        None => Ok(()),
    }
}

/// `UTC`/`Z` (any case) or a fixed offset `±HH:MM` (also `±HHMM`, `±HH`), with its normalized
/// name: `UTC` or `±HH:MM`. Errors are 400s on `param`.
fn parse_timezone(tz: &str, param: &str) -> Result<(FixedOffset, String), Error> {
    let bad = || {
        Error::invalid(
            param,
            format!(
                "`{param}` must be `UTC` (or `Z`) or a fixed offset from UTC such as \
                 `+08:00` or `-05:30`, not `{tz}`; time-zone names such as `Asia/Shanghai` are \
                 not supported"
            ),
        )
    };
    let t = tz.trim();
    if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") {
        return Ok((FixedOffset::east_opt(0).expect("zero offset"), "UTC".into()));
    }
    if !t.is_ascii() {
        return Err(bad());
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let (hh, mm) = match rest.len() {
        2 => (rest, "00"),
        4 => (&rest[..2], &rest[2..]),
        5 if rest.as_bytes()[2] == b':' => (&rest[..2], &rest[3..]),
        _ => return Err(bad()),
    };
    let two_digits = |s: &str| {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i32>().ok())
            .flatten()
    };
    let (Some(h), Some(m)) = (two_digits(hh), two_digits(mm)) else {
        return Err(bad());
    };
    if h > 23 || m > 59 {
        return Err(Error::invalid(
            param,
            format!("`{param}` `{tz}` is out of range: offsets go from -23:59 to +23:59"),
        ));
    }
    let seconds = sign * (h * 3600 + m * 60);
    let offset = FixedOffset::east_opt(seconds).ok_or_else(bad)?;
    let sign = if seconds < 0 { '-' } else { '+' };
    Ok((offset, format!("{sign}{h:02}:{m:02}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_domain::ErrorKind;

    fn eval(s: &str) -> f64 {
        evaluate(s).unwrap_or_else(|e| panic!("{s}: {}", e.message))
    }

    fn eval_err(s: &str) -> String {
        let e = evaluate(s).expect_err(s);
        assert_eq!(e.kind, ErrorKind::InvalidRequest, "{s}");
        assert_eq!(e.param.as_deref(), Some("input.expression"), "{s}");
        e.message
    }

    fn run(skill: &str, input: Value) -> Result<Value, Error> {
        let skill = builtin(skill).expect("a built-in");
        let out = futures::executor::block_on(skill.execute(&input));
        if let Ok(out) = &out {
            validate(&skill.output_schema, out, "output").expect("output matches its schema");
        }
        out
    }

    #[test]
    fn the_catalogue_lists_both_skills_with_manifests() {
        let names: Vec<&str> = builtins().iter().map(|s| s.name).collect();
        assert_eq!(names, ["calculator", "current_time"]);
        assert_eq!(builtin_names(), "calculator, current_time");
        assert!(builtin("web_fetch").is_none());
        for s in builtins() {
            assert_eq!(s.version, "1.0.0");
            assert!(!s.description.is_empty());
            assert_eq!(s.permissions, Permissions::default());
            let m = s.manifest();
            assert_eq!(m["name"], s.name);
            assert_eq!(m["input_schema"]["type"], "object");
            assert_eq!(m["output_schema"]["type"], "object");
            assert_eq!(
                m["permissions"],
                json!({"network": false, "filesystem": false, "shell": false})
            );
        }
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(eval("2 + 3 * 4"), 14.0);
        assert_eq!(eval("(2 + 3) * 4"), 20.0);
        assert_eq!(eval("10 - 4 - 3"), 3.0);
        assert_eq!(eval("100 / 10 / 5"), 2.0);
        assert_eq!(eval("7 % 4 * 2"), 6.0);
        assert_eq!(eval("-7 % 4"), -3.0);
        assert_eq!(eval("2 * (3 + 4) ^ 2"), 98.0);
        assert_eq!(eval("2 ^ 3 ^ 2"), 512.0, "right-associative");
        assert_eq!(eval("2 ^ 3 * 2"), 16.0);
        assert_eq!(eval("2^-1"), 0.5);
        assert_eq!(eval("  1\t+\n1 "), 2.0);
    }

    #[test]
    fn unary_signs() {
        assert_eq!(eval("-3"), -3.0);
        assert_eq!(eval("+3"), 3.0);
        assert_eq!(eval("--3"), 3.0);
        assert_eq!(eval("-2 ^ 2"), -4.0, "the sign applies after the power");
        assert_eq!(eval("(-2) ^ 2"), 4.0);
        assert_eq!(eval("3 - -2"), 5.0);
        assert_eq!(eval("2 * -3"), -6.0);
    }

    #[test]
    fn numbers_constants_and_functions() {
        assert_eq!(eval("1e3"), 1000.0);
        assert_eq!(eval("2.5E-1"), 0.25);
        assert_eq!(eval(".5 + 1."), 1.5);
        assert_eq!(eval("pi"), std::f64::consts::PI);
        assert_eq!(eval("e"), std::f64::consts::E);
        assert_eq!(eval("sqrt(16)"), 4.0);
        assert_eq!(eval("abs(-2.5)"), 2.5);
        assert!((eval("ln(e)") - 1.0).abs() < 1e-12);
        assert_eq!(eval("log10(1000)"), 3.0);
        assert!(eval("sin(pi)").abs() < 1e-12);
        assert_eq!(eval("cos(0)"), 1.0);
        assert!((eval("tan(pi / 4)") - 1.0).abs() < 1e-12);
        assert_eq!(eval("floor(-1.5)"), -2.0);
        assert_eq!(eval("ceil(1.2)"), 2.0);
        assert_eq!(eval("round(2.5)"), 3.0);
        assert_eq!(eval("min(3, 1, 2)"), 1.0);
        assert_eq!(eval("max(3, 1 + 9, 2)"), 10.0);
        assert_eq!(eval("max(4)"), 4.0);
        assert_eq!(eval("sqrt(max(9, 4)) * 2"), 6.0);
    }

    #[test]
    fn errors_name_the_position() {
        assert_eq!(
            eval_err("2 +"),
            "unexpected end of expression at position 4"
        );
        assert_eq!(eval_err("2 + * 3"), "unexpected `*` at position 5");
        assert_eq!(eval_err("(1 + 2"), "missing `)` at position 7");
        assert_eq!(eval_err("1 + 2)"), "unexpected `)` at position 6");
        // `2e` is 2 followed by the name `e`: not an exponent, and no implicit multiplication.
        assert_eq!(eval_err("2e"), "unexpected `e` at position 2");
        assert_eq!(eval_err("3 4"), "unexpected `4` at position 3");
        assert_eq!(eval_err(""), "the expression is empty at position 1");
        assert_eq!(eval_err("1 / 0"), "division by zero (`/`) at position 3");
        assert_eq!(
            eval_err("5 % (2 - 2)"),
            "division by zero (`%`) at position 3"
        );
        let unknown = eval_err("1 + foo(2)");
        assert!(
            unknown.starts_with("unknown name `foo` (known: pi, e, sqrt"),
            "{unknown}"
        );
        assert!(unknown.ends_with("at position 5"), "{unknown}");
        assert!(eval_err("x").contains("known: pi, e, sqrt"));
        assert!(eval_err("PI").contains("unknown name `PI`"));
        assert!(eval_err("sqrt 4").contains("`sqrt` is a function"));
        assert!(eval_err("sqrt(1, 2)").contains("takes one argument, not 2"));
        assert!(eval_err("min()").contains("at least one argument"));
        assert!(eval_err("sqrt(-1)").contains("not a finite number"));
        assert!(eval_err("ln(0)").contains("not a finite number"));
        assert!(eval_err("10 ^ 400").contains("not a finite number"));
        assert!(eval_err("1e400").contains("too large"));
        assert!(eval_err("1e308 * 10").contains("`*` overflows"));
        assert!(eval_err("1 # 2").contains("unexpected `#` at position 3"));
    }

    #[test]
    fn nesting_is_limited_to_64_levels() {
        let ok = format!("{}1{}", "(".repeat(64), ")".repeat(64));
        assert_eq!(eval(&ok), 1.0);
        let deep = format!("{}1{}", "(".repeat(65), ")".repeat(65));
        assert_eq!(
            eval_err(&deep),
            "the expression nests deeper than 64 levels at position 65"
        );
        assert!(eval_err(&"-".repeat(65)).contains("nests deeper than 64"));
        assert!(
            eval_err(&format!("{}1{}", "sqrt(".repeat(70), ")".repeat(70)))
                .contains("nests deeper")
        );
        // A long but flat expression is fine.
        let flat = vec!["1"; 400].join("+");
        assert_eq!(eval(&flat), 400.0);
    }

    #[test]
    fn the_calculator_writes_integral_results_as_integers() {
        let out = run("calculator", json!({"expression": "2+2"})).unwrap();
        assert_eq!(out, json!({"result": 4, "expression": "2+2"}));
        assert_eq!(out.to_string(), r#"{"expression":"2+2","result":4}"#);
        let out = run("calculator", json!({"expression": "1 / 4"})).unwrap();
        assert_eq!(out["result"], json!(0.25));
        let out = run("calculator", json!({"expression": "-0"})).unwrap();
        assert_eq!(out["result"].to_string(), "0");
        let out = run("calculator", json!({"expression": "2^53"})).unwrap();
        assert!(out["result"].is_f64(), "{out}");
        let out = run("calculator", json!({"expression": "2^53 - 1"})).unwrap();
        assert_eq!(out["result"], json!(9_007_199_254_740_991_i64));
    }

    #[test]
    fn calculator_input_is_validated_against_its_schema() {
        let param = |input: Value| run("calculator", input).unwrap_err().param.unwrap();
        assert_eq!(param(json!({})), "input.expression");
        assert_eq!(param(json!({"expression": 5})), "input.expression");
        assert_eq!(param(json!({"expression": ""})), "input.expression");
        assert_eq!(
            param(json!({"expression": "1".repeat(1001)})),
            "input.expression"
        );
        assert_eq!(param(json!({"expression": "1", "x": 1})), "input.x");
        assert_eq!(param(json!([1])), "input");
        let e = run("calculator", json!({"expression": "1", "x": 1})).unwrap_err();
        assert!(e.message.contains("`expression`"), "{}", e.message);
        // 1000 characters is fine.
        let long = format!("1{}", "+0".repeat(499) + " ");
        assert_eq!(long.chars().count(), 1000);
        assert_eq!(
            run("calculator", json!({"expression": long})).unwrap()["result"],
            1
        );
    }

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

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn current_time_in_utc_and_at_offsets() {
        let now = at("2026-01-02T03:04:05Z");
        let t = |tz: Option<&str>| {
            let input = tz.map_or(json!({}), |tz| json!({"timezone": tz}));
            current_time_at(&input, now).unwrap()
        };
        assert_eq!(
            t(None),
            json!({"iso": "2026-01-02T03:04:05Z", "unix": 1_767_323_045, "timezone": "UTC"})
        );
        assert_eq!(t(Some("Z"))["timezone"], "UTC");
        assert_eq!(t(Some("utc"))["iso"], "2026-01-02T03:04:05Z");
        let sh = t(Some("+08:00"));
        assert_eq!(sh["iso"], "2026-01-02T11:04:05+08:00");
        assert_eq!(sh["timezone"], "+08:00");
        assert_eq!(sh["unix"], 1_767_323_045);
        let ny = t(Some("-05:30"));
        assert_eq!(ny["iso"], "2026-01-01T21:34:05-05:30");
        assert_eq!(t(Some("+0530"))["timezone"], "+05:30");
        assert_eq!(t(Some("-03"))["timezone"], "-03:00");
        assert_eq!(t(Some("-00:00"))["iso"], "2026-01-02T03:04:05+00:00");
        assert_eq!(t(Some("+00:00"))["timezone"], "+00:00");
        for v in [t(None), sh, ny] {
            let iso = v["iso"].as_str().unwrap();
            let parsed = DateTime::parse_from_rfc3339(iso).unwrap();
            assert_eq!(parsed.timestamp(), 1_767_323_045);
        }
        // Through the skill, with the real clock.
        let out = run("current_time", json!({"timezone": "+09:00"})).unwrap();
        let iso = DateTime::parse_from_rfc3339(out["iso"].as_str().unwrap()).unwrap();
        assert_eq!(iso.timestamp(), out["unix"].as_i64().unwrap());
        assert!((Utc::now().timestamp() - iso.timestamp()).abs() < 5);
    }

    #[test]
    fn bad_timezones_are_refused_naming_the_forms_accepted() {
        for tz in [
            "Asia/Shanghai",
            "EST",
            "+8",
            "+08:0",
            "08:00",
            "+08-00",
            "+ab:cd",
            "",
            "+24:00",
            "-05:60",
            "+数:00",
            "+0数",
        ] {
            let e = run("current_time", json!({"timezone": tz})).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("input.timezone"), "{tz}");
            assert_eq!(e.kind, ErrorKind::InvalidRequest);
        }
        let e = run("current_time", json!({"timezone": "Asia/Shanghai"})).unwrap_err();
        assert!(
            e.message.contains("`UTC`") && e.message.contains("+08:00"),
            "{}",
            e.message
        );
        // Refused before executing, under the path given.
        let e = builtin("current_time")
            .unwrap()
            .validate_input(&json!({"timezone": "Europe/Paris"}), "parameters.input")
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("parameters.input.timezone"));
        assert!(
            e.message.starts_with("`parameters.input.timezone` must be"),
            "{}",
            e.message
        );
        let e = run("current_time", json!({"timezone": 8})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input.timezone"));
        let e = run("current_time", json!({"tz": "UTC"})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input.tz"));
    }
}
