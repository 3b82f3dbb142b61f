//! The letter and number tables of the GPT-2 pre-tokenizer are the regex engine's
//! `\p{L}` and `\p{N}` (regex-syntax, the engine under tiktoken's fancy-regex).
//! `FERROGRAD_WRITE_TABLES=1 cargo test -p ferrograd-tokenize --test unicode_tables`
//! rewrites `src/unicode_tables.rs` from them.

use regex_syntax::hir::{Class, HirKind};

fn ranges(pattern: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::parse(pattern).expect("pattern parses");
    match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        other => panic!("{pattern} is not a Unicode class: {other:?}"),
    }
}

fn render(name: &str, doc: &str, ranges: &[(u32, u32)]) -> String {
    let mut out = format!("/// {doc}\npub(crate) const {name}: &[(u32, u32)] = &[\n");
    for chunk in ranges.chunks(4) {
        out.push_str("   ");
        for (a, b) in chunk {
            out.push_str(&format!(" (0x{a:X}, 0x{b:X}),"));
        }
        out.push('\n');
    }
    out.push_str("];\n");
    out
}

#[test]
fn tables_equal_the_regex_engines_classes() {
    let letter = ranges(r"\p{L}");
    let number = ranges(r"\p{N}");
    let text = format!(
        "//! Unicode general categories L (letters) and N (numbers) as sorted, inclusive code\n\
         //! point ranges, generated from regex-syntax's `\\p{{L}}` and `\\p{{N}}` by\n\
         //! `FERROGRAD_WRITE_TABLES=1 cargo test -p ferrograd-tokenize --test unicode_tables`.\n\
         //! Do not edit by hand.\n\n{}\n{}",
        render("LETTER", "General category L.", &letter),
        render("NUMBER", "General category N.", &number)
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/unicode_tables.rs");
    if std::env::var_os("FERROGRAD_WRITE_TABLES").is_some() {
        std::fs::write(path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap();
    assert!(
        committed == text,
        "src/unicode_tables.rs differs from regex-syntax's classes; regenerate it (see the module docs)"
    );
}

#[test]
fn whitespace_is_the_regex_engines_class() {
    // `char::is_whitespace` is the White_Space property, as is the regex engine's `\s`.
    let space = ranges(r"\s");
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        let in_class = space.iter().any(|&(a, b)| (a..=b).contains(&(c as u32)));
        assert_eq!(c.is_whitespace(), in_class, "U+{:04X}", c as u32);
    }
}
