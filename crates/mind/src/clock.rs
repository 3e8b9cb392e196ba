//! Her sense of time. Everything that depends on "now" (the heartbeat, due reminders, the
//! nightly routine, timestamps in her files) asks a [`Clock`], so tests can move time by hand
//! instead of sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

pub type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

pub trait Clock: Send + Sync {
    /// The current local time.
    fn now(&self) -> OffsetDateTime;
    /// Resolves once `now() >= at`.
    fn wait_until(&self, at: OffsetDateTime) -> Wait;
}

/// The wall clock, in the machine's local offset (UTC when the offset cannot be read).
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_local().unwrap_or_else(|_| OffsetDateTime::now_utc())
    }

    fn wait_until(&self, at: OffsetDateTime) -> Wait {
        let now = self.now();
        Box::pin(async move {
            let gap = at - now;
            if gap.is_positive() {
                tokio::time::sleep(std::time::Duration::from_secs_f64(gap.as_seconds_f64())).await;
            }
        })
    }
}

/// A clock that only moves when told to. Waiters wake as soon as it passes their instant.
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<OffsetDateTime>>,
}

impl ManualClock {
    pub fn at(start: OffsetDateTime) -> ManualClock {
        ManualClock {
            now: Arc::new(watch::Sender::new(start)),
        }
    }

    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|t| *t += by);
    }

    pub fn set(&self, to: OffsetDateTime) {
        self.now.send_replace(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.borrow()
    }

    fn wait_until(&self, at: OffsetDateTime) -> Wait {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            let _ = rx.wait_for(|t| *t >= at).await;
        })
    }
}

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

    #[tokio::test]
    async fn manual_clock_wakes_waiters_when_passed() {
        let clock = ManualClock::at(datetime!(2026-05-18 08:59 UTC));
        let wait = clock.wait_until(datetime!(2026-05-18 09:00 UTC));
        let handle = tokio::spawn(wait);
        clock.advance(Duration::minutes(1));
        handle.await.unwrap();
    }
}
