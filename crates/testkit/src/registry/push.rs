//! Pushing small images into a registry through the Docker Registry HTTP API, so tests get
//! real digests, aliases (several tags on one manifest) and deletions.
//!
//! An image is a config blob and one layer blob, each uploaded with `POST
//! /v2/{name}/blobs/uploads/` then a monolithic `PUT {location}&digest=…`, and a schema-2
//! manifest referencing both, `PUT` under every tag; a multi-platform image is one such image
//! per platform and an OCI image index naming them. Content derives from a seed string, so
//! distinct seeds give distinct digests and equal seeds equal ones.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use sha2::{Digest, Sha256};

use super::HarnessError;

const MANIFEST_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";

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
        self.push_platform_image(repository, seed, "linux/amd64", tags)
            .await
            .map(|(digest, _)| digest)
    }

    /// Pushes a multi-platform image: one image per platform (`linux/arm64`), by digest, and
    /// an OCI image index naming them, under every tag; returns the index digest.
    pub async fn push_index(
        &self,
        repository: &str,
        seed: &str,
        platforms: &[&str],
        tags: &[&str],
    ) -> Result<String, HarnessError> {
        let mut children = Vec::new();
        for platform in platforms {
            let (digest, size) = self
                .push_platform_image(repository, &format!("{seed} {platform}"), platform, &[])
                .await?;
            let mut parts = platform.split('/');
            let mut described = serde_json::json!({
                "os": parts.next().unwrap_or_default(),
                "architecture": parts.next().unwrap_or_default(),
            });
            if let Some(variant) = parts.next() {
                described["variant"] = serde_json::json!(variant);
            }
            children.push(serde_json::json!({
                "mediaType": MANIFEST_TYPE,
                "digest": digest,
                "size": size,
                "platform": described,
            }));
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": children,
        })
        .to_string()
        .into_bytes();
        let digest = sha256_digest(&index);
        self.put_manifest(repository, INDEX_TYPE, &index, tags)
            .await?;
        Ok(digest)
    }

    /// PUTs `manifest` under every tag, or under its digest when there are none.
    async fn put_manifest(
        &self,
        repository: &str,
        media_type: &str,
        manifest: &[u8],
        tags: &[&str],
    ) -> Result<(), HarnessError> {
        let digest = sha256_digest(manifest);
        let references: Vec<&str> = if tags.is_empty() {
            vec![digest.as_str()]
        } else {
            tags.to_vec()
        };
        for reference in references {
            self.send(
                self.request(
                    reqwest::Method::PUT,
                    &format!("{}/v2/{repository}/manifests/{reference}", self.base),
                )
                .header(CONTENT_TYPE, media_type)
                .body(manifest.to_vec()),
                &format!("pushing {repository}:{reference}"),
            )
            .await?;
        }
        Ok(())
    }

    /// One image for `platform` (`os/architecture[/variant]`); its digest and size.
    async fn push_platform_image(
        &self,
        repository: &str,
        seed: &str,
        platform: &str,
        tags: &[&str],
    ) -> Result<(String, usize), HarnessError> {
        let mut parts = platform.split('/');
        let (os, architecture) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let config = serde_json::json!({
            "architecture": architecture,
            "os": os,
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
        self.put_manifest(repository, MANIFEST_TYPE, &manifest, tags)
            .await?;
        Ok((digest, manifest.len()))
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
