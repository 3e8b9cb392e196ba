//! The web sockets: `WS /ws/{persona_id}` (her replies and the signals that mention her) and
//! `WS /ws/system` (every running persona's signals).
//!
//! Read-only for the client, as in the original: what a client sends is ignored; the socket is
//! read only to notice a disconnect. Unlike the original, a socket follows her across a stop,
//! start or restart (it listens to the manager's hubs, not to one agent), and a persona's
//! socket carries only her own signals, not everyone's conversation.

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::app::AppState;
use crate::body::PersonaId;

pub async fn persona_socket(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    PersonaId(id): PersonaId,
) -> Response {
    ws.on_upgrade(move |socket| follow(socket, state, Some(id)))
}

pub async fn system_socket(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    ws.on_upgrade(move |socket| follow(socket, state, None))
}

/// Sends frames until the client leaves: for `Some(id)` her chat lines and her signals, for
/// `None` every persona's signals.
async fn follow(mut socket: WebSocket, state: AppState, persona: Option<Uuid>) {
    let mut said = state.manager.listen();
    let mut feed = state.manager.feed();
    loop {
        let frame = tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            line = said.recv(), if persona.is_some() => match line {
                Ok(line) if Some(line.persona_id) == persona => json!({"type": "chat_message", "persona_id": line.persona_id, "content": line.content}),
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            signal = feed.recv() => match signal {
                Ok(signal) if persona.is_none_or(|id| id == signal.persona_id) => json!(signal),
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
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
