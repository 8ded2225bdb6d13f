//! The JSON shape of a parsed tag, as printed by `rsp-images tags parse` (decisions.md §2):
//! `tag, image_type, display_name, version, semantic, base, cycle, cycle_build, build,
//! architecture, extra, date` (RFC 3339 UTC or null), in this order.

use super::Tag;
use serde::ser::{Serialize, SerializeStruct, Serializer};

impl Serialize for Tag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Tag", 12)?;
        s.serialize_field("tag", self.tag())?;
        s.serialize_field("image_type", &self.kind())?;
        s.serialize_field("display_name", &self.display_name())?;
        s.serialize_field("version", &self.version())?;
        s.serialize_field("semantic", &self.semantic())?;
        s.serialize_field("base", &self.base())?;
        s.serialize_field("cycle", &self.cycle())?;
        s.serialize_field("cycle_build", &self.cycle_build())?;
        s.serialize_field("build", &self.build())?;
        s.serialize_field("architecture", &self.architecture())?;
        s.serialize_field("extra", &self.extra())?;
        s.serialize_field(
            "date",
            &self
                .date()
                .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        )?;
        s.end()
    }
}
