//! Bringing a persona into being: create, and migrate from a diary; and exporting her diary.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::body::{Body, Field, Kind, Validated};
use crate::error::{ApiError, ErrorBody, FieldError, ValidationBody};
use crate::manager::Environment;
use organs::OrganRequest;
use persona::{OrganSlot, Persona};

#[derive(Deserialize, ToSchema)]
pub struct CreateRequest {
    /// Her display name.
    pub name: String,
    /// Mind model name. Without `thinking_provider` it is a local (Ollama) model. Each
    /// `*_provider` is `anthropic`, `openai`, `xai` or `gemini`, or empty, `local` or `ollama`
    /// for a local model, in any letter case (the schema lists them lowercase).
    pub thinking_model: String,
    pub thinking_url: Option<String>,
    #[schema(pattern = "^(anthropic|openai|xai|gemini|local|ollama|)$")]
    pub thinking_provider: Option<String>,
    pub thinking_api_key: Option<String>,
    pub imagination_model: Option<String>,
    pub imagination_url: Option<String>,
    #[schema(pattern = "^(anthropic|openai|xai|gemini|local|ollama|)$")]
    pub imagination_provider: Option<String>,
    pub imagination_api_key: Option<String>,
    pub mouth_model: Option<String>,
    pub mouth_url: Option<String>,
    #[schema(pattern = "^(anthropic|openai|xai|gemini|local|ollama|)$")]
    pub mouth_provider: Option<String>,
    pub mouth_api_key: Option<String>,
    pub eye_model: Option<String>,
    pub eye_url: Option<String>,
    #[schema(pattern = "^(anthropic|openai|xai|gemini|local|ollama|)$")]
    pub eye_provider: Option<String>,
    pub eye_api_key: Option<String>,
    pub ear_model: Option<String>,
    pub ear_url: Option<String>,
    #[schema(pattern = "^(anthropic|openai|xai|gemini|local|ollama|)$")]
    pub ear_provider: Option<String>,
    pub ear_api_key: Option<String>,
    pub teacher_model: Option<String>,
    pub teacher_url: Option<String>,
    #[schema(pattern = "^(anthropic|openai|xai|gemini|local|ollama|)$")]
    pub teacher_provider: Option<String>,
    pub teacher_api_key: Option<String>,
    pub researcher_model: Option<String>,
    pub researcher_url: Option<String>,
    #[schema(pattern = "^(anthropic|openai|xai|gemini|local|ollama|)$")]
    pub researcher_provider: Option<String>,
    pub researcher_api_key: Option<String>,
    pub telegram_token: Option<String>,
    pub discord_token: Option<String>,
}

impl Validated for CreateRequest {
    const FIELDS: &'static [Field] = &[
        Field::required("name", Kind::Str),
        Field::required("thinking_model", Kind::Str),
        Field::optional("thinking_url", Kind::Str),
        Field::optional("thinking_provider", Kind::Str),
        Field::optional("thinking_api_key", Kind::Str),
        Field::optional("imagination_model", Kind::Str),
        Field::optional("imagination_url", Kind::Str),
        Field::optional("imagination_provider", Kind::Str),
        Field::optional("imagination_api_key", Kind::Str),
        Field::optional("mouth_model", Kind::Str),
        Field::optional("mouth_url", Kind::Str),
        Field::optional("mouth_provider", Kind::Str),
        Field::optional("mouth_api_key", Kind::Str),
        Field::optional("eye_model", Kind::Str),
        Field::optional("eye_url", Kind::Str),
        Field::optional("eye_provider", Kind::Str),
        Field::optional("eye_api_key", Kind::Str),
        Field::optional("ear_model", Kind::Str),
        Field::optional("ear_url", Kind::Str),
        Field::optional("ear_provider", Kind::Str),
        Field::optional("ear_api_key", Kind::Str),
        Field::optional("teacher_model", Kind::Str),
        Field::optional("teacher_url", Kind::Str),
        Field::optional("teacher_provider", Kind::Str),
        Field::optional("teacher_api_key", Kind::Str),
        Field::optional("researcher_model", Kind::Str),
        Field::optional("researcher_url", Kind::Str),
        Field::optional("researcher_provider", Kind::Str),
        Field::optional("researcher_api_key", Kind::Str),
        Field::optional("telegram_token", Kind::Str),
        Field::optional("discord_token", Kind::Str),
    ];
    /// The original's create form names the eye `vision` and the teacher `frontier`.
    const ALIASES: &'static [(&'static str, &'static str)] = &[
        ("vision_model", "eye_model"),
        ("vision_url", "eye_url"),
        ("vision_provider", "eye_provider"),
        ("vision_api_key", "eye_api_key"),
        ("frontier_model", "teacher_model"),
        ("frontier_url", "teacher_url"),
        ("frontier_provider", "teacher_provider"),
        ("frontier_api_key", "teacher_api_key"),
    ];
}

