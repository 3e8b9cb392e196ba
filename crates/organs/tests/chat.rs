//! Chat, hearing, speaking and drawing through every provider's fake, with and without a schema.

use organs::{Audio, ChatRequest, Message, OrganClient, OrganError, ToolCall};
use persona::{Organ, OrganSlot, Provider};
use serde_json::{Value, json};
use testkit::{ScriptedReply, responder};

const KEY: &str = "sk-chat-secret-key-0987654321";

fn client(slot: OrganSlot) -> OrganClient {
    OrganClient::new(organs::http_client(), slot)
}

fn organ(provider: Option<Provider>, name: &str, url: String) -> Organ {
    Organ {
        name: name.into(),
        provider,
        api_key: provider.map(|_| KEY.to_string()),
        url,
    }
}

fn decision_schema() -> Value {
    json!({"type": "object", "properties": {"say": {"type": "string"}}, "required": ["say"]})
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest::new("You are Vega.").message(Message::user(text))
}

fn structured(text: &str) -> ChatRequest {
    ask(text).with_schema("decide", decision_schema())
}

#[tokio::test]
async fn ollama_chat_plain_and_structured() {
    let fake = testkit::ollama::start(&["eternego-x"]).await;
    let mind = organ(None, "eternego-x", fake.url());
    fake.set_responder(responder(|body| {
        if body.get("format").is_some() {
            ScriptedReply::Json(json!({"say": "structured hello"}))
        } else {
            ScriptedReply::text("<think>They greeted me.</think>Hello, friend.")
        }
    }));
    let reply = client(OrganSlot::Thinking)
        .chat(&mind, &ask("hi"))
        .await
        .unwrap();
    assert_eq!(reply.text, "Hello, friend.");
    assert_eq!(reply.json, None);
    let sent = fake.requests().to("/api/chat")[0].body.clone();
    assert_eq!(sent["stream"], false);
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "You are Vega."})
    );
    assert_eq!(
        sent["messages"][1],
        json!({"role": "user", "content": "hi"})
    );

    let reply = client(OrganSlot::Thinking)
        .chat(&mind, &structured("hi"))
        .await
        .unwrap();
    assert_eq!(reply.json, Some(json!({"say": "structured hello"})));
    let sent = fake.requests().last().unwrap().body;
    assert_eq!(sent["format"], decision_schema());
}

#[tokio::test]
async fn prose_and_malformed_json_are_tolerated() {
    let fake = testkit::ollama::start(&["m"]).await;
    let mind = organ(None, "m", fake.url());
    fake.set_responder(responder(|body| {
        let question = body["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string();
        match question.as_str() {
            "prose" => ScriptedReply::text("I would rather just talk to you."),
            "wrapped" => ScriptedReply::text("<think>{\"draft\": 1}</think>Sure! ```json\n{\"say\": \"hi {there}\"}\n``` hope that helps"),
            _ => ScriptedReply::text("{\"say\": \"unterminated"),
        }
    }));
    let c = client(OrganSlot::Thinking);
    let prose = c.chat(&mind, &structured("prose")).await.unwrap();
    assert_eq!(prose.json, None);
    assert_eq!(prose.text, "I would rather just talk to you.");
    let wrapped = c.chat(&mind, &structured("wrapped")).await.unwrap();
    assert_eq!(wrapped.json, Some(json!({"say": "hi {there}"})));
    let broken = c.chat(&mind, &structured("broken")).await.unwrap();
    assert_eq!(broken.json, None);
}

#[tokio::test]
async fn openai_uses_json_schema_format_images_and_tool_history() {
    let fake = testkit::openai::start(&[KEY], &["gpt-4o"]).await;
    let eye = organ(Some(Provider::Openai), "gpt-4o", fake.url());
    fake.set_responder(responder(|body| {
        if body.get("response_format").is_some() {
            ScriptedReply::Json(json!({"say": "I see a cat"}))
        } else {
            ScriptedReply::text("plain")
        }
    }));
    let call = ToolCall {
        id: "call_1".into(),
        name: "recall".into(),
        arguments: json!({"query": "cat"}),
    };
    let request = ChatRequest::new("sys")
        .message(Message::user("what is this?").with_image(b"\x89PNGdata".to_vec(), "image/png"))
        .message(Message::assistant("").with_tool_call(call.clone()))
        .message(Message::tool_result(&call, "a cat named Tom"))
        .with_schema("look", decision_schema());
    let reply = client(OrganSlot::Eye).chat(&eye, &request).await.unwrap();
    assert_eq!(reply.json, Some(json!({"say": "I see a cat"})));
    let sent = fake.requests().to("/v1/chat/completions")[0].clone();
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = sent.body;
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(
        body["response_format"]["json_schema"]["schema"],
        decision_schema()
    );
    assert_eq!(
        body["messages"][1]["content"][1]["image_url"]["url"],
        "data:image/png;base64,iVBOR2RhdGE="
    );
    assert_eq!(
        body["messages"][2]["tool_calls"][0]["function"]["arguments"],
        "{\"query\":\"cat\"}"
    );
    assert_eq!(
        body["messages"][3],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "a cat named Tom"})
    );

    let plain = client(OrganSlot::Eye).chat(&eye, &ask("hi")).await.unwrap();
    assert_eq!((plain.text.as_str(), plain.json), ("plain", None));
}

