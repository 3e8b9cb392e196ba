//! Her local models for the dashboard: `GET /api/models` (the embedded library and Ollama's
//! tags) and `POST /api/models/pull` (a download in the background, its progress as `ModelPull`
//! frames on `/ws/system`).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::body::{Body, Field, Kind, Validated};
use crate::error::{ApiError, FieldError};
use crate::pulls::Source;

/// How long the model list waits for Ollama before calling it unreachable.
const TAGS_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Serialize, ToSchema)]
pub struct EmbeddedModel {
    pub name: String,
    pub file: String,
    pub size: u64,
    pub sha256: String,
    pub context_length: Option<u64>,
    pub chat_template_present: bool,
}

#[derive(Serialize, ToSchema)]
pub struct OllamaModel {
    pub name: String,
    pub size: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct OllamaModels {
    /// Whether Ollama answered at `OLLAMA_BASE_URL`.
    pub reachable: bool,
    pub models: Vec<OllamaModel>,
}

#[derive(Serialize, ToSchema)]
pub struct LocalModelList {
    /// The GGUF files in `ETERNEGO_HOME/models/`, run inside the daemon.
    pub embedded: Vec<EmbeddedModel>,
    pub ollama: OllamaModels,
}

#[derive(Deserialize, ToSchema)]
pub struct PullRequest {
    /// `hf.co/OWNER/REPO[:QUANT]` for Hugging Face; anything else is an Ollama model name:
    /// letters, digits and `._-/:`, not starting with `/`, `.` or `:`, no `..`, at most 200
    /// bytes. Surrounding blanks are trimmed (the pattern leaves them out).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[A-Za-z0-9_-]([A-Za-z0-9_/:-]|\.[A-Za-z0-9_/:-])*\.?$"
    )]
    pub name: String,
}

impl Validated for PullRequest {
    const FIELDS: &'static [Field] = &[Field::required("name", Kind::Str)];
}

#[derive(Serialize, ToSchema)]
pub struct PullStarted {
    pub name: String,
    /// `huggingface` or `ollama`.
    pub source: String,
}

/// Her embedded models and Ollama's, side by side.
#[utoipa::path(get, path = "/api/models", tag = "models", operation_id = "list_local_models",
    responses((status = 200, description = "Embedded and Ollama models", body = LocalModelList)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<LocalModelList>, ApiError> {
    let home = state.config.home.clone();
    let library = tokio::task::spawn_blocking(move || models::Library::open(&home))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let embedded = library
        .list()
        .into_iter()
        .map(|m| EmbeddedModel {
            chat_template_present: m.chat_template.is_some(),
            name: m.name,
            file: m.file,
            size: m.size,
            sha256: m.sha256,
            context_length: m.context_length,
        })
        .collect();
    Ok(Json(LocalModelList {
        embedded,
        ollama: ollama_tags(&state).await,
    }))
}

async fn ollama_tags(state: &AppState) -> OllamaModels {
    let unreachable = OllamaModels {
        reachable: false,
        models: vec![],
    };
    let url = format!("{}/api/tags", state.config.providers.local);
    let Ok(response) = state
        .pulls
        .http()
        .get(url)
        .timeout(TAGS_TIMEOUT)
        .send()
        .await
    else {
        return unreachable;
    };
    if !response.status().is_success() {
        return unreachable;
    }
    let Ok(body) = response.json::<Value>().await else {
        return unreachable;
    };
    let models = body
        .get("models")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| {
            Some(OllamaModel {
                name: m.get("name")?.as_str()?.to_string(),
                size: m.get("size").and_then(Value::as_u64),
            })
        })
        .collect();
    OllamaModels {
        reachable: true,
        models,
    }
}

/// Starts pulling a model in the background: `hf.co/OWNER/REPO[:QUANT]` from Hugging Face into
/// her library, any other name into Ollama. Progress arrives as `ModelPull` frames on
/// `/ws/system`; a pull of a name already being pulled joins it.
#[utoipa::path(post, path = "/api/models/pull", tag = "models", operation_id = "pull_model", request_body = PullRequest,
    responses(
        (status = 202, description = "The pull started (or was already running)", body = PullStarted),
        (status = 400, description = "Not a valid model name", body = crate::error::ErrorBody),
        (status = 422, description = "No name", body = crate::error::ValidationBody)))]
pub async fn pull(
    State(state): State<AppState>,
    Body(request): Body<PullRequest>,
) -> Result<(StatusCode, Json<PullStarted>), ApiError> {
    let name = request.name.trim().to_string();
    if name.is_empty() {
        return Err(ApiError::Validation(vec![FieldError::new(
            "string_too_short",
            &["body", "name"],
            "String should have at least 1 character",
            Value::String(request.name),
        )]));
    }
    let source = if models::hf::Reference::is_hugging_face(&name) {
        let reference =
            models::hf::Reference::parse(&name).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        models::validate_name(&reference.default_name())
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        Source::HuggingFace
    } else {
        check_ollama_name(&name)?;
        Source::Ollama
    };
    state.pulls.start(name.clone(), source);
    Ok((
        StatusCode::ACCEPTED,
        Json(PullStarted {
            name,
            source: source.as_str().into(),
        }),
    ))
}

/// Ollama names are `[namespace/]model[:tag]` of letters, digits and `._-`; anything else
/// would only come back as Ollama's error after a round trip.
fn check_ollama_name(name: &str) -> Result<(), ApiError> {
    let ok = name.len() <= 200
        && !name.contains("..")
        && !name.starts_with(['/', '.', ':'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "'{}' is not a valid model name (hf.co/OWNER/REPO[:QUANT] for Hugging Face, or an Ollama name such as llama3.2:1b)",
            name.escape_debug()
        )))
    }
}
