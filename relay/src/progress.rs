//! Progress while relay works: an indicatif bar when stderr is a terminal, plain lines
//! otherwise.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use crate::Relay;

/// Reports `relay`'s progress until the returned task is aborted.
pub fn spawn(relay: Arc<Relay>, label: &'static str) -> tokio::task::JoinHandle<()> {
    let terminal = std::io::stderr().is_terminal();
    tokio::spawn(async move {
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        let mut last = String::new();
        loop {
            tokio::time::sleep(Duration::from_millis(if terminal { 150 } else { 1000 })).await;
            let c = relay.counters();
            let accepted: u64 = c.values().map(|c| c.accepted).sum();
            let done: u64 = c
                .values()
                .map(|c| c.delivered + c.skipped + c.dead.values().sum::<u64>())
                .sum();
            let retried: u64 = c.values().map(|c| c.retried.values().sum::<u64>()).sum();
            let pauses: u64 = c
                .values()
                .map(|c| c.rate_limit_pauses + c.propagation_pauses)
                .sum();
            let msg = format!("retries {retried}, pauses {pauses}");
            match &bar {
                Some(bar) => {
                    bar.set_length(accepted);
                    bar.set_position(done);
                    bar.set_message(msg);
                }
                None => {
                    let line = format!("{label}: {done}/{accepted} done, {msg}");
                    if line != last {
                        eprintln!("{line}");
                        last = line;
                    }
                }
            }
        }
    })
}
