//! A status line on a terminal: `snapshot` of a large registry takes minutes, and people
//! want to see it move. Redrawn in place on stderr a few times a second; nothing at all when
//! stderr is not a terminal (logs and pipes get no progress noise).

use rsp_registry::progress::{ListingProgress, ProgressCounts};
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// How often the line is redrawn.
const REDRAW: Duration = Duration::from_millis(200);

/// The line for one reading.
pub fn describe(counts: ProgressCounts) -> String {
    let mut line = format!(
        "{} {}, {} {}",
        counts.pages,
        plural(counts.pages, "page", "pages"),
        counts.tags,
        plural(counts.tags, "tag", "tags")
    );
    if counts.digests > 0 {
        line.push_str(&format!(", {} of {} digests", counts.digests, counts.tags));
    }
    line
}

fn plural(count: u64, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 {
        one
    } else {
        many
    }
}

/// Redraws `prefix: counts` until dropped; the last line stays on the screen.
pub struct StatusLine {
    task: tokio::task::JoinHandle<()>,
    progress: Arc<ListingProgress>,
    prefix: String,
}

impl StatusLine {
    /// Starts redrawing on the current runtime.
    pub fn start(prefix: String, progress: Arc<ListingProgress>) -> StatusLine {
        let task = tokio::spawn({
            let (prefix, progress) = (prefix.clone(), Arc::clone(&progress));
            async move {
                loop {
                    draw(&prefix, progress.counts(), "");
                    tokio::time::sleep(REDRAW).await;
                }
            }
        });
        StatusLine {
            task,
            progress,
            prefix,
        }
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        self.task.abort();
        draw(&self.prefix, self.progress.counts(), "\n");
    }
}

/// `\r` and erase-line, so each drawing replaces the last.
fn draw(prefix: &str, counts: ProgressCounts, end: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "\r\x1b[K{prefix}: {}{end}", describe(counts));
    let _ = stderr.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_reads_naturally() {
        let counts = |pages, tags, digests| ProgressCounts {
            pages,
            tags,
            digests,
        };
        assert_eq!(describe(counts(1, 1, 0)), "1 page, 1 tag");
        assert_eq!(describe(counts(3, 2500, 0)), "3 pages, 2500 tags");
        assert_eq!(
            describe(counts(2, 1500, 700)),
            "2 pages, 1500 tags, 700 of 1500 digests"
        );
    }
}
