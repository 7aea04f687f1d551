//! `linkedin-sim`: runs the LinkedIn API simulator as a standalone server.
//!
//! ```text
//! cargo run -p actions-testkit --bin linkedin-sim -- --port 9000 --faults faults.json
//! ```
//! The faults file is a `SimConfig` in JSON (format in the `actions_testkit::linkedin_sim` module
//! docs). The listening address is printed on stdout; Ctrl-C stops the server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use actions_testkit::linkedin_sim::{LinkedInSim, SimConfig};
use clap::Parser;

/// Serve a simulated api.linkedin.com + www.linkedin.com on one port.
#[derive(Debug, Parser)]
#[command(name = "linkedin-sim", version, about)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// JSON file with the simulator configuration (faults, tokens, seed data).
    #[arg(long)]
    faults: Option<PathBuf>,
    /// Overrides the configuration's RNG seed.
    #[arg(long)]
    seed: Option<u64>,
}

fn load_config(args: &Args) -> Result<SimConfig, String> {
    let mut config = match &args.faults {
        None => SimConfig::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            SimConfig::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
    };
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = match load_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("linkedin-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let sim = match LinkedInSim::start_on(SocketAddr::new(args.host, args.port), config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("linkedin-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("linkedin-sim listening on {}", sim.base_url());
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("linkedin-sim: cannot wait for Ctrl-C: {e}");
    }
    let state = sim.state();
    println!(
        "linkedin-sim stopping: {} requests, {} conversion events, {} segments, {} tokens issued",
        state.requests.len(),
        state.conversion_events.len(),
        state.segments.len(),
        state.tokens_issued.len()
    );
    sim.shutdown().await;
    ExitCode::SUCCESS
}
