//! "Which image is this?": resolving a reference or a bare tag against a listing
//! (behaviour §5.1, §5.3 with decisions §5 fixes 4 and 11).
//!
//! Two departures from the original, both fixes: a digest given with a tag must be the
//! registry's digest for that tag (a stale or forged digest is refused, and
//! `recommended@sha256:…` resolves as `recommended`, not as whichever tag is primary for the
//! digest); and an unparsable reference is an `InvalidReference` error, never a crash.

use super::ImageSource;
use crate::RegistryError;
use rsp_model::api::ResolvedImage;
use rsp_model::listing::{Listing, LookupError};
use rsp_model::reference::{DockerReference, TagReference};
use std::future::Future;

/// What a lookup asks of the registry: the digest a tag has now, for a tag the listing holds
/// without one. Every [`ImageSource`] is one; the HTTP tests give the service's lookups a
/// fake with nothing else to implement.
pub trait DigestLookup: Send + Sync {
    /// The registry's current digest of `tag` (`None`: no such tag now).
    fn current_digest(
        &self,
        tag: &str,
    ) -> impl Future<Output = Result<Option<String>, RegistryError>> + Send;

    /// Registry host and repository path as image references spell them.
    fn image_repository(&self) -> (&str, &str);
}

impl<S: ImageSource> DigestLookup for S {
    fn current_digest(
        &self,
        tag: &str,
    ) -> impl Future<Output = Result<Option<String>, RegistryError>> + Send {
        self.fetch_digest(tag)
    }

    fn image_repository(&self) -> (&str, &str) {
        self.registry_and_repository()
    }
}

/// The image a tag names: from the listing, or for a Docker tag outside the prepull set, with
/// the digest the registry gives now (not cached: tags move), so it may ask the registry.
pub async fn image_for_tag_asking_registry<S: DigestLookup>(
    source: &S,
    listing: &Listing,
    tag: &str,
) -> Result<ResolvedImage, LookupError> {
    if let Some(image) = listing.catalog.get(tag) {
        return Ok(image.into());
    }
    let not_found = || LookupError::tag_not_found(tag);
    let known = listing
        .tags
        .as_ref()
        .and_then(|tags| tags.get(tag))
        .ok_or_else(not_found)?;
    let digest = match source.current_digest(tag).await {
        Ok(digest) => digest.ok_or_else(not_found)?,
        // Deleted since the listing: no such image now, not a failing registry.
        Err(error) if error.is_not_found() => return Err(not_found()),
        Err(error) => return Err(registry_failed(error)),
    };
    let (registry, repository) = source.image_repository();
    let reference = TagReference {
        registry,
        repository,
        tag,
    }
    .to_string();
    Ok(ResolvedImage {
        reference_with_digest: format!("{reference}@{digest}"),
        reference,
        tag: tag.to_owned(),
        name: known.display_name(),
        digest,
    })
}

/// The image a user-chosen reference names.
pub async fn image_for_reference<S: DigestLookup>(
    source: &S,
    listing: &Listing,
    text: &str,
) -> Result<ResolvedImage, LookupError> {
    let reference = DockerReference::parse(text)
        .map_err(|error| LookupError::InvalidReference(error.to_string()))?;
    let not_found = || LookupError::UnknownImage(format!("Docker reference \"{text}\" not found"));
    let no_tag =
        || LookupError::InvalidReference(format!("Docker reference \"{text}\" has no tag"));
    let (registry, repository) = source.image_repository();
    let ours = reference.registry == registry && reference.repository == repository;
    match (&reference.tag, &reference.digest) {
        // The original checks for a tag before the registry for complete listings.
        (None, None) if listing.tags.is_none() || ours => Err(no_tag()),
        _ if !ours => Err(not_found()),
        (None, None) => Err(no_tag()),
        (None, Some(digest)) => listing
            .catalog
            .image_for_digest(digest)
            .map(ResolvedImage::from)
            .ok_or_else(not_found),
        (Some(tag), digest) => {
            let image = match image_for_tag_asking_registry(source, listing, tag).await {
                Err(LookupError::UnknownImage(_)) => return Err(not_found()),
                other => other?,
            };
            match digest {
                Some(digest) if *digest != image.digest => Err(LookupError::UnknownImage(format!(
                    "Docker reference \"{text}\" does not match the registry: tag \"{tag}\" has \
                     digest {}",
                    image.digest
                ))),
                _ => Ok(image),
            }
        }
    }
}

/// The registry failed while answering: its message (which never holds a credential) is what
/// the spawner sees.
fn registry_failed(error: RegistryError) -> LookupError {
    LookupError::Registry(error.to_string())
}
