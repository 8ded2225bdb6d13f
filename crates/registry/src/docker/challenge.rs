//! Parsing `WWW-Authenticate` challenges (RFC 7235), decisions.md §5 fix 12.
//!
//! The original split parameters on every comma and stripped every quote, so
//! `scope="repository:x:pull,push"` broke, keys kept leading spaces and a scheme without
//! parameters crashed. This is a small tokenizer instead: schemes and keys are
//! case-insensitive tokens, values are tokens or quoted strings with backslash escapes, and
//! one header may carry several challenges (`Basic realm="r", Bearer realm="…"`).

/// One challenge: a lower-cased scheme and its parameters (keys lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `key` (lower-case).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Parses every challenge of one header value.
pub fn parse(header: &str) -> Result<Vec<Challenge>, String> {
    let mut parser = Parser {
        chars: header.chars().collect(),
        at: 0,
    };
    let mut challenges: Vec<Challenge> = Vec::new();
    loop {
        parser.skip(|c| c.is_whitespace() || c == ',');
        if parser.done() {
            break;
        }
        let word = parser.token();
        if word.is_empty() {
            return Err(format!(
                "unexpected character {:?} in {header:?}",
                parser.peek().unwrap_or(' ')
            ));
        }
        parser.skip(|c| c == ' ' || c == '\t');
        let current = challenges.last_mut();
        match (parser.peek(), current) {
            // `key=value` of the current challenge; a lone `=` run after a word with no
            // challenge yet is malformed.
            (Some('='), Some(challenge)) => {
                parser.at += 1;
                parser.skip(|c| c == ' ' || c == '\t');
                let value = parser.value()?;
                challenge.params.push((word.to_ascii_lowercase(), value));
            }
            (Some('='), None) => {
                return Err(format!("{header:?} starts with a parameter, not a scheme"))
            }
            _ => challenges.push(Challenge {
                scheme: word.to_ascii_lowercase(),
                params: Vec::new(),
            }),
        }
    }
    if challenges.is_empty() {
        return Err("the header is empty".to_owned());
    }
    Ok(challenges)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn done(&self) -> bool {
        self.at >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip(&mut self, what: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&what) {
            self.at += 1;
        }
    }

    fn token(&mut self) -> String {
        let start = self.at;
        self.skip(is_token_char);
        self.chars[start..self.at].iter().collect()
    }

    /// A quoted string (with `\` escapes) or a token; a token68 value such as `abc==` is
    /// also accepted, since some servers send unquoted base64.
    fn value(&mut self) -> Result<String, String> {
        if self.peek() != Some('"') {
            let start = self.at;
            self.skip(|c| is_token_char(c) || c == '=' || c == '/' || c == ':');
            return Ok(self.chars[start..self.at].iter().collect());
        }
        self.at += 1;
        let mut value = String::new();
        loop {
            match self.peek() {
                None => return Err("a quoted value is not closed".to_owned()),
                Some('"') => {
                    self.at += 1;
                    return Ok(value);
                }
                Some('\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(escaped) => value.push(escaped),
                        None => return Err("a quoted value ends in a backslash".to_owned()),
                    }
                    self.at += 1;
                }
                Some(c) => {
                    value.push(c);
                    self.at += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(header: &str) -> Challenge {
        let mut all = parse(header).unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    #[test]
    fn bearer_with_quoted_commas() {
        let c = one(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.example.com/token"));
        assert_eq!(c.param("service"), Some("registry.example.com"));
        assert_eq!(c.param("scope"), Some("repository:a/b:pull,push"));
    }

    #[test]
    fn case_spaces_escapes_and_tokens() {
        let c =
            one(r#"  BEARER   Realm = "https://h/t" ,  SERVICE=reg.example.com, scope="a\"b\\c""#);
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://h/t"));
        assert_eq!(c.param("service"), Some("reg.example.com"));
        assert_eq!(c.param("scope"), Some(r#"a"b\c"#));
    }

    #[test]
    fn scheme_without_parameters() {
        assert_eq!(one("Basic").scheme, "basic");
        assert!(one("basic").params.is_empty());
    }

    #[test]
    fn several_challenges_in_one_header() {
        let all =
            parse(r#"Basic realm="Registry Realm", Bearer realm="https://h/token",service="s""#)
                .unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].param("realm"), Some("Registry Realm"));
        assert_eq!(all[1].scheme, "bearer");
        assert_eq!(all[1].param("service"), Some("s"));
    }

    #[test]
    fn malformed_headers_are_errors_not_panics() {
        for bad in [
            "",
            "  ",
            r#"Bearer realm="open"#,
            "=x",
            "Bearer realm=\"x\\",
            "Bearer @",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
