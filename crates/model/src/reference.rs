//! Docker references `registry/repository[:tag][@digest]` (behaviour.md §4).
//!
//! The original matches
//! `(?P<registry>[^/]+)/(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?$`;
//! this is a hand-written equivalent that says *why* a reference does not parse. The registry
//! is everything before the first `/` (no Docker Hub normalisation: `library/ubuntu` has
//! registry `library`), the repository runs to the first `:` or `@`, the tag to the next `@`,
//! the digest to the end and may not contain a newline (the original's `.`). An unparsable
//! reference is always an error value, never a panic (decisions.md §5 fix 4).

use std::fmt;

/// A parsed Docker reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DockerReference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// What is wrong with a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceProblem {
    /// No `/` separates a registry from a repository.
    NoRegistry,
    /// Nothing before the first `/`.
    EmptyRegistry,
    /// Nothing between the registry and `:`, `@` or the end.
    EmptyRepository,
    /// A `:` followed by nothing before `@` or the end.
    EmptyTag,
    /// An `@` followed by nothing.
    EmptyDigest,
    /// The digest contains a line break.
    LineBreakInDigest,
}

impl fmt::Display for ReferenceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReferenceProblem::NoRegistry => "write it as registry/repository:tag",
            ReferenceProblem::EmptyRegistry => "the registry before the first \"/\" is empty",
            ReferenceProblem::EmptyRepository => "the repository after the registry is empty",
            ReferenceProblem::EmptyTag => "the tag after \":\" is empty",
            ReferenceProblem::EmptyDigest => "the digest after \"@\" is empty",
            ReferenceProblem::LineBreakInDigest => "the digest contains a line break",
        })
    }
}

/// A reference that does not parse; the message starts as the original's
/// (`Invalid Docker reference "…"`) and adds what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid Docker reference {reference:?}: {problem}")]
pub struct ReferenceError {
    pub reference: String,
    pub problem: ReferenceProblem,
}

/// The parts of a reference, borrowed from its text: parsing without allocating, for hot
/// paths such as reading the digests of every image cached on every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceParts<'a> {
    pub registry: &'a str,
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

impl<'a> ReferenceParts<'a> {
    pub fn parse(text: &'a str) -> Result<ReferenceParts<'a>, ReferenceProblem> {
        let (registry, rest) = text.split_once('/').ok_or(ReferenceProblem::NoRegistry)?;
        if registry.is_empty() {
            return Err(ReferenceProblem::EmptyRegistry);
        }
        // Byte search: both separators are ASCII, so any match is a character boundary (and
        // a char-set pattern is several times slower on the hot path of node caches).
        let repo_end = rest
            .bytes()
            .position(|b| b == b':' || b == b'@')
            .unwrap_or(rest.len());
        let (repository, mut rest) = rest.split_at(repo_end);
        if repository.is_empty() {
            return Err(ReferenceProblem::EmptyRepository);
        }
        let mut tag = None;
        if let Some(after) = rest.strip_prefix(':') {
            let tag_end = after.find('@').unwrap_or(after.len());
            if tag_end == 0 {
                return Err(ReferenceProblem::EmptyTag);
            }
            tag = Some(&after[..tag_end]);
            rest = &after[tag_end..];
        }
        let mut digest = None;
        if let Some(after) = rest.strip_prefix('@') {
            if after.is_empty() {
                return Err(ReferenceProblem::EmptyDigest);
            }
            if after.contains('\n') {
                return Err(ReferenceProblem::LineBreakInDigest);
            }
            digest = Some(after);
        }
        Ok(ReferenceParts {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

impl DockerReference {
    pub fn parse(text: &str) -> Result<DockerReference, ReferenceError> {
        let parts = ReferenceParts::parse(text).map_err(|problem| ReferenceError {
            reference: text.to_string(),
            problem,
        })?;
        Ok(DockerReference {
            registry: parts.registry.to_string(),
            repository: parts.repository.to_string(),
            tag: parts.tag.map(str::to_string),
            digest: parts.digest.map(str::to_string),
        })
    }
}

impl std::str::FromStr for DockerReference {
    type Err = ReferenceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DockerReference::parse(text)
    }
}

impl fmt::Display for DockerReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `registry/repository:tag`, the form every API answer names an image by. A `Display`, so
/// it can be written into a string or a JSON body without an intermediate `String`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagReference<'a> {
    pub registry: &'a str,
    pub repository: &'a str,
    pub tag: &'a str,
}

impl fmt::Display for TagReference<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Plain writes: this runs for every image of the `/images` body, and `write!` costs
        // more than the copying.
        f.write_str(self.registry)?;
        f.write_str("/")?;
        f.write_str(self.repository)?;
        f.write_str(":")?;
        f.write_str(self.tag)
    }
}

impl serde::Serialize for TagReference<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests;
