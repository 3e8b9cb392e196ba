//! Full conversations against a scripted fake Mind on loopback, with a manual clock.

mod common;

use common::*;
use mind::meanings::CHATTING;
use mind::{Identity, LifeEvent, Spoken};
use persona::{Provider, Status};
use serde_json::{Value, json};
use testkit::ScriptedReply;

const MODEL: &str = "eternego-iris";

fn chatting(
    reply: &'static str,
) -> impl Fn(Stage, &str, &Value) -> ScriptedReply + Send + Sync + 'static {
    move |stage, _, _| match stage {
        Stage::Recognize => {
            json(json!({"decision": [{"tools.load_instruction": {"intention": CHATTING}}]}))
        }
        Stage::Decide => json(json!({"decision": [{"say": reply}, {"done": null}]})),
        _ => json(json!({})),
    }
}

/// She loads the chatting instruction, decides `decision` without a word, and says `reply`
/// when the reply stage asks what she says to her person.
fn silent_then_asked(
    decision: Value,
    reply: &'static str,
) -> impl Fn(Stage, &str, &Value) -> ScriptedReply + Send + Sync + 'static {
    move |stage, _, _| match stage {
        Stage::Recognize => {
            json(json!({"decision": [{"tools.load_instruction": {"intention": CHATTING}}]}))
        }
        Stage::Decide => json(json!({"decision": [decision.clone()]})),
        Stage::Reply => json(json!({"say": reply})),
        _ => json(json!({})),
    }
}

async fn read_and_reply(world: &World) {
    let agent = world.start().await;
    let mut out = agent.subscribe();
    agent.read("Hi, I'm Ada.").await.unwrap();
    let heard = lines(&world.home().join("conversation.jsonl"));
    assert_eq!(
        heard[0]["content"], "Hi, I'm Ada.",
        "what she heard is logged before read returns"
    );
    let line = next_line(&mut out).await;
    assert_eq!(line.content, "Hello, Ada!");
    assert_eq!(line.kind, Spoken::Say);
    assert_eq!(line.persona_id, world.persona.id);
    agent.stop().await;
    let log = lines(&world.home().join("conversation.jsonl"));
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        (log[0]["role"].as_str(), log[0]["content"].as_str()),
        (Some("person"), Some("Hi, I'm Ada."))
    );
    assert_eq!(
        (log[1]["role"].as_str(), log[1]["content"].as_str()),
        (Some("assistant"), Some("Hello, Ada!"))
    );
    assert_eq!(log[1]["channel"]["type"], "web");
    let memory: Value =
        serde_json::from_slice(&std::fs::read(world.home().join("memory.json")).unwrap()).unwrap();
    let turns = memory[0]["messages"].as_array().unwrap();
    assert!(turns.iter().any(|m| {
        m["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("TOOL_RESULT\ntool: load_instruction"))
    }));
}

#[tokio::test]
async fn a_message_read_over_ollama_is_answered_on_the_web_channel_and_logged() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(chatting("Hello, Ada!")));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    read_and_reply(&world).await;
    let chats = fake.requests().to("/api/chat");
    assert!(
        chats.iter().all(|r| r.body["format"].is_object()),
        "every stage asked for a schema"
    );
}

#[tokio::test]
async fn a_message_read_over_openai_is_answered_on_the_web_channel_and_logged() {
    let fake = testkit::openai::start(&["sk-test"], &["gpt-test"]).await;
    fake.set_responder(script(chatting("Hello, Ada!")));
    let world = World::new(mind_at(Some(Provider::Openai), &fake.url(), "gpt-test"));
    read_and_reply(&world).await;
}

#[tokio::test]
async fn turns_memory_json_lost_in_a_crash_come_back_from_the_conversation_log() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(chatting("Hello, Ada!")));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let before = std::fs::read(world.home().join("memory.json")).ok();
    read_and_reply(&world).await;
    // A crash before memory.json caught up: the file is as it was before she heard anything.
    match &before {
        Some(bytes) => std::fs::write(world.home().join("memory.json"), bytes).unwrap(),
        None => std::fs::remove_file(world.home().join("memory.json")).unwrap(),
    }
    let agent = world.start().await;
    let said: Vec<String> = agent
        .memory()
        .messages
        .iter()
        .filter(|m| m.channel.is_some())
        .map(|m| m.content.to_string())
        .collect();
    assert_eq!(said, ["Hi, I'm Ada.", "Hello, Ada!"]);
    let saved: Value =
        serde_json::from_slice(&std::fs::read(world.home().join("memory.json")).unwrap()).unwrap();
    assert_eq!(
        saved[0]["messages"].as_array().unwrap().len(),
        2,
        "the replay is saved at once, so it happens once"
    );
    let mut out = agent.subscribe();
    agent.read("Do you remember me?").await.unwrap();
    next_line(&mut out).await;
    let asked = fake.requests().to("/api/chat").last().unwrap().body["messages"].to_string();
    assert!(
        asked.contains("Hi, I'm Ada.") && asked.contains("Hello, Ada!"),
        "her Mind sees the replayed turns"
    );
    agent.stop().await;
}

