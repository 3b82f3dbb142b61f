//! Progress bars for training loops (indicatif), shown only where someone can see them.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Decides whether training loops draw a progress bar, and makes the bars.
///
/// Bars go to standard error, and only when it is a terminal and the user did not ask for
/// `--quiet`: piped or redirected output (and the tests) never see them.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    visible: bool,
}

impl Progress {
    /// Bars shown when standard error is a terminal and `quiet` is false.
    pub fn new(quiet: bool) -> Self {
        Progress {
            visible: !quiet && std::io::stderr().is_terminal(),
        }
    }

    /// Never shows a bar (what the library functions use in tests and doc examples).
    pub fn hidden() -> Self {
        Progress { visible: false }
    }

    /// Whether bars are drawn.
    pub fn is_visible(&self) -> bool {
        self.visible
    }

    /// A bar of `len` steps labelled `what`; hidden if bars are off.
    pub fn bar(&self, len: u64, what: &str) -> ProgressBar {
        if !self.visible {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{msg:>26} [{bar:28.cyan/blue}] {pos:>5}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_string());
        bar
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::hidden()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_and_hidden_progress_draw_nothing() {
        assert!(!Progress::new(true).is_visible());
        assert!(!Progress::hidden().is_visible());
        assert!(Progress::hidden().bar(10, "x").is_hidden());
        // Under `cargo test` standard error is captured, not a terminal.
        if !std::io::stderr().is_terminal() {
            assert!(!Progress::new(false).is_visible());
        }
    }
}
