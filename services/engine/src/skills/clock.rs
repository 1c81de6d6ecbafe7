//! The `current_time` skill: the time now in UTC or at a fixed offset, and the offsets it reads.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use openclaw_domain::Error;
use serde_json::{json, Value};

use super::catalogue::{Handler, Permissions, Skill};

pub(super) fn manifest() -> Skill {
    Skill {
        name: "current_time",
        version: "1.0.0",
        older_versions: &[],
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
    }
}

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
    use crate::skills::{builtin, run_builtin as run};
    use openclaw_domain::ErrorKind;

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
