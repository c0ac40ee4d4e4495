//! The man page and the shell completions, made from the two things `--help`
//! and the parser are made of: `cli::HELP` (what each option means) and
//! `cli::options()` (every option the parser takes). `make docs` writes them
//! (`examples/gen-docs.rs`); a test fails when the committed files differ from
//! what this makes, or when an option the parser takes is missing from `--help`.

use super::cli;

/// The files this makes, relative to the source tree.
pub const MAN_PAGE: &str = "docs/man/rustbox.1";
pub const BASH: &str = "completions/rustbox.bash";
pub const ZSH: &str = "completions/_rustbox";
pub const FISH: &str = "completions/rustbox.fish";

/// One option line of `--help`: its names as written ("-b, --box-id=ID"), and
/// what it does.
#[derive(Debug, Clone)]
pub struct HelpEntry {
    pub names: String,
    pub text: String,
}

/// A part of `--help`: its heading line ("Options (isolate's names and
/// units):") and its option lines.
#[derive(Debug, Clone)]
pub struct HelpSection {
    pub heading: String,
    pub entries: Vec<HelpEntry>,
}

/// Where the description starts in an option line of `--help`.
const TEXT_COLUMN: usize = 25;

/// `--help` read back: the usage lines, the sections, and the last lines (exit
/// status).
pub fn parse_help() -> (Vec<String>, Vec<HelpSection>, Vec<String>) {
    let mut usage = Vec::new();
    let mut sections: Vec<HelpSection> = Vec::new();
    let mut tail = Vec::new();
    for line in cli::HELP.lines() {
        if let Some(u) = line.strip_prefix("Usage: ") {
            usage.push(u.trim().to_string());
        } else if line.starts_with("       rustbox") {
            usage.push(line.trim().to_string());
        } else if line.starts_with('-') || line.starts_with("    -") {
            let (names, text) = if line.len() > TEXT_COLUMN && line.is_char_boundary(TEXT_COLUMN) {
                let (a, b) = line.split_at(TEXT_COLUMN);
                if a.ends_with(' ') {
                    (a.trim().to_string(), b.trim().to_string())
                } else {
                    (line.trim().to_string(), String::new())
                }
            } else {
                (line.trim().to_string(), String::new())
            };
            if let Some(s) = sections.last_mut() {
                s.entries.push(HelpEntry { names, text });
            }
        } else if line.starts_with(&" ".repeat(TEXT_COLUMN)) {
            if let Some(e) = sections.last_mut().and_then(|s| s.entries.last_mut()) {
                if !e.text.is_empty() {
                    e.text.push(' ');
                }
                e.text.push_str(line.trim());
            }
        } else if line.ends_with(':') {
            sections.push(HelpSection {
                heading: line.trim_end_matches(':').to_string(),
                entries: Vec::new(),
            });
        } else if !line.trim().is_empty() && !sections.is_empty() {
            tail.push(line.trim().to_string());
        }
    }
    (usage, sections, tail)
}

/// What `--help` says of the long option `name` (the entry that names it).
pub fn describe(name: &str) -> Option<String> {
    let (_, sections, _) = parse_help();
    let want = format!("--{name}");
    sections
        .iter()
        .flat_map(|s| s.entries.iter())
        .find(|e| e.names.split([',', ' ', '=', '[']).any(|w| w == want))
        .map(|e| e.text.clone())
}

/// roff text with its special characters escaped.
fn roff(s: &str) -> String {
    let s = s.replace('\\', "\\\\").replace('-', "\\-");
    // A line may not start with a control character.
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

pub fn man_page() -> String {
    let (usage, sections, tail) = parse_help();
    let mut m = String::new();
    m += &format!(
        ".\\\" Made by `make docs` from rustbox's --help (src/request/docs.rs): edit that, not this.\n\
         .TH RUSTBOX 1 \"\" \"rustbox {}\" \"User Commands\"\n",
        crate::VERSION
    );
    m += ".SH NAME\nrustbox \\- an isolate\\-compatible sandbox for untrusted programs\n";
    m += ".SH SYNOPSIS\n";
    for u in &usage {
        m += &format!(".B {}\n.br\n", roff(u));
    }
    m += ".SH DESCRIPTION\n";
    m += &roff(
        "rustbox runs a program in a box: new namespaces, a root of its own with only the directories \
         its rules bind, a per-box user, no capabilities, no_new_privs, resource limits, and a seccomp \
         filter. Its command line, meta file (-M) and exit codes are isolate's; --json writes a \
         versioned evidence document from which the verdict follows. Installed setuid root, any user \
         may use it; a box belongs to whoever made it with --init.",
    );
    m += "\n";
    for s in &sections {
        m += &format!(".SH {}\n", roff(&s.heading.to_uppercase()));
        for e in &s.entries {
            m += &format!(".TP\n.B {}\n{}\n", roff(&e.names), roff(&e.text));
        }
    }
    m += ".SH EXIT STATUS\n";
    for t in &tail {
        m += &format!("{}\n", roff(t));
    }
    m += ".SH FILES\n.TP\n.B /etc/rustbox/config\n";
    m += &roff("the configuration (box_root, lock_root, cg_root, first_uid, first_gid, num_boxes, ...); started as isolate, /usr/local/etc/isolate");
    m += "\n.TP\n.B /var/local/lib/rustbox/N\n";
    m += &roff("box N: box/ (/box inside), tmp/ (/tmp inside)");
    m += "\n.TP\n.B /run/rustbox/locks/N\n";
    m += &roff("the lock of box N");
    m += "\n.SH SEE ALSO\n.BR isolate (1)\n";
    m
}

/// The options' words for a shell: "--box-id", "--box-id=" for one that takes
/// a value.
fn words() -> Vec<(String, Option<char>, Option<bool>)> {
    cli::options()
        .map(|(n, s, t)| (n.to_string(), s, t))
        .collect()
}

/// What a value of `name` completes to in every shell: files, or a fixed list.
fn values(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "cgroup" => Some(&["auto", "v1", "v2"]),
        "seccomp" => Some(&["default", "off"]),
        _ => None,
    }
}

