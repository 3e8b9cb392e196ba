//! OpenAI's API in front of her: each persona is a model (`id` = her id), so any client written
//! for OpenAI can talk with her. Errors here take OpenAI's shape
//! (`{"error": {"message", "type", "param", "code"}}`), which those clients parse.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use persona::Persona;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::body::parse_id;

/// An error as OpenAI's API answers it.
#[derive(Debug)]
pub struct OpenAiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl OpenAiError {
    pub fn model_not_found(model: &str) -> OpenAiError {
        OpenAiError {
            status: StatusCode::NOT_FOUND,
            kind: "invalid_request_error",
            code: "model_not_found",
            message: format!("The model `{model}` does not exist: no persona has that id."),
        }
    }
}

/// The body of every error on these routes.
#[derive(Serialize, ToSchema)]
pub struct OpenAiErrorBody {
    pub error: OpenAiErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct OpenAiErrorDetail {
    pub message: String,
    /// `invalid_request_error`, `conflict_error`, `timeout_error` or `server_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always null: no error here is about one parameter OpenAI's clients could point at.
    pub param: Option<String>,
    /// `model_not_found`, `persona_not_running`, `timeout`, …
    pub code: String,
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "chat request failed");
        }
        let body = json!({"error": {"message": self.message, "type": self.kind,
                                    "param": null, "code": self.code}});
        (self.status, Json(body)).into_response()
    }
}

/// One persona as an OpenAI model.
#[derive(Serialize, ToSchema)]
pub struct Model {
    /// Her id: what `model` names in a chat completion.
    pub id: String,
    /// Always `model`.
    pub object: &'static str,
    /// Her birthday, as Unix seconds (midnight UTC).
    pub created: i64,
    /// Always `eternego`.
    pub owned_by: &'static str,
    /// Her name (not part of OpenAI's object; its clients keep unknown fields).
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<Model>,
}

fn model(persona: &Persona) -> Model {
    let created = time::Date::parse(
        &persona.birthday,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map(|d| d.midnight().assume_utc().unix_timestamp())
    .unwrap_or(0);
    Model {
        id: persona.id.to_string(),
        object: "model",
        created,
        owned_by: "eternego",
        name: persona.name.clone(),
    }
}

/// The persona a `model` names, or OpenAI's 404.
pub fn persona_for(state: &AppState, model_id: &str) -> Result<Persona, OpenAiError> {
    parse_id(model_id)
        .and_then(|id| state.manager.store().load(id).ok())
        .ok_or_else(|| OpenAiError::model_not_found(model_id))
}

/// Every persona on this machine, as OpenAI models.
#[utoipa::path(get, path = "/v1/models", tag = "openai", operation_id = "list_models",
    responses((status = 200, body = ModelList)))]
pub async fn list_models(State(state): State<AppState>) -> Json<ModelList> {
    Json(ModelList {
        object: "list",
        data: state.manager.store().list().iter().map(model).collect(),
    })
}

/// One persona as an OpenAI model.
#[utoipa::path(get, path = "/v1/models/{model}", tag = "openai", operation_id = "retrieve_model",
    params(("model" = String, Path, description = "Her id")),
    responses((status = 200, body = Model),
        (status = 404, description = "No persona has that id", body = OpenAiErrorBody)))]
pub async fn retrieve_model(
    State(state): State<AppState>,
    Path(model_id): Path<String>,
) -> Result<Json<Model>, OpenAiError> {
    Ok(Json(model(&persona_for(&state, &model_id)?)))
}
