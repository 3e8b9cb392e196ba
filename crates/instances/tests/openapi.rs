//! The document describes each dialect's own bodies: the `/v1` copies are not the spec dialect's
//! envelopes under another path (schemathesis found every `/v1` answer contradicting them).

use serde_json::{Value, json};

fn doc() -> Value {
    serde_json::to_value(instances::openapi()).unwrap()
}

fn success(doc: &Value, path: &str, method: &str, status: &str) -> Value {
    doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"].clone()
}

#[test]
fn the_sdk_dialect_is_described_bare() {
    let doc = doc();
    let spec = success(&doc, "/instances/{id}", "get", "200");
    assert_eq!(
        spec["$ref"],
        "#/components/schemas/IdentityData_IdentityInstance"
    );
    let sdk = success(&doc, "/v1/instances/{id}", "get", "200");
    assert_eq!(
        sdk,
        doc["components"]["schemas"]["IdentityData_IdentityInstance"]["properties"]["data"]
    );
    let list = success(&doc, "/v1/instances", "get", "200");
    assert_eq!(
        list["required"],
        json!(["items", "total", "limit", "offset", "has_more"])
    );
    assert_eq!(
        success(&doc, "/v1/personas", "get", "200")["required"],
        json!(["personas", "total"])
    );
    assert_eq!(
        success(&doc, "/v1/instances/{id}/process/batch", "post", "200")["type"],
        "array"
    );
    assert_eq!(
        success(&doc, "/v1/instances/{id}/snapshot", "get", "200")["type"],
        "object"
    );
    assert_eq!(
        doc["paths"]["/v1/instances"]["get"]["operationId"],
        "sdk_list_instances"
    );
    assert_eq!(
        doc["paths"]["/v1/instances"]["get"]["tags"],
        json!(["identity-sdk"])
    );
}

#[test]
fn bodies_that_may_be_empty_are_not_required() {
    let doc = doc();
    for path in ["/instances/{id}", "/v1/instances/{id}"] {
        assert_eq!(
            doc["paths"][path]["patch"]["requestBody"]["required"],
            false
        );
    }
    for path in ["/instances/{id}/reset", "/v1/instances/{id}/reset"] {
        assert_eq!(doc["paths"][path]["post"]["requestBody"]["required"], false);
    }
    assert_eq!(
        doc["paths"]["/instances"]["post"]["requestBody"]["required"],
        true
    );
}
