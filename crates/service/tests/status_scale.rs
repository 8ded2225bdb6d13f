//! The status pages at 5,000 nodes × 8 images stay light whatever fails: no page is heavier
//! than [`PAGE_BYTES_MAX`], and the overview does not grow with the number of nodes.

mod scale_support;

use rsp_service::pages;
use rsp_service::status::{CellKind, NodeFilter, NodeQuery, NodeSort, StatusReport};
use scale_support::{long_error_node, Pattern, PATTERNS};
use std::time::SystemTime;

/// "A few hundred kilobytes": what a phone on a poor connection still loads in seconds.
const PAGE_BYTES_MAX: usize = 300 * 1024;
const NODES: usize = 5_000;
const PREFIX: &str = "/nublado";

/// Every page a person can open, by name: the overview, node lists, the heaviest node.
fn pages(report: &StatusReport) -> Vec<(String, usize)> {
    let now = SystemTime::now();
    let mut sizes = vec![(
        "overview".to_owned(),
        pages::overview(report, PREFIX, now)
            .expect("the overview renders")
            .len(),
    )];
    let lists = [
        NodeQuery::default(),
        NodeQuery {
            sort: NodeSort::Problems,
            ..NodeQuery::default()
        },
        NodeQuery {
            filter: NodeFilter::Cell(CellKind::BackingOff),
            ..NodeQuery::default()
        },
        NodeQuery {
            filter: NodeFilter::Ineligible,
            page: 7,
            ..NodeQuery::default()
        },
    ];
    for query in lists {
        let html = pages::node_list(report, &query, PREFIX, now).expect("the node list renders");
        sizes.push((format!("node list {query:?}"), html.len()));
    }
    let node = pages::node_detail(report, &long_error_node(), PREFIX, now)
        .expect("the node exists")
        .expect("the node page renders");
    sizes.push(("node with the longest errors".to_owned(), node.len()));
    sizes
}

#[test]
fn no_page_is_heavier_than_a_few_hundred_kilobytes_at_5000_nodes() {
    for pattern in PATTERNS {
        let report = scale_support::report(NODES, pattern);
        for (page, bytes) in pages(&report) {
            eprintln!("{pattern:?}: {page}: {bytes} bytes");
            assert!(
                bytes <= PAGE_BYTES_MAX,
                "{pattern:?}: {page} is {bytes} bytes, more than {PAGE_BYTES_MAX}"
            );
        }
    }
}

#[test]
fn the_overview_does_not_grow_with_the_nodes() {
    let now = SystemTime::now();
    let size = |nodes| {
        let report = scale_support::report(nodes, Pattern::Mixed);
        pages::overview(&report, PREFIX, now)
            .expect("the overview renders")
            .len()
    };
    let (small, large) = (size(50), size(NODES));
    // Only counts get longer (a few digits per number).
    assert!(
        large < small + 1024,
        "overview: {small} bytes at 50 nodes, {large} at {NODES}"
    );
}

/// The node list finds a name prefix's nodes by binary search over the names in order; it
/// must list exactly the nodes whose names start with the prefix, as reading every name does,
/// with node names that share 248 of their 253 characters.
#[test]
fn a_name_prefix_lists_exactly_the_nodes_whose_names_start_with_it() {
    let report = scale_support::report(1_000, Pattern::Mixed);
    let grid = &report.grid;
    let name_42 = scale_support::node_name(42);
    let shared = &name_42[..248];
    let prefixes = [
        "",
        "x",
        shared,
        &name_42[..251], // nodes 00000 to 00099
        &name_42[..252], // 00040 to 00049
        &name_42,
        &name_42[..246],
        "a", // before every name
        "y", // after every name
        "xxy",
    ];
    for prefix in prefixes {
        for filter in [NodeFilter::All, NodeFilter::Ineligible] {
            let query = NodeQuery {
                filter,
                name_prefix: prefix.to_owned(),
                ..NodeQuery::default()
            };
            let every: Vec<u32> = grid
                .by_name()
                .iter()
                .copied()
                .filter(|&i| {
                    let node = grid.node(i);
                    node.info.name.starts_with(prefix)
                        && (filter == NodeFilter::All || !node.eligibility.is_eligible())
                })
                .collect();
            let page = grid.query(&query);
            assert_eq!(page.matching, every.len(), "{prefix:?} {filter:?}");
            assert_eq!(
                page.rows,
                every.iter().copied().take(100).collect::<Vec<_>>(),
                "{prefix:?} {filter:?}"
            );
        }
    }
    let count = |prefix: &str| {
        grid.query(&NodeQuery {
            name_prefix: prefix.to_owned(),
            ..NodeQuery::default()
        })
        .matching
    };
    assert_eq!(
        [
            count(""),
            count(shared),
            count(&name_42[..251]),
            count(&name_42[..252]),
            count(&name_42),
            count("y")
        ],
        [1_000, 1_000, 100, 10, 1, 0]
    );
    assert_eq!(
        grid.node_named(&name_42).map(|node| node.index),
        Some(42),
        "a node is found by its whole name"
    );
    assert!(grid.node_named(&name_42[..252]).is_none());
}
