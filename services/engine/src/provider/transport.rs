//! Resilient HTTP to model upstreams: timeouts, retries with jittered back-off, the mapping of
//! upstream failures to client-safe errors, and SSE decoding into `StreamEvent`s (with the
//! whole JSON answer some servers send in a stream's place).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use eventsource_stream::{EventStreamError, Eventsource};
use futures::stream::{self, BoxStream, Stream, StreamExt, TryStreamExt};
use openclaw_domain::{Error, ErrorKind};
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::types::StreamEvent;
use super::ChatStream;

/// How long a call to an upstream may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP (and TLS) connect, per attempt.
    pub connect: Duration,
    /// The whole call, retries and back-off included; for a stream, until its last event.
    pub total: Duration,
    /// The longest silence tolerated between two chunks of a stream.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        // `total` matches the API's default request timeout (API.md §4) so a model call never
        // outlives the request that made it by default.
        Timeouts {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(300),
            idle: Duration::from_secs(60),
        }
    }
}

/// When and how often a failed attempt is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// The back-off ceiling of the first retry; it doubles with each further one.
    pub base_delay: Duration,
    /// The back-off ceiling never grows past this.
    pub max_delay: Duration,
    /// An upstream's `Retry-After` is honoured up to this long, so it cannot park a run.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the back-off before retry number `retry` (1-based).
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(20);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// "Full jitter" back-off: uniform in `[0, ceiling]`, which spreads clients that failed
    /// together better than equal or decorrelated jitter (AWS architecture blog).
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        Duration::from_nanos(rng.gen_range(0..=ceiling.as_nanos().min(u64::MAX as u128) as u64))
    }
}

/// Transport settings shared by every HTTP provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpConfig {
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
}

/// The client the HTTP providers share: one connection pool for every upstream.
pub fn build_client(config: &HttpConfig) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .connect_timeout(config.timeouts.connect)
        // Nagle + delayed ACK stalls small SSE frames (ARCHITECTURE.md, performance notes).
        .tcp_nodelay(true)
        // A redirect would carry `x-api-key` to wherever it points (reqwest strips only
        // `Authorization` across hosts), and upstream endpoints are configured, never followed.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("openclaw/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            tracing::error!(error = %e, "building the provider HTTP client failed");
            Error::internal()
        })
}

/// One failed attempt: the error a client would see, and whether trying again may help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: Error,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn fatal(error: Error) -> Self {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    pub fn retryable(error: Error) -> Self {
        Failure {
            error,
            retryable: true,
            retry_after: None,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

/// A client-safe 502 naming the provider; `details` carries what an operator needs.
/// A stream that ended before its answer was complete: worth another attempt if nothing has
/// reached the caller yet.
pub(crate) fn cut_short(provider: &str) -> Failure {
    Failure::retryable(upstream_error(
        provider,
        None,
        format!("{provider} upstream ended the stream before the answer was complete"),
    ))
}

pub(crate) fn upstream_error(provider: &str, status: Option<u16>, message: String) -> Error {
    let mut details = json!({ "provider": provider });
    if let Some(status) = status {
        details["upstream_status"] = json!(status);
    }
    Error::new(ErrorKind::Upstream, message).with_details(details)
}

pub(crate) fn timeout_error(provider: &str, message: String) -> Error {
    Error::new(ErrorKind::UpstreamTimeout, message).with_details(json!({ "provider": provider }))
}

/// Classifies a reqwest failure. Its text is not passed on: it can carry the URL, and the URL
/// may hold credentials an operator put in a base URL.
pub(crate) fn transport_failure(provider: &str, e: &reqwest::Error) -> Failure {
    tracing::debug!(provider, error = %describe(e), "upstream transport error");
    if e.is_timeout() {
        // Only the connect timeout is reqwest's; other deadlines are ours (tokio timers).
        return Failure::retryable(timeout_error(
            provider,
            format!("{provider} upstream: connection timed out"),
        ));
    }
    if e.is_builder() {
        return Failure::fatal(upstream_error(
            provider,
            None,
            format!("{provider} upstream: invalid request URL"),
        ));
    }
    let what = if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection lost while reading the response"
    } else {
        "request failed"
    };
    Failure::retryable(upstream_error(
        provider,
        None,
        format!("{provider} upstream: {what}"),
    ))
}

