//! The pipeline: mode EMA → energy → stress → arbitration → composites → drift →
//! stability → memory and self-model → contract. Each stage reads the state produced by
//! the previous one. Every constant is explained in docs/identity-engine.md.

use crate::contract::{Contract, contract};
use crate::modes::{Mode, ModeSet, Modes};
use crate::observation::{InitialConfig, Observation};
use crate::state::{
    BehavioralPattern, Drift, DriftLevel, Memory, SelfModel, State, StressLevel, SystemState,
};

/// Base learning rate of the mode EMA.
pub const ALPHA: f64 = 0.10;
/// Stress learns this much faster than the other modes (published).
pub const STRESS_LR_MULTIPLIER: f64 = 4.5;
/// At MED the stress learning rate is damped so one more signal is not automatically HIGH.
pub const MED_LR_DAMPING: f64 = 0.8;
/// Agents with two or more spikes learn stress more slowly (they have seen it before).
pub const EXPERIENCED_LR_DAMPING: f64 = 0.75;
pub const EXPERIENCED_SPIKES: u32 = 2;

pub const THETA_MED: f64 = 0.30;
pub const THETA_HIGH: f64 = 0.50;
pub const THETA_OVER: f64 = 0.88;
/// Experienced agents react earlier: HIGH and OVER thresholds drop by this much.
pub const EXPERIENCED_THRESHOLD_SHIFT: f64 = 0.04;

/// Subtractive bleed of stress_response per non-stress cycle, by the previous level (published).
pub const BLEED_MED: f64 = 0.02;
pub const BLEED_HIGH: f64 = 0.01;
/// At OVER the bleed only happens on calm turns (published).
pub const BLEED_OVER_CALM: f64 = 0.01;
/// Multiplicative relaxation of stress_response on a calm turn, scaled by confidence.
pub const CALM_DECAY: f64 = 0.03;
/// A non-stress observation at or below this strength is calm (connection always is).
pub const CALM_SIGNAL_MAX: f64 = 0.5;
/// Consecutive calm cycles at LOW/MED needed to leave STRESS (hysteresis).
pub const CALM_EXIT_CYCLES: u32 = 5;

pub const DEFAULT_ENERGY: f64 = 0.8;
/// Energy cost per active mode per cycle (published v2 value).
pub const ACTIVE_MODE_COST: f64 = 0.02;
/// Extra cost per cycle at HIGH/OVER; with one active mode the drain is 0.13 (published).
pub const STRESS_OVERHEAD: f64 = 0.11;
pub const RECOVERY_BASELINE: f64 = 0.05;
/// Recovery while still in STRESS but already back at LOW/MED.
pub const RECOVERY_RECOVERING: f64 = 0.03;
/// Energy never drains below this at LOW/MED (published).
pub const ENERGY_FLOOR: f64 = 0.20;
/// Memory feedback: an agent that has been nearly empty gets a higher floor...
pub const DEPLETION_MARK: f64 = 0.10;
pub const FLOOR_MEMORY_BONUS: f64 = 0.05;
/// ...and a partial floor even under stress.
pub const STRESS_PARTIAL_FLOOR: f64 = 0.05;

pub const THETA_ACTIVE: f64 = 0.25;
pub const THETA_DOMINANT: f64 = 0.40;
pub const THETA_SUPPRESSED: f64 = 0.10;
pub const MAX_DOMINANT: usize = 2;
pub const THETA_COMPOSITE: f64 = 0.50;

/// Drift warm-up: the anchor is set at the end of this many cycles (published).
pub const DRIFT_WARMUP: u64 = 20;
pub const D1_THRESHOLD: f64 = 0.08;
pub const D2_THRESHOLD: f64 = 0.24;
pub const D3_THRESHOLD: f64 = 0.40;
/// At D0 the anchor follows the personality this slowly, so slow drift is still seen.
pub const ANCHOR_REFRESH: f64 = 0.05;

pub const STABILITY_RATE: f64 = 0.05;

pub const RESILIENCE_INITIAL: f64 = 0.5;
pub const RESILIENCE_HALF_LIFE: f64 = 50.0;
pub const RESILIENCE_KEEP: f64 = 0.7;
pub const RESILIENCE_ADAPTER_THRESHOLD: f64 = 0.45;
pub const TRAIT_STABILITY_RATE: f64 = 0.02;
pub const TRAIT_STABILITY_SCALE: f64 = 2.5;

