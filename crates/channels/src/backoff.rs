//! The one retry schedule for every platform connection (Telegram polling, the Discord
//! Gateway): `backon`'s exponential back-off, 1 s doubling to at most 60 s, retried forever —
//! only a refused token or the caller stops a listener — and reset by a success.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

const FIRST: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(60);

pub(crate) struct Backoff(ExponentialBackoff);

impl Backoff {
    pub(crate) fn new() -> Backoff {
        Backoff(
            ExponentialBuilder::default()
                .with_min_delay(FIRST)
                .with_max_delay(MAX)
                .without_max_times()
                .build(),
        )
    }

    /// How long to wait after one more failure in a row.
    pub(crate) fn next_wait(&mut self) -> Duration {
        self.0.next().unwrap_or(MAX)
    }

    /// A success: the next failure waits the shortest time again.
    pub(crate) fn reset(&mut self) {
        *self = Backoff::new();
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_one_second_up_to_a_minute_and_starts_over_after_a_success() {
        let mut backoff = Backoff::new();
        let waits: Vec<u64> = (0..9).map(|_| backoff.next_wait().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        backoff.reset();
        assert_eq!(backoff.next_wait(), FIRST);
    }
}