#[tokio::test]
async fn xai_uses_json_object_with_the_schema_in_the_prompt() {
    let fake = testkit::openai::start_xai(&[KEY], &["grok-4"]).await;
    let mind = organ(Some(Provider::Xai), "grok-4", fake.url());
    fake.set_responder(responder(|_| ScriptedReply::Json(json!({"say": "yo"}))));
    let reply = client(OrganSlot::Thinking)
        .chat(&mind, &structured("hi"))
        .await
        .unwrap();
    assert_eq!(reply.json, Some(json!({"say": "yo"})));
    let body = fake.requests().last().unwrap().body;
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("JSON Schema")
    );
}

#[tokio::test]
async fn anthropic_forces_a_tool_for_structure() {
    let fake = testkit::anthropic::start(&[KEY], &["claude-sonnet-4"]).await;
    let teacher = organ(Some(Provider::Anthropic), "claude-sonnet-4", fake.url());
    fake.set_responder(responder(|body| {
        if body.get("tool_choice").is_some() {
            ScriptedReply::Json(json!({"say": "lesson"}))
        } else {
            ScriptedReply::text("<think>hm</think>Teaching.")
        }
    }));
    let call = ToolCall {
        id: "toolu_1".into(),
        name: "recall".into(),
        arguments: json!({}),
    };
    let request = structured("teach me")
        .message(Message::assistant("let me check").with_tool_call(call.clone()))
        .message(Message::tool_result(&call, "nothing found"));
    let reply = client(OrganSlot::Teacher)
        .chat(&teacher, &request)
        .await
        .unwrap();
    assert_eq!(reply.json, Some(json!({"say": "lesson"})));
    let sent = fake.requests().to("/v1/messages")[0].clone();
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    let body = sent.body;
    assert_eq!(body["system"], "You are Vega.");
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "decide"})
    );
    assert_eq!(body["tools"][0]["input_schema"], decision_schema());
    assert_eq!(body["messages"][1]["content"][1]["type"], "tool_use");
    assert_eq!(
        body["messages"][2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "toolu_1", "content": "nothing found"})
    );

    let plain = client(OrganSlot::Teacher)
        .chat(&teacher, &ask("hi"))
        .await
        .unwrap();
    assert_eq!(plain.text, "Teaching.");
}

#[tokio::test]
async fn anthropic_images_are_base64_blocks() {
    let fake = testkit::anthropic::start(&[KEY], &["claude"]).await;
    let eye = organ(Some(Provider::Anthropic), "claude", fake.url());
    let request = ChatRequest::new("")
        .message(Message::user("see").with_image(vec![0xFF, 0xD8, 1], "image/jpeg"));
    client(OrganSlot::Eye).chat(&eye, &request).await.unwrap();
    let body = fake.requests().last().unwrap().body;
    assert_eq!(
        body["messages"][0]["content"][0]["source"],
        json!({"type": "base64", "media_type": "image/jpeg", "data": "/9gB"})
    );
    assert!(body.get("system").is_none());
}