/// The kind and cause chain of a reqwest error, for logs: without reqwest's own Display,
/// which prints the URL.
fn describe(e: &reqwest::Error) -> String {
    let mut s = String::from(if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() {
        "body"
    } else if e.is_decode() {
        "decode"
    } else {
        "request"
    });
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// Statuses worth another attempt: rate limiting and transient server trouble. 529 is
/// Anthropic's "overloaded".
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504 | 529)
}

/// `retry-after-ms` (OpenAI), else `Retry-After` as seconds or an HTTP date.
pub(crate) fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |v: &HeaderValue| v.to_str().ok().map(str::trim).map(str::to_owned);
    if let Some(ms) = headers.get("retry-after-ms").and_then(text) {
        if let Ok(ms) = ms.parse::<f64>() {
            if ms.is_finite() && ms >= 0.0 {
                return Some(Duration::from_secs_f64(ms / 1000.0));
            }
        }
    }
    let value = headers.get(reqwest::header::RETRY_AFTER).and_then(text)?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(&value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// How long to wait before the next attempt, or `None` to give up now: the failure is final,
/// attempts are used up, or the wait would not end before the deadline.
pub(crate) fn retry_delay(
    policy: &RetryPolicy,
    attempt: u32,
    failure: &Failure,
    remaining: Duration,
    rng: &mut impl Rng,
) -> Option<Duration> {
    if !failure.retryable || attempt >= policy.max_attempts {
        return None;
    }
    let delay = match failure.retry_after {
        Some(after) => after.min(policy.max_retry_after),
        None => policy.backoff(attempt, rng),
    };
    (delay < remaining).then_some(delay)
}

/// At most this many characters of an upstream's error text reach a client.
const EXCERPT_CHARS: usize = 200;
/// At most this much of an error body is read, so a huge error page costs nothing.
const ERROR_BODY_LIMIT: usize = 8 * 1024;

/// An upstream endpoint family (one provider): its name, client, settings and the secret that
/// must never appear in what it reports.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    pub provider: &'static str,
    pub http: reqwest::Client,
    pub config: HttpConfig,
    pub api_key: Option<SecretString>,
}

impl Upstream {
    /// The API key as a header value marked sensitive, so hyper never prints it.
    pub fn key_header(&self, prefix: &str) -> Option<HeaderValue> {
        let key = self.api_key.as_ref()?;
        let mut value = HeaderValue::from_str(&format!("{prefix}{}", key.expose_secret())).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// Removes the API key, and any word that looks like a masked copy of it, from `text`.
    pub fn redact(&self, text: &str) -> String {
        let Some(key) = self.api_key.as_ref().map(|k| k.expose_secret()) else {
            return text.to_owned();
        };
        if key.is_empty() {
            return text.to_owned();
        }
        let text = text.replace(key, "[REDACTED]");
        // Upstreams echo keys masked (`sk-proj-ab****wxyz`); a long enough prefix of ours in a
        // word gives that word away.
        let prefix: String = key.chars().take(8).collect();
        if key.chars().count() < 12 {
            return text;
        }
        text.split(' ')
            .map(|w| if w.contains(&prefix) { "[REDACTED]" } else { w })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// One attempt: send, and turn a non-2xx answer into a `Failure`.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, Failure> {
        let response = request
            .send()
            .await
            .map_err(|e| transport_failure(self.provider, &e))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(self.status_failure(response).await)
        }
    }

