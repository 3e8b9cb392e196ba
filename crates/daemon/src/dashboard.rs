//! The dashboard: a small single-page app of our own (plain ES modules and CSS, no bundler),
//! embedded in the binary so a fresh build serves it with nothing else installed.
//!
//! Every screen is a thin client of the same HTTP API; this module only hands out the files.
//! Deep links (`/persona/{id}/...`, `/onboarding...`) answer with the app's page so a reload or
//! a bookmark lands on the right screen; any other unknown path, and every unknown `/api`,
//! `/v1` and `/ws` path, stays the JSON 404 the API has always answered.
//!
//! Each answer carries a strict Content-Security-Policy: scripts and styles only from this
//! daemon, no inline script, and connections (fetch, web sockets) only back to it, so a name
//! or message she writes can never run as code even if the escaping had a hole.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What the browser may load and connect to; `'self'` covers the same-origin web sockets.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
media-src 'self' blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file: its URL path, its content type and its bytes.
struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($path:literal, $mime:expr) => {
        Asset {
            path: concat!("/assets/", $path),
            mime: $mime,
            body: include_str!(concat!("../dashboard/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

const ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("markdown.js", JS),
    asset!("organs.js", JS),
    asset!("onboarding.js", JS),
    asset!("chat.js", JS),
    asset!("settings.js", JS),
    asset!("views.js", JS),
    asset!("chart.js", JS),
    asset!("theme.js", JS),
    asset!("icon.svg", "image/svg+xml"),
];

const INDEX: &str = include_str!("../dashboard/index.html");

/// The answer for `path` when no API route matched, or `None` when it is not the dashboard's.
pub fn serve(path: &str) -> Option<Response> {
    if let Some(asset) = ASSETS.iter().find(|a| a.path == path) {
        return Some(respond(asset.mime, asset.body));
    }
    is_page(path).then(|| respond("text/html; charset=utf-8", INDEX))
}

/// The app's own routes: the root, onboarding, and a persona's screens.
fn is_page(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    if path.is_empty() || path == "/onboarding" {
        return true;
    }
    if let Some(rest) = path.strip_prefix("/onboarding/") {
        return matches!(rest, "create" | "migrate");
    }
    let Some(rest) = path.strip_prefix("/persona/") else {
        return false;
    };
    let mut parts = rest.split('/');
    let (Some(id), screen) = (parts.next(), parts.next()) else {
        return false;
    };
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return false;
    }
    match (screen, parts.next(), parts.next()) {
        (None, _, _) => true,
        (Some("chat" | "calendar" | "memory" | "instructions" | "status"), None, _) => true,
        (Some("settings"), None, _) => true,
        (Some("settings"), Some(tab), None) => {
            !tab.is_empty() && tab.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        }
        _ => false,
    }
}

fn respond(mime: &'static str, body: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // The files change only with the binary; revalidating each load keeps an upgrade visible.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::is_page;

    #[test]
    fn deep_links_are_pages_and_api_paths_are_not() {
        for page in [
            "/",
            "/onboarding",
            "/onboarding/create",
            "/onboarding/migrate",
            "/persona/0b9e3c1a-1111-4222-8333-444455556666/chat",
            "/persona/0b9e3c1a-1111-4222-8333-444455556666/settings/organs",
        ] {
            assert!(is_page(page), "{page}");
        }
        for other in [
            "/api/nothing",
            "/v1/nothing",
            "/ws/a/b",
            "/persona/x/unknown",
            "/onboarding/elsewhere",
            "/favicon.ico",
            "/persona/0b9e/settings/a/b",
        ] {
            assert!(!is_page(other), "{other}");
        }
    }
}
