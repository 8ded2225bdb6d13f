//! Who is asking for a lab form, and what their quota allows: Gafaelfawr's user-info API
//! (lab-form.md §2), the one place rsp-images talks to Rubin's authentication service.
//!
//! An I/O edge of its own, like the registry and Kubernetes crates, so that the service only
//! sees [`UserInfo`] and [`UserInfoError`]:
//!
//! - `client`: [`GafaelfawrClient`], `GET {v1}/user-info` with the user's token, bounded in
//!   time and size, answers cached per token for a short while.
//! - `wire`: the user-info answer as Gafaelfawr sends it, read strictly where it is used.
//! - `discovery`: where `{v1}` is when it comes from Repertoire (`REPERTOIRE_BASE_URL`).
//! - `cache`: the per-token cache.

mod cache;
mod client;
mod discovery;
mod wire;

pub use client::{GafaelfawrClient, UserInfoError};
pub use wire::UserInfo;
