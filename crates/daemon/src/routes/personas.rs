//! The read-only config routes: the persona list and the provider base URLs.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
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

/// Every persona on this machine with her configuration view.
#[utoipa::path(get, path = "/api/personas", tag = "personas",
    responses((status = 200, description = "Every persona", body = PersonaList)))]
pub async fn list(State(state): State<AppState>) -> Json<PersonaList> {
    let mut personas = Vec::new();
    for persona in state.manager.store().list() {
        let life = state.manager.agent(persona.id).await.map(|a| a.status());
        personas.push(PersonaView::of(&persona, life));
    }
    Json(PersonaList { personas })
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
