//! Her diary over HTTP: migrate (restore her from a diary) and export (download her latest).

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::body::{PersonaId, parse_id};
use crate::error::{ApiError, ErrorBody, ValidationBody};
use crate::manager::Environment;
use crate::upload;
use organs::OrganRequest;
use persona::{OrganSlot, Persona, Phrase};

#[derive(Serialize, ToSchema)]
pub struct PersonaReply {
    /// The full record after migration, keys included.
    #[schema(value_type = Object)]
    pub persona: Persona,
}

/// The multipart form of a migrate, for the OpenAPI document. Every organ other than the Mind
/// takes `<organ>_model`, `<organ>_provider`, `<organ>_api_key`, `<organ>_url`. Aliases:
/// `thinking_model|provider|api_key|url` for the Mind's fields, `vision_*` for `eye_*`,
/// `frontier_*` for `teacher_*`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MigrateForm {
    /// Her `<id>.diary` file; her id is read from the file name.
    #[schema(value_type = String, format = Binary)]
    diary: Vec<u8>,
    phrase: String,
    model: String,
    provider: Option<String>,
    api_key: Option<String>,
    url: Option<String>,
    eye_model: Option<String>,
    teacher_model: Option<String>,
    telegram_token: Option<String>,
    discord_token: Option<String>,
}

/// The names the original's migrate form sends: its Mind fields carry the `thinking_` prefix
/// (its own API rejected them with a 422), its eye is `vision` and its teacher `frontier`.
const MIGRATE_ALIASES: &[(&str, &str)] = &[
    ("thinking_model", "model"),
    ("thinking_provider", "provider"),
    ("thinking_api_key", "api_key"),
    ("thinking_url", "url"),
    ("vision_model", "eye_model"),
    ("vision_provider", "eye_provider"),
    ("vision_api_key", "eye_api_key"),
    ("vision_url", "eye_url"),
    ("frontier_model", "teacher_model"),
    ("frontier_provider", "teacher_provider"),
    ("frontier_api_key", "teacher_api_key"),
    ("frontier_url", "teacher_url"),
];

/// Restore a persona from her encrypted diary onto this machine.
///
/// A request the schema admits can still be a 400: the file must be named `<persona-id>.diary`
/// and open with the phrase, and her organs are probed at their providers as `create` does.
#[utoipa::path(post, path = "/api/persona/migrate", tag = "create",
    request_body(content = MigrateForm, content_type = "multipart/form-data"),
    responses((status = 200, body = PersonaReply),
        (status = 400, description = "The diary could not be restored, or a model/channel failed", body = ErrorBody),
        (status = 413, description = "The upload is too large", body = ErrorBody),
        (status = 422, description = "diary, phrase or model missing", body = ValidationBody),
        (status = 500, description = "Migrated but failed to start", body = ErrorBody)))]
pub async fn migrate(
    State(state): State<AppState>,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Json<PersonaReply>, ApiError> {
    let mut form = upload::read(form, &state.manager.spool_dir()).await?;
    upload::alias(&mut form, MIGRATE_ALIASES);
    upload::require(&form, &["diary"], &["phrase", "model"])?;
    let diary = form.files.remove("diary").expect("required above");
    let fields = form.texts;
    let stem = std::path::Path::new(diary.name.rsplit(['/', '\\']).next().unwrap_or_default())
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    let id = parse_id(&stem).ok_or_else(|| {
        ApiError::BadRequest(
            "The diary file must be named <persona-id>.diary: her id is read from the file name."
                .into(),
        )
    })?;
    let get = |key: &str| fields.get(key).filter(|v| !v.is_empty()).cloned();
    let ask = |prefix: &str| OrganRequest {
        model: get(&format!("{prefix}model")),
        provider: get(&format!("{prefix}provider")),
        url: get(&format!("{prefix}url")),
        api_key: get(&format!("{prefix}api_key")),
    };
    let env = Environment {
        thinking: ask(""),
        organs: OrganSlot::OPTIONAL
            .into_iter()
            .map(|slot| (slot, ask(&format!("{}_", slot.as_str()))))
            .collect(),
        telegram_token: get("telegram_token"),
        discord_token: get("discord_token"),
    };
    let phrase = Phrase::parse(&fields["phrase"]);
    let persona = state.manager.migrate(id, diary.file, phrase, env).await?;
    Ok(Json(PersonaReply { persona }))
}

/// Download her latest diary as `<id>.diary`.
#[utoipa::path(get, path = "/api/persona/{persona_id}/export", tag = "create",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)")),
    responses((status = 200, description = "The diary file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No persona, or no diary yet", body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
) -> Result<Response, ApiError> {
    state.manager.known(id)?;
    let path = persona::diary::latest(&state.manager.diary_dir(id), id).ok_or_else(|| {
        ApiError::NotFound(
            "No diary file yet — wait until the persona's first nightly sleep.".into(),
        )
    })?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::Internal(format!("OSError: {e}")))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::Internal(format!("OSError: {e}")))?
        .len();
    // Streamed: a diary is as large as her home, compressed.
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{id}.diary\""),
            ),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response())
}