impl CreateRequest {
    fn organ(&self, slot: OrganSlot) -> OrganRequest {
        match slot {
            OrganSlot::Thinking => OrganRequest {
                model: Some(self.thinking_model.clone()),
                provider: self.thinking_provider.clone(),
                url: self.thinking_url.clone(),
                api_key: self.thinking_api_key.clone(),
            },
            OrganSlot::Imagination => OrganRequest {
                model: self.imagination_model.clone(),
                provider: self.imagination_provider.clone(),
                url: self.imagination_url.clone(),
                api_key: self.imagination_api_key.clone(),
            },
            OrganSlot::Mouth => OrganRequest {
                model: self.mouth_model.clone(),
                provider: self.mouth_provider.clone(),
                url: self.mouth_url.clone(),
                api_key: self.mouth_api_key.clone(),
            },
            OrganSlot::Eye => OrganRequest {
                model: self.eye_model.clone(),
                provider: self.eye_provider.clone(),
                url: self.eye_url.clone(),
                api_key: self.eye_api_key.clone(),
            },
            OrganSlot::Ear => OrganRequest {
                model: self.ear_model.clone(),
                provider: self.ear_provider.clone(),
                url: self.ear_url.clone(),
                api_key: self.ear_api_key.clone(),
            },
            OrganSlot::Teacher => OrganRequest {
                model: self.teacher_model.clone(),
                provider: self.teacher_provider.clone(),
                url: self.teacher_url.clone(),
                api_key: self.teacher_api_key.clone(),
            },
            OrganSlot::Researcher => OrganRequest {
                model: self.researcher_model.clone(),
                provider: self.researcher_provider.clone(),
                url: self.researcher_url.clone(),
                api_key: self.researcher_api_key.clone(),
            },
        }
    }

    fn environment(&self) -> Environment {
        Environment {
            thinking: self.organ(OrganSlot::Thinking),
            organs: OrganSlot::OPTIONAL
                .into_iter()
                .map(|slot| (slot, self.organ(slot)))
                .collect(),
            telegram_token: self.telegram_token.clone(),
            discord_token: self.discord_token.clone(),
        }
    }
}

/// The longest name a persona may have: her identity instance is named `persona <name>`, and
/// an instance name is bounded, so a longer name would give a persona that can never start.
pub const NAME_MAX_CHARS: usize = instances::NAME_MAX_CHARS - "persona ".len();

/// Refuses a name too long for her identity instance, as pydantic's `max_length` would.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    if name.chars().count() <= NAME_MAX_CHARS {
        return Ok(());
    }
    Err(ApiError::Validation(vec![FieldError {
        ctx: Some(serde_json::json!({ "max_length": NAME_MAX_CHARS })),
        ..FieldError::new(
            "string_too_long",
            &["body", "name"],
            &format!("String should have at most {NAME_MAX_CHARS} characters"),
            serde_json::Value::from(name),
        )
    }]))
}

#[derive(Serialize, ToSchema)]
pub struct CreateReply {
    /// The full record as saved, keys included: treat the whole response as a secret.
    #[schema(value_type = Object)]
    pub persona: Persona,
    /// Her 24-word phrase. Shown once.
    pub recovery_phrase: String,
}

/// Validate her organs and channels, write her files, generate her phrase, and start her.
///
/// A request the schema admits can still be a 400: each organ is probed at its provider (the
/// model must exist there, the URL answer, the key be accepted) and each channel token is checked
/// with its platform.
#[utoipa::path(post, path = "/api/persona/create", tag = "create",
    request_body = CreateRequest,
    responses((status = 200, body = CreateReply),
        (status = 400, description = "A model or channel could not be prepared", body = ErrorBody),
        (status = 422, description = "Body failed validation (a missing field, a wrong type, or a name over 92 characters)", body = ValidationBody),
        (status = 500, description = "Created but failed to start", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Body(request): Body<CreateRequest>,
) -> Result<Json<CreateReply>, ApiError> {
    check_name(&request.name)?;
    let env = request.environment();
    let (persona, phrase) = state.manager.create(request.name, env).await?;
    Ok(Json(CreateReply {
        persona,
        recovery_phrase: phrase.as_str().to_string(),
    }))
}
