//! Live-agent routes: what reaches her while she runs (read, hear, attach, feed, pair), and the
//! read-only views of what she keeps (conversation, knowledge, calendar, diagnose, media).
//!
//! The perception routes need her running (409 `Persona is not active.` when she exists but is
//! stopped, 404 `Persona not found.` when nobody has that id). The read
//! routes read her files, so they answer whether she runs or not (404 for an unknown persona),
//! as the documentation of the knowledge API says.

use std::sync::Arc;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use mind::Agent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::AppState;
use crate::body::{Body, Field, Kind, PersonaId, Validated, parse_id};
use crate::error::{ApiError, ErrorBody, ValidationBody};
use crate::upload;
use crate::view::PersonaView;

/// Her running agent; an id nobody has is `404 Persona not found.`, and only a persona who
/// exists but is stopped is `409 Persona is not active.`.
async fn running(state: &AppState, id: Uuid) -> Result<Arc<Agent>, ApiError> {
    Ok(state.manager.running(id).await?)
}

fn known(state: &AppState, id: Uuid) -> Result<mind::home::Home, ApiError> {
    Ok(state.manager.home(id)?)
}

#[derive(Serialize, ToSchema)]
pub struct Received {
    /// Always `received`: her reply comes over the web channel.
    pub status: &'static str,
}

const RECEIVED: Received = Received { status: "received" };

#[derive(Deserialize, ToSchema)]
pub struct ReadRequest {
    /// The text to send her; blank text is refused (400).
    #[schema(min_length = 1, pattern = r"\S")]
    pub message: String,
}

impl Validated for ReadRequest {
    const FIELDS: &'static [Field] = &[Field::required("message", Kind::Str)];
}

/// Send her a text message, as typing in the chat box does.
#[utoipa::path(post, path = "/api/persona/{persona_id}/read", tag = "perception",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    request_body = ReadRequest,
    responses((status = 200, body = Received),
        (status = 400, description = "Empty message", body = ErrorBody),
        (status = 404, description = "Persona not found.", body = ErrorBody),
        (status = 409, description = "Persona is not active.", body = ErrorBody),
        (status = 422, description = "message missing or not a string", body = ValidationBody)))]
pub async fn read(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
    Body(request): Body<ReadRequest>,
) -> Result<Json<Received>, ApiError> {
    running(&state, id).await?.read(&request.message).await?;
    Ok(Json(RECEIVED))
}

/// The multipart form of `hear`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct HearForm {
    /// A voice note (any format her ear accepts: mp3, m4a, wav, ogg, webm…).
    #[schema(value_type = String, format = Binary)]
    audio: Vec<u8>,
}

/// Send her a voice note; her ear transcribes it and she reads it. A JSON body `{"message"}` is
/// the original's `hear` (text, as `read` takes it), so its dashboard's chat box keeps working.
///
/// Audio needs her ear: without one it is a 415, and audio her ear cannot transcribe a 400.
#[utoipa::path(post, path = "/api/persona/{persona_id}/hear", tag = "perception",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    request_body(content(
        (HearForm = "multipart/form-data"),
        (ReadRequest = "application/json"))),
    responses((status = 200, body = Received),
        (status = 400, description = "Her ear could not transcribe it, or an empty message", body = ErrorBody),
        (status = 404, description = "Persona not found.", body = ErrorBody),
        (status = 409, description = "Persona is not active.", body = ErrorBody),
        (status = 413, description = "The upload is too large, or the voice note is over 25 MiB", body = ErrorBody),
        (status = 415, description = "She has no ear organ", body = ErrorBody),
        (status = 422, description = "audio (or message) missing", body = ValidationBody)))]
pub async fn hear(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
    request: Request,
) -> Result<Json<Received>, ApiError> {
    let agent = running(&state, id).await?;
    if is_json(&request) {
        let Body(text) = Body::<ReadRequest>::from_request(request, &state).await?;
        agent.read(&text.message).await?;
        return Ok(Json(RECEIVED));
    }
    let spool = state.manager.spool_dir();
    let mut form = upload::read(Multipart::from_request(request, &state).await, &spool).await?;
    upload::require(&form, &["audio"], &[])?;
    let audio = form.files.remove("audio").expect("required above");
    let bytes = audio.read_bounded(EAR_LIMIT).await?.ok_or_else(|| {
        ApiError::TooLarge(format!(
            "The voice note is larger than her ear accepts ({} MiB).",
            EAR_LIMIT >> 20
        ))
    })?;
    agent
        .hear(organs::Audio {
            bytes,
            mime: audio.mime,
            file_name: audio.name,
        })
        .await?;
    Ok(Json(RECEIVED))
}

