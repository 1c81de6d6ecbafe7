//! The HTTP upgrade: authenticates what the request carries (headers or the query), checks the
//! tenant's request rate and connection cap, and hands the socket to its connection loop.

use std::net::SocketAddr;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use openclaw_domain::{Error, ErrorKind};
use uuid::Uuid;

use super::conn::Conn;
use super::slots::Slot;
use super::READ_BUFFER_BYTES;
use crate::auth::{Authenticated, Credential};
use crate::error::ApiError;
use crate::middleware::auth::{client_ip_of, refuse};
use crate::middleware::rate_limit::rate_exceeded;
use crate::state::AppState;

/// An authenticated connection's identity: re-checked on every request, so a revoked key or an
/// expired token stops working on open sockets too.
pub(super) struct Authed {
    pub(super) auth: Authenticated,
    pub(super) credential: Credential,
    pub(super) slot: Slot,
}

/// The credential of an upgrade request: headers first, then `?token=` or `?password=`.
fn upgrade_credential(
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Option<Credential>, crate::auth::AuthFailure> {
    if let Some(c) = Credential::from_headers(headers)? {
        return Ok(Some(c));
    }
    let query = uri.query().unwrap_or_default();
    Ok(form_urlencoded::parse(query.as_bytes())
        .find(|(name, value)| {
            (name.eq_ignore_ascii_case("token") || name.eq_ignore_ascii_case("password"))
                && !value.trim().is_empty()
        })
        .map(|(_, value)| Credential::classify(value.trim())))
}

/// `GET /ws` (and its aliases): authenticates what the upgrade carries, checks the tenant's
/// request rate and connection cap, and upgrades. Without credentials the socket is upgraded
/// and has `auth_timeout` to send S2's `auth` frame.
pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        // `/` is a WebSocket address only; anything else there is an unknown route.
        Err(_) if uri.path() == "/" => {
            return ApiError::new(ErrorKind::NotFound, "no such route").into_response();
        }
        Err(rejection) => {
            return ApiError::invalid(
                "upgrade",
                format!(
                    "this endpoint speaks WebSocket: connect with a WebSocket client ({rejection})"
                ),
            )
            .into_response()
        }
    };
    let ip = client_ip_of(&state, &headers, Some(peer));
    let credential = match upgrade_credential(&headers, &uri) {
        Ok(c) => c,
        Err(failure) => return refuse(&state, ip, failure),
    };
    let client_id = Uuid::now_v7().to_string();
    let authed = match credential {
        None => None,
        Some(credential) => {
            let auth = match state.auth().authenticate(credential.clone(), ip).await {
                Ok(auth) => auth,
                Err(failure) => return refuse(&state, ip, failure),
            };
            if let Err(e) = rate_limit(&state, &auth).await {
                // As on any HTTP 429 (API.md §4.3): when to try again.
                let wait = e.details["retry_after"].as_u64().unwrap_or(1);
                let mut resp = ApiError(e).into_response();
                resp.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(wait),
                );
                return resp;
            }
            match Slot::take(&state, &auth, &client_id).await {
                Ok(slot) => Some(Authed {
                    auth,
                    credential,
                    slot,
                }),
                Err(e) => return ApiError(e).into_response(),
            }
        }
    };
    let limits = &state.config().ws;
    let anonymous = match authed {
        Some(_) => None,
        None => match state.unauthenticated().admit(
            ip,
            limits.max_unauthenticated_per_address,
            limits.max_unauthenticated,
        ) {
            Some(place) => Some(place),
            None => {
                metrics::counter!("openclaw_ws_refused_total", "reason" => "unauthenticated")
                    .increment(1);
                return ApiError(Error::new(
                    ErrorKind::RateLimited,
                    "too many WebSocket connections are waiting to authenticate: send the \
                     credential with the upgrade (`Authorization` or `?token=`), or retry",
                ))
                .into_response();
            }
        },
    };
    let hard_max = limits.hard_max_message_bytes;
    let tracker = state.tracker().clone();
    ws.max_message_size(hard_max)
        .max_frame_size(hard_max)
        // tungstenite reads into a 128 KiB buffer by default, allocated per connection: most of
        // an idle socket's cost. Frames here are small; larger ones take more reads.
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| {
            tracker.track_future(Conn::serve(socket, state, ip, client_id, authed, anonymous))
        })
}

/// The tenant's request rate, which WebSocket requests count against like HTTP ones.
pub(super) async fn rate_limit(state: &AppState, auth: &Authenticated) -> Result<(), Error> {
    let decision = state.limiter().check(auth.tenant_id, &auth.limits).await;
    if decision.allowed {
        return Ok(());
    }
    metrics::counter!("openclaw_rate_limited_total", "tier" => auth.tier.as_str(), "kind" => "rate")
        .increment(1);
    Err(rate_exceeded(&decision))
}
