//! The complete behavioural state of one instance. It is plain data: `process` takes one
//! and returns the next, so a state plus the observations after it is all there is to know.

use crate::modes::{Mode, ModeSet, Modes};
use serde::{Deserialize, Serialize};

/// Stress level, read from |stress_response| against the thresholds in `engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StressLevel {
    Low,
    Med,
    High,
    Over,
}

impl StressLevel {
    pub const fn as_str(self) -> &'static str {
        match self {
            StressLevel::Low => "LOW",
            StressLevel::Med => "MED",
            StressLevel::High => "HIGH",
            StressLevel::Over => "OVER",
        }
    }

    /// HIGH and OVER are the levels at which the engine protects the agent.
    pub fn is_elevated(self) -> bool {
        self >= StressLevel::High
    }
}

/// The slow state machine on top of the stress level: entering STRESS is immediate,
/// leaving it needs a run of calm cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemState {
    Baseline,
    Growth,
    Stress,
}

impl SystemState {
    pub const fn as_str(self) -> &'static str {
        match self {
            SystemState::Baseline => "baseline",
            SystemState::Growth => "growth",
            SystemState::Stress => "stress",
        }
    }
}

/// How far the personality has moved from its anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DriftLevel {
    D0,
    D1,
    D2,
    D3,
}

impl DriftLevel {
    /// Short code used by the spec dialect ("D0").
    pub const fn code(self) -> &'static str {
        match self {
            DriftLevel::D0 => "D0",
            DriftLevel::D1 => "D1",
            DriftLevel::D2 => "D2",
            DriftLevel::D3 => "D3",
        }
    }

    /// Long name used by the official SDK's enum ("D0_noise").
    pub const fn name(self) -> &'static str {
        match self {
            DriftLevel::D0 => "D0_noise",
            DriftLevel::D1 => "D1_context",
            DriftLevel::D2 => "D2_adaptive",
            DriftLevel::D3 => "D3_corrupt",
        }
    }
}

/// The drift measured in one cycle after warm-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    pub level: DriftLevel,
    /// RMS deviation of the personality modes from the anchor.
    pub magnitude: f64,
    pub affected_modes: ModeSet,
    /// True when this cycle's D3 restored the last stable personality.
    pub rolled_back: bool,
}

/// The seven behavioural patterns the memory layer can recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BehavioralPattern {
    Stable,
    SustainedStress,
    RecurringStress,
    ActiveDrift,
    ModeLocked,
    Volatile,
    EnergyDepleted,
}

impl BehavioralPattern {
    pub const fn as_str(self) -> &'static str {
        match self {
            BehavioralPattern::Stable => "stable",
            BehavioralPattern::SustainedStress => "sustained_stress",
            BehavioralPattern::RecurringStress => "recurring_stress",
            BehavioralPattern::ActiveDrift => "active_drift",
            BehavioralPattern::ModeLocked => "mode_locked",
            BehavioralPattern::Volatile => "volatile",
            BehavioralPattern::EnergyDepleted => "energy_depleted",
        }
    }
}

/// Episodic memory: running summaries updated from the state alone, never from storage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    /// Transitions from LOW/MED into HIGH/OVER, over the whole life of the state.
    pub stress_spike_count: u32,
    /// Spikes with a decay, so recurring stress can be told from an old episode.
    pub spikes_recent: f64,
    pub current_stress_streak: u32,
    pub max_stress_streak: u32,
    pub over_streak: u32,
    pub d1_recent: f64,
    pub d2_recent: f64,
    pub d3_recent: f64,
    pub turns_since_last_d2: Option<u64>,
    pub energy_trend: f64,
    pub energy_min_observed: f64,
    pub below_critical_total: u64,
    pub zero_energy_streak: u32,
    pub dominant_mode: Option<Mode>,
    pub dominant_mode_streak: u32,
    pub mode_switches_recent: f64,
    pub last_target: Option<Mode>,
    /// Completed stress episodes (STRESS → BASELINE transitions).
    pub recovery_count: u32,
    pub pattern: BehavioralPattern,
}

impl Memory {
    pub(crate) fn new(energy: f64) -> Memory {
        Memory {
            stress_spike_count: 0,
            spikes_recent: 0.0,
            current_stress_streak: 0,
            max_stress_streak: 0,
            over_streak: 0,
            d1_recent: 0.0,
            d2_recent: 0.0,
            d3_recent: 0.0,
            turns_since_last_d2: None,
            energy_trend: energy,
            energy_min_observed: energy,
            below_critical_total: 0,
            zero_energy_streak: 0,
            dominant_mode: None,
            dominant_mode_streak: 0,
            mode_switches_recent: 0.0,
            last_target: None,
            recovery_count: 0,
            pattern: BehavioralPattern::Stable,
        }
    }
}

/// What the agent has learned about itself from its own history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelfModel {
    pub stress_resilience: f64,
    pub trait_stability: f64,
}

/// The full state. Every field is in range after every `process` call (see the property tests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct State {
    pub cycle: u64,
    pub modes: Modes,
    pub energy: f64,
    pub stress: StressLevel,
    pub system: SystemState,
    pub stability: f64,
    /// Consecutive calm cycles while in STRESS; leaving STRESS needs `CALM_EXIT_CYCLES`.
    pub calm_streak: u32,
    pub stress_entered_cycle: Option<u64>,
    /// Personality reference for drift, set at the end of warm-up.
    pub anchor: Option<Modes>,
    /// Personality at the most recent D0 cycle; what a D3 rolls back to.
    pub last_stable: Option<Modes>,
    pub last_drift: Option<Drift>,
    /// Energy spent in the last cycle (0 when it recovered); drives `max_steps_remaining`.
    pub last_energy_drain: f64,
    pub memory: Memory,
    pub self_model: SelfModel,
}
