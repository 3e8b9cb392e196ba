//! What reaches her besides text (images, voice, imports), what the daemon shows of her, and
//! how her day folds into memory when she goes idle.

mod common;

use common::*;
use mind::meanings::CHATTING;
use mind::{MindError, Spoken};
use persona::Provider;
use serde_json::{Value, json};
use testkit::ScriptedReply;

const MODEL: &str = "eternego-iris";

#[tokio::test]
async fn an_attached_image_is_seen_by_her_mind_when_she_has_no_eye() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, latest, _| match stage {
        Stage::Eye => ScriptedReply::text("A grey cat asleep on a red sofa."),
        Stage::Recognize if latest.contains("tool: look_at\nstatus: ok\nresult: A grey cat") => {
            json(json!({"decision": [{"say": "What a sleepy grey cat!"}, {"done": null}]}))
        }
        _ => json(json!({"decision": [{"done": null}]})),
    }));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let mut out = agent.subscribe();
    agent
        .attach("cat.png", "image/png", b"\x89PNG\r\n\x1a\nfake", "look")
        .await
        .unwrap();
    assert_eq!(next_line(&mut out).await.content, "What a sleepy grey cat!");
    agent.stop().await;
    let eye = fake
        .requests()
        .to("/api/chat")
        .into_iter()
        .find(|r| stage(&r.body) == Stage::Eye)
        .expect("her eye was asked");
    let images = eye.body["messages"].as_array().unwrap().last().unwrap()["images"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(images.len(), 1);
    let media: Vec<String> = std::fs::read_dir(world.home().join("media"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(media.iter().any(|n| n.ends_with("-cat.png")), "{media:?}");
    let log = lines(&world.home().join("conversation.jsonl"));
    assert!(
        log[0]["media"]["source"]
            .as_str()
            .unwrap()
            .ends_with("-cat.png")
    );
}

#[tokio::test]
async fn a_file_no_organ_can_perceive_is_refused_and_nothing_is_kept() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let pdf = agent
        .attach("report.pdf", "application/pdf", b"%PDF-1.7", "")
        .await
        .unwrap_err();
    assert!(
        matches!(&pdf, MindError::Unperceivable(why) if why.contains("Anthropic or Gemini")),
        "a local Mind cannot read a PDF: {pdf:?}"
    );
    let zip = agent
        .attach("photos.zip", "application/zip", b"PK\x03\x04", "")
        .await
        .unwrap_err();
    assert!(matches!(zip, MindError::Unperceivable(_)), "{zip:?}");
    let binary = agent
        .attach("notes.txt", "text/plain", b"\xff\xfe\x00", "")
        .await
        .unwrap_err();
    assert!(matches!(binary, MindError::Unperceivable(_)), "{binary:?}");
    let without_ear = agent
        .hear(organs::Audio {
            bytes: vec![1, 2],
            mime: "audio/mpeg".into(),
            file_name: "a.mp3".into(),
        })
        .await;
    assert!(matches!(without_ear, Err(MindError::Unperceivable(_))));
    agent.stop().await;
    assert_eq!(
        std::fs::read_dir(world.home().join("media"))
            .unwrap()
            .count(),
        0
    );
    assert!(!world.home().join("conversation.jsonl").exists());
}

#[tokio::test]
async fn a_pdf_goes_to_her_researcher_and_only_the_report_enters_her_memory() {
    let mind = testkit::ollama::start(&[MODEL]).await;
    mind.set_responder(script(|stage, latest, _| match stage {
        Stage::Recognize
            if latest.contains(
                "tool: read_document\nstatus: ok\nresult: Rent of 900 is due on June 3.",
            ) =>
        {
            json(json!({"decision": [{"say": "Rent is due on June 3."}, {"done": null}]}))
        }
        _ => json(json!({"decision": [{"done": null}]})),
    }));
    let researcher = testkit::anthropic::start(&["sk-test"], &["claude-reader"]).await;
    researcher.set_responder(testkit::responder(|_| {
        ScriptedReply::text("Rent of 900 is due on June 3.")
    }));
    let mut world = World::new(mind_at(None, &mind.url(), MODEL));
    world.persona.researcher = Some(mind_at(
        Some(Provider::Anthropic),
        &researcher.url(),
        "claude-reader",
    ));
    let agent = world.start().await;
    let mut out = agent.subscribe();
    let pdf = b"%PDF-1.7 a long lease".to_vec();
    agent
        .attach("lease.pdf", "application/pdf", &pdf, "what is due?")
        .await
        .unwrap();
    assert_eq!(next_line(&mut out).await.content, "Rent is due on June 3.");
    let asked = researcher.requests().last().unwrap().body;
    let document = &asked["messages"][0]["content"][0];
    assert_eq!(document["type"], "document");
    assert!(document["title"].as_str().unwrap().ends_with("-lease.pdf"));
    assert!(
        asked["messages"][0]["content"][1]["text"]
            .as_str()
            .unwrap()
            .contains("what is due?")
    );
    let memory = agent.memory();
    let prompts: Vec<String> = memory
        .messages
        .iter()
        .filter_map(|m| m.prompt.as_ref().map(|p| p.content.to_string()))
        .collect();
    assert!(
        prompts[0].starts_with("what is due? [document web-")
            && prompts[0].ends_with("-lease.pdf]"),
        "{prompts:?}"
    );
    assert!(
        prompts[1].starts_with("{\"tools.read_document\""),
        "{prompts:?}"
    );
    assert!(
        !prompts.iter().any(|p| p.contains("a long lease")),
        "the document itself stays out of her memory"
    );
    agent.stop().await;
}

#[tokio::test]
async fn a_text_document_is_read_into_the_conversation_when_she_has_no_researcher() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, latest, _| match stage {
        Stage::Recognize
            if latest.starts_with("my list [document ") && latest.ends_with("\nflour\neggs") =>
        {
            json(json!({"decision": [{"say": "Flour and eggs, noted."}, {"done": null}]}))
        }
        _ => json(json!({"decision": [{"done": null}]})),
    }));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let mut out = agent.subscribe();
    agent
        .attach("list.txt", "text/plain", b"flour\neggs", "my list")
        .await
        .unwrap();
    assert_eq!(next_line(&mut out).await.content, "Flour and eggs, noted.");
    agent.stop().await;
    let log = lines(&world.home().join("conversation.jsonl"));
    assert_eq!(log[0]["content"], "my list");
    assert!(
        log[0]["media"]["source"]
            .as_str()
            .unwrap()
            .ends_with("-list.txt")
    );
}