#[tokio::test]
async fn prose_instead_of_json_is_retried_once_then_spoken() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, _, _| match stage {
        Stage::Recognize => ScriptedReply::text("Oh hello there, lovely to meet you."),
        _ => json(json!({})),
    }));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let mut out = agent.subscribe();
    agent.read("hello").await.unwrap();
    assert_eq!(
        next_line(&mut out).await.content,
        "Oh hello there, lovely to meet you."
    );
    agent.stop().await;
    let recognizes = fake
        .requests()
        .to("/api/chat")
        .into_iter()
        .filter(|r| stage(&r.body) == Stage::Recognize)
        .count();
    assert_eq!(recognizes, 2, "one retry, then the prose");
}

/// A model that runs past its length limit leaves half a JSON object. She never speaks that
/// fragment; she asks once more, saying why, and a whole answer then counts.
#[tokio::test]
async fn an_answer_cut_at_the_length_limit_is_asked_again_briefly_and_never_spoken() {
    const CUT: &str = r#"{"decision": [{"say": "Hello Ada, it is so very"#;
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, _, body| {
        let told = texts(body).last().is_some_and(|q| q.contains("was cut off"));
        match stage {
            Stage::Recognize if !told => ScriptedReply::CutOff(CUT.into()),
            Stage::Recognize => json(json!({"decision": [{"say": "Hello, Ada."}, {"done": null}]})),
            Stage::Consolidate if !told => ScriptedReply::CutOff(r#"{"context": "Ada said hi", "identity": "Ada, who"#.into()),
            Stage::Consolidate => json(json!({"context": "Ada said hi.", "identity": "Ada.", "traits": "", "wishes": "",
                                              "struggles": "", "persona_traits": "", "permissions": ""})),
            _ => json(json!({})),
        }
    }));
    let (world, heard) = greeted_then_slept(&fake).await;
    assert_eq!(
        std::fs::read_to_string(world.home().join("person.md")).unwrap(),
        "Ada."
    );
    assert_eq!(heard, ["Hello, Ada."]);
    let asked: Vec<Stage> = fake
        .requests()
        .to("/api/chat")
        .into_iter()
        .map(|r| stage(&r.body))
        .collect();
    assert_eq!(
        asked.iter().filter(|s| **s == Stage::Recognize).count(),
        2,
        "{asked:?}"
    );
    assert_eq!(
        asked.iter().filter(|s| **s == Stage::Consolidate).count(),
        2,
        "{asked:?}"
    );
}

/// Cut off twice: nothing of the fragment reaches her person or her files.
#[tokio::test]
async fn an_answer_cut_off_twice_is_neither_spoken_nor_kept() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, _, _| match stage {
        Stage::Recognize | Stage::Consolidate => {
            ScriptedReply::CutOff(r#"{"decision": [{"say": "Hel"#.into())
        }
        Stage::Reply => json(json!({"say": "Hello, Ada."})),
        _ => json(json!({})),
    }));
    let (world, heard) = greeted_then_slept(&fake).await;
    assert!(
        !world.home().join("person.md").exists(),
        "no knowledge file from a fragment"
    );
    assert_eq!(
        heard,
        ["Hello, Ada."],
        "the reply stage answered her person, the fragment was not spoken"
    );
}

/// Ada greets her; she comes to rest, sleeps and stops. Returns her world and what she said.
async fn greeted_then_slept(fake: &testkit::ollama::FakeOllama) -> (World, Vec<String>) {
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let out = agent.subscribe();
    agent.read("Hi, I'm Ada.").await.unwrap();
    rested(&agent, 1).await;
    agent.sleep().await.unwrap();
    let (heard, _) = replies_after_one_beat(&world, agent, out).await;
    (world, heard)
}

