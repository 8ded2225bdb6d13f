//! The spawner's lab form, laid out byte for byte as the original's (lab-form.md §4), in two
//! halves: the images (script, style, the table's first cell), the same for every user and
//! rendered once per menu, and the options (sizes, checkboxes), rendered per request from the
//! sizes the user's quota allows. A response is the shared images half followed by the
//! user's options half, so that a large dropdown costs one rendering and one buffer however
//! many users load the form at once.

use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use rsp_model::api::MenuImages;
use rsp_model::lab::{LabSize, SizeName};
use serde::Serialize;

use super::{render, RenderError, LAB_FORM_IMAGES, LAB_FORM_OPTIONS};

/// Shown instead of the form when the user may not spawn or no size fits their quota
/// (§3.8): two lines, no form field, so that submitting it creates nothing.
pub const UNAVAILABLE: &str = "<h2>Notebooks unavailable</h2>\n\
    <p>Creating a new Nublado notebook is currently unavailable.</p>";

/// The images half: everything up to and including the image cell.
pub fn images(menu: &MenuImages) -> Result<Bytes, RenderError> {
    render(
        LAB_FORM_IMAGES,
        context! { menu => menu.menu, dropdown => menu.dropdown },
    )
    // Kept as long as the menu: megabytes at 100k tags, without the rendering's spare room.
    .map(|page| crate::body::exact(page.into_bytes()))
}

#[derive(Serialize)]
struct SizeChoice {
    name: &'static str,
    label: String,
    checked: bool,
}

/// The options half for these sizes, `default` checked.
pub fn options(sizes: &[&LabSize], default: SizeName) -> Result<Bytes, RenderError> {
    let sizes: Vec<SizeChoice> = sizes
        .iter()
        .map(|size| SizeChoice {
            name: size.name.as_str(),
            label: size.label(),
            checked: size.name == default,
        })
        .collect();
    render(LAB_FORM_OPTIONS, context! { sizes => sizes }).map(Bytes::from)
}

/// A 200 HTML answer made of `parts`, sent one after the other without copying them into
/// one buffer, with its exact length.
pub fn html(parts: Vec<Bytes>) -> Response {
    let length: usize = parts.iter().map(Bytes::len).sum();
    let stream = futures::stream::iter(parts.into_iter().map(Ok::<_, std::convert::Infallible>));
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CONTENT_LENGTH, HeaderValue::from(length)),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
