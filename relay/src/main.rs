//! The `relay` command: `run`, `status`, `dlq`, `demo`. See `relay --help` and relay/README.md.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use relay::config::{Config, QueueKind};
use relay::queue::{EmbeddedQueue, JetStreamQueue, Queue, Selection};
use relay::{Relay, RelayError};
use serde_json::Value;

/// Durable delivery of events to destinations: queue, retries that honour the partner's hints,
/// idempotency ledger, dead letters.
#[derive(Parser)]
#[command(name = "relay", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Accept NDJSON events (if given) into the store, then deliver until every accepted event is
    /// delivered or dead-lettered; print a summary. Exit 0: all delivered; 3: some dead-lettered
    /// (or held by a halted destination); 1: configuration or store error.
    Run {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// NDJSON events to accept first (`-` reads standard input).
        #[arg(long)]
        input: Option<String>,
        /// How long in-flight attempts may finish after SIGTERM / ctrl-c.
        #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
        grace: Duration,
        /// Most events in one attempt of a batch-capable action (default: each destination's
        /// `batch.size`, 1000; never above the action's maximum).
        #[arg(long)]
        batch_size: Option<usize>,
    },
    /// Run the HTTP ingest (Segment's tracking API, `[ingest]`) and delivery together until
    /// SIGTERM / ctrl-c; then stop taking requests, let in-flight attempts finish (bounded by
    /// --grace) and print the summary.
    Serve {
        /// The configuration file (needs an `[ingest]` table).
        #[arg(long)]
        config: PathBuf,
        /// How long in-flight attempts may finish after SIGTERM / ctrl-c.
        #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
        grace: Duration,
    },
    /// A delivery worker without HTTP ingest: deliver from the queue until SIGTERM / ctrl-c
    /// (with `[queue] kind = "jetstream"`, run several on one stream; `relay run --input` or
    /// `relay serve` elsewhere publish to it). Prints this worker's summary when it stops.
    Work {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// How long in-flight attempts may finish after SIGTERM / ctrl-c.
        #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
        grace: Duration,
        /// Most events in one attempt of a batch-capable action.
        #[arg(long)]
        batch_size: Option<usize>,
    },
    /// Queue depth, due and scheduled counts, oldest event age, dead letters by reason and
    /// pauses, per destination.
    Status {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Dead letters: list, show, replay, purge.
    Dlq {
        /// The configuration file.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Offline demo: the LinkedIn simulator in-process with faults, both LinkedIn destinations,
    /// a few thousand events; checks that every delivered event arrived exactly once.
    #[cfg(feature = "demo")]
    Demo {
        /// How many conversion events to generate (audience events are a fifth of that).
        #[arg(long, default_value_t = 3000)]
        events: usize,
        /// Seed of the simulator's faults and of the jitter.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// The queue backend: `embedded` (a temporary store) or `jetstream` (needs --nats-url).
        #[arg(long, default_value = "embedded")]
        queue: String,
        /// The NATS server(s) of `--queue jetstream` (comma-separated).
        #[arg(long)]
        nats_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum DlqCommand {
    /// One line per dead letter: id, destination, reason.
    List,
    /// One dead letter in full (event, reason, last status and response, attempts, times).
    Show {
        /// The dead letter's id.
        id: String,
    },
    /// Put dead letters back in the queue with a fresh budget (delivered by the next `run`).
    Replay {
        /// Dead letter ids.
        ids: Vec<String>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
    /// Delete dead letters.
    Purge {
        /// Dead letter ids.
        ids: Vec<String>,
        /// Every dead letter.
        #[arg(long)]
        all: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("relay: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Run {
                config,
                input,
                grace,
                batch_size,
            } => run(&config, input.as_deref(), grace, batch_size).await,
            Command::Serve { config, grace } => serve(&config, grace).await,
            Command::Work {
                config,
                grace,
                batch_size,
            } => work(&config, grace, batch_size).await,
            Command::Status { config } => status(&config).await,
            Command::Dlq { config, command } => match config {
                Some(config) => dlq(&config, command).await,
                None => Err("--config FILE is required".to_string()),
            },
            #[cfg(feature = "demo")]
            Command::Demo {
                events,
                seed,
                queue,
                nats_url,
            } => {
                let backend = match (queue.as_str(), nats_url) {
                    ("embedded", None) => Ok(relay::demo::Backend::Embedded),
                    ("jetstream", Some(url)) => Ok(relay::demo::Backend::JetStream(url)),
                    ("jetstream", None) => {
                        Err("--queue jetstream needs --nats-url URL".to_string())
                    }
                    ("embedded", Some(_)) => Err("--nats-url goes with --queue jetstream".into()),
                    (other, _) => Err(format!("--queue {other:?}: give embedded or jetstream")),
                };
                match backend {
                    Ok(b) => relay::demo::run_on(events, seed, b)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                }
            }
        }
    });
    match code {
        Ok(c) => ExitCode::from(c),
        Err(e) => {
            eprintln!("relay: {e}");
            ExitCode::from(1)
        }
    }
}

fn load(path: &Path) -> Result<Config, String> {
    Config::load(path).map_err(|e| e.to_string())
}

fn err(e: RelayError) -> String {
    e.to_string()
}

/// Reads NDJSON lines into accept items: a malformed line becomes an error item naming its
/// line number.
fn parse_line(n: usize, line: &str) -> Option<Result<Value, (String, String)>> {
    if line.trim().is_empty() {
        return None;
    }
    Some(
        serde_json::from_str::<Value>(line)
            .map_err(|e| (line.to_string(), format!("line {n}: not valid JSON: {e}"))),
    )
}

async fn run(
    config: &Path,
    input: Option<&str>,
    grace: Duration,
    batch_size: Option<usize>,
) -> Result<u8, String> {
    let config = load(config)?;
    let mut builder = Relay::builder(config).shutdown_grace(grace);
    if let Some(n) = batch_size {
        builder = builder.batch_size(n);
    }
    let relay = Arc::new(builder.build().await.map_err(err)?);
    let stopper = relay.clone();
    let stopped = Arc::new(tokio::sync::Notify::new());
    let stopped2 = stopped.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("relay: stopping (in-flight attempts may finish)…");
        stopper.shutdown().await;
        stopped2.notify_one();
    });
    let progress = relay::progress::spawn(relay.clone(), "relay");
    if let Some(input) = input {
        accept_input(&relay, input).await?;
    }
    let summary = tokio::select! {
        s = relay.run_until_idle() => s.map_err(err)?,
        _ = stopped.notified() => relay.summary().await.map_err(err)?,
    };
    progress.abort();
    relay.shutdown().await;
    print!("{}", summary.table());
    Ok(u8::try_from(summary.exit_code()).unwrap_or(1))
}

