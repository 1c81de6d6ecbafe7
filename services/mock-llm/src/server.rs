//! The HTTP surface: both provider formats, `GET /v1/models` and the `/_mock` control
//! endpoints, over shared state holding the script queue and the recorded requests.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;

use crate::reply::{Answer, Timing};
use crate::script::{Options, RecordedRequest, Script};
use crate::{anthropic, openai, request, sse};

/// Carries a [`Script`] as JSON for one request; it wins over the queue and leaves it untouched.
const SCRIPT_HEADER: &str = "x-mock-script";

/// Provider requests can carry long histories and inline images; axum's 2 MB default would
/// reject what a real provider accepts.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

const MODELS: &str = concat!(
    r#"{"object":"list","data":["#,
    r#"{"id":"mock-1","object":"model","created":1700000000,"owned_by":"openclaw"},"#,
    r#"{"id":"gpt-4o","object":"model","created":1700000000,"owned_by":"openclaw"},"#,
    r#"{"id":"gpt-4o-mini","object":"model","created":1700000000,"owned_by":"openclaw"},"#,
    r#"{"id":"o3-mini","object":"model","created":1700000000,"owned_by":"openclaw"},"#,
    r#"{"id":"gpt-5","object":"model","created":1700000000,"owned_by":"openclaw"},"#,
    r#"{"id":"claude-sonnet-4-5","object":"model","created":1700000000,"owned_by":"openclaw"}"#,
    "]}"
);

const ANTHROPIC_MODELS: &str = concat!(
    r#"{"data":[{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","#,
    r#""created_at":"2025-09-29T00:00:00Z"}],"has_more":false,"#,
    r#""first_id":"claude-sonnet-4-5","last_id":"claude-sonnet-4-5"}"#
);

pub(crate) struct Shared {
    options: Options,
    scripts: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<RecordedRequest>>,
    next_id: AtomicU64,
    /// Cancelled on stop: ends graceful shutdown's wait for hung requests and delayed streams.
    pub shutdown: CancellationToken,
}

impl Shared {
    pub fn new(options: Options) -> Self {
        Self {
            options,
            scripts: Mutex::default(),
            requests: Mutex::default(),
            next_id: AtomicU64::new(1),
            shutdown: CancellationToken::new(),
        }
    }

    pub fn push(&self, script: Script) {
        lock(&self.scripts).push_back(script);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.requests).clear();
    }

    fn record(&self, path: &str, headers: &HeaderMap, body: &[u8]) {
        let body = serde_json::from_slice(body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        });
        let headers = headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        lock(&self.requests).push(RecordedRequest {
            path: path.to_owned(),
            headers,
            body,
        });
    }
}

/// A panic while holding a lock cannot leave a queue or a list half-updated, so a poisoned lock
/// is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/messages", post(messages))
        .route("/v1/models", get(models))
        .route("/v1/embeddings", post(embeddings))
        .route("/_mock/scripts", post(push_script))
        .route("/_mock/requests", get(list_requests).delete(clear_requests))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

#[derive(Clone, Copy)]
enum Format {
    OpenAi,
    Anthropic,
}

impl Format {
    fn path(self) -> &'static str {
        match self {
            Format::OpenAi => "/v1/chat/completions",
            Format::Anthropic => "/v1/messages",
        }
    }

    fn error(self, status: u16, message: Option<&str>, retry_after_secs: Option<u64>) -> Response {
        let default_message;
        let message = match message {
            Some(message) => message,
            None => {
                default_message = format!("mock-llm: scripted error (HTTP {status})");
                &default_message
            }
        };
        let body = match self {
            Format::OpenAi => openai::error_body(status, message),
            Format::Anthropic => anthropic::error_body(status, message),
        };
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = json_response(status, body);
        if let Some(secs) = retry_after_secs {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&shared, Format::OpenAi, &headers, &body).await
}

async fn messages(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    answer(&shared, Format::Anthropic, &headers, &body).await
}

