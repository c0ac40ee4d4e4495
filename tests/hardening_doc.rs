//! HARDENING.md promises "no row without a test". This checks it: every table row
//! has a proof cell, and every test named there (in backticks) exists, as an
//! adversarial case of `adversarial/manifest.json` or as a `fn` in `tests/` or
//! `src/` (`name*` matches a prefix). Needs no root.

use std::collections::BTreeSet;
use std::path::Path;

fn rust_fns(dir: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_fns(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            for line in text.lines() {
                let l = line.trim_start();
                if let Some(rest) = l.strip_prefix("fn ").or_else(|| l.strip_prefix("pub fn ")) {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    out.insert(name);
                }
            }
        }
    }
}

fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn every_row_names_tests_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("HARDENING.md")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("adversarial/manifest.json")).unwrap(),
    )
    .unwrap();
    let cases: BTreeSet<String> = manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    let mut fns = BTreeSet::new();
    rust_fns(&root.join("tests"), &mut fns);
    rust_fns(&root.join("src"), &mut fns);

    let mut problems = Vec::new();
    let mut rows = 0;
    let mut cited = BTreeSet::new();
    for line in doc.lines() {
        let line = line.trim();
        if !line.starts_with('|') || line.starts_with("|---") || line.starts_with("| id ") {
            continue;
        }
        if line.starts_with("| threat |") {
            continue;
        }
        // The proof is the last cell; escaped pipes (\|) stay inside a cell.
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let proof = cells.last().copied().unwrap_or("");
        rows += 1;
        let names: Vec<String> = backticked(proof)
            .into_iter()
            .filter(|n| {
                n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '*')
            })
            .collect();
        if names.is_empty() {
            problems.push(format!("no test named in: {line}"));
        }
        for n in names {
            let found = match n.strip_suffix('*') {
                Some(p) => {
                    fns.iter().any(|f| f.starts_with(p)) || cases.iter().any(|c| c.starts_with(p))
                }
                None => fns.contains(&n) || cases.contains(&n),
            };
            if !found {
                problems.push(format!(
                    "`{n}` is neither a test fn nor an adversarial case"
                ));
            }
            cited.insert(n);
        }
    }
    assert!(rows >= 40, "only {rows} rows found in HARDENING.md");
    // Every adversarial case is cited somewhere: no attack without its row.
    for c in &cases {
        if !cited.contains(c) {
            problems.push(format!("adversarial case `{c}` appears in no row"));
        }
    }
    assert!(
        problems.is_empty(),
        "HARDENING.md:\n  {}",
        problems.join("\n  ")
    );
}