async fn serve(config: &Path, grace: Duration) -> Result<u8, String> {
    let config = load(config)?;
    let Some(ingest) = config.ingest.clone() else {
        return Err(format!(
            "{}: relay serve needs an [ingest] table (listen, write_keys)",
            config
                .origin
                .as_ref()
                .map_or("the configuration", |o| o.name.as_str())
        ));
    };
    let relay = Arc::new(
        Relay::builder(config)
            .shutdown_grace(grace)
            .build()
            .await
            .map_err(err)?,
    );
    let listener = tokio::net::TcpListener::bind(&ingest.listen.value)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", ingest.listen.value))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", ingest.listen.value))?;
    eprintln!(
        "relay: listening on http://{addr} (POST /v1/batch, /v1/track, …; GET /health, /metrics)"
    );
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("relay: stopping (requests in progress and in-flight attempts may finish)…");
        let _ = tx.send(());
    });
    relay::ingest::serve(relay.clone(), &ingest, listener, async move {
        let _ = rx.await;
    })
    .await
    .map_err(|e| format!("the HTTP ingest failed: {e}"))?;
    relay.shutdown().await;
    let summary = relay.summary().await.map_err(err)?;
    print!("{}", summary.table());
    Ok(0)
}

async fn work(config: &Path, grace: Duration, batch_size: Option<usize>) -> Result<u8, String> {
    let config = load(config)?;
    let mut builder = Relay::builder(config).shutdown_grace(grace);
    if let Some(n) = batch_size {
        builder = builder.batch_size(n);
    }
    let relay = builder.build().await.map_err(err)?;
    eprintln!("relay: worker delivering until SIGTERM / ctrl-c");
    wait_for_signal().await;
    eprintln!("relay: stopping (in-flight attempts may finish)…");
    relay.shutdown().await;
    let summary = relay.summary().await.map_err(err)?;
    print!("{}", summary.table());
    Ok(0)
}

