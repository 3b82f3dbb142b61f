//! Trained word vectors: cosine similarity, nearest neighbours, analogies, a 2-D
//! projection, and word2vec's text format.

use std::io::BufRead;
use std::path::Path;

use crate::error::{LmError, Result, invalid};
use crate::text::Vocabulary;

/// Words and their vectors (gensim's `KeyedVectors`).
///
/// ```
/// use ferrograd_lm::word2vec::WordVectors;
///
/// let v = WordVectors::new(
///     vec!["king".into(), "man".into(), "woman".into(), "queen".into()],
///     vec![0.9, 0.8, 0.1, 0.8, 0.1, 0.1, 0.1, 0.1, 0.9, 0.2, 0.8, 0.9],
///     3,
/// )?;
/// assert!((v.similarity("king", "king")? - 1.0).abs() < 1e-6);
/// // king − man + woman ≈ queen
/// let best = v.analogy(&["king", "woman"], &["man"], 1)?;
/// assert_eq!(best[0].0, "queen");
/// # Ok::<(), ferrograd_lm::LmError>(())
/// ```
#[derive(Debug, Clone)]
pub struct WordVectors {
    vocab: Vocabulary,
    dim: usize,
    vectors: Vec<f32>,
    /// Each vector divided by its norm (zero vectors stay zero).
    unit: Vec<f32>,
}

impl WordVectors {
    /// Vectors for `words`, `vectors` holding one row of `dim` numbers per word.
    ///
    /// # Errors
    /// [`LmError::InvalidConfig`] when the sizes disagree, `dim` is 0, a word repeats, or a
    /// value is NaN or infinite (naming the word and the value).
    pub fn new(words: Vec<String>, vectors: Vec<f32>, dim: usize) -> Result<Self> {
        // The shape checks first (so `i / dim` below names a word), then finiteness.
        let checked = Self::allowing_non_finite(words, vectors, dim)?;
        if let Some(i) = checked.vectors.iter().position(|x| !x.is_finite()) {
            return Err(invalid(
                "WordVectors::new",
                "vectors",
                format!(
                    "{} in the vector of {:?}",
                    checked.vectors[i],
                    checked.vocab.word((i / dim) as u32).unwrap_or_default()
                ),
                "every value must be finite (a NaN or infinite vector poisons every ranking)",
            ));
        }
        Ok(checked)
    }

    /// [`WordVectors::new`] without the finiteness check, for a trained model's own vectors
    /// ([`super::Word2Vec::vectors`], which must not fail): a run that diverged gives
    /// NaN or infinite values, whose scores rank last.
    pub(crate) fn allowing_non_finite(
        words: Vec<String>,
        vectors: Vec<f32>,
        dim: usize,
    ) -> Result<Self> {
        const OP: &str = "WordVectors::new";
        if dim == 0 {
            return Err(invalid(OP, "dim", 0, "must be at least 1"));
        }
        if vectors.len() != words.len() * dim {
            return Err(invalid(
                OP,
                "vectors",
                format!("{} numbers", vectors.len()),
                format!("{} words × {dim} dimensions", words.len()),
            ));
        }
        let mut vocab = Vocabulary::new();
        for w in &words {
            if vocab.id(w).is_some() {
                return Err(invalid(OP, "words", w, "a word appears twice"));
            }
            vocab.insert(w);
        }
        let mut unit = vectors.clone();
        for row in unit.chunks_exact_mut(dim) {
            let norm = row
                .iter()
                .map(|x| f64::from(*x) * f64::from(*x))
                .sum::<f64>()
                .sqrt();
            if norm > 0.0 {
                row.iter_mut()
                    .for_each(|x| *x = (f64::from(*x) / norm) as f32);
            }
        }
        Ok(Self {
            vocab,
            dim,
            vectors,
            unit,
        })
    }

    /// Vector size.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    /// The words, in their stored order.
    pub fn words(&self) -> &[String] {
        self.vocab.words()
    }

    /// The vector of `word`, if known.
    pub fn get(&self, word: &str) -> Option<&[f32]> {
        let id = self.vocab.id(word)? as usize;
        Some(&self.vectors[id * self.dim..(id + 1) * self.dim])
    }

    fn id(&self, op: &'static str, word: &str) -> Result<usize> {
        self.vocab
            .id(word)
            .map(|i| i as usize)
            .ok_or_else(|| LmError::UnknownWord {
                op,
                word: word.to_string(),
            })
    }

