//! Server-rendered HTML: the spawner's lab form (`lab_form`) and the status page (`status`).
//!
//! Templates are plain Jinja files embedded at compile time and rendered by `minijinja` with
//! HTML autoescaping (every template name ends in `.html`), so image names and error messages
//! from a registry can never inject markup. No build step, no external fonts or scripts: the
//! only script is the form's three-line `selectDropdown`, the CSS is inlined.

pub mod lab_form;
mod status;
mod time;

use minijinja::{AutoEscape, Environment};
use std::sync::OnceLock;
use std::time::SystemTime;

use crate::backend::StatusView;

const LAB_FORM_IMAGES: &str = "lab_form_images.html";
const LAB_FORM_OPTIONS: &str = "lab_form_options.html";
const STATUS: &str = "status.html";
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
            (STATUS, include_str!("templates/status.html")),
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
        Some(text) if !value.is_safe() && state.auto_escape() == AutoEscape::Html => out
            .write_str(&escape_html(text))
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string())),
        _ => minijinja::escape_formatter(out, state, value),
    }
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&#34;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
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

/// The status page; `prefix` is the normalised path prefix for links, `now` the clock used
/// for ages ("3m ago").
pub fn status_page(
    view: &StatusView,
    prefix: &str,
    now: SystemTime,
) -> Result<String, RenderError> {
    let page = status::StatusPage::new(view, prefix, now);
    render(STATUS, minijinja::Value::from_serialize(&page))
}
