//! The import-circle check: inside each crate, the files' imports must not loop.
//!
//! Crates may depend only on lower layers (`layers.rs`); this is the same rule one level
//! down. For every library crate under `crates/`, each source file is a module, and each
//! path it names inside the crate (`use crate::…`, `use super::…`, `use self::…`, a use
//! of a child module, and `crate::…`/`super::…` paths in code) is an edge to the file
//! that *defines* the item: re-exports (`pub use a::b::Item` in a `lib.rs` or `mod.rs`)
//! are followed to the defining file, and `#[macro_export]` macros belong to the file
//! that defines them. Declaring a child module (`mod child;`) is not an import. Any
//! strongly connected group of two or more files is a circle, reported with the names
//! that tie each file to the next.
//!
//! Comments and string literals are skipped; a `#[path]` attribute or an import inside a
//! macro invocation's arguments is not understood (none are used in the workspace).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

/// A module path inside a crate: `[]` for the root, `["cpu", "pool"]` for `crate::cpu::pool`.
type ModPath = Vec<String>;

/// One circle: files that import each other in a loop, with the edges between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circle {
    /// The crate's directory, relative to the workspace root.
    pub krate: String,
    /// The edges inside the circle: `from -> to: names`.
    pub edges: Vec<(String, String, Vec<String>)>,
}

impl fmt::Display for Circle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: BTreeSet<&str> = self.edges.iter().map(|(a, _, _)| a.as_str()).collect();
        write!(
            f,
            "{}: circle of {} files: {}",
            self.krate,
            files.len(),
            files.into_iter().collect::<Vec<_>>().join(", ")
        )?;
        for (from, to, names) in &self.edges {
            write!(f, "\n      {from} -> {to}: {}", names.join(", "))?;
        }
        Ok(())
    }
}

/// Checks every crate under `root/crates`; returns the circles found.
pub fn check(root: &Path) -> Result<(), Vec<Circle>> {
    let mut circles = Vec::new();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .map(|dir| dir.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    crates.sort();
    for dir in crates {
        let src = dir.join("src");
        if !src.join("lib.rs").is_file() {
            continue;
        }
        let name = dir.strip_prefix(root).unwrap_or(&dir).display().to_string();
        circles.extend(check_crate(&name, &src));
    }
    if circles.is_empty() {
        Ok(())
    } else {
        Err(circles)
    }
}

/// The circles of one crate whose library root is `src/lib.rs`.
pub fn check_crate(name: &str, src: &Path) -> Vec<Circle> {
    let mut files = Vec::new();
    collect_rs(src, &mut files);
    let modules: Vec<(ModPath, String, String)> = files
        .iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(src).ok()?;
            let module = module_path(rel)?;
            let text = std::fs::read_to_string(path).ok()?;
            Some((module, rel.display().to_string(), text))
        })
        .collect();
    let sources: Vec<(ModPath, String, String)> = modules
        .into_iter()
        .map(|(m, f, text)| (m, f, strip(&text)))
        .collect();
    find_circles(name, &sources)
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            // `src/bin/*` are separate crates.
            if path.file_name().is_some_and(|n| n == "bin") && path.parent() == Some(dir) {
                continue;
            }
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `lib.rs` → `[]`, `a.rs` → `[a]`, `a/mod.rs` → `[a]`, `a/b.rs` → `[a, b]`; `main.rs`
/// (a separate crate root) → `None`.
fn module_path(rel: &Path) -> Option<ModPath> {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let (last, dirs) = parts.split_last()?;
    let stem = last.strip_suffix(".rs")?;
    let mut module: ModPath = dirs.to_vec();
    match (dirs.is_empty(), stem) {
        (true, "lib") => {}
        (true, "main") => return None,
        (_, "mod") => {}
        _ => module.push(stem.to_string()),
    }
    Some(module)
}

/// Whether an `r` after `before` starts a raw string: it is not inside an identifier, or it
/// follows a lone `b` or `c` (`br"…"`, `cr"…"`).
fn raw_prefix(before: &[char]) -> bool {
    let ident = |c: &char| c.is_alphanumeric() || *c == '_';
    match before.split_last() {
        None => true,
        Some((p, _)) if !ident(p) => true,
        Some(('b' | 'c', rest)) => !rest.last().is_some_and(ident),
        Some(_) => false,
    }
}

