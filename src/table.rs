//! Plain-text tables for the command line (`onboard check`, `onboard batch`):
//! columns padded to their widest cell, `|` between them, a rule under the header.

use std::fmt;

/// A table of `N` columns.
pub(crate) struct Table<const N: usize> {
    header: [String; N],
    rows: Vec<[String; N]>,
}

impl<const N: usize> Table<N> {
    /// An empty table with these column headings.
    pub(crate) fn new(header: [&str; N]) -> Self {
        Self {
            header: header.map(str::to_owned),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub(crate) fn row(&mut self, cells: [String; N]) {
        self.rows.push(cells);
    }
}

impl<const N: usize> fmt::Display for Table<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut widths = [0usize; N];
        for cells in std::iter::once(&self.header).chain(&self.rows) {
            for (w, cell) in widths.iter_mut().zip(cells) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String; N]| {
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == N {
                    // The last column is not padded: no trailing blanks.
                    write!(f, "{cell}")?;
                } else {
                    write!(f, "{cell:w$} | ")?;
                }
            }
            writeln!(f)
        };
        line(f, &self.header)?;
        let rule: usize = widths[..N.saturating_sub(1)]
            .iter()
            .map(|w| w + 3)
            .sum::<usize>()
            + self.header.last().map_or(0, |h| h.chars().count());
        writeln!(f, "{}", "-".repeat(rule))?;
        for cells in &self.rows {
            line(f, cells)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_to_their_widest_cell() {
        let mut t = Table::new(["A", "LONGER", "LAST"]);
        t.row(["wide cell".into(), "x".into(), "end".into()]);
        assert_eq!(
            t.to_string(),
            "A         | LONGER | LAST\n-------------------------\nwide cell | x      | end\n"
        );
    }
}
