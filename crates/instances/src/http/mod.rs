//! The HTTP surface: one set of handlers, rendered in two dialects. The spec dialect at
//! `/instances…` wraps results in `{"data": …}`; the official SDK's dialect at `/v1/…`
//! returns bare objects and `{"items", "total", "limit", "offset"}` lists.

mod parse;
mod render;
mod schema;

use crate::error::InstancesError;
use crate::service::{ListQuery, Service, SortKey, TestSubject};
use crate::store::ResetTo;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use identity::DriftLevel;
use identity::personas::{PERSONAS, find};
use identity::test_bank::{SCALE, questions};
use schema::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Spec,
    Sdk,
}

impl Dialect {
    fn one(self, v: Value) -> Value {
        match self {
            Dialect::Spec => json!({ "data": v }),
            Dialect::Sdk => v,
        }
    }
}

#[derive(Clone)]
struct Ctx {
    service: Arc<Service>,
    dialect: Dialect,
}

type Q = Query<HashMap<String, String>>;

/// An error response: `{"error": code, "message", "details"}` (plus `code`, which the SDK reads).
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Value,
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ApiError {
        let (field, reason) = (field.into(), reason.into());
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_request",
            message: format!("{field} {reason}"),
            details: json!({ "field": field, "reason": reason }),
        }
    }

    fn not_found(what: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: format!("{what} not found"),
            details: json!({}),
        }
    }
}

impl From<InstancesError> for ApiError {
    fn from(e: InstancesError) -> ApiError {
        match e {
            InstancesError::NotFound(id) => ApiError::not_found(&format!("instance_id '{id}'")),
            InstancesError::Invalid { field, reason } => ApiError::invalid(field, reason),
            InstancesError::IncompleteTest { missing } => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "incomplete_test",
                message: format!("{} question(s) unanswered", missing.len()),
                details: json!({ "missing_questions": missing.iter().map(|q| format!("q{q}")).collect::<Vec<_>>() }),
            },
            other @ (InstancesError::Storage { .. } | InstancesError::Corrupt { .. }) => {
                tracing::error!(error = %other, "identity storage failure");
                ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "internal_error",
                    message: "the instance store failed; nothing was changed".into(),
                    details: json!({}),
                }
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "code": self.code, "message": self.message, "details": self.details });
        (self.status, axum::Json(body)).into_response()
    }
}

type Reply = Result<Response, ApiError>;

fn ok(ctx: &Ctx, v: Value) -> Reply {
    Ok(axum::Json(ctx.dialect.one(v)).into_response())
}

#[derive(OpenApi)]
#[openapi(tags((name = "identity", description = "The identity engine: instances that turn behavioural observations \
into a state and an execution contract, the twelve preset personas and the personality test. Every route listed \
here except `/health` is also served under `/v1` in the official SDK's dialect, by the same handler: bare objects \
instead of `{\"data\": …}`, lists as `{items, total, limit, offset, has_more}`, drift levels named \
(`D1_context`), test question ids as numbers, batches as a JSON list of results, and `Connection: close` on \
every response."),
    (name = "identity-sdk", description = "The identity routes in the official SDK's dialect under `/v1`: the \
same handlers as the `identity` tag, answering bare objects where that dialect answers `{\"data\": …}` and lists as \
`{items, total, limit, offset, has_more}`.")))]
struct IdentityDoc;

/// The spec dialect's routes. Paths and methods come from the handlers' `utoipa::path`
/// annotations, so a route cannot be served without being described.
fn dialect() -> OpenApiRouter<Ctx> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(fetch, update, remove))
        .routes(routes!(process))
        .routes(routes!(process_batch))
        .routes(routes!(snapshot))
        .routes(routes!(contract))
        .routes(routes!(reset))
        .routes(routes!(history))
        .routes(routes!(drift))
        .routes(routes!(personas))
        .routes(routes!(persona))
        .routes(routes!(test_questions))
        .routes(routes!(test_submit))
}

/// What is served at the root: the spec dialect and `/health`.
fn root() -> OpenApiRouter<Ctx> {
    OpenApiRouter::with_openapi(IdentityDoc::openapi())
        .merge(dialect())
        .routes(routes!(health))
}

