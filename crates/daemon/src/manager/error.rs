//! What a manager flow can fail with. Every variant is typed; which status and body each one
//! becomes is decided in one place, `crate::error` (`impl From<ManagerError> for ApiError`).

use channels::ChannelError;
use mind::MindError;
use organs::OrganError;
use persona::StoreError;
use persona::diary::DiaryError;

/// Why bringing her up failed: her Mind did not answer, or her agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Mind(#[from] OrganError),
    #[error(transparent)]
    Agent(#[from] MindError),
}

/// A file under `ETERNEGO_HOME` could not be written, read, moved or removed.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Diary(#[from] DiaryError),
    /// The blocking task doing the file work panicked or was cancelled.
    #[error("file task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error("Persona not found.")]
    NotFound,
    #[error("Persona is not running.")]
    NotRunning,
    #[error("Persona is not active.")]
    NotActive,
    #[error("Channel not found.")]
    ChannelNotFound,
    #[error("Status must be one of: active, hibernate, sick.")]
    InvalidStatus,
    #[error("Unknown channel kind: {0}. Use telegram or discord.")]
    UnknownChannelKind(String),
    #[error("She already has a {kind} channel ({name}); remove it first.")]
    ChannelTaken { kind: &'static str, name: String },
    /// An organ could not be prepared; the message names the organ and why.
    #[error(transparent)]
    Organ(#[from] OrganError),
    /// A channel token failed validation with its platform.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("Could not reach the local inference engine to register the thinking model. ({0})")]
    Register(#[source] OrganError),
    #[error(
        "Could not connect to the local inference engine to delete the model. Please make sure it is running."
    )]
    Unregister(#[source] OrganError),
    #[error("Sleep failed unexpectedly.")]
    Sleep(#[source] MindError),
    #[error("Persona is running here; stop her before restoring over her.")]
    Running,
    /// The diary could not be opened with this phrase, or holds something unsafe.
    #[error(transparent)]
    Restore(DiaryError),
    #[error("Could not restore persona. The diary data may be corrupted.")]
    Corrupt,
    #[error(
        "Her name is longer than {max} characters, the most her identity can carry; she cannot be restored here."
    )]
    NameTooLong { max: usize },
    /// `start`/`restart`: she is on disk but could not be brought up.
    #[error(transparent)]
    Start(#[from] StartError),
    /// Saved, but starting or restarting her failed afterwards; `context` says what was saved.
    #[error("{context}: {source}")]
    Lifecycle {
        context: &'static str,
        source: Box<ManagerError>,
    },
    /// Create failed after validation, on the way down to disk (the spec's 400).
    #[error("Could not create the persona: {0}")]
    Create(#[source] DiskError),
    /// Her files could not be removed (the spec's 400).
    #[error("Could not delete persona. Please check the persona data.")]
    Delete(#[source] DiskError),
    /// A change could not be saved to her record.
    #[error("Could not save the persona's {what}. ({source})")]
    Save {
        what: &'static str,
        source: DiskError,
    },
    /// Any other disk failure.
    #[error(transparent)]
    Disk(#[from] DiskError),
}

impl From<StoreError> for ManagerError {
    fn from(e: StoreError) -> ManagerError {
        match e {
            StoreError::NotFound => ManagerError::NotFound,
            other => ManagerError::Disk(other.into()),
        }
    }
}

impl From<std::io::Error> for ManagerError {
    fn from(e: std::io::Error) -> ManagerError {
        ManagerError::Disk(e.into())
    }
}

impl From<tokio::task::JoinError> for ManagerError {
    fn from(e: tokio::task::JoinError) -> ManagerError {
        ManagerError::Disk(e.into())
    }
}
