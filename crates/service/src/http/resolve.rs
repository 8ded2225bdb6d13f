//! `POST {prefix}/spawner/v1/images/resolve`: which image a spawner form chose (behaviour §9.6).
//!
//! The body is a lab request's `options` as JupyterHub sends them (each form field a list of
//! one value, other fields such as the size riding along), read with the lab-creation rules
//! of `rsp_model::lab`, so this route and lab creation always agree on the image.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use rsp_model::lab::OptionError;
use serde_json::Value;
use std::sync::Arc;

use super::error::ApiError;
use crate::backend::{Backend, ImageSelection, ResolvedImage};
// The schemas the route documentation (`utoipa::path`) names.
use rsp_model::api::{ErrorBody, ResolveRequest};

pub use rsp_model::lab::DROPDOWN_SENTINEL;

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
    let field = selection.field();
    backend
        .resolve(selection)
        .await
        .map(Json)
        .map_err(|e| ApiError::lookup(e, &["body", field], StatusCode::BAD_REQUEST))
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
    ImageSelection::from_options(&object).map_err(option_error)
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

/// A 422 naming the field the error is about (a too-long list names its own key).
fn option_error(error: OptionError) -> ApiError {
    let field = match &error {
        OptionError::TooManyValues(key) => Some(key.as_str()),
        other => other.field(),
    };
    let loc: Vec<&str> = std::iter::once("body").chain(field).collect();
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        &loc,
        error.to_string(),
        error.kind(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ImageClass;
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
        assert_eq!(err.body.detail[0].kind, "value_error");
        assert_eq!(err.body.detail[0].msg, "Too many values for image_tag");
        let err = parse(json!({"image_tag": 7})).unwrap_err();
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