/// The description of every route `router` serves: the spec dialect at the root, and the SDK
/// dialect again under `/v1` with its own operation ids (`sdk_<id>`, tag `identity-sdk`) so code
/// generators give the two dialects distinct methods, and its own success bodies.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = root().into_openapi();
    let components = serde_json::to_value(&doc.components).unwrap_or_default()["schemas"].take();
    for (path, item) in dialect().into_openapi().paths.paths {
        doc.paths
            .paths
            .insert(format!("/v1{path}"), sdk_path(item, &components));
    }
    doc.paths.paths.values_mut().for_each(optional_bodies);
    doc
}

/// Every route: the spec dialect at the root, the SDK dialect under `/v1`, and `/health`.
pub fn router(service: Arc<Service>) -> Router {
    let sdk = dialect().split_for_parts().0.with_state(Ctx {
        service: service.clone(),
        dialect: Dialect::Sdk,
    });
    root()
        .split_for_parts()
        .0
        .with_state(Ctx {
            service,
            dialect: Dialect::Spec,
        })
        .nest(
            "/v1",
            sdk.layer(axum::middleware::map_response(close_connection)),
        )
        .fallback(async || ApiError::not_found("route").into_response())
}

/// Answers while the daemon runs; it touches no instance.
#[utoipa::path(get, path = "/health", tag = "identity", operation_id = "identity_health",
    responses((status = 200, description = "The daemon answers", body = IdentityHealth)))]
async fn health() -> axum::Json<Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// The official SDK's synchronous client runs every call in a fresh event loop, so a kept-alive
/// connection from the previous call is unusable; closing after each response keeps it working.
async fn close_connection(mut resp: Response) -> Response {
    resp.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    resp
}

/// Create an instance, optionally with starting mode strengths and energy.
#[utoipa::path(post, path = "/instances", tag = "identity", operation_id = "create_instance",
    request_body(content = IdentityCreateInstance, content_type = "application/json"),
    responses((status = 201, description = "Created", body = IdentityData<IdentityInstance>),
        (status = 422, description = "A field is invalid; `details.field` names it", body = IdentityError),
        (status = 500, description = "The instance store failed; nothing was changed", body = IdentityError)))]
async fn create(State(ctx): State<Ctx>, body: Bytes) -> Reply {
    let obj = parse::body(&body)?;
    let name = parse::string(&obj, "name", "name")?
        .ok_or_else(|| ApiError::invalid("name", "is required"))?;
    let description = parse::string(&obj, "description", "description")?.unwrap_or("");
    let initial = parse::initial_config(&obj)?;
    let view = ctx.service.create(name, description, initial).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ctx.dialect.one(render::instance(&view))),
    )
        .into_response())
}

/// Every instance, one page at a time.
#[utoipa::path(get, path = "/instances", tag = "identity", operation_id = "list_instances",
    params(("limit" = Option<usize>, Query, minimum = 1, maximum = 100, description = "1–100; default 20"),
        ("offset" = Option<usize>, Query, description = "Default 0"),
        ("sort" = Option<String>, Query, pattern = "^(created_at|name)$", description = "`created_at` (default) or `name`"),
        ("order" = Option<String>, Query, pattern = "^(desc|asc)$", description = "`desc` (default) or `asc`")),
    responses((status = 200, description = "A page of instances", body = IdentityList<IdentityInstance>),
        (status = 422, description = "A field is invalid; `details.field` names it", body = IdentityError)))]
async fn list(State(ctx): State<Ctx>, Query(q): Q) -> Reply {
    let limit = parse::query_int(&q, "limit", 20, 1, 100)?;
    let offset = parse::query_int(&q, "offset", 0, 0, usize::MAX)?;
    let sort = match q.get("sort").map(String::as_str) {
        None | Some("created_at") => SortKey::CreatedAt,
        Some("name") => SortKey::Name,
        Some(_) => return Err(ApiError::invalid("sort", "must be created_at or name")),
    };
    let descending = match q.get("order").map(String::as_str) {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(ApiError::invalid("order", "must be asc or desc")),
    };
    let page = ctx.service.list(ListQuery {
        limit,
        offset,
        sort,
        descending,
    });
    let items = page.items.iter().map(render::instance).collect();
    Ok(axum::Json(render::page(ctx.dialect, &page, items, &[])).into_response())
}

/// One instance's metadata and headline state.
#[utoipa::path(get, path = "/instances/{id}", tag = "identity", operation_id = "get_instance",
    params(("id" = String, Path, pattern = "^inst_[0-9a-f]{16}$", description = "Instance id: `inst_` and 16 hex digits")),
    responses((status = 200, description = "The instance", body = IdentityData<IdentityInstance>),
        (status = 404, description = "No instance with that id", body = IdentityError),
        (status = 500, description = "The instance store failed; nothing was changed", body = IdentityError)))]
