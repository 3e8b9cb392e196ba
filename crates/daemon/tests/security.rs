//! The isolated findings of the attack pass (issue 9): each test here failed before its fix.

mod support;

use serde_json::json;
use support::{Fakes, Harness};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one raw HTTP/1.1 request and returns the status code of the answer, for what reqwest
/// refuses to send (two `Host` headers).
async fn raw_status(url: &str, request: &str) -> u16 {
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

#[tokio::test]
async fn an_ip_literal_origin_that_is_not_the_host_is_refused() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let port = d.url.rsplit(':').next().unwrap().to_string();
    for origin in [
        format!("http://93.184.216.34:{port}"),
        format!("http://192.168.1.66:{port}"),
        format!("http://[2001:db8::1]:{port}"),
    ] {
        let r = d
            .client
            .post(format!("{}/api/persona/create", d.url))
            .header("origin", &origin)
            .json(&json!({"name": "A", "thinking_model": "llama3.2:1b"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "write from {origin}");
        let host = d.url.trim_start_matches("http://").to_string();
        let request = tokio_tungstenite::tungstenite::http::Request::builder()
            .uri(format!("ws://{host}/ws/system"))
            .header("host", &host)
            .header("origin", &origin)
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(())
            .unwrap();
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "socket from {origin}")
            }
            other => panic!("expected 403 for {origin}, got {other:?}"),
        }
    }
    assert!(d.personas().await.is_empty());
    d.shutdown().await;
}

#[tokio::test]
async fn two_host_headers_are_a_bad_request() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let host = d.url.trim_start_matches("http://");
    let status = raw_status(
        &d.url,
        &format!(
            "GET /api/personas HTTP/1.1\r\nHost: {host}\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 400);
    let status = raw_status(
        &d.url,
        &format!("GET /api/personas HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(status, 200);
    d.shutdown().await;
}

#[tokio::test]
async fn live_routes_on_an_unknown_id_are_not_found() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let unknown = "6c17c83c-3158-450d-8e43-0e7efea717c1";
    let not_found = (404, json!({"detail": "Persona not found."}));
    assert_eq!(
        d.post(
            &format!("/api/persona/{unknown}/read"),
            json!({"message": "hi"})
        )
        .await,
        not_found
    );
    assert_eq!(
        d.post(
            &format!("/api/persona/{unknown}/pair"),
            json!({"code": "ABC123"})
        )
        .await,
        not_found
    );
    for route in ["hear", "attach", "feed"] {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("a.txt"),
        );
        let r = d
            .client
            .post(format!("{}/api/persona/{unknown}/{route}", d.url))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(support::read(r).await, not_found, "{route}");
    }
    // A persona who exists but is stopped is still 409.
    let id = d.create_local("Adam").await["persona"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        d.post_empty(&format!("/api/persona/{id}/stop")).await.0,
        200
    );
    assert_eq!(
        d.post(&format!("/api/persona/{id}/read"), json!({"message": "hi"}))
            .await,
        (409, json!({"detail": "Persona is not active."}))
    );
    d.shutdown().await;
}

#[tokio::test]
async fn upper_case_ids_are_not_found_on_every_route() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let id = d.create_local("Adam").await["persona"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let upper = id.to_ascii_uppercase();
    let not_found = (404, json!({"detail": "Persona not found."}));
    for route in [
        "conversation",
        "knowledge",
        "calendar",
        "diagnose",
        "export",
        "media/x.png",
    ] {
        assert_eq!(
            d.get(&format!("/api/persona/{upper}/{route}")).await,
            not_found,
            "GET {route}"
        );
    }
    for route in ["start", "stop", "restart", "sleep", "delete"] {
        assert_eq!(
            d.post_empty(&format!("/api/persona/{upper}/{route}")).await,
            not_found,
            "POST {route}"
        );
    }
    assert_eq!(
        d.post(
            &format!("/api/persona/{upper}/update"),
            json!({"name": "B"})
        )
        .await,
        not_found
    );
    assert_eq!(
        d.post(
            &format!("/api/persona/{upper}/read"),
            json!({"message": "hi"})
        )
        .await,
        not_found
    );
    // The persona herself is untouched and still answers under her real id.
    assert_eq!(d.personas().await.len(), 1);
    assert_eq!(
        d.get(&format!("/api/persona/{id}/conversation")).await.0,
        200
    );
    d.shutdown().await;
}

#[tokio::test]
async fn a_name_too_long_for_her_identity_is_refused_up_front() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let long = "N".repeat(93);
    let (status, body) = d
        .post(
            "/api/persona/create",
            json!({"name": long, "thinking_model": "llama3.2:1b"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"][0]["type"], "string_too_long");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "name"]));
    assert_eq!(body["detail"][0]["ctx"]["max_length"], 92);
    assert!(d.personas().await.is_empty());
    // The longest allowed name gives a persona who starts.
    let body = d.create_local(&"N".repeat(92)).await;
    assert_eq!(body["persona"]["name"].as_str().unwrap().len(), 92);
    assert_eq!(d.personas().await[0]["running"], true);
    d.shutdown().await;
}
