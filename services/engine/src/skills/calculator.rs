//! The `calculator` skill: a small arithmetic parser with positions in its errors, a nesting
//! bound, and integral results written as JSON integers.

use openclaw_domain::Error;
use serde_json::{json, Number, Value};

use super::catalogue::{Handler, Permissions, Skill};

pub(super) fn manifest() -> Skill {
    Skill {
        name: "calculator",
        version: "1.0.0",
        older_versions: &[],
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
    }
}

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
                return Err(self.error_at(start, format!("`{name}` takes at least one argument")));
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
                ));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skills::run_builtin as run;
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
}
