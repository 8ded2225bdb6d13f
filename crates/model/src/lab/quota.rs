//! A user's notebook quota (from Gafaelfawr's user information) and what it allows: which
//! sizes the form offers (lab-form.md §3.6–§3.7) and whether lab creation accepts a size
//! (§5.4 steps 5, 8 and 9). Both use the one rule of [`NotebookQuota::fits`].

use super::size::{LabSize, LabSizes, SizeName};

/// The `quota.notebook` object of Gafaelfawr's user information.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NotebookQuota {
    /// CPU equivalents (cores).
    pub cpu: f64,
    /// Memory in GiB (binary gigabytes), as Gafaelfawr gives it.
    pub memory_gib: f64,
    /// Whether the user may spawn a lab at all (Gafaelfawr's default: true).
    pub spawn: bool,
}

impl NotebookQuota {
    /// The memory quota in bytes: GiB × 1024 × 1024 × 1024 in f64 (each step exact), truncated
    /// toward zero, as the original computes it (5.99 GiB is 6431713525 bytes).
    pub fn memory_bytes(&self) -> f64 {
        (self.memory_gib * 1024.0 * 1024.0 * 1024.0).trunc()
    }

    /// Whether a size's limits fit in the quota; both comparisons are inclusive, requests are
    /// not compared, and a NaN limit never fits.
    pub fn fits(&self, size: &LabSize) -> bool {
        size.limits.memory.get() <= self.memory_bytes() && size.limits.cpu <= self.cpu
    }
}

/// What the form offers a user.
#[derive(Debug, Clone, PartialEq)]
pub enum SizeOffer<'a> {
    /// These sizes, in configured order, with `default` checked.
    Sizes {
        sizes: Vec<&'a LabSize>,
        default: SizeName,
    },
    /// The user may not spawn, or no size fits the quota: the "unavailable" page.
    Unavailable,
    /// No size is configured and the user has no quota that would explain it (the original
    /// fails with an internal error here).
    NoSizes,
}

/// Why lab creation refuses a size for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SizeRefusal {
    #[error("Spawning a notebook is not permitted")]
    SpawnNotPermitted,
    #[error("Invalid lab size \"{0}\"")]
    NotConfigured(SizeName),
    #[error("Insufficient quota to spawn requested lab")]
    InsufficientQuota,
}

impl LabSizes {
    /// The sizes offered to a user with this quota (`None`: Gafaelfawr gave no notebook
    /// quota, or no authentication is configured, so nothing is filtered).
    pub fn offer(&self, quota: Option<&NotebookQuota>) -> SizeOffer<'_> {
        let sizes: Vec<&LabSize> = match quota {
            Some(quota) => {
                let fitting: Vec<&LabSize> =
                    self.sizes.iter().filter(|size| quota.fits(size)).collect();
                if fitting.is_empty() || !quota.spawn {
                    return SizeOffer::Unavailable;
                }
                fitting
            }
            None => self.sizes.iter().collect(),
        };
        let Some(first) = sizes.first() else {
            return SizeOffer::NoSizes;
        };
        let default = self
            .default
            .filter(|name| sizes.iter().any(|size| size.name == *name))
            .unwrap_or(first.name);
        SizeOffer::Sizes { sizes, default }
    }

    /// Whether lab creation accepts `name` for a user with this quota, in the original's
    /// order of checks: spawning allowed, size configured, size within the quota.
    pub fn check(
        &self,
        name: SizeName,
        quota: Option<&NotebookQuota>,
    ) -> Result<&LabSize, SizeRefusal> {
        if quota.is_some_and(|quota| !quota.spawn) {
            return Err(SizeRefusal::SpawnNotPermitted);
        }
        let size = self.get(name).ok_or(SizeRefusal::NotConfigured(name))?;
        match quota {
            Some(quota) if !quota.fits(size) => Err(SizeRefusal::InsufficientQuota),
            _ => Ok(size),
        }
    }
}
