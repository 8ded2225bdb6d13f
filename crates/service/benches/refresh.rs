//! One full refresh of the service, as issue 3 measures it: 20k tags listed from the fake
//! Artifact Registry on loopback in 1000-image pages, 500 nodes caching 50 images each; or
//! issue 16's 100k tags on 5,000 nodes with `RSP_REFRESH_SCALE=100k`.
//!
//! Run: `cargo bench -p rsp-service --bench refresh`. Figures are recorded in BENCHMARKS.md
//! ("Full refresh").
//!
//! - `full_refresh/end_to_end`: listing (HTTP, paging, JSON) → catalog →
//!   `ListingOnNodes::new` (node presence) → prepull plan → menu, `/images` and `/prepulls`
//!   bodies serialised to JSON.
//! - `full_refresh/without_transfer`: the same from the listing's images already in memory
//!   (`listing_from_gar` over the same `GarImage`s, as the source does after its requests).
//! - `stages/*`: each step alone, to see where the time goes.
//!
//! Without criterion: `RSP_REFRESH_BREAKDOWN=15` prints the median time of each step of 15
//! refreshes; `RSP_REFRESH_PROFILE=1` runs one in-memory refresh, for
//! `valgrind --tool=callgrind` on the bench binary.
//!
//! The data is generated and deterministic, shaped like a real RSP repository over ~40 years:
//! weeklies with `-amd64`/`-arm64` twins and SAL cycle builds, weekday dailies, releases with
//! candidates, RSP builds and arch twins, experimentals, per-cycle aliases and the well-known
//! aliases (`recommended`, `latest_*`) sharing digests with the newest images; nodes cache the
//! prepull set (some still miss the newest daily), a mix of recent and older lab images, and a
//! few system images of other registries.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use criterion::{criterion_group, BatchSize, Criterion};
use rsp_config::{Config, SourceConfig};
use rsp_model::listing::Listing;
use rsp_model::node::{CachedImage, ImageNames, NodeInfo, Taint};
use rsp_model::plan::PulledSet;
use rsp_model::selected::SelectedNodes;
use rsp_model::Tag;
use rsp_registry::source::{listing_from_gar, GoogleSource, ImageSource};
use rsp_registry::GarImage;
use rsp_service::served::{self, ListingOnNodes, PrepullErrors};
use rsp_testkit::gar::{DockerImage, FakeGar, GarRepository};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

/// The size of the generated data: issue 3's 20k tags on 500 nodes by default, or issue 16's
/// 100k tags on 5,000 nodes with `RSP_REFRESH_SCALE=100k`. Each scale has groups of its own
/// (`full_refresh`, `full_refresh_100k`), so criterion never compares one with the other.
#[derive(Clone, Copy)]
struct Scale {
    tags: usize,
    nodes: usize,
    suffix: &'static str,
}

fn scale() -> Scale {
    match std::env::var("RSP_REFRESH_SCALE").as_deref() {
        Err(_) | Ok("20k") => Scale {
            tags: 20_000,
            nodes: 500,
            suffix: "",
        },
        Ok("100k") => Scale {
            tags: 100_000,
            nodes: 5_000,
            suffix: "_100k",
        },
        Ok(other) => {
            eprintln!("RSP_REFRESH_SCALE={other} is not a scale: use 20k or 100k");
            std::process::exit(2)
        }
    }
}
const CACHED_PER_NODE: usize = 50;
const LOCATION: &str = "us-central1";
const PROJECT: &str = "rubin-shared";
const REPOSITORY: &str = "sciplat";
const IMAGE: &str = "sciplat-lab";
const BASE: &str = "us-central1-docker.pkg.dev/rubin-shared/sciplat/sciplat-lab";

/// One image of the generated repository: its tags (aliases share it) and what it is.
struct Generated {
    tags: Vec<String>,
    digest: String,
    /// Plain weekly or daily: what nodes tend to cache.
    recent_kind: bool,
}

