//! `GET /openapi.json`: the OpenAPI 3.1 document of the JSON routes, built in code.
//!
//! The bodies are the model's API types, which carry no schema derive; rather than add a
//! schema dependency to the pure model, the schemas are written here with utoipa's typed
//! builders (so the document is structurally valid OpenAPI) and the tests check every real
//! response body against them, so they cannot drift from what the routes send.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    ArrayBuilder, ComponentsBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, PathsBuilder, Ref, RefOr,
    Required, ResponseBuilder,
};

/// The document for a service mounted at `prefix` (normalised: empty or `/name`).
pub fn document(prefix: &str) -> OpenApi {
    let api = |path: &str| format!("{prefix}/spawner/v1{path}");
    let paths = PathsBuilder::new()
        .path(
            api("/images"),
            get(
                "getImages",
                "Images for the spawner: recommended, latest of each kind, all prepull images",
                "SpawnerImages",
                &[],
            ),
        )
        .path(
            api("/prepulls"),
            get(
                "getPrepulls",
                "Prepuller configuration, prepull images with their nodes, and the nodes",
                "PrepullerStatus",
                &[],
            ),
        )
        .path(
            api("/menu"),
            get(
                "getMenu",
                "Spawner menu (prepulled images) and dropdown (every listed image)",
                "MenuImages",
                &[],
            ),
        )
        .path(
            api("/images/{tag}"),
            PathItem::new(
                HttpMethod::Get,
                operation(
                    "getImageForTag",
                    "The image with this tag",
                    "PrepulledImage",
                    &[("404", "unknown_image: no image has this tag")],
                )
                .parameter(
                    ParameterBuilder::new()
                        .name("tag")
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(typed(Type::String))),
                ),
            ),
        )
        .path(
            api("/images/resolve"),
            PathItem::new(
                HttpMethod::Post,
                operation(
                    "resolveImage",
                    "Which image a spawner form chose (exactly one of the fields must be set)",
                    "ResolvedImage",
                    &[
                        (
                            "400",
                            "unknown_image: the reference, class or tag names no image",
                        ),
                        ("413", "payload_too_large"),
                        ("415", "unsupported_media_type: the body is not JSON"),
                        (
                            "422",
                            "invalid_docker_reference, or a body that breaks the form's rules",
                        ),
                        ("502", "registry_error: the registry could not be asked"),
                    ],
                )
                .request_body(Some(
                    RequestBodyBuilder::new()
                        .required(Some(Required::True))
                        .content("application/json", json_content("ResolveRequest"))
                        .build(),
                )),
            ),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("rsp-images")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Lab images of a JupyterLab platform: the spawner menu, image lookups and \
                     prepull status.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components()))
        .build()
}

fn get(id: &str, summary: &str, body: &str, errors: &[(&str, &str)]) -> PathItem {
    PathItem::new(HttpMethod::Get, operation(id, summary, body, errors))
}

fn operation(id: &str, summary: &str, body: &str, errors: &[(&str, &str)]) -> OperationBuilder {
    let mut op = OperationBuilder::new()
        .operation_id(Some(id))
        .summary(Some(summary))
        .response(
            "200",
            ResponseBuilder::new()
                .description("OK")
                .content("application/json", json_content(body)),
        );
    for (status, description) in errors {
        op = op.response(
            *status,
            ResponseBuilder::new()
                .description(*description)
                .content("application/json", json_content("ErrorBody")),
        );
    }
    op
}

fn json_content(schema: &str) -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(schema)))
        .build()
}