pub fn bash() -> String {
    let mut longs = Vec::new();
    let mut shorts = Vec::new();
    for (n, s, t) in words() {
        longs.push(if t == Some(true) {
            format!("--{n}=")
        } else {
            format!("--{n}")
        });
        if let Some(c) = s {
            shorts.push(format!("-{c}"));
        }
    }
    let mut b = String::from(
        "# bash completion for rustbox. Made by `make docs` from rustbox's options\n\
         # (src/request/docs.rs): edit that, not this.\n",
    );
    b += "_rustbox() {\n    local cur=${COMP_WORDS[COMP_CWORD]}\n    local i\n";
    b += "    # After `--`: the program and its arguments, files.\n";
    b += "    for ((i = 1; i < COMP_CWORD; i++)); do\n        [[ ${COMP_WORDS[i]} == -- ]] && { COMPREPLY=($(compgen -f -- \"$cur\")); return; }\n    done\n";
    b += "    case $cur in\n";
    for (n, _, _) in words() {
        if let Some(v) = values(&n) {
            b += &format!(
                "        --{n}=*) COMPREPLY=($(compgen -P --{n}= -W \"{}\" -- \"${{cur#--{n}=}}\")); return ;;\n",
                v.join(" ")
            );
        }
    }
    b +=
        "        --*=*) COMPREPLY=($(compgen -P \"${cur%%=*}=\" -f -- \"${cur#*=}\")); return ;;\n";
    b += "    esac\n";
    b += &format!(
        "    COMPREPLY=($(compgen -W \"{} {}\" -- \"$cur\"))\n    [[ ${{COMPREPLY[0]}} == *= ]] && compopt -o nospace\n}}\n",
        longs.join(" "),
        shorts.join(" ")
    );
    b += "complete -F _rustbox rustbox\n";
    b
}

/// A description for a completion menu: the first sentence of `--help`'s,
/// without the characters each shell's syntax gives a meaning.
fn short_text(name: &str) -> String {
    let t = describe(name).unwrap_or_default();
    let t = t.split(';').next().unwrap_or("").trim();
    t.chars()
        .filter(|c| !matches!(c, '\'' | '"' | '[' | ']' | ':' | '\\' | '`' | '$'))
        .collect()
}

pub fn zsh() -> String {
    let mut z = String::from(
        "#compdef rustbox\n# zsh completion for rustbox. Made by `make docs` from rustbox's options\n\
         # (src/request/docs.rs): edit that, not this.\n_arguments -s -S \\\n",
    );
    for (n, s, t) in words() {
        let d = short_text(&n);
        let action = match (t, values(&n)) {
            (None, _) => String::new(),
            (Some(_), Some(v)) => format!(":value:({})", v.join(" ")),
            (Some(_), None) => ":value:_files".to_string(),
        };
        let eq = if t.is_some() { "=" } else { "" };
        match s {
            Some(c) => z += &format!("  '(-{c} --{n})'{{-{c},--{n}{eq}}}'[{d}]{action}' \\\n"),
            None => z += &format!("  '--{n}{eq}[{d}]{action}' \\\n"),
        }
    }
    z += "  '*::program:_normal'\n";
    z
}

pub fn fish() -> String {
    let mut f = String::from(
        "# fish completion for rustbox. Made by `make docs` from rustbox's options\n\
         # (src/request/docs.rs): edit that, not this.\n",
    );
    for (n, s, t) in words() {
        let mut line = format!("complete -c rustbox -l {n}");
        if let Some(c) = s {
            line += &format!(" -s {c}");
        }
        match (t, values(&n)) {
            (Some(true), Some(v)) => line += &format!(" -x -a '{}'", v.join(" ")),
            (Some(true), None) => line += " -r -F",
            _ => {}
        }
        line += &format!(" -d '{}'\n", short_text(&n));
        f += &line;
    }
    f
}

/// Every file `make docs` writes, with what it must hold.
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        (MAN_PAGE, man_page()),
        (BASH, bash()),
        (ZSH, zsh()),
        (FISH, fish()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option the parser takes is in `--help`, so the man page and the
    /// completions (made from both) describe each one.
    #[test]
    fn help_names_every_option_the_parser_takes() {
        for (name, short, _) in cli::options() {
            assert!(describe(name).is_some(), "--{name} is not in --help");
            if let Some(c) = short {
                assert!(
                    cli::HELP.contains(&format!("-{c}, --{name}")),
                    "-{c} is not beside --{name} in --help"
                );
            }
        }
    }

    /// The committed man page and completions are what the options make now.
    #[test]
    fn the_man_page_and_completions_match_the_options() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (file, want) in all() {
            let have = std::fs::read_to_string(root.join(file))
                .unwrap_or_else(|e| panic!("{file}: {e} (run `make docs`)"));
            assert!(
                have == want,
                "{file} differs from the options: run `make docs`"
            );
        }
    }

    #[test]
    fn each_option_is_in_every_completion_and_the_man_page() {
        let man = man_page();
        let (b, z, f) = (bash(), zsh(), fish());
        for (name, _, _) in cli::options() {
            assert!(man.contains(&roff(&format!("--{name}"))), "man: --{name}");
            assert!(b.contains(&format!("--{name}")), "bash: --{name}");
            assert!(z.contains(&format!("--{name}")), "zsh: --{name}");
            assert!(f.contains(&format!("-l {name}")), "fish: --{name}");
        }
    }
}
