//! `WS /ws/{persona_id}`: her replies, pushed to the chat view as she speaks.
//!
//! Read-only for the client, as in the original: what a client sends is ignored; the socket is
//! read only to notice a disconnect. Unlike the original, the socket follows her across a stop,
//! start or restart — it listens to the manager's hub, not to one agent.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::app::AppState;
use crate::body::PersonaId;

pub async fn persona_socket(ws: WebSocketUpgrade, State(state): State<AppState>, PersonaId(id): PersonaId) -> Response {
    ws.on_upgrade(move |socket| follow(socket, state, id))
}

async fn follow(mut socket: WebSocket, state: AppState, id: Uuid) {
    let mut hub = state.manager.listen();
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            line = hub.recv() => match line {
                Ok(line) if line.persona_id == id => {
                    let frame = json!({"type": "chat_message", "persona_id": id, "content": line.content});
                    if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
        }
    }
}
