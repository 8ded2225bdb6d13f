//! Every JSON route of decisions §4 over the standard fixture: bodies are the model's values
//! serialised with their null rules, lookups and resolution answer as behaviour §9.6 says.

mod http_support;

use http_support::{app, get, resolve, TestBackend, PREFIX};
use rsp_service::served;
use serde_json::json;
use std::sync::Arc;

fn standard() -> (Arc<TestBackend>, axum::Router) {
    let backend = Arc::new(TestBackend::standard());
    (backend.clone(), app(backend))
}

#[tokio::test]
async fn images_omit_nulls_and_match_the_original_example() {
    let (backend, app) = standard();
    let reply = get(&app, &format!("{PREFIX}/spawner/v1/images")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type(), "application/json");
    let body = reply.json();
    assert_eq!(
        body,
        serde_json::to_value(served::spawner_images(
            &backend.listing_on_nodes,
            &backend.config.images.recommended_tag
        ))
        .unwrap()
    );
    // behaviour §9.3: no latest_release key; the unresolved tags have no digest key.
    assert!(body.get("latest_release").is_none());
    assert_eq!(
        body["recommended"],
        json!({"reference": "lighthouse.ceres/library/sketchbook:recommended",
               "tag": "recommended", "name": "Recommended (Weekly 2077_43)",
               "digest": "sha256:5678", "aliases": ["w_2077_43"], "prepulled": true})
    );
    assert_eq!(body["latest_daily"]["prepulled"], false);
    let all = body["all"].as_array().unwrap();
    let latest_weekly = all.iter().find(|i| i["tag"] == "latest_weekly").unwrap();
    assert!(latest_weekly.get("digest").is_none(), "{latest_weekly}");
}

#[tokio::test]
async fn prepulls_keep_nulls() {
    let (backend, app) = standard();
    let reply = get(&app, &format!("{PREFIX}/spawner/v1/prepulls")).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    let errors = served::prepull_errors(&backend.puller);
    let prepulls = served::prepuller_status(&backend.listing_on_nodes, &backend.config, &errors);
    assert_eq!(body, serde_json::to_value(prepulls).unwrap());
    let node1 = &body["nodes"][0];
    assert!(node1.get("comment").is_some_and(|c| c.is_null()), "{node1}");
    assert!(body["config"]["cycle"].is_null());
    assert_eq!(
        body["images"]["pending"][0]["missing"],
        json!(["node2", "node4"])
    );
}

#[tokio::test]
async fn menu_puts_the_recommended_image_first() {
    let (_, app) = standard();
    let body = get(&app, &format!("{PREFIX}/spawner/v1/menu")).await.json();
    assert_eq!(
        body["menu"],
        json!([{"reference": "lighthouse.ceres/library/sketchbook:recommended@sha256:5678",
                "name": "Recommended (Weekly 2077_43)"}])
    );
    assert_eq!(body["dropdown"].as_array().unwrap().len(), 5);
    assert_eq!(body["dropdown"][3]["name"], "latest_weekly");
}

#[tokio::test]
async fn image_by_tag_and_unknown_tags() {
    let (_, app) = standard();
    let reply = get(&app, &format!("{PREFIX}/spawner/v1/images/w_2077_43")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["name"], "Weekly 2077_43");
    for tag in ["unknown", "%00", "%FF%FE", "a%20b", "..", &"x".repeat(5000)] {
        let reply = get(&app, &format!("{PREFIX}/spawner/v1/images/{tag}")).await;
        assert_eq!(reply.status, 404, "{tag}: {}", reply.text());
        let (_, kind) = reply.error();
        assert!(
            kind == "unknown_image" || kind == "invalid_path" || kind == "not_found",
            "{kind}"
        );
    }
    let reply = get(&app, &format!("{PREFIX}/spawner/v1/images/unknown")).await;
    assert_eq!(
        reply.json(),
        json!({"detail": [{"loc": ["path", "tag"], "msg": "Docker tag \"unknown\" not found",
                           "type": "unknown_image"}]})
    );
}

