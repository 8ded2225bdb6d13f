//! A test [`Backend`] over the behaviour's Docker "standard" fixture (§9.1, §9.3), computed
//! with the model (tag parsing, alias constructor, display names, collection order and
//! `latest`, reference parsing) rather than canned JSON, plus helpers to drive a router.
//!
//! Listing: `lighthouse.ceres/library/sketchbook` with `recommended` and `w_2077_43`
//! (`sha256:5678`), `d_2077_10_23` (`sha256:1234`), `latest_weekly` and `latest_daily` (no
//! digest). Prepull subset: the first three. Nodes: `node1` caches both digests, `node2`
//! lacks `sha256:1234` (its prepull is backing off), `node4` is pulling it, and `node3` is
//! ineligible (tainted) and caches nothing.

#![allow(dead_code)] // Each test binary uses a different part of the fixture.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use rsp_model::api::{
    MenuImage, MenuImages, NodeImage, NodeStatus, PrepulledImage, PrepullerImages, PrepullerStatus,
    SpawnerImages,
};
use rsp_model::collection::TagCollection;
use rsp_model::reference::DockerReference;
use rsp_model::{Tag, TagKind};
use rsp_service::backend::{
    Backend, CellState, ImageClass, ImageRow, ImageSelection, LookupError, MetricsSnapshot,
    NodeView, RefreshView, ResolvedImage, StatusView,
};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tower::ServiceExt as _;

pub const RECOMMENDED: &str = "recommended";
pub const PREFIX: &str = "/nublado";

pub struct Node {
    pub name: String,
    pub eligible: bool,
    pub comment: Option<String>,
}

pub struct TestBackend {
    pub registry: String,
    pub repository: String,
    /// Every listed tag, in collection order.
    pub tags: TagCollection,
    /// Tag name → digest (absent for Docker tags whose digest was never fetched).
    pub digests: BTreeMap<String, String>,
    /// The prepull subset, tag names.
    pub prepull: Vec<String>,
    pub nodes: Vec<Node>,
    /// Digest → nodes that cache it.
    pub presence: BTreeMap<String, BTreeSet<String>>,
    /// (node, digest) → what the prepuller is doing about it.
    pub activity: BTreeMap<(String, String), CellState>,
    pub refresh: RefreshView,
    pub ready: AtomicBool,
    pub leader: bool,
}

fn at(secs_ago: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(secs_ago)
}

impl TestBackend {
    /// The standard fixture, ready.
    pub fn standard() -> TestBackend {
        let listing = [
            ("recommended", Some("sha256:5678")),
            ("w_2077_43", Some("sha256:5678")),
            ("d_2077_10_23", Some("sha256:1234")),
            ("latest_weekly", None),
            ("latest_daily", None),
        ];
        let node = |name: &str, eligible: bool, comment: Option<&str>| Node {
            name: name.to_owned(),
            eligible,
            comment: comment.map(str::to_owned),
        };
        let set = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
        let mut activity = BTreeMap::new();
        activity.insert(
            ("node2".to_owned(), "sha256:1234".to_owned()),
            CellState::BackingOff {
                reason: "image pull failed: manifest unknown".to_owned(),
                failed_at: at(90),
                until: SystemTime::now() + Duration::from_secs(150),
            },
        );
        activity.insert(
            ("node4".to_owned(), "sha256:1234".to_owned()),
            CellState::Pulling { since: at(42) },
        );
        TestBackend::new(
            "lighthouse.ceres",
            "library/sketchbook",
            &listing,
            &["recommended", "w_2077_43", "d_2077_10_23"],
            vec![
                node("node1", true, None),
                node("node2", true, None),
                node(
                    "node3",
                    false,
                    Some("Node is tainted (NoSchedule, some-taint = other-value)"),
                ),
                node("node4", true, None),
            ],
            [
                ("sha256:5678".to_owned(), set(&["node1", "node2", "node4"])),
                ("sha256:1234".to_owned(), set(&["node1"])),
            ]
            .into(),
            activity,
        )
    }

    /// Before the first refresh: nothing listed, no nodes, not ready.
    pub fn empty() -> TestBackend {
        let mut backend = TestBackend::new(
            "",
            "",
            &[],
            &[],
            Vec::new(),
            BTreeMap::new(),
            BTreeMap::new(),
        );
        backend.ready = AtomicBool::new(false);
        backend.refresh = RefreshView {
            source: "lighthouse.ceres/library/sketchbook (docker)".to_owned(),
            last_success: None,
            last_error: Some(("connection refused".to_owned(), at(5))),
        };
        backend
    }

