//! Each seed's wire shapes in one place, as typed views (`Serialize` structs) that the HTTP
//! routes and the WebSocket both render, and the request types that only one seed sends.

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

/// A page of sessions in one dialect's view (S0's and S4's lists share the envelope).
#[derive(Debug, serde::Serialize)]
pub struct Sessions<T> {
    pub sessions: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// A page of S1's tasks or S3's agents: `{data, total, limit, offset}`.
#[derive(Debug, serde::Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Where a run stands after an abort (`POST /v1/runs/{id}/abort`).
#[derive(Debug, serde::Serialize)]
pub struct RunState {
    pub id: String,
    pub object: &'static str,
    /// `completed`, `failed`, `cancelled`, or `cancelling` while no replica has confirmed it.
    pub status: &'static str,
}

impl RunState {
    pub fn new(id: String, status: &'static str) -> Self {
        RunState {
            id,
            object: "run",
            status,
        }
    }
}

/// A stream frame's error (S0's, S2's and S3's streams carry it alike).
#[derive(Debug, serde::Serialize)]
pub struct FrameError<'a> {
    pub code: &'a str,
    pub message: &'a str,
}
