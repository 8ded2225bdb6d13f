//! `rsp-images snapshot`: saves the configured registry's full listing (every tag with its
//! digest, and sizes where the registry reports them) in the Artifact Registry
//! `dockerImages` shape, for a `snapshot` source: demos, air-gapped tests, bug reports.
//! On a terminal, stderr shows the pages and tags listed so far; elsewhere it stays quiet.

use super::progress::StatusLine;
use super::setup::load_config;
use super::CliError;
use clap::Args;
use rsp_config::SourceConfig;
use rsp_registry::source::{write_snapshot, AnySource, ImageSource};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct SnapshotArgs {
    /// Configuration file naming the source to save.
    #[arg(long)]
    config: PathBuf,
}

pub fn run(args: SnapshotArgs) -> Result<(), CliError> {
    let config = load_config(&args.config)?;
    if matches!(config.images.source, SourceConfig::Snapshot(_)) {
        return Err(CliError::Usage(
            "the configured source is already a snapshot; configure a docker or google source"
                .into(),
        ));
    }
    let progress = std::io::stderr().is_terminal();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| CliError::Failed(format!("cannot start the async runtime: {error}")))?;
    let started = Instant::now();
    let (text, count) = runtime.block_on(async {
        let source = AnySource::from_config(&config.images, &rsp_config::config_dir(&args.config))
            .await
            .map_err(|error| CliError::Usage(error.to_string()))?;
        let status = progress.then(|| {
            let prefix = format!("rsp-images: listing {}", source.describe());
            StatusLine::start(prefix, source.progress())
        });
        let images = source
            .list_everything()
            .await
            .map_err(|error| CliError::Failed(error.to_string()))?;
        drop(status);
        let (registry, repository) = source.registry_and_repository();
        let count: usize = images.iter().map(|image| image.tags.len()).sum();
        Ok::<_, CliError>((write_snapshot(registry, repository, &images), count))
    })?;
    super::write_stdout(&(text + "\n"))?;
    if progress {
        eprintln!(
            "rsp-images: saved {count} tags in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
