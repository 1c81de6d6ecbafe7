//! Prometheus exposition on its own port (never the public one). The recorder is process-wide
//! (the `metrics` facade allows one), installed on first use.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("duration_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0,
                ],
            )
            .expect("static buckets are valid")
            .install_recorder()
            .expect("no other metrics recorder is installed");
        metrics::describe_counter!(
            "openclaw_http_requests_total",
            "HTTP requests by method, route template, status and tier"
        );
        metrics::describe_histogram!(
            "openclaw_http_request_duration_seconds",
            "HTTP request latency by method and route template"
        );
        metrics::describe_counter!(
            "openclaw_rate_limited_total",
            "Requests refused by a tenant limit, by tier and kind (rate, concurrency)"
        );
        metrics::describe_counter!(
            "openclaw_auth_failures_total",
            "Refused credentials by reason"
        );
        metrics::describe_gauge!(
            "openclaw_redis_fallback",
            "1 while Redis is unreachable and limits are local"
        );
        metrics::describe_counter!(
            "openclaw_rate_limit_fallback_total",
            "Rate-limit decisions made locally because Redis was unavailable"
        );
        metrics::gauge!("openclaw_redis_fallback").set(0.0);
        handle
    })
}

pub fn spawn(listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let handle = handle();
    let app = Router::new().route("/metrics", get(move || async move { handle.render() }));
    tokio::spawn(async move {
        let upkeep = async {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                handle.run_upkeep();
            }
        };
        tokio::select! {
            r = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()) => {
                if let Err(e) = r { tracing::error!(error = %e, "metrics server error"); }
            }
            _ = upkeep => {}
        }
    });
    Ok(addr)
}
