//! `rsp-images plan`: one refresh against the configured registry and, instead of a cluster,
//! the nodes of a NodeList file; prints what the service would serve and the prepull pods it
//! would create. A dry run for operators, and the black-box view the conformance suite uses.
//!
//! `--output` chooses the form: `json` (the object of decisions.md §2, unchanged),
//! `manifests` (the complete pods it would create, a YAML stream with one Pod per document,
//! for review and for schema and policy checks), or `auto` (the default: the form for people
//! when stdout is a terminal, `json` otherwise; until a table form exists, `json`).

use super::setup::load_config;
use super::CliError;
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use rsp_config::{ClusterConfig, Config};
use rsp_model::node::NodeInfo;
use rsp_model::plan::PulledSet;
use rsp_registry::source::{AnySource, ImageSource};
use rsp_service::views::{self, PrepullErrors, World};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Args)]
pub struct PlanArgs {
    /// Configuration file (a Nublado controller config works unchanged).
    #[arg(long)]
    config: PathBuf,
    /// NodeList JSON (`kubectl get nodes -o json`); default: the static cluster's file.
    #[arg(long)]
    nodes: Option<PathBuf>,
    /// The time filters are evaluated at (RFC 3339); default: now.
    #[arg(long)]
    now: Option<String>,
    /// What to print: the plan as JSON, or the pods it would create as Kubernetes manifests.
    #[arg(long, value_enum, default_value_t = Output::Auto)]
    output: Output,
}

/// The forms `plan` prints (one option shared by every form, decisions.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Output {
    /// For people on a terminal, JSON otherwise (JSON for now either way).
    Auto,
    /// One JSON object: `images`, `prepulls`, `menu`, `pods`.
    Json,
    /// The prepull pods it would create, a YAML stream with one Pod per document.
    Manifests,
}

/// A prepull pod the service would create.
#[derive(Serialize)]
struct PlannedPod {
    name: String,
    node: String,
    image: String,
}

pub fn run(args: PlanArgs) -> Result<(), CliError> {
    let config = load_config(&args.config)?;
    let now = match &args.now {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|error| CliError::Usage(format!("--now {text:?} is not RFC 3339: {error}")))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let nodes_file = match (&args.nodes, &config.cluster) {
        (Some(path), _) => path.clone(),
        (None, ClusterConfig::Static { nodes_file }) => config_dir(&args.config).join(nodes_file),
        (None, ClusterConfig::Kubernetes) => {
            return Err(CliError::Usage(
                "plan needs nodes: give --nodes FILE (kubectl get nodes -o json) or configure \
                 cluster: {type: static, nodesFile: FILE}"
                    .into(),
            ))
        }
    };
    let nodes = read_nodes(&nodes_file)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::Failed(format!("cannot start the async runtime: {error}")))?;
    let listing = runtime.block_on(async {
        let source = AnySource::from_config(&config.images, &config_dir(&args.config))
            .await
            .map_err(|error| CliError::Usage(error.to_string()))?;
        source
            .update_images(&config.images)
            .await
            .map_err(|error| CliError::Failed(error.to_string()))
    })?;
    let world = World::new(Arc::new(listing), &nodes, &config, &PulledSet::default());
    let text = match args.output {
        Output::Auto | Output::Json => {
            serde_json::to_string_pretty(&plan_output(&config, &world, now))
                .map(|text| text + "\n")
                .map_err(|error| CliError::Failed(format!("cannot write the plan: {error}")))?
        }
        Output::Manifests => manifests(&config, &world)?,
    };
    print!("{text}");
    Ok(())
}

/// The pods the prepuller would create, in the order it starts them, as a YAML stream.
fn manifests(config: &Config, world: &World) -> Result<String, CliError> {
    let template = rsp_service::run::pod_template(config);
    let plan = views::prepull_plan(world);
    let mut text = String::new();
    for (node, image) in plan.in_pull_order() {
        let pod = rsp_kube::prepull_pod(&template, image, node);
        let yaml = serde_yaml::to_string(&pod)
            .map_err(|error| CliError::Failed(format!("cannot write a manifest: {error}")))?;
        text.push_str("---\n");
        text.push_str(&yaml);
    }
    Ok(text)
}

fn plan_output(config: &Config, world: &World, now: DateTime<Utc>) -> serde_json::Value {
    let plan = views::prepull_plan(world);
    // In the order the prepuller starts them: every node's first image, then the second…
    let pods: Vec<PlannedPod> = plan
        .in_pull_order()
        .into_iter()
        .map(|(node, image)| PlannedPod {
            name: rsp_kube::pod_name(image, node),
            node: node.to_owned(),
            image: image.reference_with_digest.clone(),
        })
        .collect();
    serde_json::json!({
        "images": views::spawner_images(world, &config.images.recommended_tag),
        "prepulls": views::prepuller_status(world, config, &PrepullErrors::new()),
        "menu": views::menu(world, config, now),
        "pods": pods,
    })
}

/// Relative paths in the configuration are relative to its file.
pub fn config_dir(config: &Path) -> PathBuf {
    config.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn read_nodes(path: &Path) -> Result<Vec<NodeInfo>, CliError> {
    rsp_service::run::read_node_list(path).map_err(|error| CliError::Usage(error.to_string()))
}
