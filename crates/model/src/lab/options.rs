//! What lab creation accepts from a submitted spawner form (lab-form.md §5.3): JupyterHub
//! turns the form into a map of field → list of strings and the lab controller reads it with
//! these rules. The resolve route answers with the same image rules, and the tests check
//! every form this service serves against them, so a form that lab creation would refuse
//! cannot ship.

use serde_json::{Map, Value};

use super::size::SizeName;
use crate::api::ImageClass;

/// The `image_list` radio value that means "use the dropdown instead".
pub const DROPDOWN_SENTINEL: &str = "use_image_from_dropdown";

/// The form fields that can name an image, in the order the original reports them.
const IMAGE_FIELDS: [&str; 4] = ["image_list", "image_dropdown", "image_class", "image_tag"];

/// How a submission chose its image, after the form's rules were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSelection {
    /// `image_list`: a reference from the menu's radio buttons.
    List(String),
    /// `image_dropdown`: a reference from the dropdown.
    Dropdown(String),
    /// `image_class`: a class of image.
    Class(ImageClass),
    /// `image_tag`: a bare tag (bots).
    Tag(String),
}

impl ImageSelection {
    /// The form field the selection came from.
    pub fn field(&self) -> &'static str {
        match self {
            ImageSelection::List(_) => "image_list",
            ImageSelection::Dropdown(_) => "image_dropdown",
            ImageSelection::Class(_) => "image_class",
            ImageSelection::Tag(_) => "image_tag",
        }
    }

    /// The image a submission chose (only the image fields are read; others may be
    /// anything but lists of several values).
    pub fn from_options(options: &Map<String, Value>) -> Result<ImageSelection, OptionError> {
        let options = single_values(options)?;
        let fields = ImageFields::read(&options).map_err(|mut errors| errors.remove(0))?;
        fields.select()
    }
}

/// A lab request's options, as lab creation reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabRequest {
    pub image: ImageSelection,
    pub size: SizeName,
    pub enable_debug: bool,
    pub reset_user_env: bool,
}

impl LabRequest {
    /// Reads `options` as lab creation does; every field error is reported, as the original
    /// reports them together, and the image rules apply only once the fields are valid.
    pub fn from_options(options: &Map<String, Value>) -> Result<LabRequest, Vec<OptionError>> {
        let options = single_values(options).map_err(|error| vec![error])?;
        let mut errors = Vec::new();
        let size = size(&options).map_err(|e| errors.push(e)).ok();
        let enable_debug = flag(&options, "enable_debug")
            .map_err(|e| errors.push(e))
            .ok();
        let reset_user_env = flag(&options, "reset_user_env")
            .map_err(|e| errors.push(e))
            .ok();
        let fields = ImageFields::read(&options)
            .map_err(|e| errors.extend(e))
            .ok();
        match (size, enable_debug, reset_user_env, fields) {
            (Some(size), Some(enable_debug), Some(reset_user_env), Some(fields))
                if errors.is_empty() =>
            {
                Ok(LabRequest {
                    image: fields.select().map_err(|e| vec![e])?,
                    size,
                    enable_debug,
                    reset_user_env,
                })
            }
            _ => Err(errors),
        }
    }
}

