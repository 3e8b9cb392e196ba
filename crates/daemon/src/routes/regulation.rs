//! `GET /api/persona/{id}/regulation`: her identity regulation now and her stress and energy
//! over her last cycles, read from her identity instance whether she runs or not, so her
//! status shows the last known state while she is stopped.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::body::PersonaId;
use crate::error::{ApiError, ErrorBody};
use crate::regulator::Cycle;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct Last {
    /// How many of her latest cycles, 1 to 500; 50 when left out.
    pub last: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct RegulationView {
    /// Her identity instance's id; null before her first start.
    pub instance: Option<String>,
    /// Her contract now (stress, energy, allowed and forbidden actions, decision style); null
    /// before her first start or when her instance is gone.
    #[schema(value_type = Option<Object>)]
    pub now: Option<mind::regulation::Regulated>,
    /// Her state after each of her last observations, oldest first.
    pub cycles: Vec<Cycle>,
}

/// The id kept in her `identity.json`.
#[derive(Deserialize)]
struct Bound {
    instance: String,
}

#[utoipa::path(get, path = "/api/persona/{persona_id}/regulation", tag = "knowledge",
    params(("persona_id" = String, Path, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", description = "Her UUID, lower-case and hyphenated (any other spelling is a 404)"), Last),
    responses((status = 200, description = "{instance, now, cycles: [{cycle, at, stress, level, energy}]}", body = RegulationView),
        (status = 400, description = "last must be 1 to 500", body = ErrorBody),
        (status = 404, description = "Persona not found.", body = ErrorBody)))]
pub async fn regulation(
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
    last: Result<Query<Last>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RegulationView>, ApiError> {
    let bad = || ApiError::BadRequest("last must be 1 to 500".into());
    let Query(last) = last.map_err(|_| bad())?;
    let last = last.last.unwrap_or(50);
    if !(1..=500).contains(&last) {
        return Err(bad());
    }
    let home = state.manager.home(id)?;
    let Some(instance) = std::fs::read(home.identity())
        .ok()
        .and_then(|b| serde_json::from_slice::<Bound>(&b).ok())
        .map(|b| b.instance)
    else {
        return Ok(Json(RegulationView {
            instance: None,
            now: None,
            cycles: Vec::new(),
        }));
    };
    let now = state.regulation.regulated(&instance).await.ok();
    let cycles = state.regulation.cycles(&instance, last);
    Ok(Json(RegulationView {
        instance: Some(instance),
        now,
        cycles,
    }))
}
