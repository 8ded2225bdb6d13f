//! The types of `POST /spawner/v1/images/resolve` (behaviour §9.6): the request as the
//! OpenAPI document describes it, the image classes a bot may ask for, and the answer.

use crate::catalog::Image;
use serde::{Deserialize, Serialize};

/// The image classes a bot may ask for (`image_class`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ImageClass {
    Recommended,
    LatestRelease,
    LatestWeekly,
    LatestDaily,
}

impl ImageClass {
    /// Every class, in the order the API lists them.
    pub const ALL: [ImageClass; 4] = [
        ImageClass::Recommended,
        ImageClass::LatestRelease,
        ImageClass::LatestWeekly,
        ImageClass::LatestDaily,
    ];

    /// The class as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageClass::Recommended => "recommended",
            ImageClass::LatestRelease => "latest-release",
            ImageClass::LatestWeekly => "latest-weekly",
            ImageClass::LatestDaily => "latest-daily",
        }
    }

    /// The class spelled `text`, if any.
    pub fn parse(text: &str) -> Option<ImageClass> {
        ImageClass::ALL
            .into_iter()
            .find(|class| class.as_str() == text)
    }
}

/// A form field as JupyterHub sends it: a string, or a list of exactly one string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FormField {
    One(String),
    List([String; 1]),
}

/// The body of a resolve request: exactly one of the fields names the image (after the
/// form's rules: the dropdown sentinel in `image_list` defers to `image_dropdown`, a set
/// `image_list` wins over `image_dropdown`). Other form fields may ride along.
///
/// The route reads the body itself (`rsp_service::http::resolve`), so that each error names
/// its field as the original does; this type is the schema of what it accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolveRequest {
    /// A reference from the menu's radio buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_list: Option<FormField>,
    /// A reference from the dropdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_dropdown: Option<FormField>,
    /// A class of image (bots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_class: Option<ImageClass>,
    /// A bare tag (bots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<FormField>,
}

/// An image as the spawner needs it to start a lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolvedImage {
    /// `registry/repository:tag`.
    pub reference: String,
    /// `registry/repository:tag@digest`.
    pub reference_with_digest: String,
    pub tag: String,
    /// Display name.
    pub name: String,
    pub digest: String,
}

impl From<&Image> for ResolvedImage {
    fn from(image: &Image) -> ResolvedImage {
        ResolvedImage {
            reference: image.reference(),
            reference_with_digest: image.reference_with_digest(),
            tag: image.name().to_owned(),
            name: image.display_name().to_string(),
            digest: image.digest().to_owned(),
        }
    }
}

#[cfg(feature = "openapi")]
mod schema {
    use super::FormField;
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
    use utoipa::openapi::RefOr;

    /// Written with utoipa's builders: the derive cannot say "a list of exactly one".
    impl utoipa::PartialSchema for FormField {
        fn schema() -> RefOr<Schema> {
            let string = || ObjectBuilder::new().schema_type(Type::String);
            let one = ArrayBuilder::new()
                .items(string())
                .min_items(Some(1))
                .max_items(Some(1));
            OneOfBuilder::new().item(string()).item(one).into()
        }
    }

    impl utoipa::ToSchema for FormField {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_parse_as_they_are_spelled() {
        for class in ImageClass::ALL {
            assert_eq!(ImageClass::parse(class.as_str()), Some(class));
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
        }
        assert_eq!(ImageClass::parse("latest_weekly"), None);
    }
}
