//! Listing the Docker images of an Artifact Registry repository, page by page.
//!
//! Each page is `GET {api}/v1/{parent}/dockerImages?pageSize=…&pageToken=…&fields=…`; the
//! `fields` mask asks only for what is used, which keeps 1000-image pages small. An error on
//! any page fails the whole listing (the refresh loop keeps serving the last good one). A
//! 401 asks the token provider for a fresh token once; transient failures are retried by
//! the [`RetryPolicy`]; a page token seen twice is a loop and an error, and the whole listing
//! runs under `list_deadline` so an endless chain of new tokens fails too. Unlike the
//! original, an empty repository costs one call, not two.

use std::collections::HashSet;
use std::sync::Arc;

use reqwest::header::ACCEPT;
use reqwest::StatusCode;
use url::Url;

use super::auth::{GarTokenProvider, GoogleTokens};
use super::wire::{parse_page, ImageMatcher};
use super::{GarAuth, GarClientConfig, GarImage, GarImageRef};
use crate::error::RegistryError;
use crate::http::{
    api_path, authority, authorize, build_client, check_api_url, exchange, within, ListingBudget,
    Reply,
};
use crate::progress::ListingProgress;
use crate::retry;
use rsp_config::RegistryLimits;
use rsp_retry::RetryPolicy;

/// Partial-response mask: only the fields the listing uses, the platforms of multi-arch
/// images among them (`imageManifests`, and `artifactType` to tell artifacts from images).
const FIELDS: &str = "dockerImages(name,uri,tags,imageSizeBytes,artifactType,imageManifests(architecture,os,variant)),nextPageToken";

/// An Artifact Registry client; clones share one connection pool and token provider.
#[derive(Clone)]
pub struct GarClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    api: Url,
    host: String,
    tokens: Option<Arc<dyn GarTokenProvider>>,
    retry: RetryPolicy,
    page_size: u32,
    list_deadline: std::time::Duration,
    limits: RegistryLimits,
    progress: Arc<ListingProgress>,
}

impl std::fmt::Debug for GarClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GarClient")
            .field("api", &self.inner.api.as_str())
            .field("authenticated", &self.inner.tokens.is_some())
            .field("page_size", &self.inner.page_size)
            .finish_non_exhaustive()
    }
}

impl GarClient {
    /// Builds the client. Credentials are looked up on the first listing, not here.
    pub fn new(config: GarClientConfig) -> Result<Self, RegistryError> {
        check_api_url(&config.api_url, "images.source.apiUrl")?;
        let host = authority(&config.api_url);
        let tokens: Option<Arc<dyn GarTokenProvider>> = match config.auth {
            GarAuth::Google => Some(Arc::new(GoogleTokens::new(host.clone()))),
            GarAuth::None => None,
            GarAuth::Provider(provider) => Some(provider),
        };
        let inner = Inner {
            http: build_client(config.timeout)?,
            api: config.api_url,
            host,
            tokens,
            retry: config.retry,
            page_size: config.page_size.clamp(1, 1000),
            list_deadline: config.list_deadline,
            limits: config.limits,
            progress: Arc::default(),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// How far this client's listings have got.
    pub fn progress(&self) -> Arc<ListingProgress> {
        Arc::clone(&self.inner.progress)
    }

    /// Every image of `what.image` in `what`'s repository, in API order; other images of
    /// the repository are skipped.
    pub async fn list_images(&self, what: &GarImageRef) -> Result<Vec<GarImage>, RegistryError> {
        let operation = format!("listing the images of {}", what.reference_path());
        let listing = self.list_pages(what, &operation);
        let inner = &self.inner;
        within(inner.list_deadline, &inner.host, &operation, listing).await
    }

    async fn list_pages(
        &self,
        what: &GarImageRef,
        operation: &str,
    ) -> Result<Vec<GarImage>, RegistryError> {
        let base = self.list_url(what, operation)?;
        let mut images = Vec::new();
        let matcher = ImageMatcher::new(what);
        let mut tokens_seen: HashSet<String> = HashSet::new();
        let mut page_token: Option<String> = None;
        let mut budget = ListingBudget::new(&self.inner.limits, &self.inner.host, operation);
        loop {
            let mut url = base.clone();
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("pageSize", &self.inner.page_size.to_string());
                if let Some(token) = &page_token {
                    query.append_pair("pageToken", token);
                }
                query.append_pair("fields", FIELDS);
            }
            let reply = self.get(&url, operation).await?;
            let page = parse_page(&reply.body, &matcher)
                .map_err(|detail| RegistryError::parse(&self.inner.host, operation, detail))?;
            budget.count_page(page.entries)?;
            let tags = page.images.iter().map(|image| image.tags.len()).sum();
            self.inner.progress.page(tags);
            images.extend(page.images);
            match page.next_page_token {
                None => return Ok(images),
                Some(token) if !tokens_seen.insert(token.clone()) => {
                    return Err(RegistryError::Paging {
                        host: self.inner.host.clone(),
                        operation: operation.to_owned(),
                        detail: "the API returned the same nextPageToken twice; its paging loops"
                            .to_owned(),
                    })
                }
                Some(token) => page_token = Some(token),
            }
        }
    }

    /// One GET with retries; a 401 gets one fresh token and one more try.
    async fn get(&self, url: &Url, operation: &str) -> Result<Reply, RegistryError> {
        let mut refresh = false;
        loop {
            let bearer = match &self.inner.tokens {
                Some(provider) => Some(format!("Bearer {}", provider.token(refresh).await?)),
                None => None,
            };
            let reply = retry::run(&self.inner.retry, || {
                let request = self
                    .inner
                    .http
                    .get(url.clone())
                    .header(ACCEPT, "application/json");
                exchange(
                    authorize(request, bearer.as_deref()),
                    &self.inner.host,
                    operation,
                    self.inner.limits.max_response_bytes,
                )
            })
            .await?;
            if reply.status != StatusCode::UNAUTHORIZED {
                return Ok(reply);
            }
            if refresh || self.inner.tokens.is_none() {
                return Err(RegistryError::Unauthorized {
                    host: self.inner.host.clone(),
                    operation: operation.to_owned(),
                    status: 401,
                    credentials: crate::error::GOOGLE_CREDENTIALS,
                });
            }
            refresh = true;
        }
    }

    /// `{api}/v1/projects/{p}/locations/{l}/repositories/{r}/dockerImages`.
    fn list_url(&self, what: &GarImageRef, operation: &str) -> Result<Url, RegistryError> {
        let parts = [&what.project_id, &what.location, &what.repository];
        if parts.iter().any(|p| p.is_empty() || p.contains('/')) || what.image.is_empty() {
            return Err(RegistryError::Config(format!(
                "{operation}: projectId, location, repository and image must be non-empty, and only image may contain '/'"
            )));
        }
        api_path(
            &self.inner.api,
            [
                "v1",
                "projects",
                what.project_id.as_str(),
                "locations",
                what.location.as_str(),
                "repositories",
                what.repository.as_str(),
                "dockerImages",
            ],
        )
    }
}