async fn accept_input(relay: &Relay, input: &str) -> Result<(), String> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Result<Value, (String, String)>>>(4);
    let path = input.to_string();
    let reader = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let source: Box<dyn BufRead> = if path == "-" {
            Box::new(std::io::BufReader::new(std::io::stdin()))
        } else {
            let f = std::fs::File::open(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
            Box::new(std::io::BufReader::new(f))
        };
        let mut chunk = Vec::with_capacity(1000);
        for (i, line) in source.lines().enumerate() {
            let line = line.map_err(|e| format!("reading the input failed: {e}"))?;
            if let Some(item) = parse_line(i + 1, &line) {
                if let Err((_, reason)) = &item {
                    eprintln!("relay: {reason}");
                }
                chunk.push(item);
            }
            if chunk.len() >= 1000 && tx.blocking_send(std::mem::take(&mut chunk)).is_err() {
                return Ok(());
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
        Ok(())
    });
    while let Some(chunk) = rx.recv().await {
        relay.accept_all(chunk).await.map_err(err)?;
    }
    reader
        .await
        .map_err(|e| format!("the input reader failed: {e}"))?
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn age(now: i64, at: i64) -> String {
    let secs = u64::try_from((now - at) / 1000).unwrap_or(0);
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The queue for reading: the embedded store read-only (`None` when there is none yet), or the
/// JetStream stream.
async fn open_for_reading(config: &Config) -> Result<Option<Arc<dyn Queue>>, String> {
    if config.queue.kind == QueueKind::Jetstream {
        return open_writable(config).await.map(Some);
    }
    let dir = &config.store.path;
    if !dir.join(relay::queue::embedded_file_name()).exists() {
        return Ok(None);
    }
    EmbeddedQueue::open_read_only(dir)
        .map(|q| Some(Arc::new(q) as Arc<dyn Queue>))
        .map_err(|e| e.to_string())
}

async fn open_writable(config: &Config) -> Result<Arc<dyn Queue>, String> {
    relay::open_queue(config, Arc::new(now))
        .await
        .map_err(|e| e.to_string())
}

/// `relay status` of a JetStream queue: the streams and every consumer.
async fn jetstream_status(config: &Config) -> Result<(), String> {
    let q = JetStreamQueue::connect(
        &config.queue,
        config.store.ledger_window,
        config.retry.max_age,
        Arc::new(now),
    )
    .await
    .map_err(|e| e.to_string())?;
    let (jobs, dead) = q.stream_figures().await.map_err(|e| e.to_string())?;
    println!(
        "JetStream {} stream {}: {jobs} jobs; {}_DLQ: {dead} dead letters",
        config.queue.url, config.queue.stream, config.queue.stream
    );
    for f in q.consumer_figures().await.map_err(|e| e.to_string())? {
        println!(
            "  consumer {} ({}): pending {}  ack-pending {}  redelivered {}  waiting pulls {}",
            f.consumer, f.instance, f.pending, f.ack_pending, f.redelivered, f.waiting
        );
    }
    Ok(())
}

async fn status(config: &Path) -> Result<u8, String> {
    let config = load(config)?;
    if config.queue.kind == QueueKind::Jetstream {
        jetstream_status(&config).await?;
    }
    let Some(queue) = open_for_reading(&config).await? else {
        println!(
            "no store at {} yet: nothing accepted",
            config.store.path.display()
        );
        return Ok(0);
    };
    let now = chrono::Utc::now().timestamp_millis();
    let stats = queue.stats(now).await.map_err(|e| e.to_string())?;
    let mut ids: Vec<String> = config
        .destinations
        .iter()
        .map(|d| d.id.value.clone())
        .collect();
    for k in stats.keys() {
        if !ids.contains(k) {
            ids.push(k.clone());
        }
    }
    for id in ids {
        let name = if id.is_empty() {
            "(invalid input)"
        } else {
            &id
        };
        let s = stats.get(&id).cloned().unwrap_or_default();
        println!("{name}");
        println!(
            "  queue depth {}  due {}  scheduled {}  oldest {}  delivered (ledger) {}",
            s.depth,
            s.due,
            s.scheduled,
            s.oldest_accepted_ms
                .map_or_else(|| "-".to_string(), |a| age(now, a)),
            s.ledger
        );
        if !id.is_empty()
            && let Some(state) = queue.instance_state(&id).await.map_err(|e| e.to_string())?
        {
            if let Some(h) = &state.halted {
                println!("  HALTED: {h} (fix the credentials in the configuration and run again)");
            }
            if let Some(until) = state.paused_until_ms.filter(|u| *u > now) {
                println!(
                    "  paused for {} more: {}",
                    age(until, now),
                    state.pause_reason.unwrap_or_default()
                );
            }
        }
        let dead: u64 = s.dead_letters.values().sum();
        println!("  dead letters {dead}");
        for (reason, n) in &s.dead_letters {
            println!("    {n:>6}  {reason}");
        }
    }
    Ok(0)
}

fn selection(ids: Vec<String>, all: bool) -> Result<Selection, String> {
    match (all, ids.is_empty()) {
        (true, true) => Ok(Selection::All),
        (false, false) => Ok(Selection::Ids(ids)),
        (true, false) => Err("give dead letter ids or --all, not both".into()),
        (false, true) => Err("give dead letter ids, or --all".into()),
    }
}

async fn dlq(config: &Path, command: DlqCommand) -> Result<u8, String> {
    let config = load(config)?;

    match command {
        DlqCommand::List => {
            let Some(q) = open_for_reading(&config).await? else {
                return Ok(0);
            };
            for d in q.dead_letters().await.map_err(|e| e.to_string())? {
                let instance = if d.instance().is_empty() {
                    "-"
                } else {
                    d.instance()
                };
                println!("{}  {instance}  {}  {}", d.id, d.category, d.reason);
            }
        }
        DlqCommand::Show { id } => {
            let q = open_for_reading(&config)
                .await?
                .ok_or("there is no store yet")?;
            let d = q
                .dead_letter(&id)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no dead letter {id}"))?;
            let event =
                serde_json::from_str::<Value>(&d.event).unwrap_or(Value::String(d.event.clone()));
            let out = serde_json::json!({
                "id": d.id,
                "instance": d.key.as_ref().map(|k| k.instance.clone()),
                "action": d.key.as_ref().map(|k| k.action.clone()),
                "messageId": d.key.as_ref().map(|k| k.message_id.clone()),
                "category": d.category,
                "reason": d.reason,
                "last_status": d.last_status,
                "last_response": d.last_response,
                "attempts": d.attempts,
                "accepted_at": rfc3339(d.accepted_ms),
                "first_attempt_at": d.first_attempt_ms.map(rfc3339),
                "last_attempt_at": d.last_attempt_ms.map(rfc3339),
                "dead_at": rfc3339(d.dead_ms),
                "event": event,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
            );
        }
        DlqCommand::Replay { ids, all } => {
            let which = selection(ids, all)?;
            let q = open_writable(&config).await?;
            let r = q.replay(which, now()).await.map_err(|e| e.to_string())?;
            for (id, job) in &r.requeued {
                println!("{id}: queued again as job {job}");
            }
            for (id, why) in &r.resolved {
                println!("{id}: removed: {why}");
            }
            for (id, why) in &r.kept {
                println!("{id}: kept: {why}");
            }
            println!(
                "{} queued again (delivered by the next `relay run`), {} resolved, {} kept",
                r.requeued.len(),
                r.resolved.len(),
                r.kept.len()
            );
        }
        DlqCommand::Purge { ids, all } => {
            let which = selection(ids, all)?;
            let q = open_writable(&config).await?;
            let n = q.purge(which).await.map_err(|e| e.to_string())?;
            println!("{n} dead letters deleted");
        }
    }
    Ok(0)
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
