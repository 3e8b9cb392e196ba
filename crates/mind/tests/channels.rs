//! Her Telegram and Discord gateways against fake platforms on loopback (Discord's Gateway over a
//! real websocket) and a scripted fake Mind: pairing, where replies and notices go, photos, and
//! stopping the poll.

mod common;

use std::time::Duration;

use common::*;
use mind::pairing::PairError;
use mind::{Agent, MindError, Spoken};
use persona::{Channel, ChannelKind, Credentials};
use serde_json::{Value, json};
use testkit::ScriptedReply;
use testkit::discord::{FakeDiscord, Post};
use testkit::ollama::FakeOllama;
use testkit::telegram::FakeTelegram;

const MODEL: &str = "eternego-iris";
const TOKEN: &str = "7001:telegram-test-token";
const DISCORD_TOKEN: &str = "discord-test-token";
const PERSON: i64 = 4242;
const STRANGER: i64 = 999;
/// Discord channel ids: her person's DM with the bot, a stranger's DM, a server channel.
const DM: &str = "880000000000000001";
const STRANGER_DM: &str = "880000000000000002";
const SERVER_CHANNEL: &str = "880000000000000003";

struct Scene {
    mind: FakeOllama,
    telegram: FakeTelegram,
    discord: FakeDiscord,
    world: World,
}

/// A fake Mind that does nothing until a test scripts it, fake platforms, and her record
/// holding a Telegram channel, paired to `paired` when given.
async fn scene(paired: Option<i64>) -> Scene {
    let mind = testkit::ollama::start(&[MODEL]).await;
    mind.set_responder(script(|_, _, _| {
        json(json!({"decision": [{"done": null}]}))
    }));
    let telegram = testkit::telegram::start(&[TOKEN]).await;
    let discord = testkit::discord::start(&[DISCORD_TOKEN]).await;
    let mut world = World::new(mind_at(None, &mind.url(), MODEL));
    world.platforms = channels::PlatformUrls {
        telegram: telegram.url(),
        discord: discord.url(),
    };
    world.persona.channels = vec![Channel {
        kind: ChannelKind::Telegram,
        name: paired.map(|c| c.to_string()).unwrap_or_default(),
        credentials: Some(Credentials {
            token: TOKEN.into(),
        }),
        verified_at: paired.map(|_| "2026-05-01T08:00:00Z".to_string()),
    }];
    world.store.save(&world.persona).unwrap();
    Scene {
        mind,
        telegram,
        discord,
        world,
    }
}

/// Waits, within [`PATIENCE`], for `check` to find something; never passes on a timeout.
async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(v) = check() {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("{what} never happened"))
}

