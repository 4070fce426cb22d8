//! The module structure of `src/`, checked from the source text: every `crate::` path points
//! down the layer order below (so the top-level modules form no import cycle), and README's
//! "Architecture" section names every module file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::ROOT;

/// The layers, top first. A module may use only modules of later layers; modules of one layer do
/// not use each other.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["engine"],
    &["cluster"],
    &["library"],
    &["reference"],
    &["lake"],
    &["import", "generate"],
    &["output"],
    &["schema"],
    &["error"],
];

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module {module} is in no layer of this test"))
}

/// Every `.rs` file under `src/` but the binary's, relative to `src/`.
fn module_files() -> Vec<PathBuf> {
    let src = Path::new(ROOT).join("src");
    let mut out = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p.strip_prefix(&src).unwrap().to_path_buf());
            }
        }
    }
    out.retain(|p| p != Path::new("main.rs") && p != Path::new("lib.rs"));
    out.sort();
    assert!(out.len() > 20, "src/ has {} module files", out.len());
    out
}

/// The top-level modules a file's code names with `crate::`, outside comments.
fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(!name.is_empty(), "unparsed crate path in: {line}");
            out.insert(name);
            rest = after;
        }
    }
    out
}

#[test]
fn imports_flow_down_the_layers_without_cycles() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in module_files() {
        let top = file
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let text = std::fs::read_to_string(Path::new(ROOT).join("src").join(&file)).unwrap();
        for used in uses(&text) {
            if used != top {
                edges.entry(top.clone()).or_default().insert(used.clone());
            }
            assert!(
                used == top || layer(&used) > layer(&top),
                "src/{} ({top}) uses {used}, which is not in a layer below {top}",
                file.display()
            );
        }
    }
    // The layers make cycles impossible; say what the graph is when this test is read.
    assert!(edges["cli"].contains("engine") && edges["engine"].contains("lake"));
    assert!(
        !edges.contains_key("error"),
        "error uses nothing: {edges:?}"
    );
}

#[test]
fn the_checker_sees_a_cycle() {
    // The same check on a made-up file: `lake` naming `engine` is refused.
    let used = uses("use crate::engine::Engine; // crate::cli in a comment\n");
    assert_eq!(used.into_iter().collect::<Vec<_>>(), ["engine"]);
    assert!(layer("engine") < layer("lake"));
}

#[test]
fn readme_architecture_names_every_module() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let start = readme
        .find("\n## Architecture")
        .expect("README has an Architecture section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut missing = Vec::new();
    for file in module_files() {
        let shown = file.display().to_string();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        // A folder's mod.rs is shown as the folder.
        let folder = shown.trim_end_matches("mod.rs").to_string();
        let named = if name == "mod.rs" {
            section.contains(&folder)
        } else {
            section.contains(&shown) || section.contains(&format!(" {name}"))
        };
        if !named {
            missing.push(shown);
        }
    }
    assert!(
        missing.is_empty(),
        "README's Architecture section does not name {missing:?}"
    );
    for layer in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(section.contains(layer), "layer {layer} not in README");
    }
}