#[tokio::test]
async fn an_unknown_intention_becomes_a_lesson_and_a_meaning_of_her_own() {
    let meaning = learns_tea(ScriptedReply::text(
        "When tea is wanted: I boil the water, then let it steep for three minutes.",
    ))
    .await;
    assert!(meaning.contains("steep for three minutes"), "{meaning}");
}

/// Her own words for a lesson, cut at the length limit, would be half an instruction: the
/// teacher's whole procedure is kept instead.
#[tokio::test]
async fn a_meaning_cut_at_the_length_limit_keeps_the_teachers_procedure() {
    let meaning = learns_tea(ScriptedReply::CutOff(
        "When tea is wanted: I boil the".into(),
    ))
    .await;
    assert!(
        meaning.contains("1. Boil water.\n2. Steep three minutes."),
        "{meaning}"
    );
    assert!(!meaning.contains("I boil the"), "{meaning}");
}

/// She meets "Brewing a pot of tea" with no meaning for it; her teacher writes the lesson and
/// her Mind answers `own_it` when asked to make it her own. Returns the meaning she keeps.
async fn learns_tea(own_it: ScriptedReply) -> String {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(move |stage, _, _| match stage {
        Stage::Recognize => json(json!({"decision": [{"tools.load_instruction": {"intention": "Brewing a pot of tea"}}]})),
        Stage::Teach => json(json!({"intention": "Brewing tea", "path": "1. Boil water.\n2. Steep three minutes."})),
        Stage::OwnIt => own_it.clone(),
        Stage::Decide => json(json!({"decision": [{"say": "Kettle's on."}, {"done": null}]})),
        _ => json(json!({})),
    }));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let mut out = agent.subscribe();
    agent.read("Could you brew us some tea?").await.unwrap();
    assert_eq!(next_line(&mut out).await.content, "Kettle's on.");
    agent.stop().await;
    let home = world.home();
    let lessons: Vec<_> = std::fs::read_dir(home.join("lessons"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(lessons.len(), 1);
    let lesson = std::fs::read_to_string(&lessons[0]).unwrap();
    assert!(
        lesson.starts_with("# Brewing a pot of tea\n\n1. Boil water."),
        "{lesson}"
    );
    let learned: Value =
        serde_json::from_slice(&std::fs::read(home.join("meanings/learned.json")).unwrap())
            .unwrap();
    let stem = learned["Brewing a pot of tea"].as_str().unwrap();
    std::fs::read_to_string(home.join(format!("meanings/{stem}.md"))).unwrap()
}

#[tokio::test]
async fn a_reminder_set_today_fires_at_its_minute() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, latest, _| match stage {
        Stage::Recognize if latest.starts_with("due for:") => {
            json(json!({"decision": [{"notify": "It's 09:00: time to call mom."}, {"done": null}]}))
        }
        Stage::Recognize if latest.contains("tool: save_destiny\nstatus: ok") => {
            json(json!({"decision": [{"say": "Saved for 09:00."}, {"done": null}]}))
        }
        Stage::Recognize => json(json!({"decision": [{"tools.save_destiny":
            {"type": "reminder", "trigger": "2026-05-18 09:00", "content": "Call mom", "recurrence": ""}}]})),
        _ => json(json!({})),
    }));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let mut out = agent.subscribe();
    agent.read("Remind me to call mom at 9").await.unwrap();
    assert_eq!(next_line(&mut out).await.content, "Saved for 09:00.");
    let destiny = world.home().join("destiny");
    assert_eq!(std::fs::read_dir(&destiny).unwrap().count(), 1);
    world.clock.advance(time::Duration::minutes(59));
    world.clock.advance(time::Duration::seconds(59));
    assert_eq!(
        std::fs::read_dir(&destiny).unwrap().count(),
        1,
        "not due before 09:00"
    );
    world.clock.advance(time::Duration::seconds(1));
    let due = next_line(&mut out).await;
    assert_eq!(
        (due.content.as_str(), due.kind),
        ("It's 09:00: time to call mom.", Spoken::Notify)
    );
    agent.stop().await;
    assert_eq!(std::fs::read_dir(&destiny).unwrap().count(), 0);
    let history: Vec<String> = std::fs::read_dir(world.home().join("history"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        history
            .iter()
            .any(|n| n.starts_with("reminder-2026-05-18-09-00-")),
        "{history:?}"
    );
}