    fn unit_row(&self, id: usize) -> &[f32] {
        &self.unit[id * self.dim..(id + 1) * self.dim]
    }

    /// Cosine similarity of two words' vectors (0 if either vector is zero).
    ///
    /// # Errors
    /// [`LmError::UnknownWord`] for a word without a vector.
    pub fn similarity(&self, a: &str, b: &str) -> Result<f64> {
        let (a, b) = (self.id("similarity", a)?, self.id("similarity", b)?);
        Ok(dot64(self.unit_row(a), self.unit_row(b)))
    }

    /// The `topn` words most similar to `word` (cosine), best first, `word` itself left out.
    ///
    /// # Errors
    /// [`LmError::UnknownWord`] for a word without a vector.
    pub fn most_similar(&self, word: &str, topn: usize) -> Result<Vec<(String, f64)>> {
        self.analogy(&[word], &[], topn)
    }

    /// gensim's `most_similar(positive, negative)`: the words whose vectors are closest
    /// (cosine) to the mean of the unit vectors of `positive` minus those of `negative`,
    /// the query words left out — `analogy(&["king", "woman"], &["man"], 1)` answers
    /// "man is to king as woman is to …".
    ///
    /// # Errors
    /// [`LmError::UnknownWord`] for a word without a vector, [`LmError::Empty`] for no
    /// query words.
    pub fn analogy(
        &self,
        positive: &[&str],
        negative: &[&str],
        topn: usize,
    ) -> Result<Vec<(String, f64)>> {
        const OP: &str = "WordVectors::analogy";
        if positive.is_empty() && negative.is_empty() {
            return Err(LmError::Empty {
                op: OP,
                what: "the list of query words",
            });
        }
        let mut query = vec![0.0f64; self.dim];
        let mut exclude = Vec::new();
        for (words, sign) in [(positive, 1.0), (negative, -1.0)] {
            for w in words {
                let id = self.id(OP, w)?;
                exclude.push(id);
                for (q, &x) in query.iter_mut().zip(self.unit_row(id)) {
                    *q += sign * f64::from(x);
                }
            }
        }
        let count = (positive.len() + negative.len()) as f64;
        query.iter_mut().for_each(|q| *q /= count);
        let norm = query.iter().map(|q| q * q).sum::<f64>().sqrt();
        if norm > 0.0 {
            query.iter_mut().for_each(|q| *q /= norm);
        }
        let mut scored: Vec<(usize, f64)> = (0..self.len())
            .filter(|i| !exclude.contains(i))
            .map(|i| {
                let row = self.unit_row(i);
                let s: f64 = row.iter().zip(&query).map(|(&x, q)| f64::from(x) * q).sum();
                (i, s)
            })
            .collect();
        scored.sort_by(|a, b| by_score_nan_last(a.1, b.1).then(a.0.cmp(&b.0)));
        Ok(scored
            .into_iter()
            .take(topn)
            .map(|(i, s)| (self.vocab.words()[i].clone(), s))
            .collect())
    }

    /// The first two principal components of the chosen words' vectors: each word's
    /// coordinates on them, for a 2-D picture (the vectors are centred on their mean;
    /// each axis's sign makes its largest coordinate positive).
    ///
    /// # Errors
    /// [`LmError::UnknownWord`] for a word without a vector; [`LmError::Empty`] for no
    /// words.
    pub fn pca_2d(&self, words: &[&str]) -> Result<Vec<[f64; 2]>> {
        const OP: &str = "WordVectors::pca_2d";
        if words.is_empty() {
            return Err(LmError::Empty {
                op: OP,
                what: "the list of words",
            });
        }
        let m = words.len();
        let mut x = vec![0.0f64; m * self.dim];
        for (r, w) in words.iter().enumerate() {
            let id = self.id(OP, w)?;
            for (d, &v) in self.vectors[id * self.dim..(id + 1) * self.dim]
                .iter()
                .enumerate()
            {
                x[r * self.dim + d] = f64::from(v);
            }
        }
        for d in 0..self.dim {
            let mean = (0..m).map(|r| x[r * self.dim + d]).sum::<f64>() / m as f64;
            (0..m).for_each(|r| x[r * self.dim + d] -= mean);
        }
        // Eigenvectors of the m×m Gram matrix X·Xᵀ: its top two, scaled by √λ, are the
        // coordinates on the top two principal axes.
        let mut gram = vec![0.0f64; m * m];
        for i in 0..m {
            for j in 0..=i {
                let g = dot_f64(
                    &x[i * self.dim..(i + 1) * self.dim],
                    &x[j * self.dim..(j + 1) * self.dim],
                );
                gram[i * m + j] = g;
                gram[j * m + i] = g;
            }
        }
        let (values, vectors) = jacobi_eigen(gram, m);
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        let mut out = vec![[0.0; 2]; m];
        for (axis, &k) in order.iter().take(2).enumerate() {
            let scale = values[k].max(0.0).sqrt();
            let column: Vec<f64> = (0..m).map(|i| vectors[i * m + k] * scale).collect();
            let largest = column
                .iter()
                .copied()
                .fold(0.0f64, |a, b| if b.abs() > a.abs() { b } else { a });
            let sign = if largest < 0.0 { -1.0 } else { 1.0 };
            for (i, c) in column.into_iter().enumerate() {
                out[i][axis] = sign * c;
            }
        }
        Ok(out)
    }

