//! Fuzzes the readers of what registries send back: a `WWW-Authenticate` challenge, a `Link`
//! header and the next page it names, a Docker config file and an Artifact Registry list
//! page. None may panic, and a next page may never leave the registry's origin (credentials
//! go with every page).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsp_registry::docker::{challenge, credentials::DockerCredentials, link};
use rsp_registry::gar::wire::{parse_page, ImageMatcher};
use rsp_registry::GarImageRef;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let what = GarImageRef {
        location: "us-central1".into(),
        project_id: "proj".into(),
        repository: "repo".into(),
        image: "team/app".into(),
    };
    let _ = parse_page(data, &ImageMatcher::new(&what));
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = challenge::parse(text);
    if let Ok(credentials) = DockerCredentials::from_json(text) {
        let _ = credentials.lookup("registry.example:5000");
    }
    let api = Url::parse("https://registry.example:5000/").expect("a valid URL");
    let current = Url::parse("https://registry.example:5000/v2/a/tags/list?n=10").expect("valid");
    for target in link::next_target([text])
        .into_iter()
        .chain([text.to_owned()])
    {
        if let Ok(next) = link::next_page(&api, &current, &target) {
            assert_eq!(next.origin(), api.origin(), "{target:?} left the registry");
        }
    }
});
