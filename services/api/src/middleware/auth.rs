//! The gates: tenant credentials on tenant routes, the operator credential on `/admin/v1`.
//! Both refuse an address that keeps failing before doing any lookup.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use openclaw_domain::{Error, ErrorKind};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::{blocked_error, AuthFailure, Credential, TierTag};
use crate::error::ApiError;
use crate::state::AppState;

fn client_ip(state: &AppState, req: &Request) -> IpAddr {
    let connected = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    client_ip_of(state, req.headers(), connected)
}

/// The client's address: the connection's, or what our own proxy put last in
/// `X-Forwarded-For` when the operator trusts it.
pub(crate) fn client_ip_of(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    connected: Option<SocketAddr>,
) -> IpAddr {
    if state.config().trust_forwarded_for {
        // The rightmost entry is the one our own proxy appended; anything left of it is
        // whatever the client chose to send.
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    connected
        .map(|c| c.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

pub(crate) fn blocked() -> Response {
    let mut resp = ApiError(blocked_error()).into_response();
    resp.headers_mut()
        .insert("retry-after", HeaderValue::from_static("60"));
    resp
}

pub(crate) fn refuse(state: &AppState, ip: IpAddr, failure: AuthFailure) -> Response {
    metrics::counter!("openclaw_auth_failures_total", "reason" => failure.reason).increment(1);
    if failure.reason == "throttled" {
        return blocked();
    }
    tracing::info!(reason = failure.reason, %ip, "authentication refused");
    let counts = failure.error.kind() == ErrorKind::Unauthorized;
    if counts {
        state.auth().note_failure(ip);
    }
    let mut resp = failure.error.into_response();
    if counts {
        resp.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Bearer realm=\"openclaw\""),
        );
    }
    resp
}

fn has_query_token(req: &Request) -> bool {
    req.uri().query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(name, _)| {
            name.eq_ignore_ascii_case("token") || name.eq_ignore_ascii_case("password")
        })
    })
}

/// Query strings end up in proxy and access logs: credentials there are refused on every route
/// but WebSocket upgrades (browsers cannot set headers on those).
pub async fn no_query_credentials(req: Request, next: Next) -> Response {
    let websocket = is_ws_path(req.uri().path());
    if !websocket && has_query_token(&req) {
        return ApiError::invalid(
            "token",
            "credentials in the query string are accepted only on WebSocket upgrades; \
             send `Authorization: Bearer …` instead",
        )
        .into_response();
    }
    next.run(req).await
}

pub async fn tenant(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let ip = client_ip(&state, &req);
    let credential = match Credential::from_headers(req.headers()) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return refuse(
                &state,
                ip,
                AuthFailure {
                    reason: "missing",
                    error: ApiError(Error::unauthorized(
                        "Missing credentials: send `Authorization: Bearer <API key>`",
                    )),
                },
            );
        }
        Err(f) => return refuse(&state, ip, f),
    };
    match state.auth().authenticate(credential, ip).await {
        Ok(auth) => {
            tracing::Span::current().record("tenant_id", tracing::field::display(auth.tenant_id));
            let tier = auth.tier;
            req.extensions_mut().insert(auth);
            let mut resp = next.run(req).await;
            resp.extensions_mut().insert(TierTag(tier));
            resp
        }
        Err(f) => refuse(&state, ip, f),
    }
}

/// Compares digests so neither content nor length of the operator token leaks through timing.
fn same_secret(given: &str, expected: &str) -> bool {
    Sha256::digest(given.as_bytes())
        .ct_eq(&Sha256::digest(expected.as_bytes()))
        .into()
}

pub async fn operator(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = client_ip(&state, &req);
    if state.auth().is_blocked(ip) {
        return blocked();
    }
    let Some(expected) = state.config().admin_token.as_ref() else {
        return ApiError::new(
            ErrorKind::Unauthorized,
            "The operator API is disabled: set OPENCLAW_ADMIN_TOKEN to enable it",
        )
        .into_response();
    };
    let given = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .map(str::trim);
    match given {
        Some(token) if same_secret(token, expected.expose_secret()) => next.run(req).await,
        _ => refuse(
            &state,
            ip,
            AuthFailure {
                reason: "operator",
                error: ApiError(Error::unauthorized(
                    "The operator API needs `Authorization: Bearer <operator token>`",
                )),
            },
        ),
    }
}

/// The paths that accept a WebSocket upgrade (and so `?token=` in the query).
pub fn is_ws_path(path: &str) -> bool {
    matches!(path, "/" | "/ws" | "/v1/ws" | "/api/v1/ws")
}

#[cfg(test)]
mod tests {
    use super::is_ws_path;

    #[test]
    fn ws_paths() {
        for p in ["/", "/ws", "/v1/ws", "/api/v1/ws"] {
            assert!(is_ws_path(p), "{p}");
        }
        assert!(!is_ws_path("/v1/message"));
    }
}