fn components() -> utoipa::openapi::Components {
    let string = || typed(Type::String);
    let strings = || array(string());
    let nullable_string = || nullable(Type::String);
    ComponentsBuilder::new()
        .schema(
            "MenuImage",
            object(&[("reference", string(), true), ("name", string(), true)]),
        )
        .schema(
            "MenuImages",
            object(&[
                ("menu", array(reference("MenuImage")), true),
                ("dropdown", array(reference("MenuImage")), true),
            ]),
        )
        .schema(
            "PrepulledImage",
            object(&[
                ("reference", string(), true),
                ("tag", string(), true),
                ("name", string(), true),
                ("digest", string(), false),
                ("aliases", strings(), true),
                ("prepulled", typed(Type::Boolean), true),
            ]),
        )
        .schema(
            "SpawnerImages",
            object(&[
                ("recommended", reference("PrepulledImage"), false),
                ("latest_weekly", reference("PrepulledImage"), false),
                ("latest_daily", reference("PrepulledImage"), false),
                ("latest_release", reference("PrepulledImage"), false),
                ("all", array(reference("PrepulledImage")), true),
            ]),
        )
        .schema(
            "NodeImage",
            object(&[
                ("reference", string(), true),
                ("tag", string(), true),
                ("name", string(), true),
                ("digest", nullable_string(), true),
                ("size", nullable(Type::Integer), true),
                ("nodes", strings(), true),
                ("missing", strings(), true),
                ("errors", string_map(), false),
                ("unsupported", strings(), false),
            ]),
        )
        .schema(
            "PrepullerImages",
            object(&[
                ("prepulled", array(reference("NodeImage")), true),
                ("pending", array(reference("NodeImage")), true),
            ]),
        )
        .schema(
            "NodeStatus",
            object(&[
                ("name", string(), true),
                ("eligible", typed(Type::Boolean), true),
                ("comment", nullable_string(), true),
                ("cached", strings(), true),
                ("errors", string_map(), false),
            ]),
        )
        .schema(
            "PrepullerStatus",
            object(&[
                ("config", typed(Type::Object), true),
                ("images", reference("PrepullerImages"), true),
                ("nodes", array(reference("NodeStatus")), true),
            ]),
        )
        .schema(
            "ResolveRequest",
            object(&[
                ("image_list", form_field(), false),
                ("image_dropdown", form_field(), false),
                (
                    "image_class",
                    RefOr::T(Schema::Object(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some([
                                "recommended",
                                "latest-release",
                                "latest-weekly",
                                "latest-daily",
                            ]))
                            .build(),
                    )),
                    false,
                ),
                ("image_tag", form_field(), false),
            ]),
        )
        .schema(
            "ResolvedImage",
            object(&[
                ("reference", string(), true),
                ("reference_with_digest", string(), true),
                ("tag", string(), true),
                ("name", string(), true),
                ("digest", string(), true),
            ]),
        )
        .schema(
            "ErrorDetail",
            object(&[
                ("loc", strings(), true),
                ("msg", string(), true),
                ("type", string(), true),
            ]),
        )
        .schema(
            "ErrorBody",
            object(&[("detail", array(reference("ErrorDetail")), true)]),
        )
        .build()
}

fn typed(kind: Type) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new().schema_type(kind).build(),
    ))
}

fn nullable(kind: Type) -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([kind, Type::Null]))
            .build(),
    ))
}

/// An object with string values: the last prepull error by node or by image.
fn string_map() -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build(),
    ))
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

fn array(items: RefOr<Schema>) -> RefOr<Schema> {
    RefOr::T(Schema::Array(ArrayBuilder::new().items(items).build()))
}

/// A form field as JupyterHub sends it: a string or a list of exactly one string.
fn form_field() -> RefOr<Schema> {
    let one = ArrayBuilder::new()
        .items(typed(Type::String))
        .min_items(Some(1))
        .max_items(Some(1))
        .build();
    RefOr::T(Schema::OneOf(
        OneOfBuilder::new()
            .item(typed(Type::String))
            .item(Schema::Array(one))
            .build(),
    ))
}

fn object(fields: &[(&str, RefOr<Schema>, bool)]) -> Schema {
    let mut builder = ObjectBuilder::new().schema_type(Type::Object);
    for (name, schema, required) in fields {
        builder = builder.property(*name, schema.clone());
        if *required {
            builder = builder.required(*name);
        }
    }
    Schema::Object(builder.build())
}
