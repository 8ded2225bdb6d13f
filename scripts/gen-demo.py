#!/usr/bin/env python3
"""Generates the embedded demo: a registry snapshot and a NodeList.

The snapshot has the shape `rsp-images snapshot` writes (Artifact Registry `dockerImages`):
a few thousand tags over several years, as a busy lab-image repository has them: releases
with release candidates, weeklies, dailies, experimentals, T&S cycle builds, architecture
twins, and the `recommended` / `latest_*` aliases sharing a digest with what they point at.
The nodes are a handful of lab nodes with realistic cached images, one cordoned, one tainted.

Run from the project root: `python3 scripts/gen-demo.py` (deterministic output). For load
tests, `python3 scripts/gen-demo.py --tags 20000 --nodes 500 --out target/load` makes the same
kind of repository with more history (older dailies with arch twins) and many nodes, each
caching 50 images.
"""

import argparse

import datetime
import hashlib
import json
import random

REGISTRY = "us-central1-docker.pkg.dev"
REPOSITORY = "rubin-shared-services-71ec/sciplat/sciplat-lab"
PARENT = "projects/rubin-shared-services-71ec/locations/us-central1/repositories/sciplat"
NOW = datetime.date(2026, 11, 27)
rng = random.Random(2077)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--tags", type=int, default=0, help="at least this many tags")
parser.add_argument("--nodes", type=int, default=0, help="this many nodes (default: the demo's 6)")
parser.add_argument("--out", default="examples", help="output directory")
args = parser.parse_args()


def digest(name):
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


images = []  # (tags, digest, size, uploaded)


def add(tags, when, key=None):
    d = digest(key or tags[0])
    images.append((tags, d, rng.randint(3_800_000_000, 5_200_000_000), when))
    return d


# Weeklies from 2021 to now, with amd64/arm64 twins for the last year.
weeklies = []
day = datetime.date(2021, 1, 7)
while day <= NOW:
    year, week, _ = day.isocalendar()
    tag = f"w_{year}_{week:02d}"
    weeklies.append((tag, day))
    add([tag], day)
    if (NOW - day).days < 730:
        add([f"{tag}-amd64"], day)
        add([f"{tag}-arm64"], day)
    day += datetime.timedelta(days=7)

# Dailies for the last 1000 days, or further back until there are --tags tags.
dailies = []
days = max(1000, (args.tags - 800) // 3)
day = NOW - datetime.timedelta(days=days)
while day <= NOW:
    tag = f"d_{day.year}_{day.month:02d}_{day.day:02d}"
    dailies.append((tag, day))
    add([tag], day)
    if (NOW - day).days < 120 or args.tags:
        add([f"{tag}-amd64"], day)
        add([f"{tag}-arm64"], day)
    day += datetime.timedelta(days=1)

# Releases with candidates, some with RSP builds.
releases = []
for major in range(22, 30):
    for minor in (0, 1):
        for patch in range(0, 3):
            when = datetime.date(2021 + (major - 22) // 2, 1 + 5 * minor + patch, 10)
            if when > NOW:
                continue
            for rc in (1, 2):
                add([f"r{major}_{minor}_{patch}_rc{rc}"], when - datetime.timedelta(days=14 - rc))
            tag = f"r{major}_{minor}_{patch}"
            releases.append((tag, when))
            add([tag], when)
            if 27 <= major <= 28:
                add([f"{tag}_rsp{2000 + major * 10 + patch}"], when)

# T&S cycle builds of recent weeklies.
for cycle in (38, 39, 40):
    for tag, when in weeklies[-20:-8]:
        for build in (1, 2):
            add([f"{tag}_c00{cycle}.00{build}"], when)

# Experimentals.
for tag, when in weeklies[-30:]:
    add([f"exp_{tag}_nosudo"], when)
    add([f"exp_{tag}_ticket_dm_{rng.randint(40000, 49999)}"], when)

# Aliases: extra tags on existing digests.
def alias(alias_tags, target):
    for tags, d, size, when in images:
        if tags[0] == target:
            tags.extend(alias_tags)
            return
    raise SystemExit(f"no image {target}")

alias(["recommended", "latest_weekly"], weeklies[-2][0])
alias(["latest_daily"], dailies[-1][0])
alias(["latest_release", "latest"], releases[-1][0])
alias(["recommended_c0040"], f"{weeklies[-10][0]}_c0040.002")

# A couple of images of another name in the same Artifact Registry repository.
for i in range(3):
    images.append(([f"{i}.1.0"], digest(f"other{i}"), 120_000_000, NOW))

snapshot = {"dockerImages": []}
for tags, d, size, when in images:
    name = "sciplat-lab" if not tags[0][0].isdigit() else "sciplat-jupyterhub"
    stamp = f"{when.isoformat()}T06:00:00Z"
    snapshot["dockerImages"].append({
        "name": f"{PARENT}/dockerImages/{name}@{d}",
        "uri": f"{REGISTRY}/rubin-shared-services-71ec/sciplat/{name}@{d}",
        "tags": tags,
        "imageSizeBytes": str(size),
        "uploadTime": stamp,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "buildTime": stamp,
        "updateTime": stamp,
    })

by_tag = {t: (d, size) for tags, d, size, _ in images for t in tags}


def cached(tags):
    out = []
    for t in tags:
        d, size = by_tag[t]
        out.append({"names": [f"{REGISTRY}/{REPOSITORY}@{d}", f"{REGISTRY}/{REPOSITORY}:{t}"],
                    "sizeBytes": size})
    out.append({"names": ["registry.k8s.io/pause@sha256:" + "0" * 64, "registry.k8s.io/pause:3.10"],
                "sizeBytes": 320_000})
    return sorted(out, key=lambda i: -i["sizeBytes"])


def node(name, tags, labels=None, taints=None, unschedulable=False, ready=True):
    spec = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "images": cached(tags),
        },
    }


recent = [weeklies[-1][0], weeklies[-2][0], weeklies[-3][0], releases[-1][0]]
demo_nodes = [
        node("rsp-node-1", recent + [dailies[-1][0], dailies[-2][0]]),
        node("rsp-node-2", recent + [dailies[-1][0], dailies[-2][0]]),
        node("rsp-node-3", recent + [dailies[-1][0]]),
        node("rsp-node-4", recent + [dailies[-3][0]]),
        node("rsp-node-5", recent, unschedulable=True),
        node("rsp-node-6", recent, taints=[{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]),
]
if args.nodes:
    # Busy nodes: the recent images plus older ones, 50 in all (kubelet's reporting cap).
    older = [tags[0] for tags, *_ in images if tags[0].startswith(("w_", "d_", "r"))]
    demo_nodes = [
        node(f"rsp-node-{i + 1}", recent + rng.sample(older, 50 - len(recent) - 1))
        for i in range(args.nodes)
    ]
nodes = {"apiVersion": "v1", "kind": "NodeList", "metadata": {}, "items": demo_nodes}

import os
os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, "demo-snapshot.json"), "w") as fh:
    json.dump(snapshot, fh, indent=1)
    fh.write("\n")
with open(os.path.join(args.out, "demo-nodes.json"), "w") as fh:
    json.dump(nodes, fh, indent=1)
    fh.write("\n")
print(f"{sum(len(t) for t, *_ in images)} tags in {len(images)} images, {len(nodes['items'])} nodes")
