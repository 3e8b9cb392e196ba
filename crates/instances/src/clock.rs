//! Timestamps: UTC, microsecond precision (what Python's datetime keeps, so values round-trip
//! through the SDK), written as ISO-8601 with `Z`.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// The time source, injectable so tests and replays are deterministic: the shared `clock`
/// crate's, the same one her mind uses.
pub use ::clock::{Clock, ManualClock, SystemClock};

/// Normalises to UTC and drops sub-microsecond precision.
pub fn normalize(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t)
}

/// `2026-03-24T10:15:30Z`, or `2026-03-24T10:15:30.250000Z` when there are fractions.
pub fn format(t: OffsetDateTime) -> String {
    let t = normalize(t);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    match t.microsecond() {
        0 => format!("{base}Z"),
        us => format!("{base}.{us:06}Z"),
    }
}

/// Accepts RFC 3339 with any offset, or a naive ISO-8601 date-time taken as UTC (what
/// Python's `datetime.isoformat()` gives for naive values).
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(normalize(t));
    }
    let naive = time::macros::format_description!(
        version = 2,
        "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    PrimitiveDateTime::parse(text, naive)
        .ok()
        .map(|t| normalize(t.assume_utc()))
}