#[tokio::test]
async fn sleep_consolidates_her_person_archives_the_day_and_writes_the_diary() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, _, _| match stage {
        Stage::Recognize => json(json!({"decision": [{"say": "Nice to meet you, Ada."}, {"done": null}]})),
        Stage::Consolidate => json(json!({
            "context": "Ada introduced herself; she loves green tea.",
            "identity": "Ada. Loves green tea.",
            "traits": ["Direct", "Warm"],
            "wishes": "", "struggles": "", "persona_traits": "I am attentive with Ada.", "permissions": ""
        })),
        _ => json(json!({})),
    }));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let mut out = agent.subscribe();
    let mut events = agent.life_events();
    agent.read("I'm Ada and I love green tea.").await.unwrap();
    assert_eq!(next_line(&mut out).await.content, "Nice to meet you, Ada.");
    agent.sleep().await.unwrap();
    assert_eq!(next_event(&mut events).await, LifeEvent::Consolidated);
    assert_eq!(next_event(&mut events).await, LifeEvent::Slept);
    let home = world.home();
    assert_eq!(
        std::fs::read_to_string(home.join("person.md")).unwrap(),
        "Ada. Loves green tea."
    );
    assert_eq!(
        std::fs::read_to_string(home.join("traits.md")).unwrap(),
        "- Direct\n- Warm"
    );
    let day = std::fs::read_to_string(home.join("history/conversation-2026-05-18.md")).unwrap();
    assert!(
        day.contains("person: I'm Ada and I love green tea.")
            && day.contains("persona: Nice to meet you, Ada."),
        "{day}"
    );
    assert!(
        std::fs::read_to_string(home.join("history/briefing.md"))
            .unwrap()
            .contains("conversation-2026-05-18.md")
    );
    assert_eq!(
        std::fs::read_to_string(home.join("conversation.jsonl")).unwrap(),
        ""
    );
    let memory: Value =
        serde_json::from_slice(&std::fs::read(home.join("memory.json")).unwrap()).unwrap();
    assert_eq!(memory[0]["messages"], json!([]));
    assert_eq!(
        memory[0]["context"],
        "Ada introduced herself; she loves green tea."
    );
    assert!(
        persona::diary::latest(&world.store.diary_dir(world.persona.id), world.persona.id)
            .is_some()
    );
    agent.sleep().await.expect("a second sleep is harmless");
    agent.stop().await;
}

#[tokio::test]
async fn the_nightly_routine_puts_her_to_sleep_at_midnight() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let mut events = agent.life_events();
    world
        .clock
        .set(time::macros::datetime!(2026-05-18 23:59:30 UTC));
    world
        .clock
        .set(time::macros::datetime!(2026-05-19 00:00:00 UTC));
    assert_eq!(next_event(&mut events).await, LifeEvent::Slept);
    agent.stop().await;
    assert!(
        persona::diary::latest(&world.store.diary_dir(world.persona.id), world.persona.id)
            .is_some()
    );
}

/// A loopback relay to `upstream` that holds every answer until the gate is opened, so a test
/// can keep her waiting on her Mind while her clock moves.
struct Gate {
    url: String,
    open: tokio::sync::watch::Sender<bool>,
}

async fn gate(upstream: &str) -> Gate {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_string();
    let (open, opened) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
            let ((mut client_in, mut client_out), (mut server_in, mut server_out)) =
                (client.into_split(), server.into_split());
            tokio::spawn(async move { tokio::io::copy(&mut client_in, &mut server_out).await });
            let mut opened = opened.clone();
            tokio::spawn(async move {
                let _ = opened.wait_for(|o| *o).await;
                tokio::io::copy(&mut server_in, &mut client_out).await
            });
        }
    });
    Gate { url, open }
}

/// Polls `check` until it holds, within [`PATIENCE`]; never passes on a timeout.
async fn until(what: &str, check: impl Fn() -> bool) {
    let waited = tokio::time::timeout(PATIENCE, async {
        while !check() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    });
    waited
        .await
        .unwrap_or_else(|_| panic!("{what} never happened"));
}

