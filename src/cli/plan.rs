//! `rsp-images plan`: one refresh against the configured registry and, instead of a cluster,
//! the nodes of a NodeList file; prints what the service would serve and the prepull pods it
//! would create. A dry run for operators, and the black-box view the conformance suite uses.
//!
//! `--output json` is the one JSON object scripts (and the conformance suite) read;
//! `--output table` is the same plan as aligned tables for people (`plan_table`);
//! `--output manifests` is the complete pods it would create, a YAML stream with one Pod per
//! document, for review and for schema and policy checks; `auto`, the default, is `table` on
//! a terminal and `json` otherwise.

use super::setup::load_config;
use super::CliError;
use chrono::{DateTime, Utc};
use clap::Args;
use rsp_config::{ClusterConfig, Config};
use rsp_model::node::NodeInfo;
use rsp_model::plan::{PrepullPlan, PulledSet};
use rsp_registry::source::{AnySource, ImageSource};
use rsp_service::views::{self, PrepullErrors, World};
use serde::Serialize;
use std::io::IsTerminal;
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
    /// What to print: `table` for people, `json` for scripts, `manifests` for the pods'
    /// manifests; `auto` is `table` on a terminal, `json` otherwise.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Auto)]
    output: OutputFormat,
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Auto,
    Json,
    Table,
    Manifests,
}

impl OutputFormat {
    /// `auto` decided by whether stdout is a terminal.
    fn resolve(self, stdout_is_terminal: bool) -> OutputFormat {
        match self {
            OutputFormat::Auto if stdout_is_terminal => OutputFormat::Table,
            OutputFormat::Auto => OutputFormat::Json,
            other => other,
        }
    }
}

/// A prepull pod the service would create.
#[derive(Serialize)]
pub struct PlannedPod {
    pub name: String,
    pub node: String,
    pub image: String,
    /// The tag the image is known by (not in the JSON, which keeps its original shape).
    #[serde(skip)]
    pub tag: String,
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
        (None, ClusterConfig::Static { nodes_file }) => {
            rsp_config::config_dir(&args.config).join(nodes_file)
        }
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
        let source = AnySource::from_config(&config.images, &rsp_config::config_dir(&args.config))
            .await
            .map_err(|error| CliError::Usage(error.to_string()))?;
        source
            .update_images(&config.images)
            .await
            .map_err(|error| CliError::Failed(error.to_string()))
    })?;
    let world = World::new(Arc::new(listing), &nodes, &config, &PulledSet::default());
    let plan = views::prepull_plan(&world);
    let pods = planned_pods(&plan);
    let text = match args.output.resolve(std::io::stdout().is_terminal()) {
        OutputFormat::Table => super::plan_table::render(&config, &world, &plan, &pods, now),
        OutputFormat::Manifests => manifests(&config, &plan)?,
        OutputFormat::Json | OutputFormat::Auto => {
            let output = plan_json(&config, &world, &pods, now);
            let text = serde_json::to_string_pretty(&output)
                .map_err(|error| CliError::Failed(format!("cannot write the plan: {error}")))?;
            text + "\n"
        }
    };
    super::write_stdout(&text)
}

/// The pods the plan creates as a YAML stream, one Pod per document, in the order the
/// prepuller starts them; made by the service's own template and pod builder.
fn manifests(config: &Config, plan: &PrepullPlan) -> Result<String, CliError> {
    let template = rsp_service::run::pod_template(config);
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

fn plan_json(
    config: &Config,
    world: &World,
    pods: &[PlannedPod],
    now: DateTime<Utc>,
) -> serde_json::Value {
    serde_json::json!({
        "images": views::spawner_images(world, &config.images.recommended_tag),
        "prepulls": views::prepuller_status(world, config, &PrepullErrors::new()),
        "menu": views::menu(world, config, now),
        "pods": pods,
    })
}

fn read_nodes(path: &Path) -> Result<Vec<NodeInfo>, CliError> {
    rsp_kube::read_node_list(path).map_err(|error| CliError::Usage(error.to_string()))
}