/// Largest voice note read back from its spooled file and sent to her ear: the transcription
/// APIs refuse more (OpenAI's takes 25 MB), so nothing larger is held in memory for them.
pub const EAR_LIMIT: u64 = 25 * 1024 * 1024;

/// Whether the body is declared as JSON (`application/json`, or any `+json` type).
fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
        .unwrap_or(false)
}

/// The multipart form of `see`, the original's image route.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SeeForm {
    /// The image.
    #[schema(value_type = String, format = Binary)]
    image: Vec<u8>,
    /// What you say with it.
    caption: Option<String>,
}

/// The original's image route, kept for its dashboard: the same as `attach` with the file in
/// `image`.
///
/// Whether she can perceive the file depends on its type and her organs: if none can, a 415.
#[utoipa::path(post, path = "/api/persona/{persona_id}/see", tag = "perception",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    request_body(content = SeeForm, content_type = "multipart/form-data"),
    responses((status = 200, body = Received),
        (status = 400, description = "The multipart body could not be read", body = ErrorBody),
        (status = 404, description = "Persona not found.", body = ErrorBody),
        (status = 409, description = "Persona is not active.", body = ErrorBody),
        (status = 413, description = "The upload is too large", body = ErrorBody),
        (status = 415, description = "No organ of hers can perceive this type", body = ErrorBody),
        (status = 422, description = "image missing", body = ValidationBody)))]
pub async fn see(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
    upload: Result<Multipart, MultipartRejection>,
) -> Result<Json<Received>, ApiError> {
    attach_from(&state, id, upload, "image").await
}

/// The multipart form of `attach`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AttachForm {
    /// An image (png, jpeg, gif, webp), a text document (txt, md, csv, json) or a PDF.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// What you say with it.
    caption: Option<String>,
}

/// Send her a file: images go to her eye, documents to her researcher (without one, a text
/// document goes into the conversation and a PDF to her Mind, which must then read PDFs).
///
/// Whether she can perceive the file depends on its type and her organs: if none can, a 415.
#[utoipa::path(post, path = "/api/persona/{persona_id}/attach", tag = "perception",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    request_body(content = AttachForm, content_type = "multipart/form-data"),
    responses((status = 200, body = Received),
        (status = 400, description = "The multipart body could not be read", body = ErrorBody),
        (status = 404, description = "Persona not found.", body = ErrorBody),
        (status = 409, description = "Persona is not active.", body = ErrorBody),
        (status = 413, description = "The upload is too large", body = ErrorBody),
        (status = 415, description = "No organ of hers can perceive this type", body = ErrorBody),
        (status = 422, description = "file missing", body = ValidationBody)))]
pub async fn attach(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
    upload: Result<Multipart, MultipartRejection>,
) -> Result<Json<Received>, ApiError> {
    attach_from(&state, id, upload, "file").await
}

/// `attach` and the original's `see` differ only in the name of the form's file field.
async fn attach_from(
    state: &AppState,
    id: Uuid,
    upload: Result<Multipart, MultipartRejection>,
    field: &str,
) -> Result<Json<Received>, ApiError> {
    let agent = running(state, id).await?;
    let mut form = upload::read(upload, &state.manager.spool_dir()).await?;
    upload::require(&form, &[field], &[])?;
    let file = form.files.remove(field).expect("required above");
    let caption = form.texts.get("caption").map(String::as_str).unwrap_or("");
    agent
        .attach_file(&file.name, &file.mime, file.path(), caption)
        .await?;
    Ok(Json(RECEIVED))
}

