//! Listening on the Discord Gateway, against the loopback fake speaking the real protocol over
//! a real websocket. The fake's heartbeat interval is long, so every step here is driven by a
//! message, never by waiting for a timer.

use std::time::Duration;

use channels::discord::Discord;
use channels::discord_gateway::{INTENTS, Inbound};
use channels::{ChannelError, PlatformUrls};
use testkit::discord::{BOT_ID, FakeDiscord, Post};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const DC: &str = "discord.gateway.secret";
const PATIENCE: Duration = Duration::from_secs(20);

struct Listening {
    fake: FakeDiscord,
    heard: mpsc::Receiver<Inbound>,
    cancel: CancellationToken,
    task: JoinHandle<Result<(), ChannelError>>,
}

async fn listening(token: &str) -> Listening {
    let fake = testkit::discord::start(&[DC]).await;
    let urls = PlatformUrls {
        telegram: String::new(),
        discord: fake.url(),
    };
    let bot = Discord::new(reqwest::Client::new(), &urls, token);
    let (tx, heard) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let cancel = cancel.clone();
        async move { bot.listen(tx, cancel).await }
    });
    Listening {
        fake,
        heard,
        cancel,
        task,
    }
}

impl Listening {
    async fn next(&mut self) -> Inbound {
        tokio::time::timeout(PATIENCE, self.heard.recv())
            .await
            .expect("nothing was heard")
            .expect("listener ended")
    }

    async fn stop(self) -> Result<(), ChannelError> {
        self.cancel.cancel();
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("listening did not stop")
            .unwrap()
    }
}

#[tokio::test]
async fn it_identifies_heartbeats_and_hears_people_but_not_bots_or_itself() {
    let mut l = listening(DC).await;
    let identify = l.fake.nth_from_bot(2, 0).await;
    assert_eq!(identify["d"]["token"], DC);
    assert_eq!(identify["d"]["intents"], INTENTS);
    assert_eq!(identify["d"]["intents"], (1 << 9) | (1 << 12) | (1 << 15));
    assert_eq!(
        (
            identify["d"]["properties"]["browser"].as_str(),
            identify["d"]["properties"]["device"].as_str()
        ),
        (Some("eternego"), Some("eternego"))
    );
    let lookup = l.fake.requests().to("/gateway/bot");
    assert_eq!(lookup.len(), 1);
    assert_eq!(
        lookup[0].header("authorization"),
        Some(format!("Bot {DC}").as_str())
    );

    // READY was dispatch 1; Discord's heartbeat request is answered at once with it.
    l.fake.ask_heartbeat().await;
    assert_eq!(l.fake.nth_from_bot(1, 0).await["d"], 1);

    l.fake
        .push(Post {
            author_is_bot: true,
            ..Post::dm("71", "another bot")
        })
        .await;
    l.fake
        .push(Post {
            author_id: BOT_ID.into(),
            author_is_bot: true,
            ..Post::dm("71", "her own line")
        })
        .await;
    l.fake.push(Post::dm("71", "hello there")).await;
    l.fake.push(Post::in_guild("72", "hello, server")).await;
    // Dispatches arrive in order, so the first thing heard proves the first two were skipped.
    let dm = l.next().await;
    assert_eq!(
        (dm.channel_id.as_str(), dm.text.as_str(), dm.private),
        ("71", "hello there", true)
    );
    assert_eq!(dm.sender.as_deref(), Some("Person"));
    let guild = l.next().await;
    assert_eq!(
        (
            guild.channel_id.as_str(),
            guild.text.as_str(),
            guild.private
        ),
        ("72", "hello, server", false)
    );

    // The heartbeat carries the last sequence seen (READY + four messages), and was ACKed:
    // the connection is still the one it identified on.
    l.fake.ask_heartbeat().await;
    assert_eq!(l.fake.nth_from_bot(1, 1).await["d"], 5);
    assert_eq!(
        l.fake
            .gateway_log()
            .iter()
            .filter(|p| p["op"] == 2 || p["op"] == 6)
            .count(),
        1
    );
    assert_eq!(l.stop().await, Ok(()));
}

#[tokio::test]
async fn a_reconnect_request_resumes_the_session_and_keeps_hearing() {
    let mut l = listening(DC).await;
    l.fake.push(Post::dm("71", "before")).await;
    assert_eq!(l.next().await.text, "before");

    l.fake.ask_reconnect().await;
    let resume = l.fake.nth_from_bot(6, 0).await;
    assert_eq!(resume["d"]["token"], DC);
    assert_eq!(resume["d"]["session_id"], "fake-session-1");
    assert_eq!(resume["d"]["seq"], 2);

    l.fake.push(Post::dm("71", "after")).await;
    assert_eq!(l.next().await.text, "after");
    assert_eq!(
        l.fake.gateway_log().iter().filter(|p| p["op"] == 2).count(),
        1,
        "resumed, not identified again"
    );
    assert_eq!(
        l.fake.requests().to("/gateway/bot").len(),
        1,
        "resumed at READY's resume_gateway_url"
    );
    assert_eq!(l.stop().await, Ok(()));
}

