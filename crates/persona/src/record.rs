//! Her record: what `config.json` holds, in the field order the original wrote it.
//!
//! Secrets (API keys, channel tokens) live in the [`crate::SecretStore`], not in the file: the
//! store strips them on save and puts them back on load, so the in-memory record is complete.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A cloud model provider. A local (Ollama) organ has no provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Anthropic,
    Openai,
    Xai,
    Gemini,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Anthropic,
        Provider::Openai,
        Provider::Xai,
        Provider::Gemini,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::Openai => "openai",
            Provider::Xai => "xai",
            Provider::Gemini => "gemini",
        }
    }

    /// Reads a provider as a person types it. `None`, `""` and `"local"` mean Ollama (`Ok(None)`);
    /// an unknown name is an error rather than silently routed to some client, as the original did.
    pub fn parse(text: Option<&str>) -> Result<Option<Provider>, String> {
        let Some(raw) = text else { return Ok(None) };
        let name = raw.trim().to_ascii_lowercase();
        if name.is_empty() || name == "local" || name == "ollama" {
            return Ok(None);
        }
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .map(Some)
            .ok_or_else(|| {
                format!("Unknown provider '{raw}'. Use one of: anthropic, openai, xai, gemini, or omit it for a local model.")
            })
    }
}

/// One of her seven model organs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrganSlot {
    Thinking,
    Imagination,
    Mouth,
    Eye,
    Ear,
    Teacher,
    Researcher,
}

impl OrganSlot {
    pub const ALL: [OrganSlot; 7] = [
        OrganSlot::Thinking,
        OrganSlot::Imagination,
        OrganSlot::Mouth,
        OrganSlot::Eye,
        OrganSlot::Ear,
        OrganSlot::Teacher,
        OrganSlot::Researcher,
    ];

    /// The six organs she may live without.
    pub const OPTIONAL: [OrganSlot; 6] = [
        OrganSlot::Imagination,
        OrganSlot::Mouth,
        OrganSlot::Eye,
        OrganSlot::Ear,
        OrganSlot::Teacher,
        OrganSlot::Researcher,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrganSlot::Thinking => "thinking",
            OrganSlot::Imagination => "imagination",
            OrganSlot::Mouth => "mouth",
            OrganSlot::Eye => "eye",
            OrganSlot::Ear => "ear",
            OrganSlot::Teacher => "teacher",
            OrganSlot::Researcher => "researcher",
        }
    }
}

/// A model she uses for one organ. `Debug` masks the key so it never reaches a log line.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organ {
    pub name: String,
    #[serde(default)]
    pub provider: Option<Provider>,
    #[serde(default)]
    pub api_key: Option<String>,
    pub url: String,
}

impl std::fmt::Debug for Organ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Organ")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("url", &self.url)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Telegram,
    Discord,
    Web,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Telegram => "telegram",
            ChannelKind::Discord => "discord",
            ChannelKind::Web => "web",
        }
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { token: *** }")
    }
}

/// A place she talks: a bot account, bound to one chat once paired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    #[serde(rename = "type")]
    pub kind: ChannelKind,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub credentials: Option<Credentials>,
    #[serde(default)]
    pub verified_at: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Hibernate,
    Sick,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Hibernate => "hibernate",
            Status::Sick => "sick",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "active" => Some(Status::Active),
            "hibernate" => Some(Status::Hibernate),
            "sick" => Some(Status::Sick),
            _ => None,
        }
    }
}

/// Tools that reach outside her folder. All off unless the person turns them on in
/// `config.json`; nothing she says can change them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reach {
    #[serde(default)]
    pub shell: bool,
    #[serde(default)]
    pub files: bool,
    #[serde(default)]
    pub http: bool,
}

impl Reach {
    fn is_closed(&self) -> bool {
        *self == Reach::default()
    }
}

/// Her whole record. Field order follows the original `config.json` so diffs between the two
/// implementations stay readable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Persona {
    pub id: Uuid,
    pub name: String,
    pub thinking: Organ,
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default)]
    pub base_model: String,
    #[serde(default)]
    pub birthday: String,
    #[serde(default = "default_status")]
    pub status: Status,
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: u64,
    #[serde(default)]
    pub imagination: Option<Organ>,
    #[serde(default)]
    pub mouth: Option<Organ>,
    #[serde(default, alias = "vision")]
    pub eye: Option<Organ>,
    #[serde(default)]
    pub ear: Option<Organ>,
    #[serde(default, alias = "frontier")]
    pub teacher: Option<Organ>,
    #[serde(default)]
    pub researcher: Option<Organ>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub channels: Vec<Channel>,
    /// Why she was last marked sick, shown in her status; cleared when she is made active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sickness: Option<String>,
    #[serde(default, skip_serializing_if = "Reach::is_closed")]
    pub reach: Reach,
}

fn default_version() -> String {
    "v1".into()
}
fn default_status() -> Status {
    Status::Active
}
fn default_idle_timeout() -> u64 {
    3600
}
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Channel>, D::Error> {
    Ok(Option::<Vec<Channel>>::deserialize(d)?.unwrap_or_default())
}

