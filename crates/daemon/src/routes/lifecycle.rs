//! Start, stop, restart, sleep, update and delete.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::body::{Body, Field, Kind, PersonaId, Validated};
use crate::error::{ApiError, ErrorBody};
use crate::manager::Changes;
use organs::OrganRequest;
use persona::OrganSlot;

#[derive(Serialize, ToSchema)]
pub struct StatusReply {
    /// `started`, `already running`, `stopped` or `restarted`.
    pub status: &'static str,
}

/// Bring her up from her files on disk.
#[utoipa::path(post, path = "/api/persona/{persona_id}/start", tag = "lifecycle",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    responses((status = 200, body = StatusReply),
        (status = 404, description = "No persona with that id", body = ErrorBody),
        (status = 400, description = "Found but failed to start", body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
) -> Result<Json<StatusReply>, ApiError> {
    let started = state.manager.start(id).await?;
    Ok(Json(StatusReply {
        status: if started {
            "started"
        } else {
            "already running"
        },
    }))
}

/// Tear down her running agent. Her files and status are untouched.
#[utoipa::path(post, path = "/api/persona/{persona_id}/stop", tag = "lifecycle",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    responses((status = 200, body = StatusReply),
        (status = 404, description = "Persona is not running.", body = ErrorBody)))]
pub async fn stop(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
) -> Result<Json<StatusReply>, ApiError> {
    state.manager.stop(id).await?;
    Ok(Json(StatusReply { status: "stopped" }))
}

/// Re-read her from disk and rebuild her agent; starts her if she was not running.
#[utoipa::path(post, path = "/api/persona/{persona_id}/restart", tag = "lifecycle",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    responses((status = 200, body = StatusReply),
        (status = 404, description = "No persona with that id", body = ErrorBody),
        (status = 400, description = "Failed to start", body = ErrorBody)))]
pub async fn restart(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
) -> Result<Json<StatusReply>, ApiError> {
    state.manager.restart(id).await?;
    Ok(Json(StatusReply {
        status: "restarted",
    }))
}

/// Send her into her nightly ritual. Answers `null` when done.
#[utoipa::path(post, path = "/api/persona/{persona_id}/sleep", tag = "lifecycle",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    responses((status = 200, description = "null"),
        (status = 404, description = "Persona not found.", body = ErrorBody),
        (status = 409, description = "Persona is not active.", body = ErrorBody),
        (status = 400, description = "Sleep failed unexpectedly.", body = ErrorBody)))]
pub async fn sleep(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
) -> Result<Json<()>, ApiError> {
    state.manager.sleep(id).await?;
    Ok(Json(()))
}

/// Permanently remove her and all her data.
#[utoipa::path(post, path = "/api/persona/{persona_id}/delete", tag = "lifecycle",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    responses((status = 200, description = "null"),
        (status = 404, description = "Persona not found.", body = ErrorBody),
        (status = 400, description = "Deletion failed", body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
) -> Result<Json<()>, ApiError> {
    state.manager.delete(id).await?;
    Ok(Json(()))
}

/// One organ as `update` takes it.
#[derive(Deserialize, ToSchema)]
pub struct OrganBody {
    pub model: String,
    /// `anthropic`, `openai`, `xai` or `gemini`; empty, `local` or `ollama` for a local model.
    #[schema(pattern = "^(anthropic|openai|xai|gemini|local|ollama|)$")]
    pub provider: Option<String>,
    pub url: Option<String>,
    pub api_key: Option<String>,
}

impl From<OrganBody> for OrganRequest {
    fn from(o: OrganBody) -> OrganRequest {
        OrganRequest {
            model: Some(o.model),
            provider: o.provider,
            url: o.url,
            api_key: o.api_key,
        }
    }
}

