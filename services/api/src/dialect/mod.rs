//! Each seed's wire shapes in one place, as typed views (`Serialize` structs) that the HTTP
//! routes and the WebSocket both render. S2's and S4's live here so far; the others are still
//! in their resource modules (`routes/`).

pub mod s2;
pub mod s4;