/// The texts the bot sent to `chat`, in order.
fn sent_to(telegram: &FakeTelegram, chat: i64) -> Vec<String> {
    telegram
        .sent(TOKEN)
        .iter()
        .filter(|m| m["chat_id"].to_string().trim_matches('"') == chat.to_string())
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn nth_to(telegram: &FakeTelegram, chat: i64, n: usize) -> String {
    until(&format!("message {n} to the chat"), || {
        sent_to(telegram, chat).get(n).cloned()
    })
    .await
}

fn code_in(text: &str) -> String {
    let rest = text
        .strip_prefix("Your pairing code is: ")
        .unwrap_or_else(|| panic!("not a pairing message: {text}"));
    rest.split_whitespace().next().unwrap().to_string()
}

fn mind_saw(mind: &FakeOllama, text: &str) -> bool {
    mind.requests()
        .to("/api/chat")
        .iter()
        .any(|r| r.raw.windows(text.len()).any(|w| w == text.as_bytes()))
}

/// Her record's only channel becomes Discord, paired to her person's DM.
fn paired_on_discord(s: &mut Scene) {
    s.world.persona.channels = vec![Channel {
        kind: ChannelKind::Discord,
        name: DM.into(),
        credentials: Some(Credentials {
            token: DISCORD_TOKEN.into(),
        }),
        verified_at: Some("2026-05-01T08:00:00Z".into()),
    }];
    s.world.store.save(&s.world.persona).unwrap();
}

fn telegram_via(chat: i64) -> Value {
    json!({"type": "telegram", "name": chat.to_string()})
}

#[tokio::test]
async fn an_unpaired_chat_gets_a_code_and_nothing_reaches_her_mind_until_paired() {
    let s = scene(None).await;
    let agent = s.world.start().await;
    s.telegram.push_text(TOKEN, PERSON, "/start");
    s.telegram.push_text(TOKEN, PERSON, "hello, are you there?");
    let first = code_in(&nth_to(&s.telegram, PERSON, 0).await);
    let second = code_in(&nth_to(&s.telegram, PERSON, 1).await);
    assert_ne!(first, second);
    assert!(sent_to(&s.telegram, PERSON)[0].contains("Iris's panel"));
    assert!(
        s.mind.requests().to("/api/chat").is_empty(),
        "her mind was asked about an unpaired chat"
    );
    assert!(!s.world.home().join("conversation.jsonl").exists());

    assert!(matches!(
        agent.pair("ZZZZZZ"),
        Err(MindError::Pair(PairError::Invalid))
    ));
    let (record, channel) = agent.pair(&first.to_lowercase()).unwrap();
    assert_eq!(
        (channel.kind, channel.name.as_str()),
        (ChannelKind::Telegram, "4242")
    );
    assert!(channel.verified_at.is_some());
    assert_eq!(record.channels[0].name, "4242");
    let saved: Value =
        serde_json::from_slice(&std::fs::read(s.world.home().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(saved["channels"][0]["name"], "4242");
    assert!(saved["channels"][0]["verified_at"].is_string());
    assert!(
        matches!(agent.pair(&first), Err(MindError::Pair(PairError::Invalid))),
        "a code works once"
    );
    assert!(matches!(
        agent.pair(&second),
        Err(MindError::Pair(PairError::AlreadyVerified))
    ));
    agent.stop().await;
}

/// A code sent before she restarts (a settings change restarts her) still pairs after it.
#[tokio::test]
async fn a_code_sent_before_she_restarts_still_pairs_after() {
    let s = scene(None).await;
    let agent = s.world.start().await;
    s.telegram.push_text(TOKEN, PERSON, "hi");
    let code = code_in(&nth_to(&s.telegram, PERSON, 0).await);
    agent.stop().await;

    let agent = s.world.start().await;
    let (_, channel) = agent.pair(&code).unwrap();
    assert_eq!(channel.name, PERSON.to_string());
    let kept: Value =
        serde_json::from_slice(&std::fs::read(s.world.home().join("pairing.json")).unwrap())
            .unwrap();
    assert!(
        kept["codes"].get(&code).is_none(),
        "a used code is gone from disk too: {kept}"
    );
    agent.stop().await;
}

#[tokio::test]
async fn a_message_from_the_paired_chat_is_answered_in_that_chat_and_logged_with_its_channel() {
    let s = scene(None).await;
    s.mind.set_responder(script(|stage, latest, _| match stage {
        Stage::Recognize if latest == "How is the weather?" => {
            json(json!({"decision": [{"say": format!("Sunny here. {}", "x".repeat(5000))}, {"done": null}]}))
        }
        _ => json(json!({"decision": [{"done": null}]})),
    }));
    let agent = s.world.start().await;
    let mut out = agent.subscribe();
    s.telegram.push_text(TOKEN, PERSON, "hi");
    let code = code_in(&nth_to(&s.telegram, PERSON, 0).await);
    agent.pair(&code).unwrap();

    s.telegram.push_text(TOKEN, PERSON, "How is the weather?");
    let line = next_line(&mut out).await;
    assert_eq!(line.kind, Spoken::Say);
    assert_eq!(
        serde_json::to_value(&line.channel).unwrap(),
        telegram_via(PERSON)
    );
    let first = nth_to(&s.telegram, PERSON, 1).await;
    let second = nth_to(&s.telegram, PERSON, 2).await;
    assert!(first.starts_with("Sunny here."));
    assert!(
        first.chars().count() <= 4096 && second.chars().count() <= 4096,
        "long replies are split"
    );
    let typing = s
        .telegram
        .requests()
        .all()
        .into_iter()
        .filter(|r| r.path.ends_with("/sendChatAction"))
        .count();
    assert!(typing >= 1, "she showed she was typing");
    agent.stop().await;

    let log = lines(&s.world.home().join("conversation.jsonl"));
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        (log[0]["role"].as_str(), log[0]["content"].as_str()),
        (Some("person"), Some("How is the weather?"))
    );
    assert_eq!(log[0]["channel"], telegram_via(PERSON));
    assert_eq!(log[1]["role"], "assistant");
    assert_eq!(log[1]["channel"], telegram_via(PERSON));
}

#[tokio::test]
async fn another_chat_is_ignored_once_she_is_paired() {
    let s = scene(Some(PERSON)).await;
    s.mind.set_responder(script(|stage, latest, _| match stage {
        Stage::Recognize if latest == "ping" => {
            json(json!({"decision": [{"say": "pong"}, {"done": null}]}))
        }
        Stage::Recognize if latest == "let me in" => {
            json(json!({"decision": [{"say": "welcome, stranger"}, {"done": null}]}))
        }
        _ => json(json!({"decision": [{"done": null}]})),
    }));
    let agent = s.world.start().await;
    // Handled in order: by the time the paired chat is answered, the stranger was handled.
    s.telegram.push_text(TOKEN, STRANGER, "let me in");
    s.telegram.push_text(TOKEN, PERSON, "ping");
    assert_eq!(nth_to(&s.telegram, PERSON, 0).await, "pong");
    agent.stop().await;
    assert!(
        sent_to(&s.telegram, STRANGER).is_empty(),
        "the stranger got neither a code nor a reply"
    );
    assert!(!mind_saw(&s.mind, "let me in"));
    let log = lines(&s.world.home().join("conversation.jsonl"));
    assert!(log.iter().all(|l| l["content"] != "let me in"), "{log:?}");
}

#[tokio::test]
async fn a_photo_from_the_paired_chat_is_downloaded_and_seen() {
    let s = scene(Some(PERSON)).await;
    s.mind.set_responder(script(|stage, latest, _| match stage {
        Stage::Eye => ScriptedReply::text("A red kite over a green hill."),
        Stage::Recognize if latest.contains("A red kite") => {
            json(json!({"decision": [{"say": "What a kite!"}, {"done": null}]}))
        }
        _ => json(json!({"decision": [{"done": null}]})),
    }));
    let agent = s.world.start().await;
    s.telegram
        .push_photo(TOKEN, PERSON, b"\xFF\xD8\xFFjpeg-bytes", Some("look"));
    assert_eq!(nth_to(&s.telegram, PERSON, 0).await, "What a kite!");
    agent.stop().await;
    let media: Vec<_> = std::fs::read_dir(s.world.home().join("media"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let kept = media
        .iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("telegram-")
        })
        .expect("photo kept");
    assert_eq!(std::fs::read(kept).unwrap(), b"\xFF\xD8\xFFjpeg-bytes");
    let log = lines(&s.world.home().join("conversation.jsonl"));
    assert_eq!(log[0]["channel"], telegram_via(PERSON));
    assert_eq!(log[0]["media"]["caption"], "look");
}

#[tokio::test]
async fn a_voice_note_is_heard_by_her_ear_and_a_document_is_read_from_the_paired_chat() {
    let mut s = scene(Some(PERSON)).await;
    s.mind.set_responder(script(|stage, latest, _| match stage {
        Stage::Recognize if latest == "Remind me about the bread" => {
            json(json!({"decision": [{"say": "I will, about the bread."}, {"done": null}]}))
        }
        Stage::Recognize
            if latest.starts_with("my list [document ") && latest.ends_with("\nflour\neggs") =>
        {
            json(json!({"decision": [{"say": "Flour and eggs, got it."}, {"done": null}]}))
        }
        _ => json(json!({"decision": [{"done": null}]})),
    }));
    let ear = testkit::openai::start(&["sk-test"], &["whisper-1"]).await;
    ear.set_transcript("Remind me about the bread");
    s.world.persona.ear = Some(mind_at(
        Some(persona::Provider::Openai),
        &ear.url(),
        "whisper-1",
    ));
    let agent = s.world.start().await;

    s.telegram.push_voice(TOKEN, PERSON, b"OggS-voice");
    assert_eq!(
        nth_to(&s.telegram, PERSON, 0).await,
        "I will, about the bread."
    );
    let heard = ear.requests().to("/v1/audio/transcriptions");
    assert_eq!(heard.len(), 1, "her ear was asked once");

    s.telegram.push_document(
        TOKEN,
        PERSON,
        "list.txt",
        "text/plain",
        b"flour\neggs",
        Some("my list"),
    );
    assert_eq!(
        nth_to(&s.telegram, PERSON, 1).await,
        "Flour and eggs, got it."
    );
    s.telegram.push_document(
        TOKEN,
        PERSON,
        "photos.zip",
        "application/zip",
        b"PK\x03\x04",
        None,
    );
    assert!(
        nth_to(&s.telegram, PERSON, 2).await.contains("photos.zip"),
        "she says which file she cannot take in"
    );
    agent.stop().await;

    let log = lines(&s.world.home().join("conversation.jsonl"));
    assert_eq!(
        (log[0]["content"].as_str(), &log[0]["channel"]),
        (Some("Remind me about the bread"), &telegram_via(PERSON))
    );
    assert!(
        log[2]["media"]["source"]
            .as_str()
            .unwrap()
            .contains("/telegram-"),
        "{log:?}"
    );
    let kept = std::fs::read_dir(s.world.home().join("media"))
        .unwrap()
        .count();
    assert_eq!(kept, 1, "only the text document is kept");
}

#[tokio::test]
async fn without_an_ear_a_voice_note_is_answered_with_why() {
    let s = scene(Some(PERSON)).await;
    let agent = s.world.start().await;
    s.telegram.push_voice(TOKEN, PERSON, b"OggS-voice");
    assert!(
        nth_to(&s.telegram, PERSON, 0)
            .await
            .contains("I have no ear")
    );
    agent.stop().await;
    assert!(
        s.mind.requests().to("/api/chat").is_empty(),
        "nothing reached her mind"
    );
    assert!(!s.world.home().join("conversation.jsonl").exists());
}

#[tokio::test]
async fn web_replies_stay_on_the_web_and_notices_reach_every_paired_chat() {
    let mut s = scene(Some(PERSON)).await;
    s.mind.set_responder(script(|stage, latest, _| match stage {
        Stage::Recognize if latest == "from the browser" => {
            json(json!({"decision": [{"say": "hello, browser"}, {"notify": "Stretch time!"}, {"done": null}]}))
        }
        Stage::Recognize if latest == "from the phone" => json(json!({"decision": [{"say": "hello, phone"}, {"done": null}]})),
        _ => json(json!({"decision": [{"done": null}]})),
    }));
    s.world.persona.channels.push(Channel {
        kind: ChannelKind::Discord,
        name: "555".into(),
        credentials: Some(Credentials {
            token: DISCORD_TOKEN.into(),
        }),
        verified_at: Some("2026-05-01T08:00:00Z".into()),
    });
    s.world.store.save(&s.world.persona).unwrap();
    let agent: Agent = s.world.start().await;
    let mut out = agent.subscribe();
    agent.read("from the browser").await.unwrap();
    let said = next_line(&mut out).await;
    assert_eq!(
        (
            said.content.as_str(),
            said.channel.as_ref().map(|v| v.kind.as_str())
        ),
        ("hello, browser", Some("web"))
    );
    assert_eq!(next_line(&mut out).await.kind, Spoken::Notify);
    // Each gateway sends in order, so the notice arriving first proves the web reply was not sent.
    assert_eq!(nth_to(&s.telegram, PERSON, 0).await, "Stretch time!");
    until("the notice on Discord", || {
        s.discord.sent("555").first().cloned()
    })
    .await;
    s.telegram.push_text(TOKEN, PERSON, "from the phone");
    assert_eq!(nth_to(&s.telegram, PERSON, 1).await, "hello, phone");
    agent.stop().await;
    assert_eq!(
        sent_to(&s.telegram, PERSON),
        vec!["Stretch time!", "hello, phone"]
    );
    assert_eq!(s.discord.sent("555"), vec!["Stretch time!"]);
}

#[tokio::test]
async fn stopping_her_cancels_the_poll() {
    let s = scene(Some(PERSON)).await;
    let polls = || {
        s.telegram
            .requests()
            .all()
            .into_iter()
            .filter(|r| r.path.ends_with("/getUpdates"))
            .count()
    };
    let agent = s.world.start().await;
    // With nothing to deliver, the first poll is held open by the fake: no other can start.
    until("her first poll", || (polls() >= 1).then_some(())).await;
    agent.stop().await;
    let before = polls();
    s.telegram
        .push_text(TOKEN, PERSON, "are you still listening?");
    assert_eq!(s.telegram.pending(TOKEN), 1, "nothing confirmed the update");
    assert_eq!(polls(), before, "no poll after stop");
    assert!(!mind_saw(&s.mind, "still listening"));
    assert!(matches!(agent.read("hello").await, Err(MindError::Stopped)));
}

#[tokio::test]
async fn a_discord_dm_pairs_her_and_then_only_that_dm_reaches_her_mind() {
    let mut s = scene(None).await;
    s.mind.set_responder(script(|stage, latest, _| match stage {
        Stage::Recognize if latest == "are you on Discord now?" => {
            json(json!({"decision": [{"say": "I am, and I hear you."}, {"done": null}]}))
        }
        Stage::Recognize if latest == "let me in" => {
            json(json!({"decision": [{"say": "welcome, stranger"}, {"done": null}]}))
        }
        _ => json(json!({"decision": [{"done": null}]})),
    }));
    s.world.persona.channels = vec![Channel {
        kind: ChannelKind::Discord,
        name: String::new(),
        credentials: Some(Credentials {
            token: DISCORD_TOKEN.into(),
        }),
        verified_at: None,
    }];
    s.world.store.save(&s.world.persona).unwrap();
    let agent = s.world.start().await;
    let mut out = agent.subscribe();

    // Handled in order: by the time the DM has its code, the server message was handled.
    s.discord
        .push(Post::in_guild(SERVER_CHANNEL, "hello, server"))
        .await;
    s.discord.push(Post::dm(DM, "hi")).await;
    let code = code_in(&s.discord.nth_sent(DM, 0).await);
    assert!(s.discord.sent(DM)[0].contains("Iris's panel"));
    assert!(
        s.discord.sent(SERVER_CHANNEL).is_empty(),
        "a server channel gets no code"
    );
    assert!(
        s.mind.requests().to("/api/chat").is_empty(),
        "her mind was asked about an unpaired chat"
    );

    let (record, channel) = agent.pair(&code).unwrap();
    assert_eq!(
        (channel.kind, channel.name.as_str()),
        (ChannelKind::Discord, DM)
    );
    assert!(channel.verified_at.is_some());
    assert_eq!(record.channels[0].name, DM);

    s.discord.push(Post::dm(STRANGER_DM, "let me in")).await;
    s.discord
        .push(Post::dm(DM, "are you on Discord now?"))
        .await;
    let line = next_line(&mut out).await;
    assert_eq!(line.kind, Spoken::Say);
    assert_eq!(
        serde_json::to_value(&line.channel).unwrap(),
        json!({"type": "discord", "name": DM})
    );
    assert_eq!(s.discord.nth_sent(DM, 1).await, "I am, and I hear you.");
    agent.stop().await;

    assert!(
        s.discord.sent(STRANGER_DM).is_empty(),
        "the stranger got neither a code nor a reply"
    );
    assert!(!mind_saw(&s.mind, "let me in"));
    let log = lines(&s.world.home().join("conversation.jsonl"));
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0]["content"], "are you on Discord now?");
    assert_eq!(log[0]["channel"], json!({"type": "discord", "name": DM}));
    assert_eq!(log[1]["channel"], json!({"type": "discord", "name": DM}));
    let heard: Vec<_> = s
        .discord
        .gateway_log()
        .into_iter()
        .filter(|p| p["op"] == 2)
        .collect();
    assert_eq!(heard.len(), 1, "one identify for her whole run");
}