#[tokio::test]
async fn a_voice_note_is_transcribed_by_her_ear_and_read() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, latest, _| match stage {
        Stage::Recognize if latest == "Good morning, Iris" => {
            json(json!({"decision": [{"say": "Good morning!"}, {"done": null}]}))
        }
        _ => json(json!({"decision": [{"done": null}]})),
    }));
    let ear = testkit::openai::start(&["sk-test"], &["whisper-1"]).await;
    ear.set_transcript("Good morning, Iris");
    let mut world = World::new(mind_at(None, &fake.url(), MODEL));
    world.persona.ear = Some(mind_at(Some(Provider::Openai), &ear.url(), "whisper-1"));
    let agent = world.start().await;
    let mut out = agent.subscribe();
    let heard = agent
        .hear(organs::Audio {
            bytes: vec![0xFF, 0xFB, 1],
            mime: "audio/mpeg".into(),
            file_name: "note.mp3".into(),
        })
        .await
        .unwrap();
    assert_eq!(heard, "Good morning, Iris");
    assert_eq!(next_line(&mut out).await.content, "Good morning!");
    agent.stop().await;
}

#[tokio::test]
async fn feeding_a_chatgpt_export_consolidates_each_conversation() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, latest, _| match stage {
        Stage::Consolidate if latest.contains("sourdough") => json(
            json!({"identity": "Bakes sourdough on Sundays.", "context": "Ask about the bread."}),
        ),
        _ => json(json!({})),
    }));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let export = json!([{"title": "Bread", "mapping": {
        "a": {"message": {"author": {"role": "user"}, "content": {"parts": ["My sourdough starter died again"]}, "create_time": 1.0}},
        "b": {"message": {"author": {"role": "assistant"}, "content": {"parts": ["Feed it twice a day."]}, "create_time": 2.0}},
        "c": {"message": null}
    }}]);
    assert_eq!(
        agent
            .feed(export.to_string().as_bytes(), "chatgpt")
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        agent.feed(b"not json", "chatgpt").await,
        Err(MindError::Invalid(_))
    ));
    agent.stop().await;
    assert_eq!(
        std::fs::read_to_string(world.home().join("person.md")).unwrap(),
        "Bakes sourdough on Sundays."
    );
    let memory: Value =
        serde_json::from_slice(&std::fs::read(world.home().join("memory.json")).unwrap()).unwrap();
    assert!(
        memory[0]["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("Ask about the bread.")
    );
}