/// The source with comments, string and character literals blanked out (lines kept).
pub fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && raw_prefix(&chars[..i]) {
            // Raw string r"..." or r#"..."# (also byte and C raw strings, br"..", cr"..").
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some(&ch) => {
                        out.push(blank(ch));
                        j += 1;
                    }
                }
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if let Some(&ch) = chars.get(i) {
                    out.push(blank(ch));
                }
                i += 1;
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\''), not a lifetime ('a).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                out.push_str("' '");
                i = j + 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                out.push_str("' '");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// One import found in a file: the path as written and whether it came from a `use`
/// (where a first segment naming a child module is relative).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Import {
    path: Vec<String>,
    from_use: bool,
    /// The name it is known by in this module (`use a::B as C` → `C`).
    alias: Option<String>,
    /// Inline modules (`mod tests { … }`) the import sits in, outermost first.
    inline: Vec<String>,
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Tokens: identifiers, `::`, and single punctuation characters.
fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if is_ident_char(c)
            || (c == '$' && chars.get(i + 1).is_some_and(|&n| is_ident_char(n)))
        {
            let start = i;
            i += 1;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            out.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}

/// Expands a use tree starting at `tokens[*i]` (after `use`) into full paths, until `;`.
fn use_tree(
    tokens: &[String],
    i: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, Option<String>)>,
) {
    let mut path = prefix.to_vec();
    // `a::{self, b}`: the module `a` itself is imported.
    let mut itself = false;
    while *i < tokens.len() {
        let t = tokens[*i].as_str();
        match t {
            "::" => *i += 1,
            "{" => {
                *i += 1;
                loop {
                    use_tree(tokens, i, &path, out);
                    match tokens.get(*i).map(String::as_str) {
                        Some(",") => *i += 1,
                        Some("}") => {
                            *i += 1;
                            return;
                        }
                        _ => return,
                    }
                    if tokens.get(*i).map(String::as_str) == Some("}") {
                        *i += 1;
                        return;
                    }
                }
            }
            "," | "}" | ";" => {
                if path.len() > prefix.len() || itself {
                    out.push((path, None));
                }
                return;
            }
            "as" => {
                let alias = tokens.get(*i + 1).cloned();
                *i += 2;
                out.push((path.clone(), alias));
                path.truncate(prefix.len());
                // The caller sees the separator next.
                return;
            }
            "*" => {
                *i += 1;
                path.push("*".into());
            }
            "self" if !prefix.is_empty() => {
                itself = true;
                *i += 1;
            }
            _ => {
                path.push(t.to_string());
                *i += 1;
            }
        }
    }
}

