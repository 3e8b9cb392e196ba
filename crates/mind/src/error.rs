//! What can go wrong in her life, as the daemon sees it; the daemon maps each to a status.

#[derive(Debug, thiserror::Error)]
pub enum MindError {
    /// Her beat failed at `stage`, so what was said to her got no answer in it.
    #[error("Her Mind failed at {stage}: {error}")]
    Faulted { stage: String, error: String },
    #[error("Her recovery phrase is missing from the secret store.")]
    NoPhrase,
    #[error(transparent)]
    Store(#[from] persona::StoreError),
    #[error(transparent)]
    Diary(#[from] persona::diary::DiaryError),
    #[error("Sleep task failed: {0}")]
    Join(String),
    #[error("Persona is not active.")]
    Stopped,
    #[error("Could not keep her files: {0}")]
    Io(#[from] std::io::Error),
    #[error("Her identity instance is unavailable: {0}")]
    Identity(String),
    /// No organ of hers can perceive this kind of input.
    #[error("{0}")]
    Unperceivable(String),
    #[error("{0}")]
    Organ(#[from] organs::OrganError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Pair(#[from] crate::pairing::PairError),
}
