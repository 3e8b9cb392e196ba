//! The wire shapes as OpenAPI schemas. Handlers read bodies field by field (`parse`) and write
//! them with `json!` (`render`) so that every refusal names its field and both dialects share
//! one renderer; these types only describe that contract to utoipa, so nothing constructs
//! them. Names carry an `Identity` prefix because the daemon merges this document into its
//! own, and a merge keeps the first schema of a name.
#![expect(
    dead_code,
    reason = "read by the ToSchema derives only; the handlers speak serde_json::Value"
)]

use serde_json::Value;
use utoipa::ToSchema;

/// Starting mode strengths, each in [-1, 1]; an absent mode starts at 0.0. Keys are accepted in
/// any letter case (the schema lists them lowercase); any other key is refused.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityModeStrengths {
    #[schema(minimum = -1.0, maximum = 1.0, nullable = false)]
    pub perception: Option<f64>,
    #[schema(minimum = -1.0, maximum = 1.0, nullable = false)]
    pub exploration: Option<f64>,
    #[schema(minimum = -1.0, maximum = 1.0, nullable = false)]
    pub order: Option<f64>,
    #[schema(minimum = -1.0, maximum = 1.0, nullable = false)]
    pub assertion: Option<f64>,
    #[schema(minimum = -1.0, maximum = 1.0, nullable = false)]
    pub connection: Option<f64>,
    #[schema(minimum = -1.0, maximum = 1.0, nullable = false)]
    pub identity: Option<f64>,
    #[schema(minimum = -1.0, maximum = 1.0, nullable = false)]
    pub stress_response: Option<f64>,
}

#[derive(ToSchema)]
pub struct IdentityInitialConfig {
    pub mode_strengths: Option<IdentityModeStrengths>,
    /// In [0, 1]; 0.8 when absent.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub energy_level: Option<f64>,
}

#[derive(ToSchema)]
pub struct IdentityCreateInstance {
    /// 1–100 characters, not all of them blank.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// At most 10,000 characters; empty when absent.
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// All modes 0.0 and energy 0.8 when absent.
    pub initial_config: Option<IdentityInitialConfig>,
}

/// Only metadata: engine state cannot be changed here.
#[derive(ToSchema)]
pub struct IdentityUpdateInstance {
    /// 1–100 characters, not all of them blank.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// At most 10,000 characters.
    #[schema(max_length = 10000)]
    pub description: Option<String>,
}

#[derive(ToSchema)]
pub struct IdentityObservation {
    /// One of the seven modes (`perception`, `exploration`, `order`, `assertion`, `connection`,
    /// `identity`, `stress_response`), in any letter case (the schema lists them lowercase).
    #[schema(
        pattern = "^(perception|exploration|order|assertion|connection|identity|stress_response)$"
    )]
    pub mode_target: String,
    /// In [0, 1].
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub signal_strength: f64,
    /// In [0, 1]; 1.0 when absent. Scales the learning rate.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: Option<f64>,
    /// Kept in the history; the engine ignores it.
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    /// ISO-8601 (RFC 3339, or without an offset for UTC); the server clock when absent. Used only
    /// for throttling and history. The pattern admits days 01–28 so that every string it admits
    /// is a real date; days 29–31 are accepted where the month has them.
    #[schema(
        format = DateTime,
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])?$"
    )]
    pub timestamp: Option<String>,
}

#[derive(ToSchema)]
pub struct IdentityBatch {
    /// 1–1,000 observations, applied in order. Batches are never throttled.
    #[schema(min_items = 1, max_items = 1000)]
    pub observations: Vec<IdentityObservation>,
    /// Return every intermediate result rather than only the last; the query parameter of the
    /// same name wins over this field.
    pub include_intermediate: Option<bool>,
}

#[derive(ToSchema)]
pub enum IdentityResetMode {
    /// The configuration the instance was created with.
    #[schema(rename = "initial")]
    Initial,
    /// All modes 0.0, energy 0.8.
    #[schema(rename = "default")]
    Default,
}

#[derive(ToSchema)]
pub struct IdentityReset {
    /// `initial` when absent.
    pub mode: Option<IdentityResetMode>,
}

#[derive(ToSchema)]
pub struct IdentityTestResponse {
    /// `"q3"` or `3`.
    #[schema(value_type = String, example = "q3")]
    pub question_id: Value,
    /// `"q3_c"` or `"c"`; required unless `score` is given.
    pub selected_option_id: Option<String>,
    /// 1–4 on the agreement scale, instead of `selected_option_id`.
    pub score: Option<u8>,
}

/// Either `instance_id`, or `create_instance: true` (optionally with `instance_name`).
#[derive(ToSchema)]
pub struct IdentityTestSubmit {
    pub instance_id: Option<String>,
    pub create_instance: Option<bool>,
    /// "Personality test" when absent.
    pub instance_name: Option<String>,
    /// `v1` (14 questions, the default), `v2` (21) or `v3` (28).
    pub version: Option<String>,
    /// Every question of the version, each exactly once.
    pub responses: Vec<IdentityTestResponse>,
}

/// The spec dialect's envelope; the `/v1` dialect answers `data` bare.
#[derive(ToSchema)]
pub struct IdentityData<T> {
    pub data: T,
}

#[derive(ToSchema)]
pub struct IdentityInstance {
    pub id: String,
    pub name: String,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
    pub cycle_count: u64,
    pub energy_level: f64,
    /// `LOW`, `MED`, `HIGH` or `OVER`.
    pub stress_state: String,
    pub stability_index: f64,
}