#[tokio::test]
async fn hand_edits_are_read_on_the_next_beat_and_the_day_folds_in_only_when_idle() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, _, _| match stage {
        Stage::Recognize => {
            json(json!({"decision": [{"tools.load_instruction": {"intention": CHATTING}}]}))
        }
        Stage::Decide => json(json!({"decision": [{"say": "Noted."}, {"done": null}]})),
        Stage::Consolidate => {
            json(json!({"identity": "Ada, who edits files by hand.", "context": "quiet day"}))
        }
        _ => json(json!({})),
    }));
    let mut world = World::new(mind_at(None, &fake.url(), MODEL));
    world.persona.idle_timeout = 600;
    std::fs::write(world.home().join("person.md"), "Ada prefers tea to coffee.").unwrap();
    let agent = world.start().await;
    let mut out = agent.subscribe();
    agent.read("hello").await.unwrap();
    assert_eq!(next_line(&mut out).await.kind, Spoken::Say);
    let first = fake.requests().to("/api/chat")[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        first.contains("Ada prefers tea to coffee."),
        "she read her file"
    );
    world.clock.advance(time::Duration::minutes(5));
    agent.read("still there?").await.unwrap();
    assert_eq!(next_line(&mut out).await.content, "Noted.");
    let consolidations = || {
        fake.requests()
            .to("/api/chat")
            .iter()
            .filter(|r| stage(&r.body) == Stage::Consolidate)
            .count()
    };
    assert_eq!(consolidations(), 0, "not idle yet");
    let mut events = agent.life_events();
    world.clock.advance(time::Duration::minutes(10));
    while next_event(&mut events).await != mind::LifeEvent::Consolidated {}
    assert_eq!(
        std::fs::read_to_string(world.home().join("person.md")).unwrap(),
        "Ada, who edits files by hand."
    );
    assert_eq!(consolidations(), 1);
    agent.stop().await;
    let memory: Value =
        serde_json::from_slice(&std::fs::read(world.home().join("memory.json")).unwrap()).unwrap();
    assert_eq!(memory[0]["messages"], json!([]));
    assert_eq!(memory[0]["archive"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn views_show_her_knowledge_calendar_and_uptime_from_disk() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let home = mind::home::Home::new(world.home(), world.store.workspace(world.persona.id));
    home.ensure().unwrap();
    std::fs::write(world.home().join("person.md"), "Ada.").unwrap();
    std::fs::write(world.home().join("wishes.md"), "").unwrap();
    let knowledge = mind::views::knowledge(&home);
    assert_eq!(knowledge["memory"], json!({"person": "Ada."}));
    assert_eq!(
        knowledge["instruction"].as_array().unwrap().len(),
        mind::meanings::BUILTIN.len()
    );
    mind::destiny::save(
        &home.destiny(),
        "schedule",
        "2026-05-20 10:00",
        "Dentist",
        "weekly",
        START,
    )
    .unwrap();
    let (s, e) = (
        mind::views::calendar_bound("2026-05-01").unwrap(),
        mind::views::calendar_bound("2026-06-01T00:00:00").unwrap(),
    );
    let calendar = mind::views::calendar(&home, s, e);
    assert_eq!(calendar["start"], "2026-05-01");
    assert_eq!(
        calendar["destiny"]["schedule"],
        json!([{"time": "2026-05-20 10:00", "body": "Dentist", "recurrence": "weekly"}])
    );
    assert_eq!(calendar["history"]["conversation"], json!([]));
    mind::health::record(&home, START, &[]);
    let diagnose =
        mind::views::diagnose(&home, "active", START + time::Duration::seconds(30), None);
    let rows = diagnose["uptime"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 24);
    assert_eq!(rows[0]["cells"].as_array().unwrap().len(), 60);
    assert_eq!(rows[0]["cells"][0]["tick"], true);
    assert_eq!(rows[0]["cells"][1]["tick"], false);
}
