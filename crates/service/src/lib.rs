//! The rsp-images service: state, refresh loop, HTTP API, pages and metrics.
//!
//! - `backend`: the boundary the HTTP layer reads through ([`backend::Backend`]).
//! - `body`: JSON bodies serialised (and gzip-compressed) once, shared by requests.
//! - `dry_run`: one refresh over a list of nodes, for `rsp-images plan` (what would be served,
//!   the pods that would be created).
//! - `form`: the lab form's sizes and authentication (open, or Gafaelfawr).
//! - `http`: the router, handlers and error bodies of every route ([`http::router`]).
//! - `init_images`: the lab's init container images, prepulled by tag until the background
//!   task that asks their registries learns their digests.
//! - `pages`: the server-rendered lab form and status pages (overview, node list, node).
//! - `metrics`: `/metrics` through prometheus-client: the backend's metrics snapshot and the
//!   HTTP request histograms.
//! - `openapi`: the OpenAPI document of the JSON routes.
//! - `served`: what is served, as pure functions of one `ListingOnNodes` (a listing on the
//!   selected nodes): the spawner API's bodies, lookups, prepull images and plan; shared with
//!   the `plan` command.
//! - `snapshot`: the served snapshot (`ServedSnapshot`: a listing on nodes and the prepuller's
//!   status), the bodies made once from it, and the status report and metrics computed from
//!   it, for the service and its HTTP tests alike.
//! - `state`: the live state the routes read (`ServiceState`), rebuilt when an input changes.
//! - `text`: sizes and digests as people read them (status pages, `plan` tables).
//! - `refresh`: the registry refresh loop and its record (last success, last error).
//! - `run`: `serve`, which checks everything that can be checked, then starts every task
//!   and stops them cleanly.
//! - `status`: what the status pages show (the image × node grid, node queries, notices),
//!   pure functions of the served snapshot.
//! - `supervise`: restarts a long-running task that died, and reports it (readiness,
//!   notices on the status pages, metrics).
//! - `warm`: warm nodes as the service sees them (cold nodes of a listing on nodes,
//!   the releases' metrics).

pub mod backend;
pub mod body;
pub mod dry_run;
pub mod form;
pub mod http;
pub mod init_images;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod refresh;
pub mod run;
pub mod served;
pub mod snapshot;
pub mod state;
pub mod status;
pub mod supervise;
pub mod text;
pub mod warm;
