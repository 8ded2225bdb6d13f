//! The rsp-images service: state, refresh loop, HTTP API, pages and metrics.
//!
//! - `backend`: the boundary the HTTP layer reads through ([`backend::Backend`]).

pub mod backend;
