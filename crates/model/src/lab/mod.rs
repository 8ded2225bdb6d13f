//! Lab sizes, user quotas and the options of a lab request: the pure half of the spawner's
//! lab form (lab-form.md §3, §5.3–5.4).
//!
//! - `pyfloat`: the number syntax of Python's `float()`, which the original's quantity
//!   parsers are built on.
//! - `quantity`: CPU and memory quantities of the configuration.
//! - `render`: quantities as size labels show them.
//! - `size`: size names, sizes and their labels, the configured list.
//! - `quota`: a user's notebook quota and which sizes it offers.
//! - `options`: what lab creation accepts from a submitted form, used to check that every
//!   form this service serves can be submitted.

mod options;
mod pyfloat;
mod quantity;
mod quota;
mod render;
mod size;

#[cfg(test)]
mod tests;

pub use options::{ImageSelection, LabRequest, OptionError, DROPDOWN_SENTINEL};
pub use quantity::{parse_cpu, parse_memory, MemoryBytes, QuantityError};
pub use quota::{NotebookQuota, SizeOffer, SizeRefusal};
pub use render::{cpu as render_cpu, memory as render_memory};
pub use size::{LabSize, LabSizes, Resources, SizeName, UnknownSizeName};
