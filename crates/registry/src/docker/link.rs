//! Tag-list paging through the `Link` header (RFC 8288), decisions.md §5 fix 12.
//!
//! Registries answer `GET /v2/<name>/tags/list?n=N` with at most N tags and a
//! `Link: </v2/<name>/tags/list?n=N&last=T>; rel="next"` header when more follow. The target
//! may be relative or absolute. [`next_page`] resolves it against the page it came from and
//! insists that it stays on the API's scheme, host and port: the client sends credentials with
//! every page, so a page elsewhere is an error, never a request.

use url::Url;

/// The `rel="next"` target of one or more `Link` header values, if any.
pub fn next_target<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values.into_iter().find_map(|value| {
        links(value)
            .into_iter()
            .find(|(_, rels)| {
                rels.split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            })
            .map(|(target, _)| target)
    })
}

/// `(target, rel)` pairs of one header value. Commas inside `<…>` and quotes are kept.
fn links(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let target = rest[open + 1..open + close].trim().to_owned();
        rest = &rest[open + close + 1..];
        // Parameters run up to the next comma that is outside quotes.
        let mut in_quotes = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    in_quotes = !in_quotes;
                }
                c == ',' && !in_quotes
            })
            .map_or(rest.len(), |(i, _)| i);
        let rel = rest[..end]
            .split(';')
            .filter_map(|param| param.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("rel"))
            .map(|(_, v)| v.trim().trim_matches('"').to_owned())
            .unwrap_or_default();
        out.push((target, rel));
        rest = &rest[end..];
    }
    out
}

/// Resolves `target` against `current` and checks that it stays on `api`'s origin.
pub fn next_page(api: &Url, current: &Url, target: &str) -> Result<Url, String> {
    let next = current
        .join(target)
        .map_err(|e| format!("the Link header names an invalid next page {target:?}: {e}"))?;
    if next.origin() != api.origin() {
        return Err(format!(
            "the Link header sends the next tag page to {}://{}, not to the registry API {}; refusing to follow it",
            next.scheme(),
            crate::http::authority(&next),
            api.as_str().trim_end_matches('/')
        ));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_links() {
        let header = r#"</v2/a/tags/list?n=2&last=b,c>; rel="next", </v2/a/tags/list>; rel=first"#;
        assert_eq!(
            next_target([header]).unwrap(),
            "/v2/a/tags/list?n=2&last=b,c"
        );
        assert_eq!(
            next_target([r#"<x>; rel="prev", <y>; title="a, b"; REL="Next""#]).unwrap(),
            "y"
        );
        assert_eq!(
            next_target([r#"<p>; rel="first""#, "<q>; rel=next"]).unwrap(),
            "q"
        );
        assert!(next_target([r#"<p>; rel="prev""#, "garbage", "<broken"]).is_none());
    }

    #[test]
    fn resolves_relative_and_absolute_targets() {
        let api = Url::parse("http://127.0.0.1:5000").unwrap();
        let current = Url::parse("http://127.0.0.1:5000/v2/a/b/tags/list?n=2").unwrap();
        let rel = next_page(&api, &current, "/v2/a/b/tags/list?n=2&last=x").unwrap();
        assert_eq!(
            rel.as_str(),
            "http://127.0.0.1:5000/v2/a/b/tags/list?n=2&last=x"
        );
        let bare = next_page(&api, &current, "list?last=y").unwrap();
        assert_eq!(
            bare.as_str(),
            "http://127.0.0.1:5000/v2/a/b/tags/list?last=y"
        );
        let abs = next_page(
            &api,
            &current,
            "http://127.0.0.1:5000/v2/a/b/tags/list?last=z",
        )
        .unwrap();
        assert_eq!(abs.query(), Some("last=z"));
    }

    #[test]
    fn refuses_other_origins() {
        let api = Url::parse("https://registry.example.com").unwrap();
        let current = Url::parse("https://registry.example.com/v2/a/tags/list").unwrap();
        for target in [
            "http://registry.example.com/v2/a/tags/list?last=x",
            "https://registry.example.com:8443/v2/a/tags/list?last=x",
            "https://evil.example.com/v2/a/tags/list?last=x",
            "//evil.example.com/v2/a/tags/list",
        ] {
            let err = next_page(&api, &current, target).unwrap_err();
            assert!(err.contains("refusing"), "{target}: {err}");
        }
    }
}
