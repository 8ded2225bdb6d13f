//! Pushing small images into a registry through the Docker Registry HTTP API, so tests get
//! real digests, aliases (several tags on one manifest) and deletions.
//!
//! An image is a config blob and one layer blob, each uploaded with `POST
//! /v2/{name}/blobs/uploads/` then a monolithic `PUT {location}&digest=…`, and a schema-2
//! manifest referencing both, `PUT` under every tag. Content derives from a seed string, so
//! distinct seeds give distinct digests and equal seeds equal ones.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use sha2::{Digest, Sha256};

use super::HarnessError;

const MANIFEST_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Pushes and deletes images on one registry.
#[derive(Debug, Clone)]
pub struct Pusher {
    http: reqwest::Client,
    base: String,
    authorization: Option<String>,
}

/// `sha256:` + hex of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// An `Authorization` value for Basic credentials.
pub fn basic_authorization(username: &str, password: &str) -> String {
    use base64::Engine;
    let pair = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

impl Pusher {
    /// `base` is `http://host:port`; `authorization` is sent with every request.
    pub fn new(base: &str, authorization: Option<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            authorization,
        }
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match &self.authorization {
            Some(value) => request.header(AUTHORIZATION, value),
            None => request,
        }
    }

    async fn check(
        response: reqwest::Response,
        what: &str,
    ) -> Result<reqwest::Response, HarnessError> {
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        Err(HarnessError(format!("{what}: HTTP {status}: {body}")))
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response, HarnessError> {
        let response = request
            .send()
            .await
            .map_err(|e| HarnessError(format!("{what}: {e}")))?;
        Self::check(response, what).await
    }

    /// Uploads a blob; returns its digest.
    pub async fn upload_blob(
        &self,
        repository: &str,
        bytes: Vec<u8>,
    ) -> Result<String, HarnessError> {
        let digest = sha256_digest(&bytes);
        let what = format!("uploading a blob to {repository}");
        let started = self
            .send(
                self.request(
                    reqwest::Method::POST,
                    &format!("{}/v2/{repository}/blobs/uploads/", self.base),
                ),
                &what,
            )
            .await?;
        let location = started
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| HarnessError(format!("{what}: no Location header")))?;
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_owned()
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{separator}digest={digest}");
        self.send(
            self.request(reqwest::Method::PUT, &put)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(bytes),
            &what,
        )
        .await?;
        Ok(digest)
    }

    /// Pushes an image whose content derives from `seed` under every tag; returns the
    /// manifest digest.
    pub async fn push_image(
        &self,
        repository: &str,
        seed: &str,
        tags: &[&str],
    ) -> Result<String, HarnessError> {
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"seed": seed}},
            "rootfs": {"type": "layers", "diff_ids": []},
        })
        .to_string()
        .into_bytes();
        let layer = format!("layer of {seed}").into_bytes();
        let (config_size, layer_size) = (config.len(), layer.len());
        let config_digest = self.upload_blob(repository, config).await?;
        let layer_digest = self.upload_blob(repository, layer).await?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": config_size,
                "digest": config_digest,
            },
            "layers": [{
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": layer_size,
                "digest": layer_digest,
            }],
        })
        .to_string()
        .into_bytes();
        let digest = sha256_digest(&manifest);
        for tag in tags {
            self.send(
                self.request(
                    reqwest::Method::PUT,
                    &format!("{}/v2/{repository}/manifests/{tag}", self.base),
                )
                .header(CONTENT_TYPE, MANIFEST_TYPE)
                .body(manifest.clone()),
                &format!("pushing {repository}:{tag}"),
            )
            .await?;
        }
        Ok(digest)
    }

    /// Deletes a manifest by digest (which untags every tag pointing at it).
    pub async fn delete_manifest(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<(), HarnessError> {
        self.send(
            self.request(
                reqwest::Method::DELETE,
                &format!("{}/v2/{repository}/manifests/{digest}", self.base),
            ),
            &format!("deleting {repository}@{digest}"),
        )
        .await
        .map(|_| ())
    }
}
