//! Lab sizes (lab-form.md §3.1–§3.2, §3.5): the names the protocol knows, the resources of
//! each configured size, and the label the form shows for it.

use std::fmt;
use std::str::FromStr;

use super::quantity::MemoryBytes;
use super::render;

/// The size names of the protocol, in the original's order. Written in lowercase everywhere
/// (configuration, form values); `custom` describes existing labs but is accepted as the
/// original accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeName {
    Fine,
    Diminutive,
    Tiny,
    Small,
    Medium,
    Large,
    Huge,
    Gargantuan,
    Colossal,
    Custom,
}

impl SizeName {
    pub const ALL: [SizeName; 10] = [
        SizeName::Fine,
        SizeName::Diminutive,
        SizeName::Tiny,
        SizeName::Small,
        SizeName::Medium,
        SizeName::Large,
        SizeName::Huge,
        SizeName::Gargantuan,
        SizeName::Colossal,
        SizeName::Custom,
    ];

    /// The name as the form and the configuration write it.
    pub fn as_str(self) -> &'static str {
        match self {
            SizeName::Fine => "fine",
            SizeName::Diminutive => "diminutive",
            SizeName::Tiny => "tiny",
            SizeName::Small => "small",
            SizeName::Medium => "medium",
            SizeName::Large => "large",
            SizeName::Huge => "huge",
            SizeName::Gargantuan => "gargantuan",
            SizeName::Colossal => "colossal",
            SizeName::Custom => "custom",
        }
    }

    /// The name with its first letter upper-cased, as labels start.
    pub fn title(self) -> String {
        let name = self.as_str();
        name[..1].to_ascii_uppercase() + &name[1..]
    }
}

impl fmt::Display for SizeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A size name that is not one of [`SizeName::ALL`] (case matters: `Small` is not a name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown lab size {0:?}: one of fine, diminutive, tiny, small, medium, large, huge, gargantuan, colossal, custom")]
pub struct UnknownSizeName(pub String);

impl FromStr for SizeName {
    type Err = UnknownSizeName;

    fn from_str(text: &str) -> Result<SizeName, UnknownSizeName> {
        SizeName::ALL
            .into_iter()
            .find(|name| name.as_str() == text)
            .ok_or_else(|| UnknownSizeName(text.to_owned()))
    }
}

/// CPU (cores) and memory of one side of a size (limits or requests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resources {
    pub cpu: f64,
    pub memory: MemoryBytes,
}

/// One configured lab size.
#[derive(Debug, Clone, PartialEq)]
pub struct LabSize {
    pub name: SizeName,
    pub limits: Resources,
    pub requests: Resources,
}

impl LabSize {
    /// `{Name} ({cpu} CPU, {memory} RAM)` from the limits (the original also gives this text
    /// to the lab as `CONTAINER_SIZE`).
    pub fn label(&self) -> String {
        format!(
            "{} ({} CPU, {} RAM)",
            self.name.title(),
            render::cpu(self.limits.cpu),
            render::memory(self.limits.memory)
        )
    }
}

/// The configured sizes in menu order, and the default one (`lab.sizes`, `lab.defaultSize`).
/// The configuration crate checks the original's load-time rules (unique names, requests
/// within limits, a default that exists).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabSizes {
    pub sizes: Vec<LabSize>,
    pub default: Option<SizeName>,
}

impl LabSizes {
    pub fn get(&self, name: SizeName) -> Option<&LabSize> {
        self.sizes.iter().find(|size| size.name == name)
    }
}
