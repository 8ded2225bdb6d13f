//! JSON bodies serialised once and shared by every request that asks for them.
//!
//! The spawner's bodies are large (a busy repository makes `/spawner/v1/images` megabytes long)
//! and read far more often than they change, so the served snapshot (`crate::snapshot`)
//! serialises each one once and requests clone a reference-counted buffer. Clients that
//! accept gzip get a compressed copy, also made once, which is what keeps large bodies cheap
//! to send at a high request rate.

use axum::body::Bytes;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Serialize;
use std::io::Write;
use std::sync::{Arc, OnceLock};

/// Bodies smaller than this are sent as they are: compressing them saves nothing worth a
/// round of CPU.
const GZIP_THRESHOLD: usize = 8 * 1024;

/// A serialised JSON body, cheap to clone.
#[derive(Clone, Debug)]
pub struct JsonBody(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    json: Bytes,
    gzip: OnceLock<Option<Bytes>>,
}

impl JsonBody {
    pub fn new<T: Serialize>(value: &T) -> JsonBody {
        let json = serde_json::to_vec(value).unwrap_or_else(|error| {
            // Our API types are plain data; this would be a bug, not bad input.
            tracing::error!(%error, "a response body did not serialise");
            b"{}".to_vec()
        });
        JsonBody(Arc::new(Inner {
            json: exact(json),
            gzip: OnceLock::new(),
        }))
    }

    pub fn json(&self) -> Bytes {
        self.0.json.clone()
    }

    /// The gzip-compressed body, made at the first request that accepts it; `None` when the
    /// body is too small to be worth compressing.
    pub fn gzip(&self) -> Option<Bytes> {
        self.0
            .gzip
            .get_or_init(|| {
                if self.0.json.len() < GZIP_THRESHOLD {
                    return None;
                }
                let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
                encoder.write_all(&self.0.json).ok()?;
                encoder.finish().ok().map(exact)
            })
            .clone()
    }

    /// The response for a request with these headers.
    pub fn respond(&self, request: &HeaderMap) -> Response {
        let json = HeaderValue::from_static("application/json");
        let vary = HeaderValue::from_static("accept-encoding");
        match self.gzip().filter(|_| accepts_gzip(request)) {
            Some(gzip) => (
                [
                    (CONTENT_TYPE, json),
                    (CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                    (VARY, vary),
                ],
                gzip,
            )
                .into_response(),
            None => ([(CONTENT_TYPE, json), (VARY, vary)], self.json()).into_response(),
        }
    }
}

/// The bytes of a buffer that grew by doubling, without its spare capacity: `Bytes::from`
/// keeps the whole allocation, and a body kept for the snapshot's life would hold up to
/// twice its length (an 8.9 MB `/images` body at 100k tags held 16 MB).
pub(crate) fn exact(mut buffer: Vec<u8>) -> Bytes {
    buffer.shrink_to_fit();
    Bytes::from(buffer)
}

/// Whether `Accept-Encoding` lists gzip with a non-zero quality.
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn headers(accept: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(accept).unwrap());
        headers
    }

    #[test]
    fn gzip_only_when_accepted() {
        assert!(accepts_gzip(&headers("gzip, deflate")));
        assert!(accepts_gzip(&headers("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&headers("*")));
        assert!(!accepts_gzip(&headers("gzip;q=0")));
        assert!(!accepts_gzip(&headers("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn compressed_body_decompresses_to_the_json() {
        let value: Vec<String> = (0..2000).map(|i| format!("tag-{i}")).collect();
        let body = JsonBody::new(&value);
        let gzip = body.gzip().expect("large body is compressed");
        assert!(gzip.len() < body.json().len() / 2);
        let mut text = String::new();
        GzDecoder::new(&gzip[..]).read_to_string(&mut text).unwrap();
        assert_eq!(text.as_bytes(), &body.json()[..]);
        let small = JsonBody::new(&"x");
        assert_eq!(small.gzip(), None);
    }
}
