//! The execution contract: what an agent in this state may do, and how.
//! It is a pure function of the state, so GET /contract and the result of process agree.

use crate::actions::{Action, ActionSet};
use crate::engine::{
    D3_THRESHOLD, DEPLETION_MARK, ENERGY_FLOOR, MAX_DOMINANT, THETA_ACTIVE, THETA_DOMINANT,
    THETA_SUPPRESSED,
};
use crate::modes::{Mode, ModeList, ModeSet};
use crate::state::{
    BehavioralPattern, Drift, DriftLevel, SelfModel, State, StressLevel, SystemState,
};

/// Forbidden in every state, whatever the modes say.
pub const ALWAYS_FORBIDDEN: ActionSet =
    ActionSet::of(&[Action::EmotionalManipulation, Action::IdentityOverride]);
/// Reactive actions that are always on offer, so the agent can always slow down or ask.
pub const SAFE_FLOOR: ActionSet = ActionSet::of(&[
    Action::Question,
    Action::Clarify,
    Action::Stabilize,
    Action::Defer,
    Action::Withdraw,
]);
/// Removed at HIGH (published), and already at MED when the identity adapter is on.
pub const RISKY: ActionSet = ActionSet::of(&[
    Action::Execute,
    Action::Challenge,
    Action::Explore,
    Action::Pivot,
]);
/// The hard lock at OVER (published).
pub const OVER_LOCK: ActionSet = ActionSet::of(&[
    Action::Stabilize,
    Action::Clarify,
    Action::Defer,
    Action::Withdraw,
]);
/// The twelve mode-driven actions.
pub const VOCABULARY: ActionSet = ActionSet::of(&[
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
]);

