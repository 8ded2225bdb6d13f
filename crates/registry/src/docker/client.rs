//! The Docker Registry v2 client proper: requests with authentication and retries, tag
//! listing across pages, manifest digests one at a time or with bounded concurrency.
//!
//! Every request goes through [`DockerRegistryClient::send`]: transient failures are retried
//! by the [`RetryPolicy`]; a 401 is answered once by authenticating (after dropping a cached
//! token that the registry rejected), and a second 401 fails the operation.

use std::collections::HashSet;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use reqwest::header::{ACCEPT, LINK};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use url::Url;

use super::auth::Authenticator;
use super::{index, link, CredentialSource, DockerClientConfig, MANIFEST_MEDIA_TYPES};
use crate::error::RegistryError;
use crate::http::{
    api_path, authority, authorize, build_client, check_api_url, exchange, within, ListingBudget,
    Reply,
};
use crate::progress::ListingProgress;
use crate::retry;
use rsp_config::RegistryLimits;
use rsp_model::platform::Platforms;
use rsp_retry::RetryPolicy;

/// A client for one Docker registry; clones share one connection pool and token cache.
#[derive(Debug, Clone)]
pub struct DockerRegistryClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    api: Url,
    /// How errors name the registry.
    host: String,
    auth: Authenticator,
    retry: RetryPolicy,
    digest_concurrency: usize,
    tag_page_size: u32,
    list_deadline: std::time::Duration,
    limits: RegistryLimits,
    progress: Arc<ListingProgress>,
}

