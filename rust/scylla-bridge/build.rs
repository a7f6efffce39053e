//! Generates and compiles the cxx glue, then exports the headers C++ needs
//! next to the static library:
//!   <target>/<profile>/include/rust/cxx.h
//!   <target>/<profile>/include/eventstore_scylla_bridge/src/lib.rs.h
//!   <target>/<profile>/include/eventstore_scylla_bridge/include/completion.h
//! (the same layout cxx-build uses, so the generated includes resolve).
//! EVENTSTORE_BRIDGE_INCLUDE_DIR overrides the export directory.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

const PREFIX: &str = "eventstore_scylla_bridge";

fn copy(from: &Path, to: &Path) {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    // Write only on change, so C++ dependents are not rebuilt needlessly.
    let data = fs::read(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    if fs::read(to).ok().as_deref() != Some(&data[..]) {
        fs::write(to, data).unwrap_or_else(|e| panic!("write {}: {e}", to.display()));
    }
}

fn main() {
    cxx_build::CFG.include_prefix = PREFIX;
    cxx_build::bridge("src/lib.rs").std("c++20").flag_if_supported("-fPIC").compile("eventstore_scylla_bridge_cxx");

    println!("cargo:rerun-if-changed=src/lib.rs");
    println!("cargo:rerun-if-changed=include/completion.h");
    println!("cargo:rerun-if-env-changed=EVENTSTORE_BRIDGE_INCLUDE_DIR");

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let export = match env::var_os("EVENTSTORE_BRIDGE_INCLUDE_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        // OUT_DIR = <target>/<profile>/build/<pkg>-<hash>/out
        _ => out_dir.ancestors().nth(3).expect("cargo OUT_DIR layout").join("include"),
    };
    let generated = out_dir.join("cxxbridge/include");
    copy(&generated.join("rust/cxx.h"), &export.join("rust/cxx.h"));
    copy(&generated.join(PREFIX).join("src/lib.rs.h"), &export.join(PREFIX).join("src/lib.rs.h"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    copy(&manifest.join("include/completion.h"), &export.join(PREFIX).join("include/completion.h"));
}
