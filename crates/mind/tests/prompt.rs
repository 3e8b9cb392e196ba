//! Her system prompt: what stays the same from beat to beat first, what changes every beat
//! last, and the boundary sent to Anthropic as a cache point.

mod common;

use common::*;
use mind::meanings::CHATTING;
use persona::Provider;
use serde_json::{Value, json};

fn chatting(stage: Stage, _: &str, _: &Value) -> testkit::ScriptedReply {
    match stage {
        Stage::Recognize => {
            json(json!({"decision": [{"tools.load_instruction": {"intention": CHATTING}}]}))
        }
        Stage::Decide => json(json!({"decision": [{"say": "Hello!"}, {"done": null}]})),
        _ => json(json!({})),
    }
}

#[tokio::test]
async fn anthropic_is_told_to_cache_the_stable_head_of_her_system_prompt() {
    let fake = testkit::anthropic::start(&["sk-test"], &["claude-test"]).await;
    fake.set_responder(script(chatting));
    let world = World::new(mind_at(
        Some(Provider::Anthropic),
        &fake.url(),
        "claude-test",
    ));
    std::fs::write(world.home().join("person.md"), "Ada likes tea.").unwrap();
    let agent = world.start().await;
    let mut out = agent.subscribe();
    agent.read("Hi").await.unwrap();
    assert_eq!(next_line(&mut out).await.content, "Hello!");
    agent.stop().await;
    let asked = fake.requests().all();
    let first = &asked.first().expect("her Mind was asked").body;
    let blocks = first["system"].as_array().expect("system as blocks");
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert_eq!(blocks[0]["cache_control"], json!({"type": "ephemeral"}));
    assert!(blocks[1].get("cache_control").is_none());
    let (head, tail) = (
        blocks[0]["text"].as_str().unwrap(),
        blocks[1]["text"].as_str().unwrap(),
    );
    for stable in [
        "# You are Iris",
        "# Tools",
        "# Instructions",
        "Ada likes tea.",
    ] {
        assert!(
            head.contains(stable),
            "{stable} belongs to the head: {head}"
        );
    }
    for moving in ["# The Present Moment", "# Your State"] {
        assert!(
            tail.contains(moving),
            "{moving} belongs to the tail: {tail}"
        );
        assert!(!head.contains(moving));
    }
    let heads: Vec<&str> = asked
        .iter()
        .filter_map(|r| r.body["system"][0]["text"].as_str())
        .collect();
    assert!(
        heads.windows(2).all(|w| w[0] == w[1]),
        "the head is the same for every stage"
    );
}

#[tokio::test]
async fn other_providers_get_the_same_order_as_one_text() {
    let fake = testkit::ollama::start(&["eternego-iris"]).await;
    fake.set_responder(script(chatting));
    let world = World::new(mind_at(None, &fake.url(), "eternego-iris"));
    let agent = world.start().await;
    let mut out = agent.subscribe();
    agent.read("Hi").await.unwrap();
    next_line(&mut out).await;
    agent.stop().await;
    let body = &fake.requests().to("/api/chat")[0].body;
    let system = body["messages"][0]["content"].as_str().unwrap();
    let at = |s: &str| {
        system
            .find(s)
            .unwrap_or_else(|| panic!("{s} missing: {system}"))
    };
    assert!(at("# You are Iris") < at("# Instructions"));
    assert!(at("# What You Know") < at("# The Present Moment"));
    assert!(at("# The Present Moment") < at("# Your State"));
    // Her decision list is bounded in the schema itself, so a grammar-decoding engine cannot
    // repeat `{"done": null}` until its token limit.
    assert_eq!(body["format"]["properties"]["decision"]["maxItems"], 4);
}
