//! Exchanges (a message in, what she says to it out) and the STOP that interrupts her beat,
//! against a scripted fake Mind on loopback with a manual clock.

mod common;

use common::*;
use mind::meanings::CHATTING;
use mind::{MindError, Piece};
use serde_json::{Value, json};
use testkit::ScriptedReply;

const MODEL: &str = "eternego-iris";

/// She loads the chatting instruction and answers the newest question (`Q…`) of her person
/// with two lines.
fn answering(stage: Stage, _: &str, body: &Value) -> ScriptedReply {
    match stage {
        Stage::Recognize => {
            json(json!({"decision": [{"tools.load_instruction": {"intention": CHATTING}}]}))
        }
        Stage::Decide => {
            let asked = texts(body)
                .into_iter()
                .rev()
                .find(|t| t.starts_with('Q'))
                .unwrap_or_default();
            json(
                json!({"decision": [{"say": format!("About {asked}:")}, {"say": "that is all."}, {"done": null}]}),
            )
        }
        _ => json(json!({})),
    }
}

#[tokio::test]
async fn an_exchange_returns_every_reply_of_her_beat_in_order() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(answering));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let got = agent.exchange("openai", "Q1 tea?").await.unwrap();
    assert_eq!(got.said, ["About Q1 tea?:", "that is all."]);
    let log = lines(&world.home().join("conversation.jsonl"));
    assert_eq!(
        log[0]["channel"],
        json!({"type": "openai", "name": "openai"})
    );
    assert_eq!(log[1]["channel"]["type"], "openai", "{log:?}");
    agent.stop().await;
}

#[tokio::test]
async fn exchanges_wait_their_turn_instead_of_cutting_each_other_off() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(answering));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let (first, second) = tokio::join!(
        agent.exchange("openai", "Q1 tea?"),
        agent.exchange("openai", "Q2 coffee?")
    );
    let (first, second) = (first.unwrap().said, second.unwrap().said);
    let mut both = [first[0].clone(), second[0].clone()];
    both.sort();
    assert_eq!(both, ["About Q1 tea?:", "About Q2 coffee?:"]);
    assert_eq!((first.len(), second.len()), (2, 2));
    agent.stop().await;
}

#[tokio::test]
async fn a_streamed_exchange_yields_each_reply_then_ends() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(answering));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let mut web = agent.subscribe();
    let mut pieces = agent.exchange_stream("openai", "Q3 rain?").await.unwrap();
    let (mut said, mut words, mut usage) = (Vec::new(), String::new(), None);
    while let Some(piece) = tokio::time::timeout(PATIENCE, pieces.recv())
        .await
        .expect("the stream never ended")
    {
        match piece.unwrap() {
            Piece::Said(line) => said.push(line),
            Piece::Words(more) => words.push_str(&more),
            Piece::Rested(spent) => usage = Some(spent),
        }
    }
    assert_eq!(said, ["About Q3 rain?:", "that is all."]);
    assert_eq!(words, "About Q3 rain?:\n\nthat is all.");
    // The fake counts 12 tokens read and 7 written a call: her recognize and decide calls.
    assert_eq!(
        usage,
        Some(organs::Usage {
            prompt: 24,
            completion: 14
        })
    );
    assert_eq!(
        next_line(&mut web).await.content,
        "About Q3 rain?:",
        "the web still sees every line"
    );
    assert!(matches!(
        agent.exchange("openai", "   ").await,
        Err(MindError::Invalid(_))
    ));
    agent.stop().await;
}

#[tokio::test]
async fn an_exchange_whose_beat_fails_says_so() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|_, _, _| ScriptedReply::Error {
        status: 500,
        message: "model crashed".into(),
    }));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    match agent.exchange("openai", "Q4 hello?").await {
        Err(MindError::Faulted { stage, error }) => {
            assert_eq!(stage, "recognize");
            assert!(error.contains("HTTP 500"), "{error}");
        }
        other => panic!("expected a fault, got {other:?}"),
    }
    agent.stop().await;
}

#[tokio::test]
async fn interrupt_cancels_the_beat_in_flight_and_says_whether_there_was_one() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(answering));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    assert!(
        !agent.interrupt().await.unwrap(),
        "no beat before any message"
    );
    agent.read("Q5 hi").await.unwrap();
    // After her reply the beat waits out her idle time (a day) to reflect: still in flight.
    rested(&agent, 1).await;
    assert!(agent.interrupt().await.unwrap());
    assert!(!agent.status().thinking);
    assert!(!agent.interrupt().await.unwrap());
    agent.stop().await;
    assert!(matches!(agent.interrupt().await, Err(MindError::Stopped)));
}