async fn answer(shared: &Shared, format: Format, headers: &HeaderMap, body: &[u8]) -> Response {
    if shared.options.record_requests {
        shared.record(format.path(), headers, body);
    }
    // Both checks come before the queue is touched, so a malformed request cannot use up a
    // script meant for the next one.
    let header_script = match headers.get(SCRIPT_HEADER) {
        Some(value) => match serde_json::from_slice::<Script>(value.as_bytes()) {
            Ok(script) => Some(script),
            Err(err) => {
                let message = format!("mock-llm: invalid {SCRIPT_HEADER} header: {err}");
                return format.error(400, Some(&message), None);
            }
        },
        None => None,
    };
    let prompt = match request::parse(body) {
        Ok(prompt) => prompt,
        Err(err) => {
            let message = format!("mock-llm: could not parse the request body: {err}");
            return format.error(400, Some(&message), None);
        }
    };
    let script = header_script
        .or_else(|| lock(&shared.scripts).pop_front())
        .unwrap_or_default();

    let shutdown = &shared.shutdown;
    if script.hang {
        shutdown.cancelled().await;
        return Response::new(sse::aborted_body());
    }
    let timing = Timing::new(&shared.options, &script);
    if !sse::pause(timing.delay_ms, shutdown).await {
        return Response::new(sse::aborted_body());
    }
    if let Some(body) = script.raw_body {
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = StatusCode::from_u16(script.status.unwrap_or(200))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return response;
    }
    if let Some(status) = script.status {
        return format.error(
            status,
            script.error_message.as_deref(),
            script.retry_after_secs,
        );
    }

    let stream = prompt.stream && !script.no_stream;
    let answer = Answer::new(script, &prompt, &shared.options);
    let n = shared.next_id.fetch_add(1, Ordering::Relaxed);
    if stream {
        let frames = match format {
            Format::OpenAi => openai::stream(
                &format!("chatcmpl-mock{n}"),
                unix_now(),
                &prompt.model,
                &answer,
                prompt.include_usage,
            ),
            Format::Anthropic => anthropic::stream(&format!("msg_mock{n}"), &prompt.model, &answer),
        };
        let body = sse::body(
            frames,
            timing,
            answer.disconnect_after_chunks,
            shutdown.clone(),
        );
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    } else {
        let body = match format {
            Format::OpenAi => openai::completion(
                &format!("chatcmpl-mock{n}"),
                unix_now(),
                &prompt.model,
                &answer,
            ),
            Format::Anthropic => {
                anthropic::message(&format!("msg_mock{n}"), &prompt.model, &answer)
            }
        };
        json_response(StatusCode::OK, body)
    }
}

/// Embeddings never take a script from the queue: those are for chat answers.
async fn embeddings(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if shared.options.record_requests {
        shared.record("/v1/embeddings", &headers, &body);
    }
    let parsed: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return Format::OpenAi.error(400, Some(&format!("invalid JSON: {e}")), None),
    };
    match crate::embeddings::answer(&parsed) {
        Ok(v) => json_response(StatusCode::OK, v.to_string()),
        Err(message) => Format::OpenAi.error(400, Some(&message), None),
    }
}

/// OpenAI's list, or Anthropic's page when the caller speaks its API (`anthropic-version`).
async fn models(headers: HeaderMap) -> Response {
    if headers.contains_key("anthropic-version") {
        json_response(StatusCode::OK, ANTHROPIC_MODELS)
    } else {
        json_response(StatusCode::OK, MODELS)
    }
}

async fn push_script(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    // Parsed by hand rather than with `Json` so that a curl without a content type still works.
    match serde_json::from_slice::<Script>(&body) {
        Ok(script) => {
            shared.push(script);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => (StatusCode::BAD_REQUEST, format!("invalid script: {err}")).into_response(),
    }
}

async fn list_requests(State(shared): State<Arc<Shared>>) -> Json<Vec<RecordedRequest>> {
    Json(shared.requests())
}

async fn clear_requests(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.clear_requests();
    StatusCode::NO_CONTENT
}

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