#[tokio::test]
async fn the_nightly_routine_waits_for_the_answer_she_owes() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(chatting("Good night, Ada.")));
    let gate = gate(&fake.url()).await;
    let world = World::new(mind_at(None, &gate.url, MODEL));
    let agent = world.start().await;
    let (mut out, mut events) = (agent.subscribe(), agent.life_events());
    world
        .clock
        .set(time::macros::datetime!(2026-05-18 23:59:30 UTC));
    agent.read("Still up?").await.unwrap();
    until("her Mind is asked", || {
        !fake.requests().to("/api/chat").is_empty()
    })
    .await;

    // Midnight comes while her Mind's answer is held back.
    world
        .clock
        .set(time::macros::datetime!(2026-05-19 00:00:00 UTC));
    let health = world.home().join("health.jsonl");
    until("the midnight beat", || {
        lines(&health).iter().any(|l| {
            l["time"]
                .as_str()
                .is_some_and(|t| t.starts_with("2026-05-19T00:00"))
        })
    })
    .await;
    gate.open.send(true).unwrap();
    assert_eq!(
        next_line(&mut out).await.content,
        "Good night, Ada.",
        "sleep did not cut her off before she answered"
    );

    world
        .clock
        .set(time::macros::datetime!(2026-05-19 00:01:00 UTC));
    while next_event(&mut events).await != LifeEvent::Slept {}
    agent.stop().await;
    let night =
        std::fs::read_to_string(world.home().join("history/conversation-2026-05-19.md")).unwrap();
    assert!(
        night.contains("person: Still up?") && night.contains("persona: Good night, Ada."),
        "{night}"
    );
}

#[tokio::test]
async fn a_dead_mind_makes_her_sick() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let world = World::new(mind_at(None, &url, MODEL));
    let agent = world.start().await;
    let mut events = agent.life_events();
    let mut out = agent.subscribe();
    agent.read("are you there?").await.unwrap();
    let reason = loop {
        match next_event(&mut events).await {
            LifeEvent::Faulted { in_a_row, .. } => {
                assert!(in_a_row <= mind::SICK_AFTER);
                world.clock.advance(time::Duration::minutes(1));
            }
            LifeEvent::Sick { reason } => break reason,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(reason.contains("failed 3 beats in a row"), "{reason}");
    assert!(
        next_line(&mut out)
            .await
            .content
            .contains("ran into trouble thinking")
    );
    agent.stop().await;
    let saved = world.store.load(world.persona.id).unwrap();
    assert_eq!(saved.status, Status::Sick);
    assert_eq!(saved.sickness.as_deref(), Some(reason.as_str()));
    let health = lines(&world.home().join("health.jsonl"));
    assert!(
        health
            .iter()
            .filter(|l| l["fault_count"].as_u64() > Some(0))
            .count()
            >= 2,
        "{health:?}"
    );
    assert_eq!(health.last().unwrap()["fault_providers"], json!(["ollama"]));
}

#[tokio::test]
async fn under_a_stress_burst_she_defers_instead_of_acting() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, _, _| match stage {
        Stage::Recognize => {
            json(json!({"decision": [{"tools.save_notes": {"content": "rewrite everything"}}]}))
        }
        _ => json(json!({})),
    }));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    overload(&world).await;
    let mut out = agent.subscribe();
    agent.read("Rewrite all my notes now!").await.unwrap();
    let said = next_line(&mut out).await.content;
    assert!(
        said.contains("deferring save_notes") && said.contains("OVER"),
        "{said}"
    );
    assert_eq!(agent.status().regulation.stress, "OVER");
    agent.stop().await;
    assert!(!world.home().join("notes.md").exists(), "she did not act");
    let system = fake.requests().to("/api/chat")[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        system.contains("Stress: OVER"),
        "her contract is part of what she reads"
    );
}

/// Her replies so far: what reached the subscription since `out` was made, and the assistant
/// lines of `conversation.jsonl`, after she has come to rest once and stopped.
async fn replies_after_one_beat(
    world: &World,
    agent: mind::Agent,
    mut out: tokio::sync::broadcast::Receiver<mind::Outgoing>,
) -> (Vec<String>, Vec<String>) {
    rested(&agent, 1).await;
    agent.stop().await;
    let mut heard = Vec::new();
    while let Ok(line) = out.try_recv() {
        if line.kind.is_draft() {
            continue;
        }
        assert_eq!(line.kind, Spoken::Say);
        heard.push(line.content);
    }
    let logged = lines(&world.home().join("conversation.jsonl"))
        .into_iter()
        .filter(|l| l["role"] == "assistant")
        .map(|l| l["content"].as_str().unwrap().to_string())
        .collect();
    (heard, logged)
}

/// Her person says `said`; she lives one beat on `fake` and stops. Returns what she said and
/// what was logged as hers.
async fn one_beat(fake: &testkit::ollama::FakeOllama, said: &str) -> (Vec<String>, Vec<String>) {
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    let out = agent.subscribe();
    agent.read(said).await.unwrap();
    replies_after_one_beat(&world, agent, out).await
}

