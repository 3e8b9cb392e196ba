//! Her local models as files: the GGUF header reader, the `ETERNEGO_HOME/models/` library with
//! its manifest, and pulls from Hugging Face into it. Running a model is the engine's business;
//! this crate only decides which files exist, what they are, and that they are whole.

pub mod gguf;
pub mod hf;
mod library;

pub use gguf::{GgufError, Header};
pub use library::{DIR, Library, LibraryError, MANIFEST, ModelEntry, default_name, validate_name};
