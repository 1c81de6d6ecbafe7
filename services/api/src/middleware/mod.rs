//! The request pipeline, outermost first: request id → metrics and logs → error normaliser →
//! timeout → (tenant routes) auth → rate limit and concurrency permit → handler.

pub mod auth;
pub mod envelope;
pub mod normalise;
pub mod rate_limit;
pub mod request_id;
pub mod telemetry;
pub mod timeout;
