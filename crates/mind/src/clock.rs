//! Her sense of time: the shared [`Clock`] (tests move it by hand instead of sleeping) and how
//! she writes and says the time.

use time::{Duration, OffsetDateTime};

/// The time source itself is the shared `clock` crate's, the same one identity instances use.
pub use ::clock::{Clock, ManualClock, SystemClock, Wait};

/// The start of the minute after `t`.
pub fn next_minute(t: OffsetDateTime) -> OffsetDateTime {
    let floor = t
        .replace_second(0)
        .and_then(|x| x.replace_nanosecond(0))
        .unwrap_or(t);
    floor + Duration::minutes(1)
}

/// `2026-05-18T17:12:03.412000+02:00`: what every timestamp in her files looks like.
pub fn iso(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6][offset_hour sign:mandatory]:[offset_minute]"
    );
    t.format(&f).unwrap_or_default()
}

pub fn date(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    t.format(&f).unwrap_or_default()
}

/// `2026-05-18 17:12`, the trigger format of her destiny entries.
pub fn minute(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    t.format(&f).unwrap_or_default()
}

/// `It is Monday, May 18, 2026, 17:12.`
pub fn spoken(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!(
        "[weekday], [month repr:long] [day padding:none], [year], [hour]:[minute]"
    );
    format!("It is {}.", t.format(&f).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats() {
        let t = datetime!(2026-05-18 17:12:03.412 +02:00);
        assert_eq!(iso(t), "2026-05-18T17:12:03.412000+02:00");
        assert_eq!(minute(t), "2026-05-18 17:12");
        assert_eq!(spoken(t), "It is Monday, May 18, 2026, 17:12.");
        assert_eq!(next_minute(t), datetime!(2026-05-18 17:13 +02:00));
    }
}
