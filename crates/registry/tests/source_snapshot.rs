//! `SnapshotSource` and `write_snapshot`: a listing saved from Artifact Registry reads back as
//! the same listing; entries of other images are ignored; a missing or corrupt file is an
//! error that names the file (decisions §3, `images.source.type: snapshot`).

use std::path::Path;

use rsp_config::SourceConfig;
use rsp_registry::source::{write_snapshot, ImageSource, SnapshotSource};
use rsp_registry::GarImage;
use rsp_testkit::gar::FakeGar;
use rsp_testkit::registry::TempDir;
use source_support::{
    digest, fake_gar, gar_image, gar_repo, get, google_source, names, options, snapshot_config,
    strings, summary, GAR_PATH, GAR_REGISTRY, IMAGE,
};

mod source_support;

async fn saved_from_the_registry() -> (FakeGar, Vec<GarImage>) {
    let fake = fake_gar(vec![
        gar_image(1, &["w_2077_43", "recommended", "latest_weekly"]),
        gar_image(2, &["w_2077_42"]),
        gar_image(3, &["d_2077_10_23"]),
        gar_image(4, &["r21_0_1_c0050.001_rsp12-amd64"]),
        gar_image(5, &["exp_w_2077_43_gpu"]),
        gar_image(6, &[]),
        gar_repo().image("other-lab", &digest(9), &["w_2077_44"], 1),
    ])
    .await;
    let (google, _) = google_source(&fake, IMAGE).await;
    let images = google.list().await.unwrap();
    (fake, images)
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[tokio::test]
async fn a_written_snapshot_reads_back_as_the_registry_listing() {
    let (fake, images) = saved_from_the_registry().await;
    assert_eq!(images.len(), 6, "the other image is not ours");
    let dir = TempDir::new("rsp-snapshot-test").unwrap();
    write(
        dir.path(),
        "listing.json",
        &write_snapshot(GAR_REGISTRY, GAR_PATH, &images),
    );

    // Relative paths are taken from the configuration file's directory.
    let snapshot = SnapshotSource::new(&snapshot_config("listing.json"), dir.path());
    assert_eq!(snapshot.registry_and_repository(), (GAR_REGISTRY, GAR_PATH));
    assert!(snapshot.describe().contains("listing.json"));
    let mut options = options(SourceConfig::Snapshot(snapshot_config("listing.json")));
    options.pin = strings(&["r21_0_1_c0050.001_rsp12-amd64"]);
    let from_file = snapshot.update_images(&options).await.unwrap();

    let (google, _) = google_source(&fake, IMAGE).await;
    let from_registry = google.update_images(&options).await.unwrap();
    assert_eq!(summary(&from_file), summary(&from_registry));
    assert!(from_file.tags.is_none() && !from_file.sizes_from_nodes);

    // And the listing is the one the registry holds, sizes included.
    assert_eq!(
        get(&from_file.catalog, "recommended").display_name,
        "Recommended (Weekly 2077_43)"
    );
    assert_eq!(get(&from_file.catalog, "w_2077_42").size, Some(1_000_002));
    assert_eq!(
        names(&from_file.to_prepull),
        strings(&[
            "recommended",
            "r21_0_1_c0050.001_rsp12-amd64",
            "w_2077_43",
            "w_2077_42",
            "d_2077_10_23",
        ])
    );
    assert_eq!(snapshot.fetch_digest("w_2077_42").await.unwrap(), None);
}

#[tokio::test]
async fn entries_of_other_images_and_missing_sizes_are_handled() {
    let ours = vec![GarImage {
        tags: strings(&["w_2077_43"]),
        digest: digest(1),
        ..GarImage::default()
    }];
    let theirs = vec![GarImage {
        tags: strings(&["w_2077_44"]),
        digest: digest(2),
        size: Some(5),
        ..GarImage::default()
    }];
    let mut file: serde_json::Value =
        serde_json::from_str(&write_snapshot(GAR_REGISTRY, GAR_PATH, &ours)).unwrap();
    let other: serde_json::Value = serde_json::from_str(&write_snapshot(
        GAR_REGISTRY,
        "rubin-shared/sciplat/other-lab",
        &theirs,
    ))
    .unwrap();
    let entries = file["dockerImages"].as_array_mut().unwrap();
    entries.extend(other["dockerImages"].as_array().unwrap().iter().cloned());
    assert_eq!(entries.len(), 2);

    let dir = TempDir::new("rsp-snapshot-test").unwrap();
    let path = dir.path().join("mixed.json");
    std::fs::write(&path, file.to_string()).unwrap();
    // An absolute path ignores the configuration directory.
    let source = SnapshotSource::new(&snapshot_config(&path), Path::new("/nonexistent"));
    let listing = source
        .update_images(&options(SourceConfig::Snapshot(snapshot_config(&path))))
        .await
        .unwrap();
    assert_eq!(names(&listing.catalog), strings(&["w_2077_43"]));
    assert_eq!(get(&listing.catalog, "w_2077_43").size, None);
}

#[tokio::test]
async fn a_missing_or_corrupt_file_is_an_error_naming_it() {
    let dir = TempDir::new("rsp-snapshot-test").unwrap();
    write(dir.path(), "corrupt.json", "{\"dockerImages\": [{\"uri\": ");
    write(dir.path(), "wrong.json", "{\"dockerImages\": 42}");
    for (name, expected) in [
        ("missing.json", "cannot read it"),
        ("corrupt.json", "not a dockerImages listing"),
        ("wrong.json", "not a dockerImages listing"),
    ] {
        let config = snapshot_config(name);
        let source = SnapshotSource::new(&config, dir.path());
        let error = source
            .update_images(&options(SourceConfig::Snapshot(config)))
            .await
            .unwrap_err();
        let text = error.to_string();
        let path = dir.path().join(name);
        assert!(
            text.contains(&path.display().to_string()) && text.contains(expected),
            "{name}: {text}"
        );
        assert!(
            text.contains("rsp-images snapshot"),
            "says how to fix: {text}"
        );
    }
}
