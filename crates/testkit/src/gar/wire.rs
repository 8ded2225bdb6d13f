//! The fake's answers: routing, query checking, paging with opaque tokens, the `fields` mask,
//! Google's error bodies, and gzip on the way out.

use std::io::Write;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};

use super::fields::{self, Schema};
use super::Inner;
use crate::registry::serve::{json, RecordedRequest};

/// Page size when the request does not name one.
const DEFAULT_PAGE_SIZE: usize = 100;

/// The method's own parameters and Google's system parameters (discovery document,
/// `parameters` and `dockerImages.list.parameters`); `parent` is in the path.
const KNOWN_PARAMETERS: [&str; 14] = [
    "pageSize",
    "pageToken",
    "orderBy",
    "fields",
    "key",
    "alt",
    "prettyPrint",
    "quotaUser",
    "$.xgafv",
    "access_token",
    "oauth_token",
    "callback",
    "uploadType",
    "upload_protocol",
];

/// `ListDockerImagesResponse` and the schemas under it, for checking `fields`.
static IMAGE_MANIFEST: Schema = Schema {
    fields: &[
        ("architecture", None),
        ("os", None),
        ("digest", None),
        ("mediaType", None),
        ("variant", None),
        ("osVersion", None),
        ("osFeatures", None),
    ],
};
static DOCKER_IMAGE: Schema = Schema {
    fields: &[
        ("name", None),
        ("uri", None),
        ("tags", None),
        ("imageSizeBytes", None),
        ("uploadTime", None),
        ("mediaType", None),
        ("buildTime", None),
        ("updateTime", None),
        ("artifactType", None),
        ("imageManifests", Some(&IMAGE_MANIFEST)),
    ],
};
static LIST_RESPONSE: Schema = Schema {
    fields: &[
        ("dockerImages", Some(&DOCKER_IMAGE)),
        ("nextPageToken", None),
    ],
};

/// What one answer cost on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedResponse {
    pub status: u16,
    /// `gzip` when the body was compressed.
    pub content_encoding: Option<String>,
    /// Bytes sent.
    pub wire_bytes: usize,
    /// Bytes of the body before compression.
    pub body_bytes: usize,
}

/// Google's error body (https://cloud.google.com/apis/design/errors#http_mapping).
pub(super) fn google_error(status: StatusCode, message: &str, code: &str) -> Response {
    json(
        status,
        &json!({"error": {"code": status.as_u16(), "message": message, "status": code}}),
    )
}

fn invalid_argument(message: &str) -> Response {
    google_error(StatusCode::BAD_REQUEST, message, "INVALID_ARGUMENT")
}

