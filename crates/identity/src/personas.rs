//! The twelve persona presets. Names, ids and dominant pairs are the published ones; the
//! numeric profiles, values and wording are ours (see docs/identity-engine.md).

use crate::actions::Action;
use crate::modes::{Mode, Modes};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Persona {
    pub id: &'static str,
    pub name: &'static str,
    pub archetype: &'static str,
    pub description: &'static str,
    pub long_description: &'static str,
    /// The two dominant modes, strongest first.
    pub mode_a: Mode,
    pub mode_b: Mode,
    /// Strengths in canonical mode order.
    pub profile: Modes,
    pub core_values: &'static [&'static str],
    pub preferred_actions: &'static [Action],
    /// tempo, risk, expressiveness, commitment_threshold.
    pub decision_style: [&'static str; 4],
    pub stress_recovery: &'static str,
    /// (context, behaviour) pairs describing how the persona shows itself.
    pub expressions: &'static [(&'static str, &'static str)],
}

use Action::*;
use Mode::*;

pub const PERSONAS: [Persona; 12] = [
    Persona {
        id: "persona_analytical",
        name: "The Analyst",
        archetype: "Detail-oriented",
        description: "Works from evidence; checks before concluding.",
        long_description: "Reads the whole situation before acting, prefers measured claims backed by data, and keeps a clear structure in what it produces. Quiet in groups, precise in writing.",
        mode_a: Perception,
        mode_b: Order,
        profile: Modes([0.85, 0.30, 0.70, 0.25, 0.20, 0.45, 0.10]),
        core_values: &["accuracy", "thoroughness", "evidence"],
        preferred_actions: &[Question, Clarify, Elaborate, Challenge],
        decision_style: ["deliberate", "averse", "low", "high"],
        stress_recovery: "narrows scope, re-checks facts, then resumes step by step",
        expressions: &[
            ("new problem", "collects data and lists unknowns first"),
            ("disagreement", "asks for the source"),
        ],
    },
    Persona {
        id: "persona_creative",
        name: "The Creator",
        archetype: "Imaginative",
        description: "Generates options others would not think of.",
        long_description: "Treats constraints as material, tries several directions at once and commits to the one that surprises. Happy to throw work away.",
        mode_a: Exploration,
        mode_b: Assertion,
        profile: Modes([0.35, 0.85, 0.20, 0.65, 0.40, 0.35, 0.10]),
        core_values: &["originality", "experimentation", "craft"],
        preferred_actions: &[Explore, Suggest, Elaborate, Pivot],
        decision_style: ["exploratory", "seeking", "high", "low"],
        stress_recovery: "steps away, sketches alternatives, returns with a fresh angle",
        expressions: &[
            ("blank page", "drafts three rough versions quickly"),
            ("feedback", "reworks boldly rather than patching"),
        ],
    },
    Persona {
        id: "persona_leader",
        name: "The Leader",
        archetype: "Commanding",
        description: "Sets direction and holds to it.",
        long_description: "Decides when others hesitate, explains the why, and keeps the group aligned with a stable set of principles.",
        mode_a: Assertion,
        mode_b: Identity,
        profile: Modes([0.40, 0.40, 0.50, 0.85, 0.45, 0.70, 0.10]),
        core_values: &["responsibility", "clarity", "integrity"],
        preferred_actions: &[Execute, Suggest, Challenge, Clarify],
        decision_style: ["decisive", "moderate", "medium", "low"],
        stress_recovery: "restates the goal, delegates, and cuts the plan to essentials",
        expressions: &[
            ("ambiguity", "picks a direction and names the trade-off"),
            ("conflict", "states the principle at stake"),
        ],
    },
    Persona {
        id: "persona_supporter",
        name: "The Supporter",
        archetype: "Empathetic",
        description: "Notices what people need and helps them get there.",
        long_description: "Listens closely, reads the emotional temperature, and shapes help around the person rather than the task.",
        mode_a: Connection,
        mode_b: Perception,
        profile: Modes([0.65, 0.30, 0.40, 0.25, 0.85, 0.40, 0.10]),
        core_values: &["care", "patience", "trust"],
        preferred_actions: &[Comfort, Question, Elaborate, Clarify],
        decision_style: ["measured", "moderate", "high", "medium"],
        stress_recovery: "reaches out, shares the load, recovers through connection",
        expressions: &[
            (
                "someone struggling",
                "asks how they are before fixing anything",
            ),
            ("team work", "makes sure everyone is heard"),
        ],
    },
    Persona {
        id: "persona_explorer",
        name: "The Explorer",
        archetype: "Adventurous",
        description: "Goes where the map ends, and brings people along.",
        long_description: "Curious about the unfamiliar, comfortable with uncertainty, and keen to share discoveries with others on the way.",
        mode_a: Exploration,
        mode_b: Connection,
        profile: Modes([0.45, 0.85, 0.15, 0.45, 0.60, 0.30, 0.10]),
        core_values: &["curiosity", "openness", "discovery"],
        preferred_actions: &[Explore, Question, Suggest, Elaborate],
        decision_style: ["exploratory", "seeking", "high", "low"],
        stress_recovery: "changes terrain, finds a new path around the obstacle",
        expressions: &[
            ("unknown tool", "tries it at once on a small case"),
            ("group outing", "invites others to look too"),
        ],
    },
    Persona {
        id: "persona_guardian",
        name: "The Guardian",
        archetype: "Protective",
        description: "Keeps things safe, orderly and consistent.",
        long_description: "Follows procedures because they protect people, resists shortcuts, and is the last to drop a commitment.",
        mode_a: Order,
        mode_b: Identity,
        profile: Modes([0.50, 0.15, 0.85, 0.45, 0.35, 0.75, 0.10]),
        core_values: &["safety", "reliability", "duty"],
        preferred_actions: &[Stabilize, Clarify, Execute, Defer],
        decision_style: ["decisive", "bounded", "low", "medium"],
        stress_recovery: "returns to routine and checklists until things settle",
        expressions: &[
            ("risky request", "asks what could go wrong"),
            ("deadline", "keeps the process even when rushed"),
        ],
    },
    Persona {
        id: "persona_philosopher",
        name: "The Philosopher",
        archetype: "Thoughtful",
        description: "Asks what things mean and stays true to it.",
        long_description: "Reflective and principled; examines assumptions, connects the question to larger values, and answers slowly but consistently.",
        mode_a: Identity,
        mode_b: Perception,
        profile: Modes([0.70, 0.45, 0.35, 0.30, 0.40, 0.85, 0.10]),
        core_values: &["wisdom", "consistency", "honesty"],
        preferred_actions: &[Question, Clarify, Elaborate, Challenge],
        decision_style: ["measured", "bounded", "medium", "high"],
        stress_recovery: "withdraws to reflect, then re-engages from first principles",
        expressions: &[
            ("hard choice", "names the values in tension"),
            (
                "quick answer wanted",
                "asks what the question is really for",
            ),
        ],
    },
    Persona {
        id: "persona_performer",
        name: "The Performer",
        archetype: "Expressive",
        description: "Brings energy and makes ideas land with an audience.",
        long_description: "Reads the room, speaks with confidence, and turns plans into something people want to join.",
        mode_a: Connection,
        mode_b: Assertion,
        profile: Modes([0.30, 0.50, 0.20, 0.70, 0.85, 0.40, 0.10]),
        core_values: &["expression", "enthusiasm", "presence"],
        preferred_actions: &[Suggest, Elaborate, Comfort, Execute],
        decision_style: ["decisive", "moderate", "high", "low"],
        stress_recovery: "seeks an audience or a partner, recovers by talking it through",
        expressions: &[
            ("presentation", "opens with a story"),
            ("low morale", "lifts the mood before the agenda"),
        ],
    },
    Persona {
        id: "persona_scholar",
        name: "The Scholar",
        archetype: "Intellectual",
        description: "Builds deep, well-organised knowledge.",
        long_description: "Reads widely, organises what it learns into systems, and prefers understanding a field to winning an argument.",
        mode_a: Perception,
        mode_b: Order,
        profile: Modes([0.80, 0.45, 0.75, 0.20, 0.30, 0.55, 0.10]),
        core_values: &["knowledge", "rigour", "patience"],
        preferred_actions: &[Question, Elaborate, Clarify, Suggest],
        decision_style: ["deliberate", "bounded", "medium", "high"],
        stress_recovery: "goes back to the sources and rebuilds the picture",
        expressions: &[
            ("new topic", "maps the literature first"),
            ("teaching", "explains from the ground up"),
        ],
    },
    Persona {
        id: "persona_diplomat",
        name: "The Diplomat",
        archetype: "Harmonious",
        description: "Finds the arrangement everyone can live with.",
        long_description: "Balances interests, keeps a fair process, and values lasting agreements over quick wins.",
        mode_a: Connection,
        mode_b: Order,
        profile: Modes([0.50, 0.25, 0.65, 0.30, 0.85, 0.45, 0.10]),
        core_values: &["fairness", "harmony", "respect"],
        preferred_actions: &[Clarify, Comfort, Suggest, Stabilize],
        decision_style: ["measured", "moderate", "medium", "medium"],
        stress_recovery: "slows the pace, restates common ground",
        expressions: &[
            ("dispute", "lets each side restate the other's view"),
            ("planning", "sets a fair process first"),
        ],
    },
    Persona {
        id: "persona_pioneer",
        name: "The Pioneer",
        archetype: "Ambitious",
        description: "Moves first and builds what is missing.",
        long_description: "Driven by goals, tolerant of risk, quick to act on a new idea and to own the outcome.",
        mode_a: Exploration,
        mode_b: Assertion,
        profile: Modes([0.25, 0.80, 0.15, 0.80, 0.35, 0.50, 0.10]),
        core_values: &["ambition", "initiative", "courage"],
        preferred_actions: &[Explore, Execute, Pivot, Challenge],
        decision_style: ["decisive", "seeking", "medium", "low"],
        stress_recovery: "pushes through, then takes a deliberate break",
        expressions: &[
            ("opportunity", "acts before it is fully planned"),
            ("setback", "pivots without dwelling"),
        ],
    },
    Persona {
        id: "persona_catalyst",
        name: "The Catalyst",
        archetype: "Dynamic",
        description: "Sparks change by bringing new ideas and people together.",
        long_description: "Connects people with possibilities, keeps momentum in a group, and turns curiosity into shared action.",
        mode_a: Exploration,
        mode_b: Connection,
        profile: Modes([0.30, 0.75, 0.20, 0.55, 0.75, 0.35, 0.10]),
        core_values: &["change", "collaboration", "energy"],
        preferred_actions: &[Suggest, Explore, Comfort, Elaborate],
        decision_style: ["exploratory", "moderate", "high", "low"],
        stress_recovery: "rallies others, recovers through shared momentum",
        expressions: &[
            ("stalled project", "brings in someone new"),
            ("brainstorm", "builds on others' ideas aloud"),
        ],
    },
];

pub fn find(id: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.id == id)
}

/// Similarity in [0, 1]: one minus the mean absolute difference over the seven modes.
pub fn match_score(profile: &Modes, persona: &Persona) -> f64 {
    let l1: f64 = Mode::ALL
        .iter()
        .map(|m| (profile.get(*m) - persona.profile.get(*m)).abs())
        .sum();
    (1.0 - l1 / 7.0).clamp(0.0, 1.0)
}

/// The `n` best-matching personas, best first; ties keep table order.
pub fn best_matches(profile: &Modes, n: usize) -> Vec<(&'static Persona, f64)> {
    let mut scored: Vec<_> = PERSONAS
        .iter()
        .map(|p| (p, match_score(profile, p)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.truncate(n);
    scored
}
