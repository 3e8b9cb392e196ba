//! The part every fake shares: bind loopback, record each request, stop on drop.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use bytes::Bytes;
use tokio::task::JoinHandle;

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?` (empty when there was none).
    pub query: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, or `Null` when it was empty or not JSON (multipart, form).
    pub body: serde_json::Value,
    pub raw: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Everything received, as text, for "this secret never went anywhere it should not" checks.
    pub fn to_text(&self) -> String {
        format!(
            "{} {}?{} {:?} {}",
            self.method,
            self.path,
            self.query,
            self.headers,
            String::from_utf8_lossy(&self.raw)
        )
    }
}

/// The requests a fake has received, shared with the test.
#[derive(Clone, Default, Debug)]
pub struct RequestLog(Arc<Mutex<Vec<Recorded>>>);

impl RequestLog {
    pub fn all(&self) -> Vec<Recorded> {
        self.0.lock().unwrap().clone()
    }

    /// The requests whose path is exactly `path`.
    pub fn to(&self, path: &str) -> Vec<Recorded> {
        self.all().into_iter().filter(|r| r.path == path).collect()
    }

    pub fn last(&self) -> Option<Recorded> {
        self.0.lock().unwrap().last().cloned()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }

    fn push(&self, r: Recorded) {
        self.0.lock().unwrap().push(r);
    }
}

/// A fake's running server. Dropping it stops the server.
#[derive(Debug)]
pub(crate) struct Running {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Running {
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on `127.0.0.1:0`, recording every request into `log` before routing it.
pub(crate) async fn serve(router: Router, log: RequestLog) -> Running {
    let app = router.layer(middleware::from_fn(move |req: Request, next: Next| {
        let log = log.clone();
        async move { record(log, req, next).await }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    Running { addr, task }
}

async fn record(log: RequestLog, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let raw = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    log.push(Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null),
        raw: raw.clone(),
    });
    next.run(Request::from_parts(parts, Body::from(raw))).await
}

/// A streamed response body made of the given pieces, sent as separate chunks.
pub(crate) fn streamed(pieces: Vec<String>, content_type: &'static str) -> Response {
    let stream = futures::stream::iter(
        pieces
            .into_iter()
            .map(|p| Ok::<_, std::convert::Infallible>(Bytes::from(p))),
    );
    Response::builder()
        .header("content-type", content_type)
        .body(Body::from_stream(stream))
        .unwrap()
}

/// Like [`streamed`], sending the first `at` pieces and then waiting for `gate` before the rest.
pub(crate) fn streamed_held(
    mut pieces: Vec<String>,
    content_type: &'static str,
    at: usize,
    gate: crate::Gate,
) -> Response {
    use futures::StreamExt;
    let rest = pieces.split_off(at.min(pieces.len()));
    let bytes = |p: String| Ok::<_, std::convert::Infallible>(Bytes::from(p));
    let held = futures::stream::once(async move {
        gate.wait().await;
        futures::stream::iter(rest.into_iter().map(bytes))
    })
    .flatten();
    let stream = futures::stream::iter(pieces.into_iter().map(bytes)).chain(held);
    Response::builder()
        .header("content-type", content_type)
        .body(Body::from_stream(stream))
        .unwrap()
}

/// NDJSON lines, one chunk each (Ollama's streaming format).
pub(crate) fn ndjson(lines: Vec<serde_json::Value>) -> Response {
    streamed(
        lines.into_iter().map(|l| format!("{l}\n")).collect(),
        "application/x-ndjson",
    )
}

/// Server-sent events: `(event name, data)`; a `None` name writes a bare `data:` line (OpenAI).
pub(crate) fn sse(events: Vec<(Option<&'static str>, String)>) -> Response {
    streamed(sse_pieces(events), "text/event-stream")
}

pub(crate) fn sse_pieces(events: Vec<(Option<&'static str>, String)>) -> Vec<String> {
    events
        .into_iter()
        .map(|(name, data)| match name {
            Some(n) => format!("event: {n}\ndata: {data}\n\n"),
            None => format!("data: {data}\n\n"),
        })
        .collect()
}

/// A JSON response with a status.
pub(crate) fn json(status: u16, body: serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}
