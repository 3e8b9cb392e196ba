//! The seven behavioural modes and the small fixed-size containers the engine keeps them in.
//!
//! Everything here is `Copy` and array-backed so that a whole engine state can be copied
//! per cycle without touching the allocator, which is what makes `process` fast and its
//! result independent of anything but its inputs.

use serde::{Deserialize, Serialize};

/// One of the seven behavioural modes. The discriminant is the index into [`Modes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Perception = 0,
    Exploration = 1,
    Order = 2,
    Assertion = 3,
    Connection = 4,
    Identity = 5,
    StressResponse = 6,
}

impl Mode {
    /// All modes in canonical order; every list the engine emits follows this order.
    pub const ALL: [Mode; 7] = [
        Mode::Perception,
        Mode::Exploration,
        Mode::Order,
        Mode::Assertion,
        Mode::Connection,
        Mode::Identity,
        Mode::StressResponse,
    ];

    /// The six modes that make up personality; stress_response is a transient state
    /// with its own state machine and is kept out of drift and suppression.
    pub const PERSONALITY: [Mode; 6] = [
        Mode::Perception,
        Mode::Exploration,
        Mode::Order,
        Mode::Assertion,
        Mode::Connection,
        Mode::Identity,
    ];

    pub const fn index(self) -> usize {
        self as usize
    }

    /// Lowercase wire name, as the official SDK's enum expects.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Perception => "perception",
            Mode::Exploration => "exploration",
            Mode::Order => "order",
            Mode::Assertion => "assertion",
            Mode::Connection => "connection",
            Mode::Identity => "identity",
            Mode::StressResponse => "stress_response",
        }
    }

    /// Parses a mode name in any letter case: the published docs send `"EXPLORATION"`
    /// while the quickstart and the SDK send `"exploration"`.
    pub fn parse(name: &str) -> Option<Mode> {
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One strength per mode, each in [-1, 1].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Modes(pub [f64; 7]);

impl Modes {
    pub const ZERO: Modes = Modes([0.0; 7]);

    pub fn get(&self, mode: Mode) -> f64 {
        self.0[mode.index()]
    }

    pub fn set(&mut self, mode: Mode, value: f64) {
        self.0[mode.index()] = value;
    }

    pub fn iter(&self) -> impl Iterator<Item = (Mode, f64)> + '_ {
        Mode::ALL.into_iter().map(|m| (m, self.get(m)))
    }
}

/// A set of modes as a bitmask; iterates in canonical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModeSet(u8);

impl ModeSet {
    pub const EMPTY: ModeSet = ModeSet(0);

    pub fn insert(&mut self, mode: Mode) {
        self.0 |= 1 << mode.index();
    }

    pub fn contains(self, mode: Mode) -> bool {
        self.0 & (1 << mode.index()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn iter(self) -> impl Iterator<Item = Mode> {
        Mode::ALL.into_iter().filter(move |m| self.contains(*m))
    }
}

impl FromIterator<Mode> for ModeSet {
    fn from_iter<I: IntoIterator<Item = Mode>>(iter: I) -> Self {
        let mut set = ModeSet::EMPTY;
        for m in iter {
            set.insert(m);
        }
        set
    }
}

/// An ordered short list of modes (strongest first) without heap allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModeList {
    len: u8,
    items: [Mode; 7],
}

impl Default for ModeList {
    fn default() -> Self {
        ModeList {
            len: 0,
            items: [Mode::Perception; 7],
        }
    }
}

impl ModeList {
    pub fn push(&mut self, mode: Mode) {
        self.items[self.len as usize] = mode;
        self.len += 1;
    }

    pub fn as_slice(&self) -> &[Mode] {
        &self.items[..self.len as usize]
    }

    pub fn first(&self) -> Option<Mode> {
        self.as_slice().first().copied()
    }

    pub fn contains(&self, mode: Mode) -> bool {
        self.as_slice().contains(&mode)
    }
}