#[tokio::test]
async fn a_tag_named_resolve_is_looked_up_not_refused() {
    let (_, app) = standard();
    let reply = get(&app, &format!("{PREFIX}/spawner/v1/images/resolve")).await;
    assert_eq!(reply.error(), (404, "unknown_image".to_owned()));
}

#[tokio::test]
async fn resolve_by_each_field() {
    let (_, app) = standard();
    let recommended = json!({
        "reference": "lighthouse.ceres/library/sketchbook:recommended",
        "reference_with_digest": "lighthouse.ceres/library/sketchbook:recommended@sha256:5678",
        "tag": "recommended", "name": "Recommended (Weekly 2077_43)", "digest": "sha256:5678"});
    for body in [
        json!({"image_list": ["lighthouse.ceres/library/sketchbook:recommended@sha256:5678"]}),
        json!({"image_list": "use_image_from_dropdown",
               "image_dropdown": ["lighthouse.ceres/library/sketchbook:recommended"]}),
        json!({"image_class": ["recommended"], "size": ["small"], "enable_debug": ["true"]}),
        json!({"image_tag": "recommended"}),
    ] {
        let reply = resolve(&app, body.clone()).await;
        assert_eq!(reply.status, 200, "{body}: {}", reply.text());
        assert_eq!(reply.json(), recommended, "{body}");
    }
    let reply = resolve(&app, json!({"image_class": "latest-daily"})).await;
    assert_eq!(reply.json()["tag"], "d_2077_10_23");
    // A tag outside the prepull set: its digest is asked from the registry.
    let reply = resolve(&app, json!({"image_tag": ["latest_weekly"]})).await;
    assert_eq!(
        reply.json()["reference_with_digest"],
        "lighthouse.ceres/library/sketchbook:latest_weekly@sha256:9999"
    );
}

#[tokio::test]
async fn a_registry_failure_is_a_502_not_a_500() {
    let (_, app) = standard();
    let reply = resolve(&app, json!({"image_tag": "latest_daily"})).await;
    assert_eq!(reply.error(), (502, "registry_error".to_owned()));
    assert_eq!(
        reply.json()["detail"][0]["loc"],
        json!(["body", "image_tag"])
    );
}

#[tokio::test]
async fn resolve_errors_name_the_field() {
    let (_, app) = standard();
    let cases = [
        (
            json!({"image_tag": ["unknown"]}),
            400,
            json!(["body", "image_tag"]),
            "unknown_image",
            "Docker tag \"unknown\" not found",
        ),
        (
            json!({"image_list": "lighthouse.ceres/library/sketchbook"}),
            422,
            json!(["body", "image_list"]),
            "invalid_docker_reference",
            "Docker reference \"lighthouse.ceres/library/sketchbook\" has no tag",
        ),
        (
            json!({"image_class": "latest-release"}),
            400,
            json!(["body", "image_class"]),
            "unknown_image",
            "No latest-release image found",
        ),
        (
            json!({}),
            422,
            json!(["body"]),
            "value_error",
            "No image to spawn specified",
        ),
        (
            json!({"image_list": "a/b:c", "image_tag": "x", "image_class": "recommended"}),
            422,
            json!(["body"]),
            "value_error",
            // Sorted, as the original's lab creation lists them (lab-form.md §5.3).
            "Image specified multiple ways (image_class, image_list, image_tag)",
        ),
    ];
    for (body, status, loc, kind, msg) in cases {
        let reply = resolve(&app, body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text());
        assert_eq!(
            reply.json(),
            json!({"detail": [{"loc": loc, "msg": msg, "type": kind}]}),
            "{body}"
        );
    }
}

#[tokio::test]
async fn unparsable_references_are_422_never_500() {
    let (_, app) = standard();
    for reference in [
        "nonsense",
        "/x:y",
        "a/:t",
        "a/b:",
        "a/b@",
        "\u{0}",
        "a/b:t@sha\n1",
    ] {
        let reply = resolve(&app, json!({ "image_dropdown": reference })).await;
        assert_eq!(
            reply.error(),
            (422, "invalid_docker_reference".to_owned()),
            "{reference:?}"
        );
    }
}

