//! `ferrograd-book`: the examples of *The Hundred-Page Language Models Book*, chapter 1.
//!
//! ```text
//! ferrograd-book chapter1 [--out DIR] [--json] [--quiet]
//! ferrograd-book <section> [--out DIR] [--json] [--quiet]
//! ```
//!
//! Run `ferrograd-book --help` for the sections.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use ferrograd_book::{Figures, Progress, Section, run_section};

const USAGE: &str = "\
ferrograd-book: the examples of The Hundred-Page Language Models Book, chapter 1

USAGE:
    ferrograd-book <COMMAND> [--out DIR] [--json] [--quiet]

COMMANDS:
    chapter1               every section below, in order
    linear-regression      §1.2 closed-form line on three houses, MSE surface
    gradient-descent       §1.2 the same line by gradient descent, loss curve
    vectors                §1.4 dot, sum, Hadamard, norm, unit vector, cosine
    activations            §1.5 ReLU, sigmoid, tanh; line vs 2-, 4-, 100-unit networks
    matrices               §1.6 sum, product, transpose, Figure 1.1 as matrices
    logistic-regression    §1.7 logistic regression with hand-derived gradients
    autograd               §1.8 the same with autodiff, and a 2-100-1 network

OPTIONS:
    --out DIR    where the PNG figures go (default ./book-output)
    --json       print the numbers as one JSON object instead of text
    --quiet      no progress bars (they are also hidden when stderr is not a terminal)
    -h, --help   this help

Figures use DejaVu Sans from the system (Debian: fonts-dejavu-core); set
FERROGRAD_BOOK_FONT=/path/to/font.ttf to use another. Without a font the figures are
drawn without text.
";

#[derive(Debug)]
struct Args {
    sections: Vec<Section>,
    out: PathBuf,
    json: bool,
    quiet: bool,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut command = None;
    let mut out = PathBuf::from("book-output");
    let mut json = false;
    let mut quiet = false;
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" | "help" => return Ok(None),
            "--json" => json = true,
            "--quiet" | "-q" => quiet = true,
            "--out" => {
                out = args
                    .next()
                    .map(PathBuf::from)
                    .ok_or("--out needs a folder")?;
            }
            s if s.starts_with("--out=") => out = PathBuf::from(&s["--out=".len()..]),
            s if s.starts_with('-') => return Err(format!("unknown option {s:?}")),
            s if command.is_none() => command = Some(s.to_string()),
            s => return Err(format!("unexpected argument {s:?}")),
        }
    }
    let command = command.ok_or("no command given")?;
    let sections = match command.as_str() {
        "chapter1" => Section::ALL.to_vec(),
        name => vec![Section::from_name(name).ok_or_else(|| format!("unknown command {name:?}"))?],
    };
    Ok(Some(Args {
        sections,
        out,
        json,
        quiet,
    }))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (figures, warning) = match Figures::new(&args.out) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot use {}: {e}", args.out.display());
            return ExitCode::FAILURE;
        }
    };
    if let Some(w) = warning {
        eprintln!("{w}");
    }
    let progress = Progress::new(args.quiet);
    let start = Instant::now();
    let mut results = serde_json::Map::new();
    for section in &args.sections {
        let output = match run_section(*section, &figures, &progress) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error in {}: {e}", section.name());
                return ExitCode::FAILURE;
            }
        };
        if args.json {
            results.insert(section.name().to_string(), output.json);
        } else {
            println!("== {} ==", section.title());
            print!("{}", output.text);
            for f in &output.figures {
                println!("figure: {}", f.display());
            }
            println!();
        }
    }
    if args.json {
        match serde_json::to_string_pretty(&results) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        println!(
            "done in {:.2} s; figures in {}",
            start.elapsed().as_secs_f64(),
            figures.dir().display()
        );
    }
    ExitCode::SUCCESS
}
