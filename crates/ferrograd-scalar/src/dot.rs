//! Graphviz DOT export of an expression's graph, for pictures like the book's.

use std::fmt::Write as _;

use crate::grad::Gradients;
use crate::op::Op;
use crate::tape::{Tape, Value};

impl Tape {
    /// The graph of `output` (the nodes it depends on) as Graphviz DOT text. Each node shows
    /// its label (see [`Value::label`]) or operation, its value and, when `grads` is given,
    /// its gradient. An edge runs from each operand to its result; a value used twice
    /// (`x * x`) has two edges.
    ///
    /// Render with `dot -Tsvg graph.dot -o graph.svg`.
    ///
    /// # Panics
    /// If `output` lives on another tape, or `grads` were computed on another tape (or
    /// before the tape was cleared).
    pub fn to_dot(&self, output: Value<'_>, grads: Option<&Gradients>) -> String {
        output.check_tape(self, "to_dot");
        if let Some(g) = grads {
            // Reading one gradient checks that the store belongs to this tape.
            let _ = g.wrt(output);
        }
        let inner = self.inner();
        let out = output.index();
        let mut reach = vec![false; out + 1];
        reach[out] = true;
        for i in (0..=out).rev() {
            if reach[i] {
                let (a, b) = inner.ops[i].operands();
                for p in [a, b].into_iter().flatten() {
                    reach[p as usize] = true;
                }
            }
        }
        let mut s = String::from(
            "digraph expression {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
        );
        for i in (0..=out).filter(|&i| reach[i]) {
            let op = inner.ops[i];
            let what = match op {
                Op::Var => String::from("var"),
                Op::Const => String::from("constant"),
                Op::Unary(u, _) => String::from(u.name()),
                Op::Binary(b, _, _) => String::from(b.name()),
                Op::WithConst(k, _, c) => k.label(c),
            };
            let mut label = match inner.labels.get(&(i as u32)) {
                Some(name) => format!("{name} ({what})"),
                None => what,
            };
            let _ = write!(label, "\nvalue = {}", fmt_num(inner.values[i]));
            if let Some(g) = grads {
                let gi = g.as_slice().get(i).copied().unwrap_or(0.0);
                let _ = write!(label, "\ngrad = {}", fmt_num(gi));
            }
            let shape = match op {
                Op::Var | Op::Const => ", shape=ellipse",
                _ => "",
            };
            let _ = writeln!(s, "  n{i} [label=\"{}\"{shape}];", escape(&label));
        }
        for i in (0..=out).filter(|&i| reach[i]) {
            let (a, b) = inner.ops[i].operands();
            for p in [a, b].into_iter().flatten() {
                let _ = writeln!(s, "  n{p} -> n{i};");
            }
        }
        s.push_str("}\n");
        s
    }
}

impl Value<'_> {
    /// [`Tape::to_dot`] for this value.
    pub fn to_dot(self, grads: Option<&Gradients>) -> String {
        self.tape().to_dot(self, grads)
    }
}

/// Four decimals for ordinary magnitudes, scientific notation for very small or large ones.
fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 || (1e-3..1e6).contains(&a) || !x.is_finite() {
        format!("{x:.4}")
    } else {
        format!("{x:.4e}")
    }
}

/// Escapes a string for a double-quoted DOT label, turning newlines into `\n` line breaks.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}