/// The multipart form of `feed`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FeedForm {
    /// A ChatGPT `conversations.json` or a Claude export, UTF-8 JSON.
    #[schema(value_type = String, format = Binary)]
    history: Vec<u8>,
    /// `claude` for a Claude export; anything else reads a ChatGPT export.
    source: String,
}

#[derive(Serialize, ToSchema)]
pub struct FedReply {
    pub persona: PersonaView,
}

/// Import chat history from another assistant; she consolidates each conversation into what
/// she knows about her person. Synchronous.
///
/// The file must parse as the export `source` names; any other content is a 400.
#[utoipa::path(post, path = "/api/persona/{persona_id}/feed", tag = "perception",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    request_body(content = FeedForm, content_type = "multipart/form-data"),
    responses((status = 200, body = FedReply),
        (status = 400, description = "Unparseable export, or her Mind could not analyze it", body = ErrorBody),
        (status = 404, description = "Persona not found.", body = ErrorBody),
        (status = 409, description = "Persona is not active.", body = ErrorBody),
        (status = 413, description = "The upload is too large", body = ErrorBody),
        (status = 422, description = "history or source missing", body = ValidationBody)))]
pub async fn feed(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
    upload: Result<Multipart, MultipartRejection>,
) -> Result<Json<FedReply>, ApiError> {
    let agent = running(&state, id).await?;
    let mut form = upload::read(upload, &state.manager.spool_dir()).await?;
    upload::require(&form, &["history"], &["source"])?;
    let history = form.files.remove("history").expect("required above");
    let source = &form.texts["source"];
    let export = std::fs::File::open(history.path())
        .map_err(|e| ApiError::Internal(format!("could not read back the upload: {e}")))?;
    agent.feed_from(export, source).await?;
    Ok(Json(FedReply {
        persona: PersonaView::of(agent.persona(), Some(agent.status())),
    }))
}

#[derive(Deserialize, ToSchema)]
pub struct PairRequest {
    /// The code she sent on the channel, any case.
    pub code: String,
}

impl Validated for PairRequest {
    const FIELDS: &'static [Field] = &[Field::required("code", Kind::Str)];
}

#[derive(Serialize, ToSchema)]
pub struct ChannelPaired {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub verified_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PairReply {
    pub persona: PersonaView,
    pub channel: ChannelPaired,
}

/// Bind a Telegram or Discord channel to the account that asked for the code.
///
/// A code is valid only after she sent it on a channel, and only for a while; any other is a 400.
#[utoipa::path(post, path = "/api/persona/{persona_id}/pair", tag = "perception",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    request_body = PairRequest,
    responses((status = 200, body = PairReply),
        (status = 400, description = "Invalid or expired code, no such channel, or already verified", body = ErrorBody),
        (status = 404, description = "Persona not found.", body = ErrorBody),
        (status = 409, description = "Persona is not active.", body = ErrorBody),
        (status = 422, description = "code missing", body = ValidationBody)))]
pub async fn pair(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
    Body(request): Body<PairRequest>,
) -> Result<Json<PairReply>, ApiError> {
    let agent = running(&state, id).await?;
    let (persona, channel) = agent.pair(&request.code)?;
    Ok(Json(PairReply {
        persona: PersonaView::of(&persona, Some(agent.status())),
        channel: ChannelPaired {
            kind: channel.kind.as_str().into(),
            name: channel.name,
            verified_at: channel.verified_at,
        },
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Interrupted {
    /// Whether a beat was in flight (and is now cancelled).
    pub interrupted: bool,
}

/// Stop her current beat (the dashboard's STOP). What she heard stays in her memory; her next
/// message starts a new beat over it.
#[utoipa::path(post, path = "/api/persona/{persona_id}/interrupt", tag = "perception",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    responses((status = 200, body = Interrupted),
        (status = 404, description = "Persona not found.", body = ErrorBody),
        (status = 409, description = "Persona is not active.", body = ErrorBody)))]
pub async fn interrupt(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
) -> Result<Json<Interrupted>, ApiError> {
    known(&state, id)?;
    let interrupted = running(&state, id).await?.interrupt().await?;
    Ok(Json(Interrupted { interrupted }))
}

/// Her conversation log, entries as written (`role` is `person` or `assistant`).
#[utoipa::path(get, path = "/api/persona/{persona_id}/conversation", tag = "knowledge",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    responses((status = 200, description = "{\"messages\": [...]}", body = Object),
        (status = 404, description = "Persona not found.", body = ErrorBody)))]
