//! The lab's init container images (`lab.initContainers[].image`) as the service prepulls
//! them, and the background task that learns their digests.
//!
//! Every spawn pulls these images besides the lab image, so they are prepulled too (see
//! `rsp_model::init_image`). They are prepulled by tag from the start: their registries
//! (ghcr.io, Docker Hub) may be out of reach, as they are from CI, and nothing may wait on
//! them, neither a refresh, nor `plan`, nor the start of `serve`. So their digests are asked
//! for here, in a task of their own: one attempt per image bounded by [`ATTEMPT_BOUND`]
//! (authentication included), again after failures with backoff, and again every refresh
//! interval once known (a tag can move). What it learns goes out on a watch channel, which
//! the refresh loop attaches to the listings it publishes (`refresh::run`).

use futures::future::join_all;
use rsp_config::Config;
use rsp_model::init_image::InitImage;
use rsp_model::plan::PrepullImage;
use rsp_registry::{DockerClientConfig, DockerRegistryClient, RegistryError};
use rsp_retry::Backoff;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The init container images as the prepuller takes them (by digest where known).
pub type InitImages = Arc<[PrepullImage]>;

/// What people are shown as an init container image's name (status pages, `plan` tables);
/// its tag column is its `repository:tag`.
pub const INIT_IMAGE_NAME: &str = "Init container image";

/// Longest an attempt at one image's digest may take, token exchange and retries included:
/// short, since the answer only lets nodes be judged by digest rather than by name.
pub const ATTEMPT_BOUND: Duration = Duration::from_secs(5);

/// The configured init images, each known by name: what `plan` shows and what `serve`
/// prepulls until their digests are known.
pub fn by_name(config: &Config) -> InitImages {
    config
        .lab
        .init_images
        .iter()
        .map(InitImage::prepull_image)
        .collect()
}

/// Asks the init images' registries for their digests (anonymously: these are public images,
/// and the credentials file is the lab image source's).
pub struct DigestResolver {
    images: Vec<InitImage>,
    /// A client per registry host, made at the first attempt; `Err` when one cannot be made
    /// (kept, so that the message is logged once).
    clients: HashMap<String, Result<DockerRegistryClient, String>>,
    /// Registry host → API URL, in place of `https://{host}` (tests reach plain-HTTP fakes).
    api_urls: HashMap<String, String>,
    /// Whether each image's last attempt failed (so that a failure is logged once).
    failing: Vec<bool>,
}

impl DigestResolver {
    pub fn new(images: Vec<InitImage>) -> DigestResolver {
        let failing = vec![false; images.len()];
        DigestResolver {
            images,
            clients: HashMap::new(),
            api_urls: HashMap::new(),
            failing,
        }
    }

    /// Reaches `registry` (as image references name it) at `api_url` instead.
    pub fn with_api_url(mut self, registry: &str, api_url: &str) -> DigestResolver {
        self.api_urls
            .insert(registry.to_owned(), api_url.to_owned());
        self
    }

    /// The images as they stand, by digest where one is known.
    pub fn images(&self) -> InitImages {
        self.images.iter().map(InitImage::prepull_image).collect()
    }

    /// One attempt at every image's digest, all at once, each within [`ATTEMPT_BOUND`];
    /// returns whether every one answered. An image whose attempt failed keeps the digest it
    /// had (a registry out of reach says nothing about the tag).
    pub async fn resolve_once(&mut self) -> bool {
        let mut lookups = Vec::with_capacity(self.images.len());
        for index in 0..self.images.len() {
            let (registry, path) = self.images[index].registry_and_path();
            let registry = registry.to_owned();
            let client = self.client(&registry);
            let tag = self.images[index].tag.clone();
            lookups.push(async move {
                let client = client?;
                client
                    .manifest_digest_within(&path, &tag, ATTEMPT_BOUND)
                    .await
                    .map_err(|error| error.to_string())
            });
        }
        let answers = join_all(lookups).await;
        let mut all = true;
        for ((image, failing), answer) in self.images.iter_mut().zip(&mut self.failing).zip(answers)
        {
            match answer {
                Ok(digest) => {
                    if image.digest.as_ref() != Some(&digest) {
                        tracing::info!(image = %image.reference(), %digest, "Init container image resolved");
                    }
                    image.digest = Some(digest);
                    *failing = false;
                }
                Err(error) => {
                    all = false;
                    if !*failing {
                        tracing::warn!(
                            image = %image.reference(),
                            %error,
                            "Cannot read an init container image's digest; prepulling it by tag"
                        );
                    }
                    *failing = true;
                }
            }
        }
        all
    }

    fn client(&mut self, registry: &str) -> Result<DockerRegistryClient, String> {
        let api_url = self.api_urls.get(registry).cloned();
        self.clients
            .entry(registry.to_owned())
            .or_insert_with(|| {
                let make = || -> Result<DockerRegistryClient, RegistryError> {
                    let mut config = DockerClientConfig::for_reference_registry(registry)?;
                    if let Some(api_url) = &api_url {
                        config = config.with_api_url(api_url)?;
                    }
                    config.timeout = ATTEMPT_BOUND;
                    DockerRegistryClient::new(config)
                };
                make().map_err(|error| error.to_string())
            })
            .clone()
    }

    /// Resolves digests until dropped, publishing the images on `out` whenever they change:
    /// after a failure again within a minute or so (backing off from 10 s up to the refresh
    /// interval), once all are known again every `refresh_interval`.
    pub async fn run(mut self, refresh_interval: Duration, out: watch::Sender<InitImages>) {
        if self.images.is_empty() {
            return;
        }
        let backoff = Backoff::new(
            Duration::from_secs(10).min(refresh_interval),
            refresh_interval,
        );
        let mut failures: u32 = 0;
        loop {
            let all = self.resolve_once().await;
            let images = self.images();
            out.send_if_modified(|current| {
                let changed = *current != images;
                if changed {
                    *current = images;
                }
                changed
            });
            let delay = if all {
                failures = 0;
                rsp_retry::spread(refresh_interval)
            } else {
                failures = failures.saturating_add(1);
                backoff.delay(failures)
            };
            tokio::time::sleep(delay).await;
        }
    }
}
