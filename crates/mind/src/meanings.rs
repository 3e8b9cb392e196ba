//! Meanings: her procedural memory. Each maps an intention (what a moment calls for) to an
//! instruction body. Built-in ones ship inside the binary and cannot change; the ones she writes
//! for herself live in `meanings/<uuid>.md`, catalogued by `meanings/learned.json`
//! (`{intention: stem}`), which is authoritative.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use uuid::Uuid;

/// The intention of the meaning used when nothing more specific fits.
pub const CHATTING: &str = "Talking with my person; nothing needs doing but the conversation";

pub const BUILTIN: [(&str, &str); 5] = [
    (CHATTING, include_str!("../meanings/chatting.md")),
    (
        "Saving a reminder or planned event for a later moment, or acting on one that has come due",
        include_str!("../meanings/scheduling.md"),
    ),
    (
        "Looking back at past conversations, notes or planned events",
        include_str!("../meanings/recalling.md"),
    ),
    (
        "Reading, writing or organising files and folders on the machine",
        include_str!("../meanings/exploring_filesystem.md"),
    ),
    (
        "Something in software or on the machine is broken or failing",
        include_str!("../meanings/troubleshooting.md"),
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Builtin,
    Custom,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Meaning {
    pub intention: String,
    pub body: String,
    pub source: Source,
}

/// Her meanings as they are on disk right now.
pub struct Meanings {
    dir: PathBuf,
    learned: BTreeMap<String, String>,
}

impl Meanings {
    pub fn open(dir: &Path) -> Meanings {
        let learned = std::fs::read(dir.join("learned.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Meanings {
            dir: dir.to_path_buf(),
            learned,
        }
    }

    pub fn all(&self) -> Vec<Meaning> {
        let builtin = BUILTIN.iter().map(|(i, b)| Meaning {
            intention: i.to_string(),
            body: b.to_string(),
            source: Source::Builtin,
        });
        let custom = self.learned.iter().filter_map(|(i, stem)| {
            let body = std::fs::read_to_string(self.dir.join(format!("{stem}.md"))).ok()?;
            Some(Meaning {
                intention: i.clone(),
                body,
                source: Source::Custom,
            })
        });
        custom.chain(builtin).collect()
    }

    pub fn intentions(&self) -> Vec<(String, Source)> {
        self.all()
            .into_iter()
            .map(|m| (m.intention, m.source))
            .collect()
    }

    /// The body for an intention, matched after trimming and ignoring case.
    pub fn find(&self, intention: &str) -> Option<Meaning> {
        let wanted = normal(intention);
        self.all()
            .into_iter()
            .find(|m| normal(&m.intention) == wanted)
    }

    pub fn is_learned(&self, intention: &str) -> bool {
        self.learned.contains_key(intention)
    }

    /// Saves a meaning she wrote for herself, replacing the body of an intention she already had.
    pub fn learn(&mut self, intention: &str, body: &str) -> io::Result<String> {
        let stem = self
            .learned
            .get(intention)
            .cloned()
            .unwrap_or_else(|| Uuid::new_v4().to_string());
        persona::atomic::write(&self.dir.join(format!("{stem}.md")), body.as_bytes())?;
        self.learned.insert(intention.to_string(), stem.clone());
        self.save_catalog()?;
        Ok(stem)
    }

    /// Rewrites a meaning she learned; built-in ones and unknown intentions are left alone.
    pub fn refine(&mut self, intention: &str, body: &str) -> io::Result<bool> {
        if !self.learned.contains_key(intention) {
            return Ok(false);
        }
        self.learn(intention, body)?;
        Ok(true)
    }

    /// Forgets a learned meaning by its file stem.
    pub fn remove(&mut self, stem: &str) -> io::Result<bool> {
        let Some(intention) = self
            .learned
            .iter()
            .find(|(_, s)| s.as_str() == stem)
            .map(|(i, _)| i.clone())
        else {
            return Ok(false);
        };
        self.learned.remove(&intention);
        self.save_catalog()?;
        let _ = std::fs::remove_file(self.dir.join(format!("{stem}.md")));
        Ok(true)
    }

    fn save_catalog(&self) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.learned).map_err(io::Error::other)?;
        persona::atomic::write(&self.dir.join("learned.json"), &bytes)
    }
}

fn normal(s: &str) -> String {
    s.trim().trim_end_matches('.').to_lowercase()
}

/// Saves the teacher's raw lesson as `lessons/<uuid>.md`.
pub fn save_lesson(dir: &Path, intention: &str, body: &str) -> io::Result<PathBuf> {
    let path = dir.join(format!("{}.md", Uuid::new_v4()));
    persona::atomic::write(&path, format!("# {intention}\n\n{body}\n").as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learned_meanings_are_found_refined_and_removed_builtins_stay() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Meanings::open(dir.path());
        assert_eq!(m.find(CHATTING).unwrap().source, Source::Builtin);
        let stem = m.learn("Brewing tea", "Boil water.").unwrap();
        let reopened = Meanings::open(dir.path());
        assert_eq!(reopened.find("brewing tea.").unwrap().body, "Boil water.");
        assert!(!m.refine(CHATTING, "x").unwrap());
        assert!(m.refine("Brewing tea", "Boil water, then steep.").unwrap());
        assert_eq!(
            Meanings::open(dir.path()).find("Brewing tea").unwrap().body,
            "Boil water, then steep."
        );
        assert!(m.remove(&stem).unwrap());
        assert!(Meanings::open(dir.path()).find("Brewing tea").is_none());
    }
}
