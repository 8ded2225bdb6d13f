//! An open-loop load generator for the spawner API: sends requests at a fixed rate, whatever
//! the server's latency, and reports throughput, failures and latency percentiles.
//!
//! Latency is measured from the moment each request was *scheduled*, not sent, so a server
//! that falls behind is charged for the queueing it causes (no coordinated omission).
//!
//! ```text
//! cargo run --release -p rsp-service --example load -- \
//!     http://127.0.0.1:8080/nublado/spawner/v1/images [--rate 1000] [--seconds 10] [--gzip]
//! ```

use std::time::{Duration, Instant};

struct Options {
    url: String,
    rate: u32,
    seconds: u64,
    gzip: bool,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        url: String::new(),
        rate: 1000,
        seconds: 10,
        gzip: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--rate" => {
                options.rate = value("--rate")?
                    .parse()
                    .map_err(|e| format!("--rate: {e}"))?
            }
            "--seconds" => {
                options.seconds = value("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?
            }
            "--gzip" => options.gzip = true,
            url if !url.starts_with("--") && options.url.is_empty() => options.url = url.to_owned(),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    if options.url.is_empty() || options.rate == 0 {
        return Err("usage: load URL [--rate N] [--seconds N] [--gzip]".into());
    }
    Ok(options)
}

/// The outcome of one request: latency from its scheduled start, or why it failed.
type Outcome = Result<(Duration, usize), String>;

async fn one(client: reqwest::Client, url: String, gzip: bool, scheduled: Instant) -> Outcome {
    let mut request = client.get(&url);
    if gzip {
        request = request.header("accept-encoding", "gzip");
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    Ok((scheduled.elapsed(), body.len()))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("load: {message}");
            std::process::exit(2);
        }
    };
    // The body is taken as sent: a hub's client inflates it on its own machine, and
    // inflating megabytes a thousand times a second here would measure this client, which
    // shares the server's cores (the workspace enables reqwest's gzip for the registry).
    let client = reqwest::Client::builder()
        .no_gzip()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    let total = options.rate as u64 * options.seconds;
    let interval = Duration::from_secs(1) / options.rate;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let scheduled = start + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        tasks.spawn(one(
            client.clone(),
            options.url.clone(),
            options.gzip,
            scheduled,
        ));
    }
    let mut latencies = Vec::with_capacity(total as usize);
    let mut failures: Vec<String> = Vec::new();
    let mut bytes = 0usize;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok((latency, size))) => {
                latencies.push(latency);
                bytes += size;
            }
            Ok(Err(error)) => failures.push(error),
            Err(error) => failures.push(error.to_string()),
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    println!(
        "url: {}{}",
        options.url,
        if options.gzip { " (gzip)" } else { "" }
    );
    println!(
        "requests: {total} at {} /s for {} s; completed {} ({:.0} /s), failed {}",
        options.rate,
        options.seconds,
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        failures.len()
    );
    println!(
        "body: {:.0} bytes on average",
        bytes as f64 / latencies.len().max(1) as f64
    );
    println!(
        "latency: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 90.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    if let Some(first) = failures.first() {
        println!("first failure: {first}");
        std::process::exit(1);
    }
}
