//! The eternego daemon: an axum application serving the persona API and the identity engine.
//!
//! Layout: `config` (one typed struct read once), `app` (router, launch, shutdown), `guard`
//! (Host/Origin checks), `body` (FastAPI-compatible extractors), `error` (every error's status
//! and body), `manager` (agent registry and persona flows), `view` (what the API shows), `pulls` (model pulls in the background),
//! Layout: `config` (one typed struct read once), `app` (router, launch, shutdown), `dashboard`
//! (the embedded browser app), `guard` (Host/Origin checks), `body` (FastAPI-compatible extractors), `error` (every error's status
//! and body), `manager` (agent registry and persona flows), `view` (what the API shows),
//! `routes/*` (thin handlers).

pub mod access;
pub mod app;
pub mod body;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod guard;
pub mod manager;
pub mod pulls;
pub mod regulator;
pub mod routes;
pub mod trace;
pub mod upload;
pub mod view;

pub use app::{Daemon, LaunchError, bind};
pub use config::Config;
