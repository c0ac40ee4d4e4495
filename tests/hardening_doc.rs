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

/// Every `.rs` file the document cites, as a path below `src/` (or `tests/`), and
/// the items named right after it (`boxdir/trees.rs` `chown_tree`, `Owners`): each file
/// exists, and each item is defined in it (`fn`, `struct`, `enum`, `trait`,
/// `const`, `static`, `type`, `mod`; `Type::item` both). Citations go stale when
/// code moves; this is what keeps them true.
#[test]
fn every_cited_file_and_item_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("HARDENING.md")).unwrap();
    let mut files = Vec::new();
    for dir in ["src", "tests"] {
        rs_files(&root.join(dir), &mut files);
    }
    let find = |cited: &str| -> Vec<&std::path::PathBuf> {
        files
            .iter()
            .filter(|p| p.ends_with(cited) || p.to_string_lossy().ends_with(&format!("/{cited}")))
            .collect()
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for line in doc.lines() {
        // Backticked tokens, and whether only ", " or spaces stand between each
        // and the one before it.
        let parts: Vec<&str> = line.split('`').collect();
        let mut current: Option<Vec<&std::path::PathBuf>> = None;
        for i in (1..parts.len()).step_by(2) {
            let tok = parts[i];
            let joined = parts[i - 1].trim().is_empty() || parts[i - 1].trim() == ",";
            if tok.ends_with(".rs") && !tok.contains(' ') {
                let hits = find(tok);
                if hits.is_empty() {
                    problems.push(format!("`{tok}` is no file in src/ or tests/"));
                }
                current = Some(hits);
                continue;
            }
            let is_item = !tok.is_empty()
                && tok
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !tok.starts_with(':');
            match (&current, joined && is_item) {
                (Some(hits), true) if !hits.is_empty() => {
                    checked += 1;
                    let texts: Vec<String> = hits
                        .iter()
                        .map(|p| std::fs::read_to_string(p).unwrap())
                        .collect();
                    for part in tok.split("::").filter(|p| !p.is_empty()) {
                        if !texts.iter().any(|t| defines(t, part)) {
                            problems.push(format!(
                                "`{tok}`: `{part}` is not defined in {}",
                                hits[0].display()
                            ));
                        }
                    }
                }
                (Some(_), true) => {}
                _ => current = None,
            }
        }
    }
    assert!(checked >= 40, "only {checked} cited items found");
    assert!(
        problems.is_empty(),
        "HARDENING.md cites what is not there:\n  {}",
        problems.join("\n  ")
    );
}

fn rs_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Whether `text` defines `name` as an item (or a field-less enum variant).
fn defines(text: &str, name: &str) -> bool {
    const KINDS: [&str; 9] = [
        "fn ", "struct ", "enum ", "trait ", "const ", "static ", "type ", "mod ", "impl ",
    ];
    text.lines().any(|line| {
        let mut l = line.trim_start();
        for v in ["pub(crate) ", "pub(super) ", "pub ", "unsafe ", "async "] {
            l = l.strip_prefix(v).unwrap_or(l);
        }
        KINDS.iter().any(|k| {
            l.strip_prefix(k).is_some_and(|rest| {
                let id: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                id == name
            })
        }) || {
            // An enum variant: `Name,` `Name(..)` `Name {` on its own line.
            let id: String = l
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            id == name && l[id.len()..].starts_with([',', '(', ' ', '{'])
        }
    })
}
