//! `make docs`: write the man page and the shell completions from rustbox's
//! options (`rustbox::request::docs`). A unit test fails when the committed files
//! differ from what this writes.

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, text) in rustbox::request::docs::all() {
        let path = root.join(file);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        println!("wrote {file}");
    }
}
