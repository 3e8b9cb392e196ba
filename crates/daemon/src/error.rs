//! Every error the API answers with, mapped to its status and FastAPI-shaped body in one place:
//! the domain errors the routes meet ([`ManagerError`], [`MindError`]) become an [`ApiError`]
//! here and nowhere else, by exhaustive matches, so a new variant cannot go unmapped. (The
//! OpenAI dialect has its own table in `routes/openai.rs`; the identity dialects theirs in
//! `instances::http`.)

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::manager::{ManagerError, StartError};
use mind::MindError;

/// One entry of a 422 `detail` list, as FastAPI (pydantic 2) writes it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    #[serde(rename = "type")]
    pub kind: String,
    /// Where the error is: field names and list indexes, e.g. `["body", "organs", 0]`.
    #[schema(schema_with = loc_schema)]
    pub loc: Vec<Value>,
    pub msg: String,
    /// What was sent there, whatever its type (`null` when it was missing).
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

/// `loc` items are strings or integers, as pydantic writes them.
fn loc_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    ArrayBuilder::new()
        .items(
            OneOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(Type::String))
                .item(ObjectBuilder::new().schema_type(Type::Integer)),
        )
        .build()
}

impl FieldError {
    pub fn new(kind: &str, loc: &[&str], msg: &str, input: Value) -> FieldError {
        FieldError {
            kind: kind.into(),
            loc: loc.iter().map(|s| Value::from(*s)).collect(),
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    pub fn missing(loc: &[&str], input: Value) -> FieldError {
        FieldError::new("missing", loc, "Field required", input)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    Internal(String),
}

/// `{"detail": ...}` — the body of every error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub detail: String,
}

/// `{"detail": [...]}` — the body of a 422.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ValidationBody {
    pub detail: Vec<FieldError>,
}

impl ApiError {
    pub fn persona_not_found() -> ApiError {
        ApiError::NotFound("Persona not found.".into())
    }

    pub fn not_active() -> ApiError {
        ApiError::Conflict("Persona is not active.".into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(detail = %self, "request failed");
        }
        let body = match self {
            ApiError::Validation(errors) => json!({ "detail": errors }),
            other => json!({ "detail": other.to_string() }),
        };
        (status, axum::Json(body)).into_response()
    }
}

/// The status of every manager failure. A disk failure is a 500 (`OSError: ...`), except where
/// the spec says 400: a create that failed on its way down, a delete that could not remove her
/// files. An organ that cannot be reached is a 400 whose detail names the organ.
impl From<ManagerError> for ApiError {
    fn from(e: ManagerError) -> ApiError {
        let detail = e.to_string();
        match e {
            ManagerError::NotFound | ManagerError::NotRunning | ManagerError::ChannelNotFound => {
                ApiError::NotFound(detail)
            }
            ManagerError::NotActive | ManagerError::Running => ApiError::Conflict(detail),
            ManagerError::InvalidStatus
            | ManagerError::UnknownChannelKind(_)
            | ManagerError::ChannelTaken { .. }
            | ManagerError::Organ(_)
            | ManagerError::Channel(_)
            | ManagerError::Register(_)
            | ManagerError::Unregister(_)
            | ManagerError::Sleep(_)
            | ManagerError::Restore(_)
            | ManagerError::Corrupt
            | ManagerError::NameTooLong { .. }
            | ManagerError::Start(_)
            | ManagerError::Create(_)
            | ManagerError::Delete(_) => ApiError::BadRequest(detail),
            ManagerError::Lifecycle { .. } | ManagerError::Save { .. } => {
                ApiError::Internal(detail)
            }
            ManagerError::Disk(_) => ApiError::Internal(format!("OSError: {detail}")),
        }
    }
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> ApiError {
        ManagerError::Start(e).into()
    }
}

/// The status of every failure of a running agent's acts (read, hear, attach, feed, pair).
impl From<MindError> for ApiError {
    fn from(e: MindError) -> ApiError {
        let detail = e.to_string();
        match e {
            MindError::Stopped => ApiError::Conflict(detail),
            MindError::Unperceivable(_) => ApiError::Unsupported(detail),
            MindError::Invalid(_) | MindError::Pair(_) | MindError::Organ(_) => {
                ApiError::BadRequest(detail)
            }
            MindError::Faulted { .. }
            | MindError::NoPhrase
            | MindError::Store(_)
            | MindError::Diary(_)
            | MindError::Join(_)
            | MindError::Io(_)
            | MindError::Identity(_) => ApiError::Internal(detail),
        }
    }
}
