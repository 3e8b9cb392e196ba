//! Pairing codes cannot be brute-forced: her Telegram gateway against the fake Telegram on
//! loopback, a scripted fake Mind, and her manual clock, so the lock-out window passes without
//! waiting for it.

mod common;

use common::*;
use mind::MindError;
use mind::pairing::{CODES_PER_CHAT, MOST_WRONG, PairError, WRONG_WINDOW};
use persona::{Channel, ChannelKind, Credentials};
use serde_json::json;
use testkit::telegram::FakeTelegram;

const MODEL: &str = "eternego-iris";
const TOKEN: &str = "7001:telegram-test-token";
const STRANGER: i64 = 999;

/// The texts the bot sent to `chat`, once there are `n` of them (bounded by [`PATIENCE`], which
/// only keeps a broken build from hanging).
async fn first_sent(telegram: &FakeTelegram, chat: i64, n: usize) -> Vec<String> {
    let found = tokio::time::timeout(PATIENCE, async {
        loop {
            let texts: Vec<String> = telegram
                .sent(TOKEN)
                .iter()
                .filter(|m| m["chat_id"].to_string().trim_matches('"') == chat.to_string())
                .map(|m| m["text"].as_str().unwrap_or_default().to_string())
                .collect();
            if texts.len() >= n {
                return texts;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("{n} messages to {chat} never came"))
}

fn code_in(text: &str) -> String {
    let rest = text
        .strip_prefix("Your pairing code is: ")
        .unwrap_or_else(|| panic!("not a pairing message: {text}"));
    rest.split_whitespace().next().unwrap().to_string()
}

#[tokio::test]
async fn a_chat_gets_few_codes_and_wrong_guesses_lock_pairing_until_the_window_passes() {
    let mind = testkit::ollama::start(&[MODEL]).await;
    mind.set_responder(script(|_, _, _| {
        json(json!({"decision": [{"done": null}]}))
    }));
    let telegram = testkit::telegram::start(&[TOKEN]).await;
    let mut world = World::new(mind_at(None, &mind.url(), MODEL));
    world.platforms.telegram = telegram.url();
    world.persona.channels = vec![Channel {
        kind: ChannelKind::Telegram,
        name: String::new(),
        credentials: Some(Credentials {
            token: TOKEN.into(),
        }),
        verified_at: None,
    }];
    world.store.save(&world.persona).unwrap();
    let agent = world.start().await;

    let asked = CODES_PER_CHAT + 2;
    for i in 0..asked {
        telegram.push_text(TOKEN, STRANGER, &format!("code please ({i})"));
    }
    let codes: Vec<String> = first_sent(&telegram, STRANGER, asked)
        .await
        .iter()
        .map(|t| code_in(t))
        .collect();
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), CODES_PER_CHAT, "{codes:?}");
    assert!(
        codes[CODES_PER_CHAT..]
            .iter()
            .all(|c| codes[..CODES_PER_CHAT].contains(c)),
        "past the limit the chat is sent a code it holds again: {codes:?}"
    );

    for guess in 0..MOST_WRONG {
        let wrong = format!("WRONG{guess}");
        assert!(
            matches!(agent.pair(&wrong), Err(MindError::Pair(PairError::Invalid))),
            "guess {guess}"
        );
    }
    assert!(
        matches!(
            agent.pair(&codes[0]),
            Err(MindError::Pair(PairError::TooManyAttempts))
        ),
        "the limit bites: the right code is refused while locked"
    );

    world.clock.advance(WRONG_WINDOW);
    let (_, channel) = agent.pair(&codes[0]).unwrap();
    assert_eq!(channel.name, STRANGER.to_string());
    agent.stop().await;
}
