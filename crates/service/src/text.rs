//! How sizes and digests are shown to people, the same on the status pages and in `plan`'s
//! tables.

/// `sha256:0123456789ab`: enough to tell digests apart at a glance (as `docker images`).
pub fn short_digest(digest: &str) -> &str {
    let end = digest
        .char_indices()
        .nth(19)
        .map_or(digest.len(), |(i, _)| i);
    &digest[..end]
}

/// Bytes in binary units with one decimal (`4.5 GiB`), plain bytes below 1 KiB.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_digests_are_short() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
        assert_eq!(human_size(u64::MAX), "16777216.0 TiB");
        assert_eq!(
            short_digest("sha256:0123456789abcdef0123"),
            "sha256:0123456789ab"
        );
        assert_eq!(short_digest("sha256:é"), "sha256:é");
    }
}
