//! Quantities as the original writes them in size labels (lab-form.md §3.5): CPU as Python's
//! `repr` of a float, memory through the original's "bytes to SI" helper (six significant
//! digits, binary prefixes). Labels must match byte for byte, rounding quirks included.

use super::quantity::MemoryBytes;

/// `repr(float)` in Python: the shortest decimal that reads back as the same value (the
/// nearest such one, ties to even), positional for decimal exponents in [-4, 16) with `.0`
/// when integral, else scientific with a signed exponent of at least two digits (`1e+16`,
/// `1e-05`).
pub fn cpu(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // Rust finds how many digits the shortest round trip needs; among strings of that length
    // it may pick either neighbour of a tie, where Python picks the even one, so the digits
    // are then rounded correctly (ties to even) to that length.
    let shortest = format!("{value:e}");
    let significant = shortest
        .split('e')
        .next()
        .unwrap_or_default()
        .bytes()
        .filter(u8::is_ascii_digit)
        .count()
        .max(1);
    let rounded = format!("{:.*e}", significant - 1, value);
    let (mantissa, exponent) = rounded.split_once('e').unwrap_or((&rounded, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if mantissa.starts_with('-') { "-" } else { "" };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..16).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            format!("{sign}{first}")
        } else {
            format!("{sign}{first}.{rest}")
        };
        return python_exponent(&mantissa, &exponent.to_string());
    }
    let point = exponent + 1; // digits before the decimal point
    if point <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat(-point as usize))
    } else if digits.len() <= point as usize {
        format!(
            "{sign}{digits}{}.0",
            "0".repeat(point as usize - digits.len())
        )
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{sign}{whole}.{fraction}")
    }
}

/// `mantissa` with a Python-style exponent: sign always, at least two digits.
fn python_exponent(mantissa: &str, exponent: &str) -> String {
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(digits) => ('-', digits),
        None => ('+', exponent.trim_start_matches('+')),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// Memory as the original's labels show it: `0b` for nothing, else the value over the
/// largest power of 1024 not above it (up to `Yi`), six significant digits.
pub fn memory(bytes: MemoryBytes) -> String {
    let x = bytes.get();
    if x == 0.0 {
        return "0b".to_owned();
    }
    // The power comes from a float logarithm, as in the original: for 2^50 - 3 … 2^50 - 1
    // it gives 5 (`1Pi`) where an integer logarithm would give 4 (`1024Ti`).
    let power = (x.abs().ln() / 1024f64.ln()).trunc() as i32;
    if power < 1 {
        return general(x);
    }
    const PREFIXES: [&str; 8] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"];
    let power = power.min(8);
    let value = x / 1024f64.powi(power);
    format!("{}{}", general(value), PREFIXES[power as usize - 1])
}

/// Python's `format(value, "g")`: six significant digits (ties to even on the exact binary
/// value), positional when the decimal exponent is in [-4, 6), trailing zeros removed.
fn general(value: f64) -> String {
    let scientific = format!("{value:.5e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific; // inf or NaN, which memory never is
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        let decimals = (5 - exponent) as usize;
        strip_zeros(&format!("{value:.decimals$}")).to_owned()
    } else {
        python_exponent(strip_zeros(mantissa), &exponent.to_string())
    }
}

fn strip_zeros(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::quantity::parse_memory;

    /// Python's float repr at its thresholds and ties; the specification's own examples are
    /// read from it by `tests/lab_form_vectors.rs`.
    #[test]
    fn cpu_as_python_repr() {
        for (value, text) in [
            (1.5e16, "1.5e+16"),
            (3e16, "3e+16"),
            (1e15, "1000000000000000.0"),
            (1e-4, "0.0001"),
            (1e-100, "1e-100"),
            (1e100, "1e+100"),
            (-1.0, "-1.0"),
            (-0.0, "-0.0"),
            (2.5, "2.5"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (0.0, "0.0"),
            // Exactly between …405.2 and …405.3: Python takes the even one.
            (845_025_321_644_405.0 + 0.25, "845025321644405.2"),
            (123.456, "123.456"),
        ] {
            assert_eq!(cpu(value), text, "{value}");
        }
    }

    fn of(bytes: f64) -> String {
        memory(MemoryBytes::truncate(bytes).unwrap())
    }

    /// Memory as `format(v, "g")` with a binary prefix writes it (values checked against
    /// Python); §3.5's table is read from the specification by `tests/lab_form_vectors.rs`.
    #[test]
    fn memory_as_the_original_writes_it() {
        for (quantity, text) in [
            ("2047", "1.99902Ki"),
            ("1536Ki", "1.5Mi"),
            ("5e9", "4.65661Gi"),
            ("123456789", "117.738Mi"),
            ("-1Gi", "-1Gi"),
            ("-5", "-5"),
        ] {
            let bytes = parse_memory(quantity).unwrap();
            assert_eq!(memory(bytes), text, "{quantity}");
        }
        // The float logarithm, not an integer one, picks the prefix near a power of 1024.
        assert_eq!(of(2f64.powi(50) - 3.0), "1Pi");
        assert_eq!(of(1.0), "1");
    }
}
