//! The shell completions `make docs` writes (src/request/docs.rs) work in each
//! shell: bash's completes options, their values and, after `--`, files; zsh and
//! fish parse them and fish completes from them. `make deps` installs zsh and
//! fish; a shell that is missing fails this test, it is not skipped.

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shell(bin: &str, args: &[&str]) -> String {
    let o = Command::new(bin)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin} ({e}): `make deps` installs it"));
    assert!(
        o.status.success(),
        "{bin} {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What bash's completion offers for the words of a command line, the last one
/// being completed.
fn bash_offers(words: &str) -> Vec<String> {
    let script = format!(
        "source completions/rustbox.bash; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _rustbox; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    shell("bash", &["-c", &script])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_options_values_and_the_program() {
    let o = bash_offers("rustbox --cg");
    for w in ["--cg", "--cg-mem=", "--cgroup="] {
        assert!(o.iter().any(|x| x == w), "{w}: {o:?}");
    }
    assert_eq!(
        bash_offers("rustbox --cgroup=v"),
        ["--cgroup=v1", "--cgroup=v2"]
    );
    let after = bash_offers("rustbox -b 3 --run -- /bin/tru");
    assert!(after.contains(&"/bin/true".to_string()), "{after:?}");
    assert!(after.iter().all(|w| w.starts_with("/bin/tru")), "{after:?}");
    assert!(bash_offers("rustbox --meta=/etc/passw").contains(&"--meta=/etc/passwd".to_string()));
}

#[test]
fn zsh_and_fish_read_theirs() {
    shell("zsh", &["-n", "completions/_rustbox"]);
    shell("fish", &["-n", "completions/rustbox.fish"]);
    let o = shell(
        "fish",
        &[
            "-c",
            "source completions/rustbox.fish; complete -C 'rustbox --cgroup='",
        ],
    );
    for v in ["--cgroup=auto", "--cgroup=v1", "--cgroup=v2"] {
        assert!(o.lines().any(|l| l.starts_with(v)), "{v}: {o}");
    }
    let o = shell(
        "fish",
        &[
            "-c",
            "source completions/rustbox.fish; complete -C 'rustbox --box'",
        ],
    );
    assert!(o.starts_with("--box-id"), "{o}");
}
