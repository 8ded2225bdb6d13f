//! The node list (`{prefix}/nodes`): one page of nodes matching a [`NodeQuery`], each with its
//! eligibility and the state of every prepull image on it, and a form to change the query.
//! Errors are on each node's own page: a page of rows stays small whatever the errors.

use serde::Serialize;
use std::time::SystemTime;

use super::links::{self, NodeList};
use super::words::{self, clip, kind_words, KindWords};
use super::Frame;
use crate::status::{CellKind, NodeEntry, NodeFilter, NodeQuery, NodeSort, StatusReport};

#[derive(Serialize)]
pub struct NodeListPage<'a> {
    frame: Frame,
    total: usize,
    matching: usize,
    page: usize,
    pages: usize,
    states: Vec<Choice>,
    images: Vec<Choice>,
    sorts: Vec<Choice>,
    name_prefix: &'a str,
    columns: Vec<Column<'a>>,
    rows: Vec<Row<'a>>,
    previous: Option<String>,
    next: Option<String>,
    legend: Vec<KindWords>,
}

/// An option of one of the form's menus.
#[derive(Serialize)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct Column<'a> {
    tag: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    href: String,
    eligible: bool,
    reason: Option<String>,
    cells: Vec<Cell>,
    /// `6 of 8 cached`, or what an ineligible node happens to have.
    summary: String,
}

#[derive(Serialize)]
struct Cell {
    class: &'static str,
    label: &'static str,
}

impl<'a> NodeListPage<'a> {
    pub fn new(
        report: &'a StatusReport,
        query: &'a NodeQuery,
        prefix: &'a str,
        now: SystemTime,
    ) -> NodeListPage<'a> {
        let grid = &report.grid;
        let result = grid.query(query);
        let tag = query.image.map(|j| grid.images()[j].tag.as_str());
        let link = NodeList::of(query, tag);
        NodeListPage {
            frame: Frame::new(prefix, now),
            total: grid.nodes().total,
            matching: result.matching,
            page: result.page,
            pages: result.pages,
            states: NodeFilter::all()
                .map(|filter| Choice {
                    value: filter.name().to_owned(),
                    label: filter_label(filter).to_owned(),
                    selected: filter == query.filter,
                })
                .collect(),
            images: std::iter::once(Choice {
                value: String::new(),
                label: "any".to_owned(),
                selected: query.image.is_none(),
            })
            .chain(grid.images().iter().enumerate().map(|(j, image)| Choice {
                value: image.tag.clone(),
                label: format!("{} ({})", image.tag, image.name),
                selected: query.image == Some(j),
            }))
            .collect(),
            sorts: NodeSort::ALL
                .into_iter()
                .map(|sort| Choice {
                    value: sort.name().to_owned(),
                    label: match sort {
                        NodeSort::Name => "by name",
                        NodeSort::Problems => "problems first",
                    }
                    .to_owned(),
                    selected: sort == query.sort,
                })
                .collect(),
            name_prefix: &query.name_prefix,
            columns: grid
                .images()
                .iter()
                .map(|image| Column {
                    tag: &image.tag,
                    name: &image.name,
                })
                .collect(),
            rows: result
                .rows
                .iter()
                .map(|&i| Row::new(grid.node(i), prefix))
                .collect(),
            previous: (result.page > 1).then(|| link.clone().page(result.page - 1).href(prefix)),
            next: (result.page < result.pages)
                .then(|| link.clone().page(result.page + 1).href(prefix)),
            legend: words::legend(),
        }
    }
}

fn filter_label(filter: NodeFilter) -> &'static str {
    match filter {
        NodeFilter::All => "all nodes",
        NodeFilter::Eligible => "eligible",
        NodeFilter::Ineligible => "ineligible",
        NodeFilter::Incomplete => "eligible, missing an image",
        NodeFilter::Cell(kind) => kind_words(kind).label,
    }
}

impl<'a> Row<'a> {
    fn new(node: NodeEntry<'a>, prefix: &str) -> Row<'a> {
        Row {
            name: &node.info.name,
            href: links::node(prefix, &node.info.name),
            eligible: node.eligibility.is_eligible(),
            reason: node
                .eligibility
                .comment()
                .map(|reason| clip(reason, words::REASON).into_owned()),
            cells: node
                .cells
                .iter()
                .map(|cell| {
                    let kind = kind_words(cell.kind());
                    Cell {
                        class: kind.class,
                        label: kind.label,
                    }
                })
                .collect(),
            summary: if node.eligibility.is_eligible() {
                format!(
                    "{} of {} cached",
                    node.counts.get(CellKind::Cached),
                    node.counts.wanted()
                )
            } else {
                format!(
                    "{} cached; nothing prepulled here",
                    node.counts.get(CellKind::Cached)
                )
            },
        }
    }
}
