//! Criterion benchmarks of the model's hot paths: parsing registry listings and building the
//! image catalog (alias resolution by digest), for 10k, 20k and 100k realistic tags.
//!
//! Run: `cargo bench -p rsp-model --bench model`. Figures are recorded in BENCHMARKS.md.
//!
//! The listing is generated, deterministic and shaped like a real RSP repository: releases
//! with RSP builds and candidates, weeklies and dailies over many years, SAL cycles, `-amd64`
//! and `-arm64` twins sharing nothing, experimentals, and aliases (recommended, latest_*,
//! cycle aliases) that share digests with the newest images.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rsp_model::catalog::{ImageCatalog, ListedImage};
use rsp_model::Tag;
use std::hint::black_box;

/// `count` tag names with digests; aliases reuse the digest of the image they point to.
fn listing(count: usize) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(count);
    let mut n = 0usize;
    let mut push = |out: &mut Vec<(String, String)>, name: String, digest: Option<String>| {
        n += 1;
        let digest = digest.unwrap_or_else(|| format!("sha256:{n:064x}"));
        out.push((name, digest));
    };
    let mut year = 2000;
    while out.len() < count {
        let cycle = 20 + (year - 2000) % 40;
        for week in 1..=52 {
            let weekly = format!("w_{year}_{week:02}");
            push(&mut out, weekly.clone(), None);
            let digest = out.last().map(|(_, d)| d.clone());
            push(&mut out, format!("{weekly}-amd64"), None);
            push(&mut out, format!("{weekly}-arm64"), None);
            push(
                &mut out,
                format!("{weekly}_c{cycle:04}.{:03}", week % 7),
                None,
            );
            if week % 13 == 0 {
                push(&mut out, format!("exp_{weekly}_rsp{week}"), None);
                // An alias per quarter pointing at this weekly.
                push(
                    &mut out,
                    format!("latest_weekly_{year}_{week}"),
                    digest.clone(),
                );
                push(&mut out, format!("recommended_c{cycle:04}"), digest);
            }
            for day in 1..=5 {
                let month = (week - 1) / 5 + 1;
                push(
                    &mut out,
                    format!("d_{year}_{month:02}_{:02}", (week % 5) * 5 + day),
                    None,
                );
            }
        }
        let major = year - 1979;
        for minor in 0..3 {
            push(&mut out, format!("r{major}_{minor}_0_rc1"), None);
            push(
                &mut out,
                format!("r{major}_{minor}_0_rsp{}", 100 + minor),
                None,
            );
            let digest = out.last().map(|(_, d)| d.clone());
            push(
                &mut out,
                format!(
                    "r{major}_{minor}_1_c{cycle:04}.001_rsp{}_extra-amd64",
                    100 + minor
                ),
                None,
            );
            push(&mut out, format!("latest_release_{major}_{minor}"), digest);
        }
        year += 1;
    }
    out.truncate(count);
    // The newest images get the well-known aliases.
    let newest = out
        .iter()
        .rev()
        .find(|(n, _)| n.starts_with("w_") && !n.contains('-'))
        .map(|(_, d)| d.clone());
    out.push(("recommended".into(), newest.clone().unwrap_or_default()));
    out.push(("latest".into(), newest.unwrap_or_default()));
    out
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for count in [10_000, 100_000] {
        let names: Vec<String> = listing(count).into_iter().map(|(n, _)| n).collect();
        group.throughput(Throughput::Elements(names.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(count), &names, |b, names| {
            b.iter(|| {
                for name in names {
                    black_box(Tag::parse(black_box(name)));
                }
            })
        });
    }
    group.finish();
}

fn catalog(c: &mut Criterion) {
    let mut group = c.benchmark_group("catalog_build");
    for count in [10_000, 20_000, 100_000] {
        let listed: Vec<ListedImage> = listing(count)
            .into_iter()
            .map(|(name, digest)| ListedImage {
                tag: Tag::parse(&name),
                digest,
                size: Some(1 << 30),
                platforms: Default::default(),
            })
            .collect();
        group.throughput(Throughput::Elements(listed.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(count), &listed, |b, listed| {
            b.iter_batched(
                || listed.clone(),
                |listed| {
                    black_box(ImageCatalog::build(
                        "registry.example",
                        "sciplat/sciplat-lab",
                        listed,
                        None,
                    ))
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = parse, catalog
}
criterion_main!(benches);
