//! Invariants over random observation sequences.

use identity::contract::{ALWAYS_FORBIDDEN, mode_action_space, restrict};
use identity::{InitialConfig, Mode, Modes, Observation, State, StressLevel, process, step};
use proptest::prelude::*;

fn initial() -> impl Strategy<Value = InitialConfig> {
    (prop::array::uniform7(-1.0f64..=1.0), 0.0f64..=1.0)
        .prop_map(|(m, e)| InitialConfig::new(Modes(m), e).unwrap())
}

fn observations() -> impl Strategy<Value = Vec<Observation>> {
    let one = (0usize..7, 0.0f64..=1.0, 0.0f64..=1.0, any::<bool>()).prop_map(|(m, s, c, sure)| {
        // Half the signals carry full confidence, as most callers send.
        Observation::new(Mode::ALL[m], s, if sure { 1.0 } else { c }).unwrap()
    });
    prop::collection::vec(one, 0..300)
}

fn unit(x: f64) -> bool {
    x.is_finite() && (0.0..=1.0).contains(&x)
}

fn bits(s: &State) -> Vec<u64> {
    let mut v: Vec<u64> = s.modes.0.iter().map(|x| x.to_bits()).collect();
    v.extend(
        [
            s.energy,
            s.stability,
            s.self_model.stress_resilience,
            s.self_model.trait_stability,
        ]
        .map(f64::to_bits),
    );
    v.push(s.cycle);
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_value_stays_in_range(init in initial(), seq in observations()) {
        let mut s = State::new(&init);
        for o in &seq {
            let (next, c, drift) = process(&s, o);
            for (m, v) in next.modes.iter() {
                prop_assert!(v.is_finite() && (-1.0..=1.0).contains(&v), "{m} = {v}");
            }
            prop_assert!(unit(next.energy));
            prop_assert!(unit(next.stability));
            prop_assert!(unit(next.self_model.stress_resilience));
            prop_assert!(unit(next.self_model.trait_stability));
            prop_assert!(unit(c.trust.outgoing_trust));
            if let Some(d) = drift {
                prop_assert!(d.magnitude.is_finite() && d.magnitude >= 0.0);
                prop_assert!(next.cycle > identity::engine::DRIFT_WARMUP);
            }
            prop_assert!(c.dominant_modes.as_slice().len() <= 2);
            prop_assert_eq!(next.cycle, s.cycle + 1);
            s = next;
        }
    }

    #[test]
    fn action_spaces_are_monotone_in_stress(init in initial(), seq in observations()) {
        let mut s = State::new(&init);
        for o in &seq {
            s = step(&s, o);
            let base = mode_action_space(&s);
            let adapter = s.adapter_active();
            let high = restrict(base, StressLevel::High, adapter);
            let over = restrict(base, StressLevel::Over, adapter);
            prop_assert!(over.is_subset(high) && over != high, "A_OVER must be a proper subset of A_HIGH");
            prop_assert!(high.is_subset(base), "A_HIGH must be within A_mode");
            prop_assert_eq!(identity::contract(&s).allowed_actions, restrict(base, s.stress, adapter));
        }
    }

    #[test]
    fn forbidden_and_allowed_never_overlap(init in initial(), seq in observations()) {
        let mut s = State::new(&init);
        for o in &seq {
            let (next, c, _) = process(&s, o);
            prop_assert!(c.forbidden_actions.intersect(c.allowed_actions).is_empty());
            prop_assert!(ALWAYS_FORBIDDEN.is_subset(c.forbidden_actions));
            prop_assert!(!c.allowed_actions.is_empty());
            s = next;
        }
    }

    #[test]
    fn same_input_same_output_bit_for_bit(init in initial(), seq in observations()) {
        let run = || seq.iter().fold(State::new(&init), |s, o| process(&s, o).0);
        let (a, b) = (run(), run());
        prop_assert_eq!(bits(&a), bits(&b));
        prop_assert_eq!(a, b);
        prop_assert_eq!(identity::contract(&a), identity::contract(&b));
    }
}
