//! Kubernetes side of rsp-images: node and pod watchers, the prepuller and leader election.
