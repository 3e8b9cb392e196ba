//! Her ear, mouth and imagination over the OpenAI audio and image endpoints, which OpenAI,
//! xAI (images) and local OpenAI-compatible servers share. Anthropic and Gemini have no such
//! endpoints, so those organs refuse clearly.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use persona::{Organ, Provider};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::wire::{Call, provider_name};
use crate::{OrganClient, OrganError};

/// Sound she hears or says: bytes, their MIME type, and a file name with the right extension
/// (transcription services infer the format from it).
#[derive(Clone, PartialEq, Eq)]
pub struct Audio {
    pub bytes: Vec<u8>,
    pub mime: String,
    pub file_name: String,
}

impl std::fmt::Debug for Audio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Audio({}, {}, {} bytes)",
            self.file_name,
            self.mime,
            self.bytes.len()
        )
    }
}

/// An image she drew.
#[derive(Clone, PartialEq, Eq)]
pub struct Picture {
    pub bytes: Vec<u8>,
    pub mime: String,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Picture({}, {} bytes)", self.mime, self.bytes.len())
    }
}

impl OrganClient {
    async fn openai_compatible<'a>(
        &self,
        organ: &'a Organ,
        what: &'static str,
    ) -> Result<Call<'a>, OrganError> {
        if self.embedded(organ).await.is_some() {
            return Err(OrganError::Unsupported {
                organ: self.slot.as_str(),
                provider: crate::providers::embedded::NAME,
                what,
            });
        }
        match organ.provider {
            None | Some(Provider::Openai) | Some(Provider::Xai) => Ok(self.call(organ)),
            Some(_) => Err(OrganError::Unsupported {
                organ: self.slot.as_str(),
                provider: provider_name(organ.provider),
                what,
            }),
        }
    }

    /// Her ear: what is said in `audio`.
    pub async fn transcribe(&self, organ: &Organ, audio: &Audio) -> Result<String, OrganError> {
        let call = self.openai_compatible(organ, "transcribe audio").await?;
        let part = Part::bytes(audio.bytes.clone())
            .file_name(audio.file_name.clone())
            .mime_str(&audio.mime)
            .map_err(|_| call.unreadable(format!("'{}' is not a MIME type", audio.mime)))?;
        let form = Form::new()
            .text("model", organ.name.clone())
            .part("file", part);
        let builder = call
            .request(&self.http, Method::POST, "/v1/audio/transcriptions")
            .timeout(self.timeout)
            .multipart(form);
        let answer = call.json(call.send(builder).await?).await?;
        answer
            .get("text")
            .and_then(Value::as_str)
            .map(|t| t.trim().to_string())
            .ok_or_else(|| call.unreadable("the transcription has no `text`".into()))
    }

    /// Her mouth: `text` spoken in `voice`, as MP3.
    pub async fn speak(&self, organ: &Organ, text: &str, voice: &str) -> Result<Audio, OrganError> {
        let call = self.openai_compatible(organ, "speak").await?;
        let body =
            json!({"model": organ.name, "input": text, "voice": voice, "response_format": "mp3"});
        let builder = call
            .request(&self.http, Method::POST, "/v1/audio/speech")
            .timeout(self.timeout)
            .json(&body);
        let response = call.send(builder).await?;
        if !response.status().is_success() {
            return Err(call.refused(response).await);
        }
        let bytes = response.bytes().await.map_err(|e| call.unreachable(&e))?;
        if bytes.is_empty() {
            return Err(call.unreadable("the speech is empty".into()));
        }
        Ok(Audio {
            bytes: bytes.to_vec(),
            mime: "audio/mpeg".into(),
            file_name: "speech.mp3".into(),
        })
    }

    /// Her imagination: one picture of `prompt`. Newer models always return base64; older ones
    /// may return a URL, which is fetched.
    pub async fn draw(&self, organ: &Organ, prompt: &str) -> Result<Picture, OrganError> {
        let call = self.openai_compatible(organ, "draw").await?;
        let body = json!({"model": organ.name, "prompt": prompt, "n": 1});
        let builder = call
            .request(&self.http, Method::POST, "/v1/images/generations")
            .timeout(self.timeout)
            .json(&body);
        let answer = call.json(call.send(builder).await?).await?;
        let first = answer
            .pointer("/data/0")
            .ok_or_else(|| call.unreadable("no image in the answer".into()))?;
        let bytes = if let Some(data) = first.get("b64_json").and_then(Value::as_str) {
            B64.decode(data)
                .map_err(|_| call.unreadable("the image is not base64".into()))?
        } else if let Some(url) = first.get("url").and_then(Value::as_str) {
            let response = call.send(self.http.get(url).timeout(self.timeout)).await?;
            if !response.status().is_success() {
                return Err(call.refused(response).await);
            }
            response
                .bytes()
                .await
                .map_err(|e| call.unreachable(&e))?
                .to_vec()
        } else {
            return Err(call.unreadable("the image has neither data nor a URL".into()));
        };
        Ok(Picture {
            mime: sniff(&bytes).into(),
            bytes,
        })
    }
}

fn sniff(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"\x89PNG") {
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8]) {
        "image/jpeg"
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        "image/webp"
    } else {
        "application/octet-stream"
    }
}
