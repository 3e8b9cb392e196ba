//! What a caller tells the engine about one turn of an agent's behaviour.

use crate::modes::{Mode, Modes};
use thiserror::Error;

/// One behavioural signal. Construct with [`Observation::new`] so the ranges hold;
/// the engine relies on them for its own range guarantees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    mode_target: Mode,
    signal_strength: f64,
    confidence: f64,
}

/// Why an observation or a starting configuration was refused; names the offending field.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InputError {
    #[error("{field} must be a number between {min} and {max}")]
    OutOfRange {
        field: &'static str,
        min: f64,
        max: f64,
    },
}

impl InputError {
    pub fn field(&self) -> &'static str {
        match self {
            InputError::OutOfRange { field, .. } => field,
        }
    }
}

fn check(field: &'static str, value: f64, min: f64, max: f64) -> Result<f64, InputError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(InputError::OutOfRange { field, min, max })
    }
}

impl Observation {
    /// `signal_strength` and `confidence` must both lie in [0, 1].
    pub fn new(
        mode_target: Mode,
        signal_strength: f64,
        confidence: f64,
    ) -> Result<Self, InputError> {
        Ok(Observation {
            mode_target,
            signal_strength: check("signal_strength", signal_strength, 0.0, 1.0)?,
            confidence: check("confidence", confidence, 0.0, 1.0)?,
        })
    }

    pub fn mode_target(&self) -> Mode {
        self.mode_target
    }

    pub fn signal_strength(&self) -> f64 {
        self.signal_strength
    }

    pub fn confidence(&self) -> f64 {
        self.confidence
    }
}

/// Where a new instance starts. The default is the documented one: all modes 0.0, energy 0.8.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InitialConfig {
    mode_strengths: Modes,
    energy_level: f64,
}

impl Default for InitialConfig {
    fn default() -> Self {
        InitialConfig {
            mode_strengths: Modes::ZERO,
            energy_level: crate::engine::DEFAULT_ENERGY,
        }
    }
}

impl InitialConfig {
    /// Mode strengths must lie in [-1, 1] and energy in [0, 1].
    pub fn new(mode_strengths: Modes, energy_level: f64) -> Result<Self, InputError> {
        for (mode, value) in mode_strengths.iter() {
            check(mode_field(mode), value, -1.0, 1.0)?;
        }
        Ok(InitialConfig {
            mode_strengths,
            energy_level: check("initial_config.energy_level", energy_level, 0.0, 1.0)?,
        })
    }

    pub fn mode_strengths(&self) -> Modes {
        self.mode_strengths
    }

    pub fn energy_level(&self) -> f64 {
        self.energy_level
    }
}

fn mode_field(mode: Mode) -> &'static str {
    match mode {
        Mode::Perception => "initial_config.mode_strengths.perception",
        Mode::Exploration => "initial_config.mode_strengths.exploration",
        Mode::Order => "initial_config.mode_strengths.order",
        Mode::Assertion => "initial_config.mode_strengths.assertion",
        Mode::Connection => "initial_config.mode_strengths.connection",
        Mode::Identity => "initial_config.mode_strengths.identity",
        Mode::StressResponse => "initial_config.mode_strengths.stress_response",
    }
}