/// Why a submission's options were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// A field sent as a list of more than one value (any field, known or not).
    #[error("Too many values for {0}")]
    TooManyValues(String),
    #[error("Field required")]
    Missing(&'static str),
    #[error("Input should be 'fine', 'diminutive', 'tiny', 'small', 'medium', 'large', 'huge', 'gargantuan', 'colossal' or 'custom'")]
    UnknownSize(String),
    #[error("Invalid boolean value {value}")]
    InvalidBoolean { field: &'static str, value: String },
    #[error("Input should be a string")]
    NotAString(&'static str),
    #[error("Input should be 'recommended', 'latest-release', 'latest-weekly' or 'latest-daily'")]
    UnknownClass(String),
    #[error("No image to spawn specified")]
    NoImage,
    #[error("Image specified multiple ways ({})", .0.join(", "))]
    MultipleWays(Vec<&'static str>),
}

impl OptionError {
    /// The field the error is about; `None` for errors about the options as a whole.
    pub fn field(&self) -> Option<&str> {
        match self {
            OptionError::Missing(field)
            | OptionError::InvalidBoolean { field, .. }
            | OptionError::NotAString(field) => Some(field),
            OptionError::UnknownSize(_) => Some("size"),
            OptionError::UnknownClass(_) => Some("image_class"),
            OptionError::TooManyValues(_) | OptionError::NoImage | OptionError::MultipleWays(_) => {
                None
            }
        }
    }

    /// The error's type as FastAPI names it.
    pub fn kind(&self) -> &'static str {
        match self {
            OptionError::Missing(_) => "missing",
            OptionError::UnknownSize(_) | OptionError::UnknownClass(_) => "enum",
            OptionError::NotAString(_) => "string_type",
            OptionError::TooManyValues(_)
            | OptionError::InvalidBoolean { .. }
            | OptionError::NoImage
            | OptionError::MultipleWays(_) => "value_error",
        }
    }
}

/// The pre-pass over every key: `null` and `[]` drop the key, a list of one value becomes
/// that value, a longer list is an error.
fn single_values(options: &Map<String, Value>) -> Result<Map<String, Value>, OptionError> {
    let mut out = Map::new();
    for (key, value) in options {
        let value = match value {
            Value::Null => continue,
            Value::Array(items) => match items.as_slice() {
                [] => continue,
                [one] => one.clone(),
                _ => return Err(OptionError::TooManyValues(key.clone())),
            },
            other => other.clone(),
        };
        out.insert(key.clone(), value);
    }
    Ok(out)
}

fn size(options: &Map<String, Value>) -> Result<SizeName, OptionError> {
    match options.get("size") {
        None => Err(OptionError::Missing("size")),
        Some(Value::String(name)) => name
            .to_lowercase()
            .parse()
            .map_err(|_| OptionError::UnknownSize(name.clone())),
        Some(other) => Err(OptionError::UnknownSize(other.to_string())),
    }
}

/// A checkbox: JSON booleans or exactly `true` / `false`; absent is false.
fn flag(options: &Map<String, Value>, field: &'static str) -> Result<bool, OptionError> {
    match options.get(field) {
        None => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(Value::String(text)) if text == "true" => Ok(true),
        Some(Value::String(text)) if text == "false" => Ok(false),
        Some(Value::String(text)) => Err(OptionError::InvalidBoolean {
            field,
            value: text.clone(),
        }),
        Some(other) => Err(OptionError::InvalidBoolean {
            field,
            value: other.to_string(),
        }),
    }
}

/// The four image fields, each a non-empty string or absent.
struct ImageFields {
    list: Option<String>,
    dropdown: Option<String>,
    class: Option<ImageClass>,
    tag: Option<String>,
}

impl ImageFields {
    fn read(options: &Map<String, Value>) -> Result<ImageFields, Vec<OptionError>> {
        let mut errors = Vec::new();
        let [list, dropdown, class, tag] = IMAGE_FIELDS.map(|field| match options.get(field) {
            None => None,
            Some(Value::String(text)) if text.is_empty() => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                errors.push(OptionError::NotAString(field));
                None
            }
        });
        let class = class.and_then(|text| {
            let class = ImageClass::parse(&text);
            if class.is_none() {
                errors.push(OptionError::UnknownClass(text));
            }
            class
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ImageFields {
            list,
            dropdown,
            class,
            tag,
        })
    }

    /// The sentinel unsets `image_list`, a set `image_list` discards `image_dropdown`, and
    /// then exactly one field must remain.
    fn select(self) -> Result<ImageSelection, OptionError> {
        let list = self.list.filter(|value| value != DROPDOWN_SENTINEL);
        let dropdown = if list.is_some() { None } else { self.dropdown };
        let mut chosen: Vec<ImageSelection> = [
            list.map(ImageSelection::List),
            dropdown.map(ImageSelection::Dropdown),
            self.class.map(ImageSelection::Class),
            self.tag.map(ImageSelection::Tag),
        ]
        .into_iter()
        .flatten()
        .collect();
        match chosen.len() {
            0 => Err(OptionError::NoImage),
            1 => Ok(chosen.remove(0)),
            _ => {
                let mut names: Vec<&'static str> = chosen.iter().map(|c| c.field()).collect();
                names.sort_unstable();
                Err(OptionError::MultipleWays(names))
            }
        }
    }
}
