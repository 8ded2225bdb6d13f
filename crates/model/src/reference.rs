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

impl DockerReference {
    pub fn parse(text: &str) -> Result<DockerReference, ReferenceError> {
        let fail = |problem| ReferenceError {
            reference: text.to_string(),
            problem,
        };
        let (registry, rest) = text
            .split_once('/')
            .ok_or(fail(ReferenceProblem::NoRegistry))?;
        if registry.is_empty() {
            return Err(fail(ReferenceProblem::EmptyRegistry));
        }
        let repo_end = rest.find([':', '@']).unwrap_or(rest.len());
        let (repository, mut rest) = rest.split_at(repo_end);
        if repository.is_empty() {
            return Err(fail(ReferenceProblem::EmptyRepository));
        }
        let mut tag = None;
        if let Some(after) = rest.strip_prefix(':') {
            let tag_end = after.find('@').unwrap_or(after.len());
            if tag_end == 0 {
                return Err(fail(ReferenceProblem::EmptyTag));
            }
            tag = Some(after[..tag_end].to_string());
            rest = &after[tag_end..];
        }
        let mut digest = None;
        if let Some(after) = rest.strip_prefix('@') {
            if after.is_empty() {
                return Err(fail(ReferenceProblem::EmptyDigest));
            }
            if after.contains('\n') {
                return Err(fail(ReferenceProblem::LineBreakInDigest));
            }
            digest = Some(after.to_string());
        }
        Ok(DockerReference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
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

#[cfg(test)]
mod tests;
