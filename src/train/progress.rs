//! What `turnover train` says on stderr while it works (a run takes minutes): a bar per phase
//! when stderr is a terminal, plain lines otherwise (a CI log, a file), nothing in tests.
//!
//! Counted phases (the search's and the cross-validation's fits) report their position; the
//! others (the final fit, the baseline, the bootstrap intervals, the per-group figures, the
//! bundle and its card) say when they start and how long they took. Lines are written at the
//! start, every tenth of a counted phase and at the end, so a log stays short.

use std::cell::Cell;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// indicatif bars and spinners (stderr is a terminal).
    Bar,
    /// One line per step on stderr, prefixed `train:`.
    Lines,
    /// Nothing.
    Off,
}

impl Progress {
    /// Bars on a terminal, lines elsewhere.
    #[must_use]
    pub fn for_stderr(is_terminal: bool) -> Self {
        if is_terminal {
            Progress::Bar
        } else {
            Progress::Lines
        }
    }
}

/// One phase of training, shown as `Progress` says.
pub struct Phase {
    bar: ProgressBar,
    lines: bool,
    what: &'static str,
    len: u64,
    pos: Cell<u64>,
    tenths: Cell<u64>,
    message: Cell<Option<String>>,
    started: Instant,
    finished: bool,
}

impl Phase {
    /// A phase of `len` fits.
    pub fn counted(mode: Progress, len: u64, what: &'static str) -> Self {
        let bar = match mode {
            Progress::Bar => styled(
                ProgressBar::new(len),
                "{prefix:>12} [{bar:30}] {pos}/{len} fits, {elapsed} elapsed, ~{eta} left  {msg}",
            ),
            Progress::Lines | Progress::Off => ProgressBar::hidden(),
        };
        let phase = Phase::new(bar.with_prefix(what), mode, what, len);
        phase.line(&format!("{what}: 0/{len} fits"));
        phase
    }

    /// A phase without a count: a spinner, or a line when it starts and one when it ends.
    pub fn step(mode: Progress, what: &'static str) -> Self {
        let bar = match mode {
            Progress::Bar => {
                let bar = styled(
                    ProgressBar::new_spinner(),
                    "{prefix:>12} {spinner} {elapsed}",
                );
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                bar
            }
            Progress::Lines | Progress::Off => ProgressBar::hidden(),
        };
        let phase = Phase::new(bar.with_prefix(what), mode, what, 0);
        phase.line(&format!("{what}…"));
        phase
    }

    fn new(bar: ProgressBar, mode: Progress, what: &'static str, len: u64) -> Self {
        Phase {
            bar,
            lines: mode == Progress::Lines,
            what,
            len,
            pos: Cell::new(0),
            tenths: Cell::new(0),
            message: Cell::new(None),
            started: Instant::now(),
            finished: false,
        }
    }

    fn line(&self, text: &str) {
        if self.lines {
            eprintln!("train: {text}");
        }
    }

    /// One more fit done.
    pub fn inc(&self) {
        self.bar.inc(1);
        let pos = self.pos.get() + 1;
        self.pos.set(pos);
        let tenths = (pos * 10).checked_div(self.len).unwrap_or(0);
        if tenths > self.tenths.get() && pos < self.len {
            self.tenths.set(tenths);
            let message = self.message.take();
            self.line(&format!(
                "{}: {pos}/{} fits, {:.0} s{}",
                self.what,
                self.len,
                self.started.elapsed().as_secs_f64(),
                message
                    .as_deref()
                    .map(|m| format!(", {m}"))
                    .unwrap_or_default()
            ));
            self.message.set(message);
        }
    }

    /// What the phase has found so far (the best score of the search), shown with the count.
    pub fn set_message(&self, message: String) {
        self.bar.set_message(message.clone());
        self.message.set(Some(message));
    }

    /// The phase ended well: the bar stays drawn, the line says how long it took.
    pub fn finish(mut self) {
        self.finished = true;
        self.bar.finish();
        let message = self.message.take();
        self.line(&format!(
            "{}: done in {:.1} s{}",
            self.what,
            self.started.elapsed().as_secs_f64(),
            message
                .as_deref()
                .map(|m| format!(", {m}"))
                .unwrap_or_default()
        ));
    }
}

impl Drop for Phase {
    // A phase left by an error is not "done": its bar stops where it was, and the error says
    // the rest.
    fn drop(&mut self) {
        if !self.finished {
            self.bar.abandon();
        }
    }
}

fn styled(bar: ProgressBar, template: &str) -> ProgressBar {
    bar.with_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_gets_bars_and_anything_else_lines() {
        assert_eq!(Progress::for_stderr(true), Progress::Bar);
        assert_eq!(Progress::for_stderr(false), Progress::Lines);
    }

    #[test]
    fn a_phase_counts_its_fits_whatever_it_shows() {
        let phase = Phase::counted(Progress::Off, 20, "search");
        for _ in 0..20 {
            phase.inc();
        }
        assert_eq!(phase.pos.get(), 20);
        assert_eq!(phase.tenths.get(), 9, "the last tenth is the end line");
        phase.finish();
    }
}
