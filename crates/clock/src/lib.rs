//! The one time source. Everything that depends on "now" (her heartbeat, due reminders, the
//! nightly routine, timestamps in her files, an identity instance's throttling and history)
//! asks a [`Clock`], so tests move time by hand instead of sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use time::{Duration, OffsetDateTime, UtcOffset};
use tokio::sync::watch;

pub type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

pub trait Clock: Send + Sync {
    /// The current local time.
    fn now(&self) -> OffsetDateTime;

    /// The current time in UTC, for what is stored and compared in UTC.
    fn now_utc(&self) -> OffsetDateTime {
        self.now().to_offset(UtcOffset::UTC)
    }

    /// Resolves once `now() >= at`.
    fn wait_until(&self, at: OffsetDateTime) -> Wait;
}

/// The wall clock, in the machine's local offset (UTC when the offset cannot be read).
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_local().unwrap_or_else(|_| OffsetDateTime::now_utc())
    }

    /// Without asking for the local offset, which costs a system call or more.
    fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[tokio::test]
    async fn manual_clock_wakes_waiters_when_passed() {
        let clock = ManualClock::at(datetime!(2026-05-18 08:59 UTC));
        let wait = clock.wait_until(datetime!(2026-05-18 09:00 UTC));
        let handle = tokio::spawn(wait);
        clock.advance(Duration::minutes(1));
        handle.await.unwrap();
    }

    #[test]
    fn utc_is_the_same_instant() {
        let clock = ManualClock::at(datetime!(2026-05-18 17:12 +02:00));
        assert_eq!(clock.now_utc(), datetime!(2026-05-18 15:12 UTC));
        assert_eq!(clock.now_utc(), clock.now());
    }
}
