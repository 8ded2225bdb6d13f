//! `POST {prefix}/spawner/v1/images/resolve`: which image a spawner form chose (behaviour §9.6).
//!
//! The body is parsed by hand from a JSON value rather than with a derived struct, because
//! JupyterHub sends each form field as a one-element list, other form fields (size, debug
//! flags) ride along and must be ignored, and each failure must name the field it is about.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde_json::{Map, Value};
use std::sync::Arc;

use super::error::ApiError;
use crate::backend::{Backend, ImageClass, ImageSelection, ResolvedImage};
// The schemas the route documentation (`utoipa::path`) names.
use rsp_model::api::{ErrorBody, ResolveRequest};

/// The radio value that means "use the dropdown instead" (`DROPDOWN_SENTINEL_VALUE`).
pub const DROPDOWN_SENTINEL: &str = "use_image_from_dropdown";

/// The form fields that can name an image, in the order the original reports them.
const FIELDS: [&str; 4] = ["image_list", "image_dropdown", "image_class", "image_tag"];

#[utoipa::path(
    post,
    path = "/spawner/v1/images/resolve",
    operation_id = "resolveImage",
    summary = "Which image a spawner form chose (exactly one of the fields must be set)",
    request_body(content = ResolveRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "OK", body = ResolvedImage),
        (status = 400, description = "unknown_image: the reference, class or tag names no image", body = ErrorBody),
        (status = 413, description = "payload_too_large", body = ErrorBody),
        (status = 415, description = "unsupported_media_type: the body is not JSON", body = ErrorBody),
        (status = 422, description = "invalid_docker_reference, or a body that breaks the form's rules", body = ErrorBody),
        (status = 502, description = "registry_error: the registry could not be asked", body = ErrorBody),
        (status = 503, description = "not_ready: no refresh of the image list has succeeded yet", body = ErrorBody),
    ),
)]
pub async fn resolve<B: Backend>(
    State(backend): State<Arc<B>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ResolvedImage>, ApiError> {
    let body = body?;
    let selection = parse_request(&headers, &body)?;
    let field = selection_field(&selection);
    backend
        .resolve(selection)
        .await
        .map(Json)
        .map_err(|e| ApiError::lookup(e, &["body", field], StatusCode::BAD_REQUEST))
}

/// The form field a selection came from, for error locations.
pub fn selection_field(selection: &ImageSelection) -> &'static str {
    match selection {
        ImageSelection::List(_) => "image_list",
        ImageSelection::Dropdown(_) => "image_dropdown",
        ImageSelection::Class(_) => "image_class",
        ImageSelection::Tag(_) => "image_tag",
    }
}

/// Checks the content type, parses the JSON and applies the form's rules.
pub fn parse_request(headers: &HeaderMap, body: &[u8]) -> Result<ImageSelection, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &["header", "content-type"],
            "Expected a request with `Content-Type: application/json`",
            "unsupported_media_type",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            &["body"],
            format!("JSON decode error: {e}"),
            "json_invalid",
        )
    })?;
    let Value::Object(object) = value else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            &["body"],
            "Input should be a JSON object",
            "dict_type",
        ));
    };
    select(&object)
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The form's rules: the sentinel unsets `image_list`, a set `image_list` discards
/// `image_dropdown`, and then exactly one field must remain.
fn select(object: &Map<String, Value>) -> Result<ImageSelection, ApiError> {
    let mut values: [Option<String>; 4] = Default::default();
    for (slot, field) in values.iter_mut().zip(FIELDS) {
        *slot = field_value(object, field)?;
    }
    let [mut list, mut dropdown, class, tag] = values;
    if list.as_deref() == Some(DROPDOWN_SENTINEL) {
        list = None;
    }
    if list.is_some() {
        dropdown = None;
    }
    let set: Vec<&str> = FIELDS
        .iter()
        .zip([&list, &dropdown, &class, &tag])
        .filter(|(_, v)| v.is_some())
        .map(|(name, _)| *name)
        .collect();
    if set.len() > 1 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            &["body"],
            format!("Image specified multiple ways ({})", set.join(", ")),
            "value_error",
        ));
    }
    if let Some(reference) = list {
        return Ok(ImageSelection::List(reference));
    }
    if let Some(reference) = dropdown {
        return Ok(ImageSelection::Dropdown(reference));
    }
    if let Some(class) = class {
        return parse_class(&class).map(ImageSelection::Class);
    }
    if let Some(tag) = tag {
        return Ok(ImageSelection::Tag(tag));
    }
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        &["body"],
        "No image to spawn specified",
        "value_error",
    ))
}

