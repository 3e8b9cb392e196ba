//! Refuses what a hostile web page could send to a daemon that has no login on loopback.
//!
//! * DNS rebinding: a page on `evil.example` that re-resolves to 127.0.0.1 still sends
//!   `Host: evil.example`, so only IP literals, `localhost` and names the person allowed pass.
//! * Cross-site requests: a state-changing request or WebSocket upgrade whose `Origin` is not
//!   the very authority the request was sent to (its own `Host`, on our port) is refused. Any
//!   other page — even one on another IP literal, which would pass the `Host` check — could
//!   otherwise drive her and read every frame. Reads need no check: the browser will not hand a
//!   cross-origin page the response (no CORS headers are ever sent).
//! * Two `Host` headers are ambiguous (which one did the browser mean?), so they are refused.
//! * Beyond loopback (see [`crate::access`]) every request but the dashboard's own files and the
//!   session exchange needs an access token or a session cookie.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::access::{Access, Verdict};
use crate::error::ApiError;

#[derive(Clone)]
pub struct Guard {
    pub port: u16,
    pub allowed_hosts: Arc<Vec<String>>,
    /// Present on an exposed daemon only: on loopback no key is asked for, and an
    /// `Authorization` header (the openai client and the identity SDK always send one) is ignored.
    pub access: Option<Arc<Access>>,
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

    /// Checks an `Origin` header value (`http://name[:port]`) against the request's own `Host`:
    /// same name (case-insensitive), same port, and that port is ours. The `Host` has already
    /// passed [`Guard::check_host`], so the Origin inherits its allowance and nothing else does.
    fn check_origin(&self, origin: &str, host: Option<&str>) -> bool {
        let Some(host) = host else {
            return false;
        };
        let Some(rest) = origin.strip_prefix("http://") else {
            return false;
        };
        let (origin_name, origin_port) = split_authority(rest.trim_end_matches('/'));
        let (host_name, host_port) = split_authority(host);
        let origin_port = origin_port.unwrap_or(80);
        origin_name.eq_ignore_ascii_case(host_name)
            && origin_port == host_port.unwrap_or(80)
            && origin_port == self.port
    }

    pub fn verdict(&self, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
        let mut hosts = headers.get_all(header::HOST).iter();
        let host = hosts.next();
        if hosts.next().is_some() {
            return Err(ApiError::BadRequest(
                "Only one Host header is allowed.".into(),
            ));
        }
        let host = match host {
            Some(value) => match value.to_str() {
                Ok(h) if self.check_host(h) => Some(h),
                _ => return Err(ApiError::Forbidden("Host not allowed.".into())),
            },
            None => None,
        };
        let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        let upgrade = headers.contains_key(header::UPGRADE);
        if (changes_state || upgrade)
            && let Some(origin) = headers.get(header::ORIGIN)
            && !origin
                .to_str()
                .map(|o| self.check_origin(o, host))
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

/// What an exposed daemon hands out without a key: the dashboard's own files (they hold nothing
/// of hers, and its page must load to trade its link for a session) and that trade itself, which
/// counts its own failures.
fn needs_key(method: &Method, path: &str) -> bool {
    if path == "/api/session" {
        return false;
    }
    !(matches!(*method, Method::GET | Method::HEAD) && crate::dashboard::serve(path).is_some())
}

pub async fn middleware(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    if let Err(e) = guard.verdict(request.method(), request.headers()) {
        return e.into_response();
    }
    if let Some(access) = &guard.access
        && needs_key(request.method(), request.uri().path())
    {
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let verdict = access.check(request.headers(), client, Instant::now());
        if verdict != Verdict::Allowed {
            return verdict.response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn guard() -> Guard {
        Guard {
            port: 5000,
            allowed_hosts: Arc::new(vec!["eternego.lan".into()]),
            access: None,
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
    fn an_origin_must_be_the_requests_own_host() {
        let g = guard();
        for (host, origin) in [
            ("127.0.0.1:5000", "http://93.184.216.34:5000"),
            ("127.0.0.1:5000", "http://192.168.1.66:5000"),
            ("127.0.0.1:5000", "http://[2001:db8::1]:5000"),
            ("localhost:5000", "http://127.0.0.1:5000"),
            ("[::1]:5000", "http://[::2]:5000"),
            ("eternego.lan:5000", "http://localhost:5000"),
        ] {
            let h = headers(&[(header::HOST, host), (header::ORIGIN, origin)]);
            assert!(g.verdict(&Method::POST, &h).is_err(), "{origin} on {host}");
        }
        for (host, origin) in [
            ("127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("[::1]:5000", "http://[::1]:5000"),
            ("LocalHost:5000", "http://localhost:5000/"),
            ("eternego.lan:5000", "http://eternego.lan:5000"),
        ] {
            let h = headers(&[(header::HOST, host), (header::ORIGIN, origin)]);
            assert!(g.verdict(&Method::POST, &h).is_ok(), "{origin} on {host}");
        }
        let no_host = headers(&[(header::ORIGIN, "http://127.0.0.1:5000")]);
        assert!(g.verdict(&Method::POST, &no_host).is_err());
    }

    #[test]
    fn two_host_headers_are_a_bad_request() {
        let g = guard();
        let mut h = headers(&[(header::HOST, "localhost:5000")]);
        h.append(header::HOST, HeaderValue::from_static("evil.example"));
        assert!(matches!(
            g.verdict(&Method::GET, &h),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn only_the_dashboards_files_and_the_exchange_go_without_a_key() {
        for (method, path) in [
            (Method::GET, "/"),
            (Method::GET, "/assets/app.js"),
            (
                Method::GET,
                "/persona/0b9e3c1a-1111-4222-8333-444455556666/chat",
            ),
            (Method::POST, "/api/session"),
        ] {
            assert!(!needs_key(&method, path), "{method} {path}");
        }
        for (method, path) in [
            (Method::GET, "/api/personas"),
            (Method::GET, "/ws/system"),
            (Method::GET, "/openapi.json"),
            (Method::GET, "/instances"),
            (Method::GET, "/v1/models"),
            (Method::POST, "/"),
            (Method::GET, "/nothing-here"),
        ] {
            assert!(needs_key(&method, path), "{method} {path}");
        }
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