#[derive(ToSchema)]
pub struct IdentityPagination {
    pub limit: usize,
    pub offset: usize,
    pub total: usize,
    pub has_more: bool,
}

/// A spec-dialect list; the `/v1` dialect answers `{items, total, limit, offset, has_more}`.
#[derive(ToSchema)]
pub struct IdentityList<T> {
    pub data: Vec<T>,
    pub pagination: IdentityPagination,
    /// History and drift only.
    pub instance_id: Option<String>,
}

#[derive(ToSchema)]
pub struct IdentityDeleted {
    pub id: String,
    pub deleted: bool,
}

/// One processed observation.
#[derive(ToSchema)]
pub struct IdentityOutcome {
    /// Mode strengths, energy, stress, system state, stability, closest personas.
    #[schema(value_type = Object)]
    pub snapshot: Value,
    /// The execution contract: allowed and forbidden actions, decision style, locks, timing.
    #[schema(value_type = Object)]
    pub contract: Value,
    /// Null during the 20-cycle warm-up; the level is `D0`…`D3` here and `D0_noise`… under `/v1`.
    #[schema(value_type = Option<Object>)]
    pub drift: Option<Value>,
    /// True when the observation came within the minimum interval of the previous one and was
    /// not recorded.
    pub throttled: bool,
}

/// `{"error": code, "code": code, "message", "details"}`.
#[derive(ToSchema)]
pub struct IdentityError {
    /// `invalid_request`, `incomplete_test`, `not_found` or `internal_error`.
    pub error: String,
    pub code: String,
    pub message: String,
    /// `field` and `reason` for `invalid_request`, `missing_questions` for `incomplete_test`.
    #[schema(value_type = Object)]
    pub details: Value,
}

#[derive(ToSchema)]
pub struct IdentityHealth {
    /// Always `ok`.
    pub status: String,
}

/// `update` and `reset` take a missing body as `{}`: their body is described, not required.
pub fn optional_bodies(item: &mut utoipa::openapi::PathItem) {
    for operation in [&mut item.patch, &mut item.post].into_iter().flatten() {
        let id = operation.operation_id.as_deref().unwrap_or_default();
        if (id.ends_with("update_instance") || id.ends_with("reset_instance"))
            && let Some(utoipa::openapi::RefOr::T(body)) = operation.request_body.as_mut()
        {
            body.required = Some(utoipa::openapi::Required::False);
        }
    }
}

/// The `/v1` copy of a spec-dialect path item: the same requests under `sdk_<id>` operation ids
/// and the `identity-sdk` tag, with every success body described as the SDK dialect writes it. `IdentityData<T>` becomes `T` bare, an
/// `IdentityList_*` becomes `{items, total, limit, offset, has_more}` (with `instance_id` for
/// history and drift), the personas list `{personas, total}` and a batch a JSON list of results.
/// `components` are the document's schemas, where a list's item schema is read.
pub fn sdk_path(item: utoipa::openapi::PathItem, components: &Value) -> utoipa::openapi::PathItem {
    let mut item = serde_json::to_value(item).expect("a path item is JSON");
    for operation in item
        .as_object_mut()
        .into_iter()
        .flat_map(|m| m.values_mut())
    {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        operation["operationId"] = Value::from(format!("sdk_{id}"));
        operation["tags"] = serde_json::json!(["identity-sdk"]);
        let Some(responses) = operation["responses"].as_object_mut() else {
            continue;
        };
        for (_, response) in responses.iter_mut().filter(|(s, _)| s.starts_with('2')) {
            if let Some(schema) = response.pointer_mut("/content/application~1json/schema") {
                *schema = sdk_body(&id, schema, components);
            }
        }
    }
    serde_json::from_value(item).expect("the rewritten path item is still one")
}

fn sdk_body(operation: &str, spec: &Value, components: &Value) -> Value {
    let integer = serde_json::json!({ "type": "integer", "minimum": 0 });
    match operation {
        "list_identity_personas" => serde_json::json!({
            "type": "object", "required": ["personas", "total"],
            "properties": { "personas": { "type": "array", "items": { "type": "object" } }, "total": integer },
        }),
        "process_batch" => serde_json::json!({
            "type": "array", "items": { "$ref": "#/components/schemas/IdentityOutcome" },
        }),
        _ => {
            let name = spec["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"));
            match name {
                Some(list) if list.starts_with("IdentityList_") => serde_json::json!({
                    "type": "object", "required": ["items", "total", "limit", "offset", "has_more"],
                    "properties": {
                        "items": objects(&components[list]["properties"]["data"]),
                        "total": integer, "limit": integer, "offset": integer,
                        "has_more": { "type": "boolean" },
                        "instance_id": { "type": "string" },
                    },
                }),
                Some(data) if data.starts_with("IdentityData_") => {
                    object_if_open(&components[data]["properties"]["data"])
                }
                _ => spec.clone(),
            }
        }
    }
}

/// Every payload the spec dialect leaves open (`IdentityData<Value>`: snapshot, contract, reset,
/// questions, test result) is a JSON object, and so is every history item and drift event.
fn object_if_open(schema: &Value) -> Value {
    match schema.as_object() {
        Some(m) if m.is_empty() => serde_json::json!({ "type": "object" }),
        _ => schema.clone(),
    }
}

fn objects(list: &Value) -> Value {
    let mut list = list.clone();
    list["items"] = object_if_open(&list["items"]);
    list
}