fn replies_asked(fake: &testkit::ollama::FakeOllama) -> Vec<Value> {
    fake.requests()
        .to("/api/chat")
        .into_iter()
        .filter(|r| stage(&r.body) == Stage::Reply)
        .map(|r| r.body)
        .collect()
}

#[tokio::test]
async fn a_beat_that_decides_done_without_a_word_still_answers_her_person_once() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(silent_then_asked(
        json!({"done": null}),
        "Hello, Ada.",
    )));
    let (heard, logged) = one_beat(&fake, "Hi, I'm Ada.").await;
    assert_eq!(heard, ["Hello, Ada."]);
    assert_eq!(logged, ["Hello, Ada."]);
    let asked = replies_asked(&fake);
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0]["format"]["required"],
        json!(["say"]),
        "the schema requires her words"
    );
    assert_eq!(asked[0]["format"]["properties"]["say"]["minLength"], 1);
}

#[tokio::test]
async fn a_beat_that_clears_her_memory_answers_what_her_person_said() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(silent_then_asked(
        json!({"clear_memory": null}),
        "Tomatoes love the sun.",
    )));
    let (heard, logged) = one_beat(&fake, "What do tomatoes need?").await;
    assert_eq!(heard, ["Tomatoes love the sun."]);
    assert_eq!(logged, ["Tomatoes love the sun."]);
    let question = replies_asked(&fake)[0]["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        question.contains("> What do tomatoes need?"),
        "her cleared memory no longer holds it, so the question does: {question}"
    );
}

#[tokio::test]
async fn words_that_never_come_become_a_fixed_acknowledgement() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, _, _| match stage {
        Stage::Recognize => json(json!({"decision": [{"done": null}]})),
        Stage::Reply => json(json!({"say": "  "})),
        _ => json(json!({})),
    }));
    let (heard, logged) = one_beat(&fake, "hello?").await;
    assert_eq!(heard, [mind::prompts::ACKNOWLEDGEMENT]);
    assert_eq!(logged, [mind::prompts::ACKNOWLEDGEMENT]);
    assert_eq!(
        replies_asked(&fake).len(),
        2,
        "asked once more, then acknowledged"
    );
}

#[tokio::test]
async fn a_beat_that_already_answered_is_not_asked_for_a_second_reply() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(chatting("Hello, Ada!")));
    let (heard, logged) = one_beat(&fake, "Hi, I'm Ada.").await;
    assert_eq!(heard, ["Hello, Ada!"]);
    assert_eq!(logged, ["Hello, Ada!"]);
    assert!(replies_asked(&fake).is_empty());
}

#[tokio::test]
async fn under_over_her_deferral_is_the_only_reply() {
    let fake = testkit::ollama::start(&[MODEL]).await;
    fake.set_responder(script(|stage, _, _| match stage {
        Stage::Recognize => {
            json(json!({"decision": [{"tools.save_notes": {"content": "rewrite everything"}}]}))
        }
        _ => json(json!({})),
    }));
    let world = World::new(mind_at(None, &fake.url(), MODEL));
    let agent = world.start().await;
    overload(&world).await;
    let out = agent.subscribe();
    agent.read("Rewrite all my notes now!").await.unwrap();
    let (heard, logged) = replies_after_one_beat(&world, agent, out).await;
    assert_eq!(heard.len(), 1, "{heard:?}");
    assert!(heard[0].contains("deferring save_notes"), "{heard:?}");
    assert_eq!(logged, heard);
    assert!(replies_asked(&fake).is_empty());
}

/// Drives her identity instance into `OVER` with a burst of stress.
async fn overload(world: &World) {
    let instance: Value =
        serde_json::from_slice(&std::fs::read(world.home().join("identity.json")).unwrap())
            .unwrap();
    let instance = instance["instance"].as_str().unwrap().to_string();
    let burst: Vec<mind::Observed> = (0..40)
        .map(|_| mind::Observed {
            observation: identity::Observation::new(identity::Mode::StressResponse, 1.0, 1.0)
                .unwrap(),
            context: json!({}),
            at: START,
        })
        .collect();
    world.identity.observe(&instance, burst).await.unwrap();
    assert_eq!(
        world.identity.contract(&instance).await.unwrap().stress,
        identity::StressLevel::Over
    );
}