pub const RECENT_DECAY: f64 = 0.99;
pub const SWITCH_DECAY: f64 = 0.95;
pub const ENERGY_TREND_RATE: f64 = 0.1;

/// Arbitration weight of each mode by stress level (rows LOW, MED, HIGH, OVER).
pub const ARBITRATION: [[f64; 7]; 4] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    [1.0, 0.9, 1.0, 0.9, 1.0, 1.0, 1.0],
    [1.0, 0.6, 1.1, 0.7, 1.0, 1.0, 1.2],
    [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1.5],
];

impl State {
    /// A fresh instance at `initial`: cycle 0, LOW, baseline, fully stable.
    pub fn new(initial: &InitialConfig) -> State {
        let mut modes = initial.mode_strengths();
        for v in modes.0.iter_mut() {
            *v = v.clamp(-1.0, 1.0);
        }
        modes.set(
            Mode::StressResponse,
            initial_stress(modes.get(Mode::StressResponse)),
        );
        let energy = initial.energy_level().clamp(0.0, 1.0);
        let memory = Memory::new(energy);
        let stress = stress_level(modes.get(Mode::StressResponse), &memory);
        State {
            cycle: 0,
            modes,
            energy,
            stress,
            system: if stress.is_elevated() {
                SystemState::Stress
            } else {
                SystemState::Baseline
            },
            stability: 1.0,
            calm_streak: 0,
            stress_entered_cycle: if stress.is_elevated() { Some(0) } else { None },
            anchor: None,
            last_stable: None,
            last_drift: None,
            last_energy_drain: 0.0,
            memory,
            self_model: SelfModel {
                stress_resilience: RESILIENCE_INITIAL,
                trait_stability: 1.0,
            },
        }
    }

    /// Weighted strengths used for dominance: |v| times the arbitration weight of the level.
    pub fn arbitrated(&self) -> [f64; 7] {
        let row = &ARBITRATION[self.stress as usize];
        let mut w = [0.0; 7];
        for (i, v) in self.modes.0.iter().enumerate() {
            w[i] = v.abs() * row[i];
        }
        w
    }

    /// Modes at or above the activity threshold.
    pub fn active_modes(&self) -> ModeSet {
        self.modes
            .iter()
            .filter(|(_, v)| v.abs() >= THETA_ACTIVE)
            .map(|(m, _)| m)
            .collect()
    }

    /// Pairs of personality modes that are both strong; informational (reported in snapshots).
    pub fn active_composites(&self) -> impl Iterator<Item = (Mode, Mode)> + '_ {
        let strong: ModeSet = Mode::PERSONALITY
            .into_iter()
            .filter(|m| self.modes.get(*m).abs() >= THETA_COMPOSITE)
            .collect();
        strong
            .iter()
            .flat_map(move |a| strong.iter().filter(move |b| *b > a).map(move |b| (a, b)))
    }

    /// The identity adapter: a fragile agent that has been through stress protects itself earlier.
    pub fn adapter_active(&self) -> bool {
        self.memory.recovery_count >= 1
            && self.self_model.stress_resilience < RESILIENCE_ADAPTER_THRESHOLD
    }

    /// Replaces the personality with a measured profile (the personality test). It counts as a
    /// cycle, and drift starts a new warm-up because the old anchor no longer describes her.
    pub fn with_profile(&self, profile: &Modes) -> State {
        let mut next = *self;
        for m in Mode::ALL {
            next.modes.set(m, profile.get(m).clamp(-1.0, 1.0));
        }
        next.cycle += 1;
        next.anchor = None;
        next.last_stable = None;
        next.last_drift = None;
        next.stress = stress_level(next.modes.get(Mode::StressResponse), &next.memory);
        next.stability = 1.0;
        next
    }
}

/// The published examples configure every mode at "neutral" 0.50; at or below that mark an
/// initial `stress_response` is a calm disposition, not stress she already carries.
pub const INITIAL_STRESS_NEUTRAL: f64 = 0.50;