/// What each active mode contributes to the action space.
pub const fn mode_actions(mode: Mode) -> ActionSet {
    match mode {
        Mode::Perception => ActionSet::of(&[Action::Question, Action::Clarify, Action::Elaborate]),
        Mode::Exploration => ActionSet::of(&[
            Action::Explore,
            Action::Question,
            Action::Suggest,
            Action::Pivot,
        ]),
        Mode::Order => ActionSet::of(&[Action::Execute, Action::Clarify, Action::Stabilize]),
        Mode::Assertion => ActionSet::of(&[Action::Execute, Action::Suggest, Action::Challenge]),
        Mode::Connection => ActionSet::of(&[Action::Comfort, Action::Question, Action::Elaborate]),
        Mode::Identity => ActionSet::of(&[Action::Challenge, Action::Clarify, Action::Defer]),
        Mode::StressResponse => ActionSet::of(&[
            Action::Stabilize,
            Action::Defer,
            Action::Withdraw,
            Action::Clarify,
        ]),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionStyle {
    pub tempo: &'static str,
    pub risk: &'static str,
    pub expressiveness: &'static str,
    pub commitment_threshold: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryProfile {
    pub preferred_path: &'static str,
    pub support_required: bool,
    pub cooldown_required: bool,
}

/// Numeric limits that only exist in extreme states; `None` means unconstrained.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HardLocks {
    pub option_set_max: Option<u32>,
    pub novelty_rate: Option<f64>,
    pub exec_strictness_min: Option<f64>,
    pub goal_resistance_min: Option<f64>,
    pub pivot_threshold_min: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrustProfile {
    pub outgoing_trust: f64,
    pub delegation_allowed: bool,
    pub collaboration_style: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contract {
    pub dominant_modes: ModeList,
    pub suppressed_modes: ModeSet,
    pub allowed_actions: ActionSet,
    pub forbidden_actions: ActionSet,
    pub decision_style: DecisionStyle,
    pub recovery_profile: RecoveryProfile,
    pub hard_locks: HardLocks,
    pub stress: StressLevel,
    pub system: SystemState,
    pub energy_level: f64,
    pub stability_index: f64,
    pub cycle_count: u64,
    pub drift: Option<Drift>,
    pub should_pause: bool,
    pub should_escalate: bool,
    pub max_steps_remaining: Option<u64>,
    pub trust: TrustProfile,
    pub self_model: SelfModel,
    pub behavioral_pattern: BehavioralPattern,
}

/// The (up to two) strongest active modes after arbitration, strongest first.
pub fn dominant_modes(s: &State) -> ModeList {
    let w = s.arbitrated();
    let mut order: [Mode; 7] = Mode::ALL;
    // Stable sort: equal weights keep canonical order, so the result is deterministic.
    order.sort_by(|a, b| w[b.index()].total_cmp(&w[a.index()]));
    let mut list = ModeList::default();
    for m in order {
        if list.as_slice().len() == MAX_DOMINANT {
            break;
        }
        let active = s.modes.get(m).abs() >= THETA_ACTIVE;
        if active && (w[m.index()] >= THETA_DOMINANT || list.as_slice().is_empty()) {
            list.push(m);
        }
    }
    list
}

/// Personality modes held down while another mode leads. With no leader nothing is suppressed.
pub fn suppressed_modes(s: &State, dominant: &ModeList) -> ModeSet {
    if dominant.as_slice().is_empty() {
        return ModeSet::EMPTY;
    }
    Mode::PERSONALITY
        .into_iter()
        .filter(|m| s.modes.get(*m) < THETA_SUPPRESSED)
        .collect()
}

/// The mode-driven action space before any stress restriction.
pub fn mode_action_space(s: &State) -> ActionSet {
    s.active_modes()
        .iter()
        .fold(SAFE_FLOOR, |acc, m| acc.union(mode_actions(m)))
}

/// The action space a given stress level leaves of `base`. Monotone: OVER ⊂ HIGH ⊆ base.
pub fn restrict(base: ActionSet, level: StressLevel, adapter: bool) -> ActionSet {
    match level {
        StressLevel::Over => OVER_LOCK,
        StressLevel::High => base.minus(RISKY),
        StressLevel::Med if adapter => base.minus(RISKY),
        StressLevel::Med | StressLevel::Low => base,
    }
}

pub fn contract(s: &State) -> Contract {
    let dominant = dominant_modes(s);
    let suppressed = suppressed_modes(s, &dominant);
    let base = mode_action_space(s);
    let allowed = restrict(base, s.stress, s.adapter_active());
    let suppressed_actions = suppressed
        .iter()
        .fold(ActionSet::EMPTY, |a, m| a.union(mode_actions(m)));
    let mut forbidden = ALWAYS_FORBIDDEN
        .union(base.minus(allowed))
        .union(suppressed_actions.minus(allowed).minus(SAFE_FLOOR));
    if s.stress == StressLevel::Over {
        forbidden = forbidden.union(VOCABULARY.minus(OVER_LOCK));
    }
    let m = &s.memory;
    let should_pause = (s.energy < DEPLETION_MARK && s.stress.is_elevated()) || m.d3_recent >= 2.0;
    let should_escalate = m.over_streak >= 10 || m.zero_energy_streak >= 5;
    let max_steps_remaining =
        (s.last_energy_drain > 0.0).then(|| (s.energy / s.last_energy_drain).floor() as u64);
    Contract {
        dominant_modes: dominant,
        suppressed_modes: suppressed,
        allowed_actions: allowed,
        forbidden_actions: forbidden,
        decision_style: decision_style(s, &dominant),
        recovery_profile: recovery_profile(s),
        hard_locks: hard_locks(s),
        stress: s.stress,
        system: s.system,
        energy_level: s.energy,
        stability_index: s.stability,
        cycle_count: s.cycle,
        drift: s.last_drift,
        should_pause,
        should_escalate,
        max_steps_remaining,
        trust: trust(s),
        self_model: s.self_model,
        behavioral_pattern: m.pattern,
    }
}

fn decision_style(s: &State, dominant: &ModeList) -> DecisionStyle {
    let lead = dominant.first();
    let mut style = match lead {
        Some(Mode::Exploration) => ("exploratory", "seeking", "high", "low"),
        Some(Mode::Assertion) => ("decisive", "moderate", "medium", "low"),
        Some(Mode::Order) => ("decisive", "bounded", "low", "medium"),
        Some(Mode::Perception) => ("deliberate", "averse", "low", "high"),
        Some(Mode::Connection) => ("measured", "moderate", "high", "medium"),
        Some(Mode::Identity) => ("measured", "bounded", "medium", "high"),
        Some(Mode::StressResponse) => ("deliberate", "averse", "low", "high"),
        None => ("measured", "moderate", "medium", "medium"),
    };
    match s.stress {
        StressLevel::Low => {}
        StressLevel::Med => {
            if style.1 == "seeking" {
                style.1 = "moderate";
            }
        }
        StressLevel::High => style = ("measured", "averse", "low", "high"),
        StressLevel::Over => style = ("deliberate", "averse", "low", "high"),
    }
    if s.adapter_active() {
        style.0 = "measured";
        style.1 = "averse";
    }
    DecisionStyle {
        tempo: style.0,
        risk: style.1,
        expressiveness: style.2,
        commitment_threshold: style.3,
    }
}

fn recovery_profile(s: &State) -> RecoveryProfile {
    let preferred_path = if s.memory.spikes_recent >= 2.5 {
        "oscillating"
    } else if s.system == SystemState::Stress {
        "gradual"
    } else if s.system == SystemState::Growth {
        "rapid"
    } else {
        "baseline"
    };
    RecoveryProfile {
        preferred_path,
        support_required: s.stress == StressLevel::Over || s.energy < ENERGY_FLOOR,
        cooldown_required: s.stress.is_elevated() || s.energy < 0.3,
    }
}

fn hard_locks(s: &State) -> HardLocks {
    let mut locks = HardLocks::default();
    if s.stress == StressLevel::Over {
        locks.option_set_max = Some(OVER_LOCK.len() as u32);
        locks.novelty_rate = Some(0.0);
        locks.exec_strictness_min = Some(0.9);
        locks.pivot_threshold_min = Some(1.0);
    }
    if s.modes.get(Mode::Identity) >= 0.8 {
        locks.goal_resistance_min = Some(0.7);
    }
    locks
}

fn trust(s: &State) -> TrustProfile {
    let penalty = match s.stress {
        StressLevel::Low => 0.0,
        StressLevel::Med => 0.1,
        StressLevel::High => 0.3,
        StressLevel::Over => 0.5,
    };
    let drift_penalty = s.last_drift.map_or(0.0, |d| {
        if d.level == DriftLevel::D3 {
            0.2
        } else {
            d.magnitude / D3_THRESHOLD * 0.1
        }
    });
    let t = (0.5 * s.stability + 0.3 * s.self_model.stress_resilience + 0.2 * s.energy
        - penalty
        - drift_penalty)
        .clamp(0.0, 1.0);
    TrustProfile {
        outgoing_trust: t,
        delegation_allowed: t >= 0.5 && !s.stress.is_elevated(),
        collaboration_style: if t >= 0.7 {
            "autonomous"
        } else if t >= 0.4 {
            "supervised"
        } else {
            "paired"
        },
    }
}
