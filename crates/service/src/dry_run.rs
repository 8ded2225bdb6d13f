//! `rsp-images plan`: one refresh against the configured registry and, instead of a cluster,
//! a list of nodes; what the service would serve and the prepull pods it would create.
//!
//! It lives here, not in the binary, because it is the service's own logic run once: the same
//! `ListingOnNodes`, the same answers (`crate::served`) and the same pod names and template
//! as `serve`. The binary only
//! chooses the nodes, parses arguments and prints one of the outputs.

use crate::served::{self, ListingOnNodes, PrepullErrors};
use chrono::{DateTime, Utc};
use rsp_config::Config;
use rsp_model::listing::Listing;
use rsp_model::node::NodeInfo;
use rsp_model::plan::{PrepullPlan, PulledSet};
use rsp_registry::source::{AnySource, ImageSource};
use rsp_registry::RegistryError;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// A prepull pod the service would create.
#[derive(Debug, Serialize)]
pub struct PlannedPod {
    pub name: String,
    pub node: String,
    pub image: String,
    /// The tag the image is known by (not in the JSON, which keeps its original shape).
    #[serde(skip)]
    pub tag: String,
}

/// Why no listing could be had: the configured source cannot be built (a usage error), or
/// the registry failed.
#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("{0}")]
    Source(RegistryError),
    #[error("{0}")]
    Registry(RegistryError),
}

/// One listing of the configured source, with the lab's init container images by tag: their
/// registries are never asked (they may be out of reach, and a dry run must not wait on
/// them). `config_dir` anchors relative snapshot paths.
pub async fn list_once(config: &Config, config_dir: &Path) -> Result<Listing, ListingError> {
    let source = AnySource::from_config(&config.images, config_dir)
        .await
        .map_err(ListingError::Source)?;
    let listing = source
        .update_images(&config.images)
        .await
        .map_err(ListingError::Registry)?;
    Ok(listing.with_init_images(crate::init_images::by_name(config)))
}

/// What one refresh over these nodes gives: the listing on nodes, its prepull plan and the
/// pods in the order the prepuller would start them.
pub struct DryRun {
    pub listing_on_nodes: ListingOnNodes,
    pub plan: PrepullPlan,
    pub pods: Vec<PlannedPod>,
}

impl DryRun {
    pub fn new(listing: Listing, nodes: &[NodeInfo], config: &Config) -> DryRun {
        let world = ListingOnNodes::new(Arc::new(listing), nodes, config, &PulledSet::default());
        let plan = served::prepull_plan(&world);
        let pods = planned_pods(&plan);
        DryRun {
            listing_on_nodes: world,
            plan,
            pods,
        }
    }

    /// The one JSON object of `plan --output json`: what the spawner routes would answer, and
    /// the pods. Scripts (and the conformance suite) read it; its shape does not change.
    pub fn json(&self, config: &Config, now: DateTime<Utc>) -> serde_json::Value {
        let world = &self.listing_on_nodes;
        serde_json::json!({
            "images": served::spawner_images(world, &config.images.recommended_tag),
            "prepulls": served::prepuller_status(world, config, &PrepullErrors::new()),
            "menu": served::menu(world, config, now),
            "pods": self.pods,
        })
    }
}

/// The pods the plan creates, in the order the prepuller starts them: every node's first
/// image, then the second…
fn planned_pods(plan: &PrepullPlan) -> Vec<PlannedPod> {
    plan.in_pull_order()
        .into_iter()
        .map(|(node, image)| PlannedPod {
            name: rsp_kube::pod_name(image, node),
            node: node.to_owned(),
            image: image.reference_with_digest.clone(),
            tag: image.tag.clone(),
        })
        .collect()
}
