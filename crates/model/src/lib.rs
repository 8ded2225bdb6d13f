//! Pure model of RSP lab images: tags, collections, filters, the image catalog, references and API types.
pub mod node;
