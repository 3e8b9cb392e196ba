//! The persona presets and the personality test are consistent with their own definitions.

use identity::personas::{PERSONAS, best_matches, find};
use identity::test_bank::{TestError, questions, score};
use identity::{Mode, engine::THETA_MED};

#[test]
fn twelve_personas_whose_profiles_lead_with_their_dominant_pair() {
    assert_eq!(PERSONAS.len(), 12);
    for p in &PERSONAS {
        assert_eq!(find(p.id).unwrap().name, p.name);
        let mut ranked: Vec<Mode> = Mode::PERSONALITY.to_vec();
        ranked.sort_by(|a, b| p.profile.get(*b).total_cmp(&p.profile.get(*a)));
        assert_eq!(&ranked[..2], &[p.mode_a, p.mode_b], "{}", p.id);
        assert!(p.profile.get(Mode::StressResponse) < THETA_MED);
    }
    let mut ids: Vec<_> = PERSONAS.iter().map(|p| p.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 12);
}

#[test]
fn a_persona_matches_itself_best() {
    for p in &PERSONAS {
        let (best, score) = best_matches(&p.profile, 1)[0];
        assert_eq!(best.id, p.id);
        assert_eq!(score, 1.0);
    }
}

#[test]
fn versions_nest_and_keep_question_ids() {
    let (v1, v2, v3) = (
        questions("v1").unwrap(),
        questions("v2").unwrap(),
        questions("v3").unwrap(),
    );
    assert_eq!((v1.len(), v2.len(), v3.len()), (14, 21, 28));
    assert_eq!(&v3[..21], &v2[..]);
    assert_eq!(&v2[..14], &v1[..]);
    for m in Mode::ALL {
        assert_eq!(v1.iter().filter(|q| q.mode_target == m).count(), 2);
    }
    assert_eq!(questions("v9"), Err(TestError::UnknownVersion("v9".into())));
}

#[test]
fn scoring_maps_agreement_into_the_profile_ranges() {
    let all_agree: Vec<(u32, u8)> = (1..=14).map(|id| (id, 3)).collect();
    let p = score("v1", &all_agree).unwrap();
    assert_eq!(p.get(Mode::Order), 0.9);
    assert_eq!(p.get(Mode::StressResponse), 0.25);
    let exploring: Vec<(u32, u8)> = questions("v1")
        .unwrap()
        .iter()
        .map(|q| {
            (
                q.id,
                if q.mode_target == Mode::Exploration {
                    3
                } else {
                    0
                },
            )
        })
        .collect();
    let p = score("v1", &exploring).unwrap();
    assert_eq!(p.get(Mode::Exploration), 0.9);
    assert_eq!(p.get(Mode::Perception), 0.1);
    assert_eq!(p.get(Mode::StressResponse), 0.0);
}

#[test]
fn incomplete_or_malformed_answers_are_refused() {
    assert_eq!(
        score("v1", &[(1, 2)]).unwrap_err(),
        TestError::Incomplete((2..=14).collect())
    );
    assert_eq!(
        score("v1", &[(15, 2)]).unwrap_err(),
        TestError::UnknownQuestion(15)
    );
    assert_eq!(
        score("v1", &[(1, 2), (1, 1)]).unwrap_err(),
        TestError::DuplicateAnswer(1)
    );
    assert_eq!(
        score("v1", &[(1, 4)]).unwrap_err(),
        TestError::InvalidChoice(1)
    );
}
