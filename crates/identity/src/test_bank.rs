//! The personality test: our own statements, answered on a four-point agreement scale.
//!
//! The bank is four rounds of seven statements (one per mode). Version v1 asks rounds 1–2,
//! v2 rounds 1–3, v3 all four, so a question keeps its id in every version.

use crate::modes::{Mode, Modes};
use thiserror::Error;

/// The answer labels, in option order (`q<N>_a` … `q<N>_d`).
pub const SCALE: [&str; 4] = ["Strongly disagree", "Disagree", "Agree", "Strongly agree"];
pub const VERSIONS: [&str; 3] = ["v1", "v2", "v3"];

/// Personality modes map the mean answer into [PROFILE_FLOOR, PROFILE_FLOOR + PROFILE_SPAN]:
/// a test can lean a profile strongly but never pins a mode at an extreme.
pub const PROFILE_FLOOR: f64 = 0.1;
pub const PROFILE_SPAN: f64 = 0.8;
/// stress_response is a disposition, not a crisis: it stays below the MED threshold.
pub const STRESS_SPAN: f64 = 0.25;

const ROUNDS: [[&str; 7]; 4] = [
    [
        "Before I act on a problem I want to see all the information I can get.",
        "When a familiar approach works, I still want to try a different one.",
        "I keep my work organised in a fixed structure.",
        "Once I have decided, I act without waiting for approval.",
        "I pay attention to how the people around me are feeling.",
        "I would turn down a task that goes against what I stand for.",
        "When many things go wrong at once, I drop everything but the essentials.",
    ],
    [
        "I notice small details that others overlook.",
        "Unfamiliar tools and topics draw me in.",
        "I prefer following a proven procedure to improvising.",
        "In a group I am usually the one who proposes the plan.",
        "I would rather solve a problem together than alone.",
        "People can predict how I will respond because my principles are stable.",
        "Under pressure I become cautious and avoid risks.",
    ],
    [
        "I ask questions until I am sure I understand.",
        "I enjoy changing direction when a better idea appears.",
        "Clear rules make me work better.",
        "I say so directly when I think someone is wrong.",
        "Helping someone else succeed matters a lot to me.",
        "I keep the same values whoever I am working with.",
        "Repeated failures make me want to pause and regroup.",
    ],
    [
        "I prefer to observe for a while before joining in.",
        "I like experiments whose outcome nobody knows.",
        "I finish one thing before starting the next.",
        "I take ownership of decisions and their results.",
        "I adjust how I speak to make others comfortable.",
        "I think about who I want to be when I make choices.",
        "When stressed, I look for a safe, simple next step.",
    ],
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    pub id: u32,
    pub text: &'static str,
    pub mode_target: Mode,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TestError {
    #[error("unknown test version {0:?}; expected v1, v2 or v3")]
    UnknownVersion(String),
    #[error("question {0} is not part of this test version")]
    UnknownQuestion(u32),
    #[error("question {0} was answered more than once")]
    DuplicateAnswer(u32),
    #[error("answer for question {0} must choose one of the four options")]
    InvalidChoice(u32),
    #[error("the test is incomplete: {} question(s) unanswered", .0.len())]
    Incomplete(Vec<u32>),
}

fn rounds_for(version: &str) -> Result<usize, TestError> {
    match version {
        "v1" => Ok(2),
        "v2" => Ok(3),
        "v3" => Ok(4),
        other => Err(TestError::UnknownVersion(other.to_string())),
    }
}

/// The questions of a version, in id order.
pub fn questions(version: &str) -> Result<Vec<Question>, TestError> {
    let rounds = rounds_for(version)?;
    Ok(ROUNDS[..rounds]
        .iter()
        .enumerate()
        .flat_map(|(r, round)| {
            round.iter().enumerate().map(move |(i, text)| Question {
                id: (r * 7 + i + 1) as u32,
                text,
                mode_target: Mode::ALL[i],
            })
        })
        .collect())
}

/// Scores a complete set of answers `(question id, option index 0..=3)` into a mode profile.
/// Every question of the version must be answered exactly once.
pub fn score(version: &str, answers: &[(u32, u8)]) -> Result<Modes, TestError> {
    let qs = questions(version)?;
    let mut given: Vec<Option<u8>> = vec![None; qs.len()];
    for &(id, choice) in answers {
        let slot = given
            .get_mut((id as usize).wrapping_sub(1))
            .ok_or(TestError::UnknownQuestion(id))?;
        if choice > 3 {
            return Err(TestError::InvalidChoice(id));
        }
        if slot.replace(choice).is_some() {
            return Err(TestError::DuplicateAnswer(id));
        }
    }
    let missing: Vec<u32> = qs
        .iter()
        .zip(&given)
        .filter(|(_, g)| g.is_none())
        .map(|(q, _)| q.id)
        .collect();
    if !missing.is_empty() {
        return Err(TestError::Incomplete(missing));
    }
    let mut sums = [0.0f64; 7];
    let mut counts = [0u32; 7];
    for (q, g) in qs.iter().zip(&given) {
        let i = q.mode_target.index();
        sums[i] += f64::from(g.unwrap_or(0)) / 3.0;
        counts[i] += 1;
    }
    let mut profile = Modes::ZERO;
    for m in Mode::ALL {
        let mean = sums[m.index()] / f64::from(counts[m.index()]);
        let v = if m == Mode::StressResponse {
            STRESS_SPAN * mean
        } else {
            PROFILE_FLOOR + PROFILE_SPAN * mean
        };
        profile.set(m, v);
    }
    Ok(profile)
}
