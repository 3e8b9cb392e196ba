//! Access beyond loopback against a real daemon. The daemon is bound on 127.0.0.1 but configured
//! as exposed (`require_token`, what `ETERNEGO_REQUIRE_TOKEN=1` sets and what any non-loopback
//! `--host` implies), so the tests need no second interface: exposure is decided from the
//! configuration, never from the peer's address.

mod support;

use daemon::access::{MOST_FAILURES, Tokens};
use daemon::{Daemon, LaunchError};
use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderValue, SET_COOKIE};
use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A daemon that asks for tokens, with one token made before it starts.
async fn exposed(home: &std::path::Path, fakes: &Fakes) -> (Harness, String) {
    let (_, secret) = Tokens::at(home).create("tests").unwrap();
    let mut config = config(home, fakes);
    config.require_token = true;
    (Harness::with_config(config).await, secret)
}

fn bearer(token: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn status(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn an_exposed_daemon_without_a_token_refuses_to_start() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let mut config = config(home.path(), &fakes);
    config.require_token = true;
    let Err(error) = Daemon::open(config) else {
        panic!("an exposed daemon started with no access token");
    };
    assert!(
        matches!(error, LaunchError::NoAccessToken { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("eternego token create"),
        "{error}"
    );

    let mut on_all = support::config(home.path(), &fakes);
    on_all.host = std::net::IpAddr::from([0, 0, 0, 0]);
    assert!(on_all.exposed(), "0.0.0.0 is beyond loopback");
    assert!(!support::config(home.path(), &fakes).exposed());
}

#[tokio::test]
async fn beyond_loopback_the_api_needs_a_bearer_token_and_the_dashboard_page_does_not() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let (d, token) = exposed(home.path(), &fakes).await;
    let plain = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", d.url);

    let refused = plain.get(url("/api/personas")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        status(bearer("etg_not-a-token").get(url("/api/personas"))).await,
        401
    );
    for path in ["/api/personas", "/openapi.json", "/v1/models", "/instances"] {
        assert_eq!(status(bearer(&token).get(url(path))).await, 200, "{path}");
        assert_eq!(status(plain.get(url(path))).await, 401, "{path}");
    }
    assert_eq!(
        status(
            plain
                .post(url("/api/persona/create"))
                .json(&json!({"name": "Iris"}))
        )
        .await,
        401
    );
    // The page and its scripts load without a key: it has to, to trade its link for a session.
    assert_eq!(status(plain.get(url("/"))).await, 200);
    assert_eq!(status(plain.get(url("/assets/app.js"))).await, 200);
    d.shutdown().await;
}

#[tokio::test]
async fn wrong_tokens_from_one_address_are_answered_429_then_even_the_right_one_is() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let (d, token) = exposed(home.path(), &fakes).await;
    let url = format!("{}/api/personas", d.url);
    for guess in 0..MOST_FAILURES {
        let wrong = format!("etg_guess-{guess}");
        assert_eq!(status(bearer(&wrong).get(&url)).await, 401, "guess {guess}");
    }
    let limited = bearer(&token).get(&url).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let exchange = reqwest::Client::new()
        .post(format!("{}/api/session", d.url))
        .json(&json!({"token": token}));
    assert_eq!(status(exchange).await, 429, "the exchange is limited too");
    d.shutdown().await;
}

#[tokio::test]
async fn a_token_trades_for_a_session_cookie_that_opens_the_api_sockets_and_media() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let (mut d, token) = exposed(home.path(), &fakes).await;
    d.client = bearer(&token);
    let id = d.create_local("Iris").await["persona"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let media = home.path().join(format!("personas/{id}/home/media"));
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("photo.png"), b"not really a png").unwrap();

    let plain = reqwest::Client::new();
    let session = |t: &str| {
        plain
            .post(format!("{}/api/session", d.url))
            .json(&json!({"token": t}))
            .send()
    };
    assert_eq!(session("etg_wrong").await.unwrap().status(), 401);
    let traded = session(&token).await.unwrap();
    assert_eq!(traded.status(), 204);
    let set = traded.headers()[SET_COOKIE].to_str().unwrap().to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{part} missing in {set}");
    }
    let cookie = set.split(';').next().unwrap().to_string();
    assert!(cookie.starts_with("eternego_session="), "{cookie}");
    assert!(
        !cookie.contains(&token),
        "the cookie is a session, not the token"
    );

    let with_cookie = |path: &str| {
        plain
            .get(format!("{}{path}", d.url))
            .header(COOKIE, cookie.as_str())
    };
    assert_eq!(status(with_cookie("/api/personas")).await, 200);
    let file = with_cookie(&format!("/api/persona/{id}/media/photo.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.bytes().await.unwrap().as_ref(), b"not really a png");
    let media_url = format!("{}/api/persona/{id}/media/photo.png", d.url);
    assert_eq!(status(plain.get(&media_url)).await, 401);

    let ws = format!("{}/ws/system", d.url.replacen("http", "ws", 1));
    let mut upgrade = ws.as_str().into_client_request().unwrap();
    upgrade
        .headers_mut()
        .insert(COOKIE, HeaderValue::from_str(&cookie).unwrap());
    let (socket, response) = tokio_tungstenite::connect_async(upgrade).await.unwrap();
    assert_eq!(response.status(), 101);
    drop(socket);
    let persona_ws = format!("{}/ws/{id}", d.url.replacen("http", "ws", 1));
    for bare in [ws.as_str(), persona_ws.as_str()] {
        match tokio_tungstenite::connect_async(bare).await {
            Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401, "{bare}"),
            other => panic!("{bare} without a cookie: {other:?}"),
        }
    }
    d.shutdown().await;
}

#[tokio::test]
async fn a_revoked_token_is_refused_by_the_running_daemon() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let (d, token) = exposed(home.path(), &fakes).await;
    let url = format!("{}/api/personas", d.url);
    assert_eq!(status(bearer(&token).get(&url)).await, 200);
    let tokens = Tokens::at(home.path());
    let id = tokens.list().unwrap()[0].id.clone();
    tokens.revoke(&id).unwrap();
    assert_eq!(status(bearer(&token).get(&url)).await, 401);
    d.shutdown().await;
}

#[tokio::test]
async fn on_loopback_no_token_is_asked_and_an_authorization_header_is_ignored() {
    let fakes = Fakes::start().await;
    let home = tempfile::tempdir().unwrap();
    let d = Harness::start(home.path(), &fakes).await;
    let url = format!("{}/api/personas", d.url);
    assert_eq!(status(reqwest::Client::new().get(&url)).await, 200);
    assert_eq!(
        status(bearer("sk-whatever-the-sdk-sends").get(&url)).await,
        200
    );
    assert_eq!(
        status(
            reqwest::Client::new()
                .post(format!("{}/api/session", d.url))
                .json(&json!({"token": "x"}))
        )
        .await,
        404,
        "no session exchange on loopback"
    );
    d.shutdown().await;
}
