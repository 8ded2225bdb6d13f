//! Property tests of what registries send back: `WWW-Authenticate` challenges, `Link` headers,
//! Docker config files and Artifact Registry list pages. Whatever the bytes, each reader
//! gives an answer or an error (never a panic), and well-formed input reads back exactly.
//! The fuzz targets of `fuzz/` drive the same functions with coverage guidance.

use base64::Engine;
use proptest::prelude::*;
use rsp_registry::docker::{challenge, credentials::DockerCredentials, link};
use rsp_registry::gar::wire::{parse_page, ImageMatcher};
use rsp_registry::GarImageRef;
use url::Url;

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

/// Any printable text with the characters these formats care about.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,80}",
        "[ ,;=\"\\\\<>a-z:/?&]{0,60}",
    ]
}

fn what() -> GarImageRef {
    GarImageRef {
        location: "us-central1".into(),
        project_id: "proj".into(),
        repository: "repo".into(),
        image: "team/app".into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn challenges_never_panic(header in header_text()) {
        let _ = challenge::parse(&header);
    }

    /// Generated challenges with quoted values (commas, quotes, backslashes inside) read back.
    #[test]
    fn quoted_challenge_parameters_read_back(
        scheme in "(Bearer|Basic|bearer|Negotiate)",
        params in proptest::collection::vec((token(), "[ -~]{0,20}"), 1..5),
    ) {
        let quoted = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
        let text = params
            .iter()
            .map(|(k, v)| format!("{k}={}", quoted(v)))
            .collect::<Vec<_>>()
            .join(", ");
        let parsed = challenge::parse(&format!("{scheme} {text}")).unwrap();
        prop_assert_eq!(parsed.len(), 1);
        prop_assert_eq!(&parsed[0].scheme, &scheme.to_ascii_lowercase());
        let expected: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        prop_assert_eq!(&parsed[0].params, &expected);
    }

    /// Whatever a `Link` header says, the next page is on the registry API's origin or an
    /// error: credentials are sent with every page.
    #[test]
    fn link_targets_never_leave_the_registry(header in header_text(), target in header_text()) {
        let api = Url::parse("https://registry.example:5000/").unwrap();
        let current = Url::parse("https://registry.example:5000/v2/a/tags/list?n=10").unwrap();
        for candidate in link::next_target([header.as_str()]).into_iter().chain([target]) {
            if let Ok(next) = link::next_page(&api, &current, &candidate) {
                prop_assert_eq!(next.origin(), api.origin(), "{}", candidate);
            }
        }
    }

    #[test]
    fn docker_config_files_never_panic(text in header_text(), host in "[a-z.:0-9]{0,20}") {
        if let Ok(credentials) = DockerCredentials::from_json(&text) {
            let _ = credentials.lookup(&host);
        }
    }

    /// `auth` (base64 of user:password) reads back, for the host and its subdomains only.
    #[test]
    fn docker_config_auth_reads_back(
        user in "[a-z0-9_]{1,10}",
        password in "[ -~]{0,20}",
        host in "[a-z]{1,8}\\.[a-z]{2,5}",
    ) {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let text = format!("{{\"auths\": {{\"https://{host}/v1/\": {{\"auth\": \"{auth}\"}}}}}}");
        let credentials = DockerCredentials::from_json(&text).unwrap();
        let found = credentials.lookup(&host).unwrap();
        prop_assert_eq!((found.username(), found.password()), (user.as_str(), password.as_str()));
        let subdomain = format!("mirror.{host}");
        let lookalike = format!("{host}.evil");
        prop_assert!(credentials.lookup(&subdomain).is_some());
        prop_assert!(credentials.lookup(&lookalike).is_none());
    }

    #[test]
    fn list_pages_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let what = what();
        let _ = parse_page(&body, &ImageMatcher::new(&what));
    }

    /// A page of generated entries: exactly the configured image's entries come back, with
    /// their tags, digest and size (sent as a string or a number), and the next-page token.
    #[test]
    fn list_pages_keep_exactly_the_configured_image(
        entries in proptest::collection::vec(
            (
                prop_oneof![Just("team/app"), Just("team/app2"), Just("app"), Just("other/team/app")],
                proptest::collection::vec("[a-z0-9_.-]{1,12}", 0..3),
                "[0-9a-f]{8}",
                any::<u32>(),
                any::<bool>(),
                any::<bool>(),
            ),
            0..12,
        ),
        token in proptest::option::of("[A-Za-z0-9]{0,8}"),
    ) {
        let json_entries: Vec<serde_json::Value> = entries
            .iter()
            .map(|(image, tags, digest, size, size_as_string, by_name)| {
                let digest = format!("sha256:{digest}");
                let size = if *size_as_string {
                    serde_json::json!(size.to_string())
                } else {
                    serde_json::json!(size)
                };
                let mut entry = serde_json::json!({"tags": tags, "imageSizeBytes": size});
                if *by_name {
                    entry["name"] = serde_json::json!(format!(
                        "projects/proj/locations/us-central1/repositories/repo/dockerImages/{}@{digest}",
                        image.replace('/', "%2F")
                    ));
                } else {
                    entry["uri"] = serde_json::json!(format!(
                        "us-central1-docker.pkg.dev/proj/repo/{image}@{digest}"
                    ));
                }
                entry
            })
            .collect();
        let body = serde_json::json!({"dockerImages": json_entries, "nextPageToken": token});
        let what = what();
        let page = parse_page(body.to_string().as_bytes(), &ImageMatcher::new(&what)).unwrap();
        let expected: Vec<(Vec<String>, String, Option<u64>)> = entries
            .iter()
            .filter(|entry| entry.0 == "team/app")
            .map(|(_, tags, digest, size, _, _)| {
                (tags.clone(), format!("sha256:{digest}"), Some(u64::from(*size)))
            })
            .collect();
        let got: Vec<(Vec<String>, String, Option<u64>)> = page
            .images
            .into_iter()
            .map(|image| (image.tags, image.digest, image.size))
            .collect();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(page.next_page_token, token.filter(|t| !t.is_empty()));
    }
}