/// The stress she carries at cycle 0 for an initial `stress_response` strength. The docs'
/// own seed example (all modes 0.50) must read LOW, yet a config must still be able to start
/// her stressed, so only the part above neutral counts, stretched back onto [0, 1]: 0.50 and
/// below give 0 (LOW), 0.65 gives 0.30 (MED), 0.75 gives 0.50 (HIGH), 0.95 gives 0.90 (OVER).
/// The sign is kept because the level reads |v|.
pub fn initial_stress(strength: f64) -> f64 {
    let above = (strength.abs() - INITIAL_STRESS_NEUTRAL).max(0.0);
    (above / (1.0 - INITIAL_STRESS_NEUTRAL)).min(1.0) * strength.signum()
}

/// Stress level from the stress mode, with the thresholds lowered for experienced agents.
pub fn stress_level(stress_mode: f64, memory: &Memory) -> StressLevel {
    let shift = if memory.stress_spike_count >= EXPERIENCED_SPIKES {
        EXPERIENCED_THRESHOLD_SHIFT
    } else {
        0.0
    };
    let s = stress_mode.abs();
    if s >= THETA_OVER - shift {
        StressLevel::Over
    } else if s >= THETA_HIGH - shift {
        StressLevel::High
    } else if s >= THETA_MED {
        StressLevel::Med
    } else {
        StressLevel::Low
    }
}

/// A calm turn lets stress relax: not a stress signal, and either gentle or relational.
pub fn is_calm(obs: &Observation) -> bool {
    obs.mode_target() != Mode::StressResponse
        && (obs.mode_target() == Mode::Connection || obs.signal_strength() <= CALM_SIGNAL_MAX)
}

/// One engine cycle. Pure: the result depends only on the arguments, bit for bit.
pub fn process(state: &State, obs: &Observation) -> (State, Contract, Option<Drift>) {
    let next = step(state, obs);
    let contract = contract(&next);
    (next, contract, next.last_drift)
}

/// The state transition alone, for callers that only need the next state (replay).
pub fn step(state: &State, obs: &Observation) -> State {
    let prev = *state;
    let mut s = prev;
    s.cycle += 1;
    let calm = is_calm(obs);

    update_modes(&mut s, &prev, obs, calm);
    update_energy(&mut s, &prev);
    update_stress(&mut s, &prev, calm);
    let drift = update_drift(&mut s);
    update_stability(&mut s, drift);
    update_memory(&mut s, &prev, obs, drift);
    s.last_drift = drift;
    s
}

fn update_modes(s: &mut State, prev: &State, obs: &Observation, calm: bool) {
    let target = obs.mode_target();
    let (sig, c) = (obs.signal_strength(), obs.confidence());
    let mut alpha = ALPHA;
    if target == Mode::StressResponse {
        alpha *= STRESS_LR_MULTIPLIER;
        if prev.stress == StressLevel::Med {
            alpha *= MED_LR_DAMPING;
        }
        if prev.memory.stress_spike_count >= EXPERIENCED_SPIKES {
            alpha *= EXPERIENCED_LR_DAMPING;
        }
    }
    let rate = alpha * c;
    let v = s.modes.get(target);
    s.modes
        .set(target, (v * (1.0 - rate) + sig * rate).clamp(-1.0, 1.0));

    if target != Mode::StressResponse {
        let mut x = s.modes.get(Mode::StressResponse);
        if calm {
            x *= 1.0 - CALM_DECAY * c;
        }
        let bleed = match prev.stress {
            StressLevel::Low => 0.0,
            StressLevel::Med => BLEED_MED,
            StressLevel::High => BLEED_HIGH,
            StressLevel::Over if calm => BLEED_OVER_CALM,
            StressLevel::Over => 0.0,
        };
        x = if x >= 0.0 {
            (x - bleed).max(0.0)
        } else {
            (x + bleed).min(0.0)
        };
        s.modes.set(Mode::StressResponse, x);
    }
}

fn update_energy(s: &mut State, prev: &State) {
    let active = s.active_modes().len() as f64;
    let depleted_before = prev.memory.energy_min_observed < DEPLETION_MARK;
    let (delta, floor) = if prev.stress.is_elevated() {
        let partial = if depleted_before {
            STRESS_PARTIAL_FLOOR
        } else {
            0.0
        };
        (-(ACTIVE_MODE_COST * active + STRESS_OVERHEAD), partial)
    } else {
        let recovery = if prev.system == SystemState::Stress {
            RECOVERY_RECOVERING
        } else {
            RECOVERY_BASELINE
        };
        let bonus = if depleted_before {
            FLOOR_MEMORY_BONUS
        } else {
            0.0
        };
        (recovery - ACTIVE_MODE_COST * active, ENERGY_FLOOR + bonus)
    };
    // The floor stops a drain; it never lifts energy that is already below it.
    let lower = prev.energy.min(floor);
    s.energy = (prev.energy + delta).max(lower).clamp(0.0, 1.0);
    s.last_energy_drain = (prev.energy - s.energy).max(0.0);
}

