//! Multipart uploads (migrate, hear, attach, feed): every field read once, size limits mapped to
//! 413, and a body that is not a form treated as an empty one so the missing fields are reported
//! as FastAPI reports them (422).
//!
//! A file field is never held in memory: its chunks are written, as they arrive, to a
//! `.tmp-upload-*` file in the spool folder (`personas/`, on the same disk as her media so a kept
//! file is renamed into place, not copied). The file is removed when its [`Upload`] is dropped,
//! so a refused or interrupted upload leaves nothing behind, and a daemon killed mid-upload
//! leaves a `.tmp-*` file that the store's boot recovery removes.

use std::collections::HashMap;
use std::path::Path;

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, FieldError};

/// Longest text field of a form (a caption, a phrase, a key). Text fields are held in memory,
/// so they get the JSON bodies' bound, not the upload's.
pub const TEXT_LIMIT: usize = 1024 * 1024;

/// Prefix of a spooled upload; the store's boot recovery sweeps `.tmp-*` files in `personas/`.
const SPOOL_PREFIX: &str = ".tmp-upload-";

/// One uploaded file, spooled to disk.
pub struct Upload {
    pub name: String,
    pub mime: String,
    /// How many bytes arrived.
    pub len: u64,
    /// The spooled bytes; the file is removed when this is dropped (unless it was moved away).
    pub file: tempfile::TempPath,
}

impl Upload {
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// The whole file, for a consumer that needs its bytes (her ear). `None` when it holds
    /// more than `limit` bytes: nothing that large is read back into memory.
    pub async fn read_bounded(&self, limit: u64) -> Result<Option<Vec<u8>>, ApiError> {
        if self.len > limit {
            return Ok(None);
        }
        tokio::fs::read(&self.file)
            .await
            .map(Some)
            .map_err(|e| ApiError::Internal(format!("could not read back the upload: {e}")))
    }
}

/// The file fields and text fields of a form.
#[derive(Default)]
pub struct Fields {
    pub files: HashMap<String, Upload>,
    pub texts: HashMap<String, String>,
}

fn upload_error(e: MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::BadRequest(format!("Could not read the upload: {}", e.body_text()))
    }
}

fn too_large() -> ApiError {
    ApiError::TooLarge(
        "The upload is larger than this daemon accepts (ETERNEGO_UPLOAD_LIMIT_MB).".into(),
    )
}

fn spool_error(e: std::io::Error) -> ApiError {
    ApiError::Internal(format!("could not spool the upload: {e}"))
}

/// Reads every field of the form, file fields into files under `spool`.
pub async fn read(
    form: Result<Multipart, MultipartRejection>,
    spool: &Path,
) -> Result<Fields, ApiError> {
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
                let (len, file) = spool_field(field, spool).await?;
                fields.files.insert(
                    key,
                    Upload {
                        name,
                        mime,
                        len,
                        file,
                    },
                );
            }
            None => {
                fields.texts.insert(key, text(field).await?);
            }
        }
    }
    Ok(fields)
}

/// Writes a file field to a new spool file chunk by chunk. On any error the file is dropped,
/// which removes it.
async fn spool_field(
    mut field: Field<'_>,
    spool: &Path,
) -> Result<(u64, tempfile::TempPath), ApiError> {
    let spooled = tempfile::Builder::new()
        .prefix(SPOOL_PREFIX)
        .tempfile_in(spool)
        .map_err(spool_error)?;
    let (file, path) = spooled.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut len = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(upload_error)? {
        len += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(spool_error)?;
    }
    file.flush().await.map_err(spool_error)?;
    Ok((len, path))
}

/// A text field, refused (413) past [`TEXT_LIMIT`] before more of it is held.
async fn text(mut field: Field<'_>) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(upload_error)? {
        if bytes.len() + chunk.len() > TEXT_LIMIT {
            return Err(ApiError::TooLarge(format!(
                "A form's text field is longer than {TEXT_LIMIT} bytes."
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| {
        ApiError::BadRequest("Could not read the upload: a text field is not UTF-8.".into())
    })
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