/// Any key outside these is a 422 `extra_forbidden` naming it. The original's dashboard also
/// sends `vision`, `frontier`, `clear_vision` and `clear_frontier`: accepted as aliases of `eye`,
/// `teacher`, `clear_eye` and `clear_teacher` (sending an alias with its field is a 422).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// `active`, `hibernate` or `sick`.
    #[schema(pattern = "^(active|hibernate|sick)$")]
    pub status: Option<String>,
    pub thinking: Option<OrganBody>,
    pub imagination: Option<OrganBody>,
    pub mouth: Option<OrganBody>,
    pub eye: Option<OrganBody>,
    pub ear: Option<OrganBody>,
    pub teacher: Option<OrganBody>,
    pub researcher: Option<OrganBody>,
    #[serde(default)]
    pub clear_imagination: Option<bool>,
    #[serde(default)]
    pub clear_mouth: Option<bool>,
    #[serde(default)]
    pub clear_eye: Option<bool>,
    #[serde(default)]
    pub clear_ear: Option<bool>,
    #[serde(default)]
    pub clear_teacher: Option<bool>,
    #[serde(default)]
    pub clear_researcher: Option<bool>,
}

impl Validated for UpdateRequest {
    const FIELDS: &'static [Field] = &[
        Field::optional("status", Kind::Str),
        Field::optional("thinking", Kind::Organ),
        Field::optional("imagination", Kind::Organ),
        Field::optional("mouth", Kind::Organ),
        Field::optional("eye", Kind::Organ),
        Field::optional("ear", Kind::Organ),
        Field::optional("teacher", Kind::Organ),
        Field::optional("researcher", Kind::Organ),
        Field::optional("clear_imagination", Kind::Bool),
        Field::optional("clear_mouth", Kind::Bool),
        Field::optional("clear_eye", Kind::Bool),
        Field::optional("clear_ear", Kind::Bool),
        Field::optional("clear_teacher", Kind::Bool),
        Field::optional("clear_researcher", Kind::Bool),
    ];
    /// The original's dashboard names the eye `vision` and the teacher `frontier`.
    const ALIASES: &'static [(&'static str, &'static str)] = &[
        ("vision", "eye"),
        ("frontier", "teacher"),
        ("clear_vision", "clear_eye"),
        ("clear_frontier", "clear_teacher"),
    ];
    /// An unknown key used to be dropped with a 200, so a person believed she saved it.
    const CLOSED: bool = true;
}

impl From<UpdateRequest> for Changes {
    fn from(r: UpdateRequest) -> Changes {
        let organs = [
            (OrganSlot::Thinking, r.thinking),
            (OrganSlot::Imagination, r.imagination),
            (OrganSlot::Mouth, r.mouth),
            (OrganSlot::Eye, r.eye),
            (OrganSlot::Ear, r.ear),
            (OrganSlot::Teacher, r.teacher),
            (OrganSlot::Researcher, r.researcher),
        ]
        .into_iter()
        .filter_map(|(slot, body)| Some((slot, OrganRequest::from(body?))))
        .collect();
        let clear = [
            (OrganSlot::Imagination, r.clear_imagination),
            (OrganSlot::Mouth, r.clear_mouth),
            (OrganSlot::Eye, r.clear_eye),
            (OrganSlot::Ear, r.clear_ear),
            (OrganSlot::Teacher, r.clear_teacher),
            (OrganSlot::Researcher, r.clear_researcher),
        ]
        .into_iter()
        .filter_map(|(slot, flag)| (flag == Some(true)).then_some(slot))
        .collect();
        Changes {
            status: r.status,
            organs,
            clear,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UpdateReply {
    pub status: String,
    pub running: bool,
}

/// Change her status and/or organs, save, then reconcile her running agent.
///
/// A request the schema admits can still be a 400: each organ given is probed at its provider
/// as `create` does.
#[utoipa::path(post, path = "/api/persona/{persona_id}/update", tag = "lifecycle",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    request_body = UpdateRequest,
    responses((status = 200, body = UpdateReply),
        (status = 404, description = "Persona not found.", body = ErrorBody),
        (status = 400, description = "Invalid status, or an organ could not be prepared", body = ErrorBody),
        (status = 422, description = "Body failed validation", body = crate::error::ValidationBody),
        (status = 500, description = "Saved, but the lifecycle change failed", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
    Body(request): Body<UpdateRequest>,
) -> Result<Json<UpdateReply>, ApiError> {
    let (status, running) = state.manager.update(id, request.into()).await?;
    Ok(Json(UpdateReply {
        status: status.as_str().to_string(),
        running,
    }))
}
