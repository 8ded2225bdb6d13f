//! Which nodes the node list shows: a filter by state (of the node, or of one image on it), a
//! name prefix, an order and a page of [`NODES_PER_PAGE`] rows. Parsed from the page's query
//! parameters with errors that name the parameter, and answered from a [`StatusGrid`].

use serde::Deserialize;

use super::cell::CellKind;
use super::grid::{NodeEntry, StatusGrid};

/// Rows per page of the node list: 100 rows of 8 images stay well under 200 kB.
pub const NODES_PER_PAGE: usize = 100;

/// Node names are DNS subdomains: a longer prefix matches nothing.
const NAME_PREFIX_MAX: usize = 253;

/// The node list's query parameters as they come; see [`NodeQuery::parse`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeParams {
    pub state: Option<String>,
    pub image: Option<String>,
    pub name: Option<String>,
    pub sort: Option<String>,
    pub page: Option<String>,
}

/// Which nodes to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NodeFilter {
    #[default]
    All,
    Eligible,
    Ineligible,
    /// Eligible nodes missing an image they should cache (any, or the chosen one).
    Incomplete,
    /// Nodes with a cell of this kind (any image, or the chosen one).
    Cell(CellKind),
}

impl NodeFilter {
    /// Every filter, in the order the page offers them.
    pub fn all() -> impl Iterator<Item = NodeFilter> {
        [
            NodeFilter::All,
            NodeFilter::Eligible,
            NodeFilter::Ineligible,
            NodeFilter::Incomplete,
        ]
        .into_iter()
        .chain(CellKind::ALL.into_iter().map(NodeFilter::Cell))
    }

    /// The filter's value of `?state=`.
    pub fn name(self) -> &'static str {
        match self {
            NodeFilter::All => "all",
            NodeFilter::Eligible => "eligible",
            NodeFilter::Ineligible => "ineligible",
            NodeFilter::Incomplete => "incomplete",
            NodeFilter::Cell(kind) => kind.name(),
        }
    }

    fn matches(self, node: &NodeEntry<'_>, image: Option<usize>) -> bool {
        match self {
            NodeFilter::All => true,
            NodeFilter::Eligible => node.eligibility.is_eligible(),
            NodeFilter::Ineligible => !node.eligibility.is_eligible(),
            NodeFilter::Incomplete => node.is_incomplete(image),
            NodeFilter::Cell(kind) => node.cells_of(image).iter().any(|c| c.kind() == kind),
        }
    }
}

/// The order of the node list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NodeSort {
    #[default]
    Name,
    /// Most failures first, then most images outstanding, then by name.
    Problems,
}

impl NodeSort {
    pub const ALL: [NodeSort; 2] = [NodeSort::Name, NodeSort::Problems];

    pub fn name(self) -> &'static str {
        match self {
            NodeSort::Name => "name",
            NodeSort::Problems => "problems",
        }
    }
}

/// A parsed query of the node list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeQuery {
    pub filter: NodeFilter,
    /// The prepull image the filter looks at (its index in [`StatusGrid::images`]).
    pub image: Option<usize>,
    pub name_prefix: String,
    pub sort: NodeSort,
    /// From 1.
    pub page: usize,
}

impl Default for NodeQuery {
    /// Every node by name, the first page.
    fn default() -> NodeQuery {
        NodeQuery {
            filter: NodeFilter::All,
            image: None,
            name_prefix: String::new(),
            sort: NodeSort::Name,
            page: 1,
        }
    }
}

/// A query parameter the node list cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {message}")]
pub struct QueryError {
    pub parameter: &'static str,
    pub message: String,
}

impl QueryError {
    fn new(parameter: &'static str, message: String) -> QueryError {
        QueryError { parameter, message }
    }
}

/// One page of the node list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePage {
    /// Node numbers of this page's rows.
    pub rows: Vec<u32>,
    /// Nodes matching the query, on all pages.
    pub matching: usize,
    /// The page shown (the last one when the query asked for more), from 1.
    pub page: usize,
    /// At least 1.
    pub pages: usize,
}

impl NodeQuery {
    /// Reads the parameters; empty values mean the default, as an HTML form sends them.
    pub fn parse(params: &NodeParams, grid: &StatusGrid) -> Result<NodeQuery, QueryError> {
        let given = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        let filter = match given(&params.state) {
            None => NodeFilter::All,
            Some(state) => NodeFilter::all()
                .find(|filter| filter.name() == state)
                .ok_or_else(|| {
                    let known: Vec<&str> = NodeFilter::all().map(NodeFilter::name).collect();
                    QueryError::new(
                        "state",
                        format!("unknown state; use one of {}", known.join(", ")),
                    )
                })?,
        };
        let image = match given(&params.image) {
            None => None,
            Some(tag) => Some(grid.image_index(&tag).ok_or_else(|| {
                QueryError::new(
                    "image",
                    "not a prepull image now; use the tag of one listed on the overview".to_owned(),
                )
            })?),
        };
        let name_prefix = given(&params.name).unwrap_or_default();
        if name_prefix.len() > NAME_PREFIX_MAX {
            return Err(QueryError::new(
                "name",
                format!("at most {NAME_PREFIX_MAX} bytes (the longest node name)"),
            ));
        }
        let sort = match given(&params.sort) {
            None => NodeSort::Name,
            Some(sort) => NodeSort::ALL
                .into_iter()
                .find(|s| s.name() == sort)
                .ok_or_else(|| {
                    QueryError::new("sort", "unknown order; use name or problems".to_owned())
                })?,
        };
        let page = match given(&params.page) {
            None => 1,
            // Any page past the last shows the last, however large the number.
            Some(page) if !page.is_empty() && page.bytes().all(|b| b.is_ascii_digit()) => {
                match page.trim_start_matches('0') {
                    "" => return Err(QueryError::new("page", "pages start at 1".to_owned())),
                    digits => digits.parse().unwrap_or(usize::MAX),
                }
            }
            Some(_) => {
                return Err(QueryError::new(
                    "page",
                    "a page number (1, 2, …)".to_owned(),
                ))
            }
        };
        Ok(NodeQuery {
            filter,
            image,
            name_prefix,
            sort,
            page,
        })
    }
}

impl StatusGrid {
    /// The nodes matching `query`, sorted, and the page of them it asks for.
    pub fn query(&self, query: &NodeQuery) -> NodePage {
        // Node numbers, not entries: the filters and the order read the grid's own arrays,
        // and only the rows shown reach for their nodes.
        let mut matching: Vec<u32> = self
            .named_with_prefix(&query.name_prefix)
            .iter()
            .copied()
            .filter(|&i| query.filter.matches(&self.node(i), query.image))
            .collect();
        if query.sort == NodeSort::Problems {
            // Stable: nodes with the same problems stay in name order.
            matching.sort_by_key(|&i| {
                let counts = self.node(i).counts_of(query.image);
                std::cmp::Reverse((counts.failures(), counts.outstanding()))
            });
        }
        let pages = matching.len().div_ceil(NODES_PER_PAGE).max(1);
        let page = query.page.clamp(1, pages);
        let rows = matching
            .iter()
            .skip((page - 1) * NODES_PER_PAGE)
            .take(NODES_PER_PAGE)
            .copied()
            .collect();
        NodePage {
            rows,
            matching: matching.len(),
            page,
            pages,
        }
    }
}
