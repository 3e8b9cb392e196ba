//! Destiny: what she has planned (`destiny/`), and history: what already happened
//! (`history/`). A destiny entry is `destiny/<type>-<YYYY-MM-DD-HH-MM>-<created>.md`, its body
//! followed by an optional `recurrence: <hourly|daily|weekly|monthly>` line. When its minute
//! comes the heartbeat moves it into `history/` and tells her it is due.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time};

const RECURRENCES: [&str; 4] = ["hourly", "daily", "weekly", "monthly"];

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    #[serde(skip)]
    pub path: PathBuf,
    #[serde(skip)]
    pub kind: String,
    /// `YYYY-MM-DD HH:MM`
    pub time: String,
    pub body: String,
    pub recurrence: String,
}

/// Parses `YYYY-MM-DD HH:MM` (also with `T` or `-` between date and time parts).
pub fn parse_trigger(text: &str) -> Option<PrimitiveDateTime> {
    let t = text.trim();
    if t.len() < 16 {
        return None;
    }
    let date = parse_date(&t[..10])?;
    let (h, m) = (t[11..13].parse().ok()?, t[14..16].parse().ok()?);
    Some(PrimitiveDateTime::new(date, Time::from_hms(h, m, 0).ok()?))
}

pub fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.trim().splitn(3, '-');
    let y: i32 = parts.next()?.parse().ok()?;
    let m: u8 = parts.next()?.parse().ok()?;
    let d: u8 = parts.next()?.get(..2)?.parse().ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

fn stamp(t: PrimitiveDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]-[hour]-[minute]");
    t.format(&f).unwrap_or_default()
}

fn display(t: PrimitiveDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    t.format(&f).unwrap_or_default()
}

/// The trigger embedded in a destiny (or fired-destiny) file name.
fn trigger_of(stem: &str) -> Option<(String, PrimitiveDateTime)> {
    let (kind, rest) = stem.split_once('-')?;
    let t = rest.get(..16)?;
    let date = parse_date(&t[..10])?;
    let time = Time::from_hms(t[11..13].parse().ok()?, t[14..16].parse().ok()?, 0).ok()?;
    Some((kind.to_string(), PrimitiveDateTime::new(date, time)))
}

fn split_body(text: &str) -> (String, String) {
    let trimmed = text.trim_end();
    if let Some((body, last)) = trimmed.rsplit_once('\n')
        && let Some(r) = last.trim().strip_prefix("recurrence:")
    {
        return (body.trim_end().to_string(), r.trim().to_string());
    }
    if let Some(r) = trimmed.strip_prefix("recurrence:") {
        return (String::new(), r.trim().to_string());
    }
    (trimmed.to_string(), String::new())
}

fn read_entry(path: &Path) -> Option<Entry> {
    let stem = path.file_stem()?.to_str()?;
    let (kind, at) = trigger_of(stem)?;
    let (body, recurrence) = split_body(&std::fs::read_to_string(path).ok()?);
    Some(Entry {
        path: path.to_path_buf(),
        kind,
        time: display(at),
        body,
        recurrence,
    })
}

fn entries(dir: &Path) -> Vec<Entry> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Entry> = read
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .filter_map(|p| read_entry(&p))
        .collect();
    out.sort_by(|a, b| a.time.cmp(&b.time).then(a.path.cmp(&b.path)));
    out
}