fn update_stress(s: &mut State, prev: &State, calm: bool) {
    s.stress = stress_level(s.modes.get(Mode::StressResponse), &prev.memory);
    if s.stress.is_elevated() {
        s.calm_streak = 0;
        if prev.system != SystemState::Stress {
            s.system = SystemState::Stress;
            s.stress_entered_cycle = Some(s.cycle);
        }
    } else if prev.system == SystemState::Stress {
        s.calm_streak = if calm { prev.calm_streak + 1 } else { 0 };
        if s.calm_streak >= CALM_EXIT_CYCLES {
            leave_stress(s);
        }
    }
}

/// End of a stress episode: learn resilience from its length and lift suppressed modes
/// back out of suppression so the action space widens again quickly.
fn leave_stress(s: &mut State) {
    let entered = s.stress_entered_cycle.unwrap_or(s.cycle);
    let duration = (s.cycle - entered) as f64;
    let score = 0.5f64.powf(duration / RESILIENCE_HALF_LIFE);
    s.self_model.stress_resilience =
        RESILIENCE_KEEP * s.self_model.stress_resilience + (1.0 - RESILIENCE_KEEP) * score;
    s.memory.recovery_count += 1;
    s.system = SystemState::Baseline;
    s.stress_entered_cycle = None;
    s.calm_streak = 0;
    for m in Mode::PERSONALITY {
        let v = s.modes.get(m);
        if v < THETA_SUPPRESSED {
            s.modes.set(m, THETA_SUPPRESSED);
        }
    }
}

fn personality_deviation(modes: &Modes, anchor: &Modes) -> ([f64; 6], f64) {
    let mut dev = [0.0; 6];
    let mut sum = 0.0;
    for (i, m) in Mode::PERSONALITY.into_iter().enumerate() {
        dev[i] = modes.get(m) - anchor.get(m);
        sum += dev[i] * dev[i];
    }
    (dev, (sum / 6.0).sqrt())
}

pub fn drift_level(magnitude: f64) -> DriftLevel {
    if magnitude >= D3_THRESHOLD {
        DriftLevel::D3
    } else if magnitude >= D2_THRESHOLD {
        DriftLevel::D2
    } else if magnitude >= D1_THRESHOLD {
        DriftLevel::D1
    } else {
        DriftLevel::D0
    }
}

fn update_drift(s: &mut State) -> Option<Drift> {
    let Some(anchor) = s.anchor else {
        if s.cycle >= DRIFT_WARMUP {
            s.anchor = Some(s.modes);
            s.last_stable = Some(s.modes);
        }
        return None;
    };
    let (dev, magnitude) = personality_deviation(&s.modes, &anchor);
    let level = drift_level(magnitude);
    let largest = dev.iter().fold(0.0f64, |a, d| a.max(d.abs()));
    let affected: ModeSet = Mode::PERSONALITY
        .into_iter()
        .zip(dev)
        .filter(|(_, d)| largest > 0.0 && d.abs() >= largest / 2.0)
        .map(|(m, _)| m)
        .collect();
    let mut rolled_back = false;
    match level {
        DriftLevel::D0 => {
            let mut a = anchor;
            for m in Mode::PERSONALITY {
                let v = a.get(m);
                a.set(m, v + ANCHOR_REFRESH * (s.modes.get(m) - v));
            }
            s.anchor = Some(a);
            s.last_stable = Some(s.modes);
        }
        DriftLevel::D3 => {
            if let Some(stable) = s.last_stable {
                for m in Mode::PERSONALITY {
                    s.modes.set(m, stable.get(m));
                }
                rolled_back = true;
            }
        }
        DriftLevel::D1 | DriftLevel::D2 => {}
    }
    Some(Drift {
        level,
        magnitude,
        affected_modes: affected,
        rolled_back,
    })
}

