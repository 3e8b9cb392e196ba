//! What the API shows of a persona. The view never carries an API key or a channel token.

use persona::{Channel, Organ, OrganSlot, Persona};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct OrganView {
    pub name: String,
    /// `anthropic`, `openai`, `xai`, `gemini`, or null for a local (Ollama) model.
    pub provider: Option<String>,
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct ChannelView {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub verified: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PersonaView {
    pub id: String,
    pub name: String,
    pub base_model: String,
    pub birthday: String,
    pub running: bool,
    /// `starting` while the daemon is bringing her up (at boot), `running`, or `stopped`.
    pub state: String,
    pub status: String,
    /// Why she is sick, when she is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sickness: Option<String>,
    /// What her life looks like right now, while she runs: phase, faults, and the identity
    /// engine's regulation (stress level, energy, allowed and forbidden actions).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub life: Option<mind::LiveStatus>,
    pub thinking: Option<OrganView>,
    pub imagination: Option<OrganView>,
    pub mouth: Option<OrganView>,
    pub eye: Option<OrganView>,
    pub ear: Option<OrganView>,
    pub teacher: Option<OrganView>,
    pub researcher: Option<OrganView>,
    pub channels: Vec<ChannelView>,
}

fn organ_view(organ: &Organ) -> OrganView {
    OrganView {
        name: organ.name.clone(),
        provider: organ.provider.map(|p| p.as_str().to_string()),
        url: organ.url.clone(),
    }
}

fn channel_view(channel: &Channel) -> ChannelView {
    ChannelView {
        kind: channel.kind.as_str().to_string(),
        // An unpaired channel saved by an older version has no name; show the one `DELETE` takes.
        name: if channel.name.is_empty() {
            channel.kind.as_str().to_string()
        } else {
            channel.name.clone()
        },
        verified: channel.verified_at.is_some(),
    }
}

impl PersonaView {
    pub fn of(persona: &Persona, life: Option<mind::LiveStatus>) -> PersonaView {
        let running = life.is_some();
        let organ = |slot: OrganSlot| persona.organ(slot).map(organ_view);
        let mut thinking = organ_view(&persona.thinking);
        // A local Mind runs under an internal `eternego-<id>` wrapper; show the model the person chose.
        if !persona.base_model.is_empty() {
            thinking.name = persona.base_model.clone();
        }
        PersonaView {
            id: persona.id.to_string(),
            name: persona.name.clone(),
            base_model: persona.base_model.clone(),
            birthday: persona.birthday.clone(),
            running,
            state: if running { "running" } else { "stopped" }.to_string(),
            status: persona.status.as_str().to_string(),
            sickness: persona.sickness.clone(),
            life,
            thinking: Some(thinking),
            imagination: organ(OrganSlot::Imagination),
            mouth: organ(OrganSlot::Mouth),
            eye: organ(OrganSlot::Eye),
            ear: organ(OrganSlot::Ear),
            teacher: organ(OrganSlot::Teacher),
            researcher: organ(OrganSlot::Researcher),
            channels: persona.channels.iter().map(channel_view).collect(),
        }
    }
}