async fn fetch(State(ctx): State<Ctx>, Path(id): Path<String>) -> Reply {
    ok(&ctx, render::instance(&ctx.service.get(&id).await?))
}

/// Rename or redescribe an instance; its engine state is never touched here.
#[utoipa::path(patch, path = "/instances/{id}", tag = "identity", operation_id = "update_instance",
    params(("id" = String, Path, pattern = "^inst_[0-9a-f]{16}$", description = "Instance id: `inst_` and 16 hex digits")),
    request_body(content = IdentityUpdateInstance, content_type = "application/json",
        description = "May be empty: every field is optional"),
    responses((status = 200, description = "The updated instance", body = IdentityData<IdentityInstance>),
        (status = 404, description = "No instance with that id", body = IdentityError),
        (status = 422, description = "A field is invalid; `details.field` names it", body = IdentityError),
        (status = 500, description = "The instance store failed; nothing was changed", body = IdentityError)))]
async fn update(State(ctx): State<Ctx>, Path(id): Path<String>, body: Bytes) -> Reply {
    let obj = parse::body(&body)?;
    let name = parse::string(&obj, "name", "name")?;
    let description = parse::string(&obj, "description", "description")?;
    ok(
        &ctx,
        render::instance(&ctx.service.update(&id, name, description).await?),
    )
}

/// Delete an instance with its history and drift log. Cannot be undone.
#[utoipa::path(delete, path = "/instances/{id}", tag = "identity", operation_id = "delete_instance",
    params(("id" = String, Path, pattern = "^inst_[0-9a-f]{16}$", description = "Instance id: `inst_` and 16 hex digits")),
    responses((status = 200, description = "Deleted", body = IdentityData<IdentityDeleted>),
        (status = 404, description = "No instance with that id", body = IdentityError),
        (status = 500, description = "The instance store failed; nothing was changed", body = IdentityError)))]
async fn remove(State(ctx): State<Ctx>, Path(id): Path<String>) -> Reply {
    ctx.service.delete(&id).await?;
    ok(&ctx, json!({ "id": id, "deleted": true }))
}

/// Run one observation through the engine. One closer than the minimum interval to the
/// previous observation is answered with the unchanged state and `throttled: true`.
#[utoipa::path(post, path = "/instances/{id}/process", tag = "identity", operation_id = "process_observation",
    params(("id" = String, Path, pattern = "^inst_[0-9a-f]{16}$", description = "Instance id: `inst_` and 16 hex digits")),
    request_body(content = IdentityObservation, content_type = "application/json"),
    responses((status = 200, description = "The new snapshot and contract, and the drift of this cycle", body = IdentityData<IdentityOutcome>),
        (status = 404, description = "No instance with that id", body = IdentityError),
        (status = 422, description = "A field is invalid; `details.field` names it", body = IdentityError),
        (status = 500, description = "The instance store failed; nothing was changed", body = IdentityError)))]
async fn process(State(ctx): State<Ctx>, Path(id): Path<String>, body: Bytes) -> Reply {
    let input = parse::observation(&parse::body(&body)?, "")?;
    let outcome = ctx.service.observe(&id, input).await?;
    ok(&ctx, render::outcome(ctx.dialect, &outcome))
}

/// Run up to 1,000 observations in order, durably as one. The spec dialect answers the final
/// result plus `processed_count`, or `{"states": [...], "processed_count"}` with
/// `include_intermediate`; `/v1` answers a JSON list of results (the last, or all).
#[utoipa::path(post, path = "/instances/{id}/process/batch", tag = "identity", operation_id = "process_batch",
    params(("id" = String, Path, pattern = "^inst_[0-9a-f]{16}$", description = "Instance id: `inst_` and 16 hex digits"),
        ("include_intermediate" = Option<bool>, Query, description = "Return every result, not only the last (`true`/`false`/`1`/`0`)")),
    request_body(content = IdentityBatch, content_type = "application/json"),
    responses((status = 200, description = "The final result with `processed_count`, or every result", body = IdentityData<Value>),
        (status = 404, description = "No instance with that id", body = IdentityError),
        (status = 422, description = "A field is invalid; `details.field` names it", body = IdentityError),
        (status = 500, description = "The instance store failed; nothing was changed", body = IdentityError)))]