#[tokio::test]
async fn unacknowledged_heartbeats_make_it_resume_on_a_fresh_connection() {
    let l = listening(DC).await;
    l.fake.nth_from_bot(2, 0).await;
    // Every connection from here on is a zombie: the bot reconnects when Discord asks, beats
    // unanswered, gives that connection up at the next beat and resumes once more.
    l.fake.stop_acking(50);
    l.fake.ask_reconnect().await;
    assert_eq!(
        l.fake.nth_from_bot(6, 0).await["d"]["session_id"],
        "fake-session-1"
    );
    l.fake.nth_from_bot(1, 0).await;
    let again = l.fake.nth_from_bot(6, 1).await;
    assert_eq!(again["d"]["session_id"], "fake-session-1");
    let log = l.fake.gateway_log();
    let second_resume = log.iter().rposition(|p| p["op"] == 6).unwrap();
    assert!(
        log[..second_resume].iter().any(|p| p["op"] == 1),
        "it beat before giving up: {log:?}"
    );
    assert_eq!(l.stop().await, Ok(()));
}

#[tokio::test]
async fn an_invalidated_session_identifies_again() {
    let mut l = listening(DC).await;
    l.fake.nth_from_bot(2, 0).await;
    l.fake.invalidate_session(false).await;
    let again = l.fake.nth_from_bot(2, 1).await;
    assert_eq!(again["d"]["token"], DC);
    l.fake.push(Post::dm("71", "still here?")).await;
    assert_eq!(l.next().await.text, "still here?");
    assert!(
        l.fake.gateway_log().iter().all(|p| p["op"] != 6),
        "a session Discord invalidated is not resumed"
    );
    assert_eq!(l.stop().await, Ok(()));
}

#[tokio::test]
async fn a_refused_token_stops_listening_without_showing_it() {
    let wrong = "discord.revoked.secret";
    let l = listening(wrong).await;
    let ended = tokio::time::timeout(PATIENCE, l.task)
        .await
        .expect("listening did not give up")
        .unwrap();
    assert_eq!(
        ended,
        Err(ChannelError::Platform {
            platform: "Discord",
            reason: "gateway/bot: HTTP 401: Unauthorized".into()
        })
    );
    assert!(l.fake.gateway_log().is_empty());
}

#[tokio::test]
async fn an_attachment_is_heard_and_fetched_without_the_token_and_within_the_limit() {
    let mut l = listening(DC).await;
    l.fake
        .push(Post::dm("42", "my notes").with_attachment("notes.txt", "text/plain", b"flour, eggs"))
        .await;
    let heard = l.next().await;
    let file = &heard.attachments[0];
    assert_eq!(
        (
            file.filename.as_str(),
            file.content_type.as_deref(),
            file.size
        ),
        ("notes.txt", Some("text/plain"), 11)
    );
    let urls = PlatformUrls {
        telegram: String::new(),
        discord: l.fake.url(),
    };
    let bot = Discord::new(reqwest::Client::new(), &urls, DC);
    // The fake's CDN refuses any request carrying a token, as a leak would be.
    assert_eq!(bot.fetch(file, 1024).await.unwrap(), b"flour, eggs");
    let fetched = l
        .fake
        .requests()
        .all()
        .into_iter()
        .filter(|r| r.path.starts_with("/attachments/"))
        .count();
    let stated_too_large = bot.fetch(file, 10).await.unwrap_err().to_string();
    assert!(
        stated_too_large.contains("larger than 10 bytes"),
        "{stated_too_large}"
    );
    let lying = channels::discord_gateway::Attachment {
        size: 1,
        ..file.clone()
    };
    let grew_too_large = bot.fetch(&lying, 10).await.unwrap_err().to_string();
    assert!(
        grew_too_large.contains("larger than 10 bytes") && !grew_too_large.contains(DC),
        "{grew_too_large}"
    );
    let after = l
        .fake
        .requests()
        .all()
        .into_iter()
        .filter(|r| r.path.starts_with("/attachments/"))
        .count();
    assert_eq!(
        after,
        fetched + 1,
        "a file stated too large is not downloaded at all"
    );
    l.stop().await.unwrap();
}

/// Discord also sends MESSAGE_UPDATE when a link preview loads; only new words are an edit.
#[tokio::test]
async fn an_edit_is_heard_once_and_a_link_preview_is_not_an_edit() {
    let mut l = listening(DC).await;
    let id = l
        .fake
        .push(Post::dm("71", "see https://example.com at 5"))
        .await;
    assert!(!l.next().await.edited);
    l.fake.unfurl(&id).await;
    l.fake.edit(&id, "see https://example.com at 6").await;
    let edit = l.next().await;
    assert_eq!(
        (edit.message_id.as_str(), edit.text.as_str(), edit.edited),
        (id.as_str(), "see https://example.com at 6", true)
    );
    // The preview loading again after the edit changes no words: the next thing heard is new.
    l.fake.unfurl(&id).await;
    l.fake.push(Post::dm("71", "and one more thing")).await;
    let next = l.next().await;
    assert_eq!(
        (next.text.as_str(), next.edited),
        ("and one more thing", false)
    );
    assert_eq!(l.stop().await, Ok(()));
}
