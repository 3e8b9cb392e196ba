//! A closed-loop HTTP load: `connections` keep-alive clients, each sending its next request as
//! soon as the previous answer is read, for a fixed time. The load generator shares the
//! machine with the daemon, so on few cores its own cost lowers the figures.

use std::time::{Duration, Instant};

use anyhow::bail;

/// What one load run measured.
#[derive(Clone, Debug)]
pub struct Load {
    pub requests: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    /// Bytes of the last answer (one list).
    pub body_bytes: usize,
    /// The daemon's largest resident size seen while the load ran, when a pid was given.
    pub peak_rss: Option<u64>,
}

impl Load {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// `GET url` from `connections` clients for `duration` (after a short warm-up), sampling the
/// resident size of `pid` meanwhile.
pub async fn get(
    url: &str,
    connections: usize,
    duration: Duration,
    pid: Option<u32>,
) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .build()?;
    // Warm-up: open the connections and fill whatever the server caches.
    let warm = run(&client, url, connections, duration / 10, None).await?;
    if warm.requests == 0 {
        bail!("{url} answered nothing during the warm-up");
    }
    run(&client, url, connections, duration, pid).await
}

async fn run(
    client: &reqwest::Client,
    url: &str,
    connections: usize,
    duration: Duration,
    pid: Option<u32>,
) -> anyhow::Result<Load> {
    let started = Instant::now();
    let until = started + duration;
    let sampler = pid.map(|pid| {
        tokio::spawn(async move {
            let mut peak = 0;
            while Instant::now() < until {
                if let Ok(rss) = crate::daemon::rss_of(pid) {
                    peak = peak.max(rss);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak
        })
    });
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, url) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut bytes = 0;
            while Instant::now() < until {
                let t = Instant::now();
                let r = client.get(&url).send().await?;
                if !r.status().is_success() {
                    bail!("{url} answered {}", r.status());
                }
                bytes = r.bytes().await?.len();
                latencies.push(t.elapsed());
            }
            Ok((latencies, bytes))
        }));
    }
    let mut all = Vec::new();
    let mut body_bytes = 0;
    for t in tasks {
        let (latencies, bytes) = t.await??;
        all.extend(latencies);
        body_bytes = body_bytes.max(bytes);
    }
    let elapsed = started.elapsed();
    let peak_rss = match sampler {
        Some(s) => Some(s.await?),
        None => None,
    };
    all.sort();
    Ok(Load {
        requests: all.len(),
        elapsed,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        body_bytes,
        peak_rss,
    })
}

/// The `p` quantile of sorted `values` (zero when empty).
pub fn percentile(values: &[Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values[((values.len() as f64 * p) as usize).min(values.len() - 1)]
}
