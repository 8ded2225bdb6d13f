//! CPU and memory quantities of lab sizes, read as the original reads them (lab-form.md §3.3,
//! §3.4), so that a Nublado configuration means the same sizes here.
//!
//! Both follow the original's own rules rather than Kubernetes' quantity grammar: `512m` of
//! memory is 512 megabytes, not millibytes; CPU allows at most three decimal places. Every
//! memory value is computed in f64 and truncated, as the original does, so it is an integer
//! that may exceed 64 bits (`1Y` is 999999999999999983222784 bytes): it is kept as that f64,
//! which holds it exactly and compares exactly.

use super::pyfloat;

/// Why a quantity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error(
        "invalid CPU {0:?}: write whole milli-cores (500m) or a number with at most three \
         decimal places (1.234)"
    )]
    Cpu(String),
    #[error(
        "invalid memory {0:?}: write bytes, optionally with a unit: a binary prefix (Ki, Mi, Gi, \
         Ti, …), a decimal one (k, M, G, T, …, where m also means mega), B or bytes"
    )]
    Memory(String),
    #[error("invalid memory {0:?}: the number of bytes must be finite")]
    MemoryNotFinite(String),
}

/// A number of bytes: an integer held exactly in an f64 (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct MemoryBytes(f64);

impl MemoryBytes {
    /// Bytes from an f64, truncated toward zero as Python's `int()` does; `None` for a
    /// non-finite value (the original fails on those).
    pub fn truncate(value: f64) -> Option<MemoryBytes> {
        value.is_finite().then(|| MemoryBytes(value.trunc()))
    }

    /// The number of bytes (integer-valued).
    pub fn get(self) -> f64 {
        self.0
    }
}

/// A CPU quantity in cores (§3.3): `Nm` milli-cores, or a Python float with at most three
/// characters after its decimal point (`1.5e3` passes, `1.25e3` does not, as in the original).
pub fn parse_cpu(text: &str) -> Result<f64, QuantityError> {
    let refuse = || QuantityError::Cpu(text.to_owned());
    if let Some(milli) = text.strip_suffix('m') {
        if !milli.is_empty() && milli.bytes().all(|b| b.is_ascii_digit()) {
            let milli: f64 = milli.parse().map_err(|_| refuse())?;
            return Ok(milli / 1000.0);
        }
    }
    if let Some((_, after)) = text.split_once('.') {
        if after.chars().count() > 3 {
            return Err(refuse());
        }
    }
    pyfloat::parse(text).ok_or_else(refuse)
}

/// A memory quantity in bytes (§3.4).
pub fn parse_memory(text: &str) -> Result<MemoryBytes, QuantityError> {
    let refuse = || QuantityError::Memory(text.to_owned());
    let bytes = match pyfloat::parse(text) {
        Some(number) => number,
        None => {
            let at = text.find(char::is_alphabetic).ok_or_else(refuse)?;
            let (number, unit) = text.split_at(at);
            let number = pyfloat::parse(number).ok_or_else(refuse)?;
            number * multiplier(unit).ok_or_else(refuse)?
        }
    };
    if bytes.is_nan() {
        return Err(refuse());
    }
    MemoryBytes::truncate(bytes).ok_or_else(|| QuantityError::MemoryNotFinite(text.to_owned()))
}

/// Bytes per unit, as the original's unit table has them; `None` for an unknown unit.
fn multiplier(unit: &str) -> Option<f64> {
    let lower = unit.to_ascii_lowercase();
    if unit == "B" || lower == "byte" || lower == "bytes" {
        return Some(1.0);
    }
    if unit == "b" || lower == "bit" || lower == "bits" {
        return Some(1.0 / 8.0);
    }
    let prefix = unit.trim_end_matches(['B', 'b']);
    let mut letters = prefix.chars();
    let power = match letters.next()?.to_ascii_lowercase() {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        'z' => 7,
        'y' => 8,
        _ => return None,
    };
    match (letters.next(), letters.next()) {
        // SI prefixes as f64 literals: 1e24 is not exact, and the original multiplies by
        // that same nearest double.
        (None, _) => Some([1e3, 1e6, 1e9, 1e12, 1e15, 1e18, 1e21, 1e24][power - 1]),
        (Some('i'), None) => Some(f64::powi(1024.0, power as i32)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> f64 {
        parse_memory(text)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
            .get()
    }

    /// Cases beyond §6.4's vectors (which `tests/lab_form_vectors.rs` reads from the
    /// specification): the limits of what parses.
    #[test]
    fn memory_beyond_the_vectors() {
        for (text, value) in [
            ("4294967296", 4294967296.0),
            ("2Ki", 2048.0),
            ("0.5k", 500.0),
            ("16bytes", 16.0),
        ] {
            assert_eq!(bytes(text), value, "{text:?}");
        }
        for text in ["4Gix", "1e3Gi", "", "inf", "-inf", "Bb", "Ki"] {
            assert!(parse_memory(text).is_err(), "{text:?} accepted");
        }
        assert_eq!(
            parse_memory("1e400Gi"),
            Err(QuantityError::Memory("1e400Gi".into()))
        );
        assert_eq!(
            parse_memory("inf"),
            Err(QuantityError::MemoryNotFinite("inf".into()))
        );
    }

    /// Cases beyond §6.4's vectors: milli-cores, Python's float syntax, what is refused.
    #[test]
    fn cpu_beyond_the_vectors() {
        for (text, value) in [
            ("250m", 0.25),
            ("0m", 0.0),
            ("2e-4", 0.0002),
            ("-2", -2.0),
            (" 2 ", 2.0),
            ("inf", f64::INFINITY),
            ("2.125", 2.125),
        ] {
            assert_eq!(parse_cpu(text), Ok(value), "{text:?}");
        }
        assert!(parse_cpu("nan").is_ok_and(f64::is_nan));
        for text in ["2.1250", "2.5e10", "500.0m", "abc", "500m\n", "m", ""] {
            assert_eq!(
                parse_cpu(text),
                Err(QuantityError::Cpu(text.into())),
                "{text:?}"
            );
        }
    }
}