#[tokio::test]
async fn gemini_uses_response_schema() {
    let fake = testkit::gemini::start(&[KEY], &["gemini-2.5-flash"]).await;
    let mind = organ(Some(Provider::Gemini), "gemini-2.5-flash", fake.url());
    fake.set_responder(responder(|_| ScriptedReply::Json(json!({"say": "hola"}))));
    let reply = client(OrganSlot::Researcher)
        .chat(&mind, &structured("hi"))
        .await
        .unwrap();
    assert_eq!(reply.json, Some(json!({"say": "hola"})));
    let sent = fake.requests().last().unwrap();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(sent.header("x-goog-api-key"), Some(KEY));
    assert_eq!(
        sent.body["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(
        sent.body["systemInstruction"]["parts"][0]["text"],
        "You are Vega."
    );
    assert_eq!(
        sent.body["contents"][0],
        json!({"role": "user", "parts": [{"text": "hi"}]})
    );
    let plain = client(OrganSlot::Researcher)
        .chat(&mind, &ask("hi"))
        .await
        .unwrap();
    assert_eq!(plain.json, None);
}

#[tokio::test]
async fn failures_name_the_organ_and_hide_the_key() {
    let fake = testkit::openai::start(&[KEY], &["gpt-4o"]).await;
    fake.set_responder(responder(|_| ScriptedReply::Error {
        status: 500,
        message: "The server had an error".into(),
    }));
    let c = client(OrganSlot::Thinking);
    let err = c
        .chat(
            &organ(Some(Provider::Openai), "gpt-4o", fake.url()),
            &ask("hi"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "thinking: openai answered HTTP 500 (The server had an error)"
    );
    let wrong = Organ {
        api_key: Some("sk-wrong-0987654321".into()),
        ..organ(Some(Provider::Openai), "gpt-4o", fake.url())
    };
    let err = c.chat(&wrong, &ask("hi")).await.unwrap_err();
    assert_eq!(
        err,
        OrganError::KeyRejected {
            organ: "thinking",
            provider: "openai",
            status: 401
        }
    );
    assert!(!format!("{err:?}").contains("0987654321"));
    let dead = organ(None, "m", "http://127.0.0.1:1".into());
    let err = c.chat(&dead, &ask("hi")).await.unwrap_err();
    assert!(err.is_unreachable());
    let missing = testkit::ollama::start(&[]).await;
    let err = c
        .chat(&organ(None, "gone", missing.url()), &ask("hi"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "thinking: the local engine answered HTTP 404 (model \"gone\" not found, try pulling it first)"
    );
}

#[tokio::test]
async fn ear_mouth_and_imagination_use_the_openai_media_endpoints() {
    let fake = testkit::openai::start(&[KEY], &["whisper-1", "tts-1", "gpt-image-1"]).await;
    fake.set_transcript("remind me to call mum");
    let audio = Audio {
        bytes: b"OggS fake".to_vec(),
        mime: "audio/ogg".into(),
        file_name: "voice.ogg".into(),
    };
    let heard = client(OrganSlot::Ear)
        .transcribe(
            &organ(Some(Provider::Openai), "whisper-1", fake.url()),
            &audio,
        )
        .await
        .unwrap();
    assert_eq!(heard, "remind me to call mum");
    let sent = fake.requests().to("/v1/audio/transcriptions")[0].clone();
    assert!(
        sent.header("content-type")
            .unwrap()
            .starts_with("multipart/form-data")
    );

    let spoken = client(OrganSlot::Mouth)
        .speak(
            &organ(Some(Provider::Openai), "tts-1", fake.url()),
            "good night",
            "alloy",
        )
        .await
        .unwrap();
    assert_eq!(spoken.bytes, testkit::openai::speech_bytes("good night"));
    assert_eq!(spoken.mime, "audio/mpeg");

    let drawn = client(OrganSlot::Imagination)
        .draw(
            &organ(Some(Provider::Openai), "gpt-image-1", fake.url()),
            "a fox",
        )
        .await
        .unwrap();
    assert_eq!(drawn.bytes, testkit::openai::image_bytes("a fox"));
    assert_eq!(drawn.mime, "image/png");

    let err = client(OrganSlot::Ear)
        .transcribe(
            &organ(Some(Provider::Anthropic), "claude", fake.url()),
            &audio,
        )
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "ear: anthropic cannot transcribe audio");
    let err = client(OrganSlot::Mouth)
        .speak(
            &organ(Some(Provider::Openai), "nope", fake.url()),
            "x",
            "alloy",
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("mouth: openai answered HTTP 404"),
        "{err}"
    );
}

/// A PDF is given whole to the providers that read documents, and refused before anything is
/// sent to those that do not.
#[tokio::test]
async fn a_pdf_reaches_anthropic_and_gemini_whole_and_is_refused_elsewhere() {
    let pdf = b"%PDF-1.7 tiny".to_vec();
    let reading = || {
        ChatRequest::new("You read documents.").message(
            Message::user("What is due?").with_document(pdf.clone(), "application/pdf", "bill.pdf"),
        )
    };
    let encoded = "JVBERi0xLjcgdGlueQ==";

    let anthropic = testkit::anthropic::start(&[KEY], &["claude-x"]).await;
    anthropic.set_responder(responder(|_| ScriptedReply::text("Rent, on the 3rd.")));
    let reply = client(OrganSlot::Researcher)
        .chat(
            &organ(Some(Provider::Anthropic), "claude-x", anthropic.url()),
            &reading(),
        )
        .await
        .unwrap();
    assert_eq!(reply.text, "Rent, on the 3rd.");
    let blocks = anthropic.requests().last().unwrap().body["messages"][0]["content"].clone();
    assert_eq!(
        blocks[0],
        json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": encoded}, "title": "bill.pdf"})
    );
    assert_eq!(blocks[1], json!({"type": "text", "text": "What is due?"}));

    let gemini = testkit::gemini::start(&[KEY], &["gemini-x"]).await;
    gemini.set_responder(responder(|_| ScriptedReply::text("Rent, on the 3rd.")));
    client(OrganSlot::Researcher)
        .chat(
            &organ(Some(Provider::Gemini), "gemini-x", gemini.url()),
            &reading(),
        )
        .await
        .unwrap();
    let parts = gemini.requests().last().unwrap().body["contents"][0]["parts"].clone();
    assert_eq!(
        parts[1],
        json!({"inlineData": {"mimeType": "application/pdf", "data": encoded}})
    );

    let openai = testkit::openai::start(&[KEY], &["gpt-x"]).await;
    let refused = client(OrganSlot::Researcher)
        .chat(
            &organ(Some(Provider::Openai), "gpt-x", openai.url()),
            &reading(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            OrganError::Unsupported {
                organ: "researcher",
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(
        openai.requests().to("/v1/chat/completions").is_empty(),
        "nothing was sent"
    );
    let ollama = testkit::ollama::start(&["m"]).await;
    assert!(
        client(OrganSlot::Researcher)
            .chat(&organ(None, "m", ollama.url()), &reading())
            .await
            .is_err()
    );
    assert!(ollama.requests().to("/api/chat").is_empty());
}

/// Every provider's own "stopped at the length limit" marks the reply cut off, and a cut
/// structured answer is not read even though an inner object of it would parse.
#[tokio::test]
async fn an_answer_cut_at_the_length_limit_is_known_as_such_on_every_provider() {
    let cut = r#"{"decision": [{"tools.recall": {"query": "x"}}, {"say": "and th"#;
    let script = responder(move |_| ScriptedReply::CutOff(cut.into()));
    let ollama = testkit::ollama::start(&["m"]).await;
    ollama.set_responder(script.clone());
    let openai = testkit::openai::start(&[KEY], &["gpt-4o"]).await;
    openai.set_responder(script.clone());
    let xai = testkit::openai::start_xai(&[KEY], &["grok-4"]).await;
    xai.set_responder(script.clone());
    let anthropic = testkit::anthropic::start(&[KEY], &["claude-x"]).await;
    anthropic.set_responder(script.clone());
    let gemini = testkit::gemini::start(&[KEY], &["gemini-x"]).await;
    gemini.set_responder(script);
    let organs = [
        organ(None, "m", ollama.url()),
        organ(Some(Provider::Openai), "gpt-4o", openai.url()),
        organ(Some(Provider::Xai), "grok-4", xai.url()),
        organ(Some(Provider::Anthropic), "claude-x", anthropic.url()),
        organ(Some(Provider::Gemini), "gemini-x", gemini.url()),
    ];
    for mind in &organs {
        let reply = client(OrganSlot::Thinking)
            .chat(mind, &ask("hi"))
            .await
            .unwrap();
        assert_eq!(
            (reply.text.as_str(), reply.cut_off),
            (cut, true),
            "{:?}",
            mind.provider
        );
        let reply = client(OrganSlot::Thinking)
            .chat(mind, &structured("hi"))
            .await
            .unwrap();
        assert_eq!(
            (reply.json, reply.cut_off),
            (None, true),
            "{:?}",
            mind.provider
        );
    }
    ollama.set_responder(responder(|_| ScriptedReply::Json(json!({"say": "whole"}))));
    let whole = client(OrganSlot::Thinking)
        .chat(&organs[0], &structured("hi"))
        .await
        .unwrap();
    assert_eq!(
        (whole.json, whole.cut_off),
        (Some(json!({"say": "whole"})), false)
    );
}

#[tokio::test]
async fn every_provider_reports_its_token_counts_and_streams() {
    let answer = json!({"say": "streamed words"});
    let script = responder(move |_| ScriptedReply::Json(answer.clone()));
    let ollama = testkit::ollama::start(&["m"]).await;
    ollama.set_responder(script.clone());
    let openai = testkit::openai::start(&[KEY], &["gpt-4o"]).await;
    openai.set_responder(script.clone());
    let xai = testkit::openai::start_xai(&[KEY], &["grok-4"]).await;
    xai.set_responder(script.clone());
    let anthropic = testkit::anthropic::start(&[KEY], &["claude-x"]).await;
    anthropic.set_responder(script.clone());
    let gemini = testkit::gemini::start(&[KEY], &["gemini-x"]).await;
    gemini.set_responder(script);
    let organs = [
        (organ(None, "m", ollama.url()), true),
        (organ(Some(Provider::Openai), "gpt-4o", openai.url()), true),
        (organ(Some(Provider::Xai), "grok-4", xai.url()), true),
        (
            organ(Some(Provider::Anthropic), "claude-x", anthropic.url()),
            true,
        ),
        (
            organ(Some(Provider::Gemini), "gemini-x", gemini.url()),
            true,
        ),
    ];
    // Every fake counts 12 tokens read and 7 written, each in its provider's own fields.
    let counted = organs::Usage {
        prompt: 12,
        completion: 7,
    };
    for (mind, streams) in &organs {
        let whole = client(OrganSlot::Thinking)
            .chat(mind, &structured("hi"))
            .await
            .unwrap();
        assert_eq!(whole.usage, counted, "{:?}", mind.provider);
        let mut pieces = Vec::new();
        let streamed = client(OrganSlot::Thinking)
            .chat_streaming(mind, &structured("hi"), &mut |piece| {
                pieces.push(piece.to_string())
            })
            .await
            .unwrap();
        assert_eq!(streamed, whole, "{:?}", mind.provider);
        if *streams {
            assert!(pieces.len() > 1, "{:?}: {pieces:?}", mind.provider);
            // The answer's JSON as it was written (Anthropic's is its tool's input).
            let written: Value = serde_json::from_str(&pieces.concat()).unwrap();
            assert_eq!(Some(written), whole.json, "{:?}", mind.provider);
        } else {
            assert!(pieces.is_empty(), "{:?}: {pieces:?}", mind.provider);
        }
    }
    assert_eq!(ollama.requests().last().unwrap().body["stream"], true);
    let sent = openai.requests().last().unwrap().body;
    assert_eq!(
        (&sent["stream"], &sent["stream_options"]),
        (&json!(true), &json!({"include_usage": true}))
    );

    // A streamed answer cut at the length limit is known as such too.
    ollama.set_responder(responder(|_| {
        ScriptedReply::CutOff("{\"say\": \"and th".into())
    }));
    let cut = client(OrganSlot::Thinking)
        .chat_streaming(&organs[0].0, &structured("hi"), &mut |_| {})
        .await
        .unwrap();
    assert_eq!((cut.json, cut.cut_off), (None, true));
}