/// Tags of a repository, oldest first, exactly `tags` of them.
fn generate(tags: usize) -> Vec<Generated> {
    let mut images: Vec<Generated> = Vec::new();
    let mut count = 0usize;
    let mut next = 0u64;
    let mut add = |images: &mut Vec<Generated>, tags: Vec<String>, recent_kind: bool| {
        next += 1;
        count += tags.len();
        images.push(Generated {
            tags,
            digest: format!("sha256:{:064x}", next.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            recent_kind,
        });
        count
    };
    // Room for the four well-known aliases added at the end.
    let limit = tags - 4;
    let mut year = 1990;
    'years: loop {
        let cycle = 20 + (year - 1990) / 2;
        let major = year - 1990 + 1;
        for minor in 0..3u32 {
            let build = 100 + (year - 1990) as u32 * 10 + minor;
            let release = [
                vec![format!("r{major}_{minor}_0_rc1")],
                vec![format!("r{major}_{minor}_0_rc2")],
                vec![format!("r{major}_{minor}_0")],
                vec![format!("r{major}_{minor}_0-amd64")],
                vec![format!("r{major}_{minor}_1_c{cycle:04}.001_rsp{build}")],
            ];
            for tags in release {
                if add(&mut images, tags, false) >= limit {
                    break 'years;
                }
            }
        }
        let mut day = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
        let mut cycle_build = 0;
        while day.year() == year {
            let weekday = day.weekday();
            if weekday != Weekday::Sat && weekday != Weekday::Sun {
                let daily = day.format("d_%Y_%m_%d").to_string();
                if add(&mut images, vec![daily], true) >= limit {
                    break 'years;
                }
            }
            if weekday == Weekday::Thu {
                let week = day.iso_week();
                let weekly = format!("w_{}_{:02}", week.year(), week.week());
                cycle_build += 1;
                let mut tags = vec![
                    (vec![weekly.clone()], true),
                    (vec![format!("{weekly}-amd64")], false),
                    (vec![format!("{weekly}-arm64")], false),
                    (
                        vec![format!("{weekly}_c{cycle:04}.{cycle_build:03}")],
                        false,
                    ),
                ];
                if week.week().is_multiple_of(4) {
                    tags.push((vec![format!("exp_{weekly}_gpu")], false));
                }
                if week.week() == 50 {
                    // Per-cycle aliases on the year's last cycle build.
                    tags[3].0.push(format!("recommended_c{cycle:04}"));
                    tags[3].0.push(format!("latest_c{cycle:04}"));
                }
                for (tags, recent_kind) in tags {
                    if add(&mut images, tags, recent_kind) >= limit {
                        break 'years;
                    }
                }
            }
            day += Duration::days(1);
        }
        year += 1;
    }
    // The well-known aliases point at the newest images of their kind.
    for (alias, prefix) in [
        ("recommended", "w_"),
        ("latest_weekly", "w_"),
        ("latest_daily", "d_"),
        ("latest_release", "r"),
    ] {
        let newest = images
            .iter_mut()
            .rev()
            .find(|image| {
                let tag = Tag::parse(&image.tags[0]);
                image.tags[0].starts_with(prefix)
                    && !tag.is_arch_specific()
                    && tag.cycle().is_none()
                    && tag.version().is_some_and(|v| v.prerelease.is_none())
            })
            .unwrap();
        newest.tags.push(alias.to_owned());
    }
    assert_eq!(images.iter().map(|i| i.tags.len()).sum::<usize>(), tags);
    images
}

/// A deterministic pseudo-random sequence (no dependency on a generator's stream).
fn mix(a: u64, b: u64) -> u64 {
    let mut x = a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.wrapping_add(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 29)
}

/// The API order is not the collection order: a deterministic shuffle.
fn api_order(images: &[Generated]) -> Vec<&Generated> {
    let mut order: Vec<&Generated> = images.iter().collect();
    order.sort_by_key(|image| {
        let hash = image
            .digest
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        mix(hash, 17)
    });
    order
}

fn docker_images(images: &[Generated]) -> Vec<DockerImage> {
    let repo = GarRepository::new(LOCATION, PROJECT, REPOSITORY);
    api_order(images)
        .into_iter()
        .enumerate()
        .map(|(i, image)| {
            let tags: Vec<&str> = image.tags.iter().map(String::as_str).collect();
            repo.image(IMAGE, &image.digest, &tags, 4_000_000_000 + i as u64 * 1000)
        })
        .collect()
}

fn cached(names: &mut ImageNames, digest: &str, tag: &str, size: u64) -> CachedImage {
    CachedImage {
        references: vec![
            names.share(&format!("{BASE}@{digest}")),
            names.share(&format!("{BASE}:{tag}")),
        ],
        size: Some(size),
    }
}

