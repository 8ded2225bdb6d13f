//! coordination.k8s.io/v1 leases in the fake cluster: the create/get/replace/patch cycle a
//! leader elector runs, with optimistic concurrency on `resourceVersion`.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::ObjectMeta;
use rsp_testkit::kube::FakeCluster;
use serde_json::json;

fn lease(holder: &str) -> Lease {
    named_lease("rsp-images", holder)
}

fn named_lease(name: &str, holder: &str) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            ..Default::default()
        }),
    }
}

fn code(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.reason),
        other => panic!("expected an API error, got {other}"),
    }
}

fn holder(l: &Lease) -> Option<&str> {
    l.spec.as_ref()?.holder_identity.as_deref()
}

#[tokio::test]
async fn replace_with_stale_resource_version_conflicts() {
    let cluster = FakeCluster::start().await;
    let leases: Api<Lease> = Api::namespaced(cluster.client(), "rsp");
    let pp = PostParams::default();

    assert_eq!(code(leases.get("rsp-images").await.unwrap_err()).0, 404);
    let created = leases.create(&pp, &lease("a")).await.expect("create");
    assert_eq!(created.metadata.namespace.as_deref(), Some("rsp"));
    assert_eq!(
        code(leases.create(&pp, &lease("b")).await.unwrap_err()),
        (409, "AlreadyExists".into())
    );

    // Replica a renews with the version it read.
    let mut renewed = created.clone();
    renewed.spec.as_mut().unwrap().lease_duration_seconds = Some(20);
    let renewed = leases
        .replace("rsp-images", &pp, &renewed)
        .await
        .expect("renew");
    assert_ne!(
        renewed.metadata.resource_version,
        created.metadata.resource_version
    );

    // Replica b still holds the first version: its takeover must fail.
    let mut takeover = created.clone();
    takeover.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let err = leases
        .replace("rsp-images", &pp, &takeover)
        .await
        .unwrap_err();
    assert_eq!(code(err), (409, "Conflict".into()));
    assert_eq!(holder(&leases.get("rsp-images").await.unwrap()), Some("a"));

    // With a fresh read it succeeds.
    let mut fresh = leases.get("rsp-images").await.unwrap();
    fresh.spec.as_mut().unwrap().holder_identity = Some("b".into());
    leases
        .replace("rsp-images", &pp, &fresh)
        .await
        .expect("takeover");
    assert_eq!(
        cluster.lease("rsp", "rsp-images").as_ref().and_then(holder),
        Some("b")
    );
    assert_eq!(cluster.stats().requests("update", "leases"), 3);

    // An injected 409 on an update reads as a conflict, as a real one does.
    cluster.fail_next("update", "leases", 1, 409);
    let mut again = leases.get("rsp-images").await.unwrap();
    again.spec.as_mut().unwrap().lease_duration_seconds = Some(30);
    let err = leases.replace("rsp-images", &pp, &again).await.unwrap_err();
    assert_eq!(code(err), (409, "Conflict".into()));
    leases
        .replace("rsp-images", &pp, &again)
        .await
        .expect("next update passes");
}

#[tokio::test]
async fn patches_merge_and_honour_preconditions() {
    let cluster = FakeCluster::start().await;
    let leases: Api<Lease> = Api::namespaced(cluster.client(), "rsp");
    let created = leases
        .create(&PostParams::default(), &lease("a"))
        .await
        .unwrap();
    let pp = PatchParams::default();

    let merged = leases
        .patch(
            "rsp-images",
            &pp,
            &Patch::Merge(json!({"spec": {"holderIdentity": "b"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(holder(&merged), Some("b"));
    assert_eq!(
        merged.spec.as_ref().unwrap().lease_duration_seconds,
        Some(15)
    );

    let stale = json!({"metadata": {"resourceVersion": created.metadata.resource_version},
                       "spec": {"holderIdentity": "c"}});
    let err = leases
        .patch("rsp-images", &pp, &Patch::Merge(stale))
        .await
        .unwrap_err();
    assert_eq!(code(err).0, 409);

    let applied = leases
        .patch(
            "other",
            &PatchParams::apply("rsp"),
            &Patch::Apply(named_lease("other", "e")),
        )
        .await
        .expect("apply creates");
    assert_eq!(holder(&applied), Some("e"));

    leases
        .delete("other", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(
        code(
            leases
                .delete("other", &DeleteParams::default())
                .await
                .unwrap_err()
        )
        .0,
        404
    );
}
