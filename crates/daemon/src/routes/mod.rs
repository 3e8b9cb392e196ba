//! HTTP routes. Each handler parses its input, calls the manager and maps the outcome; all error
//! mapping lives in `crate::error` and `crate::manager`.

pub mod birth;
pub mod channels;
pub mod diary;
pub mod lifecycle;
pub mod live;
pub mod models;
pub mod openai;
pub mod personas;
pub mod regulation;
pub mod socket;
