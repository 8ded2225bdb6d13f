//! The resource kinds the fake API serves and where they live in the URL space.
//!
//! Everything else in the fake is generic over [`Kind`], so adding a resource is a matter of
//! adding a variant here and, if it needs one, a field selector in `selector.rs`.

/// A resource served by the fake API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// core/v1 nodes (cluster scoped).
    Node,
    /// core/v1 pods (namespaced).
    Pod,
    /// coordination.k8s.io/v1 leases (namespaced).
    Lease,
}

impl Kind {
    /// Every served kind, in discovery order.
    pub const ALL: [Kind; 3] = [Kind::Node, Kind::Pod, Kind::Lease];

    /// The plural resource name used in URLs, counters and fault rules.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Node => "nodes",
            Kind::Pod => "pods",
            Kind::Lease => "leases",
        }
    }

    /// The `kind` field of one object.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Node => "Node",
            Kind::Pod => "Pod",
            Kind::Lease => "Lease",
        }
    }

    /// The `apiVersion` field of one object.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Node | Kind::Pod => "v1",
            Kind::Lease => "coordination.k8s.io/v1",
        }
    }

    /// The API group (empty for core).
    pub fn group(self) -> &'static str {
        match self {
            Kind::Node | Kind::Pod => "",
            Kind::Lease => "coordination.k8s.io",
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::Node)
    }

    /// Looks a kind up by (group, plural) as found in a request path.
    pub fn from_path(group: &str, plural: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.group() == group && k.plural() == plural)
    }
}