#[tokio::test]
async fn probes() {
    let backend = Arc::new(TestBackend::empty());
    let app = http_support::app(backend.clone());
    let reply = get(&app, "/healthz").await;
    assert_eq!(
        (reply.status.as_u16(), reply.json()),
        (200, json!({"status": "ok"}))
    );
    assert_eq!(
        get(&app, "/readyz").await.error(),
        (503, "not_ready".to_owned())
    );
    backend.set_ready(true);
    assert_eq!(get(&app, "/readyz").await.status, 200);
}

/// Regression (issue 10): before the first refresh `/images` answered `{"all": []}`, telling
/// a client there were no images at all. Every route that reads the listing answers the
/// not-ready 503 until one exists; the status page and the probes answer as always.
#[tokio::test]
async fn routes_that_read_the_listing_answer_503_until_one_exists() {
    let backend = Arc::new(TestBackend::empty());
    let app = http_support::app(backend.clone());
    let api = format!("{PREFIX}/spawner/v1");
    let reads_the_listing = [
        format!("{api}/images"),
        format!("{api}/prepulls"),
        format!("{api}/menu"),
        format!("{api}/images/recommended"),
        format!("{api}/images/resolve"),
        format!("{api}/lab-form/someone"),
    ];
    let readyz = get(&app, "/readyz").await;
    for path in &reads_the_listing {
        let reply = get(&app, path).await;
        assert_eq!(reply.error(), (503, "not_ready".to_owned()), "{path}");
        assert_eq!(reply.json(), readyz.json(), "{path}: the body of /readyz");
    }
    let reply = resolve(&app, json!({"image_class": "recommended"})).await;
    assert_eq!(reply.error(), (503, "not_ready".to_owned()));
    for path in [
        format!("{PREFIX}/"),
        "/healthz".to_owned(),
        "/metrics".to_owned(),
    ] {
        assert_eq!(get(&app, &path).await.status, 200, "{path}");
    }
    assert_eq!(get(&app, "/nowhere").await.status, 404);

    backend.set_ready(true);
    let body = get(&app, &format!("{api}/images")).await.json();
    assert_eq!(body, json!({"all": []}));
}

#[tokio::test]
async fn head_requests_work_where_get_does() {
    let (_, app) = standard();
    let reply = http_support::call(&app, axum::http::Method::HEAD, "/healthz").await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
}

mod prefixes {
    use super::*;
    use proptest::prelude::*;
    use rsp_config::normalize_prefix;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Every prefix the configuration accepts builds the routes (axum panics on routes
        /// that overlap, as `/metrics` did against the root route before issue 10), and the
        /// status pages answer under it; every other prefix is refused by `router` too.
        #[test]
        fn every_accepted_prefix_routes_without_overlap(
            segments in prop::collection::vec(
                prop_oneof![
                    Just("metrics".to_owned()),
                    Just("healthz".to_owned()),
                    Just("readyz".to_owned()),
                    Just("openapi.json".to_owned()),
                    Just("nodes".to_owned()),
                    Just("spawner".to_owned()),
                    Just("v1".to_owned()),
                    Just("".to_owned()),
                    "[a-z0-9._~{}*:-]{1,6}",
                ],
                0..4,
            ),
        ) {
            let prefix = segments.join("/");
            let backend = Arc::new(TestBackend::standard());
            match normalize_prefix(&prefix) {
                Err(_) => prop_assert!(rsp_service::http::router(backend, &prefix).is_err()),
                Ok(normalized) => {
                    let router = rsp_service::http::router(backend, &prefix)
                        .expect("an accepted prefix routes");
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    let page = runtime.block_on(get(&router, &format!("{normalized}/nodes")));
                    prop_assert_eq!(page.status.as_u16(), 200, "{}", prefix);
                    let probe = runtime.block_on(get(&router, "/readyz"));
                    prop_assert_eq!(probe.status.as_u16(), 200, "{}", prefix);
                }
            }
        }
    }
}
