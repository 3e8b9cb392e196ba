//! How her stages talk to her organs: one question, asked through `organs::OrganClient`, with
//! her identity as the system prompt and her memory as the conversation.

use std::sync::{Arc, Mutex};

use organs::{Audio, ChatRequest, OrganClient, OrganError, Reply, Usage};
use persona::{Organ, OrganSlot};
use serde_json::Value;

use crate::memory::{Prompt, Role};

/// One question to one organ.
#[derive(Clone, Debug)]
pub struct Ask {
    /// System blocks, joined in order.
    pub system: Vec<String>,
    /// How many of the system blocks are the same from one beat to the next; the boundary after
    /// them is sent as the prompt's cache point.
    pub stable: usize,
    /// The conversation so far.
    pub turns: Vec<Prompt>,
    /// The stage's task, asked as the final user turn.
    pub question: String,
    /// `(name, JSON Schema)` when a structured answer is wanted.
    pub schema: Option<(&'static str, Value)>,
    /// An image shown with the question: bytes and MIME type.
    pub image: Option<(Vec<u8>, String)>,
    /// A document given whole with the question (a PDF, for providers that read one).
    pub document: Option<organs::Document>,
}

#[derive(Clone)]
pub struct Voice {
    http: reqwest::Client,
    /// The daemon's embedded engine and her sequence in it (her persona id), for local models
    /// in her library.
    embedded: Option<(organs::Embedded, String)>,
    /// Every token her models have taken since she started, as their providers counted them;
    /// an exchange reads it before and after to report what its beat took.
    spent: Arc<Mutex<Usage>>,
}

impl Voice {
    pub fn new(http: reqwest::Client) -> Voice {
        Voice {
            http,
            embedded: None,
            spent: Arc::default(),
        }
    }

    /// Local models in `embedded`'s library run on it, in the KV sequence `sequence`.
    pub fn with_embedded(mut self, embedded: Option<organs::Embedded>, sequence: String) -> Voice {
        self.embedded = embedded.map(|e| (e, sequence));
        self
    }

    fn client(&self, slot: OrganSlot) -> OrganClient {
        let client = OrganClient::new(self.http.clone(), slot);
        match &self.embedded {
            Some((embedded, sequence)) => client.with_embedded(Some(embedded.clone()), sequence),
            None => client,
        }
    }

    pub async fn ask(&self, organ: &Organ, ask: &Ask) -> Result<Reply, OrganError> {
        self.ask_as(slot(ask), organ, ask).await
    }

    /// Asks `organ` in the name of `slot`, which is what any error names.
    pub async fn ask_as(
        &self,
        slot: OrganSlot,
        organ: &Organ,
        ask: &Ask,
    ) -> Result<Reply, OrganError> {
        let reply = self.client(slot).chat(organ, &request(ask)).await?;
        Ok(self.count(reply))
    }

    /// Like [`Voice::ask`], handing `on_text` the answer's text as her Mind writes it, where
    /// the provider streams.
    pub async fn ask_streaming(
        &self,
        organ: &Organ,
        ask: &Ask,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Reply, OrganError> {
        let reply = self
            .client(slot(ask))
            .chat_streaming(organ, &request(ask), on_text)
            .await?;
        Ok(self.count(reply))
    }

    /// Every token her models have taken so far.
    pub fn spent(&self) -> Usage {
        *self.spent.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, reply: Reply) -> Reply {
        *self.spent.lock().unwrap_or_else(|e| e.into_inner()) += reply.usage;
        reply
    }

    pub async fn transcribe(&self, organ: &Organ, audio: &Audio) -> Result<String, OrganError> {
        self.client(OrganSlot::Ear).transcribe(organ, audio).await
    }
}

/// The organ a question is asked in the name of: her eye when it shows an image.
fn slot(ask: &Ask) -> OrganSlot {
    if ask.image.is_some() {
        OrganSlot::Eye
    } else {
        OrganSlot::Thinking
    }
}

fn request(ask: &Ask) -> ChatRequest {
    let stable = ask.system[..ask.stable.min(ask.system.len())].join("\n\n");
    let mut request = ChatRequest::new(ask.system.join("\n\n")).with_cache_point(stable.len());
    for turn in &ask.turns {
        request = request.message(match turn.role {
            Role::User => organs::Message::user(turn.content.clone()),
            Role::Assistant => organs::Message::assistant(turn.content.clone()),
        });
    }
    let mut question = organs::Message::user(ask.question.as_str());
    if let Some((bytes, mime)) = &ask.image {
        question = question.with_image(bytes.clone(), mime.clone());
    }
    if let Some(d) = &ask.document {
        question = question.with_document(d.bytes.clone(), d.mime.clone(), d.name.clone());
    }
    request = request.message(question);
    if let Some((name, schema)) = &ask.schema {
        request = request.with_schema(*name, schema.clone());
    }
    request
}
