//! Multipart uploads (migrate, hear, attach, feed): every field read once, size limits mapped to
//! 413, and a body that is not a form treated as an empty one so the missing fields are reported
//! as FastAPI reports them (422).

use std::collections::HashMap;

use axum::extract::Multipart;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use serde_json::Value;

use crate::error::{ApiError, FieldError};

/// One uploaded file.
pub struct Upload {
    pub name: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// The file fields and text fields of a form.
#[derive(Default)]
pub struct Fields {
    pub files: HashMap<String, Upload>,
    pub texts: HashMap<String, String>,
}

fn upload_error(e: MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(
            "The upload is larger than this daemon accepts (ETERNEGO_UPLOAD_LIMIT_MB).".into(),
        )
    } else {
        ApiError::BadRequest(format!("Could not read the upload: {}", e.body_text()))
    }
}

pub async fn read(form: Result<Multipart, MultipartRejection>) -> Result<Fields, ApiError> {
    let mut fields = Fields::default();
    let Ok(mut form) = form else {
        return Ok(fields);
    };
    while let Some(field) = form.next_field().await.map_err(upload_error)? {
        let key = field.name().unwrap_or_default().to_string();
        match field.file_name().map(str::to_string) {
            Some(name) => {
                let mime = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = field.bytes().await.map_err(upload_error)?.to_vec();
                fields.files.insert(key, Upload { name, mime, bytes });
            }
            None => {
                fields
                    .texts
                    .insert(key, field.text().await.map_err(upload_error)?);
            }
        }
    }
    Ok(fields)
}

/// The 422 for required form fields that are absent, or `Ok` when all are there.
pub fn require(fields: &Fields, files: &[&str], texts: &[&str]) -> Result<(), ApiError> {
    let absent = files
        .iter()
        .filter(|f| !fields.files.contains_key(**f))
        .chain(texts.iter().filter(|t| !fields.texts.contains_key(**t)))
        .map(|name| FieldError::missing(&["body", name], Value::Null))
        .collect::<Vec<_>>();
    if absent.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(absent))
    }
}

/// Renames the older text field names the original's forms send (`(old, new)`); a field already
/// sent under its new name wins, since that client knows the new name.
pub fn alias(fields: &mut Fields, aliases: &[(&str, &str)]) {
    for (old, new) in aliases {
        if let Some(value) = fields.texts.remove(*old) {
            fields.texts.entry((*new).to_string()).or_insert(value);
        }
    }
}
