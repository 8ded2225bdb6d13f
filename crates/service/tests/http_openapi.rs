//! `GET /openapi.json` is an OpenAPI 3 document of the JSON routes that a real validator
//! accepts, and every real body the routes send (successes and errors) validates against the
//! schema the document gives it.

mod http_support;

use http_support::{app, get, resolve, TestBackend, PREFIX};
use serde_json::{json, Value};
use std::sync::Arc;

/// The subset of JSON Schema the document uses: `$ref`, `type` (one or a list), `properties`,
/// `required`, `items`, `oneOf`, `enum`, `additionalProperties`, `minItems`/`maxItems`.
fn validate(doc: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .ok_or(format!("{path}: odd $ref {reference}"))?;
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{path}: dangling $ref {reference}"));
        }
        return validate(doc, target, value, path);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let matching = options
            .iter()
            .filter(|o| validate(doc, o, value, path).is_ok())
            .count();
        return if matching == 1 {
            Ok(())
        } else {
            Err(format!("{path}: {matching} oneOf branches match {value}"))
        };
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let actual = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let type_ok = types.is_empty()
        || types.contains(&actual)
        || (actual == "integer" && types.contains(&"number"));
    if !type_ok {
        return Err(format!("{path}: {actual} is not {types:?}"));
    }
    if let Some(values) = schema["enum"].as_array() {
        if !values.contains(value) {
            return Err(format!("{path}: {value} not in enum"));
        }
    }
    match value {
        Value::Object(object) => {
            for required in schema["required"].as_array().into_iter().flatten() {
                let key = required.as_str().unwrap_or("");
                if !object.contains_key(key) {
                    return Err(format!("{path}: missing required {key}"));
                }
            }
            for (key, field) in object {
                let field_path = format!("{path}.{key}");
                match schema["properties"].get(key) {
                    Some(s) => validate(doc, s, field, &field_path)?,
                    None => match &schema["additionalProperties"] {
                        Value::Object(_) => {
                            validate(doc, &schema["additionalProperties"], field, &field_path)?
                        }
                        Value::Bool(false) => return Err(format!("{field_path}: not allowed")),
                        // Undeclared fields are allowed by OpenAPI, but here they mean drift.
                        _ if schema["properties"].is_object() => {
                            return Err(format!("{field_path}: not in the schema"))
                        }
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            let len = items.len() as u64;
            if schema["minItems"].as_u64().is_some_and(|m| len < m)
                || schema["maxItems"].as_u64().is_some_and(|m| len > m)
            {
                return Err(format!("{path}: {len} items out of bounds"));
            }
            for (i, item) in items.iter().enumerate() {
                validate(doc, &schema["items"], item, &format!("{path}[{i}]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn response_schema(doc: &Value, path: &str, method: &str, status: &str) -> Value {
    let schema =
        &doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"];
    assert!(!schema.is_null(), "no schema for {method} {path} {status}");
    schema.clone()
}

async fn document() -> (Value, axum::Router) {
    let app = app(Arc::new(TestBackend::standard()));
    let reply = get(&app, "/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type(), "application/json");
    (reply.json(), app)
}

#[tokio::test]
async fn the_document_describes_every_json_route() {
    let (doc, _) = document().await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["title"], "rsp-images");
    let api = format!("{PREFIX}/spawner/v1");
    for (path, method) in [
        ("/images", "get"),
        ("/prepulls", "get"),
        ("/menu", "get"),
        ("/images/{tag}", "get"),
        ("/images/resolve", "post"),
    ] {
        let op = &doc["paths"][format!("{api}{path}")][method];
        assert!(op["operationId"].is_string(), "{method} {path}");
        response_schema(&doc, &format!("{api}{path}"), method, "200");
    }
    // A `$ref` anywhere in the document points at a defined schema.
    let text = doc.to_string();
    for name in text.split("#/components/schemas/").skip(1) {
        let name = name.split('"').next().unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
}

#[tokio::test]
async fn real_bodies_validate_against_their_schemas() {
    let (doc, app) = document().await;
    let api = format!("{PREFIX}/spawner/v1");
    let check = |path: &str, method: &str, status: &str, body: &Value| {
        let schema = response_schema(&doc, path, method, status);
        validate(&doc, &schema, body, "$")
            .unwrap_or_else(|e| panic!("{method} {path} {status}: {e}\n{body}"));
    };
    for route in ["/images", "/prepulls", "/menu"] {
        let path = format!("{api}{route}");
        let reply = get(&app, &path).await;
        check(&path, "get", "200", &reply.json());
    }
    let tag_path = format!("{api}/images/{{tag}}");
    check(
        &tag_path,
        "get",
        "200",
        &get(&app, &format!("{api}/images/recommended")).await.json(),
    );
    check(
        &tag_path,
        "get",
        "404",
        &get(&app, &format!("{api}/images/nope")).await.json(),
    );
    let resolve_path = format!("{api}/images/resolve");
    check(
        &resolve_path,
        "post",
        "200",
        &resolve(&app, json!({"image_tag": "w_2077_43"}))
            .await
            .json(),
    );
    check(
        &resolve_path,
        "post",
        "400",
        &resolve(&app, json!({"image_tag": "nope"})).await.json(),
    );
    check(
        &resolve_path,
        "post",
        "422",
        &resolve(&app, json!({"image_list": "x"})).await.json(),
    );
    // The request schema accepts what the route accepts.
    let request = json!({"$ref": "#/components/schemas/ResolveRequest"});
    for body in [
        json!({"image_tag": "x"}),
        json!({"image_list": ["a/b:c"], "image_dropdown": ["a/b:d"]}),
        json!({"image_class": "latest-weekly"}),
    ] {
        validate(&doc, &request, &body, "$").unwrap_or_else(|e| panic!("{body}: {e}"));
    }
    assert!(validate(&doc, &request, &json!({"image_tag": ["a", "b"]}), "$").is_err());
}

/// The document passes a real OpenAPI validator (`openapi-spec-validator`, PyPI).
#[tokio::test]
async fn the_document_passes_openapi_spec_validator() {
    let (doc, _) = document().await;
    let path = std::env::temp_dir().join(format!("rsp-images-openapi-{}.json", std::process::id()));
    std::fs::write(&path, doc.to_string()).expect("write the document");
    let output = std::process::Command::new("openapi-spec-validator")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run openapi-spec-validator ({e}): run `pip install openapi-spec-validator`"
            )
        });
    let _ = std::fs::remove_file(&path);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "openapi-spec-validator: {said}");
    assert!(
        said.trim_end().ends_with("OK"),
        "openapi-spec-validator: {said}"
    );
}

#[test]
fn the_validator_catches_drift() {
    let doc = json!({"components": {"schemas": {"A": {"type": "object",
        "properties": {"x": {"type": "string"}}, "required": ["x"]}}}});
    let a = json!({"$ref": "#/components/schemas/A"});
    assert!(validate(&doc, &a, &json!({"x": "s"}), "$").is_ok());
    assert!(validate(&doc, &a, &json!({}), "$").is_err());
    assert!(validate(&doc, &a, &json!({"x": 1}), "$").is_err());
    assert!(validate(&doc, &a, &json!({"x": "s", "y": 1}), "$").is_err());
}
