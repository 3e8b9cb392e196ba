//! The Telegram long-poll client and Discord sending, against the loopback fakes.

use channels::discord::Discord;
use channels::telegram::{Inbound, Telegram};
use channels::{ChannelError, PlatformUrls};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const TG: &str = "4242:AAE-poll_secret_token";
const DC: &str = "discord.secret.token";

fn urls(telegram: &str, discord: &str) -> PlatformUrls {
    PlatformUrls {
        telegram: telegram.into(),
        discord: discord.into(),
    }
}

#[tokio::test]
async fn polling_delivers_messages_in_order_and_confirms_them() {
    let fake = testkit::telegram::start(&[TG]).await;
    let bot = Telegram::new(reqwest::Client::new(), &urls(&fake.url(), ""), TG);
    let (tx, mut rx) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let poller = tokio::spawn({
        let (bot, cancel) = (bot.clone(), cancel.clone());
        async move { bot.poll(tx, cancel).await }
    });

    let first = fake.push_text(TG, 77, "/start@fake_eternego_bot please");
    let got: Inbound = rx.recv().await.unwrap();
    assert_eq!(
        (got.update_id, got.chat_id, got.text.as_str()),
        (first, 77, "/start@fake_eternego_bot please")
    );
    assert_eq!(got.command.as_deref(), Some("start"));
    assert_eq!(got.sender.as_deref(), Some("person"));

    let second = fake.push_photo(TG, 77, b"\xFF\xD8jpeg bytes", Some("look at this"));
    let got = rx.recv().await.unwrap();
    assert_eq!(got.update_id, second);
    assert_eq!(got.text, "look at this");
    assert_eq!(got.command, None);
    let file_id = got.photo.expect("photo");
    assert_eq!(
        bot.download(&file_id, 1024).await.unwrap(),
        b"\xFF\xD8jpeg bytes"
    );

    fake.push_voice(TG, 77, b"OggS");
    let voice = rx.recv().await.unwrap().voice.expect("a voice note");
    assert_eq!(
        (voice.mime_type.as_deref(), voice.file_size),
        (Some("audio/ogg"), Some(4))
    );
    assert_eq!(bot.download(&voice.file_id, 1024).await.unwrap(), b"OggS");
    fake.push_document(TG, 77, "list.txt", "text/plain", b"flour", Some("my list"));
    let got = rx.recv().await.unwrap();
    let document = got.document.expect("a document");
    assert_eq!(
        (
            got.text.as_str(),
            document.file_name.as_deref(),
            document.mime_type.as_deref()
        ),
        ("my list", Some("list.txt"), Some("text/plain"))
    );
    assert_eq!(
        bot.download(&document.file_id, 1024).await.unwrap(),
        b"flour"
    );
    let too_large = bot
        .download(&document.file_id, 4)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        too_large.contains("larger than 4 bytes") && !too_large.contains(TG),
        "{too_large}"
    );
    let files = fake
        .requests()
        .all()
        .into_iter()
        .filter(|r| r.path.starts_with("/file/"))
        .count();
    assert_eq!(
        files, 3,
        "a file getFile states too large is not downloaded"
    );

    // The fake, like Telegram, drops the kinds of update the bot did not ask for.
    fake.edit(TG, second, "look at this, now cropped");
    let got = rx.recv().await.unwrap();
    assert!(got.edited, "{got:?}");
    assert_eq!(
        (got.chat_id, got.text.as_str(), got.photo.is_some()),
        (77, "look at this, now cropped", true)
    );

    // The poll that brought the second update had already confirmed the first.
    let polls = fake.requests().to(&format!("/bot{TG}/getUpdates"));
    assert!(
        polls.iter().any(|p| p.body["offset"] == first + 1),
        "{polls:?}"
    );
    assert!(polls.iter().all(|p| p.body["timeout"] == 30));
    assert!(
        polls
            .iter()
            .all(|p| p.body["allowed_updates"] == serde_json::json!(["message", "edited_message"]))
    );

    cancel.cancel();
    assert_eq!(poller.await.unwrap(), Ok(()));
}

#[tokio::test]
async fn replies_are_sent_and_split_at_the_limit() {
    let fake = testkit::telegram::start(&[TG]).await;
    let bot = Telegram::new(reqwest::Client::new(), &urls(&fake.url(), ""), TG);
    bot.send(77, "Good morning!").await.unwrap();
    let long = format!("{}\n{}", "a".repeat(3000), "b".repeat(3000));
    bot.send(77, &long).await.unwrap();
    bot.typing(77).await.unwrap();
    let sent = fake.sent(TG);
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0]["chat_id"], 77);
    assert_eq!(sent[0]["text"], "Good morning!");
    assert_eq!(sent[1]["text"].as_str().unwrap().len(), 3000);
}

#[tokio::test]
async fn a_refused_token_stops_polling_without_showing_it() {
    let fake = testkit::telegram::start(&[TG]).await;
    let wrong = "4242:AAE-revoked_secret";
    let bot = Telegram::new(reqwest::Client::new(), &urls(&fake.url(), ""), wrong);
    let (tx, _rx) = mpsc::channel(1);
    let err = bot.poll(tx, CancellationToken::new()).await.unwrap_err();
    assert_eq!(
        err,
        ChannelError::Platform {
            platform: "Telegram",
            reason: "getUpdates: HTTP 401: Unauthorized".into()
        }
    );
    let err = bot.send(1, "hi").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Telegram: sendMessage: HTTP 401: Unauthorized"
    );
    assert!(!format!("{bot:?}").contains("secret"));

    let dead = Telegram::new(
        reqwest::Client::new(),
        &urls("http://127.0.0.1:1", ""),
        wrong,
    );
    let err = dead.send(1, "hi").await.unwrap_err();
    assert_eq!(err.to_string(), "Telegram: sendMessage: connection refused");
}

#[tokio::test]
async fn cancelling_stops_a_parked_poll() {
    let fake = testkit::telegram::start(&[TG]).await;
    let bot = Telegram::new(reqwest::Client::new(), &urls(&fake.url(), ""), TG);
    let (tx, _rx) = mpsc::channel(1);
    let cancel = CancellationToken::new();
    let poller = tokio::spawn({
        let cancel = cancel.clone();
        async move { bot.poll(tx, cancel).await }
    });
    while fake
        .requests()
        .to(&format!("/bot{TG}/getUpdates"))
        .is_empty()
    {
        tokio::task::yield_now().await;
    }
    cancel.cancel();
    assert_eq!(poller.await.unwrap(), Ok(()));
}

#[tokio::test]
async fn discord_sends_with_bot_auth_and_splits() {
    let fake = testkit::discord::start(&[DC]).await;
    let bot = Discord::new(reqwest::Client::new(), &urls("", &fake.url()), DC);
    bot.send("555", "hello there").await.unwrap();
    bot.send("555", &"word ".repeat(500)).await.unwrap();
    bot.typing("555").await.unwrap();
    let sent = fake.sent("555");
    assert_eq!(sent[0], "hello there");
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|m| m.chars().count() <= 2000));
    let req = &fake.requests().to("/channels/555/messages")[0];
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bot {DC}").as_str())
    );

    let wrong = Discord::new(
        reqwest::Client::new(),
        &urls("", &fake.url()),
        "not.the.secret",
    );
    let err = wrong.send("555", "hi").await.unwrap_err();
    assert_eq!(err.to_string(), "Discord: HTTP 401: Unauthorized");
    assert!(!format!("{wrong:?}").contains("secret"));
}
