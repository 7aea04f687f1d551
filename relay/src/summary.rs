//! The run summary: what this process accepted, delivered, retried and dead-lettered, per
//! destination instance, as a table.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::instance::Counters;

/// One instance's line of the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstanceSummary {
    /// The instance id.
    pub id: String,
    /// What this process counted.
    pub counters: Counters,
    /// Jobs the store still holds for it.
    pub held: u64,
    /// Why it is halted, if it is.
    pub halted: Option<String>,
}

/// The summary of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Input that was not an event (dead-lettered).
    pub invalid: u64,
    /// Events no subscription matched.
    pub not_subscribed: u64,
    /// Per instance.
    pub instances: Vec<InstanceSummary>,
}

impl Summary {
    /// Dead letters of this run (invalid input included).
    pub fn dead_lettered(&self) -> u64 {
        self.invalid
            + self
                .instances
                .iter()
                .map(|i| i.counters.dead.values().sum::<u64>())
                .sum::<u64>()
    }

    /// Jobs still held (halted instances).
    pub fn held(&self) -> u64 {
        self.instances.iter().map(|i| i.held).sum()
    }

    /// The process exit code of `relay run`: 0 when everything was delivered, 3 when something
    /// was dead-lettered or is held by a halted instance.
    pub fn exit_code(&self) -> i32 {
        if self.dead_lettered() > 0 || self.held() > 0 {
            3
        } else {
            0
        }
    }

    /// The table printed at the end of a run.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, Vec<String>)> = Vec::new();
        let mut row = |name: &str, f: &dyn Fn(&InstanceSummary) -> u64| {
            let mut cells: Vec<String> = self.instances.iter().map(|i| f(i).to_string()).collect();
            cells.push(self.instances.iter().map(f).sum::<u64>().to_string());
            rows.push((name.to_string(), cells));
        };
        row("accepted", &|i| i.counters.accepted);
        row("delivered", &|i| i.counters.delivered);
        row("skipped", &|i| i.counters.skipped);
        row("duplicates prevented", &|i| i.counters.duplicates);
        let keys = |f: &dyn Fn(&Counters) -> &BTreeMap<String, u64>| {
            let mut k: Vec<String> = self
                .instances
                .iter()
                .flat_map(|i| f(&i.counters).keys().cloned())
                .collect();
            k.sort();
            k.dedup();
            k
        };
        row("retried", &|i| i.counters.retried.values().sum());
        for k in keys(&|c| &c.retried) {
            row(&format!("  {k}"), &|i| {
                i.counters.retried.get(&k).copied().unwrap_or(0)
            });
        }
        row("dead-lettered", &|i| i.counters.dead.values().sum());
        for k in keys(&|c| &c.dead) {
            row(&format!("  {k}"), &|i| {
                i.counters.dead.get(&k).copied().unwrap_or(0)
            });
        }
        row("token refreshes", &|i| i.counters.token_refreshes);
        row("rate-limit pauses", &|i| i.counters.rate_limit_pauses);
        row("quota warnings (<10% left)", &|i| i.counters.quota_warnings);
        row("propagation pauses", &|i| i.counters.propagation_pauses);
        row("still held", &|i| i.held);
        let mut header: Vec<String> = self.instances.iter().map(|i| i.id.clone()).collect();
        header.push("total".into());
        let first = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(5);
        let widths: Vec<usize> = header
            .iter()
            .enumerate()
            .map(|(c, h)| {
                rows.iter()
                    .map(|r| r.1.get(c).map_or(0, String::len))
                    .max()
                    .unwrap_or(0)
                    .max(h.len())
            })
            .collect();
        let mut out = String::new();
        let _ = write!(out, "{:first$}", "");
        for (h, w) in header.iter().zip(&widths) {
            let _ = write!(out, "  {h:>w$}");
        }
        out.push('\n');
        for (name, cells) in &rows {
            let _ = write!(out, "{name:first$}");
            for (c, w) in cells.iter().zip(&widths) {
                let _ = write!(out, "  {c:>w$}");
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "input: {} invalid (dead-lettered), {} matched no subscription",
            self.invalid, self.not_subscribed
        );
        for i in &self.instances {
            if let Some(h) = &i.halted {
                let _ = writeln!(out, "{}: HALTED — {h}", i.id);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_exit_code() {
        let mut c = Counters {
            accepted: 10,
            delivered: 9,
            ..Counters::default()
        };
        c.dead.insert("permanent 400".into(), 1);
        c.retried.insert("status 503".into(), 4);
        let s = Summary {
            invalid: 2,
            not_subscribed: 1,
            instances: vec![InstanceSummary {
                id: "li-conv".into(),
                counters: c,
                held: 0,
                halted: None,
            }],
        };
        let t = s.table();
        assert!(t.contains("li-conv"), "{t}");
        let line = t
            .lines()
            .find(|l| l.starts_with("  permanent 400"))
            .unwrap();
        assert!(line.ends_with(" 1"), "{t}");
        let line = t.lines().find(|l| l.starts_with("accepted")).unwrap();
        assert!(line.ends_with("10"), "{t}");
        assert_eq!(s.dead_lettered(), 3);
        assert_eq!(s.exit_code(), 3);
        let ok = Summary {
            invalid: 0,
            not_subscribed: 0,
            instances: vec![],
        };
        assert_eq!(ok.exit_code(), 0);
    }
}