/// `count` lab nodes (500 by default) of 50 cached images each. Every node has the prepull set except that one
/// node in ten still misses the newest daily; then recent weeklies and dailies (most nodes
/// served labs of them), older lab images, and system images of other registries. One node
/// in fifty is tainted for GPUs, one in a hundred cordoned, one in 125 not ready. Image names
/// are shared by the nodes, as the node watcher shares them.
fn nodes(images: &[Generated], prepull: &[(String, String)], count: usize) -> Vec<NodeInfo> {
    let mut names = ImageNames::default();
    let recent: Vec<&Generated> = images
        .iter()
        .rev()
        .filter(|image| image.recent_kind)
        .take(300)
        .collect();
    let system = ["kube-proxy", "fluent-bit", "pause", "node-exporter"];
    (0..count)
        .map(|n| {
            let mut cache: Vec<CachedImage> = Vec::with_capacity(CACHED_PER_NODE);
            for (i, (tag, digest)) in prepull.iter().enumerate() {
                let newest_daily = i == prepull.len() - 1;
                if !(newest_daily && n % 10 == 3) {
                    cache.push(cached(&mut names, digest, tag, 4_500_000_000));
                }
            }
            for name in system {
                cache.push(CachedImage {
                    references: vec![names.share(&format!(
                        "registry.k8s.io/{name}@sha256:{:064x}",
                        mix(name.len() as u64, 1)
                    ))],
                    size: Some(50_000_000),
                });
            }
            let mut k = 0u64;
            while cache.len() < CACHED_PER_NODE {
                k += 1;
                let r = mix(n as u64, k);
                // Three in four from the recent images, the rest from anywhere.
                let image = if !r.is_multiple_of(4) {
                    recent[(r >> 8) as usize % recent.len()]
                } else {
                    &images[(r >> 8) as usize % images.len()]
                };
                let present = cache
                    .iter()
                    .any(|c| c.references[0].ends_with(&image.digest));
                if !present {
                    cache.push(cached(
                        &mut names,
                        &image.digest,
                        &image.tags[0],
                        4_000_000_000,
                    ));
                }
            }
            let mut taints = Vec::new();
            if n % 50 == 7 {
                taints.push(Taint {
                    key: "nvidia.com/gpu".to_owned(),
                    value: Some("present".to_owned()),
                    effect: "NoSchedule".to_owned(),
                });
            }
            NodeInfo {
                name: format!("gke-rsp-lab-pool-{:08x}-{n:03}", mix(n as u64, 0) as u32),
                labels: BTreeMap::from([
                    ("nublado.lsst.io/permit-lab".to_owned(), "true".to_owned()),
                    (
                        "topology.kubernetes.io/zone".to_owned(),
                        format!("zone-{}", n % 3),
                    ),
                ]),
                taints,
                unschedulable: n % 100 == 42,
                ready: Some(n % 125 != 11),
                ready_since: None,
                images: cache,
            }
        })
        .collect()
}

fn config(api_url: &str) -> Config {
    let text = format!(
        r#"
images:
  source:
    type: google
    location: {LOCATION}
    projectId: {PROJECT}
    repository: {REPOSITORY}
    image: {IMAGE}
    apiUrl: {api_url}
    auth: none
  recommendedTag: recommended
  numReleases: 1
  numWeeklies: 2
  numDailies: 3
dropdownMenu:
  release: {{number: 6}}
  weekly: {{age: 26w}}
  daily: {{age: 3w}}
  releaseCandidate: {{number: 1}}
  experimental: {{age: 8w}}
lab:
  nodeSelector:
    nublado.lsst.io/permit-lab: "true"
  tolerations:
  - {{key: dedicated, value: lab, effect: NoSchedule}}
"#
    );
    Config::from_yaml(&text).expect("bench configuration").0
}

/// Everything after the listing: the bodies a refresh makes the service serve.
struct Output {
    plan: usize,
    bytes: usize,
}

fn after_listing(listing: Listing, ctx: &Context) -> Output {
    let world = ListingOnNodes::from_shared(
        Arc::new(listing),
        Arc::clone(&ctx.nodes),
        &ctx.config,
        &ctx.pulled,
    );
    let plan = served::prepull_plan(&world);
    let menu = serde_json::to_vec(&served::menu(&world, &ctx.config, ctx.now)).unwrap();
    let images = serde_json::to_vec(&served::spawner_images(
        &world,
        &ctx.config.images.recommended_tag,
    ))
    .unwrap();
    let prepulls =
        serde_json::to_vec(&served::prepuller_status(&world, &ctx.config, &ctx.errors)).unwrap();
    Output {
        plan: plan.pulls().count(),
        bytes: menu.len() + images.len() + prepulls.len(),
    }
}

