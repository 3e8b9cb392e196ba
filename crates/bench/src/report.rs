//! The table as Markdown, with the machine it was taken on and issue 14's goals checked.

use std::fmt::Write;
use std::time::Duration;

use crate::table::{ListRow, Table};

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1024.0 / 1024.0)
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    crate::load::percentile(&v, 0.5)
}

/// CPU model, core count, memory and kernel, from `/proc`.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or("?".into(), |kb| {
            format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {cores} cores, {memory} RAM, Linux {}",
        kernel.trim()
    )
}

fn row_at(table: &Table, personas: usize) -> Option<&ListRow> {
    table.list.iter().find(|r| r.personas == personas)
}

pub fn render(table: &Table, command: &str) -> String {
    let mut out = String::new();
    let o = &table.options;
    let date = time::OffsetDateTime::now_utc();
    let _ = writeln!(
        out,
        "# Benchmark table, {}-{:02}-{:02} {:02}:{:02} UTC\n",
        date.year(),
        u8::from(date.month()),
        date.day(),
        date.hour(),
        date.minute()
    );
    let _ = writeln!(out, "- command: `{command}` (took {:.0?})", table.took);
    let _ = writeln!(out, "- machine: {}", machine());
    let _ = writeln!(
        out,
        "- daemon: `{}`; load: {} keep-alive connections, closed loop, {} s per size, client on the same machine\n",
        o.binary.display(),
        o.connections,
        if o.quick { 2 } else { 5 }
    );

    let _ = writeln!(out, "## `GET /api/personas` (hibernating personas)\n");
    let against = o.against.is_some();
    let _ = write!(
        out,
        "| personas on disk | index kept by | req/s | p50 | p99 | list size | idle RSS | RSS under load | first answer after spawn | folders written |"
    );
    if against {
        let _ = write!(out, " other req/s | other p50 | other p99 | ratio |");
    }
    let _ = writeln!(out);
    let _ = write!(out, "|---|---|---|---|---|---|---|---|---|---|");
    if against {
        let _ = write!(out, "---|---|---|---|");
    }
    let _ = writeln!(out);
    for r in &table.list {
        let _ = write!(
            out,
            "| {} | {} | {:.0} | {} | {} | {:.0} KiB | {} | {} | {} | {} in {:.1?} |",
            r.personas,
            match r.watched {
                Some(true) => "watch",
                Some(false) => "stat",
                None => "?",
            },
            r.ours.per_second(),
            ms(r.ours.p50),
            ms(r.ours.p99),
            r.ours.body_bytes as f64 / 1024.0,
            mib(r.idle_rss),
            r.ours.peak_rss.map_or("—".into(), mib),
            ms(r.first_answer),
            r.written.0,
            r.written.1
        );
        if let Some(t) = &r.theirs {
            let _ = write!(
                out,
                " {:.0} | {} | {} | {:.1}× |",
                t.per_second(),
                ms(t.p50),
                ms(t.p99),
                r.ours.per_second() / t.per_second().max(f64::MIN_POSITIVE)
            );
        }
        let _ = writeln!(out);
    }
    if let Some(last) = table.list.last()
        && let Some(after) = last.rss_after
    {
        let _ = writeln!(
            out,
            "\nRSS 15 s after the load at {} personas: {} (idle before it: {}).",
            last.personas,
            mib(after),
            mib(last.idle_rss)
        );
    }

    let _ = writeln!(out, "\n## Start to first answer\n");
    let _ = writeln!(
        out,
        "| active personas | their provider | first answered list after spawn | running when the wait ended | at | RSS then |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for s in &table.start {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            s.active,
            s.provider,
            ms(s.first_answer),
            s.running,
            ms(s.waited),
            mib(s.rss)
        );
    }

    let ops = &table.operations;
    let _ = writeln!(out, "\n## Operations\n");
    let _ = writeln!(out, "| what | figure |");
    let _ = writeln!(out, "|---|---|");
    let _ = writeln!(
        out,
        "| create (API, local Mind, first diary) | median {} over {} |",
        ms(median(&ops.create)),
        ops.create.len()
    );
    let _ = writeln!(
        out,
        "| sleep (API, diary of a new persona) | median {} over {} |",
        ms(median(&ops.sleep)),
        ops.sleep.len()
    );
    let _ = writeln!(
        out,
        "| message: `/v1/chat/completions` round trip, instant fake Mind | p50 {}, p99 {} over {} |",
        ms(crate::load::percentile(&ops.message, 0.5)),
        ms(crate::load::percentile(&ops.message, 0.99)),
        ops.message.len()
    );
    let _ = writeln!(
        out,
        "| identity `process` in-process, one core | {:.2} M cycles/s |",
        table.identity_cycles / 1e6
    );
    let h = &ops.identity_http;
    let _ = writeln!(
        out,
        "| identity `process` over HTTP, durable, {} clients on {} instances | {:.0} req/s, p50 {}, p99 {} |",
        o.connections,
        o.connections,
        h.per_second(),
        ms(h.p50),
        ms(h.p99)
    );
    let _ = writeln!(
        out,
        "| diary sealing (zip + Fernet), key derived once | {:.0} MiB/s (key derivation {}) |",
        table.diary.0,
        ms(table.diary.1)
    );

    let d = &table.disk_check;
    let _ = writeln!(
        out,
        "\n## Keeping the index true to the disk, at {} personas\n",
        d.personas
    );
    let _ = writeln!(out, "| way | cost per list | set-up | note |");
    let _ = writeln!(out, "|---|---|---|---|");
    let _ = writeln!(
        out,
        "| stat check (the fallback: one `stat` per persona + the folder's) | {} | none | a hand edit is seen at the next read |",
        ms(d.stat_per_list)
    );
    let _ = writeln!(
        out,
        "| `notify` (in use: one recursive inotify watch on `personas/`) | {} | {} for {} watches (limit {}) | marked stale {} after a hand edit{} |",
        ms(d.notify_per_list),
        ms(d.notify_setup),
        d.notify_watches,
        d.max_user_watches.map_or("?".into(), |w| w.to_string()),
        d.notify_latency.map_or("not seen".into(), ms),
        d.notify_error
            .as_ref()
            .map_or(String::new(), |e| format!("; stopped: {e}"))
    );

    let _ = writeln!(out, "\n## Issue 14's goals\n");
    for line in goals(table) {
        let _ = writeln!(out, "- {line}");
    }
    out
}

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**not met**" }
}

