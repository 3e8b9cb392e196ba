//! A real server on a loopback port with a hand-driven clock, and a JSON client for it.
#![allow(dead_code)]

use instances::{Service, Settings};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The shared hand-moved clock, starting at 2026-03-24T10:15:30Z.
#[derive(Clone)]
pub struct ManualClock(instances::clock::ManualClock);

impl ManualClock {
    pub fn new() -> Self {
        ManualClock(instances::clock::ManualClock::at(
            time::macros::datetime!(2026-03-24 10:15:30 UTC),
        ))
    }

    pub fn advance(&self, d: Duration) {
        self.0
            .advance(time::Duration::try_from(d).expect("a test step fits"));
    }

    pub fn settings(&self, min_interval: Duration) -> Settings {
        Settings {
            min_interval,
            clock: Arc::new(self.0.clone()),
        }
    }
}

pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub service: Arc<Service>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve(dir: &Path, settings: Settings) -> Server {
    let service = Service::open(dir, settings).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = instances::router(service.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        base,
        client: reqwest::Client::new(),
        service,
        task,
    }
}

impl Server {
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{}", self.base, path);
        let mut req = self.client.request(method.parse().unwrap(), url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }
}
