//! Server-rendered HTML: the spawner's lab form (`lab_form`) and the status pages.
//!
//! Templates are plain Jinja files embedded at compile time and rendered by `minijinja` with
//! HTML autoescaping (every template name ends in `.html`), so image names, node names, labels
//! and error messages from a registry or a cluster can never inject markup; links are built
//! and percent-encoded in `links`. No build step, no external fonts or scripts: the only
//! script is the form's three-line `selectDropdown`, the CSS is inlined.
//!
//! The status pages read a [`StatusReport`] (`crate::status`) through a page model per page
//! (`overview`, `node_list`, `node_detail`) that has already turned times, states and limits
//! into words, so templates hold no logic beyond loops and conditions. Every page is bounded
//! whatever the cluster: the overview grows with the prepull images, not the nodes; the node
//! list shows one page of nodes; text from outside is shortened (`words`).

pub mod lab_form;
mod links;
mod node_detail;
mod node_list;
mod overview;
pub(crate) mod time;
mod words;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use std::sync::OnceLock;
use std::time::SystemTime;

use crate::status::{NodeQuery, StatusReport};

const LAB_FORM_IMAGES: &str = "lab_form_images.html";
const LAB_FORM_OPTIONS: &str = "lab_form_options.html";
const OVERVIEW: &str = "overview.html";
const NODE_LIST: &str = "nodes.html";
const NODE: &str = "node.html";
const CSS: &str = include_str!("style.css");

/// Rendering failed: a template bug, never a property of the data (tests render every shape).
/// Kept as text so that a failure cached with the form it stands for can be cloned.
#[derive(Debug, Clone, thiserror::Error)]
#[error("rendering {template} failed: {message}")]
pub struct RenderError {
    template: &'static str,
    message: String,
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_formatter(markupsafe_formatter);
        // The lab form's halves end exactly where their files end: the images half in a
        // newline, the options half (like the original's form) without one.
        env.set_keep_trailing_newline(true);
        // Both are constants of this crate: a syntax error fails the first render in tests.
        for (name, source) in [
            (
                LAB_FORM_IMAGES,
                include_str!("templates/lab_form_images.html"),
            ),
            (
                LAB_FORM_OPTIONS,
                include_str!("templates/lab_form_options.html"),
            ),
            ("layout.html", include_str!("templates/layout.html")),
            (OVERVIEW, include_str!("templates/overview.html")),
            (NODE_LIST, include_str!("templates/nodes.html")),
            (NODE, include_str!("templates/node.html")),
        ] {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not parse");
            }
        }
        env
    })
}

/// Escapes strings as Jinja2's markupsafe does (`& < > " '`), leaving `/` alone so that image
/// references appear in the form byte for byte as in the original's; everything else (safe
/// values, numbers, non-HTML templates) goes through minijinja's own formatter.
fn markupsafe_formatter(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(text) if !value.is_safe() && state.auto_escape() == AutoEscape::Html => {
            write_escaped(out, text).map_err(|e| {
                minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())
            })
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// Writes `text` with markupsafe's five characters escaped, as runs of plain text between
/// them: a page writes every value through here, and most values have nothing to escape, so
/// no copy of the text is made for them.
fn write_escaped(out: &mut impl std::fmt::Write, text: &str) -> std::fmt::Result {
    let mut plain = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escaped = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&#34;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // The five are ASCII, so `at` is a character boundary.
        out.write_str(&text[plain..at])?;
        out.write_str(escaped)?;
        plain = at + 1;
    }
    out.write_str(&text[plain..])
}

fn render(template: &'static str, ctx: minijinja::Value) -> Result<String, RenderError> {
    environment()
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .map_err(|error| RenderError {
            template,
            message: format!("{error:#}"),
        })
}

/// What every status page has around its content: the time, the navigation and the CSS.
#[derive(Serialize)]
struct Frame {
    now: String,
    css: &'static str,
    nav: links::Nav,
}

impl Frame {
    fn new(prefix: &str, now: SystemTime) -> Frame {
        Frame {
            now: time::timestamp(now),
            css: CSS,
            nav: links::Nav::new(prefix),
        }
    }
}

/// The overview (`{prefix}/`); `prefix` is the normalised path prefix for links, `now` the
/// clock used for ages ("3m ago").
pub fn overview(
    report: &StatusReport,
    prefix: &str,
    now: SystemTime,
) -> Result<String, RenderError> {
    let page = overview::Overview::new(report, prefix, now);
    render(OVERVIEW, minijinja::Value::from_serialize(&page))
}

/// One page of the node list (`{prefix}/nodes`).
pub fn node_list(
    report: &StatusReport,
    query: &NodeQuery,
    prefix: &str,
    now: SystemTime,
) -> Result<String, RenderError> {
    let page = node_list::NodeListPage::new(report, query, prefix, now);
    render(NODE_LIST, minijinja::Value::from_serialize(&page))
}

/// The page of the node called `name` (`{prefix}/nodes/{name}`); `None` when there is no
/// such node.
pub fn node_detail(
    report: &StatusReport,
    name: &str,
    prefix: &str,
    now: SystemTime,
) -> Option<Result<String, RenderError>> {
    let node = report.grid.node_named(name)?;
    let page = node_detail::NodePage::new(report, node, prefix, now);
    Some(render(NODE, minijinja::Value::from_serialize(&page)))
}

#[cfg(test)]
mod tests {
    use super::write_escaped;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        write_escaped(&mut out, text).unwrap();
        out
    }

    #[test]
    fn escapes_markupsafes_five_and_keeps_everything_else() {
        assert_eq!(escaped(""), "");
        assert_eq!(escaped("plain/ref:w_2077_46"), "plain/ref:w_2077_46");
        assert_eq!(
            escaped(r#"<a href="x">'é' & ü</a>"#),
            "&lt;a href=&#34;x&#34;&gt;&#39;é&#39; &amp; ü&lt;/a&gt;"
        );
        assert_eq!(escaped("&&"), "&amp;&amp;");
        assert_eq!(escaped("ends with ünï<"), "ends with ünï&lt;");
    }
}