impl Persona {
    /// A newborn persona: active, no optional organs, no channels, the defaults the original
    /// gave every new record.
    pub fn new(id: Uuid, name: String, thinking: Organ, birthday: String) -> Persona {
        Persona {
            id,
            name,
            thinking,
            version: default_version(),
            base_model: String::new(),
            birthday,
            status: default_status(),
            idle_timeout: default_idle_timeout(),
            imagination: None,
            mouth: None,
            eye: None,
            ear: None,
            teacher: None,
            researcher: None,
            channels: Vec::new(),
            sickness: None,
            reach: Reach::default(),
        }
    }

    /// Reads a record as any version of the original wrote it. Older records name the eye
    /// `vision` and the teacher `frontier`; a record without `base_model` uses the Mind's name.
    pub fn from_json(bytes: &[u8]) -> Result<Persona, serde_json::Error> {
        Persona::from_value(serde_json::from_slice(bytes)?)
    }

    /// [`Persona::from_json`] for a record already parsed (the store reads a field of its own
    /// from the same document).
    pub fn from_value(value: serde_json::Value) -> Result<Persona, serde_json::Error> {
        let has_base = value.get("base_model").is_some();
        let mut persona: Persona = serde_json::from_value(value)?;
        if !has_base {
            persona.base_model = persona.thinking.name.clone();
        }
        Ok(persona)
    }

    pub fn organ(&self, slot: OrganSlot) -> Option<&Organ> {
        match slot {
            OrganSlot::Thinking => Some(&self.thinking),
            OrganSlot::Imagination => self.imagination.as_ref(),
            OrganSlot::Mouth => self.mouth.as_ref(),
            OrganSlot::Eye => self.eye.as_ref(),
            OrganSlot::Ear => self.ear.as_ref(),
            OrganSlot::Teacher => self.teacher.as_ref(),
            OrganSlot::Researcher => self.researcher.as_ref(),
        }
    }

    /// Sets an optional organ. The Mind is required, so `Thinking` with `None` is ignored.
    pub fn set_organ(&mut self, slot: OrganSlot, organ: Option<Organ>) {
        let place = match slot {
            OrganSlot::Thinking => {
                if let Some(o) = organ {
                    self.thinking = o;
                }
                return;
            }
            OrganSlot::Imagination => &mut self.imagination,
            OrganSlot::Mouth => &mut self.mouth,
            OrganSlot::Eye => &mut self.eye,
            OrganSlot::Ear => &mut self.ear,
            OrganSlot::Teacher => &mut self.teacher,
            OrganSlot::Researcher => &mut self.researcher,
        };
        *place = organ;
    }

    /// Her Mind runs on the local engine (Ollama) under an `eternego-<id>` wrapper model.
    pub fn thinks_locally(&self) -> bool {
        self.thinking.provider.is_none()
    }

    /// A copy with every secret removed: what goes to `config.json`.
    pub fn without_secrets(&self) -> Persona {
        let mut bare = self.clone();
        for slot in OrganSlot::ALL {
            if let Some(o) = bare.organ(slot).cloned() {
                bare.set_organ(slot, Some(Organ { api_key: None, ..o }));
            }
        }
        for c in &mut bare.channels {
            c.credentials = None;
        }
        bare
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_records_map_vision_and_frontier() {
        let json = br#"{"id":"23733333-b081-4b50-8b41-f3cd301a42d4","name":"Vega",
            "thinking":{"name":"m","provider":"openai","api_key":"k","url":"u"},
            "vision":{"name":"v","provider":null,"api_key":null,"url":"u"},
            "frontier":{"name":"f","provider":"anthropic","api_key":null,"url":"u"},
            "channels":null}"#;
        let p = Persona::from_json(json).unwrap();
        assert_eq!(p.eye.unwrap().name, "v");
        assert_eq!(p.teacher.unwrap().name, "f");
        assert_eq!(p.base_model, "m");
        assert_eq!(p.status, Status::Active);
        assert_eq!(p.idle_timeout, 3600);
        assert!(p.channels.is_empty());
    }

    #[test]
    fn debug_output_masks_keys_and_tokens() {
        let organ = Organ {
            name: "m".into(),
            provider: None,
            api_key: Some("sk-secret".into()),
            url: "u".into(),
        };
        let creds = Credentials {
            token: "123:tok".into(),
        };
        let text = format!("{organ:?} {creds:?}");
        assert!(
            !text.contains("sk-secret") && !text.contains("123:tok"),
            "{text}"
        );
    }

    #[test]
    fn unknown_provider_is_an_error() {
        assert_eq!(Provider::parse(Some("local")), Ok(None));
        assert_eq!(Provider::parse(Some("")), Ok(None));
        assert_eq!(Provider::parse(Some("OpenAI")), Ok(Some(Provider::Openai)));
        assert!(Provider::parse(Some("groq")).is_err());
    }

    #[test]
    fn stripping_secrets_removes_keys_and_tokens() {
        let mut p = Persona::from_json(
            br#"{"id":"23733333-b081-4b50-8b41-f3cd301a42d4","name":"V",
            "thinking":{"name":"m","provider":"openai","api_key":"sk-1","url":"u"},
            "channels":[{"type":"telegram","name":"","credentials":{"token":"t"},"verified_at":null}]}"#,
        )
        .unwrap();
        p.teacher = Some(p.thinking.clone());
        let bare = p.without_secrets();
        let text = serde_json::to_string(&bare).unwrap();
        assert!(!text.contains("sk-1"));
        assert!(!text.contains("\"t\""));
    }
}