struct Context {
    runtime: tokio::runtime::Runtime,
    _fake: FakeGar,
    source: GoogleSource,
    config: Config,
    raw: Vec<GarImage>,
    /// Shared as the node watcher shares its snapshot with the service.
    /// The node snapshot, made once as the node watcher makes it (a refresh does not
    /// change the nodes).
    nodes: Arc<SelectedNodes>,
    pulled: PulledSet,
    errors: PrepullErrors,
    now: DateTime<Utc>,
    scale: Scale,
}

impl Context {
    fn new() -> Context {
        let scale = scale();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let generated = generate(scale.tags);
        let (fake, source, config, raw) = runtime.block_on(async {
            let fake = FakeGar::start().await.unwrap();
            fake.set_images(
                &GarRepository::new(LOCATION, PROJECT, REPOSITORY),
                docker_images(&generated),
            );
            let config = config(fake.url());
            let SourceConfig::Google(google) = &config.images.source else {
                unreachable!("a google source is configured")
            };
            let source = GoogleSource::new(google, Default::default()).await.unwrap();
            let raw = source.list().await.unwrap();
            (fake, source, config, raw)
        });
        let (registry, repository) = source.registry_and_repository();
        let listing = listing_from_gar(
            registry,
            repository,
            raw.clone(),
            &config.images.listing_rules(),
        );
        let prepull: Vec<(String, String)> = listing
            .prepull_images()
            .iter()
            .map(|image| (image.tag.clone(), image.digest.clone()))
            .collect();
        let nodes = nodes(&generated, &prepull, scale.nodes);
        // The prepuller remembers a few pulls kubelet's list does not show any more, and has
        // a few failures to report.
        let mut pulled = PulledSet::default();
        let mut errors = PrepullErrors::new();
        for node in nodes.iter().step_by(10) {
            pulled.insert(&node.name, &prepull[0].1);
        }
        for node in nodes.iter().skip(3).step_by(10).take(20) {
            let digest = prepull.last().map(|p| p.1.clone()).unwrap();
            errors.insert(
                (node.name.clone(), digest),
                "image pull failed: context deadline exceeded".to_owned(),
            );
        }
        let newest_daily = listing
            .catalog
            .latest(rsp_model::TagKind::Daily)
            .and_then(|image| image.date())
            .unwrap();
        // Moved, not copied, as the node watcher does.
        let nodes = Arc::new(served::select_nodes(nodes, &config));
        Context {
            runtime,
            _fake: fake,
            source,
            config,
            raw,
            nodes,
            pulled,
            errors,
            now: newest_daily + Duration::hours(30),
            scale,
        }
    }

    fn listing_in_memory(&self, raw: Vec<GarImage>) -> Listing {
        let (registry, repository) = self.source.registry_and_repository();
        listing_from_gar(
            registry,
            repository,
            raw,
            &self.config.images.listing_rules(),
        )
    }

    fn listing_over_http(&self) -> Listing {
        self.runtime
            .block_on(self.source.update_images(&self.config.images))
            .unwrap()
    }
}

