//! The `prepuller` section (rsp-images' own, decisions §3): the prepull pods' namespace, the
//! cap on pods in flight, leader election, what kubelets list, and warm nodes. Checked as the
//! API server would check the names it holds.

use crate::bounds::{self, DAY, SECOND};
use crate::ConfigError;
use rsp_model::plan::NodeStatusMaxImages;
use rsp_model::validation;
use rsp_model::warm::{WarmTaint, WARM_TAINT_EFFECTS};
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrepullerConfig {
    /// Namespace of prepull pods; default: the service's own (service-account files), else
    /// `default`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Cluster-wide cap on prepull pods that exist at once: at least one, or nothing would
    /// ever be prepulled; at most more pods than any cluster schedules at once.
    #[serde(
        default = "default_max_in_flight",
        alias = "max_in_flight",
        deserialize_with = "bounds::count::<_, usize, 1, 10_000>"
    )]
    pub max_in_flight: usize,
    /// Use a Lease so that only one of several replicas prepulls.
    #[serde(default = "default_true", alias = "leader_election")]
    pub leader_election: bool,
    /// The kubelets' `nodeStatusMaxImages` (50 by default, `-1` when every image is listed):
    /// how many images a node's status lists at most, largest first.
    #[serde(default, alias = "node_status_max_images")]
    pub node_status_max_images: NodeStatusMaxImages,
    /// The startup taint new lab nodes carry until their prepull images are there
    /// (`{key, effect}`); rsp-images removes it. Off when absent.
    #[serde(default, alias = "warm_taint")]
    pub warm_taint: Option<WarmTaintConfig>,
    /// How long a node may stay cold before its taint is removed anyway; default: the
    /// prepull timeout times the number of prepull images ([`Config::warm_timeout`]).
    ///
    /// [`Config::warm_timeout`]: crate::Config::warm_timeout
    #[serde(
        default,
        alias = "warm_timeout",
        deserialize_with = "bounds::optional_duration::<_, SECOND, DAY>"
    )]
    pub warm_timeout: Option<Duration>,
}

/// `prepuller.warmTaint`: the taint's key and effect (its value is the operator's and is not
/// compared).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmTaintConfig {
    pub key: String,
    pub effect: String,
}

impl WarmTaintConfig {
    /// The taint as the model knows it.
    pub fn taint(&self) -> WarmTaint {
        WarmTaint {
            key: self.key.clone(),
            effect: self.effect.clone(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(message) = validation::qualified_name_errors(&self.key).first() {
            return Err(ConfigError::Invalid {
                path: "prepuller.warmTaint.key".into(),
                message: format!("Invalid value: {:?}: {message}", self.key),
            });
        }
        if !WARM_TAINT_EFFECTS.contains(&self.effect.as_str()) {
            return Err(ConfigError::Invalid {
                path: "prepuller.warmTaint.effect".into(),
                message: format!(
                    "Unsupported value: {:?}: supported values: \"NoSchedule\", \"NoExecute\" \
                     (PreferNoSchedule keeps no lab off a cold node)",
                    self.effect
                ),
            });
        }
        Ok(())
    }
}

impl Default for PrepullerConfig {
    fn default() -> Self {
        PrepullerConfig {
            namespace: None,
            max_in_flight: default_max_in_flight(),
            leader_election: true,
            node_status_max_images: NodeStatusMaxImages::default(),
            warm_taint: None,
            warm_timeout: None,
        }
    }
}

impl PrepullerConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(warm) = &self.warm_taint {
            warm.validate()?;
        }
        if let Some(namespace) = &self.namespace {
            if let Some(message) = validation::dns1123_label_errors(namespace).first() {
                return Err(ConfigError::Invalid {
                    path: "prepuller.namespace".into(),
                    message: format!("Invalid value: {namespace:?}: {message}"),
                });
            }
        }
        Ok(())
    }
}

fn default_max_in_flight() -> usize {
    10
}
fn default_true() -> bool {
    true
}
