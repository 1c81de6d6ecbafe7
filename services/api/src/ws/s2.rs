//! S2's `message` frames: each a run on the connection's conversation, answered by one
//! `response` frame (or an `error`) when it ends.

use openclaw_domain::Error;
use openclaw_engine::run::run_wire_id;
use openclaw_engine::RunRequest;
use serde_json::{json, Value};

use super::conn::{Conn, Flow};
use super::frames::{error_event, event, text};
use crate::dialect::s2;
use crate::error::ApiError;
use crate::routes::runs::finish;

impl Conn {
    /// S2's `{"type":"message","channel","content","metadata"}` → `{"type":"response","content"}` when the
    /// run ends. The connection's messages continue one conversation (`conversation_id` picks
    /// another).
    pub(super) async fn on_s2_message(&mut self, id: &Value, frame: &Value) -> Flow {
        let auth = match self.admit(id).await {
            Ok(auth) => auth,
            Err(flow) => return flow,
        };
        metrics::counter!("openclaw_ws_requests_total", "method" => "message").increment(1);
        let Some(content) = frame
            .get("content")
            .or_else(|| frame.get("message"))
            .and_then(Value::as_str)
        else {
            let e = Error::invalid("content", "`content` (a string) is required");
            self.error(id, &e).await;
            return Flow::Continue;
        };
        let channel = match frame.get("channel") {
            None | Some(Value::Null) => "websocket".to_string(),
            Some(Value::String(c)) if !c.trim().is_empty() && c.len() <= 64 => c.clone(),
            Some(_) => {
                let e = Error::invalid("channel", "`channel` must be a name of 1 to 64 characters");
                self.error(id, &e).await;
                return Flow::Continue;
            }
        };
        let conversation = match frame.get("conversation_id").and_then(Value::as_str) {
            Some(c) => c.to_string(),
            None => self
                .s2_conversation
                .get_or_insert_with(|| format!("ws-{}", self.client_id))
                .clone(),
        };
        let metadata = match crate::routes::messages::s2_metadata(frame.get("metadata").cloned()) {
            Ok(m) => m,
            Err(ApiError(e)) => {
                self.error(id, &e).await;
                return Flow::Continue;
            }
        };
        let Some(permit) = self.chat_permit(id, &auth).await else {
            return Flow::Continue;
        };
        let req = RunRequest {
            message: content.to_string(),
            metadata,
            channel: Some(channel),
            session_key: Some(conversation),
            ..Default::default()
        };
        let started = match crate::routes::runs::start(
            &self.state,
            &permit.caller(&auth),
            req,
            "conversation_id",
        )
        .await
        {
            Ok(s) => s,
            Err(ApiError(e)) => {
                self.error(id, &e).await;
                return Flow::Continue;
            }
        };
        let out = self.out.clone();
        let id = id.clone();
        self.state.tracker().spawn(async move {
            let _permit = permit;
            let run_id = run_wire_id(started.run_id);
            let frame = match finish(started, None).await {
                Ok(d) => {
                    let mut f = event(
                        "response",
                        &id,
                        json!({"content": d.content, "conversation_id": d.session_key, "runId": run_id}),
                    );
                    // S2's reply at the top level, as `POST /v1/message` answers it, but for its
                    // `id`: a frame's `id` is the request's, so the message's is `message_id`.
                    let reply = json!(s2::Reply::of(&d.answer, &d.session_key, &d.model));
                    for (field, value) in reply.as_object().into_iter().flatten() {
                        let field = if field == "id" { "message_id" } else { field };
                        f[field] = value.clone();
                    }
                    f
                }
                Err(ApiError(e)) => error_event(&id, &e, Some(&run_id)),
            };
            let _ = out.send(text(&frame)).await;
        });
        Flow::Continue
    }
}