#[derive(Deserialize)]
struct TagList {
    // `"tags": null` (an empty repository on some registries) means no tags.
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl DockerRegistryClient {
    pub fn new(config: DockerClientConfig) -> Result<Self, RegistryError> {
        check_api_url(&config.api_url, "images.source.apiUrl")?;
        if config.registry.trim().is_empty() {
            return Err(RegistryError::Config(
                "the registry host is empty".to_owned(),
            ));
        }
        let api_authority = authority(&config.api_url);
        let host = if api_authority.eq_ignore_ascii_case(&config.registry) {
            config.registry.clone()
        } else {
            format!("{} (API {})", config.registry, api_authority)
        };
        let credential = config
            .credentials
            .as_ref()
            .map_or(CredentialSource::None, |c| c.source(&config.registry));
        let auth = Authenticator::new(
            credential,
            config.registry.clone(),
            config.api_url.clone(),
            host.clone(),
            config.auth_realms.clone(),
            config.retry,
            config.limits.max_response_bytes,
        );
        let inner = Inner {
            http: build_client(config.timeout)?,
            api: config.api_url,
            host,
            auth,
            retry: config.retry,
            digest_concurrency: config.digest_concurrency.max(1),
            tag_page_size: config.tag_page_size.max(1),
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

    /// Every tag of `repository`, in the registry's order, each once.
    pub async fn list_tags(&self, repository: &str) -> Result<Vec<String>, RegistryError> {
        let operation = format!("listing the tags of {repository}");
        let first = self.repository_url(repository, &["tags", "list"], &operation)?;
        let listing = self.list_pages(repository, first, &operation);
        let inner = &self.inner;
        within(inner.list_deadline, &inner.host, &operation, listing).await
    }

    async fn list_pages(
        &self,
        repository: &str,
        mut url: Url,
        operation: &str,
    ) -> Result<Vec<String>, RegistryError> {
        url.query_pairs_mut()
            .append_pair("n", &self.inner.tag_page_size.to_string());
        let scope = pull_scope(repository);
        let mut fetched: HashSet<Url> = HashSet::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut tags = Vec::new();
        let mut budget = ListingBudget::new(&self.inner.limits, &self.inner.host, operation);
        loop {
            fetched.insert(url.clone());
            let reply = self
                .send(
                    &scope,
                    operation,
                    (Method::GET, &url, "application/json"),
                    &self.inner.retry,
                )
                .await?;
            let page: TagList = serde_json::from_slice(&reply.body).map_err(|e| {
                RegistryError::parse(&self.inner.host, operation, format!("not a tag list: {e}"))
            })?;
            let page_tags = page.tags.unwrap_or_default();
            budget.count_page(page_tags.len())?;
            self.inner.progress.page(page_tags.len());
            for tag in page_tags {
                if seen.insert(tag.clone()) {
                    tags.push(tag);
                }
            }
            let links = reply
                .headers
                .get_all(LINK)
                .iter()
                .filter_map(|v| v.to_str().ok());
            let Some(target) = link::next_target(links) else {
                return Ok(tags);
            };
            let next = link::next_page(&self.inner.api, &url, &target)
                .map_err(|detail| self.paging(operation, detail))?;
            if fetched.contains(&next) {
                return Err(self.paging(
                    operation,
                    format!("the registry sent the tag page {next} twice; its paging is broken"),
                ));
            }
            url = next;
        }
    }

    /// The digest of `repository:tag` from a manifest HEAD (`Docker-Content-Digest`).
    pub async fn manifest_digest(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<String, RegistryError> {
        self.manifest_digest_with(repository, tag, &self.inner.retry)
            .await
    }

    /// [`Self::manifest_digest`] within `budget`, retries and authentication included: for a
    /// caller that is waiting (the spawner resolving a tag), where a late answer is no answer.
    pub async fn manifest_digest_within(
        &self,
        repository: &str,
        tag: &str,
        budget: std::time::Duration,
    ) -> Result<String, RegistryError> {
        let operation = format!("reading the digest of {repository}:{tag}");
        let retry = self.inner.retry.within(budget);
        let lookup = self.manifest_digest_with(repository, tag, &retry);
        within(budget, &self.inner.host, &operation, lookup).await
    }

    async fn manifest_digest_with(
        &self,
        repository: &str,
        tag: &str,
        retry: &RetryPolicy,
    ) -> Result<String, RegistryError> {
        let operation = format!("reading the digest of {repository}:{tag}");
        let url = self.repository_url(repository, &["manifests", tag], &operation)?;
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        let reply = self
            .send(
                &pull_scope(repository),
                &operation,
                (Method::HEAD, &url, &accept),
                retry,
            )
            .await?;
        reply
            .headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|d| is_digest(d))
            .map(str::to_owned)
            .ok_or(RegistryError::MissingDigest {
                host: self.inner.host.clone(),
                operation,
            })
    }

    /// The platforms of the manifest `repository@digest`: those of an image index or manifest
    /// list, unknown for a single manifest or a body that cannot be read.
    pub async fn manifest_platforms(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Platforms, RegistryError> {
        let operation = format!("reading the manifest of {repository}@{digest}");
        let url = self.repository_url(repository, &["manifests", digest], &operation)?;
        let accept = MANIFEST_MEDIA_TYPES.join(", ");
        let reply = self
            .send(
                &pull_scope(repository),
                &operation,
                (Method::GET, &url, &accept),
                &self.inner.retry,
            )
            .await?;
        let content_type = reply
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        Ok(index::platforms_of(&reply.body, content_type))
    }

    /// `(tag, digest)` for every tag, in the order given, with at most `digest_concurrency`
    /// HEADs at once; the first failure fails the whole call.
    pub async fn manifest_digests(
        &self,
        repository: &str,
        tags: &[String],
    ) -> Result<Vec<(String, String)>, RegistryError> {
        // Owned tags keep the closure free of higher-ranked lifetimes, which would make the
        // future fail `Send` checks in callers (async trait methods, spawned tasks).
        futures::stream::iter(tags.iter().cloned())
            .map(|tag| async move {
                let digest = self.manifest_digest(repository, &tag).await?;
                self.inner.progress.digest();
                Ok::<_, RegistryError>((tag, digest))
            })
            .buffered(self.inner.digest_concurrency)
            .try_collect()
            .await
    }

    /// One request (method, URL, `Accept`) with retries by `retry` and at most one
    /// authentication; see the module docs.
    async fn send(
        &self,
        scope: &str,
        operation: &str,
        (method, url, accept): (Method, &Url, &str),
        retry: &RetryPolicy,
    ) -> Result<Reply, RegistryError> {
        let mut authenticated = false;
        loop {
            let sent = self.inner.auth.header(scope);
            let reply = retry::run(retry, || {
                exchange(
                    self.request(method.clone(), url, accept, sent.as_deref()),
                    &self.inner.host,
                    operation,
                    self.inner.limits.max_response_bytes,
                )
            })
            .await?;
            if reply.status != StatusCode::UNAUTHORIZED {
                return Ok(reply);
            }
            if let Some(rejected) = &sent {
                self.inner.auth.forget(scope, rejected);
            }
            if authenticated {
                return Err(RegistryError::Unauthorized {
                    host: self.inner.host.clone(),
                    operation: operation.to_owned(),
                    status: 401,
                    credentials: crate::error::DOCKER_CREDENTIALS,
                });
            }
            self.inner
                .auth
                .authenticate(
                    &self.inner.http,
                    scope,
                    &reply.headers,
                    sent.as_deref(),
                    operation,
                )
                .await?;
            authenticated = true;
        }
    }

    fn request(
        &self,
        method: Method,
        url: &Url,
        accept: &str,
        auth: Option<&str>,
    ) -> RequestBuilder {
        let request = self
            .inner
            .http
            .request(method, url.clone())
            .header(ACCEPT, accept);
        authorize(request, auth)
    }

    /// `{api}/v2/{repository}/{rest…}` with every segment percent-encoded.
    fn repository_url(
        &self,
        repository: &str,
        rest: &[&str],
        operation: &str,
    ) -> Result<Url, RegistryError> {
        let segments: Vec<&str> = repository.split('/').collect();
        if segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == "..")
            || rest.iter().any(|s| s.is_empty())
        {
            return Err(RegistryError::Config(format!(
                "{operation}: {repository:?} is not a valid repository name or the tag is empty"
            )));
        }
        api_path(
            &self.inner.api,
            ["v2"]
                .into_iter()
                .chain(segments)
                .chain(rest.iter().copied()),
        )
    }

    fn paging(&self, operation: &str, detail: String) -> RegistryError {
        RegistryError::Paging {
            host: self.inner.host.clone(),
            operation: operation.to_owned(),
            detail,
        }
    }
}

fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

/// `algorithm:hex`, e.g. `sha256:…`.
fn is_digest(value: &str) -> bool {
    value.split_once(':').is_some_and(|(algorithm, hex)| {
        !algorithm.is_empty()
            && algorithm
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
            && !hex.is_empty()
            && hex
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '=' || c == '_' || c == '-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The image sources call these from `Send` contexts with generic lifetimes (trait
    /// methods returning `impl Future + Send`); this only has to compile.
    #[allow(dead_code, clippy::manual_async_fn)]
    fn futures_are_send<'a>(
        client: &'a DockerRegistryClient,
        repository: &'a str,
        tags: &'a [String],
    ) -> impl std::future::Future<Output = ()> + Send + 'a {
        async move {
            let _ = client.list_tags(repository).await;
            let _ = client.manifest_digest(repository, "t").await;
            let _ = client.manifest_digests(repository, tags).await;
        }
    }

    #[test]
    fn digests_are_recognised() {
        assert!(is_digest("sha256:5678"));
        assert!(is_digest("sha512:abcdef0123"));
        assert!(!is_digest("sha256:"));
        assert!(!is_digest("5678"));
        assert!(!is_digest(":abc"));
        assert!(!is_digest("sha256:ab cd"));
    }
}
