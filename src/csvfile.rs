//! Line numbers as a person counts them, whatever the line endings.
//!
//! The csv crate's own line count is off by one on files with Windows line endings (`\r\n`),
//! so errors pointed one line too high. Instead, this reader notes where every `\n` is as the
//! bytes go by, and a record's line is found from its byte offset: one more than the number of
//! newlines before it. A quoted value that spans lines counts its lines too, as an editor does.

use std::io::{self, Read};

/// A reader that remembers the byte offset of every `\n` it has passed on.
pub(crate) struct LineCounter<R> {
    inner: R,
    read: u64,
    newlines: Vec<u64>,
}

impl<R: Read> LineCounter<R> {
    pub fn new(inner: R) -> Self {
        LineCounter {
            inner,
            read: 0,
            newlines: Vec::new(),
        }
    }

    /// The line (first line = 1) of the record that csv says starts at byte `offset`, once the
    /// reader has read past it. After a `\r\n`, csv places the next record at the `\n` (it
    /// ends the record at `\r`), so a newline at `offset` itself belongs before the record.
    pub fn line_of(&self, offset: u64) -> u64 {
        self.newlines.partition_point(|&at| at <= offset) as u64 + 1
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let start = self.read;
        self.newlines.extend(
            buf[..n]
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| start + i as u64),
        );
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_newlines_whatever_the_endings() {
        for text in ["a\nb\nc\n", "a\r\nb\r\nc\r\n"] {
            let mut counter = LineCounter::new(text.as_bytes());
            std::io::copy(&mut counter, &mut std::io::sink()).unwrap();
            let c = text.find('c').unwrap() as u64;
            assert_eq!(counter.line_of(0), 1);
            assert_eq!(counter.line_of(c), 3, "{text:?}");
            // Where csv starts the record after a \r\n: at the \n.
            assert_eq!(counter.line_of(c - 1), 3, "{text:?}");
        }
    }
}
