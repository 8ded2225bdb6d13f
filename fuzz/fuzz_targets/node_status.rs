//! Fuzzes reading a node as the API server sends it: any JSON either fails to parse as a
//! `Node` or becomes a `NodeInfo` whose eligibility and cached digests can be read, without
//! a panic.
#![no_main]

use k8s_openapi::api::core::v1::Node;
use libfuzzer_sys::fuzz_target;
use rsp_kube::nodes::node_info;

fuzz_target!(|data: &[u8]| {
    let Ok(node) = serde_json::from_slice::<Node>(data) else {
        return;
    };
    let info = node_info(&node);
    let _ = info.eligibility(&[]);
    for image in &info.images {
        let _ = image.digest();
    }
});
