//! Channel validation against the loopback Telegram and Discord fakes.

use channels::{ChannelError, PlatformUrls, validate};
use persona::{ChannelKind, Credentials};

const TG: &str = "123456:AAH-secret_telegram_token";
const DC: &str = "MTE5.secret.discord-token";

fn urls(telegram: &str, discord: &str) -> PlatformUrls {
    PlatformUrls {
        telegram: telegram.into(),
        discord: discord.into(),
    }
}

#[tokio::test]
async fn good_tokens_give_unpaired_channels() {
    let tg = testkit::telegram::start(&[TG]).await;
    let dc = testkit::discord::start(&[DC]).await;
    let client = reqwest::Client::new();
    let u = urls(&format!("{}/", tg.url()), &dc.url());
    let channel = validate(&client, &u, ChannelKind::Telegram, TG)
        .await
        .unwrap();
    assert_eq!(channel.kind, ChannelKind::Telegram);
    assert_eq!(
        channel.name, "telegram",
        "named after its kind until paired"
    );
    assert_eq!(channel.credentials, Some(Credentials { token: TG.into() }));
    assert_eq!(channel.verified_at, None);
    assert_eq!(tg.requests().to(&format!("/bot{TG}/getMe")).len(), 1);

    let channel = validate(&client, &u, ChannelKind::Discord, DC)
        .await
        .unwrap();
    assert_eq!(channel.credentials, Some(Credentials { token: DC.into() }));
    let me = &dc.requests().to("/users/@me")[0];
    assert_eq!(
        me.header("authorization"),
        Some(format!("Bot {DC}").as_str())
    );
    assert_eq!(me.header("user-agent"), Some("DiscordBot (eternego, 0.1)"));
}

#[tokio::test]
async fn bad_tokens_fail_with_the_platform_reason_and_no_token() {
    let tg = testkit::telegram::start(&[TG]).await;
    let dc = testkit::discord::start(&[DC]).await;
    let client = reqwest::Client::new();
    let u = urls(&tg.url(), &dc.url());
    let bad_tg = "999:wrong-telegram-token";
    let err = validate(&client, &u, ChannelKind::Telegram, bad_tg)
        .await
        .unwrap_err();
    assert_eq!(err, ChannelError::Telegram("HTTP 401: Unauthorized".into()));
    assert_eq!(
        err.to_string(),
        "Telegram validation failed: HTTP 401: Unauthorized"
    );
    let err = validate(&client, &u, ChannelKind::Discord, "wrong.discord")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Discord validation failed: HTTP 401: Unauthorized"
    );
    let err = validate(&client, &u, ChannelKind::Telegram, "")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Telegram validation failed: the token is empty"
    );
    let err = validate(&client, &u, ChannelKind::Telegram, "12/../x")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Telegram validation failed: the token has characters")
    );
}

#[tokio::test]
async fn unreachable_platforms_never_show_the_url_with_the_token() {
    let client = reqwest::Client::new();
    let u = urls("http://127.0.0.1:1", "http://127.0.0.1:1");
    let err = validate(&client, &u, ChannelKind::Telegram, TG)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Telegram validation failed: could not reach Telegram (connection refused)"
    );
    assert!(!format!("{err:?}").contains("secret"));
    let err = validate(&client, &u, ChannelKind::Discord, DC)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Discord validation failed: could not reach Discord (connection refused)"
    );
    let unresolvable = urls("http://no-such-host.invalid", "http://no-such-host.invalid");
    let err = validate(&client, &unresolvable, ChannelKind::Telegram, TG)
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test]
async fn web_needs_no_call() {
    let client = reqwest::Client::new();
    let channel = validate(&client, &PlatformUrls::default(), ChannelKind::Web, "")
        .await
        .unwrap();
    assert_eq!(channel.kind, ChannelKind::Web);
    assert_eq!(channel.credentials, None);
}
