//! The end-to-end suite's parts: `fixture` (registry, proxy, fake cluster, replicas),
//! `checker` (the invariants polled all the time), `scenario` (the day in the life),
//! `proxy` (registry faults), `http` (a tiny client).

pub mod checker;
pub mod fixture;
pub mod http;
pub mod proxy;
pub mod scenario;
