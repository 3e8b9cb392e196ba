//! Regulation by the identity engine. Each beat, what happened is turned into observations
//! for her identity instance; the contract that comes back (stress, allowed and forbidden
//! actions, decision style) is part of what she reads before deciding, and under `OVER` she
//! defers instead of acting.

use identity::{Mode, StressLevel};
use serde::Serialize;

/// Something that happened during a beat that her identity should hear about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Her person said something.
    Heard,
    /// She answered her person.
    Answered,
    /// A tool did what she asked.
    ToolSucceeded,
    /// A tool failed or refused.
    ToolFailed,
    /// She met an intention she had no meaning for and learned one.
    Learned,
    /// Her Mind could not be reached or refused to think.
    MindFault,
    /// She consolidated her day.
    Consolidated,
}

impl Event {
    /// The mode this event feeds, how strongly, and how sure we are that it means that.
    pub fn observation(self) -> (Mode, f64, f64) {
        match self {
            Event::Heard => (Mode::Connection, 0.5, 0.8),
            Event::Answered => (Mode::Perception, 0.6, 0.8),
            Event::ToolSucceeded => (Mode::Order, 0.5, 0.8),
            Event::ToolFailed => (Mode::StressResponse, 0.8, 0.9),
            Event::Learned => (Mode::Exploration, 0.7, 0.8),
            Event::MindFault => (Mode::StressResponse, 0.9, 0.9),
            Event::Consolidated => (Mode::Identity, 0.4, 0.7),
        }
    }
}

/// The contract as her status and her prompt show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Regulated {
    pub instance: String,
    pub stress: String,
    pub system: String,
    pub energy: f64,
    pub allowed_actions: Vec<String>,
    pub forbidden_actions: Vec<String>,
    pub decision_style: DecisionStyle,
    pub dominant_modes: Vec<String>,
    pub should_pause: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecisionStyle {
    pub tempo: String,
    pub risk: String,
    pub expressiveness: String,
    pub commitment_threshold: String,
}

impl Regulated {
    pub fn from_contract(instance: &str, c: &identity::Contract) -> Regulated {
        Regulated {
            instance: instance.to_string(),
            stress: c.stress.as_str().to_string(),
            system: format!("{:?}", c.system).to_lowercase(),
            energy: (c.energy_level * 1000.0).round() / 1000.0,
            allowed_actions: c
                .allowed_actions
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            forbidden_actions: c
                .forbidden_actions
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            decision_style: DecisionStyle {
                tempo: c.decision_style.tempo.into(),
                risk: c.decision_style.risk.into(),
                expressiveness: c.decision_style.expressiveness.into(),
                commitment_threshold: c.decision_style.commitment_threshold.into(),
            },
            dominant_modes: c
                .dominant_modes
                .as_slice()
                .iter()
                .map(|m| format!("{m:?}").to_lowercase())
                .collect(),
            should_pause: c.should_pause,
        }
    }

    /// Under `OVER` she does not act; she says she is deferring.
    pub fn must_defer(&self) -> bool {
        self.stress == StressLevel::Over.as_str()
    }

    /// The block of her identity that tells her how she is regulated right now.
    pub fn prompt(&self) -> String {
        format!(
            "# Your State\n\nStress: {} ({}). Energy: {}.\nAllowed now: {}.\nForbidden now: {}.\nDecide with {} tempo, {} risk, {} expressiveness, {} commitment threshold.{}",
            self.stress,
            self.system,
            self.energy,
            self.allowed_actions.join(", "),
            self.forbidden_actions.join(", "),
            self.decision_style.tempo,
            self.decision_style.risk,
            self.decision_style.expressiveness,
            self.decision_style.commitment_threshold,
            if self.must_defer() {
                "\nYou are overloaded: do not act now. Tell your person you are deferring, and why."
            } else {
                ""
            }
        )
    }
}
