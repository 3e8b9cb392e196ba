//! Refuses what a hostile web page could send to a daemon that has no login on loopback.
//!
//! * DNS rebinding: a page on `evil.example` that re-resolves to 127.0.0.1 still sends
//!   `Host: evil.example`, so only IP literals, `localhost` and names the person allowed pass.
//! * Cross-site requests: a state-changing request or WebSocket upgrade whose `Origin` is not
//!   this daemon's own (`http://<allowed host>:<our port>`) is refused. Reads need no check: the
//!   browser will not hand a cross-origin page the response (no CORS headers are ever sent).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

#[derive(Clone, Debug)]
pub struct Guard {
    pub port: u16,
    pub allowed_hosts: Arc<Vec<String>>,
}

impl Guard {
    fn host_allowed(&self, host: &str) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        host == "localhost" || host.parse::<IpAddr>().is_ok() || self.allowed_hosts.contains(&host)
    }

    /// Checks a `Host` header value (`name[:port]`).
    fn check_host(&self, value: &str) -> bool {
        let (name, _port) = split_authority(value);
        self.host_allowed(name)
    }

    /// Checks an `Origin` header value (`scheme://name[:port]`).
    fn check_origin(&self, value: &str) -> bool {
        let Some(rest) = value.strip_prefix("http://") else {
            return false;
        };
        let (name, port) = split_authority(rest.trim_end_matches('/'));
        self.host_allowed(name) && port.unwrap_or(80) == self.port
    }

    pub fn verdict(&self, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
        if let Some(host) = headers.get(header::HOST) {
            let ok = host.to_str().map(|h| self.check_host(h)).unwrap_or(false);
            if !ok {
                return Err(ApiError::Forbidden("Host not allowed.".into()));
            }
        }
        let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        let upgrade = headers.contains_key(header::UPGRADE);
        if (changes_state || upgrade)
            && let Some(origin) = headers.get(header::ORIGIN)
            && !origin
                .to_str()
                .map(|o| self.check_origin(o))
                .unwrap_or(false)
        {
            return Err(ApiError::Forbidden("Cross-origin request refused.".into()));
        }
        Ok(())
    }
}

/// Splits `name:port`, `[v6]:port`, `name` or `[v6]`.
fn split_authority(value: &str) -> (&str, Option<u16>) {
    if let Some(rest) = value.strip_prefix('[') {
        let end = rest.find(']').unwrap_or(rest.len());
        let port = rest[end..].strip_prefix("]:").and_then(|p| p.parse().ok());
        return (&rest[..end], port);
    }
    match value.rsplit_once(':') {
        Some((name, port)) => (name, port.parse().ok()),
        None => (value, None),
    }
}

pub async fn middleware(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    match guard.verdict(request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn guard() -> Guard {
        Guard {
            port: 5000,
            allowed_hosts: Arc::new(vec!["eternego.lan".into()]),
        }
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn rebinding_hosts_are_refused() {
        let g = guard();
        assert!(
            g.verdict(&Method::GET, &headers(&[(header::HOST, "localhost:5000")]))
                .is_ok()
        );
        assert!(
            g.verdict(&Method::GET, &headers(&[(header::HOST, "127.0.0.1:5000")]))
                .is_ok()
        );
        assert!(
            g.verdict(&Method::GET, &headers(&[(header::HOST, "[::1]:5000")]))
                .is_ok()
        );
        assert!(
            g.verdict(&Method::GET, &headers(&[(header::HOST, "eternego.lan")]))
                .is_ok()
        );
        assert!(
            g.verdict(
                &Method::GET,
                &headers(&[(header::HOST, "evil.example:5000")])
            )
            .is_err()
        );
    }

    #[test]
    fn cross_origin_writes_are_refused() {
        let g = guard();
        let own = headers(&[
            (header::HOST, "localhost:5000"),
            (header::ORIGIN, "http://localhost:5000"),
        ]);
        assert!(g.verdict(&Method::POST, &own).is_ok());
        let other_port = headers(&[
            (header::HOST, "localhost:5000"),
            (header::ORIGIN, "http://localhost:3000"),
        ]);
        assert!(g.verdict(&Method::POST, &other_port).is_err());
        let evil = headers(&[
            (header::HOST, "localhost:5000"),
            (header::ORIGIN, "https://evil.example"),
        ]);
        assert!(g.verdict(&Method::POST, &evil).is_err());
        assert!(g.verdict(&Method::GET, &evil).is_ok());
        let null = headers(&[(header::ORIGIN, "null")]);
        assert!(g.verdict(&Method::DELETE, &null).is_err());
    }

    #[test]
    fn cross_origin_websocket_upgrades_are_refused() {
        let g = guard();
        let upgrade = headers(&[
            (header::UPGRADE, "websocket"),
            (header::ORIGIN, "http://evil.example"),
        ]);
        assert!(g.verdict(&Method::GET, &upgrade).is_err());
    }
}
