//! A guard against deeply nested flow collections, run before the YAML parser.
//!
//! libyaml's scanner keeps one entry per open flow collection (`[`, `{`) and walks them all
//! for every token, so `images:` followed by 200,000 `[` takes quadratic time (well over ten
//! seconds) before the parser's own depth limit (128) is ever reached. No configuration needs
//! more than a handful of levels, so text that opens more than [`MAX_DEPTH`] flow
//! collections at once is refused at once, naming the line.
//!
//! The scan is a cheap approximation of YAML's lexical rules that can only over-count: it
//! skips comments and quoted scalars, counts every bracket inside a flow collection (plain
//! scalars cannot contain them there) and, outside one, a bracket where a node can start.
//! A bracket it takes for an opening that is not one (in a block scalar, say) adds to the
//! depth; a text would need dozens of them unclosed to be refused.

use crate::ConfigError;

/// The deepest nesting of flow collections accepted; the parser itself stops at 128.
pub const MAX_DEPTH: usize = 100;

/// Refuses YAML text that nests flow collections deeper than [`MAX_DEPTH`]; run it before
/// handing any file to serde_yaml.
pub fn check(text: &str) -> Result<(), ConfigError> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut line = 1usize;
    // The last byte that was not a space or tab: what decides whether a node can start.
    let mut previous = b'\n';
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        let after_space = i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'\n' | b'\r');
        // A byte inside a plain scalar: what follows it is part of the scalar too.
        let mut in_scalar = false;
        match byte {
            b'\n' => line += 1,
            b'#' if after_space => {
                while i + 1 < bytes.len() && bytes[i + 1] != b'\n' {
                    i += 1;
                }
            }
            b'"' | b'\'' if node_can_start(previous) => {
                i = skip_quoted(bytes, i, &mut line);
            }
            b'[' | b'{' if depth > 0 || node_can_start(previous) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ConfigError::TooDeep {
                        line,
                        limit: MAX_DEPTH,
                    });
                }
            }
            b']' | b'}' if depth > 0 => depth -= 1,
            b'[' | b'{' | b'"' | b'\'' => in_scalar = true,
            _ => {}
        }
        if in_scalar {
            previous = b'x';
        } else if !matches!(byte, b' ' | b'\t' | b'\r') {
            previous = byte;
        }
        i += 1;
    }
    Ok(())
}

/// Whether a node (a collection, a quoted scalar) can begin after this byte.
fn node_can_start(previous: u8) -> bool {
    matches!(previous, b'\n' | b'[' | b'{' | b',' | b':' | b'-' | b'?')
}

/// The index of the closing quote of the scalar opening at `start` (or the last byte).
fn skip_quoted(bytes: &[u8], start: usize, line: &mut usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => *line += 1,
            b'\\' if quote == b'"' => i += 1,
            // `''` is a quote inside a single-quoted scalar.
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
            byte if byte == quote => return i,
            _ => {}
        }
        i += 1;
    }
    bytes.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(text: &str) -> bool {
        check(text).is_ok()
    }

    #[test]
    fn deep_flow_nesting_is_refused_with_its_line() {
        let text = format!("a: 1\nimages: {}", "[".repeat(200_000));
        let started = std::time::Instant::now();
        let error = check(&text).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(
            error,
            ConfigError::TooDeep {
                line: 2,
                limit: MAX_DEPTH
            }
        );
        assert!(!depth_ok(&format!("x: {}", "{a: ".repeat(MAX_DEPTH + 1))));
    }

    #[test]
    fn brackets_that_open_nothing_are_not_counted() {
        let many = "[".repeat(MAX_DEPTH + 5);
        // Quoted, commented, inside a plain scalar, closed again.
        assert!(depth_ok(&format!("a: \"{many}\"\nb: '{many}'\n")));
        assert!(depth_ok(&format!("a: 1 # {many}\n")));
        assert!(depth_ok(&format!("a: x{many}\n")));
        assert!(depth_ok(&format!("a: [\"]\", '[{many}', x]\n")));
        assert!(depth_ok(&"[".repeat(MAX_DEPTH)));
        assert!(depth_ok(&"[[]]".repeat(10_000)));
        assert!(depth_ok("a: 'it''s [' \nb: \"a \\\" [\"\n"));
    }
}
