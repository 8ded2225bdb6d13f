//! Who is calling, and what a test does to one caller: faults that hit one client's calls
//! while the others go through (a network partition between one replica and the API server
//! hangs its calls; an overloaded or misconfigured path fails them), and the log of every
//! request with its caller and outcome, from which tests assert what happened in what order.
//!
//! A client is known by its bearer token, as the API server's token authenticator maps a
//! token to a user; in the fake the token *is* the user name ([`FakeCluster::client_for`]).
//! Requests without credentials come from [`ANONYMOUS`].
//!
//! [`FakeCluster::client_for`]: super::FakeCluster::client_for

use std::time::Duration;

use http::HeaderMap;

/// The user of requests that carry no bearer token.
pub const ANONYMOUS: &str = "system:anonymous";

/// The user a request authenticates as.
pub fn client_of(headers: &HeaderMap) -> String {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map_or_else(|| ANONYMOUS.to_owned(), str::to_owned)
}

/// What happens to one client's calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientFault {
    /// The calls never reach the server: each one hangs until the fault is cleared and then
    /// fails with 504, without effect, as a request lost in a network partition does (the
    /// client has normally given up long before).
    Hang,
    /// The calls are answered with this status, without effect.
    Fail(u16),
}

#[derive(Debug)]
struct Rule {
    client: String,
    resource: String,
    fault: ClientFault,
}

/// The faults set per client; `*` as resource matches every resource.
#[derive(Debug, Default)]
pub struct ClientFaults {
    rules: Vec<Rule>,
}

impl ClientFaults {
    /// Sets (replacing any for the same client and resource) or, with `None`, clears a fault.
    pub fn set(&mut self, client: &str, resource: &str, fault: Option<ClientFault>) {
        self.rules
            .retain(|rule| rule.client != client || rule.resource != resource);
        if let Some(fault) = fault {
            self.rules.push(Rule {
                client: client.to_owned(),
                resource: resource.to_owned(),
                fault,
            });
        }
    }

    /// Clears every fault of a client.
    pub fn clear(&mut self, client: &str) {
        self.rules.retain(|rule| rule.client != client);
    }

    /// The fault for a call of `client` on `resource`, if any (an exact resource wins over `*`).
    pub fn get(&self, client: &str, resource: &str) -> Option<ClientFault> {
        let matching = |exact: bool| {
            self.rules.iter().find(|rule| {
                rule.client == client
                    && if exact {
                        rule.resource == resource
                    } else {
                        rule.resource == "*"
                    }
            })
        };
        matching(true)
            .or_else(|| matching(false))
            .map(|rule| rule.fault)
    }
}

/// How a request was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Handed to the verb (which may still refuse it: see [`RequestRecord::code`]).
    Served,
    /// Answered by an injected failure (`fail_next`, `set_unavailable`, a client fault).
    Injected,
    /// Held by a partition and dropped without effect (logged when it arrived).
    Partitioned,
    /// Refused by API Priority and Fairness' limits with 429, without effect.
    Throttled,
}

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// Time since the cluster started: when the request was handed to its verb (for served
    /// requests, the moment it took effect), or when it was answered otherwise.
    pub at: Duration,
    pub client: String,
    /// list, watch, get, create, update, patch, delete, deletecollection.
    pub verb: String,
    /// Plural resource (`pods`, `leases`, `nodes`), or `version` / `discovery`.
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// HTTP status of the answer (200 for a watch that started).
    pub code: u16,
    pub outcome: Outcome,
}

impl RequestRecord {
    /// Whether the verb changes objects.
    pub fn is_write(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "create" | "update" | "patch" | "delete" | "deletecollection"
        )
    }

    /// Whether the request was served successfully, so a write took effect.
    pub fn took_effect(&self) -> bool {
        self.outcome == Outcome::Served && self.code < 300
    }
}

/// A change of a Lease's holder, as committed through the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRecord {
    /// Time since the cluster started.
    pub at: Duration,
    pub namespace: String,
    pub name: String,
    /// `spec.holderIdentity` after the write (`None`: released).
    pub holder: Option<String>,
    /// Who wrote it.
    pub client: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_their_bearer_tokens() {
        let mut headers = HeaderMap::new();
        assert_eq!(client_of(&headers), ANONYMOUS);
        headers.insert(
            http::header::AUTHORIZATION,
            "Bearer replica-a".parse().unwrap(),
        );
        assert_eq!(client_of(&headers), "replica-a");
        headers.insert(http::header::AUTHORIZATION, "Basic eDp5".parse().unwrap());
        assert_eq!(client_of(&headers), ANONYMOUS);
    }

    #[test]
    fn exact_resources_win_over_wildcards() {
        let mut faults = ClientFaults::default();
        faults.set("a", "*", Some(ClientFault::Fail(503)));
        faults.set("a", "leases", Some(ClientFault::Hang));
        assert_eq!(faults.get("a", "leases"), Some(ClientFault::Hang));
        assert_eq!(faults.get("a", "pods"), Some(ClientFault::Fail(503)));
        assert_eq!(faults.get("b", "pods"), None);
        faults.set("a", "leases", None);
        assert_eq!(faults.get("a", "leases"), Some(ClientFault::Fail(503)));
        faults.clear("a");
        assert_eq!(faults.get("a", "pods"), None);
    }
}
