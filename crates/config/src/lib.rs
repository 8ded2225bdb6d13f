//! Configuration file of rsp-images: a Nublado controller config plus rsp-images additions.
