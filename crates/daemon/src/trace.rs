//! One tracing span per request, naming the persona it is about, so every line logged while
//! serving it (and the closing line with status and latency) can be found by her id.
//!
//! Only the path is recorded: keys and tokens travel in bodies and headers, never in a path, and
//! a query string is left out in case a client puts one there.

use axum::http::Request;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};
use uuid::Uuid;

/// Her id when the path is one of hers: `/api/persona/{id}/...` or `/ws/{id}`.
pub fn persona_of(path: &str) -> Option<Uuid> {
    let mut parts = path.trim_start_matches('/').split('/');
    let id = match (parts.next(), parts.next()) {
        (Some("api"), Some("persona")) => parts.next(),
        (Some("ws"), id) => id,
        _ => None,
    }?;
    Uuid::parse_str(id).ok()
}

#[derive(Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let path = request.uri().path();
        match persona_of(path) {
            Some(persona) => {
                tracing::info_span!("request", method = %request.method(), path, %persona)
            }
            None => tracing::info_span!("request", method = %request.method(), path),
        }
    }
}

/// The layer `app` wraps the router in: a span per request, a line per response at `info`.
pub fn layer() -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    tower_http::trace::DefaultOnRequest,
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn her_id_is_read_from_her_routes_only() {
        let id = Uuid::new_v4();
        assert_eq!(persona_of(&format!("/api/persona/{id}/read")), Some(id));
        assert_eq!(persona_of(&format!("/ws/{id}")), Some(id));
        assert_eq!(persona_of("/ws/system"), None);
        assert_eq!(persona_of("/api/personas"), None);
        assert_eq!(persona_of("/api/persona/not-an-id/read"), None);
        assert_eq!(persona_of("/v1/instances"), None);
    }
}
