//! The web sockets: `WS /ws/{persona_id}` (her replies and the signals that mention her) and
//! `WS /ws/system` (every running persona's signals, and model pulls' progress).
//!
//! Read-only for the client, as in the original: what a client sends is ignored; the socket is
//! read only to notice a disconnect. Unlike the original, a socket follows her across a stop,
//! start or restart (it listens to the manager's hubs, not to one agent), and a persona's
//! socket carries only her own signals, not everyone's conversation.

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::app::AppState;
use crate::body::PersonaId;

pub async fn persona_socket(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
) -> Response {
    ws.on_upgrade(move |socket| follow(socket, state, Some(id), None))
}

pub async fn system_socket(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    // Subscribed before the upgrade is answered, so a pull started right after the client
    // connects cannot slip past it.
    let pulls = state.pulls.frames();
    ws.on_upgrade(move |socket| follow(socket, state, None, Some(pulls)))
}

/// Sends frames until the client leaves: for `Some(id)` her chat lines and her signals, for
/// `None` every persona's signals.
async fn follow(
    mut socket: WebSocket,
    state: AppState,
    persona: Option<Uuid>,
    pulls: Option<broadcast::Receiver<serde_json::Value>>,
) {
    let mut said = state.manager.listen();
    let mut feed = state.manager.feed();
    let watch_pulls = pulls.is_some();
    let mut pulls = pulls.unwrap_or_else(|| state.pulls.frames());
    loop {
        let frame = tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            line = said.recv(), if persona.is_some() => match line {
                Ok(line) if Some(line.persona_id) == persona => if line.kind.is_draft() {
                    json!({"type": "chat_draft", "persona_id": line.persona_id, "kind": line.kind, "content": line.content})
                } else {
                    json!({"type": "chat_message", "persona_id": line.persona_id, "content": line.content})
                },
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            signal = feed.recv() => match signal {
                Ok(signal) if persona.is_none_or(|id| id == signal.persona_id) => json!(signal),
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            pull = pulls.recv(), if watch_pulls => match pull {
                Ok(frame) => frame,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
        };
        if socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
}