    /// Writes word2vec's text format (`gensim`'s `save_word2vec_format(binary=False)`): a
    /// line `"<words> <dim>"`, then one line per word, the word and its numbers separated
    /// by spaces. The file is written to a temporary file of a unique name in the same
    /// directory, flushed to disk and renamed over `path`, so a failure never leaves half a
    /// file and concurrent saves never share a temporary file.
    ///
    /// # Errors
    /// [`LmError::Io`] when the file cannot be written; [`LmError::InvalidConfig`] for a
    /// word containing whitespace (the format cannot hold it).
    pub fn save_word2vec_text(&self, path: impl AsRef<Path>) -> Result<()> {
        const OP: &str = "WordVectors::save_word2vec_text";
        let path = path.as_ref();
        if let Some(w) = self
            .words()
            .iter()
            .find(|w| w.is_empty() || w.chars().any(char::is_whitespace))
        {
            return Err(invalid(
                OP,
                "word",
                format!("{w:?}"),
                "words in the text format cannot be empty or contain whitespace",
            ));
        }
        let mut text = String::new();
        {
            use std::fmt::Write as _;
            // Writing into a String cannot fail.
            let _ = writeln!(text, "{} {}", self.len(), self.dim);
            for (i, w) in self.words().iter().enumerate() {
                text.push_str(w);
                for x in &self.vectors[i * self.dim..(i + 1) * self.dim] {
                    let _ = write!(text, " {x}");
                }
                text.push('\n');
            }
        }
        crate::train_checkpoint::write_atomically(path, text.as_bytes(), OP)
    }

    /// Reads word2vec's text format (as written by [`WordVectors::save_word2vec_text`],
    /// gensim or the original word2vec tool).
    ///
    /// # Errors
    /// [`LmError::Io`] when the file cannot be read; [`LmError::Parse`] naming the line
    /// for a bad header, a wrong number of values, a value that is not a finite number
    /// (`nan` and `inf` are refused), a repeated word, or fewer lines than the header
    /// announces.
    pub fn load_word2vec_text(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| LmError::Io {
            op: "WordVectors::load_word2vec_text",
            path: path.to_path_buf(),
            source,
        })?;
        let parse = |line: usize, reason: String| LmError::Parse {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let mut lines = std::io::BufReader::new(file).lines();
        let header = match lines.next() {
            Some(Ok(h)) => h,
            Some(Err(e)) => return Err(parse(1, e.to_string())),
            None => return Err(parse(1, "empty file: no header line".into())),
        };
        let fields: Vec<&str> = header.split_whitespace().collect();
        let (count, dim) = match fields.as_slice() {
            [c, d] => match (c.parse::<usize>(), d.parse::<usize>()) {
                (Ok(c), Ok(d)) if d > 0 => (c, d),
                _ => {
                    return Err(parse(
                        1,
                        format!("header {header:?} is not \"<words> <dim>\""),
                    ));
                }
            },
            _ => {
                return Err(parse(
                    1,
                    format!("header {header:?} is not \"<words> <dim>\""),
                ));
            }
        };
        // The header is not trusted for the allocation: the vectors are counted as read.
        let mut words = Vec::with_capacity(count.min(1 << 20));
        let mut vectors = Vec::with_capacity(count.saturating_mul(dim).min(1 << 28));
        let mut seen = Vocabulary::new();
        for (i, line) in lines.enumerate() {
            let number = i + 2;
            let line = line.map_err(|e| parse(number, e.to_string()))?;
            if line.trim().is_empty() {
                continue;
            }
            if words.len() == count {
                return Err(parse(
                    number,
                    format!("more than the {count} words the header announces"),
                ));
            }
            let mut parts = line.split_whitespace();
            let word = parts.next().unwrap_or_default().to_string();
            let start = vectors.len();
            for part in parts {
                let x: f32 = part
                    .parse()
                    .map_err(|_| parse(number, format!("{part:?} is not a number")))?;
                if !x.is_finite() {
                    return Err(parse(
                        number,
                        format!("{part:?} is not a finite number (NaN and infinity are refused)"),
                    ));
                }
                vectors.push(x);
            }
            if vectors.len() - start != dim {
                return Err(parse(
                    number,
                    format!(
                        "{word:?} has {} values, the header says {dim}",
                        vectors.len() - start
                    ),
                ));
            }
            if seen.id(&word).is_some() {
                return Err(parse(number, format!("{word:?} appears twice")));
            }
            seen.insert(&word);
            words.push(word);
        }
        if words.len() != count {
            return Err(parse(
                words.len() + 2,
                format!(
                    "the header announces {count} words, the file has {}",
                    words.len()
                ),
            ));
        }
        Self::new(words, vectors, dim)
    }
}