async fn process_batch(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Reply {
    let obj = parse::body(&body)?;
    let inputs = parse::observations(&obj)?;
    let intermediate = match parse::query_bool(&q, "include_intermediate")? {
        Some(b) => b,
        None => {
            parse::boolean(&obj, "include_intermediate", "include_intermediate")?.unwrap_or(false)
        }
    };
    let outcomes = ctx.service.observe_batch(&id, inputs).await?;
    let count = outcomes.len();
    let shown: Vec<Value> = if intermediate {
        outcomes
            .iter()
            .map(|o| render::outcome(ctx.dialect, o))
            .collect()
    } else {
        outcomes
            .last()
            .map(|o| render::outcome(ctx.dialect, o))
            .into_iter()
            .collect()
    };
    let body = match ctx.dialect {
        Dialect::Sdk => Value::Array(shown),
        Dialect::Spec if intermediate => {
            json!({ "data": { "states": shown, "processed_count": count } })
        }
        Dialect::Spec => {
            let mut last = shown.into_iter().next().unwrap_or(Value::Null);
            if let Value::Object(m) = &mut last {
                m.insert("processed_count".into(), json!(count));
            }
            json!({ "data": last })
        }
    };
    Ok(axum::Json(body).into_response())
}

/// The instance's current state: modes, energy, stress, system state, stability and its two
/// closest personas.
#[utoipa::path(get, path = "/instances/{id}/snapshot", tag = "identity", operation_id = "get_snapshot",
    params(("id" = String, Path, pattern = "^inst_[0-9a-f]{16}$", description = "Instance id: `inst_` and 16 hex digits")),
    responses((status = 200, description = "The snapshot", body = IdentityData<Value>),
        (status = 404, description = "No instance with that id", body = IdentityError),
        (status = 500, description = "The instance store failed; nothing was changed", body = IdentityError)))]
async fn snapshot(State(ctx): State<Ctx>, Path(id): Path<String>) -> Reply {
    ok(&ctx, render::snapshot(&ctx.service.snapshot(&id).await?))
}

/// What the agent may do now: allowed and forbidden actions, decision style, recovery, hard
/// locks, timing and trust.
#[utoipa::path(get, path = "/instances/{id}/contract", tag = "identity", operation_id = "get_contract",
    params(("id" = String, Path, pattern = "^inst_[0-9a-f]{16}$", description = "Instance id: `inst_` and 16 hex digits")),
    responses((status = 200, description = "The execution contract", body = IdentityData<Value>),
        (status = 404, description = "No instance with that id", body = IdentityError),
        (status = 500, description = "The instance store failed; nothing was changed", body = IdentityError)))]
async fn contract(State(ctx): State<Ctx>, Path(id): Path<String>) -> Reply {
    let c = ctx.service.contract(&id).await?;
    ok(&ctx, render::contract(&id, &c))
}

/// Restart the engine state at cycle 0; history and drift log are kept as the audit trail.
#[utoipa::path(post, path = "/instances/{id}/reset", tag = "identity", operation_id = "reset_instance",
    params(("id" = String, Path, pattern = "^inst_[0-9a-f]{16}$", description = "Instance id: `inst_` and 16 hex digits")),
    request_body(content = IdentityReset, content_type = "application/json",
        description = "May be empty: every field is optional"),
    responses((status = 200, description = "The snapshot after the reset, with `id` and `reset_to`", body = IdentityData<Value>),
        (status = 404, description = "No instance with that id", body = IdentityError),
        (status = 422, description = "A field is invalid; `details.field` names it", body = IdentityError),
        (status = 500, description = "The instance store failed; nothing was changed", body = IdentityError)))]
async fn reset(State(ctx): State<Ctx>, Path(id): Path<String>, body: Bytes) -> Reply {
    let obj = parse::body(&body)?;
    let to = match parse::string(&obj, "mode", "mode")? {
        None | Some("initial") => ResetTo::Initial,
        Some("default") => ResetTo::Default,
        Some(_) => return Err(ApiError::invalid("mode", "must be initial or default")),
    };
    let snap = ctx.service.reset(&id, to).await?;
    let mut v = render::snapshot(&snap);
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), json!(id));
        m.insert("reset_to".into(), json!(to.as_str()));
    }
    ok(&ctx, v)
}

