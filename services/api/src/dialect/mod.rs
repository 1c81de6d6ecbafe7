//! Each seed's wire shapes in one place, as typed views (`Serialize` structs) that the HTTP
//! routes and the WebSocket both render. S2's and S4's live here so far; the others are still
//! in their resource modules (`routes/`).

pub mod s2;
pub mod s4;

/// Which seed's view a route serves; set per prefix by the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/v1`: S1 and S4 shapes.
    Hosted,
    /// `/api/v1`: S0's shapes (wrapped by the envelope layer).
    Gateway,
}
