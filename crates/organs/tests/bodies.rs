//! Every provider's whole request body, as its fake received it, for one conversation that
//! uses everything a body can carry: images, tool calls and their results (with and without
//! ids), empty turns, and a schema that Gemini must rewrite. The expected bodies in
//! `tests/bodies/` are the wire format; any change to them is a change of protocol.

use organs::{ChatRequest, Message, OrganClient, ToolCall};
use persona::{Organ, OrganSlot, Provider};
use serde_json::{Value, json};
use testkit::{ScriptedReply, responder};

const KEY: &str = "sk-bodies-key-1234567890";
const MODEL: &str = "model-x";

fn conversation() -> ChatRequest {
    let recall = ToolCall {
        id: "call_1".into(),
        name: "recall".into(),
        arguments: json!({"query": "cat", "limit": 2}),
    };
    let look = ToolCall {
        id: "call_2".into(),
        name: "look_at".into(),
        arguments: json!({}),
    };
    let orphan = Message {
        tool_call_id: None,
        tool_name: None,
        ..Message::tool_result(&look, "no call named this")
    };
    ChatRequest::new("You are Vega.")
        .message(
            Message::user("look \"here\"")
                .with_image(b"\x89PNGdata".to_vec(), "image/png")
                .with_image(vec![0xFF, 0xD8, 1], "image/jpeg"),
        )
        .message(Message::assistant("let me check").with_tool_call(recall.clone()))
        .message(Message::tool_result(&recall, "a cat named Tom"))
        .message(Message::assistant("").with_tool_call(look.clone()))
        .message(orphan)
        .message(Message::assistant(""))
        .message(Message::user(""))
        .message(Message::user("what now?\nsay ü"))
        .with_schema("decide stage!", schema())
}

fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {"say": {"type": ["string", "null"]}, "type": {"type": "array", "items": {"type": "string"}}},
        "required": ["say"]
    })
}

/// No system prompt and no schema: the optional parts of each body are left out.
fn bare() -> ChatRequest {
    ChatRequest::new("").message(Message::user("hi"))
}

fn expected(provider: &str) -> Value {
    let path = format!(
        "{}/tests/bodies/{provider}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

async fn sent(organ: &Organ, log: impl Fn() -> testkit::RequestLog) -> Value {
    let client = OrganClient::new(organs::http_client(), OrganSlot::Thinking);
    client.chat(organ, &conversation()).await.unwrap();
    let structured = log().last().unwrap().body;
    client.chat(organ, &bare()).await.unwrap();
    let bare = log().last().unwrap().body;
    json!({"conversation": structured, "bare": bare})
}

fn organ(provider: Option<Provider>, url: String) -> Organ {
    Organ {
        name: MODEL.into(),
        provider,
        api_key: provider.map(|_| KEY.to_string()),
        url,
    }
}

fn answer() -> testkit::Responder {
    responder(|_| ScriptedReply::Json(json!({"say": "ok"})))
}

#[tokio::test]
async fn ollama() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(answer());
    assert_eq!(
        sent(&organ(None, fake.url()), || fake.requests()).await,
        expected("ollama")
    );
}

#[tokio::test]
async fn openai() {
    let fake = testkit::openai::start(&[KEY], &[MODEL]).await;
    fake.set_responder(answer());
    assert_eq!(
        sent(&organ(Some(Provider::Openai), fake.url()), || fake
            .requests())
        .await,
        expected("openai")
    );
}

#[tokio::test]
async fn xai() {
    let fake = testkit::openai::start_xai(&[KEY], &[MODEL]).await;
    fake.set_responder(answer());
    assert_eq!(
        sent(&organ(Some(Provider::Xai), fake.url()), || fake.requests()).await,
        expected("xai")
    );
}

#[tokio::test]
async fn anthropic() {
    let fake = testkit::anthropic::start(&[KEY], &[MODEL]).await;
    fake.set_responder(answer());
    assert_eq!(
        sent(&organ(Some(Provider::Anthropic), fake.url()), || fake
            .requests())
        .await,
        expected("anthropic")
    );
}

#[tokio::test]
async fn gemini() {
    let fake = testkit::gemini::start(&[KEY], &[MODEL]).await;
    fake.set_responder(answer());
    assert_eq!(
        sent(&organ(Some(Provider::Gemini), fake.url()), || fake
            .requests())
        .await,
        expected("gemini")
    );
}