/// Highest score first, NaN last (`total_cmp` alone would put NaN above +∞). The vectors
/// are finite, so this is a safeguard only.
fn by_score_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (false, false) => b.total_cmp(&a),
        (a_nan, b_nan) => a_nan.cmp(&b_nan),
    }
}

fn dot64(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

fn dot_f64(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Eigen-decomposition of a symmetric `n×n` matrix by cyclic Jacobi rotations: the
/// eigenvalues and the eigenvectors as the columns of a row-major `n×n` matrix.
fn jacobi_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        let scale: f64 = (0..n).map(|i| a[i * n + i] * a[i * n + i]).sum::<f64>() + off;
        if off <= 1e-30 * scale.max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> WordVectors {
        WordVectors::new(
            vec!["a".into(), "b".into(), "c".into()],
            vec![1.0, 0.0, 0.0, 1.0, 3.0, 3.0],
            2,
        )
        .unwrap()
    }

    #[test]
    fn cosine_and_neighbours() {
        let v = toy();
        assert!((v.similarity("a", "c").unwrap() - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert!(v.similarity("a", "b").unwrap().abs() < 1e-12);
        let near = v.most_similar("a", 5).unwrap();
        assert_eq!(near.len(), 2);
        assert_eq!(near[0].0, "c");
        assert!(matches!(
            v.similarity("a", "zzz"),
            Err(LmError::UnknownWord { .. })
        ));
        assert!(matches!(v.analogy(&[], &[], 1), Err(LmError::Empty { .. })));
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(WordVectors::new(vec!["a".into()], vec![1.0], 2).is_err());
        assert!(WordVectors::new(vec!["a".into(), "a".into()], vec![1.0, 2.0], 1).is_err());
        assert!(WordVectors::new(vec![], vec![], 0).is_err());
        for x in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let e = WordVectors::new(vec!["a".into(), "b".into()], vec![1.0, 0.0, 2.0, x], 2)
                .unwrap_err();
            assert!(
                matches!(&e, LmError::InvalidConfig { name: "vectors", value, .. }
                    if *value == format!("{x} in the vector of \"b\"")),
                "{e}"
            );
        }
    }

    #[test]
    fn nan_scores_rank_last() {
        // Built around `new` (which refuses NaN): a NaN unit row must not rank first.
        let mut v = toy();
        v.unit[2..4].copy_from_slice(&[f32::NAN, f32::NAN]); // "b"
        let near = v.most_similar("a", 5).unwrap();
        assert_eq!(near[0].0, "c");
        assert_eq!(near[1].0, "b");
        assert!(near[1].1.is_nan());
        let mut scores = [
            f64::NAN,
            1.0,
            f64::INFINITY,
            -2.0,
            f64::NAN,
            f64::NEG_INFINITY,
        ];
        scores.sort_by(|a, b| by_score_nan_last(*a, *b));
        assert_eq!(scores[..4], [f64::INFINITY, 1.0, -2.0, f64::NEG_INFINITY]);
        assert!(scores[4].is_nan() && scores[5].is_nan());
    }

    #[test]
    fn saving_leaves_a_file_named_like_the_old_temporary_alone() {
        let dir = std::env::temp_dir().join(format!("ferrograd-lm-w2v-tmp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("v.txt");
        let user_file = dir.join("v.txt.tmp");
        std::fs::write(&user_file, "the user's own file\n").unwrap();
        toy().save_word2vec_text(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&user_file).unwrap(),
            "the user's own file\n"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "3 2\na 1 0\nb 0 1\nc 3 3\n"
        );
        // Nothing else is left behind: the file, the user's file.
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["v.txt", "v.txt.tmp"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pca_of_points_on_a_line_has_no_second_axis() {
        // Three 3-D points on a line through the mean: all variance on the first axis,
        // coordinates ±‖step‖ and 0.
        let v = WordVectors::new(
            vec!["x".into(), "y".into(), "z".into()],
            vec![1.0, 2.0, 3.0, 2.0, 4.0, 6.0, 3.0, 6.0, 9.0],
            3,
        )
        .unwrap();
        let p = v.pca_2d(&["x", "y", "z"]).unwrap();
        let step = 14f64.sqrt();
        assert!((p[0][0].abs() - step).abs() < 1e-9 && (p[2][0].abs() - step).abs() < 1e-9);
        assert!(p[1][0].abs() < 1e-9);
        assert!(p.iter().all(|q| q[1].abs() < 1e-6));
        assert!(p[0][0] * p[2][0] < 0.0);
    }

    #[test]
    fn jacobi_finds_known_eigenvalues() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
        let (mut values, _) = jacobi_eigen(vec![2.0, 1.0, 1.0, 2.0], 2);
        values.sort_by(f64::total_cmp);
        assert!((values[0] - 1.0).abs() < 1e-12 && (values[1] - 3.0).abs() < 1e-12);
    }

    #[test]
    fn text_format_round_trips_and_rejects_bad_files() {
        let dir = std::env::temp_dir().join(format!("ferrograd-lm-w2v-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("v.txt");
        let v = WordVectors::new(
            vec!["king".into(), "queen".into()],
            vec![0.1, -2.5e-8, 3.0, 1.0 / 3.0],
            2,
        )
        .unwrap();
        v.save_word2vec_text(&path).unwrap();
        let back = WordVectors::load_word2vec_text(&path).unwrap();
        assert_eq!(back.words(), v.words());
        assert_eq!(back.get("queen"), v.get("queen"));
        assert_eq!(back.get("king"), v.get("king"));
        for (text, line) in [
            ("", 1),
            ("2\n", 1),
            ("1 2\nking 1.0\n", 2),
            ("1 2\nking 1.0 x\n", 2),
            ("2 1\nking 1\nking 2\n", 3),
            ("3 1\na 1\nb 2\n", 4),
            ("1 1\na 1\nb 2\n", 3),
            // A header announcing more words than memory holds: counted, not allocated.
            ("18446744073709551615 1\na 1\n", 3),
            ("3000000000000 300\n", 2),
        ] {
            std::fs::write(&path, text).unwrap();
            match WordVectors::load_word2vec_text(&path) {
                Err(LmError::Parse { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        // Values that parse as f32 but are not finite: refused, naming the line.
        for (text, line) in [
            ("2 2\nking 1 2\nqueen nan 1\n", 3),
            ("1 2\nking inf 2\n", 2),
            ("2 1\nking 1\nqueen -infinity\n", 3),
            ("1 1\nking NaN\n", 2),
        ] {
            std::fs::write(&path, text).unwrap();
            match WordVectors::load_word2vec_text(&path) {
                Err(LmError::Parse {
                    line: l, reason, ..
                }) => {
                    assert_eq!(l, line, "{text:?}");
                    assert!(reason.contains("not a finite number"), "{reason}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let bad = WordVectors::new(vec!["two words".into()], vec![1.0], 1).unwrap();
        assert!(bad.save_word2vec_text(&path).is_err());
        assert!(matches!(
            WordVectors::load_word2vec_text(dir.join("missing.txt")),
            Err(LmError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
