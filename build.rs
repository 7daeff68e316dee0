//! Generates the committed C headers from src/ffi/ with cbindgen:
//! include/wxtoken.h (for C) and include/wxtoken_ffi.h (for PHP's FFI, which
//! takes no preprocessor lines). A file is rewritten only when its content
//! changes, so builds do not churn mtimes; bindings/c/check-header.sh fails
//! when the committed headers are stale. Also gives the shared library its
//! soname.

use std::env;
use std::fs;
use std::path::Path;

const FFI_SRC: &str = "src/ffi/mod.rs";

/// (config, output, with the version macros), relative to the crate root.
/// PHP's FFI takes no preprocessor lines: the macros are C's only.
const HEADERS: [(&str, &str, bool); 2] = [
    ("cbindgen.toml", "include/wxtoken.h", true),
    ("cbindgen-php.toml", "include/wxtoken_ffi.h", false),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // The version macros come from the package version.
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=src/ffi");
    let root = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&root);
    for (config, header, macros) in HEADERS {
        println!("cargo:rerun-if-changed={config}");
        // A hand-edited or deleted header is regenerated on the next build.
        println!("cargo:rerun-if-changed={header}");
        if let Err(msg) = generate(root, config, header, macros) {
            // panic, not a warning: a build with a stale header must not pass.
            panic!("generating {header} failed: {msg}");
        }
    }
    soname();
}

fn generate(root: &Path, config: &str, header: &str, macros: bool) -> Result<(), String> {
    let mut cfg = cbindgen::Config::from_file(root.join(config))?;
    if macros {
        cfg.after_includes = Some(version_macros());
    }
    let bindings = cbindgen::Builder::new()
        .with_config(cfg)
        .with_src(root.join(FFI_SRC))
        .generate()
        .map_err(|e| e.to_string())?;
    let mut text = Vec::new();
    bindings.write(&mut text);
    let path = root.join(header);
    if fs::read(&path).ok().as_deref() == Some(&text[..]) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    // Write beside it and rename: a concurrent build or reader never sees
    // half a header.
    let tmp = path.with_extension(format!("h.tmp{}", std::process::id()));
    fs::write(&tmp, &text).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    fs::rename(&tmp, &path)
        .map_err(|e| format!("renaming {} to {}: {e}", tmp.display(), path.display()))
}

/// Compile-time version macros, as libcurl and hiredis have, from
/// Cargo.toml: `#if WXTOKEN_VERSION_NUM >= 0x000200` guards a newer call.
/// `wxtoken_version()` tells the version of the library actually loaded.
fn version_macros() -> String {
    let part = |name: &str| -> u32 {
        env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("cargo sets {name} to a number"))
    };
    let (major, minor, patch) = (
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
    );
    let version = env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    format!(
        "\n/* The version these declarations are from; 0xXXYYZZ in WXTOKEN_VERSION_NUM. */\n\
         #define WXTOKEN_VERSION \"{version}\"\n\
         #define WXTOKEN_VERSION_MAJOR {major}\n\
         #define WXTOKEN_VERSION_MINOR {minor}\n\
         #define WXTOKEN_VERSION_PATCH {patch}\n\
         #define WXTOKEN_VERSION_NUM 0x{:06x}\n",
        (major << 16) | (minor << 8) | patch
    )
}

/// C programs link libwxtoken.so, which `make install` puts as
/// libwxtoken.so.0.1.0 with the links libwxtoken.so.0 and libwxtoken.so.
fn soname() {
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let elf = matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly"
    );
    if elf {
        let major =
            env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libwxtoken.so.{major}");
    }
}