#[tokio::test]
async fn files_sent_on_discord_reach_her_senses_and_one_she_cannot_take_in_is_explained() {
    let mut s = scene(None).await;
    s.mind.set_responder(script(|stage, latest, _| match stage {
        Stage::Eye => ScriptedReply::text("A sourdough loaf, nicely risen."),
        Stage::Recognize
            if latest.contains("tool: look_at\nstatus: ok\nresult: A sourdough loaf") =>
        {
            json(json!({"decision": [{"say": "That loaf rose beautifully!"}, {"done": null}]}))
        }
        _ => json(json!({"decision": [{"done": null}]})),
    }));
    paired_on_discord(&mut s);
    let agent = s.world.start().await;
    let mut out = agent.subscribe();

    let post = Post::dm(DM, "look what I baked")
        .with_attachment("loaf.png", "image/png", b"\x89PNG\r\n\x1a\nloaf")
        .with_attachment("photos.zip", "application/zip", b"PK\x03\x04");
    s.discord.push(post).await;
    assert!(
        s.discord.nth_sent(DM, 0).await.contains("photos.zip"),
        "she says which file she cannot take in"
    );
    assert_eq!(
        next_line(&mut out).await.content,
        "That loaf rose beautifully!"
    );
    assert_eq!(
        s.discord.nth_sent(DM, 1).await,
        "That loaf rose beautifully!"
    );
    agent.stop().await;

    let eye = s
        .mind
        .requests()
        .to("/api/chat")
        .into_iter()
        .find(|r| stage(&r.body) == Stage::Eye)
        .expect("her eye was asked");
    assert_eq!(
        eye.body["messages"].as_array().unwrap().last().unwrap()["images"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let kept: Vec<String> = std::fs::read_dir(s.world.home().join("media"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        kept.len() == 1 && kept[0].starts_with("discord-") && kept[0].ends_with("-loaf.png"),
        "only the image is kept: {kept:?}"
    );
    let log = lines(&s.world.home().join("conversation.jsonl"));
    assert_eq!(
        log[0]["content"], "look what I baked",
        "the text is the image's caption"
    );
    assert_eq!(log[0]["channel"], json!({"type": "discord", "name": DM}));
    assert_eq!(
        s.discord
            .requests()
            .all()
            .iter()
            .filter(|r| r.path.starts_with("/attachments/"))
            .count(),
        1,
        "the zip was never downloaded"
    );
}

/// Stickers, GIFs and videos reach none of her senses: she says so in the chat, and any caption
/// still reaches her. A GIF's backward-compatible `document` is not fetched as a file.
#[tokio::test]
async fn what_no_sense_takes_in_is_explained_and_its_caption_still_heard() {
    let mut s = scene(Some(PERSON)).await;
    s.mind.set_responder(script(|stage, latest, _| match stage {
        Stage::Recognize if latest == "our cat, look" => {
            json(json!({"decision": [{"say": "Tell me about the cat!"}, {"done": null}]}))
        }
        _ => json(json!({"decision": [{"done": null}]})),
    }));
    let agent = s.world.start().await;
    s.telegram.push(TOKEN, PERSON, json!({"sticker": {"file_id": "st-1", "file_unique_id": "s", "type": "regular", "width": 512, "height": 512,
                                                     "is_animated": false, "is_video": false, "emoji": "🐈"}}));
    assert_eq!(
        nth_to(&s.telegram, PERSON, 0).await,
        "I can't take in stickers: none of my senses can perceive them."
    );
    let gif = json!({"file_id": "gif-1", "file_unique_id": "g", "file_name": "cat.gif.mp4", "mime_type": "video/mp4", "file_size": 10});
    s.telegram
        .push(TOKEN, PERSON, json!({"animation": gif, "document": gif}));
    assert!(
        nth_to(&s.telegram, PERSON, 1)
            .await
            .starts_with("I can't take in GIFs")
    );
    s.telegram.push(TOKEN, PERSON, json!({"caption": "our cat, look",
        "video": {"file_id": "v-1", "file_unique_id": "v", "width": 640, "height": 480, "duration": 3, "mime_type": "video/mp4", "file_size": 10}}));
    assert!(
        nth_to(&s.telegram, PERSON, 2)
            .await
            .starts_with("I can't take in videos")
    );
    assert_eq!(
        nth_to(&s.telegram, PERSON, 3).await,
        "Tell me about the cat!"
    );
    agent.stop().await;
    let log = lines(&s.world.home().join("conversation.jsonl"));
    assert_eq!(
        log[0]["content"], "our cat, look",
        "only the caption reached her: {log:?}"
    );
    assert!(
        s.telegram
            .requests()
            .all()
            .iter()
            .all(|r| !r.path.contains("getFile")),
        "nothing was downloaded"
    );
    assert!(
        !s.world.home().join("media").exists()
            || std::fs::read_dir(s.world.home().join("media"))
                .unwrap()
                .count()
                == 0
    );

    paired_on_discord(&mut s);
    let agent = s.world.start().await;
    s.discord
        .push(Post::dm(DM, "our cat, look").with_sticker("Wave"))
        .await;
    assert_eq!(
        s.discord.nth_sent(DM, 0).await,
        "I can't take in stickers: none of my senses can perceive them."
    );
    assert_eq!(s.discord.nth_sent(DM, 1).await, "Tell me about the cat!");
    agent.stop().await;
}

fn remembers_the_hour() -> impl Fn(Stage, &str, &Value) -> ScriptedReply + Send + Sync + 'static {
    |stage, latest, _| match stage {
        Stage::Recognize if latest == "remind me at 5" => {
            json(json!({"decision": [{"say": "At 5, then."}, {"done": null}]}))
        }
        Stage::Recognize if latest == "(edited) remind me at 6" => {
            json(json!({"decision": [{"say": "6 it is."}, {"done": null}]}))
        }
        _ => json(json!({"decision": [{"done": null}]})),
    }
}

/// An edit reaches her as the message's new words, marked as an edit. Before pairing, an edit
/// is no reason to send the chat another code.
#[tokio::test]
async fn an_edit_in_the_paired_telegram_chat_reaches_her_as_its_new_words() {
    let s = scene(None).await;
    s.mind.set_responder(script(remembers_the_hour()));
    let agent = s.world.start().await;
    let hello = s.telegram.push_text(TOKEN, PERSON, "hi");
    code_in(&nth_to(&s.telegram, PERSON, 0).await);
    s.telegram.edit(TOKEN, hello, "hi there");
    s.telegram.push_text(TOKEN, PERSON, "hello?");
    // Handled in order: were the edit answered with a code, that code would be this one, and
    // "hello?" would either get the next line (a code, not her answer) or, handled after the
    // pairing, reach her Mind.
    agent
        .pair(&code_in(&nth_to(&s.telegram, PERSON, 1).await))
        .unwrap();
    let first = s.telegram.push_text(TOKEN, PERSON, "remind me at 5");
    assert_eq!(nth_to(&s.telegram, PERSON, 2).await, "At 5, then.");
    s.telegram.edit(TOKEN, first, "remind me at 6");
    assert_eq!(nth_to(&s.telegram, PERSON, 3).await, "6 it is.");
    agent.stop().await;
    assert!(!mind_saw(&s.mind, "hello?") && !mind_saw(&s.mind, "hi there"));

    let log = lines(&s.world.home().join("conversation.jsonl"));
    let heard: Vec<&str> = log
        .iter()
        .filter(|l| l["role"] == "person")
        .map(|l| l["content"].as_str().unwrap())
        .collect();
    assert_eq!(heard, ["remind me at 5", "(edited) remind me at 6"]);
    assert_eq!(log[2]["channel"], telegram_via(PERSON));
}

/// On Discord a link preview loading also updates the message; only the edit reaches her.
#[tokio::test]
async fn an_edit_on_discord_reaches_her_and_a_link_preview_does_not() {
    let mut s = scene(None).await;
    s.mind.set_responder(script(remembers_the_hour()));
    paired_on_discord(&mut s);
    let agent = s.world.start().await;
    let id = s.discord.push(Post::dm(DM, "remind me at 5")).await;
    assert_eq!(s.discord.nth_sent(DM, 0).await, "At 5, then.");
    s.discord.unfurl(&id).await;
    s.discord.edit(&id, "remind me at 6").await;
    assert_eq!(s.discord.nth_sent(DM, 1).await, "6 it is.");
    agent.stop().await;

    let log = lines(&s.world.home().join("conversation.jsonl"));
    let heard: Vec<&str> = log
        .iter()
        .filter(|l| l["role"] == "person")
        .map(|l| l["content"].as_str().unwrap())
        .collect();
    assert_eq!(heard, ["remind me at 5", "(edited) remind me at 6"]);
    assert_eq!(log[2]["channel"], json!({"type": "discord", "name": DM}));
}