    async fn status_failure(&self, mut response: Response) -> Failure {
        let status = response.status();
        let retry_after = parse_retry_after(response.headers(), SystemTime::now());
        let mut body = Vec::new();
        while body.len() < ERROR_BODY_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        // Redacted before it is cut, so a key straddling the cut cannot leak in part.
        let excerpt = shorten(&self.redact(&readable(&String::from_utf8_lossy(&body))));
        let mut message = format!(
            "{} upstream returned HTTP {}",
            self.provider,
            status.as_u16()
        );
        if let Some(reason) = status.canonical_reason() {
            message.push(' ');
            message.push_str(reason);
        }
        if !excerpt.is_empty() {
            message.push_str(": ");
            message.push_str(&excerpt);
        }
        Failure {
            error: upstream_error(self.provider, Some(status.as_u16()), message),
            retryable: is_retryable_status(status),
            retry_after,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, runs out of attempts or of time.
    /// The deadline covers every attempt and every back-off, so retries never extend a call.
    pub async fn retrying<T, F, Fut>(&self, deadline: Instant, mut attempt: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let policy = &self.config.retry;
        let mut n = 1;
        loop {
            let failure = match tokio::time::timeout_at(deadline, attempt()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(failure)) => failure,
                Err(_) => {
                    return Err(timeout_error(
                        self.provider,
                        format!(
                            "{} upstream did not answer within {:?}",
                            self.provider, self.config.timeouts.total
                        ),
                    ));
                }
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            let Some(delay) = retry_delay(policy, n, &failure, remaining, &mut rand::thread_rng())
            else {
                return Err(failure.error);
            };
            tracing::warn!(
                provider = self.provider,
                attempt = n,
                delay_ms = delay.as_millis() as u64,
                error = %failure.error.message,
                "retrying upstream call"
            );
            tokio::time::sleep(delay).await;
            n += 1;
        }
    }

    /// A whole JSON answer, with retries.
    pub async fn json<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + self.config.timeouts.total;
        let build = &build;
        self.retrying(deadline, move || async move {
            let response = self.send(build()).await?;
            let bytes = response
                .bytes()
                .await
                .map_err(|e| transport_failure(self.provider, &e))?;
            serde_json::from_slice(&bytes).map_err(|e| {
                tracing::warn!(provider = self.provider, error = %e, "unexpected upstream body");
                Failure::fatal(upstream_error(
                    self.provider,
                    None,
                    format!(
                        "{} upstream sent a response we could not read",
                        self.provider
                    ),
                ))
            })
        })
        .await
    }

    /// A streamed answer (or the whole answer some servers send instead, see
    /// `answer_events`). Retries cover everything up to the first event handed out (the
    /// status, a connection dropped early, an error event before any output); after that a
    /// failure is the stream's last item, because output a client has seen cannot be redone.
    pub async fn sse<D: SseDecoder>(
        &self,
        build: impl Fn() -> RequestBuilder,
        decoder: impl Fn() -> D,
    ) -> Result<ChatStream, Error> {
        let deadline = Instant::now() + self.config.timeouts.total;
        let (build, decoder) = (&build, &decoder);
        let (first, rest) = self
            .retrying(deadline, move || async move {
                let response = self.send(build()).await?;
                let provider = self.provider;
                let mut events = self.answer_events(response, decoder(), deadline).await?;
                match events.next().await {
                    Some(Ok(event)) => Ok((event, events)),
                    Some(Err(failure)) => Err(failure),
                    None => Err(Failure::retryable(upstream_error(
                        provider,
                        None,
                        format!("{provider} upstream ended the stream without an answer"),
                    ))),
                }
            })
            .await?;
        Ok(stream::once(async move { Ok(first) })
            .chain(rest.map_err(|f| f.error))
            .boxed())
    }

    /// The events of a 2xx answer to a stream request. Some proxies and small servers answer
    /// with one whole JSON body however they were asked: a body whose first non-blank byte is
    /// `{` is read to its end and given to [`SseDecoder::whole_answer`]; anything else is
    /// decoded as an event stream while it arrives. Only a `text/event-stream` Content-Type is
    /// taken at its word, because such servers label both shapes loosely, or not at all.
    async fn answer_events<D: SseDecoder>(
        &self,
        response: Response,
        mut decoder: D,
        deadline: Instant,
    ) -> Result<BoxStream<'static, Result<StreamEvent, Failure>>, Failure> {
        let (provider, idle) = (self.provider, self.config.timeouts.idle);
        let declared_stream = is_event_stream(response.headers());
        let body = response
            .bytes_stream()
            .map_err(move |e| transport_failure(provider, &e));
        if declared_stream {
            return Ok(decode_sse(body, decoder, idle, deadline, provider));
        }
        let mut body = body.boxed();
        // Read up to the first byte that is not blank: a JSON answer opens with `{`, an event
        // stream never does.
        let mut head = Vec::new();
        let mut first_byte = None;
        while first_byte.is_none() {
            let Some(chunk) = next_chunk(&mut body, idle, deadline, provider).await? else {
                break;
            };
            first_byte = chunk.iter().copied().find(|b| !b.is_ascii_whitespace());
            head.push(chunk);
        }
        let mut body = stream::iter(head.into_iter().map(Ok)).chain(body);
        if first_byte != Some(b'{') {
            return Ok(decode_sse(body, decoder, idle, deadline, provider));
        }
        let mut whole = Vec::new();
        while let Some(chunk) = next_chunk(&mut body, idle, deadline, provider).await? {
            whole.extend_from_slice(&chunk);
        }
        let mut out = Vec::new();
        let outcome = decoder.whole_answer(&whole, &mut out);
        Ok(stream::iter(out.into_iter().map(Ok).chain(outcome.err().map(Err))).boxed())
    }
}

