//! Channels at runtime: add a Telegram or Discord bot to her record, or remove one, while she
//! lives. Both are config changes: validated first, saved, then her agent (if running) is
//! rebuilt from disk so her gateways match the record.

use persona::{Channel, ChannelKind};
use uuid::Uuid;

use super::{Manager, ManagerError};

/// The two kinds a person can add; the web channel is always there.
pub fn parse_kind(kind: &str) -> Result<ChannelKind, ManagerError> {
    match kind.trim().to_ascii_lowercase().as_str() {
        "telegram" => Ok(ChannelKind::Telegram),
        "discord" => Ok(ChannelKind::Discord),
        _ => Err(ManagerError::UnknownChannelKind(kind.to_string())),
    }
}

/// Whether `name` picks `channel`: its name as her record shows it, or its kind (she has at
/// most one channel of each kind, and an older record may hold an unverified one without a name).
fn named(channel: &Channel, name: &str) -> bool {
    (!channel.name.is_empty() && channel.name == name) || channel.kind.as_str() == name
}

impl Manager {
    /// `POST .../channels`: the token is checked with the platform before anything is saved.
    /// She has at most one channel per kind (her gateway serves one bot per platform), so a
    /// second one of a kind is refused rather than silently unused.
    pub async fn add_channel(
        &self,
        id: Uuid,
        kind: ChannelKind,
        token: &str,
    ) -> Result<Channel, ManagerError> {
        let lock = self.lock_for(id);
        let _held = lock.lock().await;
        let mut persona = self.load(id).await?;
        if let Some(existing) = persona.channels.iter().find(|c| c.kind == kind) {
            return Err(ManagerError::ChannelTaken {
                kind: kind.as_str(),
                name: existing.name.clone(),
            });
        }
        let channel = channels::validate(&self.http, &self.platforms, kind, token).await?;
        persona.channels.push(channel.clone());
        self.save(&persona, "channels").await?;
        self.reload_if_running(id, "Channel added but restart failed")
            .await?;
        Ok(channel)
    }

    /// `DELETE .../channels/{name}`: by the name her record shows now (before pairing, the
    /// kind; after, the chat it is bound to), or by kind.
    pub async fn remove_channel(&self, id: Uuid, name: &str) -> Result<Channel, ManagerError> {
        let lock = self.lock_for(id);
        let _held = lock.lock().await;
        let mut persona = self.load(id).await?;
        let at = persona
            .channels
            .iter()
            .position(|c| c.kind != ChannelKind::Web && named(c, name))
            .ok_or(ManagerError::ChannelNotFound)?;
        let channel = persona.channels.remove(at);
        self.save(&persona, "channels").await?;
        self.reload_if_running(id, "Channel removed but restart failed")
            .await?;
        Ok(channel)
    }

    /// Rebuilds a running agent from the record just saved; a stopped one stays stopped.
    async fn reload_if_running(&self, id: Uuid, failed: &'static str) -> Result<(), ManagerError> {
        if !self.is_running(id).await {
            return Ok(());
        }
        let persona = self.load(id).await?;
        self.relaunch(persona)
            .await
            .map_err(|e| ManagerError::Lifecycle {
                context: failed,
                source: Box::new(e.into()),
            })
    }
}
