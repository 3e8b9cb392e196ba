use std::path::PathBuf;
use thiserror::Error;

/// Everything the hosting layer can refuse or fail at.
#[derive(Debug, Error)]
pub enum InstancesError {
    #[error("instance {0:?} not found")]
    NotFound(String),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("the test is incomplete: {} question(s) unanswered", .missing.len())]
    IncompleteTest { missing: Vec<u32> },
    #[error("storage failure at {path}: {source}")]
    Storage {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt record in {path} line {line}: {reason}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
}

impl InstancesError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        InstancesError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn storage(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| InstancesError::Storage { path, source }
    }
}
