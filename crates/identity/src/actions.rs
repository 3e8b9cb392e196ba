//! The action vocabulary a contract allows or forbids.

use serde::{Deserialize, Serialize};

/// The twelve mode-driven actions plus the two that are forbidden in every state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Explore = 0,
    Question = 1,
    Elaborate = 2,
    Suggest = 3,
    Execute = 4,
    Pivot = 5,
    Challenge = 6,
    Comfort = 7,
    Clarify = 8,
    Stabilize = 9,
    Defer = 10,
    Withdraw = 11,
    EmotionalManipulation = 12,
    IdentityOverride = 13,
}

impl Action {
    pub const ALL: [Action; 14] = [
        Action::Explore,
        Action::Question,
        Action::Elaborate,
        Action::Suggest,
        Action::Execute,
        Action::Pivot,
        Action::Challenge,
        Action::Comfort,
        Action::Clarify,
        Action::Stabilize,
        Action::Defer,
        Action::Withdraw,
        Action::EmotionalManipulation,
        Action::IdentityOverride,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Explore => "explore",
            Action::Question => "question",
            Action::Elaborate => "elaborate",
            Action::Suggest => "suggest",
            Action::Execute => "execute",
            Action::Pivot => "pivot",
            Action::Challenge => "challenge",
            Action::Comfort => "comfort",
            Action::Clarify => "clarify",
            Action::Stabilize => "stabilize",
            Action::Defer => "defer",
            Action::Withdraw => "withdraw",
            Action::EmotionalManipulation => "emotional_manipulation",
            Action::IdentityOverride => "identity_override",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of actions as a bitmask; iterates in canonical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ActionSet(u16);

impl ActionSet {
    pub const EMPTY: ActionSet = ActionSet(0);

    pub const fn of(actions: &[Action]) -> ActionSet {
        let mut bits = 0u16;
        let mut i = 0;
        while i < actions.len() {
            bits |= 1 << actions[i] as u16;
            i += 1;
        }
        ActionSet(bits)
    }

    pub fn contains(self, action: Action) -> bool {
        self.0 & (1 << action as u16) != 0
    }

    pub const fn union(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 | other.0)
    }

    pub const fn minus(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 & !other.0)
    }

    pub const fn intersect(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 & other.0)
    }

    pub fn is_subset(self, other: ActionSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

impl FromIterator<Action> for ActionSet {
    fn from_iter<I: IntoIterator<Item = Action>>(iter: I) -> Self {
        iter.into_iter()
            .fold(ActionSet::EMPTY, |s, a| s.union(ActionSet::of(&[a])))
    }
}
