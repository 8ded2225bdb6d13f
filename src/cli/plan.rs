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
use rsp_model::plan::PrepullPlan;
use rsp_service::dry_run::{self, DryRun, ListingError};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

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
    let config_dir = rsp_config::config_dir(&args.config);
    let listing = runtime
        .block_on(dry_run::list_once(&config, &config_dir))
        .map_err(|error| match error {
            ListingError::Source(error) => CliError::Usage(error.to_string()),
            ListingError::Registry(error) => CliError::Failed(error.to_string()),
        })?;
    let run = DryRun::new(listing, &nodes, &config);
    let text = match args.output.resolve(std::io::stdout().is_terminal()) {
        OutputFormat::Table => super::plan_table::render(&config, &run, now),
        OutputFormat::Manifests => manifests(&config, &run.plan)?,
        OutputFormat::Json | OutputFormat::Auto => {
            let text = serde_json::to_string_pretty(&run.json(&config, now))
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

fn read_nodes(path: &Path) -> Result<Vec<NodeInfo>, CliError> {
    rsp_kube::read_node_list(path).map_err(|error| CliError::Usage(error.to_string()))
}
