//! Replays every committed fuzz input (`fuzz/corpus/<target>/*` and
//! `fuzz/regressions/<target>/*`) through the functions the fuzz targets call: the
//! harness is `fuzz/src/lib.rs`, included here as a module, so a crash the fuzzer once
//! found stays fixed under `cargo test --workspace` (no nightly, no cargo-fuzz).

#[allow(dead_code)]
#[path = "../../../fuzz/src/lib.rs"]
mod harness;

use std::path::{Path, PathBuf};

/// A fuzz target's body.
type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("config", harness::config),
    ("candles", harness::candles),
    ("profile", harness::profile),
    ("api", harness::api),
    ("numbers", harness::numbers),
];

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(fuzz.join(kind).join(target)) else { continue };
        for entry in dir {
            let path = entry.expect("directory entry").path();
            if path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn replay(target: &str) {
    let (_, run) = TARGETS.iter().find(|(t, _)| *t == target).expect("known target");
    let files = inputs(target);
    assert!(!files.is_empty(), "no committed inputs for fuzz target {target}");
    for path in &files {
        let data = std::fs::read(path).expect("read input");
        if let Err(panic) = std::panic::catch_unwind(|| run(&data)) {
            let msg =
                panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("fuzz target {target} fails on {}: {}", path.display(), msg.unwrap_or_default());
        }
    }
    eprintln!("{target}: {} inputs replayed", files.len());
}

#[test]
fn config_inputs() {
    replay("config");
}

#[test]
fn candle_inputs() {
    replay("candles");
}

#[test]
fn profile_inputs() {
    replay("profile");
}

#[test]
fn api_inputs() {
    replay("api");
}

#[test]
fn number_inputs() {
    replay("numbers");
}

#[test]
fn every_target_has_a_test() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/fuzz_targets");
    let mut found: Vec<String> = std::fs::read_dir(fuzz)
        .expect("fuzz/fuzz_targets")
        .map(|e| e.expect("entry").path().file_stem().expect("name").to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut known: Vec<String> = TARGETS.iter().map(|(t, _)| t.to_string()).collect();
    known.sort();
    assert_eq!(found, known, "a fuzz target without a replay (or the reverse)");
}