pub(super) fn answer(inner: &mut Inner, request: &RecordedRequest, body: &[u8]) -> Response {
    if request.method == "POST" && request.path == "/v1/token" {
        return inner.auth.exchange(body);
    }
    let list = request
        .path
        .strip_prefix("/v1/")
        .and_then(|p| p.strip_suffix("/dockerImages"))
        .filter(|parent| is_repository(parent));
    let (Some(parent), "GET") = (list, request.method.as_str()) else {
        return google_error(
            StatusCode::NOT_FOUND,
            "The requested URL was not found on this server.",
            "NOT_FOUND",
        );
    };
    if let Some(denied) = inner.auth.check(request) {
        return denied;
    }
    if let Some((unknown, _)) = request
        .query
        .iter()
        .find(|(key, _)| !KNOWN_PARAMETERS.contains(&key.as_str()))
    {
        // Google's answer, BadRequest details left out.
        return invalid_argument(&format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\": Cannot bind query parameter. Field '{unknown}' could not be found in request message."
        ));
    }
    let mask = match request.param("fields").map(fields::parse) {
        None => None,
        Some(Ok(mask)) if mask.check(&LIST_RESPONSE).is_ok() => Some(mask),
        Some(_) => return invalid_argument("Request contains an invalid argument."),
    };
    if inner.denied.contains(parent) {
        return google_error(
            StatusCode::FORBIDDEN,
            &format!("Permission 'artifactregistry.repositories.downloadArtifacts' denied on resource '{parent}' (or it may not exist)."),
            "PERMISSION_DENIED",
        );
    }
    let Some(images) = inner.repositories.get(parent).cloned() else {
        return google_error(
            StatusCode::NOT_FOUND,
            &format!("Requested entity was not found: {parent}"),
            "NOT_FOUND",
        );
    };
    let asked = match request.param("pageSize").map(str::parse::<i32>) {
        None => DEFAULT_PAGE_SIZE,
        Some(Ok(n)) if n > 0 => usize::try_from(n).unwrap_or(DEFAULT_PAGE_SIZE),
        Some(Ok(0)) => DEFAULT_PAGE_SIZE,
        Some(_) => {
            return invalid_argument(&format!(
                "Invalid value at 'page_size' (TYPE_INT32), \"{}\"",
                request.param("pageSize").unwrap_or_default()
            ))
        }
    };
    let size = asked.min(inner.max_page_size);
    let start = match request.param("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => match inner.page_tokens.get(token) {
            Some((issued_for, offset)) if issued_for == parent => *offset,
            _ => return invalid_argument("The page token is invalid."),
        },
    };
    // An endless chain serves the images round and round, as a registry that loops would.
    let from = if inner.endless && !images.is_empty() {
        start % images.len()
    } else {
        start.min(images.len())
    };
    let to = (from + size).min(images.len());
    let mut page = serde_json::Map::new();
    if from < to {
        page.insert("dockerImages".into(), json!(&images[from..to]));
    }
    if inner.endless || to < images.len() {
        let token = page_token(inner.page_tokens.len());
        inner
            .page_tokens
            .insert(token.clone(), (parent.to_owned(), from + size));
        page.insert("nextPageToken".into(), Value::String(token));
    }
    let page = Value::Object(page);
    let page = mask.map_or(page.clone(), |mask| mask.apply(&page));
    json(StatusCode::OK, &page).into_response()
}

/// `projects/{p}/locations/{l}/repositories/{r}` (the `parent` pattern).
fn is_repository(parent: &str) -> bool {
    let parts: Vec<&str> = parent.split('/').collect();
    parts.len() == 6
        && parts[0] == "projects"
        && parts[2] == "locations"
        && parts[4] == "repositories"
        && [parts[1], parts[3], parts[5]].iter().all(|p| !p.is_empty())
}

/// An opaque token like Google's: standard base64 whose first bytes encode as `+/+/` and
/// whose length needs `=` padding, so a client that does not percent-encode it breaks.
fn page_token(serial: usize) -> String {
    let mut bytes = vec![0xfb, 0xff, 0xbf];
    bytes.extend_from_slice(format!("page-{serial}").as_bytes());
    if bytes.len() % 3 == 0 {
        bytes.push(b'.');
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Compresses `response` when the client accepts gzip, and says what was sent.
pub(super) async fn encode(response: Response, accepts_gzip: bool) -> (Response, ServedResponse) {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let body_bytes = bytes.len();
    let compress = accepts_gzip && !bytes.is_empty();
    let (wire, encoding) = if compress {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let gzipped = encoder
            .write_all(&bytes)
            .and_then(|()| encoder.finish())
            .unwrap_or_default();
        parts
            .headers
            .insert("content-encoding", HeaderValue::from_static("gzip"));
        (axum::body::Bytes::from(gzipped), Some("gzip".to_owned()))
    } else {
        (bytes, None)
    };
    let served = ServedResponse {
        status: parts.status.as_u16(),
        content_encoding: encoding,
        wire_bytes: wire.len(),
        body_bytes,
    };
    parts.headers.remove("content-length");
    (
        Response::from_parts(parts, axum::body::Body::from(wire)),
        served,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_need_percent_encoding() {
        for serial in 0..20 {
            let token = page_token(serial);
            assert!(token.starts_with("+/+/"), "{token}");
            assert!(token.ends_with('='), "{token}");
        }
    }
}