/// Whether the Content-Type says the body is an event stream.
fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/event-stream"))
}

/// The next chunk of a body, under the same idle and deadline limits as an event stream.
async fn next_chunk<S, B>(
    body: &mut S,
    idle: Duration,
    deadline: Instant,
    provider: &'static str,
) -> Result<Option<B>, Failure>
where
    S: Stream<Item = Result<B, Failure>> + Unpin,
{
    match tokio::time::timeout_at(deadline.min(Instant::now() + idle), body.next()).await {
        Ok(next) => next.transpose(),
        Err(_) => Err(silence(provider, idle, deadline)),
    }
}

/// An upstream that went quiet: for `idle`, or until the call's deadline passed.
fn silence(provider: &str, idle: Duration, deadline: Instant) -> Failure {
    let message = if Instant::now() >= deadline {
        format!("{provider} upstream did not finish in time")
    } else {
        format!("{provider} upstream sent nothing for {idle:?}")
    };
    Failure::fatal(timeout_error(provider, message))
}

/// The readable part of an upstream error body: its `error.message` when it is JSON (OpenAI
/// and Anthropic both put it there), else the text, whitespace folded.
pub(crate) fn readable(body: &str) -> String {
    let parsed = serde_json::from_str::<Value>(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error").filter(|e| e.is_string()))
            .or_else(|| v.get("message"))
            .and_then(Value::as_str)
    });
    message
        .unwrap_or(body)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` cut to at most `EXCERPT_CHARS` characters.
pub(crate) fn shorten(text: &str) -> String {
    if text.chars().count() <= EXCERPT_CHARS {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(EXCERPT_CHARS).collect();
        cut.push('…');
        cut
    }
}

/// A short, readable excerpt of an upstream error body.
pub(crate) fn excerpt(body: &str) -> String {
    shorten(&readable(body))
}

/// Turns one provider's SSE events into `StreamEvent`s.
pub(crate) trait SseDecoder: Send + 'static {
    /// One SSE event (`name` is `message` when the upstream sent none).
    fn event(&mut self, name: &str, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Failure>;
    /// The body ended: the last events, or a failure if the answer was cut short.
    fn eof(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Failure>;
    /// A whole JSON answer (`body` starts with `{`) sent where a stream was asked for: the
    /// events its stream would have carried, `Done` last. By default it is read as an SSE
    /// parser reads it: a stream that ended before its first event.
    fn whole_answer(&mut self, body: &[u8], out: &mut Vec<StreamEvent>) -> Result<(), Failure> {
        let _ = body;
        self.eof(out)
    }
}

type SseEvents<S> = Pin<Box<eventsource_stream::EventStream<S>>>;

struct SseState<S, D> {
    events: SseEvents<S>,
    decoder: D,
    pending: VecDeque<Result<StreamEvent, Failure>>,
    finished: bool,
    idle: Duration,
    deadline: Instant,
    provider: &'static str,
}

/// Decodes an SSE byte stream with `decoder`. Ends after `Done` or after the first error, and
/// fails with a timeout when the upstream goes quiet for `idle` or runs past `deadline`.
pub(crate) fn decode_sse<S, B, D>(
    body: S,
    decoder: D,
    idle: Duration,
    deadline: Instant,
    provider: &'static str,
) -> BoxStream<'static, Result<StreamEvent, Failure>>
where
    S: Stream<Item = Result<B, Failure>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
    D: SseDecoder,
{
    let state = SseState {
        events: Box::pin(body.eventsource()),
        decoder,
        pending: VecDeque::new(),
        finished: false,
        idle,
        deadline,
        provider,
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.pending.pop_front() {
                if matches!(item, Ok(StreamEvent::Done { .. }) | Err(_)) {
                    st.pending.clear();
                    st.finished = true;
                }
                return Some((item, st));
            }
            if st.finished {
                return None;
            }
            let until = st.deadline.min(Instant::now() + st.idle);
            let next = match tokio::time::timeout_at(until, st.events.next()).await {
                Ok(next) => next,
                Err(_) => {
                    st.pending
                        .push_back(Err(silence(st.provider, st.idle, st.deadline)));
                    continue;
                }
            };
            let mut out = Vec::new();
            let result = match next {
                None => {
                    st.finished = true;
                    st.decoder.eof(&mut out)
                }
                Some(Ok(event)) => st.decoder.event(&event.event, &event.data, &mut out),
                Some(Err(EventStreamError::Transport(failure))) => Err(failure),
                Some(Err(e)) => {
                    tracing::warn!(provider = st.provider, error = %e, "malformed SSE from upstream");
                    Err(Failure::fatal(upstream_error(
                        st.provider,
                        None,
                        format!("{} upstream sent a malformed event stream", st.provider),
                    )))
                }
            };
            st.pending.extend(out.into_iter().map(Ok));
            if let Err(failure) = result {
                st.pending.push_back(Err(failure));
            }
        }
    })
    .boxed()
}

/// An error reported inside a stream. Overload and server errors may pass on retry (before
/// any output); anything else will not.
pub(crate) fn stream_error(provider: &str, error: &Value) -> Failure {
    let message = excerpt(&json!({ "error": error }).to_string());
    let kind = error
        .get("type")
        .or_else(|| error.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let failure_error = upstream_error(
        provider,
        None,
        format!("{provider} upstream failed mid-stream: {message}"),
    );
    if matches!(
        kind,
        "server_error"
            | "api_error"
            | "overloaded_error"
            | "rate_limit_error"
            | "rate_limit_exceeded"
    ) {
        Failure::retryable(failure_error)
    } else {
        Failure::fatal(failure_error)
    }
}

/// Parses tool-call arguments; text that is not JSON is kept verbatim as a JSON string.
pub(crate) fn parse_arguments(raw: &str) -> Value {
    if raw.trim().is_empty() {
        return json!({});
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn upstream(key: Option<&str>) -> Upstream {
        Upstream {
            provider: "openai",
            http: reqwest::Client::new(),
            config: HttpConfig::default(),
            api_key: key.map(SecretString::from),
        }
    }

    #[test]
    fn backoff_ceiling_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(5),
        };
        let ceilings: Vec<_> = (1..=6).map(|r| p.backoff_ceiling(r).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff_ceiling(200), Duration::from_millis(1000));
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);
        let samples: Vec<_> = (0..2000).map(|_| p.backoff(3, &mut rng)).collect();
        let ceiling = p.backoff_ceiling(3);
        assert!(samples.iter().all(|d| *d <= ceiling));
        // Full jitter: both ends of the range are reached, not a narrow band around the middle.
        assert!(samples.iter().any(|d| *d < ceiling / 10));
        assert!(samples.iter().any(|d| *d > ceiling * 9 / 10));
    }

    #[test]
    fn retry_delay_respects_attempts_retry_after_and_deadline() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        let long = Duration::from_secs(600);
        let fatal = Failure::fatal(Error::internal());
        assert_eq!(retry_delay(&p, 1, &fatal, long, &mut rng), None);

        let mut f = Failure::retryable(Error::internal());
        assert!(retry_delay(&p, 1, &f, long, &mut rng).is_some());
        assert_eq!(retry_delay(&p, p.max_attempts, &f, long, &mut rng), None);

        f.retry_after = Some(Duration::from_secs(2));
        assert_eq!(
            retry_delay(&p, 1, &f, long, &mut rng),
            Some(Duration::from_secs(2))
        );
        f.retry_after = Some(Duration::from_secs(3600));
        assert_eq!(
            retry_delay(&p, 1, &f, long, &mut rng),
            Some(p.max_retry_after)
        );
        // A wait that would outlast the call's deadline is not worth starting.
        assert_eq!(
            retry_delay(&p, 1, &f, Duration::from_secs(1), &mut rng),
            None
        );
    }

    #[test]
    fn retry_after_accepts_seconds_dates_and_milliseconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        h.insert("retry-after", HeaderValue::from_str(&date).unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(30)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        h.insert("retry-after", HeaderValue::from_str(&past).unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::ZERO));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(
            parse_retry_after(&h, now),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn retryable_statuses() {
        for s in [429, 500, 502, 503, 504, 529] {
            assert!(is_retryable_status(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 401, 403, 404, 408, 422, 501] {
            assert!(
                !is_retryable_status(StatusCode::from_u16(s).unwrap()),
                "{s}"
            );
        }
    }

    #[test]
    fn excerpt_prefers_the_error_message_and_is_short() {
        assert_eq!(
            excerpt(r#"{"error":{"message":"Rate   limit\nreached","type":"x"}}"#),
            "Rate limit reached"
        );
        assert_eq!(
            excerpt(
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            "Overloaded"
        );
        assert_eq!(
            excerpt("<html> Bad gateway </html>"),
            "<html> Bad gateway </html>"
        );
        let long = "x".repeat(5000);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        let cjk = "错".repeat(300);
        assert_eq!(excerpt(&cjk).chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn redact_removes_the_key_and_masked_copies() {
        let up = upstream(Some("sk-proj-SECRETSECRETSECRET1234"));
        let text = "Incorrect API key provided: sk-proj-SECRETSECRETSECRET1234. \
                    Also sk-proj-SE**********1234 here.";
        let r = up.redact(text);
        assert!(!r.contains("SECRET"), "{r}");
        assert!(!r.contains("sk-proj-SE"), "{r}");
        assert!(r.contains("Incorrect API key provided"));
        assert_eq!(upstream(None).redact("plain"), "plain");
    }

    #[test]
    fn debug_never_prints_the_key() {
        let up = upstream(Some("sk-very-secret-value"));
        let dbg = format!("{up:?}");
        assert!(!dbg.contains("sk-very-secret-value"), "{dbg}");
        let header = up.key_header("Bearer ").unwrap();
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("secret"));
    }

    #[test]
    fn only_an_event_stream_content_type_is_taken_at_its_word() {
        let mut h = HeaderMap::new();
        assert!(!is_event_stream(&h));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Text/Event-Stream; charset=utf-8"),
        );
        assert!(is_event_stream(&h));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!is_event_stream(&h));
    }

    #[test]
    fn arguments_parse_or_are_kept_verbatim() {
        assert_eq!(parse_arguments(""), json!({}));
        assert_eq!(parse_arguments(r#"{"a":1}"#), json!({"a":1}));
        assert_eq!(parse_arguments("{\"a\":"), json!("{\"a\":"));
    }

    /// Feeds `chunks` (split wherever a test likes, even inside a UTF-8 character) through
    /// `decoder` as an SSE body.
    pub(crate) async fn decode_fixture<D: SseDecoder>(
        chunks: Vec<Vec<u8>>,
        decoder: D,
    ) -> Vec<Result<StreamEvent, Error>> {
        let body = stream::iter(chunks.into_iter().map(Ok::<_, Failure>));
        decode_sse(
            body,
            decoder,
            Duration::from_secs(5),
            Instant::now() + Duration::from_secs(5),
            "test",
        )
        .map(|r| r.map_err(|f| f.error))
        .collect()
        .await
    }

    /// Splits `text` into chunks of `size` bytes, ignoring character boundaries on purpose.
    pub(crate) fn split_bytes(text: &str, size: usize) -> Vec<Vec<u8>> {
        text.as_bytes().chunks(size).map(<[u8]>::to_vec).collect()
    }

    #[tokio::test]
    async fn a_quiet_stream_times_out() {
        struct Never;
        impl SseDecoder for Never {
            fn event(&mut self, _: &str, _: &str, _: &mut Vec<StreamEvent>) -> Result<(), Failure> {
                Ok(())
            }
            fn eof(&mut self, _: &mut Vec<StreamEvent>) -> Result<(), Failure> {
                Ok(())
            }
        }
        let body = stream::pending::<Result<Vec<u8>, Failure>>();
        let items: Vec<_> = decode_sse(
            body,
            Never,
            Duration::from_millis(50),
            Instant::now() + Duration::from_secs(5),
            "test",
        )
        .collect()
        .await;
        assert_eq!(items.len(), 1);
        let err = &items[0].as_ref().unwrap_err().error;
        assert_eq!(err.kind, ErrorKind::UpstreamTimeout);
        assert!(err.message.contains("sent nothing"), "{}", err.message);
    }
}