fn goals(table: &Table) -> Vec<String> {
    let mut lines = Vec::new();
    if let (Some(empty), Some(hundred)) = (row_at(table, 0), row_at(table, 100)) {
        let (e, h) = (empty.ours.per_second(), hundred.ours.per_second());
        lines.push(format!(
            "100 personas: {h:.0} req/s (floor 4,500), {:.1}× below the empty list's {e:.0} (aim ≤ 4×), p99 {} (aim < 2 ms): {}",
            e / h,
            ms(hundred.ours.p99),
            verdict(h >= 4500.0 && e / h <= 4.0 && hundred.ours.p99 < Duration::from_millis(2))
        ));
    }
    if let Some(big) = row_at(table, 10000) {
        let peak = big.ours.peak_rss.unwrap_or(0);
        let after_ok = big.rss_after.is_some_and(|a| a <= 2 * big.idle_rss);
        lines.push(format!(
            "10,000 personas: {:.0} req/s (≥ 200), p99 {} (< 100 ms), RSS under load {} (< 100 MB), 15 s after {} (≤ 2× idle {}): {}",
            big.ours.per_second(),
            ms(big.ours.p99),
            mib(peak),
            big.rss_after.map_or("—".into(), mib),
            mib(big.idle_rss),
            verdict(
                big.ours.per_second() >= 200.0
                    && big.ours.p99 < Duration::from_millis(100)
                    && peak < 100_000_000
                    && after_ok
            )
        ));
    }
    let worst = table.start.iter().map(|s| s.first_answer).max();
    if let Some(worst) = worst {
        let answering = table
            .start
            .iter()
            .find(|s| s.active == 100 && s.provider == "answering");
        let all_running =
            answering.is_some_and(|s| s.running == 100 && s.waited < Duration::from_secs(5));
        lines.push(format!(
            "first answer < 50 ms after spawn in every start case (worst {}), all 100 running within 5 s when they answer ({}): {}",
            ms(worst),
            answering.map_or("—".into(), |s| format!("{} in {}", s.running, ms(s.waited))),
            verdict(worst < Duration::from_millis(50) && all_running)
        ));
    }
    if let (Some(hundred), Some(running)) = (
        row_at(table, 100),
        table
            .start
            .iter()
            .find(|s| s.active == 100 && s.provider == "answering"),
    ) {
        let per = running.rss.saturating_sub(hundred.idle_rss) / 100;
        lines.push(format!(
            "idle RSS with 100 personas on disk {} (< 20 MB); about {:.0} KB per running persona (100 running: {}; < 100 KB): {}",
            mib(hundred.idle_rss),
            per as f64 / 1000.0,
            mib(running.rss),
            verdict(hundred.idle_rss < 20_000_000 && per < 100_000)
        ));
    }
    lines
}
