//! One CSV reader for the files people hand over (the extracts, the outcomes file): a header
//! line, cells trimmed, a UTF-8 byte-order mark accepted, and every row and problem placed on
//! the line a person counts (the header is line 1, whatever the line endings).
//!
//! [`CsvFile`] reads the header, finds columns in it ([`CsvFile::column`], which refuses a name
//! given twice) and hands out rows with their line. A problem of the file itself (not CSV, not
//! UTF-8, a row of the wrong length) comes back as a [`CsvProblem`] with its line; each caller
//! words it for its own file, as it words the errors of the cells it reads.
//!
//! Why lines are counted here: the csv crate's own line count is off by one on files with
//! Windows line endings (`\r\n`), so errors pointed one line too high. Instead,
//! [`LineCounter`] notes where every `\n` is as the bytes go by, and a record's line is found
//! from its byte offset: one more than the number of newlines before it. A quoted value that
//! spans lines counts its lines too, as an editor does.

use std::io::{self, Read};

/// A problem of the file as CSV, before any cell is judged.
#[derive(Debug)]
pub(crate) enum CsvProblem {
    /// The source failed.
    Io(io::Error),
    /// A value that is not UTF-8 text. `header` when it is in the header line; `column` names
    /// the value's column when the header was read and has one there.
    NotUtf8 {
        line: Option<u64>,
        header: bool,
        field: usize,
        column: Option<String>,
    },
    /// A row with another number of values than the header.
    UnequalLengths {
        line: Option<u64>,
        expected_len: u64,
        len: u64,
    },
    /// Anything else the csv crate reports, in its words.
    Other(String),
}

/// A column name found more than once in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RepeatedColumn;

/// A CSV file being read: its header, then its rows one by one.
pub(crate) struct CsvFile<R> {
    reader: csv::Reader<LineCounter<R>>,
    headers: csv::StringRecord,
}

impl<R: Read> CsvFile<R> {
    /// Reads the header line of `input`.
    ///
    /// # Errors
    /// A [`CsvProblem`] when the header cannot be read.
    pub fn open(input: R) -> Result<Self, CsvProblem> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(LineCounter::new(input));
        match reader.headers() {
            Ok(headers) => {
                let headers = headers.clone();
                Ok(CsvFile { reader, headers })
            }
            Err(e) => Err(problem(None, reader.get_ref(), e)),
        }
    }

    /// The header line's names, trimmed.
    pub fn headers(&self) -> &csv::StringRecord {
        &self.headers
    }

    /// Where the column `name` sits in the header, if it does.
    ///
    /// # Errors
    /// [`RepeatedColumn`] when the header names it more than once.
    pub fn column(&self, name: &str) -> Result<Option<usize>, RepeatedColumn> {
        let mut found = self.headers.iter().enumerate().filter(|(_, h)| *h == name);
        let first = found.next().map(|(i, _)| i);
        match found.next() {
            Some(_) => Err(RepeatedColumn),
            None => Ok(first),
        }
    }

    /// Reads the next row into `record` and returns its line, or `None` at the end.
    ///
    /// # Errors
    /// A [`CsvProblem`] for a row that cannot be read.
    pub fn next_row(&mut self, record: &mut csv::StringRecord) -> Result<Option<u64>, CsvProblem> {
        match self.reader.read_record(record) {
            Ok(true) => Ok(Some(
                record
                    .position()
                    .map_or(0, |p| self.reader.get_ref().line_of(p.byte())),
            )),
            Ok(false) => Ok(None),
            Err(e) => Err(problem(Some(&self.headers), self.reader.get_ref(), e)),
        }
    }
}

fn problem<R>(
    headers: Option<&csv::StringRecord>,
    lines: &LineCounter<R>,
    e: csv::Error,
) -> CsvProblem {
    let line_of = |pos: Option<&csv::Position>| pos.map(|p| lines.line_of(p.byte()));
    let fallback = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(source) => CsvProblem::Io(source),
        csv::ErrorKind::Utf8 { pos, err } => CsvProblem::NotUtf8 {
            line: line_of(pos.as_ref()),
            header: headers.is_none(),
            field: err.field(),
            column: headers.and_then(|h| h.get(err.field())).map(str::to_owned),
        },
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => CsvProblem::UnequalLengths {
            line: line_of(pos.as_ref()),
            expected_len,
            len,
        },
        _ => CsvProblem::Other(fallback),
    }
}

/// A reader that remembers the byte offset of every `\n` it has passed on.
struct LineCounter<R> {
    inner: R,
    read: u64,
    newlines: Vec<u64>,
}

impl<R> LineCounter<R> {
    fn new(inner: R) -> Self {
        LineCounter {
            inner,
            read: 0,
            newlines: Vec::new(),
        }
    }

    /// The line (first line = 1) of the record that csv says starts at byte `offset`, once the
    /// reader has read past it. After a `\r\n`, csv places the next record at the `\n` (it
    /// ends the record at `\r`), so a newline at `offset` itself belongs before the record.
    fn line_of(&self, offset: u64) -> u64 {
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

    #[test]
    fn rows_come_with_their_line_and_columns_are_found_once() {
        let text = "\u{feff}a, b ,a\r\n1,2,3\r\n\"x\ny\",5,6\r\n7,8\r\n";
        let mut file = CsvFile::open(text.as_bytes()).unwrap();
        assert_eq!(file.column("b"), Ok(Some(1)));
        assert_eq!(file.column("c"), Ok(None));
        assert_eq!(file.column("a"), Err(RepeatedColumn));
        let mut record = csv::StringRecord::new();
        assert_eq!(file.next_row(&mut record).unwrap(), Some(2));
        assert_eq!(file.next_row(&mut record).unwrap(), Some(3));
        assert_eq!(&record[0], "x\ny");
        match file.next_row(&mut record) {
            Err(CsvProblem::UnequalLengths {
                line,
                expected_len,
                len,
            }) => {
                assert_eq!((line, expected_len, len), (Some(5), 3, 2));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_value_that_is_not_utf8_names_its_column() {
        let mut file = CsvFile::open(&b"name,city\nok,Z\xfcrich\n"[..]).unwrap();
        let mut record = csv::StringRecord::new();
        match file.next_row(&mut record) {
            Err(CsvProblem::NotUtf8 {
                line,
                header,
                column,
                ..
            }) => {
                assert_eq!(
                    (line, header, column.as_deref()),
                    (Some(2), false, Some("city"))
                );
            }
            other => panic!("{other:?}"),
        }
        let Err(CsvProblem::NotUtf8 { header, .. }) = CsvFile::open(&b"n\xe9\n"[..]) else {
            panic!("a header that is not UTF-8 is refused");
        };
        assert!(header);
    }
}
