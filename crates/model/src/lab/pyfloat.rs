//! The text Python's `float()` accepts, which is what the original's quantity parsers call
//! (lab-form.md §3.3 step 2): optional surrounding whitespace, an optional sign, then either
//! `inf` / `infinity` / `nan` in any case, or a decimal number with an optional exponent, where
//! a single `_` may separate two digits (`1_000`). Everything else (`1__0`, `_1`, `1_`, `0x10`,
//! an empty string) is refused.
//!
//! Rust's own `f64::from_str` accepts a different language (no underscores, no surrounding
//! whitespace), so the grammar is checked here and the digits, cleaned, are then converted by
//! Rust, which rounds correctly as CPython does.

/// The value of `text` as Python's `float(text)` reads it, or `None` where Python raises.
pub fn parse(text: &str) -> Option<f64> {
    let trimmed = text.trim();
    let (negative, unsigned) = match trimmed.as_bytes().first()? {
        b'-' => (true, &trimmed[1..]),
        b'+' => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let magnitude = special(unsigned).or_else(|| decimal(unsigned))?;
    Some(if negative { -magnitude } else { magnitude })
}

fn special(text: &str) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "infinity" => Some(f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => None,
    }
}

/// `digits [. [digits]] [e [sign] digits]` or `. digits [e …]`.
fn decimal(text: &str) -> Option<f64> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let whole = digits(whole);
    let fraction = fraction.map(digits);
    // At least one digit on one side of the point, and every part well formed.
    let (whole, fraction) = match (whole, fraction) {
        (Some(w), None) if !w.is_empty() => (w, String::new()),
        (Some(w), Some(Some(f))) if !(w.is_empty() && f.is_empty()) => (w, f),
        _ => return None,
    };
    let exponent = match exponent {
        None => "0".to_owned(),
        Some(text) => {
            let (sign, body) = match text.as_bytes().first()? {
                b'-' => ("-", &text[1..]),
                b'+' => ("", &text[1..]),
                _ => ("", text),
            };
            let body = digits(body).filter(|d| !d.is_empty())?;
            format!("{sign}{body}")
        }
    };
    let whole = if whole.is_empty() { "0" } else { &whole };
    let fraction = if fraction.is_empty() { "0" } else { &fraction };
    format!("{whole}.{fraction}e{exponent}").parse().ok()
}

/// ASCII digits with single underscores between them, underscores removed; `None` when
/// malformed. An empty input gives an empty string (the caller decides if that is allowed).
fn digits(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => out.push(b as char),
            b'_' if i > 0
                && bytes[i - 1].is_ascii_digit()
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {}
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn what_python_float_accepts() {
        for (text, value) in [
            ("1", 1.0),
            ("1.", 1.0),
            (".5", 0.5),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("1.5e3", 1500.0),
            ("1.e3", 1000.0),
            ("-1", -1.0),
            ("+2.25", 2.25),
            (" 1 ", 1.0),
            ("\t4\n", 4.0),
            ("1_000", 1000.0),
            ("1_0.5_5", 10.55),
            ("1e1_0", 1e10),
            ("1e-5", 1e-5),
            ("1e999", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("iNf", f64::INFINITY),
        ] {
            assert_eq!(parse(text), Some(value), "{text:?}");
        }
        assert!(parse("nan").is_some_and(f64::is_nan));
        assert!(parse("-NaN").is_some_and(f64::is_nan));
    }

    #[test]
    fn what_python_float_refuses() {
        for text in [
            "", " ", ".", "e3", "1e", "1e+", "_1", "1_", "1__0", "1._5", "1_.5", "0x10", "1.5.3",
            "--1", "+-1", "1 0", "infinit", "nana", "1,5",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }
}