pub async fn conversation(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(mind::views::conversation(&known(&state, id)?)))
}

/// What she knows about her person and herself, and every instruction she can load.
#[utoipa::path(get, path = "/api/persona/{persona_id}/knowledge", tag = "knowledge",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    responses((status = 200, description = "{\"memory\": {key: markdown}, \"instruction\": [{intention, body, source}]}", body = Object),
        (status = 404, description = "Persona not found.", body = ErrorBody)))]
pub async fn knowledge(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(mind::views::knowledge(&known(&state, id)?)))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct Window {
    /// ISO date or date-time, inclusive.
    pub start: String,
    /// ISO date or date-time, exclusive.
    pub end: String,
}

/// What she archived (history) and planned (destiny) in a window; recurrences not projected.
#[utoipa::path(get, path = "/api/persona/{persona_id}/calendar", tag = "knowledge",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)"), Window),
    responses((status = 200, description = "{start, end, history: {conversation, schedule, reminder}, destiny: {schedule, reminder}}", body = Object),
        (status = 400, description = "start and end must be ISO dates", body = ErrorBody),
        (status = 404, description = "Persona not found.", body = ErrorBody)))]
pub async fn calendar(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
    window: Result<Query<Window>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let home = known(&state, id)?;
    let bad = || ApiError::BadRequest("start and end must be ISO dates".into());
    let Query(window) = window.map_err(|_| bad())?;
    let start = mind::views::calendar_bound(&window.start).ok_or_else(bad)?;
    let end = mind::views::calendar_bound(&window.end).ok_or_else(bad)?;
    Ok(Json(mind::views::calendar(&home, start, end)))
}

/// Her vital status, her mind (live while she runs, else as last saved), a 24-hour uptime grid, and, while she runs, her live
/// state and the identity contract regulating her.
#[utoipa::path(get, path = "/api/persona/{persona_id}/diagnose", tag = "knowledge",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    responses((status = 200, description = "{status, mind: {messages, archive, context}, uptime: {rows}, live?}", body = Object),
        (status = 404, description = "Persona not found.", body = ErrorBody)))]
pub async fn diagnose(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
) -> Result<Json<Value>, ApiError> {
    let home = known(&state, id)?;
    let record = state
        .manager
        .record(id)
        .ok_or_else(ApiError::persona_not_found)?;
    let now = time::OffsetDateTime::now_local().unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    let agent = state.manager.agent(id).await;
    let mut view = mind::views::diagnose(
        &home,
        record.status.as_str(),
        now,
        agent.as_ref().map(|a| a.memory()),
    );
    if let Some(agent) = agent {
        view["live"] = serde_json::to_value(agent.status()).unwrap_or(Value::Null);
    }
    Ok(Json(view))
}

/// A file from her `media/` folder (flat names only).
#[utoipa::path(get, path = "/api/persona/{persona_id}/media/{filename}", tag = "knowledge",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)"), ("filename" = String, Path, description = "A file name in her media folder")),
    responses((status = 200, description = "The file's bytes"),
        (status = 404, description = "File not found.", body = ErrorBody)))]
pub async fn media(
    State(state): State<AppState>,
    Path((raw, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_id(&raw).ok_or_else(ApiError::persona_not_found)?;
    let home = known(&state, id)?;
    let not_found = || ApiError::NotFound("File not found.".into());
    if file.is_empty() || file.contains(['/', '\\']) || file.starts_with('.') {
        return Err(not_found());
    }
    let opened = tokio::fs::File::open(home.media().join(&file))
        .await
        .map_err(|_| not_found())?;
    let meta = opened.metadata().await.map_err(|_| not_found())?;
    if !meta.is_file() {
        return Err(not_found());
    }
    let mime = persona::media_type::content_type(&file);
    // Streamed from disk a buffer at a time: a file her diary unpacked can be gigabytes.
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(opened));
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CONTENT_LENGTH, meta.len().to_string()),
        ],
        body,
    )
        .into_response())
}