/// Every recorded observation, newest first.
#[utoipa::path(get, path = "/instances/{id}/history", tag = "identity", operation_id = "get_history",
    params(("id" = String, Path, pattern = "^inst_[0-9a-f]{16}$", description = "Instance id: `inst_` and 16 hex digits"),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 1000, description = "1–1000; default 100 (50 under `/v1`)"),
        ("offset" = Option<usize>, Query, description = "Default 0")),
    responses((status = 200, description = "A page of observations with `instance_id`", body = IdentityList<Value>),
        (status = 404, description = "No instance with that id", body = IdentityError),
        (status = 422, description = "A field is invalid; `details.field` names it", body = IdentityError),
        (status = 500, description = "The instance store failed; nothing was changed", body = IdentityError)))]
async fn history(State(ctx): State<Ctx>, Path(id): Path<String>, Query(q): Q) -> Reply {
    let default = if ctx.dialect == Dialect::Spec {
        100
    } else {
        50
    };
    let limit = parse::query_int(&q, "limit", default, 1, 1000)?;
    let offset = parse::query_int(&q, "offset", 0, 0, usize::MAX)?;
    let page = ctx.service.history(&id, limit, offset).await?;
    let items = page.items.iter().map(render::history_item).collect();
    Ok(axum::Json(render::page(
        ctx.dialect,
        &page,
        items,
        &[("instance_id", json!(id))],
    ))
    .into_response())
}

fn drift_level(text: &str) -> Option<DriftLevel> {
    [
        DriftLevel::D0,
        DriftLevel::D1,
        DriftLevel::D2,
        DriftLevel::D3,
    ]
    .into_iter()
    .find(|l| l.code().eq_ignore_ascii_case(text) || l.name().eq_ignore_ascii_case(text))
}

/// Drift events of level D1 and above, newest first.
#[utoipa::path(get, path = "/instances/{id}/drift", tag = "identity", operation_id = "get_drift",
    params(("id" = String, Path, pattern = "^inst_[0-9a-f]{16}$", description = "Instance id: `inst_` and 16 hex digits"),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 1000, description = "1–1000; default 50"),
        ("offset" = Option<usize>, Query, description = "Default 0"),
        ("type" = Option<String>, Query, pattern = "^(D[0-3]|D0_noise|D1_context|D2_adaptive|D3_corrupt)$", description = "Only this level: `D1` or `D1_context` and so on, in any letter case; `level` is accepted too")),
    responses((status = 200, description = "A page of drift events with `instance_id`", body = IdentityList<Value>),
        (status = 404, description = "No instance with that id", body = IdentityError),
        (status = 422, description = "A field is invalid; `details.field` names it", body = IdentityError),
        (status = 500, description = "The instance store failed; nothing was changed", body = IdentityError)))]
async fn drift(State(ctx): State<Ctx>, Path(id): Path<String>, Query(q): Q) -> Reply {
    let limit = parse::query_int(&q, "limit", 50, 1, 1000)?;
    let offset = parse::query_int(&q, "offset", 0, 0, usize::MAX)?;
    let level = match q.get("type").or_else(|| q.get("level")) {
        None => None,
        Some(t) => Some(drift_level(t).ok_or_else(|| {
            ApiError::invalid("type", "must be a drift level such as D1 or D1_context")
        })?),
    };
    let page = ctx.service.drift(&id, limit, offset, level).await?;
    let items = page
        .items
        .iter()
        .map(|r| render::drift_event(ctx.dialect, r))
        .collect();
    Ok(axum::Json(render::page(
        ctx.dialect,
        &page,
        items,
        &[("instance_id", json!(id))],
    ))
    .into_response())
}

/// The twelve preset personas. `/v1` answers `{"personas": [...], "total"}`.
#[utoipa::path(get, path = "/personas", tag = "identity", operation_id = "list_identity_personas",
    responses((status = 200, description = "Every persona, on one page", body = IdentityList<Value>)))]
async fn personas(State(ctx): State<Ctx>) -> Reply {
    let items: Vec<Value> = PERSONAS.iter().map(|p| render::persona(p, false)).collect();
    let total = items.len();
    let body = match ctx.dialect {
        Dialect::Spec => {
            json!({ "data": items, "pagination": { "limit": total, "offset": 0, "total": total, "has_more": false } })
        }
        Dialect::Sdk => json!({ "personas": items, "total": total }),
    };
    Ok(axum::Json(body).into_response())
}

