//! Each seed's wire shapes in one place, as typed views (`Serialize` structs) that the HTTP
//! routes and the WebSocket both render. OpenAI's request and views, S1's task, S3's agent, and the
//! message and run views of S0, S2, S3 and S4 live here so far; the other resources' views are still in their
//! modules (`routes/`).

pub mod openai;
pub mod s0;
pub mod s1;
pub mod s2;
pub mod s3;
pub mod s4;

/// Which seed's view a route serves; set per prefix by the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/v1`: S1 and S4 shapes.
    Hosted,
    /// `/api/v1`: S0's shapes (wrapped by the envelope layer).
    Gateway,
}
