//! Channels at runtime: add a Telegram or Discord bot to her, or remove one, whether or not
//! she runs (a running agent is restarted so her gateways follow).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::body::{Body, Field, Kind, Validated, parse_id};
use crate::error::{ApiError, ErrorBody, ValidationBody};
use crate::manager::reach::parse_kind;

#[derive(Deserialize, ToSchema)]
pub struct ChannelCredentials {
    /// The bot token: Telegram's from BotFather, Discord's from the developer portal.
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
pub struct AddChannelRequest {
    /// `telegram` or `discord`.
    pub kind: String,
    pub credentials: ChannelCredentials,
}

impl Validated for AddChannelRequest {
    const FIELDS: &'static [Field] = &[
        Field::required("kind", Kind::Str),
        Field::required(
            "credentials",
            Kind::Object(&[Field::required("token", Kind::Str)]),
        ),
    ];
}

/// The channel as her record now shows it (never its token).
#[derive(Serialize, ToSchema)]
pub struct ChannelReply {
    /// `telegram` or `discord`.
    pub kind: &'static str,
    /// What `DELETE .../channels/{name}` takes: the kind until a chat is paired, then the chat id.
    pub name: String,
}

/// Add a Telegram or Discord channel. The token is checked with the platform before anything is
/// saved; she has at most one channel of each kind. She answers an unknown chat with a pairing
/// code, which `POST .../pair` redeems.
#[utoipa::path(post, path = "/api/persona/{persona_id}/channels", tag = "channels",
    operation_id = "add_channel",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    request_body = AddChannelRequest,
    responses((status = 200, body = ChannelReply),
        (status = 400, description = "`<Kind> validation failed: <reason>`, an unknown kind, or a kind she already has", body = ErrorBody),
        (status = 404, description = "Persona not found.", body = ErrorBody),
        (status = 422, description = "kind or credentials.token missing", body = ValidationBody),
        (status = 500, description = "`Channel added but restart failed: <reason>` (the channel is saved)", body = ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Body(request): Body<AddChannelRequest>,
) -> Result<Json<ChannelReply>, ApiError> {
    let id = parse_id(&raw).ok_or_else(ApiError::persona_not_found)?;
    state.manager.known(id)?;
    let kind = parse_kind(&request.kind)?;
    let channel = state
        .manager
        .add_channel(id, kind, &request.credentials.token)
        .await?;
    Ok(Json(ChannelReply {
        kind: channel.kind.as_str(),
        name: channel.name,
    }))
}

/// Remove a channel by the `name` her record shows now (or by its kind): an unpaired channel is
/// named after its kind, a paired one after its chat. Answers the channel removed.
#[utoipa::path(delete, path = "/api/persona/{persona_id}/channels/{channel_name}", tag = "channels",
    operation_id = "remove_channel",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)"),
        ("channel_name" = String, Path, description = "The channel's `name` in her record, or its kind")),
    responses((status = 200, body = ChannelReply),
        (status = 404, description = "Persona not found. / Channel not found.", body = ErrorBody),
        (status = 500, description = "`Channel removed but restart failed: <reason>` (the removal is saved)", body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Path((raw, name)): Path<(String, String)>,
) -> Result<Json<ChannelReply>, ApiError> {
    let id = parse_id(&raw).ok_or_else(ApiError::persona_not_found)?;
    let channel = state.manager.remove_channel(id, &name).await?;
    Ok(Json(ChannelReply {
        kind: channel.kind.as_str(),
        name: channel.name,
    }))
}