fn update_stability(s: &mut State, drift: Option<Drift>) {
    let drift_term = drift.map_or(1.0, |d| 1.0 - (d.magnitude / D3_THRESHOLD).min(1.0));
    let penalty = match s.stress {
        StressLevel::Low => 0.0,
        StressLevel::Med => 0.1,
        StressLevel::High => 0.3,
        StressLevel::Over => 0.6,
    };
    let consistency = drift_term * (1.0 - penalty);
    s.stability = (s.stability + STABILITY_RATE * (consistency - s.stability)).clamp(0.0, 1.0);
    let trait_signal = 1.0 - drift.map_or(0.0, |d| (d.magnitude * TRAIT_STABILITY_SCALE).min(1.0));
    let t = s.self_model.trait_stability;
    s.self_model.trait_stability = (t + TRAIT_STABILITY_RATE * (trait_signal - t)).clamp(0.0, 1.0);
}

fn update_memory(s: &mut State, prev: &State, obs: &Observation, drift: Option<Drift>) {
    let m = &mut s.memory;
    let spiked = s.stress.is_elevated() && !prev.stress.is_elevated();
    m.spikes_recent *= RECENT_DECAY;
    if spiked {
        m.stress_spike_count += 1;
        m.spikes_recent += 1.0;
    }
    if s.stress.is_elevated() {
        m.current_stress_streak += 1;
        m.max_stress_streak = m.max_stress_streak.max(m.current_stress_streak);
    } else {
        m.current_stress_streak = 0;
    }
    m.over_streak = if s.stress == StressLevel::Over {
        m.over_streak + 1
    } else {
        0
    };

    m.d1_recent *= RECENT_DECAY;
    m.d2_recent *= RECENT_DECAY;
    m.d3_recent *= RECENT_DECAY;
    m.turns_since_last_d2 = m.turns_since_last_d2.map(|t| t + 1);
    if let Some(d) = drift {
        match d.level {
            DriftLevel::D0 => {}
            DriftLevel::D1 => m.d1_recent += 1.0,
            DriftLevel::D2 => {
                m.d2_recent += 1.0;
                m.turns_since_last_d2 = Some(0);
            }
            DriftLevel::D3 => m.d3_recent += 1.0,
        }
    }

    m.energy_trend += ENERGY_TREND_RATE * (s.energy - m.energy_trend);
    m.energy_min_observed = m.energy_min_observed.min(s.energy);
    if s.energy < ENERGY_FLOOR {
        m.below_critical_total += 1;
    }
    m.zero_energy_streak = if s.energy <= 0.0 {
        m.zero_energy_streak + 1
    } else {
        0
    };

    let target = obs.mode_target();
    m.mode_switches_recent *= SWITCH_DECAY;
    if m.last_target.is_some_and(|t| t != target) {
        m.mode_switches_recent += 1.0;
    }
    m.last_target = Some(target);

    let dominant = crate::contract::dominant_modes(s).first();
    let m = &mut s.memory;
    if dominant.is_some() && dominant == m.dominant_mode {
        m.dominant_mode_streak += 1;
    } else {
        m.dominant_mode = dominant;
        m.dominant_mode_streak = u32::from(dominant.is_some());
    }
    s.memory.pattern = classify(s);

    if s.system != SystemState::Stress {
        s.system = if grows(s, drift) {
            SystemState::Growth
        } else {
            SystemState::Baseline
        };
    }
}

/// Healthy adaptation: calm, rested, consistent, and the personality is moving.
fn grows(s: &State, drift: Option<Drift>) -> bool {
    s.stress == StressLevel::Low
        && s.energy >= 0.6
        && s.stability >= 0.8
        && drift.is_some_and(|d| matches!(d.level, DriftLevel::D1 | DriftLevel::D2))
}

fn classify(s: &State) -> BehavioralPattern {
    let m = &s.memory;
    if m.current_stress_streak >= 10 {
        BehavioralPattern::SustainedStress
    } else if s.energy < DEPLETION_MARK {
        BehavioralPattern::EnergyDepleted
    } else if m.spikes_recent >= 2.5 {
        BehavioralPattern::RecurringStress
    } else if m.d1_recent + m.d2_recent + m.d3_recent >= 3.0 {
        BehavioralPattern::ActiveDrift
    } else if m.mode_switches_recent >= 10.0 {
        BehavioralPattern::Volatile
    } else if m.dominant_mode_streak >= 50 && m.mode_switches_recent < 1.0 {
        BehavioralPattern::ModeLocked
    } else {
        BehavioralPattern::Stable
    }
}
