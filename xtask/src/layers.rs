//! The crate-layering rule, checked from `cargo metadata`.
//!
//! A workspace crate may depend only on workspace crates of a *strictly lower* layer.
//! The table below is the single source of truth; `docs/ARCHITECTURE.md` shows the same
//! table for readers (a test keeps the two in step).

use serde_json::Value;
use std::fmt;

/// Layer of every workspace crate. Tools (xtask) sit outside the stack: they may not be
/// depended on and may not depend on library crates.
pub const LAYERS: &[(&str, u32)] = &[
    ("ferrograd-linalg", 0),
    ("ferrograd-scalar", 0),
    ("ferrograd-tokenize", 0),
    ("ferrograd-tensor", 1),
    ("ferrograd-nn", 2),
    ("ferrograd-optim", 2),
    ("ferrograd-data", 2),
    ("ferrograd-lm", 3),
    ("ferrograd", 4),
    ("ferrograd-book", 5),
    ("ferrograd-benches", 5),
    ("ferrograd-fuzz", 5),
];

/// Crates that are part of the workspace but not of the layered library stack.
pub const TOOLS: &[&str] = &["xtask"];

/// One dependency edge that breaks the layering rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The depending crate.
    pub from: String,
    /// The crate it depends on.
    pub to: String,
    /// Why the edge is rejected.
    pub reason: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}: {}", self.from, self.to, self.reason)
    }
}

/// Looks up the layer of a workspace crate.
pub fn layer_of(name: &str) -> Option<u32> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|&(_, l)| l)
}

/// Checks every dependency edge between workspace members found in `cargo metadata`
/// output (`--format-version 1 --no-deps` suffices). Dev- and build-dependencies count
/// too: a test that needs a same-layer crate belongs one layer up.
pub fn check(metadata: &Value) -> Result<(), Vec<Violation>> {
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let members: Vec<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let mut violations = Vec::new();
    for name in &members {
        if layer_of(name).is_none() && !TOOLS.contains(&name.as_str()) {
            violations.push(Violation {
                from: name.clone(),
                to: String::new(),
                reason: "workspace crate missing from the layer table in xtask/src/layers.rs"
                    .into(),
            });
        }
    }
    for package in &packages {
        let from = package["name"].as_str().unwrap_or_default();
        let deps = package["dependencies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for dep in deps {
            let to = dep["name"].as_str().unwrap_or_default();
            if !members.iter().any(|m| m == to) {
                continue; // external crates are not layered
            }
            let reason = match (layer_of(from), layer_of(to)) {
                (_, None) => Some("depends on a tool crate".to_string()),
                (None, Some(_)) => Some("a tool crate must not depend on library crates".into()),
                (Some(lf), Some(lt)) if lt >= lf => Some(format!(
                    "layer {lf} may only depend on lower layers, but {to} is layer {lt}"
                )),
                _ => None,
            };
            if let Some(reason) = reason {
                violations.push(Violation {
                    from: from.to_string(),
                    to: to.to_string(),
                    reason,
                });
            }
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metadata(edges: &[(&str, &[&str])]) -> Value {
        let packages: Vec<Value> = edges
            .iter()
            .map(|(name, deps)| {
                json!({
                    "name": name,
                    "dependencies": deps.iter().map(|d| json!({"name": d, "kind": null})).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({ "packages": packages })
    }

    #[test]
    fn accepts_downward_edges() {
        let m = metadata(&[
            ("ferrograd-linalg", &["faer"]),
            ("ferrograd-tensor", &["ferrograd-linalg"]),
            ("ferrograd-nn", &["ferrograd-tensor", "ferrograd-linalg"]),
        ]);
        assert_eq!(check(&m), Ok(()));
    }

    #[test]
    fn rejects_upward_edge() {
        let m = metadata(&[
            ("ferrograd-tensor", &["ferrograd-nn"]),
            ("ferrograd-nn", &["ferrograd-tensor"]),
        ]);
        let errors = check(&m).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].from, "ferrograd-tensor");
        assert_eq!(errors[0].to, "ferrograd-nn");
        assert!(errors[0].to_string().contains("layer 1"), "{}", errors[0]);
    }

    #[test]
    fn rejects_same_layer_edge() {
        let m = metadata(&[
            ("ferrograd-nn", &["ferrograd-optim"]),
            ("ferrograd-optim", &[]),
        ]);
        let errors = check(&m).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].reason.contains("ferrograd-optim is layer 2"));
    }

    #[test]
    fn rejects_unknown_workspace_crate() {
        let m = metadata(&[("ferrograd-mystery", &[])]);
        let errors = check(&m).unwrap_err();
        assert!(errors[0].reason.contains("missing from the layer table"));
    }

    /// `cargo metadata` of this workspace.
    fn workspace_metadata() -> Value {
        let output = std::process::Command::new(env!("CARGO"))
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .output()
            .expect("cargo metadata runs");
        assert!(output.status.success());
        serde_json::from_slice(&output.stdout).unwrap()
    }

    #[test]
    fn real_workspace_passes() {
        assert_eq!(check(&workspace_metadata()), Ok(()));
    }

    #[test]
    fn architecture_doc_shows_the_same_table() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/ARCHITECTURE.md"
        ))
        .expect("docs/ARCHITECTURE.md exists");
        for (name, layer) in LAYERS {
            let row = format!("| {layer} | `{name}` |");
            assert!(
                doc.contains(&row),
                "ARCHITECTURE.md lacks the row starting {row:?}"
            );
        }
    }

    /// The "may depend on" column names exactly the workspace crates each crate depends
    /// on (normal dependencies, short names: `tensor` for `ferrograd-tensor`); the
    /// facade's "all of the above" is not checked.
    #[test]
    fn architecture_doc_names_each_crates_workspace_dependencies() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/ARCHITECTURE.md"
        ))
        .expect("docs/ARCHITECTURE.md exists");
        let m = workspace_metadata();
        let short = |name: &str| name.strip_prefix("ferrograd-").unwrap_or(name).to_string();
        for package in m["packages"].as_array().unwrap() {
            let name = package["name"].as_str().unwrap();
            let Some(layer) = layer_of(name) else {
                continue;
            };
            let prefix = format!("| {layer} | `{name}` |");
            let line = doc.lines().find(|l| l.starts_with(&prefix)).unwrap();
            let cell = line
                .trim_end_matches('|')
                .rsplit('|')
                .next()
                .unwrap()
                .trim();
            if cell == "all of the above" {
                continue;
            }
            let mut listed: Vec<String> = cell
                .split(['(', ','])
                .map(|w| w.trim().trim_end_matches(')').to_string())
                .filter(|w| layer_of(&format!("ferrograd-{w}")).is_some() || w == "ferrograd")
                .collect();
            let mut actual: Vec<String> = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str())
                .filter(|d| layer_of(d).is_some())
                .map(short)
                .collect();
            listed.sort();
            actual.sort();
            actual.dedup();
            assert_eq!(
                listed, actual,
                "the \"may depend on\" cell of {name}: {cell:?}"
            );
        }
    }
}