/// A field as a string: plain, or the single element of a list (JupyterHub's form encoding).
/// Absent, `null` and the empty string (an untouched form control) all mean unset.
fn field_value(object: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    let value = match object.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) if items.len() == 1 => &items[0],
        Some(value) => value,
    };
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            &["body", field],
            "Input should be a string or a list of exactly one string",
            "string_type",
        )),
    }
}

fn parse_class(class: &str) -> Result<ImageClass, ApiError> {
    ImageClass::parse(class).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            &["body", "image_class"],
            "Input should be 'recommended', 'latest-release', 'latest-weekly' or 'latest-daily'",
            "enum",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<ImageSelection, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        parse_request(&headers, body.to_string().as_bytes())
    }

    fn msg(result: Result<ImageSelection, ApiError>) -> String {
        result.unwrap_err().body.detail[0].msg.clone()
    }

    #[test]
    fn lists_of_one_and_plain_strings_are_the_same() {
        assert_eq!(
            parse(json!({"image_tag": ["w_2077_43"]})).unwrap(),
            ImageSelection::Tag("w_2077_43".into())
        );
        assert_eq!(
            parse(json!({"image_tag": "w_2077_43"})).unwrap(),
            ImageSelection::Tag("w_2077_43".into())
        );
    }

    #[test]
    fn the_sentinel_unsets_image_list_and_image_list_wins_over_the_dropdown() {
        assert_eq!(
            parse(json!({"image_list": [DROPDOWN_SENTINEL], "image_dropdown": ["a:b"]})).unwrap(),
            ImageSelection::Dropdown("a:b".into())
        );
        assert_eq!(
            parse(json!({"image_list": ["x:y"], "image_dropdown": ["a:b"]})).unwrap(),
            ImageSelection::List("x:y".into())
        );
    }

    #[test]
    fn exactly_one_field_must_remain() {
        assert_eq!(msg(parse(json!({}))), "No image to spawn specified");
        assert_eq!(
            msg(parse(json!({"image_list": [DROPDOWN_SENTINEL]}))),
            "No image to spawn specified"
        );
        assert_eq!(
            msg(parse(
                json!({"image_class": "recommended", "image_tag": "x"})
            )),
            "Image specified multiple ways (image_class, image_tag)"
        );
        assert_eq!(
            msg(parse(json!({"image_dropdown": "a:b", "image_tag": "x"}))),
            "Image specified multiple ways (image_dropdown, image_tag)"
        );
    }

    #[test]
    fn classes_and_bad_shapes_are_422_naming_the_field() {
        assert_eq!(
            parse(json!({"image_class": ["latest-weekly"]})).unwrap(),
            ImageSelection::Class(ImageClass::LatestWeekly)
        );
        let err = parse(json!({"image_class": "newest"})).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.body.detail[0].loc, ["body", "image_class"]);
        let err = parse(json!({"image_tag": ["a", "b"]})).unwrap_err();
        assert_eq!(err.body.detail[0].loc, ["body", "image_tag"]);
        assert_eq!(err.body.detail[0].kind, "string_type");
        assert_eq!(
            parse(json!([1])).unwrap_err().body.detail[0].kind,
            "dict_type"
        );
    }

    #[test]
    fn content_type_must_be_json() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        let err = parse_request(&headers, b"{}").unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        headers.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert_eq!(
            msg(parse_request(&headers, b"{}")),
            "No image to spawn specified"
        );
    }
}
