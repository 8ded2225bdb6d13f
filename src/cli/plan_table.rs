//! `plan --output table`: the plan as an operator reads it, in aligned columns the way
//! `kubectl get` prints (and with the same tool: elastic tabstops, `tabwriter`). Four tables:
//! the spawner menu, the prepull images with how many eligible nodes have them, every node
//! with its eligibility and reason, and the prepull pods the plan would create.

use chrono::{DateTime, Utc};
use rsp_config::Config;
use rsp_model::reference::ReferenceParts;
use rsp_service::dry_run::DryRun;
use rsp_service::init_images::INIT_IMAGE_NAME;
use rsp_service::served;
use rsp_service::text::{human_size, short_digest};
use std::fmt::Write as _;
use std::io::Write as _;

/// Shown for an empty cell, as kubectl does.
const NONE: &str = "<none>";

pub fn render(config: &Config, run: &DryRun, now: DateTime<Utc>) -> String {
    let DryRun {
        listing_on_nodes: world,
        pods,
        ..
    } = run;
    let mut out = String::new();
    let menu = served::menu(world, config, now);
    let catalog = &world.listing.catalog;
    section(
        &mut out,
        &format!(
            "MENU ({} images; {} in the dropdown) from {}/{}",
            menu.menu.len(),
            menu.dropdown.len(),
            catalog.registry(),
            catalog.repository()
        ),
        &["NAME", "TAG", "DIGEST"],
        menu.menu.iter().map(|image| {
            let parts = ReferenceParts::parse(&image.reference).ok();
            let tag = parts.and_then(|parts| parts.tag).unwrap_or("");
            let digest = parts.and_then(|parts| parts.digest).unwrap_or("");
            vec![
                image.name.clone(),
                tag.to_owned(),
                short_digest(digest).to_owned(),
            ]
        }),
    );

    let images = &world.prepull_images;
    let eligible = world.eligible_names().count();
    let missing = &world.metric_counts().missing_by_image;
    section(
        &mut out,
        &format!("PREPULL IMAGES ({})", images.len()),
        &["TAG", "NAME", "DIGEST", "SIZE", "ON ELIGIBLE NODES"],
        images.iter().zip(missing).map(|(image, (_, missing))| {
            let listed = world.listing.catalog.get(&image.tag);
            let size = world.size(&image.digest, listed.and_then(|listed| listed.size()));
            let on = eligible.saturating_sub(usize::try_from(*missing).unwrap_or(usize::MAX));
            // An init container image: not in the catalog, and without a digest while it is
            // known by name.
            let digest = if image.known_by_name() {
                ""
            } else {
                short_digest(&image.digest)
            };
            vec![
                image.tag.clone(),
                listed.map_or_else(
                    || INIT_IMAGE_NAME.to_owned(),
                    |listed| listed.display_name().to_owned(),
                ),
                digest.to_owned(),
                size.map_or_else(String::new, human_size),
                format!("{on}/{eligible}"),
            ]
        }),
    );

    section(
        &mut out,
        &format!("NODES ({}, {eligible} eligible)", world.nodes.len()),
        &[
            "NAME",
            "ELIGIBLE",
            "REASON",
            "PREPULL IMAGES",
            "PODS",
            "COMMENT",
        ],
        world.entries().map(|(node, eligibility)| {
            let cached = images
                .iter()
                .filter(|image| world.presence.is_on(&image.digest, &node.name))
                .count();
            let planned = pods.iter().filter(|pod| pod.node == node.name).count();
            vec![
                node.name.clone(),
                yes_no(eligibility.is_eligible()).to_owned(),
                eligibility
                    .reason()
                    .map_or_else(String::new, |reason| reason.as_str().to_owned()),
                format!("{cached}/{}", images.len()),
                planned.to_string(),
                eligibility.comment().unwrap_or("").to_owned(),
            ]
        }),
    );

    section(
        &mut out,
        &format!("PODS TO CREATE ({})", pods.len()),
        &["NAME", "NODE", "TAG", "DIGEST"],
        pods.iter().map(|pod| {
            let digest = pod.image.rsplit_once('@').map_or("", |(_, digest)| digest);
            vec![
                pod.name.clone(),
                pod.node.clone(),
                pod.tag.clone(),
                short_digest(digest).to_owned(),
            ]
        }),
    );
    out
}

/// A title, then the rows aligned under the headers; `(none)` when there are no rows.
fn section(
    out: &mut String,
    title: &str,
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) {
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{title}");
    let mut table = tabwriter::TabWriter::new(Vec::new()).padding(3);
    let mut lines = 0;
    let _ = writeln!(table, "{}", headers.join("\t"));
    for row in rows {
        // A tab or newline inside a cell (a taint in a node's comment) would break the columns.
        let cells: Vec<String> = row
            .iter()
            .map(|cell| match cell.as_str() {
                "" => NONE.to_owned(),
                text => text.replace(['\t', '\n'], " "),
            })
            .collect();
        let _ = writeln!(table, "{}", cells.join("\t"));
        lines += 1;
    }
    if lines == 0 {
        out.push_str("(none)\n");
        return;
    }
    let bytes = table.into_inner().unwrap_or_default();
    out.push_str(&String::from_utf8_lossy(&bytes));
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_digests_read_as_people_expect() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(
            human_size(4 * 1024 * 1024 * 1024 + 512 * 1024 * 1024),
            "4.5 GiB"
        );
        assert_eq!(human_size(u64::MAX), "16777216.0 TiB");
        assert_eq!(
            short_digest(&format!("sha256:{}", "ab".repeat(32))),
            "sha256:abababababab"
        );
        assert_eq!(short_digest("sha256:ab"), "sha256:ab");
    }

    #[test]
    fn tables_align_and_empty_ones_say_so() {
        let mut out = String::new();
        section(
            &mut out,
            "T",
            &["A", "LONGER"],
            [
                vec!["x".to_owned(), String::new()],
                vec!["wide-cell".to_owned(), "y".to_owned()],
            ]
            .into_iter(),
        );
        section(&mut out, "EMPTY", &["A"], std::iter::empty());
        assert_eq!(
            out,
            "T\nA           LONGER\nx           <none>\nwide-cell   y\n\nEMPTY\n(none)\n"
        );
    }
}
