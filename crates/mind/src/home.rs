//! Her files: where each lives under `personas/<id>/home/` and how it is read and written.
//!
//! Everything she knows is read from disk when it is needed (each beat), so a person's hand
//! edits take effect on her next beat. Whole-file writes go through `persona::atomic`.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The Markdown files consolidation keeps about her person and herself, with the key each one
/// has in her consolidation answer and in the knowledge view.
pub const KNOWLEDGE: [(&str, &str); 6] = [
    ("identity", "person.md"),
    ("traits", "traits.md"),
    ("wishes", "wishes.md"),
    ("struggles", "struggles.md"),
    ("persona_traits", "persona-trait.md"),
    ("permissions", "permissions.md"),
];

#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
    workspace: PathBuf,
}

impl Home {
    pub fn new(root: PathBuf, workspace: PathBuf) -> Home {
        Home { root, workspace }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
    pub fn memory(&self) -> PathBuf {
        self.file("memory.json")
    }
    pub fn conversation(&self) -> PathBuf {
        self.file("conversation.jsonl")
    }
    pub fn health(&self) -> PathBuf {
        self.file("health.jsonl")
    }
    pub fn routines(&self) -> PathBuf {
        self.file("routines.json")
    }
    pub fn notes(&self) -> PathBuf {
        self.file("notes.md")
    }
    pub fn pairing(&self) -> PathBuf {
        self.file("pairing.json")
    }
    pub fn identity(&self) -> PathBuf {
        self.file("identity.json")
    }
    pub fn destiny(&self) -> PathBuf {
        self.file("destiny")
    }
    pub fn history(&self) -> PathBuf {
        self.file("history")
    }
    pub fn lessons(&self) -> PathBuf {
        self.file("lessons")
    }
    pub fn meanings(&self) -> PathBuf {
        self.file("meanings")
    }
    pub fn media(&self) -> PathBuf {
        self.file("media")
    }
    pub fn training(&self) -> PathBuf {
        self.file("training")
    }

    /// Creates the folders and files every home starts with (the one layout: the daemon lays
    /// out a new home with it, a beat re-checks it). Cheap when they exist.
    pub fn ensure(&self) -> io::Result<()> {
        for dir in [
            self.destiny(),
            self.history(),
            self.lessons(),
            self.meanings(),
            self.media(),
            self.training(),
        ] {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::create_dir_all(&self.workspace)?;
        if !self.routines().exists() {
            Routines::default_nightly().save(&self.routines())?;
        }
        Ok(())
    }

    /// A text file's content, or empty when it does not exist.
    pub fn read(&self, name: &str) -> String {
        read_text(&self.file(name))
    }

    pub fn write(&self, name: &str, text: &str) -> io::Result<()> {
        persona::atomic::write(&self.file(name), text.as_bytes())
    }
}

pub fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The lines of a JSON-lines file that parse; a torn last line (a crash mid-append) is skipped.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    read_text(path)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `routines.json`: recurring lifecycle triggers. Only `sleep` is acted on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Routines {
    #[serde(default)]
    pub routines: Vec<Routine>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Routine {
    pub spec: String,
    /// `HH:MM`, local time.
    pub time: String,
    #[serde(default)]
    pub recurrence: String,
}

impl Routines {
    pub fn default_nightly() -> Routines {
        Routines {
            routines: vec![Routine {
                spec: "sleep".into(),
                time: "00:00".into(),
                recurrence: "daily".into(),
            }],
        }
    }

    /// Unreadable routines mean none, rather than a stopped heartbeat.
    pub fn load(path: &Path) -> Routines {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        persona::atomic::write(path, &bytes)
    }

    /// The specs due at `hh_mm`.
    pub fn due(&self, hh_mm: &str) -> Vec<&str> {
        self.routines
            .iter()
            .filter(|r| r.time == hh_mm)
            .map(|r| r.spec.as_str())
            .collect()
    }
}
