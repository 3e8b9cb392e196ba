//! `eternego personas`: who lives here, as a table.

use std::process::ExitCode;

use serde_json::Value;

use crate::client::Client;
use crate::home::Globals;
use crate::{printable, say};

pub async fn run(globals: &Globals) -> anyhow::Result<ExitCode> {
    let personas = Client::locate(globals)?.personas().await?;
    if personas.is_empty() {
        say("No personas yet.");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 5]> = personas.iter().map(row).collect();
    for line in table(&["NAME", "ID", "STATUS", "RUNNING", "MIND"], &rows) {
        say(&line);
    }
    Ok(ExitCode::SUCCESS)
}

fn row(p: &Value) -> [String; 5] {
    let text = |v: &Value| printable(v.as_str().unwrap_or("-")).into_owned();
    let mind = match (&p["thinking"]["name"], &p["thinking"]["provider"]) {
        (Value::String(model), Value::String(provider)) => format!("{model} ({provider})"),
        (Value::String(model), _) => format!("{model} (local)"),
        _ => "-".to_string(),
    };
    let running = if p["running"] == Value::Bool(true) {
        "yes"
    } else {
        "no"
    };
    [
        text(&p["name"]),
        text(&p["id"]),
        text(&p["status"]),
        running.to_string(),
        mind,
    ]
}

/// Left-aligned columns, each as wide as its widest cell, two spaces apart.
pub(crate) fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> Vec<String> {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out
}