    /// Markup and quotes everywhere a registry or cluster could put them.
    pub fn hostile() -> TestBackend {
        let mut backend = TestBackend::standard();
        backend.repository = "lib/<script>alert(\"x\")</script>&'".to_owned();
        backend.nodes[0].name = "<b>node1</b>".to_owned();
        backend.nodes[2].comment = Some("<img src=x onerror=alert(1)>".to_owned());
        backend.refresh.last_error = Some(("<i>bad</i> & \"worse\"".to_owned(), at(30)));
        backend
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        registry: &str,
        repository: &str,
        listing: &[(&str, Option<&str>)],
        prepull: &[&str],
        nodes: Vec<Node>,
        presence: BTreeMap<String, BTreeSet<String>>,
        activity: BTreeMap<(String, String), CellState>,
    ) -> TestBackend {
        let aliases: HashSet<String> = [RECOMMENDED.to_owned()].into();
        TestBackend {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tags: TagCollection::from_tag_names(listing.iter().map(|(t, _)| *t), &aliases, None),
            digests: listing
                .iter()
                .filter_map(|(t, d)| Some(((*t).to_owned(), (*d)?.to_owned())))
                .collect(),
            prepull: prepull.iter().map(|t| (*t).to_owned()).collect(),
            nodes,
            presence,
            activity,
            refresh: RefreshView {
                source: format!("{registry}/{repository} (docker)"),
                last_success: Some(at(120)),
                last_error: None,
            },
            ready: AtomicBool::new(true),
            leader: true,
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    fn eligible(&self) -> BTreeSet<&str> {
        self.nodes
            .iter()
            .filter(|n| n.eligible)
            .map(|n| n.name.as_str())
            .collect()
    }

    fn cached_on(&self, digest: Option<&String>) -> BTreeSet<&str> {
        digest
            .and_then(|d| self.presence.get(d))
            .map(|nodes| nodes.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    fn prepulled(&self, tag: &str) -> bool {
        self.cached_on(self.digests.get(tag))
            .is_superset(&self.eligible())
    }

    /// The non-alias tag an alias points to (same digest), as alias resolution decides.
    fn alias_target(&self, tag: &Tag) -> Option<&Tag> {
        let digest = self.digests.get(tag.tag())?;
        (tag.kind() == TagKind::Alias).then_some(())?;
        self.tags.all_tags(false).find(|other| {
            other.kind() != TagKind::Alias && self.digests.get(other.tag()) == Some(digest)
        })
    }

    fn display_name(&self, tag: &Tag) -> String {
        match self.alias_target(tag) {
            Some(target) => format!("{} ({})", tag.display_name(), target.display_name()),
            None => tag.display_name(),
        }
    }

    fn reference(&self, tag: &str) -> String {
        format!("{}/{}:{tag}", self.registry, self.repository)
    }

    fn reference_with_digest(&self, tag: &str) -> String {
        match self.digests.get(tag) {
            Some(digest) => format!("{}@{digest}", self.reference(tag)),
            None => self.reference(tag),
        }
    }

    fn prepulled_image(&self, tag: &Tag) -> PrepulledImage {
        let digest = self.digests.get(tag.tag());
        let aliases = self
            .tags
            .all_tags(false)
            .filter(|o| {
                o.tag() != tag.tag() && digest.is_some() && self.digests.get(o.tag()) == digest
            })
            .map(|o| o.tag().to_owned())
            .collect::<BTreeSet<_>>();
        PrepulledImage {
            reference: self.reference(tag.tag()),
            tag: tag.tag().to_owned(),
            name: self.display_name(tag),
            digest: digest.cloned(),
            aliases: aliases.into_iter().collect(),
            prepulled: self.prepulled(tag.tag()),
        }
    }

    fn prepull_tags(&self) -> impl Iterator<Item = &Tag> + '_ {
        self.tags
            .all_tags(true)
            .filter(|t| self.prepull.iter().any(|p| p == t.tag()))
    }

    fn latest(&self, kind: TagKind) -> Option<PrepulledImage> {
        self.prepull_tags()
            .find(|t| t.kind() == kind)
            .map(|t| self.prepulled_image(t))
    }

    /// Prepull images with aliases whose target is also in the subset hidden (§9.4).
    fn node_image_tags(&self) -> Vec<&Tag> {
        self.prepull_tags()
            .filter(|t| {
                self.alias_target(t)
                    .is_none_or(|target| !self.prepull.iter().any(|p| p == target.tag()))
            })
            .collect()
    }

    fn lookup(&self, tag: &str) -> Result<&Tag, LookupError> {
        self.tags
            .get(tag)
            .ok_or_else(|| LookupError::UnknownImage(format!("Docker tag \"{tag}\" not found")))
    }

    fn resolved(&self, tag: &Tag) -> ResolvedImage {
        ResolvedImage {
            reference: self.reference(tag.tag()),
            reference_with_digest: self.reference_with_digest(tag.tag()),
            tag: tag.tag().to_owned(),
            name: self.display_name(tag),
            digest: self.digests.get(tag.tag()).cloned().unwrap_or_default(),
        }
    }

    fn resolve_reference(&self, text: &str) -> Result<ResolvedImage, LookupError> {
        let reference = DockerReference::parse(text)
            .map_err(|e| LookupError::InvalidReference(e.to_string()))?;
        if reference.registry != self.registry || reference.repository != self.repository {
            return Err(LookupError::UnknownImage(format!(
                "Docker reference \"{text}\" is not in {}/{}",
                self.registry, self.repository
            )));
        }
        let Some(tag) = reference.tag.as_deref() else {
            return Err(LookupError::InvalidReference(format!(
                "Docker reference \"{text}\" has no tag"
            )));
        };
        let image = self.resolved(self.lookup(tag)?);
        match reference.digest {
            Some(digest) if digest != image.digest => Err(LookupError::UnknownImage(format!(
                "Docker reference \"{text}\" does not match the digest of {tag}"
            ))),
            _ => Ok(image),
        }
    }
}

impl Backend for TestBackend {
    fn spawner_images(&self) -> SpawnerImages {
        SpawnerImages {
            recommended: self
                .prepull_tags()
                .find(|t| t.tag() == RECOMMENDED)
                .map(|t| self.prepulled_image(t)),
            latest_weekly: self.latest(TagKind::Weekly),
            latest_daily: self.latest(TagKind::Daily),
            latest_release: self.latest(TagKind::Release),
            all: self
                .tags
                .all_tags(true)
                .map(|t| self.prepulled_image(t))
                .collect(),
        }
    }

    fn prepulls(&self) -> PrepullerStatus {
        let eligible = self.eligible();
        let mut nodes: Vec<NodeStatus> = self
            .nodes
            .iter()
            .map(|n| NodeStatus {
                name: n.name.clone(),
                eligible: n.eligible,
                comment: n.comment.clone(),
                cached: Vec::new(),
                errors: BTreeMap::new(),
            })
            .collect();
        let mut images = PrepullerImages::default();
        for tag in self.node_image_tags() {
            let digest = self.digests.get(tag.tag());
            let cached = self.cached_on(digest);
            for node in nodes
                .iter_mut()
                .filter(|n| cached.contains(n.name.as_str()))
            {
                node.cached.push(self.reference(tag.tag()));
            }
            let mut errors = BTreeMap::new();
            for ((node, failed), state) in &self.activity {
                if let (Some(digest), CellState::BackingOff { reason, .. }) = (digest, state) {
                    if failed == digest {
                        errors.insert(node.clone(), reason.clone());
                        if let Some(status) = nodes.iter_mut().find(|n| &n.name == node) {
                            status
                                .errors
                                .insert(self.reference(tag.tag()), reason.clone());
                        }
                    }
                }
            }
            let image = NodeImage {
                reference: self.reference(tag.tag()),
                tag: tag.tag().to_owned(),
                name: self.display_name(tag),
                digest: digest.cloned(),
                size: Some(65537),
                nodes: cached.iter().map(|n| (*n).to_owned()).collect(),
                missing: eligible
                    .difference(&cached)
                    .map(|n| (*n).to_owned())
                    .collect(),
                errors,
            };
            if image.missing.is_empty() {
                images.prepulled.push(image);
            } else {
                images.pending.push(image);
            }
        }
        PrepullerStatus {
            config: serde_json::json!({
                "source": {"type": "docker", "registry": self.registry, "repository": self.repository},
                "refresh_interval": 300.0, "prepull_timeout": 600.0,
                "recommended_tag": RECOMMENDED, "num_releases": 1, "num_weeklies": 2,
                "num_dailies": 3, "cycle": null, "pin": [], "alias_tags": [],
            }),
            images,
            nodes,
        }
    }

    fn menu(&self) -> MenuImages {
        let entry = |t: &Tag| MenuImage {
            reference: self.reference_with_digest(t.tag()),
            name: self.display_name(t),
        };
        let aliased: BTreeSet<&str> = self
            .prepull_tags()
            .filter_map(|t| self.alias_target(t))
            .map(Tag::tag)
            .collect();
        let mut recommended = None;
        let mut menu = Vec::new();
        for tag in self.prepull_tags().filter(|t| !aliased.contains(t.tag())) {
            if tag.tag() == RECOMMENDED {
                recommended = Some(entry(tag));
            } else if self.prepulled(tag.tag()) {
                menu.push(entry(tag));
            }
        }
        menu.splice(0..0, recommended);
        MenuImages {
            menu,
            dropdown: self.tags.all_tags(true).map(entry).collect(),
        }
    }

    fn image_for_tag(&self, tag: &str) -> Result<PrepulledImage, LookupError> {
        self.lookup(tag).map(|t| self.prepulled_image(t))
    }

    async fn resolve(&self, selection: ImageSelection) -> Result<ResolvedImage, LookupError> {
        match selection {
            ImageSelection::List(text) | ImageSelection::Dropdown(text) => {
                self.resolve_reference(&text)
            }
            ImageSelection::Tag(tag) => self.lookup(&tag).map(|t| self.resolved(t)),
            ImageSelection::Class(class) => {
                let (kind, name) = match class {
                    ImageClass::Recommended => (TagKind::Alias, "recommended"),
                    ImageClass::LatestRelease => (TagKind::Release, "latest-release"),
                    ImageClass::LatestWeekly => (TagKind::Weekly, "latest-weekly"),
                    ImageClass::LatestDaily => (TagKind::Daily, "latest-daily"),
                };
                self.prepull_tags()
                    .find(|t| {
                        t.kind() == kind && (kind != TagKind::Alias || t.tag() == RECOMMENDED)
                    })
                    .map(|t| self.resolved(t))
                    .ok_or_else(|| LookupError::UnknownImage(format!("No {name} image found")))
            }
        }
    }

    fn status(&self) -> StatusView {
        let images = self
            .node_image_tags()
            .into_iter()
            .map(|tag| {
                let digest = self.digests.get(tag.tag()).cloned().unwrap_or_default();
                let cached = self.cached_on(Some(&digest));
                ImageRow {
                    tag: tag.tag().to_owned(),
                    name: self.display_name(tag),
                    reference: self.reference(tag.tag()),
                    size: Some(3 * 1024 * 1024 * 1024),
                    cells: self
                        .nodes
                        .iter()
                        .map(|n| {
                            if cached.contains(n.name.as_str()) {
                                CellState::Cached
                            } else {
                                self.activity
                                    .get(&(n.name.clone(), digest.clone()))
                                    .cloned()
                                    .unwrap_or(CellState::Missing)
                            }
                        })
                        .collect(),
                    digest,
                }
            })
            .collect();
        StatusView {
            refresh: self.refresh.clone(),
            nodes: self
                .nodes
                .iter()
                .map(|n| NodeView {
                    name: n.name.clone(),
                    eligible: n.eligible,
                    comment: n.comment.clone(),
                })
                .collect(),
            images,
            leader: self.leader,
            prepulling: true,
        }
    }

    fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    fn metrics(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            refresh_success_total: 3,
            refresh_failure_total: 1,
            refresh_durations: vec![0.4, 1.2, 0.3, 31.0],
            images_seen: self.tags.len() as u64,
            tags_seen: self.tags.len() as u64,
            prepull_pods_in_flight: 1,
            prepull_durations: vec![12.5, 80.0],
            prepull_failures: vec![("pull_error".to_owned(), 2), ("timeout\"\n".to_owned(), 1)],
            missing_pairs: 2,
        }
    }
}

/// A router over `backend` mounted at [`PREFIX`].
pub fn app(backend: Arc<TestBackend>) -> Router {
    rsp_service::http::router(backend, PREFIX).expect("the test prefix is valid")
}

/// One response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// `(status, first detail's type)` of an error reply, checking the error shape.
    pub fn error(&self) -> (u16, String) {
        let body = self.json();
        let detail = &body["detail"][0];
        assert!(detail["msg"].is_string(), "error without msg: {body}");
        (
            self.status.as_u16(),
            detail["type"].as_str().unwrap_or("").to_owned(),
        )
    }
}

pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("routers are infallible");
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .expect("bodies are in memory")
        .to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

pub async fn get(app: &Router, uri: &str) -> Reply {
    send(
        app,
        Request::get(uri)
            .body(Body::empty())
            .expect("valid request"),
    )
    .await
}

pub async fn call(app: &Router, method: Method, uri: &str) -> Reply {
    send(
        app,
        Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .expect("valid request"),
    )
    .await
}

pub async fn post_json(app: &Router, uri: &str, body: impl Into<Body>) -> Reply {
    send(
        app,
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.into())
            .expect("valid request"),
    )
    .await
}

pub async fn resolve(app: &Router, body: serde_json::Value) -> Reply {
    post_json(
        app,
        &format!("{PREFIX}/spawner/v1/images/resolve"),
        body.to_string(),
    )
    .await
}
