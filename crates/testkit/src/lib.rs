//! Test-only fakes shared by tests and benchmarks: Artifact Registry, a Kubernetes API with a
//! simulated kubelet, a real docker-registry harness, and the builders of model values that
//! many tests share (`builders`).
pub mod builders;
pub mod gar;
pub mod kube;
pub mod registry;