fn full_refresh(c: &mut Criterion) {
    let ctx = Context::new();
    let listing = ctx.listing_in_memory(ctx.raw.clone());
    let world = ListingOnNodes::from_shared(
        Arc::new(listing.clone()),
        Arc::clone(&ctx.nodes),
        &ctx.config,
        &ctx.pulled,
    );
    let out = after_listing(listing.clone(), &ctx);
    eprintln!(
        "refresh data: {} tags in {} images, {} prepull images, {} nodes ({} eligible) of {} \
         cached images, {} pulls planned, {} bytes of JSON bodies",
        listing.tag_count(),
        ctx.raw.len(),
        listing.prepull_images().len(),
        world.nodes.len(),
        world.eligible.len(),
        ctx.nodes.iter().map(|n| n.images.len()).sum::<usize>(),
        out.plan,
        out.bytes,
    );
    assert_eq!(listing.tag_count(), ctx.scale.tags);

    let mut group = c.benchmark_group(format!("full_refresh{}", ctx.scale.suffix));
    group.bench_function("end_to_end", |b| {
        b.iter(|| black_box(after_listing(ctx.listing_over_http(), &ctx)))
    });
    group.bench_function("without_transfer", |b| {
        b.iter_batched(
            || ctx.raw.clone(),
            |raw| black_box(after_listing(ctx.listing_in_memory(raw), &ctx)),
            BatchSize::LargeInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group(format!("stages{}", ctx.scale.suffix));
    group.bench_function("listing_http", |b| {
        b.iter(|| black_box(ctx.listing_over_http()))
    });
    group.bench_function("listing_in_memory", |b| {
        b.iter_batched(
            || ctx.raw.clone(),
            |raw| black_box(ctx.listing_in_memory(raw)),
            BatchSize::LargeInput,
        )
    });
    let shared = Arc::new(listing);
    group.bench_function("world", |b| {
        b.iter(|| {
            black_box(ListingOnNodes::from_shared(
                Arc::clone(&shared),
                Arc::clone(&ctx.nodes),
                &ctx.config,
                &ctx.pulled,
            ))
        })
    });
    group.bench_function("prepull_plan", |b| {
        b.iter(|| black_box(served::prepull_plan(&world)))
    });
    group.bench_function("menu_json", |b| {
        b.iter(|| serde_json::to_vec(&served::menu(&world, &ctx.config, ctx.now)).unwrap())
    });
    group.bench_function("images_json", |b| {
        b.iter(|| {
            serde_json::to_vec(&served::spawner_images(
                &world,
                &ctx.config.images.recommended_tag,
            ))
            .unwrap()
        })
    });
    group.bench_function("prepulls_json", |b| {
        b.iter(|| {
            serde_json::to_vec(&served::prepuller_status(&world, &ctx.config, &ctx.errors)).unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(4));
    targets = full_refresh
}

/// Wall-clock time of each step of `n` refreshes, medians, printed to stderr: a breakdown
/// that needs no profiler (`RSP_REFRESH_BREAKDOWN=n`).
fn breakdown(n: usize) {
    use std::time::Instant;
    let ctx = Context::new();
    let steps = [
        "listing over HTTP",
        "listing in memory",
        "ListingOnNodes::new",
        "prepull plan",
        "menu body",
        "/images body",
        "/prepulls body",
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); steps.len()];
    for _ in 0..n {
        let raw = ctx.raw.clone();
        let mut lap = Instant::now();
        let mut record = |step: usize| {
            times[step].push(lap.elapsed().as_secs_f64() * 1000.0);
            lap = Instant::now();
        };
        black_box(ctx.listing_over_http());
        record(0);
        let listing = ctx.listing_in_memory(raw);
        record(1);
        let world = ListingOnNodes::from_shared(
            Arc::new(listing),
            Arc::clone(&ctx.nodes),
            &ctx.config,
            &ctx.pulled,
        );
        record(2);
        black_box(served::prepull_plan(&world));
        record(3);
        black_box(serde_json::to_vec(&served::menu(&world, &ctx.config, ctx.now)).unwrap());
        record(4);
        let images = served::spawner_images(&world, &ctx.config.images.recommended_tag);
        black_box(serde_json::to_vec(&images).unwrap());
        record(5);
        let status = served::prepuller_status(&world, &ctx.config, &ctx.errors);
        black_box(serde_json::to_vec(&status).unwrap());
        record(6);
    }
    for (step, mut samples) in steps.iter().zip(times) {
        samples.sort_by(f64::total_cmp);
        eprintln!("{step:>20}: {:8.2} ms (median of {n})", samples[n / 2]);
    }
    // What one page of the fake weighs on the wire.
    let page = serde_json::to_vec(&docker_images(&generate(ctx.scale.tags))[..1000]).unwrap();
    eprintln!(
        "{:>20}: {} bytes per 1000-image page",
        "page size",
        page.len()
    );
}

/// One in-memory refresh and nothing else, for `valgrind --tool=callgrind`
/// (`RSP_REFRESH_PROFILE=1`).
fn profile() {
    let ctx = Context::new();
    let out = after_listing(ctx.listing_in_memory(ctx.raw.clone()), &ctx);
    eprintln!("{} pulls, {} bytes", out.plan, out.bytes);
}

fn main() {
    if let Some(n) = std::env::var("RSP_REFRESH_BREAKDOWN")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        return breakdown(n);
    }
    if std::env::var_os("RSP_REFRESH_PROFILE").is_some() {
        return profile();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
