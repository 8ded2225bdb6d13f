//! The rsp-images service: state, refresh loop, HTTP API, pages and metrics.