/// One preset persona with its long description, preferred actions and stress recovery.
#[utoipa::path(get, path = "/personas/{id}", tag = "identity", operation_id = "get_identity_persona",
    params(("id" = String, Path, description = "Persona id, e.g. `persona_analytical`")),
    responses((status = 200, description = "The persona", body = IdentityData<Value>),
        (status = 404, description = "No persona with that id", body = IdentityError)))]
async fn persona(State(ctx): State<Ctx>, Path(id): Path<String>) -> Reply {
    let p = find(&id).ok_or_else(|| ApiError::not_found(&format!("persona '{id}'")))?;
    ok(&ctx, render::persona(p, true))
}

/// The personality test's questions for a version, each with its four options.
#[utoipa::path(get, path = "/test/questions", tag = "identity", operation_id = "get_test_questions",
    params(("version" = Option<String>, Query, pattern = "^v[123]$", description = "`v1` (default, 14 questions), `v2` (21) or `v3` (28)")),
    responses((status = 200, description = "The questions", body = IdentityData<Value>),
        (status = 422, description = "A field is invalid; `details.field` names it", body = IdentityError)))]
async fn test_questions(State(ctx): State<Ctx>, Query(q): Q) -> Reply {
    let version = q.get("version").map_or("v1", String::as_str);
    let qs = questions(version).map_err(|e| ApiError::invalid("version", e.to_string()))?;
    let items: Vec<Value> = qs
        .iter()
        .map(|q| {
            let options: Vec<Value> = ["a", "b", "c", "d"]
                .iter()
                .zip(SCALE)
                .map(|(l, text)| json!({ "id": format!("q{}_{l}", q.id), "text": text }))
                .collect();
            let id = match ctx.dialect {
                Dialect::Spec => json!(format!("q{}", q.id)),
                Dialect::Sdk => json!(q.id),
            };
            json!({ "id": id, "text": q.text, "mode_target": q.mode_target.as_str(), "options": options })
        })
        .collect();
    let n = items.len();
    ok(
        &ctx,
        json!({ "version": version, "question_count": n, "total": n, "questions": items }),
    )
}

/// Score a completed test and set an instance's personality to the result, creating the
/// instance first with `create_instance`. Every question of the version must be answered exactly
/// once: a request the schema admits can still be a 422 (`incomplete_test`, `invalid_request`).
#[utoipa::path(post, path = "/test/submit", tag = "identity", operation_id = "submit_test",
    request_body(content = IdentityTestSubmit, content_type = "application/json"),
    responses((status = 200, description = "The mode profile, the three closest personas, and the new snapshot and contract", body = IdentityData<Value>),
        (status = 404, description = "No instance with `instance_id`", body = IdentityError),
        (status = 422, description = "A field is invalid (`invalid_request`), or questions are unanswered (`incomplete_test`, `details.missing_questions`)", body = IdentityError),
        (status = 500, description = "The instance store failed; nothing was changed", body = IdentityError)))]
async fn test_submit(State(ctx): State<Ctx>, body: Bytes) -> Reply {
    let obj = parse::body(&body)?;
    let instance_id = parse::string(&obj, "instance_id", "instance_id")?;
    let create = parse::boolean(&obj, "create_instance", "create_instance")?.unwrap_or(false);
    let subject = match (instance_id, create) {
        (Some(_), true) => {
            return Err(ApiError::invalid(
                "instance_id",
                "cannot be combined with create_instance",
            ));
        }
        (Some(id), false) => TestSubject::Existing(id.to_string()),
        (None, true) => TestSubject::Create {
            name: parse::string(&obj, "instance_name", "instance_name")?
                .unwrap_or("Personality test")
                .to_string(),
        },
        (None, false) => {
            return Err(ApiError::invalid(
                "instance_id",
                "is required unless create_instance is true",
            ));
        }
    };
    let version = parse::string(&obj, "version", "version")?.unwrap_or("v1");
    let answers = parse::answers(&obj)?;
    let t = ctx.service.submit_test(subject, version, &answers).await?;
    ok(
        &ctx,
        json!({
            "instance_id": t.instance.id,
            "test_completed": true,
            "version": version,
            "mode_profile": render::modes(&t.profile),
            "matched_personas": render::matches(&t.profile),
            "snapshot": render::snapshot(&t.snapshot),
            "contract": render::contract(&t.instance.id, &t.contract),
        }),
    )
}
