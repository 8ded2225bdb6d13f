//! Test-only fakes shared by tests and benchmarks: Artifact Registry, a Kubernetes API with a simulated kubelet, a real docker-registry harness, Gafaelfawr and Repertoire.
pub mod gafaelfawr;
pub mod gar;
pub mod kube;
pub mod registry;