/// Saves a planned moment. Returns the sentence her tool result shows.
pub fn save(
    dir: &Path,
    kind: &str,
    trigger: &str,
    content: &str,
    recurrence: &str,
    now: OffsetDateTime,
) -> Result<String, String> {
    let kind = kind.trim().to_lowercase();
    if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("type must be a single word such as reminder or schedule".into());
    }
    let at = parse_trigger(trigger).ok_or("trigger must be YYYY-MM-DD HH:MM")?;
    let recurrence = recurrence.trim().to_lowercase();
    if !recurrence.is_empty() && !RECURRENCES.contains(&recurrence.as_str()) {
        return Err("recurrence must be empty or one of hourly, daily, weekly, monthly".into());
    }
    let created = {
        let f = time::macros::format_description!(
            "[year][month][day][hour][minute][second][subsecond digits:3]"
        );
        now.format(&f).unwrap_or_default()
    };
    let mut text = content.trim().to_string();
    if !recurrence.is_empty() {
        text.push_str(&format!("\nrecurrence: {recurrence}"));
    }
    text.push('\n');
    let path = dir.join(format!("{kind}-{}-{created}.md", stamp(at)));
    persona::atomic::write(&path, text.as_bytes()).map_err(|e| e.to_string())?;
    Ok(format!(
        "saved {kind}: {} at {}",
        content.trim(),
        display(at)
    ))
}

/// Moves every entry whose minute has come into `history/` and returns their bodies.
pub fn fire_due(destiny: &Path, history: &Path, now: OffsetDateTime) -> io::Result<Vec<String>> {
    let today = super::clock::date(now);
    let now = PrimitiveDateTime::new(now.date(), now.time());
    let mut fired = Vec::new();
    for entry in entries(destiny) {
        let Some(at) = parse_trigger(&entry.time) else {
            continue;
        };
        if at > now {
            continue;
        }
        let stem = entry
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("destiny");
        let raw = std::fs::read(&entry.path)?;
        persona::atomic::write(&history.join(format!("{stem}-{today}.md")), &raw)?;
        std::fs::remove_file(&entry.path)?;
        let mut text = entry.body.clone();
        if !entry.recurrence.is_empty() {
            text.push_str(&format!(
                "\n(recurs {}; planned for {})",
                entry.recurrence, entry.time
            ));
        }
        fired.push(text);
    }
    Ok(fired)
}

/// Every planned entry, for "On today's plate" and the calendar.
pub fn planned(destiny: &Path) -> Vec<Entry> {
    entries(destiny)
}

fn step(at: PrimitiveDateTime, recurrence: &str) -> Option<PrimitiveDateTime> {
    match recurrence {
        "hourly" => Some(at + Duration::hours(1)),
        "daily" => Some(at + Duration::days(1)),
        "weekly" => Some(at + Duration::weeks(1)),
        "monthly" => {
            let (y, m) = if at.month() == Month::December {
                (at.year() + 1, Month::January)
            } else {
                (at.year(), at.month().next())
            };
            let day = at.day().min(m.length(y));
            Date::from_calendar_date(y, m, day)
                .ok()
                .map(|d| PrimitiveDateTime::new(d, at.time()))
        }
        _ => None,
    }
}

/// Planned entries falling in `[start, end)`, with recurring ones projected forward.
pub fn projected(destiny: &Path, start: PrimitiveDateTime, end: PrimitiveDateTime) -> Vec<Entry> {
    const MAX_OCCURRENCES: usize = 800;
    let mut out = Vec::new();
    for entry in entries(destiny) {
        let Some(mut at) = parse_trigger(&entry.time) else {
            continue;
        };
        let mut n = 0;
        while at < end && n < MAX_OCCURRENCES {
            if at >= start {
                out.push(Entry {
                    time: display(at),
                    ..entry.clone()
                });
            }
            match step(at, &entry.recurrence) {
                Some(next) => at = next,
                None => break,
            }
            n += 1;
        }
    }
    out.sort_by(|a, b| a.time.cmp(&b.time));
    out
}

/// The window a `check_calendar` date names: a day (`YYYY-MM-DD`) or a month (`YYYY-MM`).
pub fn window(text: &str) -> Option<(PrimitiveDateTime, PrimitiveDateTime)> {
    let t = text.trim();
    if let Some(d) = parse_date(t) {
        let start = PrimitiveDateTime::new(d, Time::MIDNIGHT);
        return Some((start, start + Duration::days(1)));
    }
    let (y, m) = t.split_once('-')?;
    let (y, m): (i32, u8) = (y.parse().ok()?, m.parse().ok()?);
    let month = Month::try_from(m).ok()?;
    let first = Date::from_calendar_date(y, month, 1).ok()?;
    let start = PrimitiveDateTime::new(first, Time::MIDNIGHT);
    Some((start, start + Duration::days(month.length(y) as i64)))
}

