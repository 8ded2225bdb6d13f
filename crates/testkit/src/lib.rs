//! Test-only fakes shared by tests and benchmarks: Artifact Registry, a Kubernetes API with a
//! simulated kubelet, a real docker-registry harness, Gafaelfawr and Repertoire, the builders
//! of model values that many tests share (`builders`), and the specifications' vectors, read
//! at run time (`spec`).
pub mod builders;
pub mod gafaelfawr;
pub mod gar;
pub mod kube;
pub mod registry;
pub mod spec;
