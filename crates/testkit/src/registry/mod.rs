//! Docker registry test support: a real `docker-registry` process ([`DockerRegistry`]), a
//! way to push images into it ([`Pusher`]), a JWT token server for its `auth: token` mode
//! ([`TokenServer`]), and a programmable loopback fake ([`FakeDockerRegistry`]) for the
//! behaviours the real one cannot show (small tag pages, expiring tokens, foreign realms,
//! faults). `serve` holds what all loopback fakes share, the Artifact Registry one too.

mod fake;
mod process;
mod push;
pub(crate) mod serve;
mod token;

pub use fake::{BearerSettings, FakeAuth, FakeDockerRegistry, LinkStyle};
pub use process::{DockerRegistry, RegistryAuth, TempDir};
pub use push::{basic_authorization, sha256_digest, Pusher};
pub use serve::{Fault, Recorded, RecordedRequest, Recorder};
pub use token::{Grant, TokenServer};

/// A test harness failure, saying what to install or what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HarnessError(pub String);