/// The calendar view: what is on disk in `[start, end)`, split by half and subtype, recurring
/// entries not projected (the panel shows files, not forecasts).
pub fn calendar(
    home: &Path,
    start: PrimitiveDateTime,
    end: PrimitiveDateTime,
) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let inside = |t: &str| parse_trigger(t).is_some_and(|at| at >= start && at < end);
    let mut history: Map<String, Value> = ["conversation", "schedule", "reminder"]
        .iter()
        .map(|k| (k.to_string(), json!([])))
        .collect();
    let mut destiny: Map<String, Value> = ["schedule", "reminder"]
        .iter()
        .map(|k| (k.to_string(), json!([])))
        .collect();
    for e in entries(&home.join("destiny"))
        .into_iter()
        .filter(|e| inside(&e.time))
    {
        if let Some(Value::Array(list)) = destiny.get_mut(&e.kind) {
            list.push(json!({"time": e.time, "body": e.body, "recurrence": e.recurrence}));
        }
    }
    let briefing = std::fs::read_to_string(home.join("history/briefing.md")).unwrap_or_default();
    if let Ok(read) = std::fs::read_dir(home.join("history")) {
        let mut files: Vec<PathBuf> = read.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(stem) = name.strip_suffix(".md") else {
                continue;
            };
            let body = std::fs::read_to_string(&path).unwrap_or_default();
            if let Some(day) = stem.strip_prefix("conversation-") {
                let time = briefing
                    .lines()
                    .find(|l| l.ends_with(name))
                    .and_then(|l| l.trim_start_matches("- ").get(..16))
                    .map(|t| t.replace('T', " "))
                    .unwrap_or_else(|| format!("{day} 00:00"));
                if inside(&format!("{day} 00:00")) {
                    history["conversation"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"time": time, "body": body}));
                }
            } else if let Some((kind, at)) = trigger_of(stem) {
                let time = display(at);
                if inside(&time)
                    && let Some(Value::Array(list)) = history.get_mut(&kind)
                {
                    list.push(json!({"time": time, "body": split_body(&body).0}));
                }
            }
        }
    }
    json!({"history": history, "destiny": destiny})
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn saved_entries_fire_at_their_minute_and_move_to_history() {
        let dir = tempfile::tempdir().unwrap();
        let (d, h) = (dir.path().join("destiny"), dir.path().join("history"));
        let now = datetime!(2026-05-18 08:00 UTC);
        save(&d, "reminder", "2026-05-18 09:00", "Call mom", "daily", now).unwrap();
        assert!(save(&d, "reminder", "tomorrow", "x", "", now).is_err());
        assert!(
            fire_due(&d, &h, datetime!(2026-05-18 08:59 UTC))
                .unwrap()
                .is_empty()
        );
        let fired = fire_due(&d, &h, datetime!(2026-05-18 09:00 UTC)).unwrap();
        assert_eq!(fired.len(), 1);
        assert!(fired[0].starts_with("Call mom"));
        assert!(planned(&d).is_empty());
        assert_eq!(std::fs::read_dir(&h).unwrap().count(), 1);
    }

    #[test]
    fn recurring_entries_project_through_a_month() {
        let dir = tempfile::tempdir().unwrap();
        save(
            dir.path(),
            "schedule",
            "2026-01-30 10:00",
            "Standup",
            "weekly",
            datetime!(2026-01-01 0:00 UTC),
        )
        .unwrap();
        let (s, e) = window("2026-02").unwrap();
        let got = projected(dir.path(), s, e);
        assert_eq!(
            got.iter().map(|e| e.time.as_str()).collect::<Vec<_>>(),
            [
                "2026-02-06 10:00",
                "2026-02-13 10:00",
                "2026-02-20 10:00",
                "2026-02-27 10:00"
            ]
        );
    }
}
