//! Graphviz DOT export.

use ferrograd_scalar::Tape;

#[test]
fn dot_of_x_squared_plus_two_with_gradients() {
    let tape = Tape::new();
    let x = tape.var(3.0).label("x");
    let _unrelated = tape.var(7.0);
    let y = (x * x + 2.0).label("y");
    let g = y.backward().unwrap();
    // Written by hand from the format: one box per node the output depends on (leaves as
    // ellipses), labelled with name/operation, value and gradient (dy/dx = 2x = 6), and
    // one edge per operand use, so x*x has two edges.
    let want = "digraph expression {
  rankdir=LR;
  node [shape=box, fontname=\"monospace\"];
  n0 [label=\"x (var)\\nvalue = 3.0000\\ngrad = 6.0000\", shape=ellipse];
  n2 [label=\"mul\\nvalue = 9.0000\\ngrad = 1.0000\"];
  n3 [label=\"y (+ 2)\\nvalue = 11.0000\\ngrad = 1.0000\"];
  n0 -> n2;
  n0 -> n2;
  n2 -> n3;
}
";
    assert_eq!(y.to_dot(Some(&g)), want);
    // Without gradients there are no grad lines.
    let plain = tape.to_dot(y, None);
    assert!(!plain.contains("grad"));
    assert!(plain.contains("value = 11.0000"));
}

#[test]
fn dot_escapes_labels_and_formats_extreme_numbers() {
    let tape = Tape::new();
    let x = tape.var(1e-9).label("say \"hi\"\\");
    let y = x * 1e7;
    let dot = y.to_dot(None);
    assert!(dot.contains("say \\\"hi\\\"\\\\ (var)"), "{dot}");
    assert!(dot.contains("value = 1.0000e-9"), "{dot}");
    assert!(dot.contains("* 10000000"), "{dot}");
}

#[test]
#[should_panic(expected = "different tape")]
fn dot_with_foreign_gradients_panics() {
    let t1 = Tape::new();
    let t2 = Tape::new();
    let a = t1.var(1.0);
    let b = t2.var(1.0);
    let gb = b.backward().unwrap();
    let _ = a.to_dot(Some(&gb));
}