/// Every import of a (stripped) source file.
fn imports(text: &str) -> Vec<Import> {
    let toks = tokens(text);
    let mut out = Vec::new();
    let mut i = 0;
    // Inline modules open at this point, with the brace depth inside each.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    while i < toks.len() {
        let t = toks[i].as_str();
        match t {
            "mod" if toks.get(i + 2).map(String::as_str) == Some("{") => {
                inline.push((toks[i + 1].clone(), depth + 1));
            }
            "{" => depth += 1,
            "}" => {
                if inline.last().is_some_and(|&(_, d)| d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        let here: Vec<String> = inline.iter().map(|(m, _)| m.clone()).collect();
        if t == "use"
            && (i == 0
                || matches!(
                    toks[i - 1].as_str(),
                    ";" | "}" | "{" | ")" | "]" | "pub" | "crate"
                ))
        {
            i += 1;
            let mut paths = Vec::new();
            use_tree(&toks, &mut i, &[], &mut paths);
            for (path, alias) in paths {
                out.push(Import {
                    path,
                    from_use: true,
                    alias,
                    inline: here.clone(),
                });
            }
            continue;
        }
        if matches!(t, "crate" | "$crate" | "super" | "self")
            && toks.get(i + 1).map(String::as_str) == Some("::")
            && !(i > 0 && toks[i - 1] == "::")
        {
            let mut path = vec![t.trim_start_matches('$').to_string()];
            let mut j = i + 1;
            while toks.get(j).map(String::as_str) == Some("::")
                && toks
                    .get(j + 1)
                    .is_some_and(|s| s.chars().all(is_ident_char))
            {
                path.push(toks[j + 1].clone());
                j += 2;
            }
            out.push(Import {
                path,
                from_use: false,
                alias: None,
                inline: here,
            });
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// `#[macro_export] macro_rules! name` definitions of a file.
fn exported_macros(text: &str) -> Vec<String> {
    let toks = tokens(text);
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if t == "macro_export"
            && let Some(pos) = toks[i..].iter().position(|s| s == "macro_rules")
            && let Some(name) = toks.get(i + pos + 2)
        {
            out.push(name.clone());
        }
    }
    out
}

struct Crate<'a> {
    /// Module path → file name.
    files: HashMap<ModPath, &'a str>,
    /// Module path → (name → absolute path it re-exports).
    reexports: HashMap<ModPath, HashMap<String, ModPath>>,
    /// Names defined at the crate root by `#[macro_export]`, with their files.
    macros: HashMap<String, &'a str>,
}

impl Crate<'_> {
    /// The absolute path of `path` written in module `here`, or `None` for a path outside
    /// the crate.
    fn absolute(&self, file_module: &ModPath, import: &Import) -> Option<ModPath> {
        let path = &import.path;
        let mut here = file_module.clone();
        here.extend(import.inline.iter().cloned());
        let here = &here;
        let first = path.first()?.as_str();
        let (mut base, rest): (ModPath, &[String]) = match first {
            "crate" => (Vec::new(), &path[1..]),
            "self" => (here.clone(), &path[1..]),
            "super" => {
                let mut base = here.clone();
                let mut k = 0;
                while path.get(k).map(String::as_str) == Some("super") {
                    base.pop()?;
                    k += 1;
                }
                (base, &path[k..])
            }
            _ if import.from_use => {
                // Edition 2018 use paths: a child module of this one, else another crate.
                let mut child = here.clone();
                child.push(first.to_string());
                if self.files.contains_key(&child) {
                    (here.clone(), &path[..])
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// The file that defines the item at `path` (following re-exports), with the name.
    fn defining_file(&self, path: &ModPath, depth: usize) -> Option<(&str, String)> {
        // Longest prefix that is a module.
        let mut k = path.len();
        while k > 0 && !self.files.contains_key(&path[..k]) {
            k -= 1;
        }
        let module = path[..k].to_vec();
        let name = path.get(k).cloned().unwrap_or_default();
        if k == 0
            && path.len() == 1
            && let Some(file) = self.macros.get(&name)
        {
            return Some((file, name));
        }
        if depth < 16
            && !name.is_empty()
            && name != "*"
            && let Some(target) = self.reexports.get(&module).and_then(|m| m.get(&name))
        {
            let mut target = target.clone();
            target.extend(path[k + 1..].iter().cloned());
            if let Some(found) = self.defining_file(&target, depth + 1) {
                return Some(found);
            }
        }
        let file = self.files.get(&module)?;
        let shown = if name.is_empty() || name == "*" {
            module.last().cloned().unwrap_or_else(|| "crate".into())
        } else {
            name
        };
        Some((file, shown))
    }
}

/// The circles among `sources` (module path, file name, stripped text) of one crate.
fn find_circles(krate: &str, sources: &[(ModPath, String, String)]) -> Vec<Circle> {
    let mut crate_ = Crate {
        files: sources
            .iter()
            .map(|(m, f, _)| (m.clone(), f.as_str()))
            .collect(),
        reexports: HashMap::new(),
        macros: HashMap::new(),
    };
    let parsed: Vec<(&ModPath, &str, Vec<Import>)> = sources
        .iter()
        .map(|(m, f, text)| {
            for name in exported_macros(text) {
                crate_.macros.insert(name, f.as_str());
            }
            (m, f.as_str(), imports(text))
        })
        .collect();
    // Names each module brings into scope with `use` (public or not: children reach
    // them through `super::`).
    for (module, _, imports) in &parsed {
        for import in imports.iter().filter(|i| i.from_use && i.inline.is_empty()) {
            let Some(abs) = crate_.absolute(module, import) else {
                continue;
            };
            let Some(last) = import.alias.clone().or_else(|| abs.last().cloned()) else {
                continue;
            };
            if last != "*" {
                crate_
                    .reexports
                    .entry((*module).clone())
                    .or_default()
                    .insert(last, abs);
            }
        }
    }
    // Edges between files, with the names that make them.
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (module, file, imports) in &parsed {
        for import in imports {
            let Some(abs) = crate_.absolute(module, import) else {
                continue;
            };
            let Some((target, name)) = crate_.defining_file(&abs, 0) else {
                continue;
            };
            if target != *file {
                edges
                    .entry((file.to_string(), target.to_string()))
                    .or_default()
                    .insert(name);
            }
        }
    }
    strongly_connected(&edges)
        .into_iter()
        .map(|group| Circle {
            krate: krate.to_string(),
            edges: edges
                .iter()
                .filter(|((a, b), _)| group.contains(a) && group.contains(b))
                .map(|((a, b), names)| (a.clone(), b.clone(), names.iter().cloned().collect()))
                .collect(),
        })
        .collect()
}

/// Groups of two or more nodes that reach each other (Tarjan's algorithm, iterative).
fn strongly_connected(
    edges: &BTreeMap<(String, String), BTreeSet<String>>,
) -> Vec<BTreeSet<String>> {
    let mut nodes: BTreeSet<&str> = BTreeSet::new();
    let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
    for (a, b) in edges.keys() {
        nodes.insert(a);
        nodes.insert(b);
        next.entry(a).or_default().push(b);
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut low: HashMap<&str, usize> = HashMap::new();
    let mut on_stack: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&str> = Vec::new();
    let mut groups = Vec::new();
    let mut counter = 0;
    for &start in &nodes {
        if index.contains_key(start) {
            continue;
        }
        // (node, position in its successor list)
        let mut work: Vec<(&str, usize)> = vec![(start, 0)];
        index.insert(start, counter);
        low.insert(start, counter);
        counter += 1;
        stack.push(start);
        on_stack.insert(start);
        while let Some(&mut (node, ref mut pos)) = work.last_mut() {
            let succ = next.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if *pos < succ.len() {
                let s = succ[*pos];
                *pos += 1;
                if !index.contains_key(s) {
                    index.insert(s, counter);
                    low.insert(s, counter);
                    counter += 1;
                    stack.push(s);
                    on_stack.insert(s);
                    work.push((s, 0));
                } else if on_stack.contains(s) {
                    let l = low[node].min(index[s]);
                    low.insert(node, l);
                }
            } else {
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    let l = low[parent].min(low[node]);
                    low.insert(parent, l);
                }
                if low[node] == index[node] {
                    let mut group = BTreeSet::new();
                    while let Some(top) = stack.pop() {
                        on_stack.remove(top);
                        group.insert(top.to_string());
                        if top == node {
                            break;
                        }
                    }
                    if group.len() > 1 {
                        groups.push(group);
                    }
                }
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(files: &[(&str, &str)]) -> Vec<(ModPath, String, String)> {
        files
            .iter()
            .map(|(name, text)| {
                (
                    module_path(Path::new(name)).unwrap(),
                    name.to_string(),
                    strip(text),
                )
            })
            .collect()
    }

    #[test]
    fn a_loop_through_use_and_through_a_code_path_is_a_circle() {
        let found = find_circles(
            "demo",
            &sources(&[
                ("lib.rs", "pub mod kernel; pub mod pool;"),
                (
                    "kernel.rs",
                    "use crate::pool::run_ranges;\npub fn num_threads() {}",
                ),
                (
                    "pool.rs",
                    "fn f() { let n = crate::kernel::num_threads(); }",
                ),
            ]),
        );
        assert_eq!(found.len(), 1);
        let text = found[0].to_string();
        assert!(text.contains("kernel.rs -> pool.rs: run_ranges"), "{text}");
        assert!(text.contains("pool.rs -> kernel.rs: num_threads"), "{text}");
    }

    #[test]
    fn re_exports_are_followed_to_the_defining_file() {
        // The parent re-exports its children; a child importing a sibling through the
        // parent is not a circle with the parent.
        let found = find_circles(
            "demo",
            &sources(&[
                ("lib.rs", "pub mod cpu;\npub use cpu::threads::num_threads;"),
                (
                    "cpu/mod.rs",
                    "pub mod pool; pub mod threads;\npub use threads::{num_threads, set_num_threads};\npub use pool::run;",
                ),
                ("cpu/threads.rs", "pub fn num_threads() -> usize { 1 }"),
                (
                    "cpu/pool.rs",
                    "use crate::cpu::num_threads;\nuse super::threads::set_num_threads as set;\npub fn run() {}",
                ),
            ]),
        );
        assert!(found.is_empty(), "{found:?}");
        // …but a parent that defines an item a re-exported child uses is one.
        let found = find_circles(
            "demo",
            &sources(&[
                ("lib.rs", "pub mod nn;"),
                (
                    "nn/mod.rs",
                    "pub mod layers;\npub use layers::Linear;\npub fn helper() {}",
                ),
                (
                    "nn/layers.rs",
                    "pub struct Linear; fn f() { super::helper() }",
                ),
            ]),
        );
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn comments_strings_and_macros_are_not_imports() {
        let text = strip(
            "// use crate::a::X;\n/* crate::b::Y */ let s = \"crate::c::Z\"; let c = '\"'; \
             let r = r#\"crate::d\"#; fn f<'a>(x: &'a str) {}",
        );
        assert!(imports(&text).is_empty(), "{:?}", imports(&text));
        // A raw byte string holding a backslash then a quote: an ordinary string's escape
        // rules would read past its end, blank the code after it and hide the import.
        let text = strip("let b = br\"\\\"; use crate::e::W;\nlet x = bar\"y\";");
        assert_eq!(imports(&text), imports("use crate::e::W;"), "{text}");
        let found = find_circles(
            "demo",
            &sources(&[
                ("lib.rs", "pub mod simd;\npub use simd::level;"),
                (
                    "simd.rs",
                    "pub fn level() {}\n#[macro_export]\nmacro_rules! k { () => { $crate::k!(); $crate::simd::level() } }",
                ),
            ]),
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn the_workspace_has_no_circles() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        if let Err(circles) = check(&root) {
            let text: Vec<String> = circles.iter().map(ToString::to_string).collect();
            panic!("import circles:\n{}", text.join("\n"));
        }
    }
}
