//! The status pages' URLs, built in one place: node names and tags come from outside, so they
//! are percent-encoded into paths and query strings here (templates escape the result again
//! for HTML, as any attribute).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;

use crate::status::{NodeFilter, NodeQuery, NodeSort};

/// Everything but RFC 3986's unreserved characters: safe in a path segment and a query value.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// The links every page has (navigation and the JSON routes).
#[derive(Debug, Clone, Serialize)]
pub struct Nav {
    pub overview: String,
    pub nodes: String,
    pub images_json: String,
    pub prepulls_json: String,
    pub menu_json: String,
}

impl Nav {
    pub fn new(prefix: &str) -> Nav {
        Nav {
            overview: format!("{prefix}/"),
            nodes: nodes_path(prefix),
            images_json: format!("{prefix}/spawner/v1/images"),
            prepulls_json: format!("{prefix}/spawner/v1/prepulls"),
            menu_json: format!("{prefix}/spawner/v1/menu"),
        }
    }
}

fn nodes_path(prefix: &str) -> String {
    format!("{prefix}/nodes")
}

/// `{prefix}/nodes/{name}`.
pub fn node(prefix: &str, name: &str) -> String {
    format!("{}/{}", nodes_path(prefix), encode(name))
}

/// A link to the node list: a query, by parts, with only what differs from the defaults.
#[derive(Debug, Clone, Default)]
pub struct NodeList<'a> {
    pub filter: NodeFilter,
    /// The tag of the image the filter looks at.
    pub image: Option<&'a str>,
    pub name_prefix: &'a str,
    pub sort: NodeSort,
    pub page: usize,
}

impl<'a> NodeList<'a> {
    /// Nodes of `filter`, for one image or any.
    pub fn filtered(filter: NodeFilter, image: Option<&'a str>) -> NodeList<'a> {
        NodeList {
            filter,
            image,
            ..NodeList::default()
        }
    }

    /// The link of `query` (whose image has the tag `image`).
    pub fn of(query: &'a NodeQuery, image: Option<&'a str>) -> NodeList<'a> {
        NodeList {
            filter: query.filter,
            image,
            name_prefix: &query.name_prefix,
            sort: query.sort,
            page: query.page,
        }
    }

    pub fn page(mut self, page: usize) -> NodeList<'a> {
        self.page = page;
        self
    }

    pub fn href(&self, prefix: &str) -> String {
        let mut parameters = Vec::new();
        if self.filter != NodeFilter::All {
            parameters.push(format!("state={}", self.filter.name()));
        }
        if let Some(tag) = self.image {
            parameters.push(format!("image={}", encode(tag)));
        }
        if !self.name_prefix.is_empty() {
            parameters.push(format!("name={}", encode(self.name_prefix)));
        }
        if self.sort != NodeSort::Name {
            parameters.push(format!("sort={}", self.sort.name()));
        }
        if self.page > 1 {
            parameters.push(format!("page={}", self.page));
        }
        if parameters.is_empty() {
            nodes_path(prefix)
        } else {
            format!("{}?{}", nodes_path(prefix), parameters.join("&"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::CellKind;

    #[test]
    fn names_and_tags_are_percent_encoded() {
        assert_eq!(node("/p", "node-1.a_b~"), "/p/nodes/node-1.a_b~");
        assert_eq!(
            node("", "<b>n/1</b>?&\"'"),
            "/nodes/%3Cb%3En%2F1%3C%2Fb%3E%3F%26%22%27"
        );
        assert_eq!(node("", "é"), "/nodes/%C3%A9");
    }

    #[test]
    fn list_links_carry_only_what_differs_from_the_defaults() {
        assert_eq!(NodeList::default().href("/p"), "/p/nodes");
        let link = NodeList {
            filter: NodeFilter::Cell(CellKind::BackingOff),
            image: Some("w_2077_43"),
            name_prefix: "gke a&b",
            sort: NodeSort::Problems,
            page: 3,
        };
        assert_eq!(
            link.href(""),
            "/nodes?state=backing-off&image=w_2077_43&name=gke%20a%26b&sort=problems&page=3"
        );
        assert_eq!(
            link.page(1).href(""),
            "/nodes?state=backing-off&image=w_2077_43&name=gke%20a%26b&sort=problems"
        );
    }
}
