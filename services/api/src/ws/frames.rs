//! The frames a connection writes: S4's events (`{"type", "id", "data"}`), the error event S2
//! and S4 both read, and text and close messages.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use openclaw_domain::Error;
use serde_json::{json, Value};

/// `{"type": kind, "id": id, "data": data}`; `id` only when the request had one.
pub(super) fn event(kind: &str, id: &Value, data: Value) -> Value {
    let mut e = json!({"type": kind, "data": data});
    if !id.is_null() {
        e["id"] = id.clone();
    }
    e
}

/// An error event: S4's `data: {code, message}` (with `param`, `details` and the run's id when
/// there are), plus `code` and `message` at the top, where S2's client reads them.
pub(super) fn error_event(id: &Value, e: &Error, run_id: Option<&str>) -> Value {
    let (_, code, _) = e.kind.parts();
    let mut data = json!({"code": code, "message": e.message});
    if let Some(param) = &e.param {
        data["param"] = json!(param);
    }
    if !e.details.is_null() && e.details != json!({}) {
        data["details"] = e.details.clone();
    }
    if let Some(run) = run_id {
        data["runId"] = json!(run);
    }
    let mut frame = event("error", id, data);
    frame["code"] = json!(code);
    frame["message"] = json!(e.message);
    frame
}

pub(super) fn text(v: &Value) -> Message {
    Message::Text(Utf8Bytes::from(v.to_string()))
}

pub(super) fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_s4_data_and_s2_top_level_fields() {
        let e = Error::invalid("message", "`message` is required");
        let frame = error_event(&json!(7), &e, Some("run_1"));
        assert_eq!(frame["type"], "error");
        assert_eq!(frame["id"], 7);
        assert_eq!(frame["data"]["code"], "invalid_request");
        assert_eq!(frame["data"]["param"], "message");
        assert_eq!(frame["data"]["runId"], "run_1");
        assert_eq!(frame["message"], "`message` is required");
        assert!(event("x", &Value::Null, json!({})).get("id").is_none());
    }
}
