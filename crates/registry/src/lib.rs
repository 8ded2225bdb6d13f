//! Registry clients (Docker Registry v2, Artifact Registry REST) and the image sources built on them.
