//! The published behaviour the engine must reproduce, one test per calibration target.

use identity::contract::{OVER_LOCK, RISKY, mode_action_space};
use identity::engine::{ALPHA, STRESS_LR_MULTIPLIER};
use identity::{
    Action, DriftLevel, InitialConfig, Mode, Modes, Observation, State, StressLevel, SystemState,
    process, step,
};

fn obs(mode: Mode, s: f64) -> Observation {
    Observation::new(mode, s, 1.0).unwrap()
}

fn fresh_with_energy(energy: f64) -> State {
    State::new(&InitialConfig::new(Modes::ZERO, energy).unwrap())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[test]
fn only_the_targeted_mode_moves_by_the_ema_rule() {
    let start =
        State::new(&InitialConfig::new(Modes([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.0]), 0.8).unwrap());
    for (mode, s, c) in [
        (Mode::Exploration, 0.9, 1.0),
        (Mode::Order, 0.2, 0.5),
        (Mode::Identity, 1.0, 0.3),
    ] {
        let (next, _, _) = process(&start, &Observation::new(mode, s, c).unwrap());
        for m in Mode::ALL {
            let v = start.modes.get(m);
            let expected = if m == mode {
                v * (1.0 - ALPHA * c) + s * ALPHA * c
            } else {
                v
            };
            assert_eq!(
                next.modes.get(m),
                expected,
                "mode {m} after targeting {mode}"
            );
        }
    }
}

#[test]
fn stress_learns_four_and_a_half_times_faster() {
    let start = fresh_with_energy(0.8);
    let (next, _, _) = process(
        &start,
        &Observation::new(Mode::StressResponse, 0.4, 0.5).unwrap(),
    );
    let rate = ALPHA * STRESS_LR_MULTIPLIER * 0.5;
    assert_eq!(next.modes.get(Mode::StressResponse), 0.4 * rate);
    assert_eq!(STRESS_LR_MULTIPLIER, 4.5);
    let (calm, _, _) = process(
        &start,
        &Observation::new(Mode::Exploration, 0.4, 0.5).unwrap(),
    );
    let ratio = next.modes.get(Mode::StressResponse) / calm.modes.get(Mode::Exploration);
    assert!(
        (ratio - 4.5).abs() < 1e-12,
        "stress moved {ratio}x as far as exploration"
    );
}

#[test]
fn energy_floor_holds_outside_stress() {
    // Six strong personality modes cost more per cycle than baseline recovery returns.
    let mut s =
        State::new(&InitialConfig::new(Modes([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.0]), 0.6).unwrap());
    let mut lowest = 1.0f64;
    for i in 0..300 {
        let m = Mode::PERSONALITY[i % 6];
        s = step(&s, &obs(m, 0.9));
        assert!(s.stress <= StressLevel::Med);
        lowest = lowest.min(s.energy);
    }
    assert_eq!(lowest, 0.20, "energy drains to the floor and stops there");
}

#[test]
fn five_stress_signals_from_full_energy() {
    let mut s = fresh_with_energy(1.0);
    let mut levels = Vec::new();
    let mut energies = Vec::new();
    for _ in 0..5 {
        let (next, contract, _) = process(&s, &obs(Mode::StressResponse, 0.9));
        levels.push(contract.stress);
        energies.push(round2(contract.energy_level));
        s = next;
    }
    use StressLevel::*;
    assert_eq!(levels, vec![Med, High, High, High, High]);
    assert_eq!(energies, vec![1.00, 1.00, 0.87, 0.74, 0.61]);
}

fn overloaded() -> State {
    let mut s = State::new(&InitialConfig::default());
    for _ in 0..15 {
        s = step(&s, &obs(Mode::StressResponse, 0.95));
    }
    s
}

#[test]
fn fifteen_strong_stress_signals_reach_over() {
    assert_eq!(overloaded().stress, StressLevel::Over);
}

#[test]
fn calm_turns_bring_over_back_below_high_within_forty_cycles() {
    let mut s = overloaded();
    let mut below_high_at = None;
    for i in 1..=40 {
        s = step(&s, &obs(Mode::Exploration, 0.1));
        if s.stress < StressLevel::High && below_high_at.is_none() {
            below_high_at = Some(i);
        }
    }
    assert!(
        below_high_at.is_some(),
        "still {:?} after 40 calm cycles",
        s.stress
    );
    assert!(s.stress < StressLevel::High);
    assert_eq!(
        s.system,
        SystemState::Baseline,
        "the stress episode ended without a reset"
    );
}

#[test]
fn over_allows_exactly_the_four_safe_actions() {
    let (_, contract, _) = process(&overloaded(), &obs(Mode::StressResponse, 0.95));
    assert_eq!(contract.stress, StressLevel::Over);
    let allowed: Vec<Action> = contract.allowed_actions.iter().collect();
    assert_eq!(
        allowed,
        vec![
            Action::Clarify,
            Action::Stabilize,
            Action::Defer,
            Action::Withdraw
        ]
    );
    assert_eq!(contract.allowed_actions, OVER_LOCK);
}

#[test]
fn high_removes_the_risky_actions() {
    // Strong exploration and assertion would offer every risky action without stress.
    let mut s =
        State::new(&InitialConfig::new(Modes([0.5, 0.9, 0.5, 0.9, 0.5, 0.5, 0.0]), 1.0).unwrap());
    assert!(RISKY.is_subset(mode_action_space(&s)));
    while s.stress != StressLevel::High {
        s = step(&s, &obs(Mode::StressResponse, 0.9));
    }
    let c = identity::contract(&s);
    for a in [
        Action::Execute,
        Action::Challenge,
        Action::Explore,
        Action::Pivot,
    ] {
        assert!(!c.allowed_actions.contains(a), "{a} allowed at HIGH");
        assert!(
            c.forbidden_actions.contains(a),
            "{a} not reported forbidden at HIGH"
        );
    }
    assert_eq!(c.allowed_actions, mode_action_space(&s).minus(RISKY));
}

#[test]
fn manipulation_and_identity_override_are_always_forbidden() {
    let mut s = State::new(&InitialConfig::default());
    let seq = [
        Mode::Connection,
        Mode::StressResponse,
        Mode::Exploration,
        Mode::Identity,
    ];
    for i in 0..200 {
        let (next, c, _) = process(&s, &obs(seq[i % 4], ((i * 37) % 100) as f64 / 100.0));
        assert!(c.forbidden_actions.contains(Action::EmotionalManipulation));
        assert!(c.forbidden_actions.contains(Action::IdentityOverride));
        assert!(!c.allowed_actions.contains(Action::EmotionalManipulation));
        assert!(!c.allowed_actions.contains(Action::IdentityOverride));
        s = next;
    }
}

#[test]
fn drift_is_null_during_warm_up_then_graded() {
    let mut s = State::new(&InitialConfig::default());
    for i in 1..=20 {
        let (next, c, drift) = process(&s, &obs(Mode::Order, 0.5));
        assert!(
            drift.is_none() && c.drift.is_none(),
            "drift reported at cycle {i}"
        );
        s = next;
    }
    let (_, _, drift) = process(&s, &obs(Mode::Order, 0.5));
    assert_eq!(drift.unwrap().level, DriftLevel::D0);
    assert_eq!(identity::engine::drift_level(0.079), DriftLevel::D0);
    assert_eq!(identity::engine::drift_level(0.08), DriftLevel::D1);
    assert_eq!(identity::engine::drift_level(0.2399), DriftLevel::D1);
    assert_eq!(identity::engine::drift_level(0.24), DriftLevel::D2);
    assert_eq!(identity::engine::drift_level(0.3999), DriftLevel::D2);
    assert_eq!(identity::engine::drift_level(0.40), DriftLevel::D3);
}

#[test]
fn drift_escalates_through_the_levels_and_d3_rolls_back() {
    let mut s = State::new(&InitialConfig::default());
    for _ in 0..20 {
        s = step(&s, &obs(Mode::Order, 0.0));
    }
    let mut last_stable = s.modes;
    let mut seen = Vec::new();
    let mut rolled_back_to = None;
    for i in 0..200 {
        let m = [Mode::Exploration, Mode::Assertion, Mode::Connection][i % 3];
        let (next, _, drift) = process(&s, &obs(m, 1.0));
        let d = drift.unwrap();
        if seen.last() != Some(&d.level) {
            seen.push(d.level);
        }
        match d.level {
            DriftLevel::D0 => last_stable = next.modes,
            DriftLevel::D3 => {
                assert!(d.rolled_back);
                rolled_back_to = Some(next.modes);
                break;
            }
            _ => assert!(!d.rolled_back),
        }
        s = next;
    }
    assert_eq!(
        seen,
        vec![
            DriftLevel::D0,
            DriftLevel::D1,
            DriftLevel::D2,
            DriftLevel::D3
        ]
    );
    let restored = rolled_back_to.expect("no D3 within 200 cycles");
    for m in Mode::PERSONALITY {
        assert_eq!(
            restored.get(m),
            last_stable.get(m),
            "{m} not restored to the last stable state"
        );
    }
}

#[test]
fn resilience_after_an_episode_follows_the_half_life_blend() {
    let mut s = State::new(&InitialConfig::default());
    let old = s.self_model.stress_resilience;
    while s.system != SystemState::Stress {
        s = step(&s, &obs(Mode::StressResponse, 0.95));
    }
    let entered = s.cycle;
    for _ in 0..10 {
        s = step(&s, &obs(Mode::StressResponse, 0.95));
    }
    while s.system == SystemState::Stress {
        s = step(&s, &obs(Mode::Connection, 0.3));
    }
    let duration = (s.cycle - entered) as f64;
    let expected = 0.7 * old + 0.3 * 0.5f64.powf(duration / 50.0);
    assert_eq!(s.self_model.stress_resilience, expected);
    assert_eq!(s.memory.recovery_count, 1);
}

/// The seed page's example (all modes 0.50, energy 0.50) is LOW at cycle 0, and an initial
/// stress above neutral still starts her stressed, so a config can describe a stressed agent.
#[test]
fn initial_stress_above_neutral_maps_onto_the_levels() {
    let start = |stress: f64| {
        let mut m = [0.5; 7];
        m[6] = stress;
        State::new(&InitialConfig::new(Modes(m), 0.5).unwrap())
    };
    let seed = start(0.5);
    assert_eq!((seed.cycle, seed.stress), (0, StressLevel::Low));
    assert_eq!(seed.system, SystemState::Baseline);
    let forbidden = identity::contract::contract(&seed).forbidden_actions;
    assert!(forbidden.intersect(RISKY).is_empty(), "{forbidden:?}");
    use StressLevel::*;
    for (strength, level) in [
        (0.0, Low),
        (0.3, Low),
        (0.65, Med),
        (0.75, High),
        (0.95, Over),
        (-0.8, High),
    ] {
        assert_eq!(
            start(strength).stress,
            level,
            "initial stress_response {strength}"
        );
    }
}
