//! The read-only config routes: the persona list and the provider base URLs.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::ApiError;
use crate::manager::Live;
use crate::view::PersonaView;

#[derive(Serialize, ToSchema)]
pub struct PersonaList {
    pub personas: Vec<PersonaView>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderUrl {
    pub url: String,
}

/// The base URL of each provider, keyed as the original keyed them.
#[derive(Serialize, ToSchema)]
pub struct Providers {
    /// Ollama (`OLLAMA_BASE_URL`).
    pub local: ProviderUrl,
    pub anthropic: ProviderUrl,
    pub gemini: ProviderUrl,
    pub openai: ProviderUrl,
    pub xai: ProviderUrl,
}

/// Every persona on this machine with her configuration view. Built from the store's index
/// (no record read, no secret opened); a stopped persona's view is serialised once per version
/// of her record and reused, a running or starting one's is filled in per request. While
/// nobody runs, the whole body is kept per version of the index.
#[utoipa::path(get, path = "/api/personas", tag = "personas",
    responses((status = 200, description = "Every persona", body = PersonaList)))]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (version, records) = state.manager.records_at().await?;
    let live = state.manager.live().await;
    // With nobody running or starting, the body is made of the records alone: one built at
    // this index version is the answer, a copy-free one (10,000 personas make 3.4 MB).
    let keep = version.filter(|_| live.is_empty());
    let json = |body| ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(body) = keep.and_then(|v| state.manager.kept_list(v)) {
        return Ok(json(body));
    }
    let mut body = Vec::with_capacity(64 + records.len() * 512);
    body.extend_from_slice(b"{\"personas\":[");
    for (n, indexed) in records.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        let id = indexed.record.id;
        let fresh = |life, starting: bool| {
            let mut view = PersonaView::of(&indexed.record, life);
            if starting {
                view.state = "starting".into();
            }
            serde_json::to_vec(&view)
        };
        let bytes = match live.get(&id) {
            Some(Live::Running(agent)) => fresh(Some(agent.status()), false),
            Some(Live::Starting) => fresh(None, true),
            None => match indexed.derived.get() {
                Some(cached) => {
                    body.extend_from_slice(cached);
                    continue;
                }
                None => {
                    let bytes =
                        fresh(None, false).map_err(|e| ApiError::Internal(e.to_string()))?;
                    body.extend_from_slice(indexed.derived.get_or_init(|| bytes));
                    continue;
                }
            },
        };
        body.extend_from_slice(&bytes.map_err(|e| ApiError::Internal(e.to_string()))?);
    }
    body.extend_from_slice(b"]}");
    let body = bytes::Bytes::from(body);
    if let Some(v) = keep {
        state.manager.keep_list(v, body.clone());
    }
    Ok(json(body))
}

/// The base URL each model provider defaults to.
#[utoipa::path(get, path = "/api/config/providers", tag = "personas",
    responses((status = 200, description = "Provider base URLs", body = Providers)))]
pub async fn providers(State(state): State<AppState>) -> Json<Providers> {
    let p = &state.config.providers;
    let url = |u: &String| ProviderUrl { url: u.clone() };
    Json(Providers {
        local: url(&p.local),
        anthropic: url(&p.anthropic),
        gemini: url(&p.gemini),
        openai: url(&p.openai),
        xai: url(&p.xai),
    })
}
